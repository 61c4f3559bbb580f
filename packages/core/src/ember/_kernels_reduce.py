"""Reductions, arg-reductions and cumulative ops over ember's C kernels (numpy in/out).

Part of ``ember._kernels`` (re-exported there); kept apart to keep files small.
"""

from __future__ import annotations

import numpy as np

from ember._C import ffi, lib
from ember._kernels import (
    _C_REDUCE,
    _CODES,
    _CUM,
    _MAXDIM,
    REDUCE_OPS,
    _base_ptr,
    _bounds,
    _check,
    _code,
    _order,
    _ptr,
)

_from_buffer = ffi.from_buffer
_F64 = np.dtype(np.float64)
_I64 = np.dtype(np.int64)
_BOOL = np.dtype(np.bool_)


def _array(x, op: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: x must be a numpy array, got {type(x)}")
    if x.ndim > _MAXDIM:
        raise ValueError(f"ember kernel {op!r}: at most {_MAXDIM} dims, got {x.ndim}")
    return x


def _dims(dims, ndim: int, op: str) -> tuple[int, ...]:
    """Normalized, sorted reduced dims; None or () mean every dim (PyTorch's convention)."""
    if dims is None:
        return tuple(range(ndim))
    if isinstance(dims, (int, np.integer)) and not isinstance(dims, bool):
        dims = (dims,)
    if len(dims) == 0:
        return tuple(range(ndim))
    out = set()
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"ember kernel {op!r}: dims must be ints, got {dims!r}")
        n = max(ndim, 1)
        if not -n <= d < n:
            raise ValueError(f"ember kernel {op!r}: dim {d} out of range for {ndim} dims")
        d = int(d) % n
        if d in out:
            raise ValueError(f"ember kernel {op!r}: dim {d} appears twice in {dims!r}")
        out.add(d)
    return tuple(sorted(out))


def _result_shape(shape: tuple, red: tuple, keepdim: bool) -> tuple:
    if keepdim:
        return tuple(1 if d in red else s for d, s in enumerate(shape))
    return tuple(s for d, s in enumerate(shape) if d not in red)


def _layout(a: np.ndarray, ndim: int, red: tuple, keepdim: bool) -> list:
    """Strides of a result array ``a`` in the input's ndim layout, 0 on reduced dims."""
    if keepdim:
        return [0 if d in red else s for d, s in enumerate(a.strides)]
    it = iter(a.strides)
    return [0 if d in red else next(it) for d in range(ndim)]


def _prepare_out(out, shape: tuple, dtype, op: str) -> np.ndarray:
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: out must be a numpy array, got {type(out)}")
    if out.shape != shape:
        raise ValueError(f"ember kernel {op!r}: out has shape {out.shape}, expected {shape}")
    if not out.flags.writeable:
        raise ValueError(f"ember kernel {op!r}: out is read-only")
    if out.dtype not in _CODES:
        raise TypeError(f"ember kernel {op!r}: out dtype {out.dtype} is not supported")
    return out


def _call(fn, head: tuple, arrays: list, layouts: list, op: str, dtype, tail: tuple = ()):
    """Call a C entry point with pointers, layouts and buffer extents of ``arrays``."""
    ptrs, strides, extents = [], [], []
    for a, st in zip(arrays, layouts):
        strides += st
        if a is None:
            ptrs.append(ffi.NULL)
            extents += (0, 0)
        else:
            ptrs.append(_ptr(a))  # the cdata keeps the array alive through the call
            extents += _bounds(a)
    rc = fn(
        *head,
        ffi.new("char *[]", ptrs),
        ffi.new("int64_t[]", strides or [0]),
        ffi.new("int64_t[]", extents),
        *tail,
    )
    _check(rc, op, dtype)


_FLAT_OPS = frozenset(("sum", "prod", "mean", "amax", "amin", "any", "all", "norm2"))


def _all_dims(dims, ndim: int) -> bool:
    """Whether ``dims`` names every dim exactly once (None and () do too)."""
    if dims is None or dims == ():
        return True
    if type(dims) is int:
        dims = (dims,)
    elif type(dims) is not tuple:
        return False
    if len(dims) != ndim:
        return False
    seen = set()
    for d in dims:
        if type(d) is not int or not -ndim <= d < ndim:
            return False
        seen.add(d % ndim)
    return len(seen) == ndim


def _reduce_all_dense(op: str, x: np.ndarray, keepdim: bool) -> np.ndarray:
    """Reduce every element of a dense (C or F order) array: the 1-d entry point."""
    odt = _default_dtype(op, x.dtype)
    code, ocode = _CODES.get(x.dtype), _CODES[odt]
    c_op = _C_REDUCE[op]
    if code is None or not lib.em_reduce_supported(c_op, code, ocode):
        raise TypeError(f"ember kernel {op!r} does not support dtype {x.dtype} -> {odt}")
    out = np.empty((1,) * x.ndim if keepdim else (), odt)
    rc = lib.em_reduce_flat(
        c_op, code, ocode, x.size, _from_buffer(out), _base_ptr(x), out.nbytes, x.nbytes, 0.0
    )
    if rc:
        _check(rc, op, x.dtype)
    return out


def _default_dtype(op: str, dtype: np.dtype) -> np.dtype:
    if op in ("any", "all"):
        return _BOOL
    if dtype.kind in "biu":
        if op in ("sum", "prod"):
            return _I64
        if op in ("mean", "var", "std", "norm2"):
            return _F64
    return dtype


def _unshare(x: np.ndarray, outs) -> np.ndarray:
    for o in outs:
        if o is not None and o.size and x.size and np.may_share_memory(x, o):
            return x.copy()
    return x


def _reduce_into(
    op: str, x: np.ndarray, red: tuple, keepdim: bool, out: np.ndarray, aux=None, param: float = 0.0
) -> None:
    c_op = _C_REDUCE[op]
    xc, oc = _code(x.dtype, op), _code(out.dtype, op)
    if not lib.em_reduce_supported(c_op, xc, oc):
        raise TypeError(f"ember kernel {op!r} does not support dtype {x.dtype} -> {out.dtype}")
    x = _unshare(x, (out,))
    mask = sum(1 << d for d in red)
    layouts = [
        _layout(out, x.ndim, red, keepdim),
        list(x.strides),
        _layout(aux, x.ndim, red, True) if aux is not None else [0] * x.ndim,
    ]
    _call(
        lib.em_reduce,
        (c_op, xc, oc, x.ndim, x.shape, mask),
        [out, x, aux],
        layouts,
        op,
        x.dtype,
        (float(param),),
    )


def reduce(
    op: str, x: np.ndarray, dims=None, keepdim: bool = False, out: np.ndarray | None = None
) -> np.ndarray:
    """Reduce ``x`` over ``dims`` (None or (): all) with ``op`` in REDUCE_OPS.

    ``norm2`` is sqrt(sum(x**2)). Integer sums and products accumulate in int64, float
    sums in double. The result dtype is ``out``'s when given, else numpy's (int64 for
    integer sum/prod, float64 for integer mean, bool for any/all).
    """
    if op not in REDUCE_OPS:
        raise ValueError(f"unknown reduction {op!r}; expected one of {REDUCE_OPS}")
    x = _array(x, op)
    if out is None and op in _FLAT_OPS and x.size and _order(x) and _all_dims(dims, x.ndim):
        return _reduce_all_dense(op, x, keepdim)
    zero_d = x.ndim == 0
    if zero_d:
        x = x.reshape(1)
    red = _dims(dims, x.ndim, op)
    shape = _result_shape(x.shape, red, keepdim)
    if zero_d:
        shape = ()
    if op in ("amax", "amin") and any(x.shape[d] == 0 for d in red):
        raise ValueError(f"ember kernel {op!r}: reduction over a zero-size dim has no identity")
    out = _prepare_out(out, shape, _default_dtype(op, x.dtype), op)
    o, keep = (out.reshape(1), True) if zero_d else (out, keepdim)
    if op == "logsumexp":
        if x.dtype.kind != "f":
            raise TypeError(f"ember kernel 'logsumexp' does not support dtype {x.dtype}")
        kshape = _result_shape(x.shape, red, True)
        m = np.empty(kshape, _F64)
        _reduce_into("amax", x, red, True, m)
        _reduce_into("logsumexp", x, red, keep, o, aux=m)
    else:
        _reduce_into(op, x, red, keep, o)
    return out


def var(
    x: np.ndarray,
    dims=None,
    correction: float = 1,
    keepdim: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Variance over ``dims`` with ``correction`` (PyTorch's; numpy's ddof): two passes,
    the mean first, in double. Result dtype: x's for floats, float64 for integers."""
    x = _array(x, "var")
    zero_d = x.ndim == 0
    if zero_d:
        x = x.reshape(1)
    red = _dims(dims, x.ndim, "var")
    shape = () if zero_d else _result_shape(x.shape, red, keepdim)
    out = _prepare_out(out, shape, _default_dtype("var", x.dtype), "var")
    o, keep = (out.reshape(1), True) if zero_d else (out, keepdim)
    mean = np.empty(_result_shape(x.shape, red, True), _F64)
    _reduce_into("mean", x, red, True, mean)
    _reduce_into("_var", x, red, keep, o, aux=mean, param=correction)
    return out


def std(
    x: np.ndarray,
    dims=None,
    correction: float = 1,
    keepdim: bool = False,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Standard deviation: sqrt of :func:`var` (same arguments)."""
    out = var(x, dims, correction, keepdim, out)
    np.sqrt(out, out=out)
    return out


def argreduce(op: str, x: np.ndarray, dim: int, keepdim: bool = False):
    """(values, int64 indices) of the max (``op="max"``) or min along ``dim``.

    Ties give the first occurrence; a NaN wins (its first occurrence), as in PyTorch.
    """
    if op not in ("max", "min"):
        raise ValueError(f"unknown arg-reduction {op!r}; expected 'max' or 'min'")
    name = "arg" + op
    x = _array(x, name)
    zero_d = x.ndim == 0
    if zero_d:
        x = x.reshape(1)
    (d,) = _dims(dim, x.ndim, name) if dim is not None else (None,)
    if d is None:
        raise TypeError(f"ember kernel {name!r}: dim must be an int")
    if x.shape[d] == 0:
        raise ValueError(f"ember kernel {name!r}: dim {d} has size 0")
    code = _code(x.dtype, name)
    shape = () if zero_d else _result_shape(x.shape, (d,), keepdim)
    vals, idx = np.empty(shape, x.dtype), np.empty(shape, _I64)
    keep = keepdim or zero_d
    v2, i2 = (vals.reshape(1), idx.reshape(1)) if zero_d else (vals, idx)
    layouts = [_layout(v2, x.ndim, (d,), keep), _layout(i2, x.ndim, (d,), keep), list(x.strides)]
    _call(
        lib.em_argreduce,
        (0 if op == "max" else 1, code, x.ndim, x.shape, d),
        [v2, i2, x],
        layouts,
        name,
        x.dtype,
    )
    return vals, idx


def cumulative(op: str, x: np.ndarray, dim: int, out=None):
    """Cumulative ``op`` along ``dim``: cumsum, cumprod, logcumsumexp return ``out``;
    cummax/cummin return (values, int64 indices) (``out`` may be such a pair).

    cumsum/cumprod of bool/integers default to int64 (``out`` may be x's dtype instead).
    """
    code_op = _CUM.get(op)
    if code_op is None:
        raise ValueError(f"unknown cumulative op {op!r}; expected one of {tuple(_CUM)}")
    x = _array(x, op)
    shape = x.shape
    xv = x.reshape(1) if x.ndim == 0 else x
    (d,) = _dims(dim, xv.ndim, op)
    with_idx = op in ("cummax", "cummin")
    if with_idx:
        vals, idx = out if out is not None else (None, None)
        vals = _prepare_out(vals, shape, x.dtype, op)
        idx = _prepare_out(idx, shape, _I64, op)
        if idx.dtype != _I64:
            raise TypeError(f"ember kernel {op!r}: indices must be int64, got {idx.dtype}")
    else:
        dflt = _I64 if (x.dtype.kind in "biu" and op != "logcumsumexp") else x.dtype
        vals, idx = _prepare_out(out, shape, dflt, op), None
    if vals.dtype != x.dtype and not (with_idx is False and vals.dtype == _I64):
        raise TypeError(f"ember kernel {op!r}: out dtype {vals.dtype} for input {x.dtype}")
    xv = _unshare(xv, (vals, idx))
    v2 = vals.reshape(1) if x.ndim == 0 else vals
    i2 = None if idx is None else (idx.reshape(1) if x.ndim == 0 else idx)
    layouts = [
        list(v2.strides),
        list(xv.strides),
        list(i2.strides) if i2 is not None else [0] * xv.ndim,
    ]
    _call(
        lib.em_cumulative,
        (code_op, _code(x.dtype, op), _code(vals.dtype, op), xv.ndim, xv.shape, d),
        [v2, xv, i2],
        layouts,
        op,
        x.dtype,
    )
    return (vals, idx) if with_idx else vals
