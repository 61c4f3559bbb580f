"""ember.jit on a GPU: lazy graphs of CUDA tensors compiled by NVRTC and launched,
against eager ember on the same device (and numpy on the host copies for reductions):
every fusible op over several dtypes and layouts, reductions (trailing, leading, full,
large), broadcasting, a non-default stream, autograd through a GELU, the plan and
module caches, and inputs on different devices.

Needs a GPU (``@pytest.mark.cuda``; skipped with the reason otherwise).
``EMBER_CUDA_DRYRUN=1`` runs this file without one, on stand-in storage with the CPU
kernels standing in for the CUDA ones (``ember.jit._gpu_standin``): that checks the
tests themselves and the dispatch, and proves nothing about CUDA.
"""

import os

import numpy as np
import pytest

import ember
from ember.jit import LazyTensor
from ember.jit._ir import BINARY, UNARY_FLOAT, UNARY_PRED, UNARY_SAME

DRYRUN = os.environ.get("EMBER_CUDA_DRYRUN") == "1"
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not (ember.cuda.is_available() or DRYRUN), reason="no CUDA device (needs a GPU)"
    ),
]
RNG = np.random.default_rng(0)
# lazy f32 math runs in double and rounds once; eager's CUDA kernels may differ by an ulp
TOL = {np.float32: (1e-5, 1e-6), np.float64: (1e-12, 1e-12)}
UNARY = sorted({*UNARY_FLOAT, *UNARY_SAME, *UNARY_PRED})


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_JIT_CACHE", str(tmp_path / "jit"))
    monkeypatch.delenv("EMBER_JIT_CUDA", raising=False)
    if DRYRUN and not ember.cuda.is_available():
        from ember.jit import _gpu_standin

        _gpu_standin.activate(monkeypatch)


def _rand(shape, dt):
    dt = np.dtype(dt)
    if dt.kind == "f":
        return (RNG.standard_normal(shape) * 2).astype(dt)
    if dt.kind == "b":
        return RNG.random(shape) > 0.5
    return RNG.integers(0 if dt.kind == "u" else -20, 20, shape).astype(dt)


def _variants(dt):
    base = ember.from_numpy(_rand((40, 66), dt)).cuda()
    return {
        "contig": ember.from_numpy(_rand((33, 65), dt)).cuda(),
        "transposed": base.t(),
        "stepped": base[:, ::2],
        "zero_d": ember.from_numpy(np.asarray(_rand((), dt))).cuda(),
        "empty": ember.from_numpy(_rand((0, 3), dt)).cuda(),
    }


def _host(t):
    return t.cpu().numpy()


def _same(lazy, eager, where=""):
    assert lazy.is_cuda, where
    assert lazy.dtype == eager.dtype, f"{where}: {lazy.dtype} vs eager {eager.dtype}"
    assert tuple(lazy.shape) == tuple(eager.shape), where
    a, b = _host(lazy), _host(eager)
    if a.dtype.kind == "f":
        rtol, atol = TOL[a.dtype.type]
        np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, equal_nan=True, err_msg=where)
    else:
        np.testing.assert_array_equal(a, b, err_msg=where)


def _eager_or_none(fn):
    try:
        with np.errstate(all="ignore"):
            return fn()
    except (RuntimeError, TypeError, ValueError, NotImplementedError):
        return None


def _run_cases(cases):
    """Build every case lazily in one block (one module), then compare with eager."""
    assert cases
    before = ember.jit.stats()["kernels_run"]
    with np.errstate(all="ignore"), ember.jit.lazy():
        got = {k: fn(*args) for k, (fn, args, _) in cases.items()}
        pending = [k for k, v in got.items() if type(v) is LazyTensor and v._node is not None]
        for k in pending:
            assert got[k].is_cuda, k
        for k, (_, _, e) in cases.items():
            _same(got[k], e, str(k))
    return pending, ember.jit.stats()["kernels_run"] - before


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_])
def test_unary_ops_match_eager_on_cuda(dt):
    cases = {}
    for name in UNARY:
        fn = lambda x, name=name: getattr(ember, name)(x)  # noqa: E731 - looked up late
        for vname, x in _variants(dt).items():
            e = _eager_or_none(lambda fn=fn, x=x: fn(x))
            if e is not None:
                cases[(name, vname)] = (fn, (x,), e)
    pending, kernels = _run_cases(cases)
    assert pending and kernels >= 1  # the lazy path ran generated kernels


@pytest.mark.parametrize(
    "dts",
    [(np.float32, np.float32), (np.float32, np.float64), (np.int32, np.uint8), (np.bool_,) * 2],
)
def test_binary_ops_with_broadcasting_and_scalars_match_eager_on_cuda(dts):
    x = ember.from_numpy(_rand((7, 1, 5), dts[0])).cuda()
    y = ember.from_numpy(_rand((6, 5), dts[1])).cuda()
    ys = ember.from_numpy(_rand((5, 12), dts[1])).cuda().t()[::2, :]  # strided (6, 5)
    cases = {}
    for name in BINARY:
        fn = lambda a, b, name=name: getattr(ember, name)(a, b)  # noqa: E731 - looked up late
        for label, a, b in (("bcast", x, y), ("strided", x, ys), ("scalar", x, 3)):
            e = _eager_or_none(lambda fn=fn, a=a, b=b: fn(a, b))
            if e is not None:
                cases[(name, label)] = (fn, (a, b), e)
    ops = {"radd": lambda b: 2 + b, "rsub": lambda b: 2 - b, "rmul": lambda b: 3 * b}
    for name, op in ops.items():
        e = _eager_or_none(lambda op=op: op(y))
        if e is not None:
            cases[(name, "reflected")] = (op, (y,), e)
    _run_cases(cases)


def test_where_clamp_and_casts_match_eager_on_cuda():
    c = ember.from_numpy(_rand((4, 1), np.bool_)).cuda()
    a = ember.from_numpy(_rand((4, 6), np.float32)).cuda()
    b = ember.from_numpy(_rand((6,), np.float64)).cuda()
    i = ember.from_numpy(_rand((4, 6), np.int32)).cuda()
    cases = {
        "where": (lambda *v: ember.where(*v), (c, a, b), ember.where(c, a, b)),
        "where_scalar": (lambda *v: ember.where(*v), (c, a, 0.5), ember.where(c, a, 0.5)),
        "clamp": (lambda x: x.clamp(-1, 1), (a,), a.clamp(-1, 1)),
        "clamp_t": (lambda x, lo: x.clamp(lo, None), (a, b), a.clamp(b, None)),
        "to_i8": (lambda x: x.to(ember.int8), (a * 10,), (a * 10).to(ember.int8)),
        "to_f64": (lambda x: x.to(ember.float64), (i,), i.to(ember.float64)),
    }
    _run_cases(cases)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int32, np.int64, np.uint8, np.bool_])
def test_reductions_match_numpy_on_cuda(dt):
    h = _rand((5, 37, 300), dt)
    x = ember.from_numpy(h).cuda()
    ref_dt = np.float64 if np.dtype(dt).kind == "f" else np.int64
    npops = {"sum": np.sum, "mean": np.mean, "amax": np.max, "amin": np.min}
    cases = []
    with ember.jit.lazy():  # all built first: one force, one module
        for op in ("sum", "mean", "amax", "amin"):
            if op == "mean" and np.dtype(dt).kind != "f":
                continue
            for dim, keep in ((None, False), (2, False), (0, True), (1, False), ((0, 2), True)):
                y = getattr(x, op)(dim, keepdim=keep) if dim is not None else getattr(x, op)()
                assert type(y) is LazyTensor and y.is_cuda
                src = h.astype(ref_dt) if op in ("sum", "mean") else h
                cases.append((y, npops[op](src, axis=dim, keepdims=keep), f"{op} {dim} {keep}"))
    for y, ref, where in cases:
        got = _host(y)
        if got.dtype.kind == "f":  # float32 sums accumulate in double, as on the CPU
            np.testing.assert_allclose(
                got, ref.astype(got.dtype), rtol=1e-6, atol=1e-5, err_msg=where
            )
        else:
            np.testing.assert_array_equal(got, ref.astype(got.dtype), err_msg=where)


def test_large_full_reduction_and_nan_propagation_on_cuda():
    h = RNG.standard_normal(1 << 22).astype(np.float32)
    x = ember.from_numpy(h).cuda()
    with ember.jit.lazy():
        s = (x * x).sum()
        m = x.amax()
    np.testing.assert_allclose(_host(s), np.sum(h.astype(np.float64) ** 2), rtol=1e-6)
    assert _host(m) == h.max()
    h[12345] = np.nan
    x = ember.from_numpy(h).cuda()
    with ember.jit.lazy():
        m = x.amax()
        r = (x + 1).amin(0)
    assert np.isnan(_host(m)) and np.isnan(_host(r))


def test_softmax_and_fused_chain_match_eager_on_cuda():
    a = ember.from_numpy(_rand((64, 1000), np.float32)).cuda()
    ea, el = ember.softmax(a, 1), ember.log_softmax(a, 0)
    ec = ((a - a.mean(1, keepdim=True)) * 0.5).tanh().sum(1)
    with ember.jit.lazy():
        la, ll = ember.softmax(a, 1), ember.log_softmax(a, 0)
        lc = ((a - a.mean(1, keepdim=True)) * 0.5).tanh().sum(1)
        assert type(lc) is LazyTensor and lc.is_cuda
    for g, e in ((la, ea), (ll, el)):
        np.testing.assert_allclose(_host(g), _host(e), rtol=1e-5, atol=1e-6)
    # a sum of 1000 terms of magnitude <= 1: eager may accumulate in float32
    np.testing.assert_allclose(_host(lc), _host(ec), rtol=1e-5, atol=1e-4)


@pytest.mark.skipif(DRYRUN, reason="streams need CuPy and a GPU")
def test_runs_on_the_current_stream():
    a = ember.from_numpy(_rand((512, 512), np.float32)).cuda()
    s = ember.cuda.Stream()
    with ember.cuda.stream(s):
        with ember.jit.lazy():
            y = (a * 2 + 1).exp().sum(1)
            y.cuda()  # forces, launching on s
        s.synchronize()
    np.testing.assert_allclose(
        _host(y), np.exp(_host(a).astype(np.float64) * 2 + 1).sum(1), rtol=1e-5
    )


def test_autograd_gelu_on_cuda_matches_eager():
    h = _rand((33, 70), np.float32)

    def gelu(x):
        return 0.5 * x * (1 + ((x + 0.044715 * x * x * x) * 0.7978845608028654).tanh())

    xe = ember.from_numpy(h).cuda().requires_grad_()
    gelu(xe).sum().backward()
    xl = ember.from_numpy(h).cuda().requires_grad_()
    before = ember.jit.stats()["forces"]
    with ember.jit.lazy():
        y = gelu(xl)
        assert type(y) is LazyTensor and y.is_cuda
        y.sum().backward()
    assert ember.jit.stats()["forces"] > before
    assert xl.grad.is_cuda
    # terms of magnitude ~1 cancel near GELU's minimum: absolute tolerance
    np.testing.assert_allclose(_host(xl.grad), _host(xe.grad), rtol=1e-5, atol=1e-5)


def test_plan_and_module_caches_hit_on_cuda():
    a = ember.from_numpy(_rand((100, 30), np.float32)).cuda()
    st = ember.jit.stats()
    for _ in range(3):
        with ember.jit.lazy():
            y = (a.sigmoid() * a).amax(1)
            y.cuda()
    after = ember.jit.stats()
    assert after["misses"] - st["misses"] == 1 and after["hits"] - st["hits"] == 2
    assert after["cuda_modules"] - st["cuda_modules"] <= 1
    h = _host(a).astype(np.float64)
    np.testing.assert_allclose(_host(y), (h / (1 + np.exp(-h))).max(1), rtol=1e-5)


def _raised(fn):
    try:
        fn()
    except Exception as e:  # the test compares whatever eager raises
        return type(e), str(e)
    return None


def test_cpu_and_cuda_inputs_raise_what_eager_raises():
    a, b = ember.randn(4, 3).cuda(), ember.randn(4, 3)
    eager = _raised(lambda: a + b)
    assert eager is not None
    with ember.jit.lazy():
        assert _raised(lambda: a + b) == eager
        assert _raised(lambda: (a * 1) + (b * 1)) == eager
