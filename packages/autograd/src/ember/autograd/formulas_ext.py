"""Derivative formulas for the core ops added by the breadth issue: order statistics,
shape extras, special functions, softmax, and linear algebra.

Same conventions as :mod:`ember.autograd.formulas`: written in ember ops, so
``create_graph=True`` backward passes record and higher derivatives work.
Linear-algebra formulas are for real inputs. ``eigh`` and ``cholesky`` read one
triangle of their input, so their gradients live on that triangle (the upper
one is zero), which is exactly the derivative of what they compute.
"""

from __future__ import annotations

import math

import ember as E
from ember._tensor import Tensor
from ember.autograd.formulas import _unreduce, defines, sum_to, unpack_output


# ----- order statistics: values picked from the input along a dim -----
def _picked(ctx, gy):
    d, keepdim, indices = ctx.params
    shape = ctx.shape(0)
    if len(shape) == 0:
        return (gy,)
    idx = indices if keepdim else indices.unsqueeze(d)
    g = gy if keepdim else gy.unsqueeze(d)
    return (E.zeros(shape, dtype=gy.dtype, device=gy.device).scatter(d, idx, g),)


for _name in ("sort", "topk", "kthvalue", "median", "nanmedian", "mode"):
    defines(_name)(_picked)


# ----- shape extras -----
@defines("flip")
def _flip(ctx, gy):
    return (E.flip(gy, ctx.params),)


@defines("roll")
def _roll(ctx, gy):
    shifts, dims = ctx.params
    return (E.roll(gy, tuple(-s for s in shifts), dims),)


@defines("repeat")
def _repeat(ctx, gy):
    sizes = ctx.params
    shape = ctx.shape(0)
    full = (1,) * (len(sizes) - len(shape)) + tuple(shape)
    inter = []
    for r, s in zip(sizes, full, strict=True):
        inter += [r, s]
    g = gy.reshape(inter)
    g = g.sum(tuple(range(0, 2 * len(sizes), 2))) if sizes else g
    return (g.reshape(shape),)


@defines("pad_constant")
def _pad_constant(ctx, gy):
    return (E.pad(gy, tuple(-p for p in ctx.params)),)


# ----- special functions -----
@defines("lgamma", inputs=True)
def _lgamma(ctx, gy):
    return (gy * E.digamma(ctx.inputs[0]),)


@defines("digamma", inputs=True)
def _digamma(ctx, gy):
    return (gy * E.polygamma(1, ctx.inputs[0]),)


@defines("polygamma", inputs=True)
def _polygamma(ctx, gy):
    return (gy * E.polygamma(ctx.params + 1, ctx.inputs[0]),)


@defines("erfinv", output=True)
def _erfinv(ctx, gy):
    y = ctx.out
    return (gy * E.exp(y * y) * (math.sqrt(math.pi) / 2),)


@defines("sinc", inputs=True, output=True)
def _sinc(ctx, gy):
    (x,) = ctx.inputs
    y = ctx.out
    zero = x == 0
    safe = E.where(zero, 1.0, x)
    d = (E.cos(safe * math.pi) - y) / safe
    return (gy * E.where(zero, 0.0, d),)


@defines("xlogy", inputs=True)
def _xlogy(ctx, gy):
    x, y = ctx.inputs
    gx = gy_ = None
    if isinstance(x, Tensor):
        nz = (x != 0).to(gy.dtype)
        gx = sum_to(gy * E.xlogy(nz, y), x.shape)
    if isinstance(y, Tensor):
        gy_ = sum_to(gy * x / y, y.shape)
    return gx, gy_


def _logaddexp_rule(base_exp):
    def rule(ctx, gy):
        a, b = ctx.inputs
        out = ctx.out
        ga = sum_to(gy * base_exp(a - out), a.shape) if isinstance(a, Tensor) else None
        gb = sum_to(gy * base_exp(b - out), b.shape) if isinstance(b, Tensor) else None
        return ga, gb

    return rule


defines("logaddexp", inputs=True, output=True)(_logaddexp_rule(E.exp))
defines("logaddexp2", inputs=True, output=True)(_logaddexp_rule(E.exp2))


@defines("nan_to_num", inputs=True)
def _nan_to_num(ctx, gy):
    return (E.where(E.isfinite(ctx.inputs[0]), gy, 0.0),)


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


# ----- linear algebra -----
def _mT(x: Tensor) -> Tensor:
    return x.transpose(-2, -1)


@defines("inverse", output=True)
def _inverse(ctx, gy):
    yt = _mT(ctx.out)
    return (-(yt @ gy @ yt),)


@defines("det", inputs=True, output=True)
def _det(ctx, gy):
    (a,) = ctx.inputs
    g = (gy * ctx.out).unsqueeze(-1).unsqueeze(-1)
    return (g * _mT(E.inverse(a)),)


@defines("slogdet", inputs=True)
def _slogdet(ctx, gys):
    (a,) = ctx.inputs
    glad = gys[1]
    if glad is None:
        return (E.zeros_like(a),)
    return (glad.unsqueeze(-1).unsqueeze(-1) * _mT(E.inverse(a)),)


@defines("solve", inputs=True, output=True)
def _solve(ctx, gy):
    a, b = ctx.inputs
    x = ctx.out
    gb = E.solve(_mT(a), gy)
    ga = -(gb @ _mT(x))
    return sum_to(ga, a.shape), sum_to(gb, b.shape)


def _one_triangle(g: Tensor, lower: bool) -> Tensor:
    """The gradient of a function that reads only one triangle of a symmetric input,
    from ``g``, its gradient with respect to the full (symmetric) matrix."""
    s = g + _mT(g)
    diag = E.diag_embed(E.diagonal(g, 0, -2, -1))
    return (E.tril(s, -1) if lower else E.triu(s, 1)) + diag


@defines("cholesky", output=True)
def _cholesky(ctx, gy):
    L = ctx.out
    phi = E.tril(_mT(L) @ gy)
    phi = phi - 0.5 * E.diag_embed(E.diagonal(phi, 0, -2, -1))
    linv = E.inverse(L)
    g = _mT(linv) @ phi @ linv
    return (_one_triangle(0.5 * (g + _mT(g)), True),)


def _pair_factor(vals: Tensor, squared: bool) -> Tensor:
    """``F[i, j] = 1 / (v_j - v_i)`` (of squares when ``squared``), 0 on the diagonal."""
    v = vals * vals if squared else vals
    diff = v.unsqueeze(-2) - v.unsqueeze(-1)
    eye = E.eye(v.shape[-1], dtype=v.dtype, device=v.device).bool()
    return E.where(eye, 0.0, 1.0 / E.where(eye, 1.0, diff))


@defines("eigh", output=True)
def _eigh(ctx, gys):
    gw, gv = gys
    w, v = _outputs(ctx)
    inner = E.zeros(tuple(v.shape), dtype=v.dtype, device=v.device)
    if gw is not None:
        inner = inner + E.diag_embed(gw)
    if gv is not None:
        inner = inner + _pair_factor(w, False) * (_mT(v) @ gv)
    g = v @ inner @ _mT(v)
    return (_one_triangle(g, True),)


def _outputs(ctx):
    from ember.autograd.formulas import unpack_output

    return tuple(unpack_output(ctx.node, i, ctx.create_graph) for i in range(ctx.node.n_outputs))


@defines("svd", output=True)
def _svd(ctx, gys):
    gu, gs, gvh = gys
    u, s, vh = _outputs(ctx)
    v = _mT(vh)
    m, n, k = u.shape[-2], v.shape[-2], s.shape[-1]
    inner = E.zeros(tuple(s.shape) + (k,), dtype=s.dtype, device=s.device)
    if gs is not None:
        inner = inner + E.diag_embed(gs)
    f = _pair_factor(s, True)
    extra = 0.0
    if gu is not None:
        j = f * (_mT(u) @ gu - _mT(gu) @ u)
        inner = inner + j * s.unsqueeze(-2)
        if m > k:
            proj = gu - u @ (_mT(u) @ gu)
            extra = extra + (proj / s.unsqueeze(-2)) @ vh
    if gvh is not None:
        gv = _mT(gvh)
        kk = f * (_mT(v) @ gv - _mT(gv) @ v)
        inner = inner + s.unsqueeze(-1) * kk
        if n > k:
            proj = gv - v @ (_mT(v) @ gv)
            extra = extra + u @ _mT(proj / s.unsqueeze(-2))
    return (u @ inner @ vh + extra,)


@defines("vector_norm", inputs=True, output=True)
def _vector_norm(ctx, gy):
    (x,) = ctx.inputs
    p, dims, keepdim = ctx.params
    shape = tuple(x.shape)
    y = _unreduce(ctx.out, shape, dims, keepdim)
    g = _unreduce(gy, shape, dims, keepdim)
    ax = E.abs(x)
    if p == 0:
        return (E.zeros_like(x),)
    if p == 1:
        return (g * E.sign(x),)
    if math.isinf(p):
        mask = (ax == y).to(x.dtype)
        count = mask.sum(dims, keepdim=True) if dims is not None else mask.sum()
        return (g * E.sign(x) * mask / count,)
    safe = E.where(y == 0, 1.0, y)
    if p == 2:
        return (E.where(y == 0, 0.0, g * x / safe),)
    r = E.sign(x) * ax ** (p - 1) / safe ** (p - 1)
    return (E.where(y == 0, 0.0, g * r),)


@defines("diagonal")
def _diagonal(ctx, gy):
    offset, d1, d2 = ctx.params
    z = E.zeros(ctx.shape(0), dtype=gy.dtype, device=gy.device)
    return (E.diagonal_scatter(z, gy, offset, d1, d2),)


@defines("diagonal_scatter")
def _diagonal_scatter(ctx, gy):
    offset, d1, d2 = ctx.params
    gsrc = E.diagonal(gy, offset, d1, d2)
    return E.diagonal_scatter(gy, E.zeros_like(gsrc), offset, d1, d2), gsrc.clone()


@defines("tril")
def _tril(ctx, gy):
    return (E.tril(gy, ctx.params),)


@defines("triu")
def _triu(ctx, gy):
    return (E.triu(gy, ctx.params),)


@defines("einsum", inputs=True)
def _einsum(ctx, gy):
    ins, out = ctx.params
    ops = ctx.inputs
    grads = []
    for i, (sub, x) in enumerate(zip(ins, ops, strict=True)):
        if not isinstance(x, Tensor) or not x.requires_grad:
            grads.append(None)
            continue
        if len(set(sub)) != len(sub):
            raise NotImplementedError(
                f"einsum backward: repeated subscripts in one operand ({sub!r}) are not supported"
            )
        others = [out] + [s for j, s in enumerate(ins) if j != i]
        seen = set("".join(others))
        target = "".join(c for c in sub if c in seen)
        tensors = [gy] + [t for j, t in enumerate(ops) if j != i]
        g = E.einsum(",".join(others) + "->" + target, *tensors)
        # Subscripts only this operand has were summed out: their gradient is broadcast.
        if target != sub:
            shape = [x.shape[k] if c in seen else 1 for k, c in enumerate(sub)]
            g = g.reshape(shape).expand(tuple(x.shape))
        grads.append(g)
    return tuple(grads)


@defines("qr", output=True)
def _qr(ctx, gys):
    """Reduced QR, m >= n: gA = (gQ + Q copyltu(M)) R^{-T}, M = R gR^T - gQ^T Q, where
    copyltu mirrors the lower triangle of M onto the upper one (Walter & Lehmann 2018)."""
    gq, gr = gys
    q = unpack_output(ctx.node, 0, ctx.create_graph)
    r = unpack_output(ctx.node, 1, ctx.create_graph)
    if gq is None:
        gq = E.zeros_like(q)
    if gr is None:
        gr = E.zeros_like(r)
    m = E.matmul(r, gr.transpose(-1, -2)) - E.matmul(gq.transpose(-1, -2), q)
    low = E.tril(m, -1)
    copyltu = low + low.transpose(-1, -2) + E.diag_embed(E.diagonal(m, 0, -2, -1))
    b = gq + E.matmul(q, copyltu)
    # Solve X R^T = B for X, i.e. R X^T = B^T (R is upper triangular and invertible).
    x = E.linalg.solve(r, b.transpose(-1, -2)).transpose(-1, -2)
    return (x,)
