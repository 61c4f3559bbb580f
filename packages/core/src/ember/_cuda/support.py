"""Which registered ops run on CUDA, and how: the declared table the tests check.

Every op in ``ember.ops()`` has exactly one status:

- ``"kernel"``: ember's own CUDA kernels do the work (``ember/_C/cuda/*.cu``);
- ``"cupy"``: the op's numpy calls dispatch to CuPy (``np.add`` on a ``cupy.ndarray``
  runs ``cupy.add``; cuBLAS does GEMM), with no host copy;
- ``"cpu"``: the op makes a CPU tensor by definition (``from_numpy``);
- ``UNSUPPORTED``: on a CUDA tensor the op raises ``NotImplementedError`` naming itself
  and the device; the reason is given. None of these is used by ember-autograd,
  ember-nn or ember-optim (tests/test_cuda_support.py checks that against their
  sources), and each is tested to raise.

``tests/test_cuda_ops.py`` runs every "kernel" and "cupy" op on a GPU against its CPU
result (gradients too), so a claim here is checked wherever a GPU is present.
"""

from __future__ import annotations

KERNEL = frozenset(
    {
        "erf",
        "erfc",
        "rand",
        "randn",
        "randint",
        "randperm",
        "rand_like",
        "randn_like",
        "randint_like",
        "bernoulli",
        "normal",
        "uniform_",
        "normal_",
        "random_",
        "bernoulli_",
        "exponential_",
        "cauchy_",
        "log_normal_",
        "geometric_",
    }
)
CPU_BY_DEFINITION = frozenset({"from_numpy"})
UNSUPPORTED = {
    "multinomial": "the CPU's inverse-CDF and exponential-race samplers have no CUDA port yet",
    "linalg.inv_ex": "per-matrix error capture relies on numpy's LinAlgError",
    "linalg.cholesky_ex": "per-matrix error capture relies on numpy's LinAlgError",
}
# ember._nn_kernels functions with no CUDA version (they raise NotImplementedError there).
NN_KERNELS_UNSUPPORTED = {
    "adaptive_avgpool1d_forward": "1-D adaptive pooling",
    "adaptive_maxpool1d_forward": "1-D adaptive pooling",
    "adaptive_maxpool2d_forward": "adaptive max pooling",
    "avgpool1d_forward": "1-D pooling (2-D kernels with a unit height would serve)",
    "avgpool1d_backward": "1-D pooling",
    "maxpool1d_forward": "1-D pooling",
    "maxpool1d_backward": "1-D pooling",
    "groupnorm_forward": "group normalization",
    "groupnorm_backward": "group normalization",
}


def status(name: str) -> str:
    """'kernel', 'cupy', 'cpu' or 'unsupported' for registered op ``name``."""
    from ember._registry import OPS

    if name not in OPS:
        raise KeyError(f"{name!r} is not a registered op")
    if name in UNSUPPORTED:
        return "unsupported"
    if name in KERNEL:
        return "kernel"
    if name in CPU_BY_DEFINITION:
        return "cpu"
    return "cupy"


def table() -> dict[str, str]:
    """Every registered op's status."""
    from ember._registry import OPS

    return {name: status(name) for name in sorted(OPS)}
