"""ember.jit.lazy: every fusible op computed lazily (fused, generated C) against eager
ember on random inputs: values and dtypes, over several dtypes, broadcasting, Python
scalars, non-contiguous inputs, 0-d and empty tensors. Each test builds all its ops in
one lazy block, so one compiled library covers a whole table of ops."""

import numpy as np
import pytest

import ember
from ember.jit import LazyTensor
from ember.jit._ir import BINARY, UNARY_FLOAT, UNARY_PRED, UNARY_SAME


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("EMBER_JIT_CACHE", str(tmp_path_factory.mktemp("jit")))
    yield
    mp.undo()


RNG = np.random.default_rng(0)
TOL = {np.float16: (1e-3, 1e-3), np.float32: (1e-6, 1e-6), np.float64: (1e-12, 1e-12)}


def _rand(shape, dt):
    dt = np.dtype(dt)
    if dt.kind == "f":
        return (RNG.standard_normal(shape) * 2).astype(dt)
    if dt.kind == "b":
        return RNG.random(shape) > 0.5
    lo = 0 if dt.kind == "u" else -20
    return RNG.integers(lo, 20, shape).astype(dt)


def _variants(dt):
    """Contiguous, transposed, stepped, 0-d and empty inputs of dtype ``dt``."""
    base = ember.from_numpy(_rand((4, 6), dt))
    return {
        "contig": ember.from_numpy(_rand((3, 5), dt)),
        "transposed": base.t(),
        "stepped": base[:, ::2],
        "zero_d": ember.from_numpy(np.asarray(_rand((), dt))),
        "empty": ember.from_numpy(_rand((0, 3), dt)),
    }


def _same(lazy, eager, where=""):
    assert isinstance(lazy, ember.Tensor), where
    assert lazy.dtype == eager.dtype, f"{where}: {lazy.dtype} vs eager {eager.dtype}"
    assert tuple(lazy.shape) == tuple(eager.shape), where
    a, b = lazy.numpy(), eager.numpy()
    if a.dtype.kind == "f":
        rtol, atol = TOL[a.dtype.type]
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(a, b, err_msg=where)


def _eager_or_none(fn):
    try:
        with np.errstate(all="ignore"):
            return fn()
    except (RuntimeError, TypeError, ValueError):
        return None


UNARY = sorted({*UNARY_FLOAT, *UNARY_SAME, *UNARY_PRED})


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_])
def test_unary_ops_match_eager(dt):
    xs = _variants(dt)
    cases = {}
    for name in UNARY:
        for vname, x in xs.items():
            fn = lambda x, name=name: getattr(ember, name)(x)  # noqa: E731 - looked up late
            e = _eager_or_none(lambda fn=fn, x=x: fn(x))
            if e is not None:
                cases[(name, vname)] = (fn, x, e)
    assert cases
    with np.errstate(all="ignore"), ember.jit.lazy():
        lazy = {k: fn(x) for k, (fn, x, _) in cases.items()}
        if np.dtype(dt).kind == "f":  # the float ops stay lazy until read
            assert type(lazy[("exp", "contig")]) is LazyTensor
            assert lazy[("exp", "contig")]._node is not None
    for k, (_, _, e) in cases.items():
        _same(lazy[k], e, f"{k[0]} on {k[1]} {np.dtype(dt)}")


# (left, right) operands: dtypes or Python scalars; shapes broadcast
BINARY_OPERANDS = [
    ((np.float32, (3, 1, 4)), (np.float32, (5, 4))),
    ((np.float64, (2, 3)), (np.float32, (3,))),
    ((np.int32, (2, 3)), (np.float32, (2, 3))),
    ((np.int64, (4,)), (np.int64, (3, 4))),
    ((np.uint8, (6,)), (np.int8, (6,))),
    ((np.bool_, (2, 2)), (np.bool_, (2, 2))),
    ((np.float32, (3,)), (np.float64, ())),  # a 0-d tensor does not upcast a 1-d one
    ((np.float32, (3, 4)), 1.75),
    ((np.float64, (3, 4)), -2),
    ((np.int64, (3, 4)), 3),
    ((np.int32, (3, 4)), 2.5),
    ((np.bool_, (3,)), 2),
    ((np.float32, (0, 4)), (np.float32, (4,))),
]


def _operand(spec):
    if not isinstance(spec, tuple):
        return spec
    dt, shape = spec
    a = _rand(shape, dt)
    if np.dtype(dt).kind in "iu":
        a[a == 0] = 1  # keep integer division and remainders defined
    return ember.from_numpy(np.asarray(a))


@pytest.mark.parametrize("pair", BINARY_OPERANDS, ids=str)
def test_binary_ops_match_eager(pair):
    x, y = _operand(pair[0]), _operand(pair[1])
    if isinstance(pair[1], tuple) and len(pair[1][1]) == 2:
        y = y.t().contiguous().t()  # a non-contiguous right operand
    cases = {}
    for name in BINARY:
        for order in ("xy", "yx"):
            a, b = (x, y) if order == "xy" else (y, x)
            if not isinstance(a, ember.Tensor):
                fn = _reflected(name)
                a, b = b, a
            else:
                fn = lambda a, b, name=name: getattr(ember, name)(a, b)  # noqa: E731
            if BINARY[name][2] and _int_vs_float_scalar(a, b):
                continue  # eager's result dtype is wrong there: test_compare_int_with_float
            e = _eager_or_none(lambda fn=fn, a=a, b=b: fn(a, b))
            if e is not None:
                cases[(name, order)] = (fn, a, b, e)
    assert cases
    with np.errstate(all="ignore"), ember.jit.lazy():
        lazy = {k: fn(a, b) for k, (fn, a, b, _) in cases.items()}
    for k, (_, _, _, e) in cases.items():
        _same(lazy[k], e, f"{k} {pair}")


def _int_vs_float_scalar(a, b):
    return isinstance(b, float) and a.dtype in (ember.int32, ember.int64, ember.bool)


def _reflected(name):
    ops = {
        "add": "__radd__",
        "sub": "__rsub__",
        "mul": "__rmul__",
        "div": "__rtruediv__",
        "pow": "__rpow__",
        "remainder": "__rmod__",
        "floor_divide": "__rfloordiv__",
    }
    if name in ops:
        return lambda t, s: getattr(ember.Tensor, ops[name])(t, s)
    return lambda t, s: getattr(ember, name)(ember.tensor(s, dtype=t.dtype), t)


def test_python_operators_build_lazy_nodes():
    x = ember.from_numpy(_rand((4, 5), np.float32))
    y = ember.from_numpy(_rand((5,), np.float32))

    def expressions():
        return [
            x + y,
            x - 1,
            2 - x,
            x * y,
            3 / (x.abs() + 1),
            x**2,
            2**y,
            -x,
            abs(x),
            x > y,
            x <= 0.5,
            x == x,
            (x > 0) & (y > 0),
            (x > 0) | (y < 0),
            (x > 0) ^ (y < 0),
        ]

    eager = expressions()
    with ember.jit.lazy():
        lazy = expressions()
        assert all(type(t) is LazyTensor and t._node is not None for t in lazy)
    for i, (a, b) in enumerate(zip(lazy, eager, strict=True)):
        _same(a, b, f"expression {i}")


def test_compare_int_with_float_gives_bool():
    x = ember.tensor([1, 2, 3])
    with ember.jit.lazy():
        r = x > 2.5
    assert r.dtype == ember.bool
    np.testing.assert_array_equal(r.numpy(), np.array([1, 2, 3]) > 2.5)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int64])
def test_where_clamp_and_casts_match_eager(dt):
    x = ember.from_numpy(_rand((4, 5), dt))
    y = ember.from_numpy(_rand((5,), dt))
    c = ember.from_numpy(_rand((4, 1), np.bool_))
    lo, hi = ember.from_numpy(_rand((5,), dt)), ember.from_numpy(_rand((4, 1), dt) + 5)
    fns = {
        "where": lambda: ember.where(c, x, y),
        "where_scalar": lambda: ember.where(x > 0, x, 0),
        "where_scalars": lambda: ember.where(c, 1.5, -2),
        "where_u8": lambda: ember.where(c.to(ember.uint8), y, x),
        "clamp": lambda: ember.clamp(x, -1, 1),
        "clamp_min": lambda: x.clamp(min=0),
        "clamp_max": lambda: ember.clamp(x, max=0.5),
        "clamp_tensors": lambda: ember.clamp(x, lo, hi),
        "clip_t": lambda: x.t().clip(-3, 3),
    }
    for target in (
        ember.float32,
        ember.float64,
        ember.int32,
        ember.int64,
        ember.int8,
        ember.uint8,
        ember.bool,
    ):
        fns[f"to_{target}"] = lambda target=target: x.clamp(-100, 100).to(target)
    fns["float"] = lambda: x.float()
    fns["double"] = lambda: x.double()
    fns["long"] = lambda: x.long()
    eager = {k: f() for k, f in fns.items()}
    with ember.jit.lazy():
        lazy = {k: f() for k, f in fns.items()}
    for k in fns:
        _same(lazy[k], eager[k], f"{k} {np.dtype(dt)}")


REDUCTION_DIMS = [None, 0, 1, -1, (0, 2), (1, 2), (0, 1, 2)]


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int32, np.bool_])
def test_reductions_match_eager(dt):
    x = ember.from_numpy(_rand((3, 4, 5), dt))
    xt = ember.from_numpy(_rand((5, 4, 3), dt)).permute(2, 1, 0)  # non-contiguous
    names = ["sum", "amax", "amin"] + (["mean"] if np.dtype(dt).kind == "f" else [])
    fns = {}
    for name in names:
        for d in REDUCTION_DIMS:
            for keep in (False, True):
                for src_name, src in (("x", x), ("xt", xt)):
                    if d is None and name in ("amax", "amin"):
                        fns[(name, d, keep, src_name)] = lambda n=name, s=src, k=keep: getattr(
                            ember, n
                        )(s, (), k)
                    else:
                        fns[(name, d, keep, src_name)] = lambda n=name, s=src, d=d, k=keep: getattr(
                            ember, n
                        )(s, d, k)
    z0, em = ember.from_numpy(np.asarray(_rand((), dt))), ember.from_numpy(_rand((0, 3), dt))
    fns["sum_0d"] = lambda: z0.sum()
    fns["sum_empty"] = lambda: em.sum(0)
    eager = {k: f() for k, f in fns.items()}
    with ember.jit.lazy():
        lazy = {k: f() for k, f in fns.items()}
    for k in fns:
        _same(lazy[k], eager[k], f"{k} {np.dtype(dt)}")


def test_reduction_of_a_fused_broadcast_chain_and_nan():
    x = ember.from_numpy(_rand((64, 300), np.float32))
    b = ember.from_numpy(_rand((300,), np.float32))
    xn = ember.from_numpy(_rand((8, 50), np.float64))
    xn[2, 7] = float("nan")
    xn[5, :] = float("nan")

    def f(x, b, xn):
        y = ((x - b) * 0.5).exp().sum(1)
        m = ((x * b).tanh() + 1).mean()
        z = (x.abs() + b).amax(0, keepdim=True)
        return y, m, z, xn.amax(1), xn.amin(), (xn * 2).amin(0), xn.sum(1)

    eager = f(x, b, xn)
    with ember.jit.lazy():
        lazy = f(x, b, xn)
    for i, (a, e) in enumerate(zip(lazy, eager, strict=True)):
        _same(a, e, f"result {i}")
    assert np.isnan(lazy[3].numpy()[[2, 5]]).all() and not np.isnan(lazy[3].numpy()[0])


def test_large_parallel_kernels_match_numpy():
    n = 1 << 18  # above the OpenMP threshold
    a = RNG.standard_normal(n).astype(np.float32)
    x = ember.from_numpy(a)
    with ember.jit.lazy():
        y = (x * 0.5).sigmoid() * x
        s = y.sum()
        mx = (x * 3).amax()
    ref = (a * 0.5).astype(np.float64)
    ref = (1 / (1 + np.exp(-ref))).astype(np.float32) * a
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s.item(), ref.astype(np.float64).sum(), rtol=1e-5)
    assert mx.item() == (a * 3).max()


def test_float32_transcendentals_are_within_a_few_ulp_over_their_range():
    # The float32 exp/tanh/sigmoid run in float arithmetic (16 SIMD lanes): check them
    # against float64 numpy, rounded to float32, on a dense sweep incl. overflow, underflow,
    # the series/exp switch of tanh, signed zeros, inf and NaN.
    xd = np.concatenate(
        [
            np.linspace(-110, 95, 400_001),
            np.linspace(-1, 1, 200_001),
            [0.0, -0.0, 1e-30, -1e-30, np.inf, -np.inf, np.nan],
        ]
    )
    x = ember.from_numpy(xd.astype(np.float32))
    xd = x.numpy().astype(np.float64)
    with np.errstate(all="ignore"):
        refs = {"exp": np.exp(xd), "tanh": np.tanh(xd), "sigmoid": 1 / (1 + np.exp(-xd))}
        with ember.jit.lazy():
            got = {"exp": x.exp(), "tanh": x.tanh(), "sigmoid": x.sigmoid()}
    for name, ulps in (("exp", 1), ("tanh", 2), ("sigmoid", 2)):
        with np.errstate(over="ignore"):
            ref = refs[name].astype(np.float32)
        a = got[name].numpy()
        np.testing.assert_array_equal(np.isnan(a), np.isnan(ref), err_msg=name)
        ok = np.isfinite(ref)
        np.testing.assert_array_equal(a[~ok & ~np.isnan(ref)], ref[~ok & ~np.isnan(ref)])
        tiny = np.abs(ref) < np.finfo(np.float32).tiny  # subnormal results: absolute error
        err = np.abs(a[ok].astype(np.float64) - ref[ok])
        scale = np.where(
            tiny[ok], np.finfo(np.float32).smallest_subnormal, np.spacing(np.abs(ref[ok]))
        )
        assert (err <= ulps * scale).all(), (name, float((err / scale).max()))


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int64])
def test_column_reductions_over_leading_dims(dt):
    # reductions whose kept dim is the contiguous one (bias gradients, x.sum(0)) take the
    # column kernel; a stored elementwise result rides along
    a = _rand((300, 2, 40), dt)
    if np.dtype(dt).kind == "f":
        a[7, 1, 3] = np.nan
    x = ember.from_numpy(a)
    with np.errstate(all="ignore"), ember.jit.lazy():
        y = x * 3
        got = [y.sum(0), y.amax((0, 1)), x.amin(0, keepdim=True), y]
        if np.dtype(dt).kind == "f":
            got.append(x.mean((0, 1)))
    y_ref = a * dt(3)  # rounded as the kernel rounds it, then summed exactly
    ref = y_ref.astype(np.float64) if np.dtype(dt).kind == "f" else y_ref
    want = [ref.sum(0), ref.max((0, 1)), a.min(0, keepdims=True), y_ref]
    if np.dtype(dt).kind == "f":
        want.append(a.astype(np.float64).mean((0, 1)))
    for g, w in zip(got, want, strict=True):
        rtol = 1e-6 if dt == np.float32 else 1e-12
        np.testing.assert_allclose(g.numpy(), w.astype(g.numpy().dtype), rtol=rtol, atol=rtol)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_softmax_and_log_softmax_fuse_and_match_eager(dt):
    a = _rand((5, 9, 6), dt)
    a[1, :, 2] = -np.inf  # a row of -inf along dim 1: NaN, as eager gives
    a[3, 4, 0] = np.nan
    x = ember.from_numpy(a)
    cases = [(fn, d) for fn in ("softmax", "log_softmax") for d in (0, 1, -1)]
    with np.errstate(all="ignore"):
        eager = [getattr(ember, fn)(x, d) for fn, d in cases]
        ember.jit.reset_stats()
        with ember.jit.lazy():
            lazy = [getattr(ember, fn)(x, d) for fn, d in cases]
            assert all(t._node is not None for t in lazy)
            lazy.append(x.softmax(1))
    for (fn, d), a_, e in zip(cases, lazy[:-1], eager, strict=True):
        _same(a_, e, f"{fn} dim={d}")
    _same(lazy[-1], eager[1], "Tensor.softmax")
    # per result: the max, the sum of exponentials, the result (12 reductions, 7 shapes)
    assert ember.jit.stats()["kernels_run"] <= 3 * len(lazy)
