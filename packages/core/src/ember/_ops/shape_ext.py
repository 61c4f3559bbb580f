"""More shape ops: flips, rolls, rotations, repetition, padding, grids, and small
numpy-like helpers (diff, histc, bincount, trapezoid).

These copy (as in PyTorch). Ops with their own derivative record one node
(flip, roll, repeat, repeat_interleave, constant pad); the rest are composed
of differentiable ops, so autograd needs nothing more for them.
"""

from __future__ import annotations

import itertools

import numpy as np

from ember._ops import index as _index
from ember._ops import shape as _shape
from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import result
from ember._registry import register
from ember._tensor import Tensor, _wrap, _wrap_dim

__all__ = [
    "flip",
    "fliplr",
    "flipud",
    "roll",
    "rot90",
    "repeat",
    "tile",
    "repeat_interleave",
    "pad",
    "meshgrid",
    "cartesian_prod",
    "combinations",
    "take_along_dim",
    "atleast_1d",
    "atleast_2d",
    "atleast_3d",
    "diff",
    "histc",
    "bincount",
    "trapezoid",
    "trapz",
    "cumulative_trapezoid",
]


def _dims_arg(dims, ndim: int, name: str) -> tuple[int, ...]:
    if isinstance(dims, int | np.integer):
        dims = (int(dims),)
    out = tuple(_wrap_dim(int(d), ndim) for d in dims)
    if len(set(out)) != len(out):
        raise RuntimeError(f"{name}(): dims has duplicates: {list(dims)}")
    return out


def flip(input: Tensor, dims) -> Tensor:
    """A copy with the order of elements reversed along each of ``dims``."""
    a = input._a
    ds = _dims_arg(dims, a.ndim, "flip")
    r = np.flip(a, ds).copy() if a.ndim else a.copy()
    return result(r, (input,), "flip", ds)


def fliplr(input: Tensor) -> Tensor:
    """Flip along dim 1 (left/right); needs at least 2 dims."""
    if input.dim() < 2:
        raise RuntimeError(f"fliplr(): input must be >= 2-d, got {input.dim()}-d")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Flip along dim 0 (up/down); needs at least 1 dim."""
    if input.dim() < 1:
        raise RuntimeError("flipud(): input must be >= 1-d, got 0-d")
    return flip(input, (0,))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift elements circularly along ``dims`` (of the flattened tensor when None)."""
    a = input._a
    if dims is None:
        if not isinstance(shifts, int | np.integer):
            if len(shifts) != 1:
                raise RuntimeError("roll(): shifts must be one int when dims is not given")
            shifts = shifts[0]
        flat = _shape.reshape(input, (-1,))
        return _shape.reshape(roll(flat, int(shifts), 0), tuple(a.shape))
    sh = (int(shifts),) if isinstance(shifts, int | np.integer) else tuple(int(s) for s in shifts)
    ds = (int(dims),) if isinstance(dims, int | np.integer) else tuple(int(d) for d in dims)
    if len(sh) != len(ds):
        raise RuntimeError(
            f"roll(): shifts and dimensions must align. shifts: {len(sh)}, dims: {len(ds)}"
        )
    ds = tuple(_wrap_dim(d, a.ndim) for d in ds)
    r = np.roll(a, sh, ds) if a.ndim else a.copy()
    return result(r, (input,), "roll", (sh, ds))


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by 90 degrees ``k`` times in the plane of ``dims`` (from the first dim
    towards the second), like ``numpy.rot90``."""
    if len(dims) != 2:
        raise RuntimeError(
            f"rot90(): expected total rotation dims == 2, but got dims = {len(dims)}"
        )
    n = input.dim()
    if n < 2:
        raise RuntimeError(f"rot90(): expected total dims >= 2, but got total dims = {n}")
    d0, d1 = _wrap_dim(dims[0], n), _wrap_dim(dims[1], n)
    if d0 == d1:
        raise RuntimeError(f"rot90(): expected rotation dims to be different, got {d0} and {d1}")
    k %= 4
    if k == 0:
        return _shape.clone(input)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 1:
        return _shape.transpose(flip(input, (d1,)), d0, d1)
    return flip(_shape.transpose(input, d0, d1), (d1,))


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile the tensor ``sizes[i]`` times along each dim (``len(sizes) >= input.dim()``;
    extra leading sizes add dims), like ``numpy.tile``."""
    sizes = _shape._shape_arg(sizes, "repeat")
    a = input._a
    if len(sizes) < a.ndim:
        raise RuntimeError(
            "Number of dimensions of repeat dims can not be smaller than number of dimensions "
            f"of tensor (got {len(sizes)} repeat dims for a {a.ndim}-d tensor)"
        )
    if any(s < 0 for s in sizes):
        raise RuntimeError(f"repeat(): repeats must be non-negative, got {list(sizes)}")
    return result(np.tile(a, sizes) if sizes else a.copy(), (input,), "repeat", sizes)


def tile(input: Tensor, dims) -> Tensor:
    """:func:`repeat`, with ``dims`` padded with leading ones when shorter than the rank."""
    dims = (int(dims),) if isinstance(dims, int | np.integer) else tuple(dims)
    dims = (1,) * (input.dim() - len(dims)) + dims
    return repeat(input, dims)


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *, output_size=None):
    """Repeat each element (slice along ``dim``) ``repeats`` times, consecutively.
    With only an int tensor ``input``, repeat ``arange(len(input))`` by it."""
    if repeats is None:
        r = input._a
        if r.ndim != 1 or r.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave(): repeats must be a 1-d integer tensor")
        if r.size and r.min() < 0:
            raise RuntimeError("repeat_interleave(): repeats can not be negative")
        return _wrap(np.repeat(np.arange(r.size, dtype=np.int64), r))
    if dim is None:
        return repeat_interleave(_shape.reshape(input, (-1,)), repeats, 0)
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    rep = repeats._a if isinstance(repeats, Tensor) else _asarray(repeats)
    if rep.dtype.kind not in "iu":
        raise RuntimeError(f"repeat_interleave(): repeats must be integers, got {rep.dtype}")
    if rep.ndim > 1 or (rep.ndim == 1 and rep.size not in (1, n)):
        raise RuntimeError(
            f"repeat_interleave(): repeats must have the same size as input along dim {d}: "
            f"got {rep.size} repeats for size {n}"
        )
    if rep.size and rep.min() < 0:
        raise RuntimeError("repeat_interleave(): repeats can not be negative")
    src = np.repeat(np.arange(n, dtype=np.int64), np.broadcast_to(rep.reshape(-1), (n,)))
    if output_size is not None and output_size != src.size:
        raise RuntimeError(
            f"repeat_interleave(): output_size {output_size} does not match the total {src.size}"
        )
    return _index.index_select(input if a.ndim else _shape.reshape(input, (1,)), d, _wrap(src))


_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims: ``pad = (left_last, right_last, left_prev, ...)``.
    ``mode`` is ``'constant'`` (fill ``value``; negative pads crop), ``'reflect'``,
    ``'replicate'`` or ``'circular'``."""
    pad = tuple(int(p) for p in pad)
    a = input._a
    if len(pad) % 2:
        raise RuntimeError(f"pad(): padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > a.ndim:
        raise RuntimeError(
            f"pad(): padding length {len(pad)} is too large for a {a.ndim}-d input (at most "
            f"{2 * a.ndim})"
        )
    pairs = [(0, 0)] * (a.ndim - len(pad) // 2) + [
        (pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))
    ]
    if mode == "constant":
        return _pad_constant(input, pairs, 0 if value is None else value)
    if mode not in _PAD_MODES:
        raise NotImplementedError(
            f"pad(): mode {mode!r} is not one of 'constant', 'reflect', 'replicate', 'circular'"
        )
    if value not in (None, 0):
        raise RuntimeError(f"pad(): padding mode {mode!r} doesn't take in value argument")
    # Non-constant modes are a gather along each padded dim: index_select with the
    # source positions numpy's pad gives an arange, so autograd comes for free.
    out = input
    for d, (lo, hi) in enumerate(pairs):
        if lo == 0 and hi == 0:
            continue
        n = a.shape[d]
        if lo < 0 or hi < 0:
            raise RuntimeError("pad(): negative padding is only supported in constant mode")
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(
                f"pad(): padding size should be less than the corresponding input dimension, "
                f"but got: padding ({lo}, {hi}) at dimension {d} of input {list(a.shape)}"
            )
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError(
                f"pad(): padding value causes wrapping around more than once: ({lo}, {hi}) "
                f"at dimension {d} of size {n}"
            )
        if n == 0:
            raise RuntimeError(f"pad(): can't pad an empty dimension {d} in {mode} mode")
        src = np.pad(np.arange(n, dtype=np.int64), (lo, hi), mode=_PAD_MODES[mode])
        out = _index.index_select(out, d, _wrap(src))
    return out if out is not input else _shape.clone(input)


def _pad_constant(input: Tensor, pairs, value) -> Tensor:
    a = input._a
    shape = tuple(s + lo + hi for s, (lo, hi) in zip(a.shape, pairs, strict=True))
    if any(s < 0 for s in shape):
        raise RuntimeError(
            f"pad(): the input size {list(a.shape)} with padding {pairs} gives a negative "
            f"output size {list(shape)}"
        )
    r = np.full(shape, value, dtype=a.dtype, like=a)
    dst = tuple(
        slice(max(lo, 0), max(lo, 0) + s + min(lo, 0) + min(hi, 0))
        for s, (lo, hi) in zip(a.shape, pairs, strict=True)
    )
    src = tuple(
        slice(max(-lo, 0), s - max(-hi, 0)) for s, (lo, hi) in zip(a.shape, pairs, strict=True)
    )
    r[dst] = a[src]
    flat = tuple(p for lo_hi in reversed(pairs) for p in lo_hi)
    return result(r, (input,), "pad_constant", flat)


def meshgrid(*tensors, indexing: str = "ij") -> tuple[Tensor, ...]:
    """Coordinate grids from 1-D tensors: with ``'ij'`` the i-th output varies along
    dim i; ``'xy'`` swaps the first two dims (Cartesian, like numpy's default)."""
    if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"meshgrid(): indexing must be 'ij' or 'xy', got {indexing!r}")
    for t in tensors:
        if t.dim() > 1:
            raise RuntimeError(f"meshgrid(): expected 0-d or 1-d tensors, got {t.dim()}-d")
    ts = [_shape.reshape(t, (-1,)) for t in tensors]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        ts[0], ts[1] = ts[1], ts[0]
    shape = tuple(t.shape[0] for t in ts)
    n = len(ts)
    out = [
        _shape.expand(_shape.reshape(t, tuple(-1 if j == i else 1 for j in range(n))), shape)
        for i, t in enumerate(ts)
    ]
    if swap:
        out[0], out[1] = out[1], out[0]
    return tuple(out)


def cartesian_prod(*tensors: Tensor) -> Tensor:
    """All tuples of one element from each 1-D tensor, as rows of an ``(N, len)`` tensor
    (a 1-D tensor given a single input)."""
    if len(tensors) == 1:
        return _shape.clone(tensors[0])
    grids = meshgrid(*tensors, indexing="ij")
    return _shape.stack([_shape.reshape(g, (-1,)) for g in grids], 1)


def combinations(input: Tensor, r: int = 2, with_replacement: bool = False) -> Tensor:
    """All length-``r`` combinations of a 1-D tensor's elements, as rows (itertools order)."""
    if input.dim() != 1:
        raise RuntimeError(f"combinations(): expect a 1D vector, but got shape {list(input.shape)}")
    if r < 0:
        raise RuntimeError(f"combinations(): r must be non-negative, got {r}")
    n = input.shape[0]
    make = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    # the index table is built on the host and, for a CUDA input, sent to its device
    idx = np.array(list(make(range(n), r)), dtype=np.int64, like=input._a).reshape(-1, r)
    if r == 0 or idx.shape[0] == 0:
        return _wrap(np.empty((0,) if r == 0 else (0, r), input._a.dtype, like=input._a))
    cols = [_index.index_select(input, 0, _wrap(np.ascontiguousarray(idx[:, j]))) for j in range(r)]
    return _shape.stack(cols, 1)


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``input`` gathered at ``indices`` along ``dim`` (the two broadcast over the other
    dims); with ``dim=None``, along the flattened tensor."""
    if dim is None:
        return _index.take(input, _shape.reshape(indices, (-1,)))
    if input.dim() != indices.dim():
        raise RuntimeError(
            "take_along_dim(): input and indices should have the same number of dimensions, "
            f"but got {input.dim()} dimensions for input, and {indices.dim()} dimensions for "
            "indices"
        )
    d = _wrap_dim(dim, input.dim())
    si, sx = list(input.shape), list(indices.shape)
    si[d] = sx[d] = 1
    try:
        b = list(np.broadcast_shapes(tuple(si), tuple(sx)))
    except ValueError:
        raise RuntimeError(
            f"take_along_dim(): shapes {list(input.shape)} and {list(indices.shape)} do not "
            f"broadcast outside dim {d}"
        ) from None
    ib, xb = list(b), list(b)
    ib[d], xb[d] = input.shape[d], indices.shape[d]
    return _index.gather(_shape.expand(input, ib), d, _shape.expand(indices, xb))


def _atleast(n: int, name: str):
    def op(*tensors):
        if len(tensors) == 1 and isinstance(tensors[0], list | tuple):
            tensors = tuple(tensors[0])
        out = []
        for t in tensors:
            k = t.dim()
            if k >= n:
                out.append(t)
            elif n == 3 and k == 2:
                out.append(_shape.unsqueeze(t, 2))
            elif n == 3 and k == 1:
                out.append(_shape.reshape(t, (1, -1, 1)))
            else:
                out.append(_shape.reshape(t, (1,) * (n - k) + tuple(t.shape)))
        return out[0] if len(out) == 1 else tuple(out)

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Views of the inputs with at least {n} dims (a tuple for several inputs)."
    return op


atleast_1d = _atleast(1, "atleast_1d")
atleast_2d = _atleast(2, "atleast_2d")
atleast_3d = _atleast(3, "atleast_3d")


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """The ``n``-th forward difference along ``dim`` (after joining ``prepend``/``append``)."""
    from ember._ops.math import logical_xor, sub

    if input.dim() == 0:
        raise RuntimeError("diff(): expected at least a 1-d input, got a 0-d tensor")
    d = _wrap_dim(dim, input.dim())
    x = input
    if prepend is not None or append is not None:
        parts = [p for p in (prepend, x, append) if p is not None]
        x = _shape.cat(parts, d)
    for _ in range(n):
        m = x.shape[d]
        if m == 0:
            break
        hi, lo = _shape.narrow(x, d, 1, m - 1), _shape.narrow(x, d, 0, m - 1)
        x = logical_xor(hi, lo) if x._a.dtype.kind == "b" else sub(hi, lo)
    return x


def histc(input: Tensor, bins: int = 100, min=0, max=0) -> Tensor:  # noqa: A002
    """Counts in ``bins`` equal-width bins over ``[min, max]`` (the data's range when both
    are 0); elements outside are ignored; the last bin includes ``max``."""
    a = input._a
    if a.dtype.kind not in "f" and a.dtype.name != "bfloat16":
        raise RuntimeError(f"histc(): expected a floating point tensor, got {input.dtype}")
    if bins <= 0:
        raise RuntimeError(f"histc(): bins must be > 0, got {bins}")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError(f"histc(): max must be larger than min, got min={lo}, max={hi}")
    a64 = a.astype(np.float64).reshape(-1)
    if lo == hi and a64.size:
        lo, hi = float(a64.min()), float(a64.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise RuntimeError(f"histc(): range of [{lo}, {hi}] is not finite")
    inside = a64[(a64 >= lo) & (a64 <= hi)]
    pos = np.minimum(((inside - lo) * (bins / (hi - lo))).astype(np.int64), bins - 1)
    return _wrap(np.bincount(pos, minlength=bins).astype(a.dtype))


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Occurrences of each value ``0..max(input)`` in a 1-D non-negative int tensor (the sum
    of ``weights`` there, when given); at least ``minlength`` bins."""
    a = input._a
    if a.ndim != 1 or a.dtype.kind not in "iub":
        raise RuntimeError(
            f"bincount(): expected a 1-d integer tensor, got {a.ndim}-d {input.dtype}"
        )
    if a.size and a.min() < 0:
        raise RuntimeError("bincount(): input must be non-negative")
    if minlength < 0:
        raise RuntimeError(f"bincount(): minlength should be >= 0, got {minlength}")
    if weights is None:
        return _wrap(np.bincount(a, minlength=minlength).astype(np.int64))
    w = weights._a
    if w.shape != a.shape:
        raise RuntimeError(
            f"bincount(): weights should have the same shape as input, got {list(w.shape)} "
            f"and {list(a.shape)}"
        )
    dt = w.dtype if w.dtype.kind == "f" else np.float64
    return _wrap(np.bincount(a, weights=w, minlength=minlength).astype(dt))


def _trap_parts(y: Tensor, x, dx, dim):
    d = _wrap_dim(dim, y.dim())
    n = y.shape[d]
    lo, hi = _shape.narrow(y, d, 0, max(n - 1, 0)), _shape.narrow(y, d, min(1, n), max(n - 1, 0))
    mid = (lo + hi) * 0.5
    if x is None:
        return mid * (1.0 if dx is None else dx), d
    if not isinstance(x, Tensor):
        raise TypeError("trapezoid(): x must be a Tensor (use dx for a constant spacing)")
    if x.dim() == 1:
        if x.shape[0] != n:
            raise RuntimeError(
                f"trapezoid(): there must be one `x` value for each sample point: got {x.shape[0]}"
                f" x values for {n} samples along dim {d}"
            )
        dxs = diff(x)
        dxs = _shape.reshape(dxs, (-1,) + (1,) * (y.dim() - d - 1))
    else:
        dxs = diff(x, dim=d)
    return mid * dxs, d


def trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """The trapezoidal-rule integral of ``y`` along ``dim`` (samples at ``x``, or ``dx`` apart)."""
    from ember._ops.reduce import sum as _sum

    parts, d = _trap_parts(y, x, dx, dim)
    return _sum(parts, d)


def trapz(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Alias of :func:`trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y: Tensor, x=None, *, dx=None, dim: int = -1) -> Tensor:
    """Running trapezoidal integral along ``dim`` (one element shorter than ``y`` there)."""
    from ember._ops.reduce import cumsum

    parts, d = _trap_parts(y, x, dx, dim)
    return cumsum(parts, d)


_NON_DIFF = {"histc", "bincount"}
for _name in __all__:
    _methods = (
        (_name,)
        if _name
        not in ("meshgrid", "cartesian_prod", "atleast_1d", "atleast_2d", "atleast_3d", "trapz")
        else ()
    )
    register(
        _name, globals()[_name], "shape", differentiable=_name not in _NON_DIFF, methods=_methods
    )
