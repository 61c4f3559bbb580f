"""Derivative formulas of the matrix products and the indexing ops (gather, scatter,
index_select/add/copy/fill, masked_select, take, index_put); see ``formulas`` for the
conventions. Imported by ``ember.autograd`` at start-up, like every formulas module."""

from __future__ import annotations

import numpy as np

import ember as E
from ember._tensor import Tensor
from ember.autograd.formulas import defines, sum_to


# ----- linear algebra -----
@defines("mm", inputs=True)
def _mm(ctx, gy):
    a, b = ctx.inputs
    return gy.mm(b.t()), a.t().mm(gy)


@defines("matmul", inputs=True)
def _matmul(ctx, gy):
    a, b = ctx.inputs
    if a.dim() == 1 and b.dim() == 1:
        return gy * b, gy * a
    if b.dim() == 1:
        ga = gy.unsqueeze(-1) * b
        gb = (
            sum_to(E.matmul(a.transpose(-1, -2), gy.unsqueeze(-1)).squeeze(-1), b.shape)
            if a.dim() == 2
            else E.matmul(a.transpose(-1, -2), gy.unsqueeze(-1))
            .squeeze(-1)
            .reshape(-1, b.shape[0])
            .sum(0)
        )
        return ga, gb
    if a.dim() == 1:
        ga = E.matmul(gy.unsqueeze(-2), b.transpose(-1, -2)).squeeze(-2)
        ga = ga.reshape(-1, a.shape[0]).sum(0) if ga.dim() > 1 else ga
        gb = a.unsqueeze(-1) * gy.unsqueeze(-2)
        return ga, sum_to(gb, b.shape)
    ga = sum_to(E.matmul(gy, b.transpose(-1, -2)), a.shape)
    gb = sum_to(E.matmul(a.transpose(-1, -2), gy), b.shape)
    return ga, gb


# ----- indexing -----
@defines("index_select", inputs=True)
def _index_select(ctx, gy):
    x, idx = ctx.inputs
    d = ctx.params
    return E.zeros_like(x).index_add(d, idx.reshape(-1), gy), None


@defines("gather", inputs=True)
def _gather(ctx, gy):
    x, idx = ctx.inputs
    return E.zeros_like(x).scatter_add(ctx.params, idx, gy), None


@defines("scatter", inputs=True)
def _scatter(ctx, gy):
    x, idx, src = ctx.inputs
    d = ctx.params
    gsrc = gy.gather(d, idx) if isinstance(src, Tensor) else None
    return gy.scatter(d, idx, 0.0), None, gsrc


@defines("scatter_add", inputs=True)
def _scatter_add(ctx, gy):
    _, idx, _ = ctx.inputs
    return gy, None, gy.gather(ctx.params, idx)


@defines("index_add", inputs=True)
def _index_add(ctx, gy):
    _, idx, src = ctx.inputs
    d, alpha = ctx.params
    gs = gy.index_select(d, idx.reshape(-1))
    return gy, None, (gs * alpha if alpha != 1 else gs).reshape(src.shape)


@defines("index_copy", inputs=True)
def _index_copy(ctx, gy):
    _, idx, src = ctx.inputs
    d = ctx.params
    return gy.index_fill(d, idx, 0.0), None, gy.index_select(d, idx.reshape(-1))


@defines("index_fill", inputs=True)
def _index_fill(ctx, gy):
    _, idx = ctx.inputs
    return gy.index_fill(ctx.params, idx, 0.0), None


@defines("masked_select", inputs=True)
def _masked_select(ctx, gy):
    from ember.autograd import _backward_ops

    x, mask = ctx.inputs
    full = (
        E.broadcast_shapes(x.shape, mask.shape)
        if hasattr(E, "broadcast_shapes")
        else np.broadcast_shapes(tuple(x.shape), tuple(mask.shape))
    )
    m = mask.expand(full) if tuple(mask.shape) != tuple(full) else mask
    g = _backward_ops.index_backward(gy, tuple(full), (m._a,))
    return sum_to(g, x.shape), None


@defines("take", inputs=True)
def _take(ctx, gy):
    x, idx = ctx.inputs
    g = E.zeros(x.numel(), dtype=gy.dtype, device=gy.device).index_add(
        0, idx.reshape(-1), gy.reshape(-1)
    )
    return g.reshape(x.shape), None


@defines("index_put")
def _index_put(ctx, gy):
    from ember.autograd import _backward_ops

    k = ctx.params
    gx = _backward_ops.index_zero(gy, k)
    vshape = ctx.shape(2)
    gv = sum_to(_backward_ops.index_get(gy, k), vshape) if vshape is not None else None
    return gx, None, gv
