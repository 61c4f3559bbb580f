"""Where an op's array work goes: numpy's ufuncs for small arrays, ember's
threaded C kernels (``ember._kernels``) for large ones.

``C_MIN`` is the element count from which the C kernels win (measured by
``benchmarks/bench_kernels.py``); below it numpy's lower call overhead wins.
Anything the C library does not support (a dtype, an op, a scalar that is not
exactly a value of the array's dtype) goes to numpy, which then promotes or
raises exactly as it does for small arrays.

Results are allocated in the input's memory order (numpy's ``order="K"``), as the
small-array ufunc path and PyTorch do: ``a.T + b.T`` stays transposed and dense.
"""

from __future__ import annotations

import math

import numpy as np

try:
    from ember import _kernels
except ImportError:  # the C kernels module is optional while it is being built
    _kernels = None

C_MIN = getattr(_kernels, "MIN_PARALLEL_NUMEL", 1 << 62) if _kernels is not None else 1 << 62

if _kernels is not None:
    _BIN_DTYPES = _kernels.BIN_DTYPES
    _UN_DTYPES = _kernels.UN_DTYPES
    _BIN_CODES = {op: i for i, op in enumerate(_kernels.BINARY_OPS)}
    _UN_CODES = {op: i for i, op in enumerate(_kernels.UNARY_OPS)}
    _binary_run = _kernels._binary_run
    _unary_run = _kernels._unary_run
    _scalar_operand = _kernels.scalar_operand
else:  # pragma: no cover - only while the C library is being built
    _BIN_DTYPES = _UN_DTYPES = _BIN_CODES = _UN_CODES = {}

_EMPTY: dict = {}
_BOOL = np.dtype(np.bool_)
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
    return _BOOL if op in _BOOL_OUT else dtype


def _empty_like(shape: tuple, x: np.ndarray, y, dtype) -> np.ndarray:
    """A fresh result of ``shape``: in x's (else y's) memory order when that operand has
    the result's shape, as numpy's ufuncs allocate; C order otherwise."""
    if x.shape == shape:
        return np.empty_like(x, dtype)
    if y is not None and y.shape == shape:
        return np.empty_like(y, dtype)
    return np.empty(shape, dtype)


def binary(name: str, ufunc, x, y):
    """``ufunc(x, y)`` for large operands, through the C kernel when it supports them.

    ``y`` may be an array of x's dtype or a Python int/float; a scalar that is not
    exactly a value of x's dtype (a float with an integer array, an int out of range)
    goes to numpy, which promotes or raises as it does for small arrays.
    """
    if type(x) is np.ndarray:
        dt = _BIN_DTYPES.get(name, _EMPTY).get(x.dtype)
        if dt is not None:
            if type(y) is np.ndarray:
                if y.dtype == x.dtype:
                    shape = x.shape if x.shape == y.shape else np.broadcast_shapes(x.shape, y.shape)
                    out = _empty_like(shape, x, y, _out_dtype(name, x.dtype))
                    return _binary_run(_BIN_CODES[name], dt, x, y, out, name)
            elif type(y) is int or type(y) is float:
                s = _scalar_operand(y, x.dtype)
                if s is not None:
                    out = np.empty_like(x, _out_dtype(name, x.dtype))
                    return _binary_run(_BIN_CODES[name], dt, x, s, out, name)
    return ufunc(x, y)


def unary(name: str, fn, x):
    """``fn(x)`` for a large operand, through the C kernel when it supports it."""
    if type(x) is np.ndarray:
        dt = _UN_DTYPES.get(name, _EMPTY).get(x.dtype)
        if dt is not None:
            out = np.empty_like(x, _out_dtype(name, x.dtype))
            return _unary_run(_UN_CODES[name], dt, x, out, name)
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
