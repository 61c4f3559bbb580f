"""The fused registered ops under the hot layers (other than conv): linear, pooling,
softmax, nll loss, batch/layer norm, embedding.

Each computes on the inputs' arrays (through :mod:`._kernels`), wraps the result and
records it under its op name; arrays are numpy or CuPy, and every buffer made here comes
from the inputs' device (``np.*_like``, :func:`._kernels.xp_of`; never ``np.asarray``,
which CuPy refuses); derivatives live in ``ember.autograd.formulas_nn``.
Inputs here are already validated by the public functions.
"""

from __future__ import annotations

import numpy as np

import ember as E
from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import result
from ember._tensor import Tensor, _wrap
from ember.nn.functional import _kernels as K


# ----- linear -----
def linear(x: Tensor, w: Tensor, b: Tensor | None) -> Tensor:
    """``x @ w.T + b`` as one op."""
    y = np.matmul(x._a, w._a.T)
    if b is not None:
        y += b._a
    return result(y, (x, w, b), "linear")


# ----- max pooling -----
def _padded_shape(x_shape, pads):
    return tuple(x_shape[:2]) + tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[2:], pads))


def max_pool(x: Tensor, kernel, stride, pads, dilation, out, sym=None) -> tuple[Tensor, np.ndarray]:
    """Max pooling; ``pads`` are (lo, hi) per dim, ``hi`` including ceil-mode overhang
    (``sym`` = (padding, ceil_mode) lets core's C kernel take 2-D pooling). Returns
    the output and the flat index of each maximum in the unpadded plane."""
    xa = x._a
    c_args = None if sym is None or len(kernel) != 2 else (kernel, stride, *sym)
    r = K.maxpool2d_c(xa, c_args[0], c_args[1], c_args[2], dilation, c_args[3]) if c_args else None
    if r is not None:
        y, idx = r
        return result(y, (x,), "max_pool", (tuple(xa.shape), idx, pads)), idx
    fill = -np.inf if xa.dtype.kind == "f" else np.iinfo(xa.dtype).min
    xp = K.pad_input(xa, pads, fill)
    y, idx = K.maxpool_forward(xp, kernel, out, stride, dilation)
    if xp is not xa:  # padded-plane index -> unpadded-plane index
        coords = np.unravel_index(idx, xp.shape[2:])
        idx = np.ravel_multi_index(tuple(c - lo for c, (lo, _) in zip(coords, pads)), xa.shape[2:])
    x_shape = tuple(xa.shape)
    return result(y, (x,), "max_pool", (x_shape, idx, pads)), idx


def max_pool_backward(gy: Tensor, idx, x_shape, pads=None) -> Tensor:
    """Scatter ``gy`` to the positions of the maxima (adding where windows overlap)."""
    g = K.maxpool_backward(gy._a, idx, x_shape)
    return result(g, (gy,), "max_pool_backward", (x_shape, idx, pads))


def gather_pooled(g: Tensor, idx, pads=None) -> Tensor:
    """``g`` (N, C, *S) read at the pooled positions ``idx`` (N, C, *out)."""
    ga = g._a
    n, c = ga.shape[:2]
    flat = ga.reshape(n, c, -1)
    r = np.take_along_axis(flat, idx.reshape(n, c, -1), 2).reshape(idx.shape)
    return result(r, (g,), "gather_pooled", (idx, pads, tuple(ga.shape)))


# ----- average pooling -----
def _avg_divisor(x_shape, rest, like):
    """A float, or the per-window counts as an array on ``like``'s device: they depend
    on shapes only, so they are counted on the host (no device sync) and sent once."""
    cnt = _avg_counts(x_shape, rest)
    if isinstance(cnt, float) or type(like) is np.ndarray:
        return cnt
    return K.xp_of(like).asarray(cnt)


def _avg_counts(x_shape, rest):
    kernel, stride, pads, explicit, count_include_pad, divisor_override, out = rest
    if divisor_override:
        return float(divisor_override)
    sp = x_shape[2:]
    if count_include_pad:
        # padding counts, the ceil-mode overhang past it does not
        ones = np.ones(tuple(s + 2 * p for s, p in zip(sp, explicit)))
        extra = tuple((0, lo + hi - 2 * p) for (lo, hi), p in zip(pads, explicit))
        ones = np.pad(ones, extra)
    else:
        ones = np.pad(np.ones(sp), pads)
    cnt = K.windows(ones[None, None], kernel, out, stride, (1,) * len(kernel))
    cnt = cnt.sum(tuple(range(2, 2 + len(kernel))))
    if cnt.min() == cnt.max():  # the common case: one divisor for every window
        return float(cnt.ravel()[0])
    return cnt


def avg_pool(x: Tensor, rest) -> Tensor:
    """Average pooling; ``rest`` = (kernel, stride, pads, explicit_pads,
    count_include_pad, divisor_override, out)."""
    kernel, stride, pads, _, _, _, out = rest
    xa = x._a
    xp = K.pad_input(xa, pads)
    w = K.windows(xp, kernel, out, stride, (1,) * len(kernel))
    y = w.sum(tuple(range(2, 2 + len(kernel))))
    y = y / _avg_divisor(xa.shape, rest, xa)
    return result(y.astype(xa.dtype, copy=False), (x,), "avg_pool", (tuple(xa.shape), rest))


def avg_pool_backward(gy: Tensor, params) -> Tensor:
    """The adjoint of :func:`avg_pool`: spread each gradient over its window."""
    x_shape, rest = params
    kernel, stride, pads, _, _, _, out = rest
    g = gy._a / _avg_divisor(x_shape, rest, gy._a)
    k = int(np.prod(kernel))
    cols = np.broadcast_to(g[:, :, None], (g.shape[0], g.shape[1], k) + g.shape[2:])
    cols = cols.reshape(g.shape[0], g.shape[1] * k, -1)
    gx = K.col2im(cols, _padded_shape(x_shape, pads), kernel, out, stride, (1,) * len(kernel))
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[2:], pads))
    gx = K.contiguous(gx[(slice(None), slice(None)) + crop]).astype(gy._a.dtype, copy=False)
    return result(gx, (gy,), "avg_pool_backward", params)


avg_pool_from = avg_pool


# ----- softmax family -----
def softmax(x: Tensor, dim: int) -> Tensor:
    """Softmax along ``dim`` as one op."""
    return result(K.softmax(x._a, dim), (x,), "softmax", dim)


def log_softmax(x: Tensor, dim: int) -> Tensor:
    """Log-softmax along ``dim`` as one op."""
    return result(K.log_softmax(x._a, dim), (x,), "log_softmax", dim)


def _class_last(a: np.ndarray) -> np.ndarray:
    return a if a.ndim <= 2 else np.moveaxis(a, 1, -1)


def nll_loss(logp: Tensor, target: Tensor, weight: Tensor | None, ignore_index, reduction):
    """Negative log-likelihood of class indices ``target`` under ``logp`` (N, C, ...)."""
    la, ta = logp._a, target._a
    if la.ndim == 1:
        la, ta = la[None], ta[None]
    lc = _class_last(la)
    valid = ta != ignore_index
    safe = np.where(valid, ta, 0)
    picked = np.take_along_axis(lc, safe[..., None], -1)[..., 0]
    w = np.ones_like(picked) if weight is None else weight._a[safe].astype(la.dtype)
    w = np.where(valid, w, 0).astype(la.dtype)
    loss = -w * picked
    if reduction == "none":
        out = loss.reshape(target._a.shape)
    elif reduction == "sum":
        out = _asarray(loss.sum(), la.dtype)
    else:
        out = _asarray(loss.sum() / w.sum(), la.dtype)
    params = (ignore_index, reduction)
    return result(out, (logp, target, weight), "nll_loss", params)


def nll_loss_grad(gy: Tensor, logp: Tensor, target: Tensor, weight, params) -> Tensor:
    """The gradient of :func:`nll_loss` with respect to ``logp`` (linear in ``gy``)."""
    ignore_index, reduction = params
    la, ta = logp._a, target._a
    unbatched = la.ndim == 1
    if unbatched:
        la, ta = la[None], ta[None]
    valid = ta != ignore_index
    safe = np.where(valid, ta, 0)
    w = np.ones_like(ta, la.dtype) if weight is None else weight._a[safe].astype(la.dtype)
    w = np.where(valid, w, 0).astype(la.dtype)
    if reduction == "mean":
        w = w / w.sum()
    coef = _wrap(-w)
    g = gy.reshape(ta.shape) * coef if reduction == "none" else gy * coef
    src = g.unsqueeze(1)
    z = E.zeros(la.shape, dtype=logp.dtype, device=logp.device)
    gx = z.scatter(1, _wrap(safe[:, None]), src)
    return gx.reshape(logp.shape)


# ----- normalization -----
def _bshape(x_ndim: int, axes: tuple) -> tuple:
    return tuple(1 if i in axes else -1 for i in range(x_ndim))


def batch_norm_train(x: Tensor, w, b, eps: float):
    """Normalize over every dim but 1 with batch statistics; returns the output and
    the (mean, biased var) arrays for the running estimates."""
    xa = x._a
    axes = (0, *range(2, xa.ndim))
    mean = xa.mean(axes, keepdims=True)
    xc = xa - mean
    var = np.mean(np.square(xc), axes, keepdims=True)
    invstd = 1.0 / np.sqrt(var + eps)
    y = xc * invstd
    c = xa.shape[1]
    shp = (1, c) + (1,) * (xa.ndim - 2)
    if w is not None:
        y *= w._a.reshape(shp)
    if b is not None:
        y += b._a.reshape(shp)
    out = result(y.astype(xa.dtype, copy=False), (x, w, b), "batch_norm", (axes, eps, None))
    return out, mean.reshape(c), var.reshape(c)


def batch_norm_eval(x: Tensor, mean: np.ndarray, var: np.ndarray, w, b, eps: float) -> Tensor:
    """Normalize with fixed statistics (eval mode): an affine map of ``x``."""
    xa = x._a
    c = xa.shape[1]
    shp = (1, c) + (1,) * (xa.ndim - 2)
    invstd = (1.0 / np.sqrt(var + eps)).astype(xa.dtype)
    scale = invstd if w is None else invstd * w._a
    shift = -mean * scale if b is None else b._a - mean * scale
    y = xa * scale.reshape(shp) + shift.reshape(shp)
    axes = (0, *range(2, xa.ndim))
    # copies: the running estimates may change before backward runs
    return result(y, (x, w, b), "batch_norm", (axes, eps, (mean.copy(), invstd)))


def layer_norm(x: Tensor, nshape: tuple, w, b, eps: float) -> Tensor:
    """Normalize over the last ``len(nshape)`` dims."""
    xa = x._a
    axes = tuple(range(xa.ndim - len(nshape), xa.ndim))
    mean = xa.mean(axes, keepdims=True)
    xc = xa - mean
    var = np.mean(np.square(xc), axes, keepdims=True)
    y = xc * (1.0 / np.sqrt(var + eps))
    if w is not None:
        y *= w._a
    if b is not None:
        y += b._a
    return result(y.astype(xa.dtype, copy=False), (x, w, b), "layer_norm", (axes, eps, None))


def _norm_grad(ctx, gy, x, w, b, param_is_channel: bool):
    axes, eps, fixed = ctx.params
    needs = [e is not None for e in ctx.node.edges]
    nd = x.dim()
    shp = _bshape(nd, axes) if param_is_channel else None
    waxes = axes if param_is_channel else tuple(i for i in range(nd) if i not in axes)

    def affine(t):
        return t if t is None else (t.reshape(shp) if shp else t)

    if not ctx.create_graph:  # fast: plain arrays, nothing recorded
        xa, ga = x._a, gy._a
        if fixed is not None:
            mean, invstd = fixed
            bs = (1, -1) + (1,) * (nd - 2)
            mean, invstd = mean.reshape(bs), invstd.reshape(bs)
        else:
            mean = xa.mean(axes, keepdims=True)
            invstd = 1.0 / np.sqrt(np.mean(np.square(xa - mean), axes, keepdims=True) + eps)
        xhat = (xa - mean) * invstd
        gw = (ga * xhat).sum(waxes) if w is not None and needs[1] else None
        gb = ga.sum(waxes) if b is not None and needs[2] else None
        gx = None
        if needs[0]:
            gxh = ga * affine(w)._a if w is not None else ga
            if fixed is not None:
                gx = gxh * invstd
            else:
                m = xa.size // int(np.prod([xa.shape[i] for i in range(nd) if i not in axes]))
                s1 = gxh.sum(axes, keepdims=True)
                s2 = (gxh * xhat).sum(axes, keepdims=True)
                gx = (gxh - (s1 + xhat * s2) / m) * invstd
        dt = x._a.dtype
        return tuple(
            None if g is None else _wrap(_asarray(g, dt).reshape(t.shape))
            for g, t in ((gx, x), (gw, w), (gb, b))
        )
    # differentiable composite (double backward)
    if fixed is not None:
        mean = _wrap(fixed[0]).reshape(_bshape(nd, axes))
        invstd = _wrap(fixed[1]).reshape(_bshape(nd, axes))
    else:
        mean = x.mean(list(axes), keepdim=True)
        invstd = E.rsqrt(((x - mean) * (x - mean)).mean(list(axes), keepdim=True) + eps)
    xhat = (x - mean) * invstd
    gw = (gy * xhat).sum(list(waxes)) if w is not None and needs[1] else None
    gb = gy.sum(list(waxes)) if b is not None and needs[2] else None
    gx = None
    if needs[0]:
        gxh = gy * affine(w) if w is not None else gy
        if fixed is not None:
            gx = gxh * invstd
        else:
            m = x.numel() // int(np.prod([x.shape[i] for i in range(nd) if i not in axes]))
            s1 = gxh.sum(list(axes), keepdim=True)
            s2 = (gxh * xhat).sum(list(axes), keepdim=True)
            gx = (gxh - (s1 + xhat * s2) / m) * invstd
    if gw is not None:
        gw = gw.reshape(w.shape)
    if gb is not None:
        gb = gb.reshape(b.shape)
    return gx, gw, gb


def batch_norm_grad(ctx, gy, x, w, b):
    return _norm_grad(ctx, gy, x, w, b, True)


def layer_norm_grad(ctx, gy, x, w, b):
    return _norm_grad(ctx, gy, x, w, b, False)


# ----- embedding -----
def embedding(weight: Tensor, idx: Tensor, padding_idx, scale_grad_by_freq=False) -> Tensor:
    """Rows of ``weight`` at ``idx``: (..., D). With ``scale_grad_by_freq`` each row's
    gradient is divided by the number of times its index occurs in ``idx``."""
    params = (padding_idx, bool(scale_grad_by_freq))
    return result(weight._a[idx._a], (weight, idx), "embedding", params)


def embedding_backward(gy: Tensor, idx: Tensor, num: int, padding_idx, by_freq=False) -> Tensor:
    """Rows of ``gy`` summed by index into a (num, D) gradient; with ``by_freq`` each
    row divided by its index's count in ``idx``. Its own derivative (a gather) leaves
    that factor out, as PyTorch's does: the factor then enters a second derivative
    once, through the embedding's backward, which keeps it equal to the finite
    differences of the (scaled) first derivative."""
    ga = gy._a
    if by_freq:
        flat = idx._a.reshape(-1)
        _, inverse, counts = np.unique(flat, return_inverse=True, return_counts=True)
        inv = (1.0 / counts[inverse]).reshape(idx._a.shape + (1,))
        ga = ga * inv.astype(ga.dtype)
    g = K.embedding_backward(ga, idx._a, num, padding_idx)
    return result(g, (gy, idx), "embedding_backward", padding_idx)
