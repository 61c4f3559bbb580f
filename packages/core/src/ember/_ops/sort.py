"""Sorting and order statistics: sort/argsort/msort, topk, kthvalue, median,
nanmedian, mode, unique, unique_consecutive, searchsorted and bucketize.

Ops that return values picked from the input (sort, topk, kthvalue, median
along a dim, mode) record one autograd node whose params carry the indices, so
the gradient is a scatter of ``gy`` back to where the values came from.
NaN sorts as the largest value, as in PyTorch.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import record_if_needed
from ember._registry import register
from ember._tensor import Tensor, _wrap, _wrap_dim

__all__ = [
    "sort",
    "argsort",
    "msort",
    "topk",
    "kthvalue",
    "median",
    "nanmedian",
    "mode",
    "unique",
    "unique_consecutive",
    "searchsorted",
    "bucketize",
]

_sort_t = namedtuple("sort", ["values", "indices"])
_topk_t = namedtuple("topk", ["values", "indices"])
_kthvalue_t = namedtuple("kthvalue", ["values", "indices"])
_median_t = namedtuple("median", ["values", "indices"])
_nanmedian_t = namedtuple("nanmedian", ["values", "indices"])
_mode_t = namedtuple("mode", ["values", "indices"])


def _check_sortable(a, name: str):
    if a.dtype.kind == "c":
        raise RuntimeError(f"{name}(): complex tensors have no order (got {a.dtype})")


def _argsort(a, d: int, descending: bool, stable: bool = True):
    """Indices that sort ``a`` along ``d``; with ``stable``, ties keep their original order
    (numpy's stable sort is ~4x slower than its introsort, so it is only used on request)."""
    if not stable:
        idx = np.argsort(a, axis=d)
        return np.flip(idx, d) if descending else idx
    if not descending:
        return np.argsort(a, axis=d, kind="stable")
    # Sorting the reversed array ascending and reversing the result gives descending
    # order with ties in their original order (negation would break unsigned and bool).
    n = a.shape[d]
    rev = np.flip(np.argsort(np.flip(a, d), axis=d, kind="stable"), d)
    return (n - 1) - rev


def _pick(input: Tensor, idx, d: int, name: str, tuple_type, keepdim: bool = True):
    """``(values, indices)`` taken along ``d`` at ``idx`` (kept dim), recorded for autograd."""
    a = input._a
    vals = np.take_along_axis(a, idx, axis=d) if a.ndim else a.copy()
    idx = idx.astype(np.int64, copy=False)
    if not keepdim and a.ndim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    # copies (np.array would refuse a CuPy array: implicit conversion to the host)
    values, indices = _wrap(vals.copy(order="C")), _wrap(idx.copy(order="C"))
    record_if_needed(values, (input,), name, (d, keepdim, indices))
    return tuple_type(values, indices)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sort along ``dim``; returns ``(values, indices)`` with ``input.gather(dim, indices)
    == values``. With ``stable=True`` equal elements keep their original order; otherwise
    their order is unspecified (as in PyTorch)."""
    a = input._a
    _check_sortable(a, "sort")
    d = _wrap_dim(dim, a.ndim)
    if a.ndim == 0:
        return _pick(input, np.zeros((), np.int64, like=a), 0, "sort", _sort_t)
    return _pick(input, _argsort(a, d, descending, stable), d, "sort", _sort_t)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices that sort ``input`` along ``dim`` (int64; see :func:`sort` for ``stable``)."""
    a = input._a
    _check_sortable(a, "argsort")
    d = _wrap_dim(dim, a.ndim)
    if a.ndim == 0:
        return _wrap(np.zeros((), np.int64, like=a))
    return _wrap(_argsort(a, d, descending, stable).astype(np.int64, copy=False))


def msort(input: Tensor) -> Tensor:
    """The values of ``input`` sorted along dim 0."""
    return sort(input, 0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):  # noqa: A002
    """The ``k`` largest (or smallest) elements along ``dim`` as ``(values, indices)``."""
    a = input._a
    _check_sortable(a, "topk")
    d = _wrap_dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError(
            f"topk(): selected index k={k} out of range for dimension {d} of size {n}"
        )
    if a.ndim == 0:
        return _pick(input, np.zeros((), np.int64, like=a), 0, "topk", _topk_t)
    if 0 < k < n // 4 and a.dtype.kind == "f":
        # Partition first: O(n) to find the k candidates, then sort only those.
        kth = n - k if largest else k - 1
        part = np.argpartition(a, kth, axis=d)
        part = np.take(
            part, np.arange(n - k, n, like=a) if largest else np.arange(k, like=a), axis=d
        )
        vals = np.take_along_axis(a, part, axis=d)
        order = _argsort(vals, d, largest)
        idx = np.take_along_axis(part, order, axis=d)
    else:
        idx = np.take(_argsort(a, d, largest), np.arange(k, like=a), axis=d)
    return _pick(input, idx, d, "topk", _topk_t)


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest element (1-based) along ``dim`` as ``(values, indices)``."""
    a = input._a
    _check_sortable(a, "kthvalue")
    d = _wrap_dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if not 1 <= k <= n:
        raise IndexError(
            f"kthvalue(): selected number k={k} out of range for dimension {d} of size {n}"
        )
    if a.ndim == 0:
        return _pick(input, np.zeros((), np.int64, like=a), 0, "kthvalue", _kthvalue_t)
    idx = np.take(_argsort(a, d, False), [k - 1], axis=d)
    return _pick(input, idx, d, "kthvalue", _kthvalue_t, keepdim)


def _median_dim(input: Tensor, dim, keepdim, ignore_nan: bool, name, tuple_type):
    a = input._a
    _check_sortable(a, name)
    d = _wrap_dim(dim, a.ndim)
    if a.size == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size")
    if a.ndim == 0:
        return _pick(input, np.zeros((), np.int64, like=a), 0, name, tuple_type)
    order = _argsort(a, d, False)
    n = a.shape[d]
    if a.dtype.kind == "f":
        nans = np.isnan(a).sum(axis=d, keepdims=True)
        if ignore_nan:
            # NaNs sort last: the lower median of the (n - nans) valid values.
            pos = np.maximum(n - nans - 1, 0) // 2
        else:
            # Any NaN in the row makes the median NaN (the first NaN, which sorts at n - nans).
            pos = np.where(nans > 0, n - nans, (n - 1) // 2)
    else:
        pos = np.full((1,) * a.ndim, (n - 1) // 2, like=a)
        pos = np.broadcast_to(pos, order.shape[:d] + (1,) + order.shape[d + 1 :])
    idx = np.take_along_axis(order, pos.astype(np.intp), axis=d)
    return _pick(input, idx, d, name, tuple_type, keepdim)


def _median_all(input: Tensor, ignore_nan: bool, name: str) -> Tensor:
    a = input._a
    _check_sortable(a, name)
    if a.size == 0:
        return _wrap(_asarray(np.nan, a.dtype if a.dtype.kind == "f" else np.float32))
    flat = input.reshape(-1)
    return _median_dim(flat, 0, False, ignore_nan, name, lambda v, i: v)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median of all elements, or ``(values, indices)`` along ``dim``.
    NaN propagates: a row holding NaN has median NaN (see :func:`nanmedian`)."""
    if dim is None:
        return _median_all(input, False, "median")
    return _median_dim(input, dim, keepdim, False, "median", _median_t)


def nanmedian(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """:func:`median` ignoring NaN (NaN only where a row is all NaN)."""
    if dim is None:
        return _median_all(input, True, "nanmedian")
    return _median_dim(input, dim, keepdim, True, "nanmedian", _nanmedian_t)


def mode(input: Tensor, dim: int = -1, keepdim: bool = False):
    """The most frequent value along ``dim`` (the smallest on ties) and the index of its
    last occurrence, as ``(values, indices)``."""
    a = input._a
    _check_sortable(a, "mode")
    d = _wrap_dim(dim, a.ndim)
    if a.ndim == 0:
        return _pick(input, np.zeros((), np.int64, like=a), 0, "mode", _mode_t)
    if a.shape[d] == 0:
        raise IndexError(f"mode(): Expected reduction dim {d} to have non-zero size")
    m = np.moveaxis(a, d, -1)
    n = m.shape[-1]
    rows = m.reshape(-1, n)
    order = np.argsort(rows, axis=1, kind="stable")
    s = np.take_along_axis(rows, order, axis=1)
    # Run lengths in each sorted row: a new run starts where the value changes.
    start = np.ones(s.shape, bool, like=a)
    start[:, 1:] = s[:, 1:] != s[:, :-1]
    if s.dtype.kind == "f":
        start[:, 1:] &= ~(np.isnan(s[:, 1:]) & np.isnan(s[:, :-1]))
    run_id = np.cumsum(start, axis=1) - 1
    r = np.arange(rows.shape[0], like=a)[:, None]
    counts = np.zeros(s.shape, np.int64, like=a)
    np.add.at(counts, (np.broadcast_to(r, s.shape), run_id), 1)
    best = counts.argmax(axis=1)  # first (smallest) run among equal counts
    in_best = run_id == best[:, None]
    last_pos = n - 1 - np.argmax(in_best[:, ::-1], axis=1)
    # The last occurrence in the input: the largest original index within the run
    # (stable sort keeps original order inside a run, so it sits at the run's end).
    idx = order[np.arange(rows.shape[0], like=a), last_pos].reshape(m.shape[:-1] + (1,))
    return _pick(input, np.moveaxis(idx, -1, d), d, "mode", _mode_t, keepdim)


def _unique_flat(a, return_inverse, return_counts):
    vals, inv, counts = np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
    out = [_wrap(vals)]
    if return_inverse:
        out.append(_wrap(inv.reshape(a.shape).astype(np.int64)))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique(
    input: Tensor,
    sorted: bool = True,  # noqa: A002
    return_inverse: bool = False,
    return_counts: bool = False,
    dim: int | None = None,
):
    """The distinct elements (sorted), optionally with the inverse map and the counts.
    With ``dim``, the distinct slices along that dim."""
    a = input._a
    _check_sortable(a, "unique")
    if dim is None:
        return _unique_flat(a, return_inverse, return_counts)
    d = _wrap_dim(dim, a.ndim)
    vals, inv, counts = np.unique(a, return_inverse=True, return_counts=True, axis=d)
    out = [_wrap(vals)]
    if return_inverse:
        out.append(_wrap(inv.reshape(-1).astype(np.int64)))
    if return_counts:
        out.append(_wrap(counts.astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(
    input: Tensor, return_inverse: bool = False, return_counts: bool = False, dim=None
):
    """Collapse each run of equal consecutive elements (or slices along ``dim``) to one."""
    a = input._a
    if dim is None:
        flat, shape = a.reshape(-1), a.shape
        d = 0
    else:
        d = _wrap_dim(dim, a.ndim)
        flat, shape = np.moveaxis(a, d, 0), None
    n = flat.shape[0]
    if n == 0:
        change = np.zeros(0, bool, like=a)
    else:
        diff = flat[1:] != flat[:-1]
        if diff.ndim > 1:
            diff = diff.reshape(n - 1, -1).any(axis=1)
        change = np.concatenate([[True], diff])
    vals = flat[change]
    if dim is not None:
        vals = np.moveaxis(vals, 0, d)
    out = [_wrap(np.ascontiguousarray(vals))]
    if return_inverse:
        inv = (np.cumsum(change) - 1).astype(np.int64)
        out.append(_wrap(inv.reshape(shape) if shape is not None else inv))
    if return_counts:
        starts = np.flatnonzero(change)
        out.append(_wrap(np.diff(np.append(starts, n)).astype(np.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(
    sorted_sequence: Tensor,
    input,
    *,
    out_int32: bool = False,
    right: bool = False,
    side: str | None = None,
    sorter: Tensor | None = None,
) -> Tensor:
    """Indices where ``input`` would be inserted into ``sorted_sequence`` (sorted along its
    last dim) to keep it sorted. An N-D sequence searches row by row; ``right``
    (or ``side='right'``) puts equal values after the existing ones."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"searchsorted(): side can only be 'left' or 'right', got {side!r}")
        if right and side == "left":
            raise RuntimeError("searchsorted(): side and right can't be set to opposites")
        right = side == "right"
    seq = sorted_sequence._a
    scalar = not isinstance(input, Tensor)
    vals = _asarray(input) if scalar else input._a
    if sorter is not None:
        seq = np.take_along_axis(seq, sorter._a.astype(np.intp), axis=-1)
    how = "right" if right else "left"
    if seq.ndim <= 1:
        r = np.searchsorted(seq, vals, side=how)
    else:
        if scalar or vals.shape[:-1] != seq.shape[:-1]:
            raise RuntimeError(
                "searchsorted(): boundaries tensor should be 1 dimension or the first N-1 "
                "dimensions of boundaries tensor and input value tensor must match, but we got "
                f"boundaries tensor {list(seq.shape)} and input value tensor {list(vals.shape)}"
            )
        s2 = seq.reshape(-1, seq.shape[-1])
        v2 = vals.reshape(-1, vals.shape[-1])
        r = np.stack([np.searchsorted(s2[i], v2[i], side=how) for i in range(s2.shape[0])])
        r = r.reshape(vals.shape)
    return _wrap(_asarray(r, np.int32 if out_int32 else np.int64))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False, right: bool = False):
    """The bucket index of each element for 1-D ``boundaries``: with ``right=False``,
    ``boundaries[i-1] < x <= boundaries[i]``; with ``right=True``, ``<= x <``."""
    if boundaries.dim() != 1:
        raise RuntimeError(
            f"bucketize(): boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})"
        )
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


_DIFF = {"sort", "msort", "topk", "kthvalue", "median", "nanmedian", "mode"}
for _name in __all__:
    register(_name, globals()[_name], "sort", differentiable=_name in _DIFF, methods=(_name,))
