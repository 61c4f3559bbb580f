"""Structural linear algebra: diagonals and triangles, traces, einsum, tensordot,
Kronecker and cross products, pairwise distances, chained products.

``diagonal`` is a writable view (as in PyTorch); ``diagonal_scatter`` is its
out-of-place inverse and carries the gradients of both. ``einsum`` records one
node whose derivative is einsum again, so higher derivatives work.
"""

from __future__ import annotations

import string

import numpy as np

from ember._ops import math as _m
from ember._ops import shape as _s
from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import result, strided_view
from ember._ops.linalg import matmul
from ember._registry import register
from ember._tensor import Tensor, _view_of, _wrap, _wrap_dim

__all__ = [
    "diagonal",
    "diagonal_scatter",
    "diag",
    "diag_embed",
    "diagflat",
    "trace",
    "tril",
    "triu",
    "tril_",
    "triu_",
    "einsum",
    "tensordot",
    "kron",
    "cross",
    "cdist",
    "chain_matmul",
    "block_diag",
]


def _diag_geometry(shape, offset: int, d1: int, d2: int):
    """Output shape and which input dims feed it, for a diagonal taken over (d1, d2)."""
    if offset >= 0:
        n = max(0, min(shape[d1], shape[d2] - offset))
    else:
        n = max(0, min(shape[d1] + offset, shape[d2]))
    rest = [i for i in range(len(shape)) if i not in (d1, d2)]
    return tuple(shape[i] for i in rest) + (n,), rest


def _diag_view(a, offset: int, d1: int, d2: int):
    """A writable numpy view of the diagonal (numpy's own ``diagonal`` is read-only)."""
    out_shape, rest = _diag_geometry(a.shape, offset, d1, d2)
    # Slicing moves the view's start to the diagonal's first element; strides do the rest.
    start = [slice(None)] * a.ndim
    start[d1] = slice(max(-offset, 0), None)
    start[d2] = slice(max(offset, 0), None)
    v = a[tuple(start)]
    strides = tuple(a.strides[i] for i in rest) + (a.strides[d1] + a.strides[d2],)
    if v.size == 0:
        return np.empty(out_shape, a.dtype) if 0 in out_shape else v.reshape(out_shape)
    return strided_view(v, out_shape, strides, like=a)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """A view of the diagonal over dims ``(dim1, dim2)``, moved to the last dim
    (``offset > 0``: above the main diagonal)."""
    a = input._a
    d1, d2 = _wrap_dim(dim1, a.ndim), _wrap_dim(dim2, a.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    out = _view_of(input, _diag_view(a, offset, d1, d2))
    if input._ag is not None:
        from ember._ops._dispatch import record_if_needed

        record_if_needed(out, (input,), "diagonal", (offset, d1, d2))
    return out


def diagonal_scatter(
    input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1
) -> Tensor:
    """A copy of ``input`` with ``src`` written on the diagonal :func:`diagonal` reads."""
    a = input._a
    d1, d2 = _wrap_dim(dim1, a.ndim), _wrap_dim(dim2, a.ndim)
    shape, _ = _diag_geometry(a.shape, offset, d1, d2)
    if tuple(src.shape) != shape:
        raise RuntimeError(
            f"diagonal_scatter: src must have shape {list(shape)} (the diagonal's), got "
            f"{list(src.shape)}"
        )
    r = a.copy()
    if r.size:
        _diag_view(r, offset, d1, d2)[...] = src._a
    return result(r, (input, src), "diagonal_scatter", (offset, d1, d2))


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Matrices (over the new dims ``dim1, dim2``) whose ``offset`` diagonal holds the
    last dim of ``input``; zeros elsewhere."""
    n = input.shape[-1] if input.dim() else 1
    ndim = input.dim() + 1
    d1, d2 = _wrap_dim(dim1, ndim), _wrap_dim(dim2, ndim)
    if d1 == d2:
        raise RuntimeError(f"diag_embed: diagonal dimensions cannot be identical {dim1}, {dim2}")
    m = n + abs(offset)
    shape = list(input.shape[:-1])
    for d in sorted((d1, d2)):
        shape.insert(d, m)
    zeros = _wrap(np.zeros(shape, input._a.dtype, like=input._a))
    return diagonal_scatter(zeros, input, offset, d1, d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002 - PyTorch's names
    """A 1-D tensor becomes a matrix with it on the ``diagonal``; a matrix gives a copy of
    its ``diagonal``."""
    if input.dim() == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.dim() == 2:
        return _s.clone(globals()["diagonal"](input, diagonal, 0, 1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {input.dim()}D")


def diagflat(input: Tensor, offset: int = 0) -> Tensor:
    """The flattened input placed on the ``offset`` diagonal of a square matrix."""
    return diag_embed(_s.reshape(input, (-1,)), offset, 0, 1)


def trace(input: Tensor) -> Tensor:
    """The sum of a matrix's main diagonal."""
    from ember._ops.reduce import sum as _sum

    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return _sum(diagonal(input), -1)


def _tri(input: Tensor, diagonal: int, lower: bool) -> Tensor:  # noqa: A002
    a = input._a
    if a.ndim < 2:
        name = "tril" if lower else "triu"
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    r = np.tril(a, diagonal) if lower else np.triu(a, diagonal)
    return result(r, (input,), "tril" if lower else "triu", diagonal)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The lower triangle (on and below ``diagonal``) of the last two dims; zeros above."""
    return _tri(input, diagonal, True)


def triu(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """The upper triangle (on and above ``diagonal``) of the last two dims; zeros below."""
    return _tri(input, diagonal, False)


def _tri_(input: Tensor, diagonal: int, lower: bool) -> Tensor:  # noqa: A002
    from ember import _tensor as _T

    fn = tril if lower else triu
    if input._ag is not None and _T._engine.inplace(input, fn, (input, diagonal), None):
        return input
    input._a[...] = fn(input.detach(), diagonal)._a
    input._bump()
    return input


def tril_(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """In-place :func:`tril`."""
    return _tri_(input, diagonal, True)


def triu_(input: Tensor, diagonal: int = 0) -> Tensor:  # noqa: A002
    """In-place :func:`triu`."""
    return _tri_(input, diagonal, False)


def _parse_einsum(equation: str, shapes):
    """An explicit, ellipsis-free equation: (input subscripts, output subscripts)."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise RuntimeError(
            f"einsum(): {len(ins)} operands in the equation but {len(shapes)} tensors given"
        )
    used = set(eq) - set(",->.")
    free = [c for c in string.ascii_letters if c not in used]
    ell_n = max(
        (len(shp) - (len(s) - 3) for s, shp in zip(ins, shapes, strict=True) if "..." in s),
        default=0,
    )
    ell = "".join(free[:ell_n])
    out_ins = []
    for s, shp in zip(ins, shapes, strict=True):
        if "..." in s:
            k = len(shp) - (len(s) - 3)
            s = s.replace("...", ell[ell_n - k :])
        if len(s) != len(shp):
            raise RuntimeError(
                f"einsum(): the number of subscripts in {s!r} ({len(s)}) does not match the "
                f"number of dimensions ({len(shp)}) of the operand"
            )
        out_ins.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {}
        for s in out_ins:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return out_ins, out


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation, numpy's notation (``'ij,jk->ik'``, ``...`` for batch dims)."""
    if len(operands) == 1 and isinstance(operands[0], list | tuple):
        operands = tuple(operands[0])
    ins, out = _parse_einsum(equation, [tuple(t.shape) for t in operands])
    eq = ",".join(ins) + "->" + out
    arrays = [t._a for t in operands]
    dts = {a.dtype for a in arrays}
    if len(dts) > 1:
        raise RuntimeError(f"einsum(): expected operands of one dtype, got {sorted(map(str, dts))}")
    try:
        r = np.einsum(eq, *arrays, optimize=len(arrays) > 2)
    except ValueError as exc:
        raise RuntimeError(f"einsum(): {exc} (equation {equation!r})") from None
    return result(_asarray(r), tuple(operands), "einsum", (ins, out))


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Sum-product over the last ``dims`` dims of ``a`` and the first of ``b`` (or the
    explicit dim lists ``dims = ([a dims], [b dims])``)."""
    if isinstance(dims, int | np.integer):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        da, db = ([d] if isinstance(d, int) else list(d) for d in dims)
    da = [_wrap_dim(d, a.dim()) for d in da]
    db = [_wrap_dim(d, b.dim()) for d in db]
    if len(da) != len(db):
        raise RuntimeError(
            f"tensordot: both dimension lists should have the same length, got {da} and {db}"
        )
    for x, y in zip(da, db, strict=True):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(
                f"contracted dimensions need to match, but first has size {a.shape[x]} in dim "
                f"{x} and second has size {b.shape[y]} in dim {y}"
            )
    fa = [d for d in range(a.dim()) if d not in da]
    fb = [d for d in range(b.dim()) if d not in db]
    k = int(np.prod([a.shape[d] for d in da])) if da else 1
    am = _s.reshape(_s.permute(a, fa + da), (-1, k))
    bm = _s.reshape(_s.permute(b, db + fb), (k, -1))
    return _s.reshape(matmul(am, bm), tuple(a.shape[d] for d in fa) + tuple(b.shape[d] for d in fb))


def kron(input: Tensor, other: Tensor) -> Tensor:
    """The Kronecker product (ranks padded with leading ones to match)."""
    n = max(input.dim(), other.dim())
    x = _s.reshape(input, (1,) * (n - input.dim()) + tuple(input.shape))
    y = _s.reshape(other, (1,) * (n - other.dim()) + tuple(other.shape))
    xs = []
    ys = []
    for i in range(n):
        xs += [x.shape[i], 1]
        ys += [1, y.shape[i]]
    prod = _m.mul(_s.reshape(x, xs), _s.reshape(y, ys))
    return _s.reshape(prod, tuple(x.shape[i] * y.shape[i] for i in range(n)))


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The 3-D cross product along ``dim`` (the first dim of size 3 when None), with
    broadcasting."""
    shape = np.broadcast_shapes(tuple(input.shape), tuple(other.shape))
    x, y = _s.broadcast_to(input, shape), _s.broadcast_to(other, shape)
    if dim is None:
        dim = next((i for i, s in enumerate(shape) if s == 3), None)
        if dim is None:
            raise RuntimeError(f"cross: no dimension of size 3 in input of shape {list(shape)}")
    d = _wrap_dim(dim, len(shape))
    if shape[d] != 3:
        raise RuntimeError(
            f"linalg.cross: inputs dimension {d} must have length 3. Got {input.shape[d]} and "
            f"{other.shape[d]}"
        )
    x0, x1, x2 = (_s.select(x, d, i) for i in range(3))
    y0, y1, y2 = (_s.select(y, d, i) for i in range(3))
    return _s.stack([x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0], d)


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0, compute_mode=None) -> Tensor:
    """Pairwise ``p``-norm distances between the rows of ``x1`` (``(B,) P x M``) and
    ``x2`` (``(B,) R x M``): a ``(B,) P x R`` tensor."""
    from ember._ops.linalg_ext import vector_norm

    if x1.dim() < 2 or x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(
            f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}"
        )
    if p < 0:
        raise RuntimeError(f"cdist only supports non-negative p values, got {p}")
    diff = _s.unsqueeze(x1, -2) - _s.unsqueeze(x2, -3)
    return vector_norm(diff, p, -1)


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of 2-D matrices, left to right."""
    if len(matrices) == 1 and isinstance(matrices[0], list | tuple):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    for t in matrices:
        if t.dim() != 2:
            raise RuntimeError(f"chain_matmul(): Expected 2-D matrices, got {t.dim()}-D")
    r = matrices[0]
    for t in matrices[1:]:
        r = matmul(r, t)
    return r if len(matrices) > 1 else _s.clone(r)


def block_diag(*tensors: Tensor) -> Tensor:
    """A block-diagonal matrix from 0-, 1- or 2-D tensors (1-D is one row)."""
    from ember._ops.shape_ext import pad

    mats = []
    for t in tensors:
        if t.dim() > 2:
            raise RuntimeError(
                f"block_diag: Input tensors must have 2 or fewer dimensions, got {t.dim()}"
            )
        mats.append(_s.reshape(t, (1, -1)) if t.dim() < 2 else t)
    if not mats:
        return _wrap(np.zeros((1, 0), np.float32))
    cols = sum(m.shape[1] for m in mats)
    rows, left = [], 0
    for m in mats:
        w = m.shape[1]
        rows.append(pad(m, (left, cols - left - w)))
        left += w
    return _s.cat(rows, 0)


_NON_DIFF = {"tril_", "triu_"}
_NO_METHOD = {
    "einsum",
    "tensordot",
    "cdist",
    "chain_matmul",
    "block_diag",
    "diag_embed",
    "tril_",
    "triu_",
}
for _name in __all__:
    if _name.endswith("_"):
        continue
    register(
        _name,
        globals()[_name],
        "linalg",
        methods=() if _name in _NO_METHOD else (_name,),
        inplace=_name + "_" if _name in ("tril", "triu") else None,
    )
Tensor.tril_, Tensor.triu_ = tril_, triu_
Tensor.diag_embed = diag_embed
