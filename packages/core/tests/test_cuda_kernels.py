"""ember's own CUDA kernels against the CPU kernels and numpy (needs a GPU).

- nn kernels (``ember._nn_kernels`` on CuPy arrays) against the same call on numpy arrays;
- the fused Adam/SGD updates: bit for bit against the CPU kernel (both follow PyTorch's
  operation order and ember compiles CUDA with --fmad=false);
- Philox: raw blocks and every distribution bit for bit against the CPU generator;
- the strided elementwise and reduction kernels against numpy, every dtype they declare;
- the NVRTC path against the prebuilt fatbin.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np
import pytest

import ember
from ember import _nn_kernels as K
from ember import _optim_kernels as OK

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not ember.cuda.is_available(), reason="no CUDA device (needs a GPU)"),
]
RNG = np.random.default_rng(3)
FLOATS = [np.float32, np.float64]


def cp():
    import cupy

    return cupy


def dev(a):
    return None if a is None else cp().asarray(a)


def host(x):
    if isinstance(x, tuple):
        return tuple(host(v) for v in x)
    if x is None or isinstance(x, (int, float)):
        return x
    return x.get() if hasattr(x, "get") else np.asarray(x)


def same(got, want, dt, what=""):
    if isinstance(want, tuple):
        for g, w in zip(got, want):
            same(g, w, dt, what)
        return
    if want is None:
        assert got is None, what
        return
    if isinstance(want, float):
        assert got == pytest.approx(want, rel=1e-6), what
        return
    want = np.asarray(want)
    got = host(got)
    assert got.shape == want.shape, f"{what}: {got.shape} vs {want.shape}"
    if want.dtype.kind == "f":
        rtol = 2e-5 if dt == np.float32 else 1e-11
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=what)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


def r(*shape, dt=np.float64):
    return RNG.standard_normal(shape).astype(dt)


# ----- nn kernels: the CUDA version of each _nn_kernels function against the CPU one ------
def _nn_calls(dt):
    x4 = r(2, 3, 9, 8, dt=dt)
    logits, t = r(6, 5, dt=dt), RNG.integers(0, 5, 6)
    t[1] = -100
    w5 = np.abs(r(5, dt=dt)) + 0.5
    yield "softmax", (r(4, 7, dt=dt),), {}
    yield "log_softmax", (r(3, 1000, dt=dt),), {}
    y = K.softmax(r(4, 7, dt=dt))
    yield "softmax_backward", (r(4, 7, dt=dt), y), {}
    yield "log_softmax_backward", (r(4, 7, dt=dt), np.log(y)), {}
    for red in ("mean", "sum", "none"):
        kw = dict(weight=w5, reduction=red, label_smoothing=0.1)
        yield "cross_entropy_forward", (logits, t), kw
        out, lse, tw = K.cross_entropy_forward(logits, t, **kw)
        gy = np.ones_like(out) if red == "none" else np.asarray(1.5, dt)
        yield "cross_entropy_backward", (gy, logits, t, lse), dict(kw, total_weight=tw)
        yield "nll_loss_forward", (logits, t), dict(weight=w5, reduction=red)
        yield "nll_loss_backward", (gy, t, logits.shape), dict(weight=w5, reduction=red)
    yield "cross_entropy_forward", (r(2, 4, 3, 3, dt=dt), RNG.integers(0, 4, (2, 3, 3))), {}
    for k, s, p, d in [(3, 1, 1, 1), (2, 2, 0, 1), (3, 2, 1, 2)]:
        yield "im2col", (x4, k, s, p, d), {}
        cols = K.im2col(x4, k, s, p, d)
        yield "col2im", (r(*cols.shape, dt=dt), x4.shape, k, s, p, d), {}
    yield "im2col", (r(2, 3, 11, dt=dt), 3, 2, 1, 1), {}  # 1-D
    for k, s, p, d, ceil in [(2, 2, 0, 1, False), (3, 2, 1, 1, True), (3, 1, 1, 2, False)]:
        yield "maxpool2d_forward", (x4, k, s, p, d, ceil), {}
        yv, idx = K.maxpool2d_forward(x4, k, s, p, d, ceil)
        yield "maxpool2d_backward", (r(*yv.shape, dt=dt), idx, x4.shape), {}
    for k, s, p, ceil, cip, div in [
        (2, 2, 0, False, True, None),
        (3, 2, 1, True, False, None),
        (3, 1, 1, False, True, 4),
    ]:
        yield "avgpool2d_forward", (x4, k, s, p, ceil, cip, div), {}
        yv = K.avgpool2d_forward(x4, k, s, p, ceil, cip, div)
        yield "avgpool2d_backward", (r(*yv.shape, dt=dt), x4.shape, k, s, p, ceil, cip, div), {}
    for out in (1, (3, 2), (4, 4)):
        yield "adaptive_avgpool2d_forward", (x4, out), {}
        yv = K.adaptive_avgpool2d_forward(x4, out)
        yield "adaptive_avgpool2d_backward", (r(*yv.shape, dt=dt), x4.shape), {}
    wc, bc = np.abs(r(3, dt=dt)) + 0.5, r(3, dt=dt)
    for training in (True, False):
        rm, rv = r(3, dt=dt), np.abs(r(3, dt=dt)) + 0.5
        yield "batchnorm_forward", (x4, wc, bc, rm.copy(), rv.copy(), training, 0.1, 1e-5), {}
        _, mean, invstd = K.batchnorm_forward(x4, wc, bc, rm.copy(), rv.copy(), training)
        yield "batchnorm_backward", (r(*x4.shape, dt=dt), x4, wc, mean, invstd, training), {}
    wl, bl = r(9, 8, dt=dt), r(9, 8, dt=dt)
    yield "layernorm_forward", (x4, 2, wl, bl, 1e-5), {}
    _, mean, rstd = K.layernorm_forward(x4, 2, wl, bl)
    yield "layernorm_backward", (r(*x4.shape, dt=dt), x4, 2, wl, mean, rstd), {}
    idx = RNG.integers(0, 7, (4, 5))
    yield "embedding_backward", (r(4, 5, 3, dt=dt), idx, 7, 2), {}


@pytest.mark.parametrize("dt", FLOATS)
def test_nn_kernels_match_cpu(dt):
    for name, args, kw in _nn_calls(dt):
        fn = getattr(K, name)
        want = fn(*args, **kw)
        dargs = tuple(dev(a) if isinstance(a, np.ndarray) else a for a in args)
        dkw = {k: dev(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
        got = fn(*dargs, **dkw)
        same(host(got), want, dt, name)


def test_batchnorm_updates_running_stats_in_place_like_cpu():
    x = r(4, 3, 5)
    rm, rv = r(3), np.abs(r(3)) + 1
    drm, drv = dev(rm), dev(rv)
    K.batchnorm_forward(x, None, None, rm, rv, True, 0.2)
    K.batchnorm_forward(dev(x), None, None, drm, drv, True, 0.2)
    same(drm, rm, np.float64, "running_mean")
    same(drv, rv, np.float64, "running_var")


@pytest.mark.parametrize(
    "call, exc",
    [
        (lambda: K.cross_entropy_forward(dev(r(3, 4)), dev(np.array([0, 9, 1]))), IndexError),
        (lambda: K.embedding_backward(dev(r(2, 3)), dev(np.array([0, 5])), 4), IndexError),
        (lambda: K.softmax(dev(np.zeros(3, np.int32))), TypeError),
        (lambda: K.im2col(dev(r(1, 1, 2, 2)), 3), ValueError),
        (lambda: K.groupnorm_forward(dev(r(2, 4, 3)), 2), NotImplementedError),
    ],
)
def test_nn_kernel_errors_on_cuda(call, exc):
    with pytest.raises(exc):
        call()


# ----- fused optimizers: the same bits as the CPU kernel ----------------------------------
@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize(
    "kw",
    [
        dict(weight_decay=0.0, amsgrad=False, maximize=False, decoupled=False),
        dict(weight_decay=0.01, amsgrad=True, maximize=True, decoupled=False),
        dict(weight_decay=0.1, amsgrad=False, maximize=False, decoupled=True),
    ],
)
def test_fused_adam_matches_cpu_bit_for_bit(dt, kw):
    shapes = [(300,), (70000,), (3, 5)]
    cpu = [[r(*s, dt=dt) for s in shapes] for _ in range(5)]
    cpu[3] = [np.abs(a) for a in cpu[3]]
    cpu[4] = [np.abs(a) for a in cpu[4]]
    gpu = [[dev(a) for a in group] for group in cpu]
    for step in (1, 2, 3):
        for arrs, f in ((cpu, OK.adam_step_multi), (gpu, OK.adam_step_multi)):
            p, g, m, v, vm = arrs
            f(
                p,
                g,
                m,
                v,
                vm if kw["amsgrad"] else None,
                [float(step)] * 3,
                lr=1e-2,
                beta1=0.9,
                beta2=0.999,
                eps=1e-8,
                **kw,
            )
    for cg, gg in zip(cpu, gpu):
        for c, g in zip(cg, gg):
            np.testing.assert_array_equal(host(g), c)
    assert OK.fusable(*gpu[0]) and not OK.fusable(gpu[0][0], cpu[0][0])


@pytest.mark.parametrize("dt", FLOATS)
@pytest.mark.parametrize("nesterov, momentum", [(False, 0.0), (False, 0.9), (True, 0.9)])
def test_fused_sgd_matches_cpu_bit_for_bit(dt, nesterov, momentum):
    shapes = [(1000,), (4, 4)]
    p, g, b = ([r(*s, dt=dt) for s in shapes] for _ in range(3))
    dp, dg, db = ([dev(a) for a in x] for x in (p, g, b))
    for step in range(3):
        init = [step == 0] * 2
        kw = dict(
            lr=0.1,
            momentum=momentum,
            dampening=0.1,
            weight_decay=1e-3,
            nesterov=nesterov,
            maximize=False,
        )
        OK.sgd_step_multi(p, g, b if momentum else None, init if momentum else None, **kw)
        OK.sgd_step_multi(dp, dg, db if momentum else None, init if momentum else None, **kw)
    for c, d in zip(p + b, dp + db):
        np.testing.assert_array_equal(host(d), c)


# ----- Philox ----------------------------------------------------------------------------
def _pair(draw):
    """(CPU result, CUDA result) of ``draw(gen, module)`` from equal generator states."""
    from ember._cuda import random as CR

    g1, g2 = ember.Generator().manual_seed(99), ember.Generator().manual_seed(99)
    g1._offset = g2._offset = 2**32 - 3  # the counter's low word wraps inside the draw
    want = draw(g1, None)
    got = draw(g2, CR)
    assert g1._offset == g2._offset, "the two devices consumed different counter ranges"
    return host(got), want


@pytest.mark.parametrize(
    "draw",
    [
        lambda g, m: m.uniform(g, (1001,), np.float32) if m else g._uniform((1001,), np.float32),
        lambda g, m: (
            m.uniform(g, (77,), np.float16, -1, 1) if m else g._uniform((77,), np.float16, -1, 1)
        ),
        lambda g, m: (
            m.uniform(g, (77,), ml_dtypes.bfloat16) if m else g._uniform((77,), ml_dtypes.bfloat16)
        ),
        lambda g, m: (
            m.uniform(g, (333,), np.float64, 2, 5) if m else g._uniform((333,), np.float64, 2, 5)
        ),
        lambda g, m: (
            m.normal(g, (1003,), np.float32, 1, 2) if m else g._normal((1003,), np.float32, 1, 2)
        ),
        lambda g, m: m.normal(g, (501,), np.float64) if m else g._normal((501,), np.float64),
        lambda g, m: (
            m.exponential(g, (99,), np.float32, 3) if m else g._exponential((99,), np.float32, 3)
        ),
        lambda g, m: (
            m.exponential(g, (99,), np.float64) if m else g._exponential((99,), np.float64)
        ),
        lambda g, m: (
            m.randint(g, -3, 7, (555,), np.int64) if m else g._randint(-3, 7, (555,), np.int64)
        ),
        lambda g, m: (
            m.randint(g, 0, 2**32, (9,), np.int64) if m else g._randint(0, 2**32, (9,), np.int64)
        ),
        lambda g, m: (
            m.randint(g, -(2**62), 2**62, (99,), np.int64)
            if m
            else g._randint(-(2**62), 2**62, (99,), np.int64)
        ),
        lambda g, m: m.randperm(g, 4097) if m else g._randperm(4097),
        lambda g, m: (
            m.bernoulli(g, 0.3, (1001,), np.float32)
            if m
            else g._bernoulli(0.3, (1001,), np.float32)
        ),
        lambda g, m: (
            m.bernoulli(g, cp().linspace(0, 1, 64), (64,), np.bool_)
            if m
            else g._bernoulli(np.linspace(0, 1, 64), (64,), np.bool_)
        ),
    ],
)
def test_philox_draws_equal_cpu_bit_for_bit(draw):
    got, want = _pair(draw)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


def test_philox_raw_blocks_equal_cpu():
    from ember._C import ffi, lib
    from ember._cuda import loader as L

    n, seed, off = 4 * 513 + 3, 0xDEADBEEF12345678, 2**40 + 17
    want = np.empty(n, np.uint32)
    assert lib.em_philox_u32(seed, off, ffi.from_buffer("uint32_t[]", want), n) == 0
    got = cp().empty(n, np.uint32)
    L.launch("ember_philox_u32", L.blocks((n + 3) // 4), L.THREADS, (seed, off, got, n))
    np.testing.assert_array_equal(host(got), want)


# ----- elementwise and reductions ---------------------------------------------------------
DTYPES = [
    np.bool_,
    np.uint8,
    np.int8,
    np.int16,
    np.int32,
    np.int64,
    np.float16,
    ml_dtypes.bfloat16,
    np.float32,
    np.float64,
]


def _vals(shape, dt):
    a = RNG.standard_normal(shape) * 4
    return (a > 0) if dt == np.bool_ else a.astype(dt)


@pytest.mark.parametrize("dt", DTYPES, ids=lambda d: np.dtype(d).name)
def test_elementwise_binary_kernels_match_numpy(dt):
    from ember._cuda import elementwise as EW

    x, y = _vals((3, 1, 5), dt), _vals((4, 5), dt)
    xt = _vals((5, 4), dt).T  # a transposed operand
    for op in EW.BINARY_OPS:
        if EW.SFX[np.dtype(dt)] not in EW.BINARY_OPS[op]:
            continue
        f = {
            "add": np.add,
            "sub": np.subtract,
            "mul": np.multiply,
            "div": np.divide,
            "maximum": np.maximum,
            "minimum": np.minimum,
            "eq": np.equal,
            "ne": np.not_equal,
            "lt": np.less,
            "le": np.less_equal,
            "gt": np.greater,
            "ge": np.greater_equal,
        }[op]
        if dt == np.bool_ and op == "sub":
            continue  # numpy refuses bool subtraction; the kernel's is logical
        for a, b in ((x, y), (xt, y), (np.asarray(x[0, 0, 0]), y)):
            with np.errstate(all="ignore"):
                want = (
                    f(a.astype(np.float32), b.astype(np.float32))
                    if dt in (np.float16, ml_dtypes.bfloat16)
                    else f(a, b)
                )
            got = host(EW.binary(op, dev(a), dev(b)))
            want = want.astype(got.dtype)
            if np.dtype(dt).kind == "f" or dt == ml_dtypes.bfloat16:
                np.testing.assert_allclose(
                    got.astype(np.float64),
                    want.astype(np.float64),
                    rtol=1e-2 if np.dtype(dt).itemsize == 2 else 1e-6,
                )
            else:
                np.testing.assert_array_equal(got, want, err_msg=op)


@pytest.mark.parametrize(
    "dt", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64], ids=lambda d: np.dtype(d).name
)
def test_elementwise_unary_kernels_match_numpy(dt):
    import math

    from ember._cuda import elementwise as EW

    x = _vals((6, 7), dt)[::2]  # a strided operand
    pos = np.abs(x) + dt(0.5)
    ref = {
        "neg": np.negative,
        "abs": np.abs,
        "relu": lambda a: np.maximum(a, 0),
        "exp": np.exp,
        "log": np.log,
        "sqrt": np.sqrt,
        "tanh": np.tanh,
        "erf": np.vectorize(math.erf),
        "erfc": np.vectorize(math.erfc),
        "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    }
    for op, f in ref.items():
        a = pos if op in ("log", "sqrt") else x
        want = f(a.astype(np.float64))
        got = host(EW.unary(op, dev(a))).astype(np.float64)
        rtol = 1e-2 if np.dtype(dt).itemsize == 2 else (1e-5 if dt == np.float32 else 1e-12)
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol, err_msg=op)


@pytest.mark.parametrize(
    "shape, axis",
    [((5, 300), 1), ((6, 7, 8), 1), ((3, 200000), 1), ((4, 9), None), ((0, 3), 0), ((7,), 0)],
)
@pytest.mark.parametrize(
    "dt",
    [np.float16, ml_dtypes.bfloat16, np.float32, np.float64, np.int64],
    ids=lambda d: np.dtype(d).name,
)
def test_reduction_kernels_match_numpy(shape, axis, dt):
    from ember._cuda.reduce import reduce

    x = _vals(shape, dt)
    x64 = x.astype(np.float64)
    for op, f in (("sum", np.sum), ("mean", np.mean), ("max", np.max), ("min", np.min)):
        if dt == np.int64 and op != "sum":
            continue
        if op in ("max", "min") and 0 in shape:
            with pytest.raises(RuntimeError, match="zero-size"):
                reduce(op, dev(x), axis)
            continue
        with np.errstate(all="ignore"):
            want = f(x64, axis=axis)
        got = host(reduce(op, dev(x), axis)).astype(np.float64)
        rtol = 2e-2 if np.dtype(dt).itemsize == 2 else 1e-5
        np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * 10, err_msg=op)


def test_nvrtc_path_gives_the_fatbin_results(monkeypatch):
    from ember._cuda import loader as L
    from ember._cuda.elementwise import binary

    x, y = dev(r(100, dt=np.float32)), dev(r(100, dt=np.float32))
    want = host(binary("mul", x, y))
    monkeypatch.setenv("EMBER_CUDA_JIT", "1")
    monkeypatch.setattr(L, "_functions", {})
    monkeypatch.setattr(L, "_modules", {})
    np.testing.assert_array_equal(host(binary("mul", x, y)), want)
    assert "elementwise" in L._modules  # compiled from source, not loaded from the fatbin
