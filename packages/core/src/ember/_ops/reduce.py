"""Reductions along any set of dims, arg-reductions, and cumulative ops.

Large float32/float64 inputs go to the threaded C kernels; everything else to
numpy. Half-precision inputs accumulate in float32, as PyTorch does.
"""

from __future__ import annotations

import builtins  # this module defines sum/max/min/any/all
from collections import namedtuple

import numpy as np

from ember import _dtype, _kernels_bridge
from ember import _tensor as _T
from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import record_if_needed, result
from ember._registry import register
from ember._tensor import Tensor, _wrap, _wrap_dim

__all__ = [
    "sum",
    "mean",
    "prod",
    "amax",
    "amin",
    "max",
    "min",
    "argmax",
    "argmin",
    "var",
    "std",
    "var_mean",
    "std_mean",
    "norm",
    "logsumexp",
    "any",
    "all",
    "cumsum",
    "cumprod",
    "cummax",
    "cummin",
    "logcumsumexp",
    "count_nonzero",
    "nansum",
    "nanmean",
    "aminmax",
]

_max_t = namedtuple("max", ["values", "indices"])
_min_t = namedtuple("min", ["values", "indices"])
_cummax_t = namedtuple("cummax", ["values", "indices"])
_cummin_t = namedtuple("cummin", ["values", "indices"])
_aminmax_t = namedtuple("aminmax", ["min", "max"])
_HALF = (np.dtype(np.float16), _dtype.bfloat16.np)
_F32, _F64 = np.dtype(np.float32), np.dtype(np.float64)
_add_reduce = np.add.reduce
_kernels = _kernels_bridge._kernels
_C_MIN = _kernels_bridge.C_MIN


def _dims(dim, ndim: int):
    """``None`` (all dims) or a sorted tuple of non-negative dims."""
    if dim is None:
        return None
    if isinstance(dim, int | np.integer):
        return (_wrap_dim(int(dim), ndim),)
    dims = tuple(_wrap_dim(int(d), ndim) for d in dim)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"dim {list(dim)} appears multiple times in the list of dims")
    return tuple(sorted(dims)) if dims else None


def _empty_check(a, name, dims):
    if a.size == 0:
        if dims is None or builtins.any(a.shape[d] == 0 for d in dims):
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0, "
                f"or the reduced dim to be non-empty (input shape {tuple(a.shape)})"
            )


def _finish(r, input, name, params):
    return result(r, (input,), name, params)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (all dims when None). Integers and bools sum in int64."""
    a = input._a
    if dim is None and dtype is None and a.size < _C_MIN and (a.dtype is _F32 or a.dtype is _F64):
        # the common small case (a loss): one ufunc call, no dims/dtype bookkeeping
        r = _add_reduce(a, None, keepdims=keepdim)
        # a numpy scalar becomes a 0-d array; CuPy's 0-d result stays on its device
        # (np.asarray would refuse it: implicit conversion to the host)
        out = _wrap(np.asarray(r) if type(a) is np.ndarray else r)
        if input._ag is not None:
            _T._engine.record("sum", out, (input,), (None, keepdim))
        return out
    dims = _dims(dim, a.ndim)
    if dtype is not None:
        acc = _dtype.to_numpy_dtype(dtype)
    elif a.dtype.kind in "biu":
        acc = np.dtype(np.int64)
    elif a.dtype in _HALF:
        acc = np.dtype(np.float32)
    else:
        acc = a.dtype
    if (
        a.size >= _C_MIN
        and acc == a.dtype
        and type(a) is np.ndarray
        and _kernels.supports("sum", a.dtype)
    ):
        r = _kernels.reduce("sum", a, dims if dims is not None else tuple(range(a.ndim)), keepdim)
    else:
        r = a.sum(axis=dims, keepdims=keepdim, dtype=acc)
    if dtype is None and a.dtype in _HALF:
        r = _asarray(r).astype(a.dtype)
    return _finish(r, input, "sum", (dims, keepdim))


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum treating NaN as zero."""
    from ember._ops.index import where

    return sum(where(input != input, 0.0, input), dim, keepdim, dtype=dtype)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean over ``dim``; floating or complex inputs only (as in PyTorch)."""
    a = input._a
    if dtype is None and a.dtype.kind not in "fc" and a.dtype != _dtype.bfloat16.np:
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point "
            f"or complex dtype. Got: {input.dtype}"
        )
    dims = _dims(dim, a.ndim)
    out_dt = a.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)
    acc = np.float32 if out_dt in _HALF else out_dt
    if (
        a.size >= _C_MIN
        and type(a) is np.ndarray
        and acc == a.dtype
        and _kernels.supports("mean", a.dtype)
    ):
        r = _kernels.reduce("mean", a, dims if dims is not None else tuple(range(a.ndim)), keepdim)
    else:
        r = a.mean(axis=dims, keepdims=keepdim, dtype=acc)
    r = _asarray(r).astype(out_dt, copy=False)
    return _finish(r, input, "mean", (dims, keepdim))


def nanmean(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Mean over the non-NaN elements."""
    a = input._a
    return _wrap(_asarray(np.nanmean(a, axis=_dims(dim, a.ndim), keepdims=keepdim)))


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product over ``dim`` (one dim, or all when None)."""
    a = input._a
    dims = _dims(dim, a.ndim)
    acc = (
        _dtype.to_numpy_dtype(dtype)
        if dtype is not None
        else (np.dtype(np.int64) if a.dtype.kind in "biu" else a.dtype)
    )
    return _finish(a.prod(axis=dims, keepdims=keepdim, dtype=acc), input, "prod", (dims, keepdim))


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all dims when empty); NaN propagates."""
    a = input._a
    dims = _dims(dim if dim != () else None, a.ndim)
    _empty_check(a, "amax", dims)
    return _finish(a.max(axis=dims, keepdims=keepdim), input, "amax", (dims, keepdim))


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (all dims when empty); NaN propagates."""
    a = input._a
    dims = _dims(dim if dim != () else None, a.ndim)
    _empty_check(a, "amin", dims)
    return _finish(a.min(axis=dims, keepdims=keepdim), input, "amin", (dims, keepdim))


def aminmax(input: Tensor, *, dim=None, keepdim: bool = False):
    """``(amin, amax)`` in one call."""
    return _aminmax_t(
        amin(input, dim if dim is not None else (), keepdim),
        amax(input, dim if dim is not None else (), keepdim),
    )


def _arg_pair(input: Tensor, dim, keepdim, name, tuple_type):
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    _empty_check(a, name, (d,) if a.ndim else None)
    if a.ndim == 0:
        idx = np.zeros((), np.int64, like=a)
        vals = a.copy()
    else:
        idx = (a.argmax if name == "max" else a.argmin)(axis=d, keepdims=True)
        vals = np.take_along_axis(a, idx, axis=d)
        if not keepdim:
            idx, vals = idx.squeeze(d), vals.squeeze(d)
    values, indices = _wrap(_asarray(vals)), _wrap(_asarray(idx, dtype=np.int64))
    record_if_needed(values, (input,), name + "_dim", (d, keepdim, indices))
    return tuple_type(values, indices)


def max(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """The maximum of all elements; with ``dim``, ``(values, indices)`` along it;
    with a tensor as second argument, the elementwise :func:`maximum`."""
    if isinstance(dim, Tensor):
        from ember._ops.math import maximum

        return maximum(input, dim)
    if dim is None:
        return amax(input)
    return _arg_pair(input, dim, keepdim, "max", _max_t)


def min(input: Tensor, dim=None, keepdim: bool = False):  # noqa: A001
    """The minimum of all elements; with ``dim``, ``(values, indices)`` along it;
    with a tensor as second argument, the elementwise :func:`minimum`."""
    if isinstance(dim, Tensor):
        from ember._ops.math import minimum

        return minimum(input, dim)
    if dim is None:
        return amin(input)
    return _arg_pair(input, dim, keepdim, "min", _min_t)


def argmax(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the maximum (of the flattened tensor when ``dim`` is None)."""
    a = input._a
    _empty_check(a, "argmax", None if dim is None else (_wrap_dim(dim, a.ndim),))
    if dim is None:
        r = _asarray(a.argmax(), dtype=np.int64)
        return _wrap(r.reshape((1,) * a.ndim) if keepdim else r)
    return _wrap(_asarray(a.argmax(axis=_wrap_dim(dim, a.ndim), keepdims=keepdim), np.int64))


def argmin(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Index of the minimum (of the flattened tensor when ``dim`` is None)."""
    a = input._a
    _empty_check(a, "argmin", None if dim is None else (_wrap_dim(dim, a.ndim),))
    if dim is None:
        r = _asarray(a.argmin(), dtype=np.int64)
        return _wrap(r.reshape((1,) * a.ndim) if keepdim else r)
    return _wrap(_asarray(a.argmin(axis=_wrap_dim(dim, a.ndim), keepdims=keepdim), np.int64))


def _correction(unbiased, correction):
    if correction is not None:
        return correction
    return 1 if unbiased is None or unbiased else 0


def var(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None
) -> Tensor:
    """Variance over ``dim`` with Bessel's ``correction`` (1 by default)."""
    if isinstance(unbiased, int | tuple | list) and not isinstance(unbiased, bool):
        dim, unbiased = unbiased, None  # var(x, 0) means dim 0 in PyTorch's newer signature
    a = input._a
    dims = _dims(dim, a.ndim)
    c = _correction(unbiased, correction)
    acc = np.float32 if a.dtype in _HALF else None
    r = _asarray(a.var(axis=dims, ddof=c, keepdims=keepdim, dtype=acc)).astype(a.dtype)
    return _finish(r, input, "var", (dims, c, keepdim))


def std(
    input: Tensor, dim=None, unbiased=None, keepdim: bool = False, *, correction=None
) -> Tensor:
    """Standard deviation over ``dim`` with Bessel's ``correction`` (1 by default)."""
    from ember._ops.math import sqrt

    return sqrt(var(input, dim, unbiased, keepdim, correction=correction))


def var_mean(input: Tensor, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` in one call."""
    return var(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def std_mean(input: Tensor, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` in one call."""
    return std(input, dim, unbiased, keepdim, correction=correction), mean(input, dim, keepdim)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """Vector p-norm over ``dim`` (all elements when None); ``'fro'`` is the 2-norm."""
    from ember._ops import math as m

    x = input if dtype is None else input.to(dtype)
    if x._a.dtype.kind in "biu":
        raise RuntimeError(
            f"norm(): input dtype should be floating point or complex, got {x.dtype}"
        )
    if p == "fro" or p == 2:
        if x._a.dtype.kind == "c":
            return m.sqrt(sum(m.abs(x) ** 2, dim, keepdim))
        return m.sqrt(sum(x * x, dim, keepdim))
    if p == float("inf"):
        return amax(m.abs(x), dim if dim is not None else (), keepdim)
    if p == float("-inf"):
        return amin(m.abs(x), dim if dim is not None else (), keepdim)
    if p == 1:
        return sum(m.abs(x), dim, keepdim)
    if p == 0:
        return sum(m.ne(x, 0).to(x.dtype), dim, keepdim)
    if p == "nuc":
        from ember._ops.linalg_ext import svdvals

        return sum(svdvals(x), -1, keepdim)
    return sum(m.abs(x) ** p, dim, keepdim) ** (1.0 / p)


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``dim``, computed stably."""
    from ember._ops import math as m
    from ember._ops.index import where

    mx = amax(input, dim, True).detach()
    mx = where(m.isfinite(mx), mx, 0.0)
    r = m.log(sum(m.exp(input - mx), dim, True)) + mx
    if not keepdim:
        from ember._ops.shape import squeeze

        r = squeeze(r, _dims(dim, input.dim()))
    return r


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where any element along ``dim`` is nonzero."""
    a = input._a
    return _wrap(_asarray(a.any(axis=_dims(dim, a.ndim), keepdims=keepdim)))


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where all elements along ``dim`` are nonzero."""
    a = input._a
    return _wrap(_asarray(a.all(axis=_dims(dim, a.ndim), keepdims=keepdim)))


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """Number of nonzero elements along ``dim``."""
    a = input._a
    return _wrap(_asarray(np.count_nonzero(a, axis=_dims(dim, a.ndim)), dtype=np.int64))


def _cum_dtype(a, dtype):
    if dtype is not None:
        return _dtype.to_numpy_dtype(dtype)
    return np.dtype(np.int64) if a.dtype.kind in "biu" else a.dtype


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative sum along ``dim``."""
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    r = a.cumsum(axis=d, dtype=_cum_dtype(a, dtype)) if a.ndim else a.astype(_cum_dtype(a, dtype))
    return _finish(r, input, "cumsum", d)


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative product along ``dim``."""
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    r = a.cumprod(axis=d, dtype=_cum_dtype(a, dtype)) if a.ndim else a.astype(_cum_dtype(a, dtype))
    return _finish(r, input, "cumprod", d)


def _cum_ext(input: Tensor, dim: int, ufunc, tuple_type, name):
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    if a.ndim == 0:
        return tuple_type(_wrap(a.copy()), _wrap(np.zeros((), np.int64, like=a)))
    vals = ufunc.accumulate(a, axis=d)
    # The index of the running extreme: the last position where the value equals it.
    n = a.shape[d]
    pos = np.arange(n, like=a).reshape((-1,) + (1,) * (a.ndim - d - 1))
    hit = np.where((a == vals) | (np.isnan(a) if a.dtype.kind == "f" else False), pos, 0)
    idx = np.maximum.accumulate(hit, axis=d).astype(np.int64)
    values = _wrap(vals)
    record_if_needed(values, (input,), name, (d, _wrap(idx)))
    return tuple_type(values, _wrap(idx))


def cummax(input: Tensor, dim: int):
    """Running maximum along ``dim`` and the index where it was attained."""
    return _cum_ext(input, dim, np.maximum, _cummax_t, "cummax")


def cummin(input: Tensor, dim: int):
    """Running minimum along ``dim`` and the index where it was attained."""
    return _cum_ext(input, dim, np.minimum, _cummin_t, "cummin")


def logcumsumexp(input: Tensor, dim: int) -> Tensor:
    """``log(cumsum(exp(x)))`` along ``dim``, computed stably."""
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    r = np.logaddexp.accumulate(a, axis=d) if a.ndim else a.copy()
    return _finish(r, input, "logcumsumexp", d)


_DIFF = {
    "sum",
    "mean",
    "prod",
    "amax",
    "amin",
    "max",
    "min",
    "var",
    "std",
    "norm",
    "logsumexp",
    "cumsum",
    "cumprod",
    "cummax",
    "cummin",
    "logcumsumexp",
    "nansum",
    "var_mean",
    "std_mean",
    "aminmax",
    "nanmean",
}
for _name in __all__:
    register(_name, globals()[_name], "reduction", differentiable=_name in _DIFF, methods=(_name,))
