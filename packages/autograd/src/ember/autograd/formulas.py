"""Derivative formulas: one entry per differentiable core op, in one place.

Each formula takes ``(ctx, gy)`` and returns one gradient per op input (``None``
for inputs that get none). Formulas are written in ember ops, so a backward run
with ``create_graph=True`` is recorded like any forward: that is what makes
higher-order derivatives work. ``defines(name, inputs=..., output=...)`` says
what the node must save; nothing else is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

import ember as E
from ember._tensor import AutogradMeta, Tensor, _wrap

__all__ = ["SPECS", "NON_DIFFERENTIABLE", "Ctx", "sum_to", "node_name"]


@dataclass(frozen=True)
class Spec:
    fn: object
    save_inputs: bool
    save_output: bool


SPECS: dict[str, Spec] = {}
NON_DIFFERENTIABLE = {
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_and",
    "logical_or",
    "logical_xor",
    "logical_not",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_not",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "floor_divide",
    "isnan",
    "isinf",
    "isfinite",
    "isposinf",
    "isneginf",
    "signbit",
    "argmax",
    "argmin",
    "any",
    "all",
    "count_nonzero",
    "nonzero",
    "argwhere",
}


def check_version(ver, expected, t, node, nr):
    cur = 0 if ver is None else ver[0]
    if cur != expected:
        raise RuntimeError(
            "one of the variables needed for gradient computation has been modified by an "
            f"inplace operation: [{t.type()} {list(t.shape)}], which is output {nr} of "
            f"{node.name()}, is at version {cur}; expected version {expected} instead. "
            "Hint: ember.autograd.set_detect_anomaly(True) names the forward operation."
        )


def unpack_input(node, i: int):
    x = node.saved_inputs[i]
    if isinstance(x, Tensor):
        check_version(x._ver, node.versions[i], x, node, 0)
    return x


def unpack_output(node, i: int, create_graph: bool) -> Tensor:
    arr, ver, version, base = node.saved_output[i]
    t = _wrap(arr)
    t._ver = ver
    t._base = base
    check_version(ver, version, t, node, i)
    if create_graph:
        t._ag = AutogradMeta(True, node, i)
    return t


def defines(name: str, inputs: bool = False, output: bool = False):
    def deco(fn):
        SPECS[name] = Spec(fn, inputs, output)
        return fn

    return deco


def node_name(op: str) -> str:
    return "".join(p.capitalize() for p in op.split("_")) + "Backward0"


class Ctx:
    """What a formula sees: saved inputs/outputs (version-checked), params, shapes."""

    __slots__ = ("node", "create_graph")

    def __init__(self, node, create_graph: bool):
        self.node, self.create_graph = node, create_graph

    @property
    def inputs(self) -> tuple:
        node = self.node
        return tuple([unpack_input(node, i) for i in range(len(node.saved_inputs))])

    @property
    def out(self) -> Tensor:
        return unpack_output(self.node, 0, self.create_graph)

    @property
    def params(self):
        return self.node.params

    def shape(self, i: int) -> tuple:
        meta = self.node.meta
        if meta is not None:
            m = meta[i]
            return None if m is None else m[0]
        x = self.node.saved_inputs[i]
        return tuple(x._a.shape) if isinstance(x, Tensor) else None

    def dtype(self, i: int):
        if self.node.meta is not None:
            return self.node.meta[i][1]
        return self.node.saved_inputs[i]._a.dtype


def sum_to(g: Tensor, shape) -> Tensor | None:
    """Sum broadcast gradient ``g`` back down to ``shape`` (None for a non-tensor input)."""
    if shape is None or g is None:
        return None
    gs = g._a.shape
    if gs == shape:
        return g
    shape = tuple(shape)
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    dims = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gs[i + lead] != 1
    )
    r = E.sum(g, dims, keepdim=True) if dims else g
    return r.reshape(shape)


def _unreduce(gy: Tensor, shape, dims, keepdim: bool) -> Tensor:
    """Broadcast the gradient of a reduction back to the input ``shape``."""
    shape = tuple(shape)
    if dims is None:
        if not shape:
            return gy
        gy = gy.reshape((1,) * len(shape))
    elif not keepdim:
        for d in sorted(dims):
            gy = gy.unsqueeze(d)
    # expand (numpy's broadcast_to) costs microseconds: skip it when nothing broadcasts
    return gy if gy._a.shape == shape else gy.expand(shape)


def _as(x, like: Tensor):
    return x.to(like.dtype) if isinstance(x, Tensor) and x.dtype != like.dtype else x


# ----- elementwise unary -----
def _unary(name, inputs=False, output=False):
    def deco(rule):
        def fn(ctx, gy):
            return (rule(ctx, gy),)

        return defines(name, inputs, output)(fn)

    return deco


@_unary("exp", output=True)
def _exp(ctx, gy):
    return gy * ctx.out


@_unary("exp2", output=True)
def _exp2(ctx, gy):
    return gy * ctx.out * math.log(2.0)


@_unary("expm1", output=True)
def _expm1(ctx, gy):
    return gy * (ctx.out + 1)


@_unary("log", inputs=True)
def _log(ctx, gy):
    return gy / ctx.inputs[0]


@_unary("log2", inputs=True)
def _log2(ctx, gy):
    return gy / (ctx.inputs[0] * math.log(2.0))


@_unary("log10", inputs=True)
def _log10(ctx, gy):
    return gy / (ctx.inputs[0] * math.log(10.0))


@_unary("log1p", inputs=True)
def _log1p(ctx, gy):
    return gy / (ctx.inputs[0] + 1)


@_unary("sqrt", output=True)
def _sqrt(ctx, gy):
    return gy / (2 * ctx.out)


@_unary("rsqrt", output=True)
def _rsqrt(ctx, gy):
    y = ctx.out
    return gy * (y * y * y) * -0.5


@_unary("sin", inputs=True)
def _sin(ctx, gy):
    return gy * E.cos(ctx.inputs[0])


@_unary("cos", inputs=True)
def _cos(ctx, gy):
    return -(gy * E.sin(ctx.inputs[0]))


@_unary("tan", output=True)
def _tan(ctx, gy):
    y = ctx.out
    return gy * (1 + y * y)


@_unary("asin", inputs=True)
def _asin(ctx, gy):
    x = ctx.inputs[0]
    return gy * E.rsqrt(1 - x * x)


@_unary("acos", inputs=True)
def _acos(ctx, gy):
    x = ctx.inputs[0]
    return -(gy * E.rsqrt(1 - x * x))


@_unary("atan", inputs=True)
def _atan(ctx, gy):
    x = ctx.inputs[0]
    return gy / (1 + x * x)


@_unary("sinh", inputs=True)
def _sinh(ctx, gy):
    return gy * E.cosh(ctx.inputs[0])


@_unary("cosh", inputs=True)
def _cosh(ctx, gy):
    return gy * E.sinh(ctx.inputs[0])


@_unary("tanh", output=True)
def _tanh(ctx, gy):
    y = ctx.out
    return gy * (1 - y * y)


@_unary("asinh", inputs=True)
def _asinh(ctx, gy):
    x = ctx.inputs[0]
    return gy * E.rsqrt(x * x + 1)


@_unary("acosh", inputs=True)
def _acosh(ctx, gy):
    x = ctx.inputs[0]
    return gy * E.rsqrt(x * x - 1)


@_unary("atanh", inputs=True)
def _atanh(ctx, gy):
    x = ctx.inputs[0]
    return gy / (1 - x * x)


@_unary("sigmoid", output=True)
def _sigmoid(ctx, gy):
    y = ctx.out
    return gy * y * (1 - y)


@_unary("erf", inputs=True)
def _erf(ctx, gy):
    x = ctx.inputs[0]
    return gy * E.exp(-(x * x)) * (2.0 / math.sqrt(math.pi))


@_unary("erfc", inputs=True)
def _erfc(ctx, gy):
    x = ctx.inputs[0]
    return gy * E.exp(-(x * x)) * (-2.0 / math.sqrt(math.pi))


@_unary("reciprocal", output=True)
def _reciprocal(ctx, gy):
    y = ctx.out
    return -(gy * y * y)


@_unary("neg")
def _neg(ctx, gy):
    return -gy


@_unary("abs", inputs=True)
def _abs(ctx, gy):
    return gy * E.sign(ctx.inputs[0])


@_unary("square", inputs=True)
def _square(ctx, gy):
    return gy * ctx.inputs[0] * 2


@_unary("relu", output=True)
def _relu(ctx, gy):
    return gy * (ctx.out > 0).to(gy.dtype)


@_unary("silu", inputs=True)
def _silu(ctx, gy):
    x = ctx.inputs[0]
    s = E.sigmoid(x)
    return gy * (s * (1 + x * (1 - s)))


@_unary("frac")
def _frac(ctx, gy):
    return gy


def _zero_grad(ctx, gy):
    return (E.zeros_like(gy),)


for _name in ("sign", "floor", "ceil", "round", "trunc"):
    defines(_name)(_zero_grad)


# ----- elementwise binary (an input may be a Python number) -----
@defines("add")
def _add(ctx, gy):
    return sum_to(gy, ctx.shape(0)), sum_to(gy, ctx.shape(1))


@defines("sub")
def _sub(ctx, gy):
    s1 = ctx.shape(1)
    return sum_to(gy, ctx.shape(0)), (sum_to(-gy, s1) if s1 is not None else None)


@defines("mul", inputs=True)
def _mul(ctx, gy):
    a, b = ctx.inputs
    ga = sum_to(gy * _as(b, gy), a.shape) if isinstance(a, Tensor) else None
    gb = sum_to(gy * _as(a, gy), b.shape) if isinstance(b, Tensor) else None
    return ga, gb


@defines("div", inputs=True)
def _div(ctx, gy):
    a, b = ctx.inputs
    ga = sum_to(gy / b, a.shape) if isinstance(a, Tensor) else None
    gb = sum_to(-(gy * a) / (b * b), b.shape) if isinstance(b, Tensor) else None
    return ga, gb


@defines("pow", inputs=True, output=True)
def _pow(ctx, gy):
    a, b = ctx.inputs
    ga = gb = None
    if isinstance(a, Tensor):
        if isinstance(b, Tensor) or b != 0:
            ga = sum_to(gy * b * a ** (b - 1), a.shape)
        else:
            ga = E.zeros_like(a)
    if isinstance(b, Tensor):
        y = ctx.out
        base = a if isinstance(a, Tensor) else E.full((), float(a), dtype=b.dtype)
        safe = E.where(base > 0, E.log(E.where(base > 0, base, 1.0)), 0.0)
        gb = sum_to(gy * y * safe, b.shape)
    return ga, gb


def _minmax(ctx, gy, winner):
    a, b = ctx.inputs
    if not isinstance(b, Tensor):
        b = E.full((), b, dtype=a.dtype)
    tie = a == b
    half = gy * 0.5
    ga = E.where(tie, half, E.where(winner(a, b), gy, 0.0))
    gb = E.where(tie, half, E.where(winner(a, b), 0.0, gy))
    return sum_to(ga, a.shape), (sum_to(gb, b.shape) if isinstance(ctx.inputs[1], Tensor) else None)


defines("maximum", inputs=True)(lambda ctx, gy: _minmax(ctx, gy, lambda a, b: a > b))
defines("minimum", inputs=True)(lambda ctx, gy: _minmax(ctx, gy, lambda a, b: a < b))
defines("fmax", inputs=True)(lambda ctx, gy: _minmax(ctx, gy, lambda a, b: (a > b) | E.isnan(b)))
defines("fmin", inputs=True)(lambda ctx, gy: _minmax(ctx, gy, lambda a, b: (a < b) | E.isnan(b)))


@defines("atan2", inputs=True)
def _atan2(ctx, gy):
    a, b = ctx.inputs
    den = a * a + b * b
    ga = sum_to(gy * b / den, a.shape) if isinstance(a, Tensor) else None
    gb = sum_to(-(gy * a) / den, b.shape) if isinstance(b, Tensor) else None
    return ga, gb


@defines("hypot", inputs=True, output=True)
def _hypot(ctx, gy):
    a, b = ctx.inputs
    y = ctx.out
    ga = sum_to(gy * a / y, a.shape) if isinstance(a, Tensor) else None
    gb = sum_to(gy * b / y, b.shape) if isinstance(b, Tensor) else None
    return ga, gb


@defines("remainder", inputs=True)
def _remainder(ctx, gy):
    a, b = ctx.inputs
    gb = sum_to(-(gy * E.floor(a / b)), b.shape) if isinstance(b, Tensor) else None
    return sum_to(gy, a.shape) if isinstance(a, Tensor) else None, gb


@defines("fmod", inputs=True)
def _fmod(ctx, gy):
    a, b = ctx.inputs
    gb = sum_to(-(gy * E.trunc(a / b)), b.shape) if isinstance(b, Tensor) else None
    return sum_to(gy, a.shape) if isinstance(a, Tensor) else None, gb


@defines("copysign", inputs=True, output=True)
def _copysign(ctx, gy):
    a, b = ctx.inputs
    y = ctx.out
    ga = sum_to(E.where(a == 0, 0.0, gy * y / E.where(a == 0, 1.0, a)), a.shape)
    return ga, (E.zeros_like(b) if isinstance(b, Tensor) else None)


@defines("clamp", inputs=True)
def _clamp(ctx, gy):
    x, lo, hi = ctx.inputs
    keep = E.ones_like(x, dtype=E.bool)
    if lo is not None:
        keep = keep & (x >= lo)
    if hi is not None:
        keep = keep & (x <= hi)
    gx = E.where(keep, gy, 0.0)
    glo = sum_to(E.where(x < lo, gy, 0.0), lo.shape) if isinstance(lo, Tensor) else None
    ghi = sum_to(E.where(x > hi, gy, 0.0), hi.shape) if isinstance(hi, Tensor) else None
    return gx, glo, ghi


@defines("where", inputs=True)
def _where(ctx, gy):
    cond, a, b = ctx.inputs
    ga = sum_to(E.where(cond, gy, 0.0), a.shape) if isinstance(a, Tensor) else None
    gb = sum_to(E.where(cond, 0.0, gy), b.shape) if isinstance(b, Tensor) else None
    return None, ga, gb


@defines("masked_fill", inputs=True)
def _masked_fill(ctx, gy):
    _, mask = ctx.inputs[:2]
    return E.where(mask, 0.0, gy), None


# ----- reductions -----
@defines("sum")
def _sum(ctx, gy):
    dims, keepdim = ctx.params
    return (_unreduce(gy, ctx.shape(0), dims, keepdim),)


@defines("mean")
def _mean(ctx, gy):
    dims, keepdim = ctx.params
    shape = ctx.shape(0)
    n = math.prod(shape) if dims is None else math.prod(shape[d] for d in dims)
    return (_unreduce(gy, shape, dims, keepdim) / max(n, 1),)


@defines("prod", inputs=True, output=True)
def _prod(ctx, gy):
    (x,) = ctx.inputs
    dims, keepdim = ctx.params
    y = _unreduce(ctx.out, x.shape, dims, keepdim)
    g = _unreduce(gy, x.shape, dims, keepdim)
    if not bool((x == 0).any()):
        return (g * y / x,)
    # With zeros, y / x is undefined: the product of the others, from exclusive
    # running products from the left and from the right (numpy or CuPy arrays: the
    # np.* calls below dispatch to the array's device).
    a = x.detach()._a
    axes = tuple(range(a.ndim)) if dims is None else tuple(dims)
    k = len(axes)
    moved = np.moveaxis(a, axes, tuple(range(a.ndim - k, a.ndim)))
    flat = moved.reshape(moved.shape[: a.ndim - k] + (-1,))
    ones = np.ones_like(flat[..., :1])
    left = np.cumprod(np.concatenate([ones, flat[..., :-1]], -1), -1)
    right = np.flip(np.cumprod(np.flip(np.concatenate([flat[..., 1:], ones], -1), -1), -1), -1)
    others = np.moveaxis(
        (left * right).reshape(moved.shape), tuple(range(a.ndim - k, a.ndim)), axes
    )
    return (g * _wrap(others),)


def _amax_amin(ctx, gy):
    (x,) = ctx.inputs
    dims, keepdim = ctx.params
    y = _unreduce(ctx.out, x.shape, dims, keepdim)
    mask = (x == y).to(gy.dtype)
    count = mask.sum(dims, keepdim=True) if dims is not None else mask.sum()
    return (_unreduce(gy, x.shape, dims, keepdim) * mask / count,)


defines("amax", inputs=True, output=True)(_amax_amin)
defines("amin", inputs=True, output=True)(_amax_amin)


def _select_dim_backward(ctx, gy):
    d, keepdim, indices = ctx.params
    shape = ctx.shape(0)
    if gy.dim() == 0 and len(shape) == 0:
        return (gy,)
    idx = indices if keepdim else indices.unsqueeze(d)
    g = gy if keepdim else gy.unsqueeze(d)
    return (E.zeros(shape, dtype=gy.dtype, device=gy.device).scatter(d, idx, g),)


defines("max_dim")(_select_dim_backward)
defines("min_dim")(_select_dim_backward)


@defines("var", inputs=True)
def _var(ctx, gy):
    (x,) = ctx.inputs
    dims, c, keepdim = ctx.params
    n = x.numel() if dims is None else math.prod(x.shape[d] for d in dims)
    mu = x.mean(dims, keepdim=True) if dims is not None else x.mean()
    return (_unreduce(gy, x.shape, dims, keepdim) * (x - mu) * (2.0 / max(n - c, 1)),)


def _reverse_cumsum(g: Tensor, d: int) -> Tensor:
    return g.sum(d, keepdim=True) - g.cumsum(d) + g


@defines("cumsum")
def _cumsum(ctx, gy):
    return (_reverse_cumsum(gy, ctx.params),)


@defines("cumprod", inputs=True, output=True)
def _cumprod(ctx, gy):
    (x,) = ctx.inputs
    d = ctx.params
    if not bool((x == 0).any()):
        return (_reverse_cumsum(gy * ctx.out, d) / x,)
    # arrays of x's device (numpy or CuPy); the product of x[:k+1] without x[i] is
    # the product left of i times the product from i+1 to k
    a, g = x.detach()._a, gy.detach()._a
    out = np.zeros_like(a)
    am, gm = np.moveaxis(a, d, -1), np.moveaxis(g, d, -1)
    om = np.moveaxis(out, d, -1)
    n = am.shape[-1]
    for i in range(n):
        left = np.prod(am[..., :i], axis=-1)
        for k in range(i, n):
            om[..., i] += gm[..., k] * (left * np.prod(am[..., i + 1 : k + 1], axis=-1))
    return (_wrap(out),)


def _cum_extreme(ctx, gy):
    d, idx = ctx.params
    return (E.zeros(ctx.shape(0), dtype=gy.dtype, device=gy.device).scatter_add(d, idx, gy),)


defines("cummax")(_cum_extreme)
defines("cummin")(_cum_extreme)


@defines("logcumsumexp", inputs=True, output=True)
def _logcumsumexp(ctx, gy):
    (x,) = ctx.inputs
    d = ctx.params
    return (E.exp(x) * _reverse_cumsum(gy * E.exp(-ctx.out), d),)


# ----- views and copies -----
@defines("view")
def _view(ctx, gy):
    return (gy.reshape(ctx.shape(0)),)


defines("reshape")(_view)


@defines("transpose")
def _transpose(ctx, gy):
    d0, d1 = ctx.params
    return (gy.transpose(d0, d1),)


@defines("permute")
def _permute(ctx, gy):
    inv = [0] * len(ctx.params)
    for i, p in enumerate(ctx.params):
        inv[p] = i
    return (gy.permute(inv),)


@defines("expand")
def _expand(ctx, gy):
    return (sum_to(gy, ctx.shape(0)),)


@defines("clone")
def _clone(ctx, gy):
    return (gy,)


@defines("to_dtype")
def _to_dtype(ctx, gy):
    return (gy.to(E._dtype.from_numpy_dtype(ctx.dtype(0))),)


@defines("to_device")
def _to_device(ctx, gy):
    return (gy.to("cpu"),)


@defines("cat")
def _cat(ctx, gy):
    d = ctx.params
    sizes = [ctx.shape(i)[d] if len(ctx.shape(i)) > d else 0 for i in range(len(ctx.node.meta))]
    parts, start = [], 0
    for i, s in enumerate(sizes):
        shp = ctx.shape(i)
        if len(shp) == 1 and shp[0] == 0 and gy.dim() > 1:
            parts.append(E.zeros(shp, dtype=gy.dtype, device=gy.device))
            continue
        parts.append(gy.narrow(d, start, s))
        start += s
    return tuple(parts)


@defines("getitem")
def _getitem(ctx, gy):
    from ember.autograd import _backward_ops

    return (_backward_ops.index_backward(gy, ctx.shape(0), ctx.params),)


@defines("unfold")
def _unfold(ctx, gy):
    from ember.autograd import _backward_ops

    return (_backward_ops.unfold_backward(gy, ctx.shape(0), ctx.params),)


@defines("as_strided")
def _as_strided(ctx, gy):
    from ember.autograd import _backward_ops

    return (_backward_ops.as_strided_backward(gy, ctx.shape(0), ctx.params),)


@defines("fill")
def _fill(ctx, gy):
    return (E.zeros_like(gy),)


def copy_slices_backward(ctx, gy):
    """Gradient of a base tensor rebased after an in-place write through a view."""
    size, stride, offset, base_strides = ctx.params
    g = gy.contiguous().clone()
    region = E.as_strided(g, size, stride, offset) if _dense(base_strides, g) else None
    if region is None:
        raise RuntimeError(
            "in-place write through a view of a non-contiguous tensor cannot be differentiated"
        )
    g_view = region.clone()
    region.zero_()
    return g, g_view


def _dense(base_strides, g):
    return tuple(base_strides) == tuple(g.stride())
