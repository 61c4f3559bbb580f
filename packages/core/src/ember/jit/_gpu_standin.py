"""A stand-in for ``ember.jit._gpu``'s CuPy calls, so that lazy graphs of stand-in CUDA
tensors (``ember._cuda.standin``) run on a machine without a GPU.

:func:`activate` replaces NVRTC (:func:`_gpu.load_module` returns recording kernels),
the device queries, and each CUDA plan's ``run``: the plan's real launch loop runs
first (every kernel of the generated CUDA source called once, with its computed grid
and every program slot as an argument; the :class:`Recorder` keeps them), then the
CPU kernels generated from the same canonical graph compute the result on the host
views of the same stand-in arrays.

It exercises the dispatch (placement, plan keys, slots, grids, allocation, fallbacks);
it proves nothing about the CUDA source, NVRTC or CuPy's launches.
"""

from __future__ import annotations

import numpy as np

from ember._cuda import standin
from ember.jit import _build, _codegen, _gpu
from ember.jit._lazy import _ptrs


class Recorder:
    """What the stand-in saw: NVRTC compiles and kernel launches."""

    def __init__(self) -> None:
        self.modules: list = []  # (source, kernel names, device) per compile
        self.launches: list = []  # (name, grid, block, args) per launch


def activate(monkeypatch, sms: int = 2) -> Recorder:
    """Route ``ember.jit``'s CUDA plans to the CPU kernels (with stand-in device storage
    activated) for the duration of a test; ``monkeypatch`` undoes it all."""
    standin.activate(monkeypatch)
    rec = Recorder()

    def load_module(source, names, dev):
        rec.modules.append((source, names, dev))

        def kernel(name):
            return lambda g, b, args: rec.launches.append((name, g, b, args))

        return {n: kernel(n) for n in names}

    real_compile = _gpu.compile_plan

    def compile_plan(outs, canon, nodes, key, dev):
        plan = real_compile(outs, canon, nodes, key, dev)
        cpu = _codegen.generate(outs, canon, nodes)
        lib = _build.library(cpu.source, "void run(char **P);")
        index = {id(n): i for i, n in enumerate(nodes)}
        cpu_slots = [index[id(n)] for _, n in cpu.slots]
        launch = plan.run

        def run(arrays):
            for a in arrays:
                if not isinstance(a, standin.StandIn):
                    raise TypeError(f"a CUDA plan got a host array of shape {a.shape}")
            launch(arrays)
            by_node = {
                i: a for (kind, i), a in zip(plan.slots, arrays, strict=True) if kind != "scratch"
            }
            host = [
                standin.to_host(by_node[i])
                if i in by_node
                else np.empty(nodes[i].shape, nodes[i].dtype)
                for i in cpu_slots
            ]
            lib.lib.run(_ptrs(host))

        plan.run = run
        return plan

    monkeypatch.setattr(_gpu, "load_module", load_module)
    monkeypatch.setattr(_gpu, "compile_plan", compile_plan)
    monkeypatch.setattr(_gpu, "sm_count", lambda dev: sms)
    monkeypatch.setattr(_gpu, "compute_capability", lambda dev: "90")
    monkeypatch.setattr(_gpu, "versions", lambda: "stand-in")
    return rec
