"""Argument plumbing shared by the ``ember._nn_kernels`` modules (not public).

Arrays are made C-contiguous (a no-op when they already are), dtypes checked, C pointers
taken with ``ffi.from_buffer`` (the cheapest way cffi offers), and the C return codes of
``nn_common.inc`` turned into Python exceptions.
"""

from __future__ import annotations

import numpy as np

from ember._C import ffi, lib

_CTYPES = {np.dtype(np.float32): ("float[]", "f32"), np.dtype(np.float64): ("double[]", "f64")}
_I64 = np.dtype(np.int64)
REDUCTIONS = {"none": 0, "mean": 1, "sum": 2}


def fn(name: str, dtype: np.dtype):
    """The C entry point ``em_<name>_<f32|f64>`` for ``dtype``."""
    return getattr(lib, f"em_{name}_{_CTYPES[dtype][1]}")


def floats(x, name: str, op: str) -> np.ndarray:
    """``x`` as a C-contiguous float32/float64 array, else TypeError naming op and name."""
    if isinstance(x, np.generic):  # a numpy scalar, e.g. a 0-d result indexed out
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array, got {type(x).__name__}")
    if x.dtype not in _CTYPES:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {x.dtype}")
    # not np.ascontiguousarray: it turns 0-d arrays into 1-d ones
    return x if x.flags.c_contiguous else x.copy(order="C")


def like(x, ref: np.ndarray, name: str, op: str, shape: tuple | None = None) -> np.ndarray:
    """``x`` as a C-contiguous array of ``ref``'s dtype (and ``shape`` when given)."""
    a = floats(x, name, op)
    if a.dtype != ref.dtype:
        raise TypeError(f"{op}: {name} is {a.dtype} but the input is {ref.dtype}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{op}: {name} has shape {a.shape}, expected {tuple(shape)}")
    return a


def optional(x, ref: np.ndarray, name: str, op: str, shape: tuple):
    """``like`` for an optional argument: None stays None."""
    return None if x is None else like(x, ref, name, op, shape)


def indices(x, name: str, op: str) -> np.ndarray:
    """An integer array as C-contiguous int64 (bool and floats are refused)."""
    if isinstance(x, np.generic):
        x = np.asarray(x)
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: {name} must be a numpy array, got {type(x).__name__}")
    if x.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers (int64), got {x.dtype}")
    if x.dtype != _I64:
        return x.astype(_I64, order="C")
    return x if x.flags.c_contiguous else x.copy(order="C")


def ptr(a: np.ndarray | None):
    """A C pointer to a C-contiguous array (NULL for None)."""
    if a is None:
        return ffi.NULL
    return ffi.from_buffer(_CTYPES[a.dtype][0] if a.dtype in _CTYPES else "int64_t[]", a)


def int_tuple(v, n: int, name: str, op: str, minimum: int) -> tuple:
    """An int or a sequence of ``n`` ints, each at least ``minimum``, as a tuple."""
    vals = (v,) * n if isinstance(v, (int, np.integer)) else tuple(v)
    if len(vals) != n or not all(isinstance(e, (int, np.integer)) for e in vals):
        raise ValueError(f"{op}: {name} must be an int or {n} ints, got {v!r}")
    if any(isinstance(e, bool) for e in vals):
        raise TypeError(f"{op}: {name} must hold ints, not bools, got {v!r}")
    if any(e < minimum for e in vals):
        raise ValueError(f"{op}: {name} must be >= {minimum}, got {v!r}")
    return tuple(int(e) for e in vals)


def reduction_code(reduction: str, op: str) -> int:
    code = REDUCTIONS.get(reduction)
    if code is None:
        raise ValueError(f"{op}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    return code


def geometry(values) -> object:
    """An int64_t[] holding ``values`` for a kernel's geometry argument."""
    return ffi.new("int64_t[]", [int(v) for v in values])


def new_bad():
    """Where a kernel reports a bad index: {position, value}."""
    return ffi.new("int64_t[2]")


def check(rc: int, op: str, bad=None, index_message=None) -> None:
    """Raise for a non-zero kernel return code. ``index_message(position, value)`` words
    the IndexError for code -3."""
    if rc == 0:
        return
    if rc == -3 and bad is not None and index_message is not None:
        raise IndexError(f"{op}: {index_message(int(bad[0]), int(bad[1]))}")
    if rc == -4:
        raise MemoryError(f"{op}: the kernel could not allocate its scratch memory")
    if rc == -2:
        raise ValueError(f"{op}: a buffer is smaller than the sizes given need")
    raise ValueError(f"{op}: invalid sizes or parameters (kernel code {rc})")
