"""Derivative formulas of ember-nn's fused ops (conv, pooling, softmax, norms, losses,
embedding).

Only ``ember.nn`` imports this module (after defining the ops it refers to), so
the ops are looked up in ``ember.nn.functional`` lazily: autograd itself never
depends on nn. Every formula is written in registered ops, so a backward run
with ``create_graph=True`` is differentiable again; where the fast backward is a
numpy/C kernel without a derivative of its own, the formula switches to a
composite of ember ops when ``ctx.create_graph`` asks for one.
"""

from __future__ import annotations

import ember as E
from ember.autograd.formulas import defines


def _P():
    from ember.nn.functional import _prim

    return _prim


def _C():
    from ember.nn.functional import _conv

    return _conv


def _needs(ctx, i: int) -> bool:
    return ctx.node.edges[i] is not None


# ----- convolution: the three ops are each other's derivatives -----
@defines("conv", inputs=True)
def _conv(ctx, gy):
    x, w, b = ctx.inputs
    C = _C()
    p = ctx.params
    gx = C.conv_input_grad(gy, w, p, tuple(x.shape)) if _needs(ctx, 0) else None
    gw = C.conv_weight_grad(x, gy, p, tuple(w.shape)) if _needs(ctx, 1) else None
    gb = None
    if b is not None and _needs(ctx, 2):
        gb = gy.sum([0, *range(2, gy.dim())])
    return gx, gw, gb


@defines("conv_input_grad", inputs=True)
def _conv_input_grad(ctx, gg):
    gy, w = ctx.inputs
    C = _C()
    p, _ = ctx.params
    g_gy = C.conv(gg, w, None, p) if _needs(ctx, 0) else None
    g_w = C.conv_weight_grad(gg, gy, p, tuple(w.shape)) if _needs(ctx, 1) else None
    return g_gy, g_w


@defines("conv_weight_grad", inputs=True)
def _conv_weight_grad(ctx, gg):
    x, gy = ctx.inputs
    C = _C()
    p, _ = ctx.params
    g_x = C.conv_input_grad(gy, gg, p, tuple(x.shape)) if _needs(ctx, 0) else None
    g_gy = C.conv(x, gg, None, p) if _needs(ctx, 1) else None
    return g_x, g_gy


# ----- linear -----
@defines("linear", inputs=True)
def _linear(ctx, gy):
    x, w, b = ctx.inputs
    gx = E.matmul(gy, w) if _needs(ctx, 0) else None
    gw = gb = None
    if _needs(ctx, 1):
        gw = E.matmul(gy.reshape(-1, gy.shape[-1]).t(), x.reshape(-1, x.shape[-1]))
    if b is not None and _needs(ctx, 2):
        gb = gy.reshape(-1, gy.shape[-1]).sum(0) if gy.dim() > 1 else gy
    return gx, gw, gb


# ----- pooling -----
@defines("max_pool")
def _max_pool(ctx, gy, _unused=None):
    x_shape, idx, pads = ctx.params
    return (_P().max_pool_backward(gy, idx, x_shape, pads),)


@defines("max_pool_backward")
def _max_pool_backward(ctx, gg):
    x_shape, idx, pads = ctx.params
    return (_P().gather_pooled(gg, idx, pads),)


@defines("gather_pooled")
def _gather_pooled(ctx, gg):
    idx, pads, x_shape = ctx.params
    return (_P().max_pool_backward(gg, idx, x_shape, pads),)


@defines("avg_pool")
def _avg_pool(ctx, gy):
    return (_P().avg_pool_backward(gy, ctx.params),)


@defines("avg_pool_backward")
def _avg_pool_backward(ctx, gg):
    x_shape, rest = ctx.params
    return (_P().avg_pool_from(gg, rest),)


# ----- softmax family: output saved, backward in ember ops -----
@defines("softmax", output=True)
def _softmax(ctx, gy):
    y = ctx.out
    d = ctx.params
    return (y * (gy - (gy * y).sum(d, keepdim=True)),)


@defines("log_softmax", output=True)
def _log_softmax(ctx, gy):
    y = ctx.out
    d = ctx.params
    return (gy - E.exp(y) * gy.sum(d, keepdim=True),)


@defines("nll_loss", inputs=True)
def _nll_loss(ctx, gy):
    logp, target, weight = ctx.inputs
    return (_P().nll_loss_grad(gy, logp, target, weight, ctx.params), None, None)


# ----- normalization -----
@defines("batch_norm", inputs=True)
def _batch_norm(ctx, gy):
    x, w, b = ctx.inputs
    return _P().batch_norm_grad(ctx, gy, x, w, b)


@defines("layer_norm", inputs=True)
def _layer_norm(ctx, gy):
    x, w, b = ctx.inputs
    return _P().layer_norm_grad(ctx, gy, x, w, b)


# ----- embedding -----
@defines("embedding", inputs=True)
def _embedding(ctx, gy):
    w, idx = ctx.inputs
    padding_idx, by_freq = ctx.params
    return _P().embedding_backward(gy, idx, w.shape[0], padding_idx, by_freq), None


@defines("embedding_backward", inputs=True)
def _embedding_backward(ctx, gg):
    gy, idx = ctx.inputs
    ggy = _P().embedding(gg, idx, None)
    if ctx.params is not None:  # the padding row of the gradient is constant zero
        keep = (idx._a != ctx.params)[..., None].astype(E._dtype.to_numpy_dtype(ggy.dtype))
        ggy = ggy * E.from_numpy(keep)
    return ggy, None
