"""Stand-in CUDA storage: ember's device code paths run on a machine without a GPU.

:func:`activate` (tests call it when ``EMBER_CUDA_DRYRUN=1``) makes ``Tensor.cuda()``,
``.to('cuda')`` and every device allocation produce :class:`StandIn` arrays, a numpy
subclass that behaves like CuPy where host-only code would go wrong: results of ufuncs
and array functions stay stand-ins (never numpy scalars), and a host array with
dimensions as an operand of a ufunc raises TypeError, as CuPy does. ember's CUDA kernels
(``ember._cuda.nn*``, ``.optim``, ``.random``, ``.elementwise.unary``) are replaced by
their CPU counterparts run on the host views of the same memory, so a whole layer or
optimizer step runs.

What a dry run catches: a host array allocated for device work and mixed with device
ones, a numpy-only helper that returns a host array, the CUDA wrappers called with the
wrong arguments. What it cannot catch: ``np.asarray``/cffi pointers on device storage
(a numpy subclass converts silently) and anything about the kernels themselves. It
proves nothing about CUDA; the same tests run on a GPU without it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import types

import numpy as np

__all__ = [
    "StandIn",
    "activate",
    "activate_for_dryrun",
    "device_test_marks",
    "dryrun_requested",
    "to_host",
    "to_standin",
]


class _Dev:
    id = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


class StandIn(np.ndarray):
    """Device storage for dry runs (see the module docstring)."""

    device = _Dev()

    @property
    def __cuda_array_interface__(self):
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (0, False), "version": 3}

    def get(self):
        """A host copy, as ``cupy.ndarray.get``."""
        return np.asarray(self).copy()

    def dot(self, other, out=None):
        """As CuPy's: the result stays on the device (a 0-d array for vectors)."""
        return to_standin(np.dot(to_host(self), to_host(other), out=to_host(out)))

    def __array_wrap__(self, arr, context=None, return_scalar=False):
        return np.asarray(arr).view(StandIn)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if any(type(a) is np.ndarray and a.ndim for a in inputs):
            raise TypeError(
                f"Unsupported type <class 'numpy.ndarray'> (a host array in {ufunc.__name__} "
                "on device arrays)"
            )
        if "out" in kwargs:
            if any(type(o) is np.ndarray for o in kwargs["out"]):
                raise TypeError(f"{ufunc.__name__}: out= is a host array for a device result")
            kwargs["out"] = tuple(np.asarray(o) for o in kwargs["out"])
        return to_standin(getattr(ufunc, method)(*to_host(inputs), **kwargs))

    def __array_function__(self, func, types, args, kwargs):
        impl = getattr(func, "_implementation", func)
        return to_standin(impl(*to_host(args), **to_host(kwargs)))


def to_host(x):
    """StandIn arrays (also inside lists, tuples and dicts) as plain numpy views."""
    if isinstance(x, StandIn):
        return x.view(np.ndarray)
    if isinstance(x, (list, tuple)) and not hasattr(x, "_fields"):
        return type(x)(to_host(v) for v in x)
    if isinstance(x, dict):
        return {k: to_host(v) for k, v in x.items()}
    return x


def to_standin(r):
    """numpy results (also inside tuples and lists) as StandIn arrays."""
    if isinstance(r, np.ndarray):
        return r.view(StandIn)
    if isinstance(r, np.generic):
        return np.asarray(r).view(StandIn)
    if isinstance(r, tuple):
        return type(r)(*map(to_standin, r)) if hasattr(r, "_fields") else tuple(map(to_standin, r))
    if isinstance(r, list):
        return [to_standin(v) for v in r]
    return r


def _on_host(cpu_fn):
    def run(*args, **kwargs):
        return to_standin(cpu_fn(*to_host(args), **to_host(kwargs)))

    return run


def _fake_cupy() -> types.ModuleType:
    """A ``cupy`` module whose functions are numpy's, returning stand-ins."""
    mod = types.ModuleType("cupy")
    mod.ndarray = StandIn

    def getattr_(name):
        if name.startswith("__"):  # no __path__ etc.: it must not pass for a package
            raise AttributeError(name)
        fn = getattr(np, name)
        return _on_host(fn) if callable(fn) else fn

    mod.__getattr__ = getattr_
    mod.get_array_module = lambda *arrays: (
        mod if any(isinstance(a, StandIn) for a in arrays) else np
    )
    mod.asarray = lambda a, dtype=None: np.array(to_host(a), dtype).view(StandIn)
    stride_tricks = types.ModuleType("cupy.lib.stride_tricks")
    stride_tricks.as_strided = lambda a, shape=None, strides=None: np.lib.stride_tricks.as_strided(
        to_host(a), shape, strides
    ).view(StandIn)
    mod.lib = types.ModuleType("cupy.lib")
    mod.lib.stride_tricks = stride_tricks
    mod.cuda = types.SimpleNamespace(Device=lambda *a: _Dev())
    return mod


def _fusable(*arrays) -> bool:
    dt = None
    for a in arrays:
        if a is None:
            continue
        if not isinstance(a, StandIn) or not a.flags.c_contiguous:
            return False
        if dt is None:
            dt = a.dtype
            if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
                return False
        elif a.dtype != dt:
            return False
    return dt is not None


def _fused(cpu_fn):
    def run(params, *args, **kwargs):
        for lst in (params, *[a for a in args if isinstance(a, list)]):
            for a in lst:
                if isinstance(a, np.ndarray) and not isinstance(a, StandIn):
                    raise TypeError("a fused CUDA update got a host array")
        return cpu_fn(to_host(params), *to_host(args), **kwargs)

    return run


def activate(monkeypatch) -> None:
    """Route device allocations, transfers and ember's CUDA kernels to stand-ins for the
    duration of a test (``monkeypatch`` is pytest's fixture, which undoes it all)."""
    from ember import _nn_kernels, _optim_kernels, cuda
    from ember._cuda import optim as cuda_optim

    def empty(shape, dt, dev, fill=None):
        a = np.empty(shape, dt) if fill is None else np.full(shape, fill, dt)
        return a.view(StandIn)

    monkeypatch.setattr(cuda, "_empty", empty)
    monkeypatch.setattr(cuda, "_to_device_array", lambda a, dev: np.array(to_host(a)).view(StandIn))
    monkeypatch.setattr(cuda, "device", lambda dev: contextlib.nullcontext())
    fake = _fake_cupy()
    monkeypatch.setitem(sys.modules, "cupy", fake)
    monkeypatch.setitem(sys.modules, "cupy.lib", fake.lib)
    monkeypatch.setitem(sys.modules, "cupy.lib.stride_tricks", fake.lib.stride_tricks)

    def cuda_version(name):
        cpu = getattr(_nn_kernels, name)
        real = _real_cuda_version(name)
        return None if real is None else _on_host(getattr(cpu, "__wrapped__", cpu))

    _real_cuda_version = _nn_kernels._cuda_version
    monkeypatch.setattr(_nn_kernels, "_cuda_version", cuda_version)
    from ember import _kernels_bridge
    from ember._cuda import elementwise
    from ember._cuda import random as cuda_random

    monkeypatch.setattr(
        elementwise,
        "unary",
        lambda op, x: to_standin(_kernels_bridge.unary_required(op, to_host(x))),
    )

    for kind in ("uniform", "normal", "exponential", "randint", "randperm", "bernoulli"):
        # the CPU generator's draw: the CUDA Philox kernels give the same numbers
        monkeypatch.setattr(
            cuda_random, kind, lambda g, *a, _k=kind: to_standin(getattr(g, "_" + _k)(*a))
        )
    monkeypatch.setattr(cuda_optim, "fusable", _fusable)
    monkeypatch.setattr(cuda_optim, "adam_step_multi", _fused(_optim_kernels._adam_multi_cpu))
    monkeypatch.setattr(cuda_optim, "sgd_step_multi", _fused(_optim_kernels._sgd_multi_cpu))


def dryrun_requested() -> bool:
    """Whether ``EMBER_CUDA_DRYRUN=1``: device tests then run on stand-ins, no GPU."""
    return os.environ.get("EMBER_CUDA_DRYRUN") == "1"


def device_test_marks() -> list:
    """The ``pytestmark`` of a test module that needs a CUDA device: the ``cuda`` mark,
    and a skip with the reason unless a GPU is present or a dry run is requested."""
    import pytest  # only test modules call this: ember itself does not need pytest

    from ember import cuda

    return [
        pytest.mark.cuda,
        pytest.mark.skipif(
            not (dryrun_requested() or cuda.is_available()), reason="no CUDA device (needs a GPU)"
        ),
    ]


def activate_for_dryrun(monkeypatch) -> None:
    """:func:`activate` when a dry run is requested, else nothing (the body of a device
    test module's autouse fixture)."""
    if dryrun_requested():
        activate(monkeypatch)
