"""ember's CUDA back end: its own kernels (``ember/_C/cuda/*.cu``) and how ops use them.

Nothing here imports CuPy at ``import ember``; each module imports it on first use.

- :mod:`.loader`: loads the kernels (the prebuilt fatbin shipped in the wheel, else an
  NVRTC compile of the same sources, once per device) and launches them through one
  helper that casts every scalar to its exact C type.
- :mod:`.elementwise`, :mod:`.reduce`: strided/broadcast elementwise and axis reductions.
- :mod:`.nn`, :mod:`.optim`, :mod:`.random`: the CUDA counterparts of
  ``ember._nn_kernels``, ``ember._optim_kernels`` and the Philox generator.
- :mod:`.support`: the declared table of which registered ops run on CUDA.
"""
