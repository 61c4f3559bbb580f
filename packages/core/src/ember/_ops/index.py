"""Indexing: ``t[key]`` and ``t[key] = value`` with numpy's rules (basic indexing
gives views, advanced indexing copies), and the gather/scatter family.
"""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember import _tensor as _T
from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import raise_device_mismatch, record_if_needed, result
from ember._registry import register
from ember._tensor import Tensor, _view_of, _wrap, _wrap_dim

__all__ = [
    "where",
    "masked_fill",
    "masked_fill_",
    "index_select",
    "gather",
    "scatter",
    "scatter_",
    "scatter_add",
    "scatter_add_",
    "index_add",
    "index_add_",
    "index_fill",
    "index_fill_",
    "masked_select",
    "nonzero",
    "take",
    "put_",
    "argwhere",
    "index_put",
    "index_put_",
    "index_copy",
    "index_copy_",
]

_BASIC = (int, slice, type(None), type(Ellipsis))


def convert_key(key):
    """A numpy index from an ember index; ``basic`` tells whether it makes a view."""
    if isinstance(key, tuple):
        items = key
    else:
        items = (key,)
    basic = True
    out = []
    for k in items:
        if isinstance(k, Tensor):
            a = k._a
            if a.dtype.kind not in "biu":
                raise IndexError(
                    f"tensors used as indices must be long, int, byte or bool tensors, got {k.dtype}"
                )
            if a.dtype.kind == "u" and a.dtype != np.uint8:
                a = a.astype(np.int64)
            if a.dtype == np.uint8:
                a = a.astype(bool)  # PyTorch treats uint8 index tensors as masks
            out.append(a)
            basic = False
        elif isinstance(k, bool):
            out.append(k)
            basic = False
        elif isinstance(k, _BASIC):
            out.append(k)
        elif isinstance(k, np.integer):
            out.append(int(k))
        elif isinstance(k, list | np.ndarray):
            a = _asarray(k)
            if a.dtype.kind not in "biu":
                raise IndexError(f"index arrays must be integers or bools, got dtype {a.dtype}")
            out.append(a)
            basic = False
        else:
            raise IndexError(
                "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables "
                f"are valid indices (got {type(k).__name__})"
            )
    if basic and not any(k is Ellipsis for k in out):
        out.append(Ellipsis)  # so an all-int key gives a 0-d view, not a numpy scalar
    return tuple(out), basic


def _index_error(x: Tensor, key, exc: IndexError):
    # numpy says "axis"; PyTorch's messages (and ours) say "dimension".
    msg = str(exc).replace("for axis", "for dimension").replace("along axis", "along dimension")
    raise IndexError(f"{msg} (indexing a tensor of shape {tuple(x.shape)})") from None


def getitem(self: Tensor, key) -> Tensor:
    """``self[key]``: a view for basic indexing, a copy for advanced indexing."""
    k, basic = convert_key(key)
    try:
        r = self._a[k]
    except IndexError as exc:
        _index_error(self, key, exc)
    if basic:
        out = _view_of(self, r)
    else:
        out = _wrap(_asarray(r))
    if self._ag is not None:
        record_if_needed(out, (self,), "getitem", k)
    return out


def setitem(self: Tensor, key, value) -> None:
    """``self[key] = value``, broadcasting ``value``; bumps the version counter."""
    if isinstance(value, Tensor):
        if type(value._a) is not type(self._a):
            raise RuntimeError(
                f"setitem: value is on {value.device} but the tensor is on {self.device}"
            )
        if self._ag is not None or value._ag is not None:
            if _T._engine.inplace(self, index_put, (self, key, value), None):
                return
        v = value._a
    elif isinstance(value, bool | int | float | complex | np.generic):
        if self._ag is not None and _T._engine.inplace(self, index_put, (self, key, value), None):
            return
        v = value
    else:
        raise TypeError(
            f"can't assign a {type(value).__name__} to a tensor: use a Tensor or a number"
        )
    k, _ = convert_key(key)
    try:
        self._a[k] = v
    except IndexError as exc:
        _index_error(self, key, exc)
    except ValueError as exc:
        if "read-only" in str(exc):
            raise RuntimeError(
                "setitem: the tensor is an expanded view or otherwise read-only; clone() it first"
            ) from None
        vs = tuple(value.shape) if isinstance(value, Tensor) else ()
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {vs} cannot be broadcast to indexing result "
            f"of shape {np.empty(self._a.shape, bool)[k].shape} ({exc})"
        ) from None
    self._bump()


def index_put(input: Tensor, key, values) -> Tensor:
    """A copy of ``input`` with ``values`` written at ``key`` (out-of-place setitem)."""
    out = _wrap(input._a.copy())
    k, _ = convert_key(key)
    out._a[k] = values._a if isinstance(values, Tensor) else values
    return record_if_needed(out, (input, key, values), "index_put", k)


def index_put_(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """In place: ``input[indices] = values`` (or ``+=`` with ``accumulate``)."""
    key = tuple(indices)
    if accumulate:
        k, _ = convert_key(key)
        np.add.at(input._a, k, values._a if isinstance(values, Tensor) else values)
        input._bump()
        return input
    setitem(input, key, values)
    return input


def where(condition: Tensor, input=None, other=None) -> Tensor:
    """``input`` where ``condition`` holds, else ``other`` (with broadcasting);
    with only ``condition``, the tuple of indices where it is nonzero."""
    if input is None and other is None:
        return tuple(_wrap(i.astype(np.int64)) for i in np.nonzero(condition._a))
    c = condition._a
    if c.dtype != np.bool_:
        if c.dtype != np.uint8:
            raise RuntimeError(
                f"where expected condition to be a boolean tensor, but got a "
                f"tensor with dtype {condition.dtype}"
            )
        c = c.astype(bool)
    rt = _dtype.result_type(input, other).np
    xa, ya = (_operand(condition, t) for t in (input, other))
    try:
        r = np.where(c, xa, ya).astype(rt, copy=False)
    except ValueError:
        shapes = [
            tuple(t.shape) if isinstance(t, Tensor) else () for t in (condition, input, other)
        ]
        raise RuntimeError(
            f"where: shapes {shapes} of condition, input and other do not broadcast together"
        ) from None
    return result(r, (condition, input, other), "where")


def _operand(condition: Tensor, t):
    """``t``'s array for where(): a 0-d CPU tensor joins a CUDA condition as a scalar
    (PyTorch's rule); any other device mix raises the device-mismatch RuntimeError."""
    if not isinstance(t, Tensor):
        return t
    a = t._a
    if type(a) is not type(condition._a):
        if type(a) is np.ndarray and a.ndim == 0:
            return a[()]
        raise_device_mismatch(condition, t)
    return a


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``value`` where ``mask`` is True, ``input`` elsewhere."""
    _check_mask(input, mask, "masked_fill")
    v = value.item() if isinstance(value, Tensor) else value
    # a numpy scalar, not a 0-d array: CuPy takes scalars but refuses host arrays
    r = np.where(mask._a, input._a.dtype.type(v), input._a)
    if r.shape != input._a.shape:
        raise RuntimeError(
            f"masked_fill: mask of shape {tuple(mask.shape)} would broadcast "
            f"the input of shape {tuple(input.shape)}"
        )
    return result(r, (input, mask), "masked_fill")


def masked_fill_(input: Tensor, mask: Tensor, value) -> Tensor:
    """In-place :func:`masked_fill`."""
    if input._ag is not None and _T._engine.inplace(input, masked_fill, (input, mask, value), None):
        return input
    _check_mask(input, mask, "masked_fill_")
    v = value.item() if isinstance(value, Tensor) else value
    a = input._a
    np.copyto(a, a.dtype.type(v), where=np.broadcast_to(mask._a, a.shape))
    input._bump()
    return input


def _check_mask(input, mask, name):
    if not isinstance(mask, Tensor) or mask._a.dtype != np.bool_:
        raise RuntimeError(f"{name}: expected a bool mask tensor")
    try:
        np.broadcast_shapes(mask._a.shape, input._a.shape)
    except ValueError:
        raise RuntimeError(
            f"{name}: mask of shape {tuple(mask.shape)} does not broadcast to the "
            f"input's shape {tuple(input.shape)}"
        ) from None


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The 1-D tensor of elements where ``mask`` is True."""
    _check_mask(input, mask, "masked_select")
    a, m = np.broadcast_arrays(input._a, mask._a)
    return result(a[m], (input, mask), "masked_select")


def _check_index(index: Tensor, name: str):
    if not isinstance(index, Tensor) or index._a.dtype.kind not in "iu":
        raise RuntimeError(f"{name}(): Expected dtype int64 for index")


def _bounds(idx, size, name, dim):
    if idx.size and (idx.min() < -size or idx.max() >= size):
        bad = idx[(idx < -size) | (idx >= size)].flat[0]
        raise IndexError(
            f"{name}(): index {bad} is out of bounds for dimension {dim} with size {size}"
        )


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """Rows (along ``dim``) at the positions in 1-D ``index``."""
    _check_index(index, "index_select")
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    idx = index._a.reshape(-1)
    _bounds(idx, a.shape[d] if a.ndim else 1, "index_select", d)
    r = np.take(a, idx, axis=d) if a.ndim else a[idx]
    return result(r, (input, index), "index_select", d)


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` (for dim 0), with ``index`` of the same rank."""
    _check_index(index, "gather")
    a, idx = input._a, index._a
    d = _wrap_dim(dim, a.ndim)
    if idx.ndim != a.ndim:
        raise RuntimeError(
            f"gather(): Index tensor must have the same number of dimensions as "
            f"input tensor ({idx.ndim} vs {a.ndim})"
        )
    for k in range(a.ndim):
        if k != d and idx.shape[k] > a.shape[k]:
            raise RuntimeError(
                f"gather(): Size does not match at dimension {k}: index "
                f"{tuple(idx.shape)} vs input {tuple(a.shape)}"
            )
    _bounds(idx, a.shape[d], "gather", d)
    src = a[tuple(slice(0, s) if k != d else slice(None) for k, s in enumerate(idx.shape))]
    r = np.take_along_axis(src, idx.astype(np.intp, copy=False), axis=d)
    return result(r, (input, index), "gather", d)


def _scatter_into(out_a, d, idx, src, reduce_add):
    for k in range(out_a.ndim):
        if k != d and idx.shape[k] > out_a.shape[k]:
            raise RuntimeError(
                f"scatter(): index {tuple(idx.shape)} is larger than self "
                f"{tuple(out_a.shape)} at dimension {k}"
            )
    _bounds(idx, out_a.shape[d], "scatter", d)
    # open grids (np.indices(sparse=True)) built on idx's device
    grids = [
        np.arange(n, like=idx).reshape((1,) * k + (n,) + (1,) * (idx.ndim - k - 1))
        for k, n in enumerate(idx.shape)
    ]
    key = tuple(idx if k == d else g for k, g in enumerate(grids))
    if isinstance(src, np.ndarray):
        src = src[tuple(slice(0, s) for s in idx.shape)]
    if reduce_add:
        np.add.at(out_a, key, src)
    else:
        out_a[key] = src


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None):
    """A copy of ``input`` with ``src`` values written at ``index`` along ``dim``."""
    _check_index(index, "scatter")
    out = _wrap(input._a.copy())
    s = src if src is not None else value
    d = _wrap_dim(dim, input._a.ndim)
    _scatter_into(
        out._a, d, index._a.astype(np.intp), s._a if isinstance(s, Tensor) else s, reduce == "add"
    )
    return record_if_needed(out, (input, index, s), "scatter", d)


def scatter_(input: Tensor, dim: int, index: Tensor, src=None, *, value=None, reduce=None):
    """In-place :func:`scatter`."""
    s = src if src is not None else value
    if input._ag is not None and _T._engine.inplace(input, scatter, (input, dim, index, s), None):
        return input
    _check_index(index, "scatter_")
    _scatter_into(
        input._a,
        _wrap_dim(dim, input._a.ndim),
        index._a.astype(np.intp),
        s._a if isinstance(s, Tensor) else s,
        reduce == "add",
    )
    input._bump()
    return input


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src`` added at ``index`` along ``dim`` (repeats add up)."""
    _check_index(index, "scatter_add")
    out = _wrap(input._a.copy())
    d = _wrap_dim(dim, input._a.ndim)
    _scatter_into(out._a, d, index._a.astype(np.intp), src._a, True)
    return record_if_needed(out, (input, index, src), "scatter_add", d)


def scatter_add_(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """In-place :func:`scatter_add`."""
    if input._ag is not None and _T._engine.inplace(
        input, scatter_add, (input, dim, index, src), None
    ):
        return input
    _scatter_into(input._a, _wrap_dim(dim, input._a.ndim), index._a.astype(np.intp), src._a, True)
    input._bump()
    return input


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """A copy of ``input`` with ``alpha * source`` rows added at ``index`` along ``dim``."""
    _check_index(index, "index_add")
    d = _wrap_dim(dim, input._a.ndim)
    out = _wrap(input._a.copy())
    idx = index._a.reshape(-1)
    _bounds(idx, input._a.shape[d], "index_add", d)
    src = source._a if alpha == 1 else source._a * alpha
    key = (slice(None),) * d + (idx,)
    np.add.at(out._a, key, src)
    return record_if_needed(out, (input, index, source), "index_add", (d, alpha))


def index_add_(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """In-place :func:`index_add`."""
    r = index_add(input, dim, index, source, alpha=alpha)
    if input._ag is not None and _T._engine.inplace(input, lambda *a: r, (input,), None):
        return input
    input._a[...] = r._a
    input._bump()
    return input


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """A copy of ``input`` with rows of ``source`` placed at ``index`` along ``dim``."""
    d = _wrap_dim(dim, input._a.ndim)
    out = _wrap(input._a.copy())
    out._a[(slice(None),) * d + (index._a.reshape(-1),)] = source._a
    return record_if_needed(out, (input, index, source), "index_copy", d)


def index_copy_(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """In-place :func:`index_copy`."""
    d = _wrap_dim(dim, input._a.ndim)
    input._a[(slice(None),) * d + (index._a.reshape(-1),)] = source._a
    input._bump()
    return input


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """A copy of ``input`` with rows at ``index`` along ``dim`` set to ``value``."""
    d = _wrap_dim(dim, input._a.ndim)
    out = _wrap(input._a.copy())
    out._a[(slice(None),) * d + (index._a.reshape(-1),)] = value
    return record_if_needed(out, (input, index), "index_fill", d)


def index_fill_(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """In-place :func:`index_fill`."""
    d = _wrap_dim(dim, input._a.ndim)
    input._a[(slice(None),) * d + (index._a.reshape(-1),)] = value
    input._bump()
    return input


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Indices of nonzero elements: an ``(n, ndim)`` int64 tensor, or a tuple of 1-D ones."""
    if input._a.ndim == 0:
        # A 0-d tensor has one element and no dims: (1, 0) if it is nonzero, else (0, 0).
        n = int(bool(input._a))
        if as_tuple:
            return (_wrap(np.zeros(n, np.int64, like=input._a)),)
        return _wrap(np.zeros((n, 0), np.int64, like=input._a))
    idx = np.nonzero(input._a)
    if as_tuple:
        return tuple(_wrap(i.astype(np.int64)) for i in idx)
    return _wrap(
        np.stack(idx, axis=1).astype(np.int64)
        if idx
        else np.zeros((int(bool(input._a)), 0), np.int64, like=input._a)
    )


argwhere = nonzero


def take(input: Tensor, index: Tensor) -> Tensor:
    """Elements of the flattened ``input`` at ``index`` (output has ``index``'s shape)."""
    _check_index(index, "take")
    flat = input._a.reshape(-1)
    _bounds(index._a, flat.size, "take", 0)
    return result(flat[index._a], (input, index), "take")


def put_(input: Tensor, index: Tensor, source: Tensor, accumulate: bool = False) -> Tensor:
    """In place: write ``source`` into the flattened ``input`` at ``index``."""
    _check_index(index, "put_")
    a = input._a
    if not a.flags.c_contiguous:
        raise RuntimeError("put_: the tensor must be contiguous")
    flat = a.reshape(-1)
    _bounds(index._a, flat.size, "put_", 0)
    if accumulate:
        np.add.at(flat, index._a.reshape(-1), source._a.reshape(-1))
    else:
        flat[index._a.reshape(-1)] = source._a.reshape(-1)
    input._bump()
    return input


_DIFF = {
    "where",
    "masked_fill",
    "index_select",
    "gather",
    "scatter",
    "scatter_add",
    "index_add",
    "masked_select",
    "take",
    "index_put",
    "index_copy",
    "index_fill",
}
for _name in __all__:
    if not _name.endswith("_"):
        register(
            _name,
            globals()[_name],
            "index",
            differentiable=_name in _DIFF,
            methods=(_name,),
            inplace=_name + "_" if _name + "_" in __all__ else None,
        )
register("getitem", getitem, "index", methods=("__getitem__",))
# put_ has no out-of-place twin, so the loop above skips it; it is a Tensor method too.
register("put_", put_, "index", differentiable=False, methods=("put_",))
