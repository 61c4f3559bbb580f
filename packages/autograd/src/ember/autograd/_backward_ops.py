"""Ops that exist only as derivatives (scattering a gradient back through an index,
a window view or a strided view). Each records itself, so double backward works
through the ones whose own derivative is an existing op.
"""

from __future__ import annotations

import numpy as np

from ember._ops._dispatch import record_if_needed
from ember._tensor import Tensor, _wrap
from ember.autograd import formulas


def _zeros(shape, dtype, like):
    xp = np if type(like) is np.ndarray else __import__("cupy")
    return xp.zeros(shape, dtype)


def index_backward(gy: Tensor, shape, key) -> Tensor:
    """Zeros of ``shape`` with ``gy`` added at ``key`` (repeated indices add up)."""
    z = _zeros(shape, gy._a.dtype, gy._a)
    np.add.at(z, key, gy._a)
    return record_if_needed(_wrap(z), (gy,), "index_backward", key)


def index_get(g: Tensor, key) -> Tensor:
    """``g[key]`` for an already converted numpy key."""
    r = g._a[key]
    out = _wrap(r if hasattr(r, "ndim") and not isinstance(r, np.generic) else np.asarray(r))
    return record_if_needed(out, (g,), "index_get", (tuple(g.shape), key))


def index_zero(g: Tensor, key) -> Tensor:
    """A copy of ``g`` with the positions at ``key`` zeroed."""
    r = g._a.copy()
    r[key] = 0
    return record_if_needed(_wrap(r), (g,), "index_zero", key)


def unfold_backward(gy: Tensor, shape, params) -> Tensor:
    d, size, step = params
    z = _zeros(shape, gy._a.dtype, gy._a)
    g = np.moveaxis(gy._a, (d, gy._a.ndim - 1), (0, 1))  # windows, window_pos, rest...
    zm = np.moveaxis(z, d, 0)
    for w in range(g.shape[0]):
        zm[w * step : w * step + size] += g[w]
    return _wrap(z)


def as_strided_backward(gy: Tensor, shape, params) -> Tensor:
    size, stride, offset = params
    n = int(np.prod(shape)) if shape else 1
    ga = gy._a
    xp = np if type(ga) is np.ndarray else __import__("cupy")  # allocate on gy's device
    span = offset + 1 + sum((s - 1) * st for s, st in zip(size, stride) if s > 0)
    storage = _zeros(max(n, span), ga.dtype, ga)
    idx = xp.full(size, offset, np.int64)
    for dim, (s, st) in enumerate(zip(size, stride)):
        shp = [1] * len(size)
        shp[dim] = s
        idx = idx + (xp.arange(s) * st).reshape(shp)
    np.add.at(storage, idx.reshape(-1), ga.reshape(-1))  # CuPy arrays: dispatched (NEP 13)
    return _wrap(storage[:n].reshape(shape))


@formulas.defines("index_backward")
def _index_backward_grad(ctx, gg):
    return (index_get(gg, ctx.params),)


@formulas.defines("index_get")
def _index_get_grad(ctx, gg):
    shape, key = ctx.params
    return (index_backward(gg, shape, key),)


@formulas.defines("index_zero")
def _index_zero_grad(ctx, gg):
    return (index_zero(gg, ctx.params),)
