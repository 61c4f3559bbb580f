"""Every differentiable op core registers has a derivative: gradcheck (and, for a
representative subset, gradgradcheck) in float64 over several shapes, driven by
the op registry so that a new op without a formula or a test fails here."""

import numpy as np
import pytest

import ember
from ember._registry import OPS
from ember.autograd import formulas, gradcheck, gradgradcheck

RNG = np.random.default_rng(1)


def r(*shape, low=None):
    a = np.asarray(RNG.standard_normal(shape))
    if low is not None:
        a = np.asarray(np.abs(a) + low)
    return ember.from_numpy(a).requires_grad_()


def nc(*shape):
    """A non-contiguous (transposed) input of the given shape."""
    return ember.from_numpy(RNG.standard_normal(shape[::-1]).T).requires_grad_()


def idx(*vals):
    return ember.tensor(list(vals))


UNARY_DOMAIN = {
    "log": 0.5,
    "log2": 0.5,
    "log10": 0.5,
    "log1p": 0.1,
    "sqrt": 0.5,
    "rsqrt": 0.5,
    "acosh": 1.5,
    "reciprocal": 0.5,
}
UNARY_SMALL = {"asin", "acos", "atanh"}  # domain (-1, 1)


def unary_cases(name):
    if name in UNARY_SMALL:
        return [
            (
                lambda x, n=name: getattr(ember, n)(x),
                (ember.from_numpy(RNG.uniform(-0.8, 0.8, (3, 2))).requires_grad_(),),
            )
        ]
    low = UNARY_DOMAIN.get(name)
    return [
        (lambda x, n=name: getattr(ember, n)(x), (r(3, 2, low=low),)),
        (lambda x, n=name: getattr(ember, n)(x), (r(low=low),)),  # 0-d
        (lambda x, n=name: getattr(ember, n)(x), (nc(2, 3) if low is None else r(2, 3, low=low),)),
    ]


def binary_cases(name):
    fn = getattr(ember, name)
    pos = name in ("pow", "remainder", "fmod", "div")
    a = r(3, 4, low=0.5 if pos else None)
    b = r(4, low=0.5 if pos else None)  # broadcasts
    cases = [(fn, (a, b)), (lambda x, n=name: getattr(ember, n)(x, 1.7), (a,))]
    if name not in ("remainder", "fmod"):
        cases.append((fn, (r(2, 1, low=0.5 if pos else None), r(1, 3, low=0.5 if pos else None))))
    return cases


CASES = {
    "clamp": [
        (lambda x: ember.clamp(x, -0.3, 0.4), (r(4, 3),)),
        (lambda x, lo: ember.clamp(x, min=lo), (r(3, 2), r(2))),
    ],
    "lerp": [(lambda a, b: ember.lerp(a, b, 0.3), (r(3), r(3)))],
    "addcmul": [(lambda a, b, c: ember.addcmul(a, b, c, value=0.5), (r(3), r(3), r(3)))],
    "addcdiv": [(lambda a, b, c: ember.addcdiv(a, b, c, value=0.5), (r(3), r(3), r(3, low=1)))],
    "rsub": [(lambda a: ember.rsub(a, 2.0), (r(3),))],
    "float_power": [(lambda a: ember.float_power(a, 2), (r(3),))],
    "true_divide": [(lambda a, b: ember.true_divide(a, b), (r(3), r(3, low=1)))],
    "sum": [
        (lambda x: x.sum(), (r(3, 4),)),
        (lambda x: x.sum(1, keepdim=True), (r(3, 4),)),
        (lambda x: x.sum((0, 2)), (r(2, 3, 2),)),
        (lambda x: x.sum(), (r(),)),
    ],
    "nansum": [(lambda x: ember.nansum(x, 0), (r(3, 2),))],
    "mean": [(lambda x: x.mean(), (r(3, 4),)), (lambda x: x.mean(0), (nc(3, 4),))],
    "prod": [
        (lambda x: x.prod(1), (r(3, 4),)),
        (
            lambda x: x.prod(),
            (ember.tensor([1.5, 0.0, 2.0, -1.0], dtype=ember.float64).requires_grad_(),),
        ),
    ],
    "amax": [(lambda x: ember.amax(x, 1), (r(3, 4),))],
    "amin": [(lambda x: ember.amin(x, (0, 1)), (r(3, 4),))],
    "max": [(lambda x: x.max(1)[0], (r(3, 4),)), (lambda x: x.max(), (r(5),))],
    "min": [(lambda x: x.min(0, keepdim=True)[0], (r(3, 4),))],
    "var": [(lambda x: x.var(1), (r(3, 4),)), (lambda x: x.var(correction=0), (r(5),))],
    "std": [(lambda x: x.std(0), (r(4, 3),))],
    "var_mean": [(lambda x: ember.var_mean(x, 1)[0], (r(3, 4),))],
    "std_mean": [(lambda x: ember.std_mean(x, 1)[0], (r(3, 4),))],
    "aminmax": [(lambda x: ember.aminmax(x, dim=1)[1], (r(3, 4),))],
    "norm": [
        (lambda x: x.norm(), (r(3, 4),)),
        (lambda x: x.norm(1, dim=1), (r(3, 4),)),
        (lambda x: x.norm(3, dim=0), (r(3, 4),)),
    ],
    "logsumexp": [(lambda x: ember.logsumexp(x, 1), (r(3, 4),))],
    "cumsum": [(lambda x: x.cumsum(1), (r(3, 4),))],
    "cumprod": [
        (lambda x: x.cumprod(0), (r(4, 2),)),
        (
            lambda x: x.cumprod(0),
            (ember.tensor([2.0, 0.0, 3.0], dtype=ember.float64).requires_grad_(),),
        ),
    ],
    "cummax": [(lambda x: ember.cummax(x, 1)[0], (r(3, 4),))],
    "cummin": [(lambda x: ember.cummin(x, 0)[0], (r(3, 4),))],
    "logcumsumexp": [(lambda x: ember.logcumsumexp(x, 1), (r(3, 4),))],
    "view": [(lambda x: x.view(6, 2), (r(3, 4),))],
    "reshape": [(lambda x: x.reshape(2, 6), (nc(3, 4),))],
    "transpose": [(lambda x: x.transpose(0, 2), (r(2, 3, 4),))],
    "swapaxes": [(lambda x: ember.swapaxes(x, 0, 1), (r(2, 3),))],
    "swapdims": [(lambda x: ember.swapdims(x, 0, 1), (r(2, 3),))],
    "permute": [(lambda x: x.permute(2, 0, 1), (r(2, 3, 4),))],
    "movedim": [(lambda x: ember.movedim(x, 0, 2), (r(2, 3, 4),))],
    "moveaxis": [(lambda x: ember.moveaxis(x, 0, 2), (r(2, 3, 4),))],
    "t": [(lambda x: x.t(), (r(3, 4),))],
    "expand": [(lambda x: x.expand(3, 2, 4), (r(2, 1),))],
    "expand_as": [(lambda x: x.expand_as(ember.zeros(2, 3)), (r(1, 3),))],
    "broadcast_to": [(lambda x: ember.broadcast_to(x, (2, 3)), (r(3),))],
    "squeeze": [(lambda x: x.squeeze(), (r(1, 3, 1),))],
    "unsqueeze": [(lambda x: x.unsqueeze(1), (r(3, 2),))],
    "narrow": [(lambda x: x.narrow(1, 1, 2), (r(3, 4),))],
    "select": [(lambda x: x.select(0, 1), (r(3, 4),))],
    "unfold": [(lambda x: x.unfold(1, 2, 1), (r(3, 4),))],
    "flatten": [(lambda x: x.flatten(1), (r(2, 3, 2),))],
    "unflatten": [(lambda x: x.unflatten(1, (2, 3)), (r(2, 6),))],
    "ravel": [(lambda x: x.ravel(), (nc(3, 2),))],
    "chunk": [(lambda x: x.chunk(2, 1)[1], (r(3, 4),))],
    "split": [(lambda x: x.split([1, 3], 1)[1], (r(3, 4),))],
    "tensor_split": [(lambda x: ember.tensor_split(x, 3, 1)[0], (r(3, 4),))],
    "unbind": [(lambda x: x.unbind(0)[2], (r(3, 4),))],
    "as_strided": [(lambda x: x.as_strided((2, 2), (1, 2), 1), (r(6),))],
    "view_as": [(lambda x: x.view_as(ember.zeros(4, 3)), (r(3, 4),))],
    "reshape_as": [(lambda x: x.reshape_as(ember.zeros(12)), (r(3, 4),))],
    "contiguous": [(lambda x: x.contiguous(), (nc(3, 4),))],
    "clone": [(lambda x: x.clone(), (r(3),))],
    "cat": [(lambda a, b: ember.cat([a, b], 1), (r(2, 3), r(2, 2)))],
    "stack": [(lambda a, b: ember.stack([a, b], 1), (r(2, 3), r(2, 3)))],
    "hstack": [(lambda a, b: ember.hstack([a, b]), (r(2), r(3)))],
    "vstack": [(lambda a, b: ember.vstack([a, b]), (r(3), r(2, 3)))],
    "dstack": [(lambda a, b: ember.dstack([a, b]), (r(2, 2), r(2, 2)))],
    "broadcast_tensors": [(lambda a, b: ember.broadcast_tensors(a, b)[0], (r(3, 1), r(4)))],
    "to": [(lambda x: x.to(ember.float32).to(ember.float64), (r(3),))],
    "getitem": [
        (lambda x: x[1:, ::2], (r(3, 4),)),
        (lambda x: x[idx(0, 2, 0)], (r(3, 2),)),
        (lambda x: x[x > 0], (r(5),)),
    ],
    "where": [(lambda a, b: ember.where(a > b, a, b), (r(3, 4), r(4)))],
    "masked_fill": [(lambda x: x.masked_fill(ember.tensor([True, False, True]), 2.0), (r(2, 3),))],
    "index_select": [(lambda x: x.index_select(1, idx(0, 2, 2)), (r(3, 4),))],
    "gather": [(lambda x: x.gather(1, ember.tensor([[0, 0], [1, 0], [2, 1]])), (r(3, 4),))],
    "scatter": [(lambda x, s: x.scatter(1, ember.tensor([[0], [2]]), s), (r(2, 3), r(2, 1)))],
    "scatter_add": [
        (lambda x, s: x.scatter_add(0, ember.tensor([[0, 1], [0, 0]]), s), (r(2, 2), r(2, 2)))
    ],
    "index_add": [(lambda x, s: x.index_add(0, idx(0, 2, 0), s), (r(3, 2), r(3, 2)))],
    "index_copy": [(lambda x, s: x.index_copy(0, idx(2, 0), s), (r(3, 2), r(2, 2)))],
    "index_fill": [(lambda x: x.index_fill(1, idx(1), -1.0), (r(2, 3),))],
    "index_put": [
        (lambda x, v: ember._ops.index.index_put(x, (idx(0, 2),), v), (r(3, 2), r(2, 2)))
    ],
    "masked_select": [(lambda x: x.masked_select(ember.tensor([True, False, True])), (r(2, 3),))],
    "take": [(lambda x: x.take(idx(0, 5, 5)), (r(2, 3),))],
    "mm": [(ember.mm, (r(3, 4), r(4, 2))), (ember.mm, (nc(3, 4), r(4, 2)))],
    "matmul": [
        (ember.matmul, (r(2, 3, 4), r(4, 2))),
        (ember.matmul, (r(4), r(4, 2))),
        (ember.matmul, (r(2, 3, 4), r(4))),
        (ember.matmul, (r(3), r(3))),
        (ember.matmul, (r(2, 1, 3, 4), r(3, 4, 2))),
    ],
    "bmm": [(ember.bmm, (r(2, 3, 4), r(2, 4, 2)))],
    "mv": [(ember.mv, (r(3, 4), r(4)))],
    "dot": [(ember.dot, (r(4), r(4)))],
    "inner": [(ember.inner, (r(3, 4), r(2, 4)))],
    "outer": [(ember.outer, (r(3), r(2)))],
    "ger": [(ember.ger, (r(3), r(2)))],
    "addmm": [
        (lambda a, b, c: ember.addmm(a, b, c, beta=0.5, alpha=2.0), (r(3, 2), r(3, 4), r(4, 2)))
    ],
    "addmv": [(lambda a, b, c: ember.addmv(a, b, c), (r(3), r(3, 4), r(4)))],
    "baddbmm": [(lambda a, b, c: ember.baddbmm(a, b, c), (r(2, 3, 2), r(2, 3, 4), r(2, 4, 2)))],
    "addbmm": [(lambda a, b, c: ember.addbmm(a, b, c), (r(3, 2), r(2, 3, 4), r(2, 4, 2)))],
    "fill_": [(lambda x: (x * 1).fill_(2.0) + x, (r(3),))],
    "copy_": [(lambda x, y: (x * 1).copy_(y) * x, (r(3), r(3)))],
}
# Ops whose gradient is zero almost everywhere but defined (as in PyTorch).
ZERO_GRAD = {"sign", "floor", "ceil", "round", "trunc"}
# Differentiable ops not covered here, each with the reason.
NOT_HERE = {"vdot": "complex inputs only", "nanmean": "not recorded (numpy nanmean)"}


def _cases(name):
    info = OPS[name]
    if name in CASES:
        return CASES[name]
    if info.kind == "unary":
        return unary_cases(name)
    if info.kind == "binary":
        return binary_cases(name)
    return None


# The op families whose cases live in this file; ops from other modules are
# gradchecked in their own test files (see test_every_differentiable_op_is_gradchecked).
HERE_MODULES = {
    "ember._ops.math",
    "ember._ops.reduce",
    "ember._ops.shape",
    "ember._ops.index",
    "ember._ops.linalg",
    "ember._ops.convert",
}


def _core_differentiable():
    return sorted(
        n
        for n, o in OPS.items()
        if o.differentiable and n not in NOT_HERE and o.fn.__module__ in HERE_MODULES
    )


@pytest.mark.parametrize("name", _core_differentiable())
def test_gradcheck(name):
    cases = _cases(name)
    assert cases is not None, f"no gradcheck cases for differentiable op '{name}'"
    for fn, inputs in cases:
        if name in ZERO_GRAD:
            x = inputs[0]
            fn(x).sum().backward()
            assert not x.grad.numpy().any()
            continue
        tol = dict(atol=1e-2, rtol=1e-2) if name == "to" else dict(atol=1e-6, rtol=1e-5)
        assert gradcheck(fn, inputs, **tol), name  # "to" passes through float32


GRADGRAD = [
    "exp",
    "tanh",
    "sigmoid",
    "mul",
    "div",
    "pow",
    "sum",
    "mean",
    "matmul",
    "mm",
    "getitem",
    "where",
    "gather",
    "cat",
    "expand",
    "permute",
    "log",
    "sqrt",
    "var",
    "maximum",
    "clamp",
    "index_select",
    "cumsum",
    "amax",
]


@pytest.mark.parametrize("name", GRADGRAD)
def test_gradgradcheck(name):
    fn, inputs = _cases(name)[0]
    assert gradgradcheck(fn, inputs, atol=1e-5, rtol=1e-4)


def test_every_recorded_op_name_has_a_formula_or_is_declared():
    """Ops record under their own names; each such name needs a formula."""
    recorded = {n for n, o in OPS.items() if o.differentiable and o.kind in ("unary", "binary")}
    missing = sorted(n for n in recorded if n not in formulas.SPECS)
    assert not missing, f"differentiable ops without a derivative formula: {missing}"


def test_every_differentiable_op_is_gradchecked():
    """A differentiable op from any module must be exercised by an autograd test file."""
    from pathlib import Path

    text = "\n".join(p.read_text() for p in Path(__file__).parent.glob("test_*.py"))
    missing = sorted(
        n
        for n, o in OPS.items()
        if o.differentiable
        and n not in NOT_HERE
        and n not in CASES
        and o.fn.__module__ not in HERE_MODULES
        and f'"{n}"' not in text
        and f".{n}(" not in text
    )
    assert not missing, f"differentiable ops no autograd test exercises: {missing}"


def test_non_differentiable_ops_say_so():
    x = r(3)
    for out in (x > 0, x.argmax(), ember.floor_divide(x, 2.0), x.isnan()):
        assert not out.requires_grad
