"""Where an op's array work goes: numpy's ufuncs for small arrays, ember's
threaded C kernels (``ember._kernels``) for large ones.

``C_MIN`` is the element count from which the C kernels win (measured by
``benchmarks/bench_kernels.py``); below it numpy's lower call overhead wins.
Anything the C library does not support (a dtype, an op) goes to numpy.
"""

from __future__ import annotations

import math

import numpy as np

try:
    from ember import _kernels
except ImportError:  # the C kernels module is optional while it is being built
    _kernels = None

C_MIN = getattr(_kernels, "MIN_PARALLEL_NUMEL", 1 << 62) if _kernels is not None else 1 << 62


_BOOL_OUT = frozenset(
    {
        "eq",
        "ne",
        "lt",
        "le",
        "gt",
        "ge",
        "logical_and",
        "logical_or",
        "logical_xor",
        "logical_not",
        "isnan",
        "isinf",
        "isfinite",
    }
)


def _supported(op: str, dtype) -> bool:
    return _kernels is not None and _kernels.supports(op, dtype)


def _out_dtype(op: str, dtype):
    return np.dtype(np.bool_) if op in _BOOL_OUT else dtype


def binary(name: str, ufunc, x, y):
    """``ufunc(x, y)`` for large operands, through the C kernel when it supports them."""
    if type(x) is np.ndarray and _supported(name, x.dtype):
        if isinstance(y, np.ndarray):
            if y.dtype == x.dtype and type(y) is np.ndarray:
                shape = np.broadcast_shapes(x.shape, y.shape)
                out = np.empty(shape, _out_dtype(name, x.dtype))
                return _kernels.binary(name, x, y, out)
        elif type(y) is int or type(y) is float:
            out = np.empty(x.shape, _out_dtype(name, x.dtype))
            return _kernels.binary_scalar(name, x, y, out)
    return ufunc(x, y)


def unary(name: str, fn, x):
    """``fn(x)`` for a large operand, through the C kernel when it supports it."""
    if type(x) is np.ndarray and _supported(name, x.dtype):
        out = np.empty(x.shape, _out_dtype(name, x.dtype))
        return _kernels.unary(name, x, out)
    return fn(x)


_erf_vec = np.vectorize(math.erf, otypes=[np.float64])
_erfc_vec = np.vectorize(math.erfc, otypes=[np.float64])


def unary_required(name: str, x):
    """Ops numpy lacks (erf, erfc): the C kernel when available, else libm per element."""
    if type(x) is np.ndarray and _supported(name, x.dtype):
        out = np.empty(x.shape, _out_dtype(name, x.dtype))
        return _kernels.unary(name, x, out)
    if type(x) is not np.ndarray:
        raise NotImplementedError(f"{name} is not implemented for this device yet")
    f = _erf_vec if name == "erf" else _erfc_vec
    return f(x).astype(x.dtype, copy=False)
