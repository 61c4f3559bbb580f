"""The fused optimizer kernels (ember._optim_kernels) against numpy written from the
update formulas, plus their argument checks."""

from __future__ import annotations

import numpy as np
import pytest

from ember import _optim_kernels as K


def arrays(n, dtype, seed=0, count=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(n).astype(dtype) for _ in range(count)]


def adam_ref(p, g, m, v, vmax, step, lr, b1, b2, eps, wd, amsgrad, maximize, decoupled):
    """Adam/AdamW from the paper's formulas, in float64."""
    p, g, m, v = (x.astype(np.float64) for x in (p, g, m, v))
    g = -g if maximize else g
    if wd and decoupled:
        p = p * (1 - lr * wd)
    elif wd:
        g = g + wd * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    if amsgrad:
        vmax = np.maximum(vmax.astype(np.float64), v)
    use = vmax if amsgrad else v
    denom = np.sqrt(use) / np.sqrt(1 - b2**step) + eps
    return p - lr / (1 - b1**step) * m / denom, m, v, vmax


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize(
    ("wd", "decoupled", "maximize"), [(0.0, False, False), (0.1, False, True), (0.1, True, False)]
)
@pytest.mark.parametrize("n", [0, 1, 37, 70_001])
def test_adam_step_matches_formulas(dtype, amsgrad, wd, decoupled, maximize, n):
    p, g, m = arrays(n, dtype, count=3)
    v = np.abs(arrays(n, dtype, seed=1)[0])
    vmax = v * 1.5 if amsgrad else None
    step, lr, b1, b2, eps = 7, 0.01, 0.9, 0.999, 1e-8
    ref = adam_ref(p, g, m, v, vmax, step, lr, b1, b2, eps, wd, amsgrad, maximize, decoupled)
    K.adam_step(p, g, m, v, vmax, lr, b1, b2, eps, wd, step, amsgrad, maximize, decoupled)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for ours, want in zip((p, m, v), ref[:3]):
        np.testing.assert_allclose(ours, want, rtol=tol, atol=tol)
    if amsgrad:
        np.testing.assert_allclose(vmax, ref[3], rtol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("momentum", "dampening", "nesterov", "wd", "maximize"),
    [
        (0.0, 0.0, False, 0.0, False),
        (0.9, 0.0, False, 0.01, False),
        (0.9, 0.0, True, 0.1, True),
        (0.5, 0.3, False, 0.0, False),
    ],
)
def test_sgd_step_matches_formulas(dtype, momentum, dampening, nesterov, wd, maximize):
    n, lr = 50_000, 0.1
    p, g, buf = arrays(n, dtype, count=3)
    for init in (True, False):
        want_p, want_b = p.astype(np.float64), buf.astype(np.float64)
        d = -g.astype(np.float64) if maximize else g.astype(np.float64)
        d = d + wd * want_p
        if momentum:
            want_b = d.copy() if init else momentum * want_b + (1 - dampening) * d
            d = d + momentum * want_b if nesterov else want_b
        want_p = want_p - lr * d
        K.sgd_step(
            p,
            g,
            buf if momentum else None,
            lr,
            momentum,
            dampening,
            wd,
            nesterov,
            maximize,
            init_buffer=init,
        )
        tol = 1e-5 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(p, want_p, rtol=tol, atol=tol)
        if momentum:
            np.testing.assert_allclose(buf, want_b, rtol=tol, atol=tol)


def test_multi_tensor_step_with_per_tensor_steps():
    ps = arrays(1000, np.float32, count=3)
    gs = arrays(1000, np.float32, seed=5, count=3)
    sizes = [1000, 1, 20_000]
    ps = [np.resize(p, s) for p, s in zip(ps, sizes)]
    gs = [np.resize(g, s) for g, s in zip(gs, sizes)]
    ms = [np.zeros(s, np.float32) for s in sizes]
    vs = [np.zeros(s, np.float32) for s in sizes]
    want = [
        adam_ref(p, g, m, v, None, st, 1e-3, 0.9, 0.999, 1e-8, 0, False, False, False)[0]
        for p, g, m, v, st in zip(ps, gs, ms, vs, (1, 4, 9))
    ]
    K.adam_step_multi(
        ps,
        gs,
        ms,
        vs,
        None,
        [1, 4, 9],
        lr=1e-3,
        beta1=0.9,
        beta2=0.999,
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        maximize=False,
        decoupled=False,
    )
    for p, w in zip(ps, want):
        np.testing.assert_allclose(p, w, rtol=1e-5)


def test_fusable():
    a = np.zeros(4, np.float32)
    assert K.fusable(a, a.copy(), None)
    assert not K.fusable(a, np.zeros(4))  # mixed dtypes
    assert not K.fusable(np.zeros((4, 4), np.float32).T)
    assert not K.fusable(np.zeros(4, np.float16))


def test_bad_arguments_raise():
    a, b = np.zeros(4, np.float32), np.zeros(4, np.float32)
    kw = dict(
        lr=0.1,
        beta1=0.9,
        beta2=0.99,
        eps=1e-8,
        weight_decay=0,
        amsgrad=False,
        maximize=False,
        decoupled=False,
    )
    with pytest.raises(TypeError, match="dtype float64, expected float32"):
        K.adam_step_multi([a], [np.zeros(4)], [a], [a], None, [1], **kw)
    with pytest.raises(ValueError, match="has 3 elements"):
        K.adam_step_multi([a], [b], [np.zeros(3, np.float32)], [a], None, [1], **kw)
    with pytest.raises(ValueError, match="C-contiguous"):
        K.adam_step_multi([np.zeros(8, np.float32)[::2]], [b], [a], [a], None, [1], **kw)
    with pytest.raises(TypeError, match="not supported"):
        K.adam_step_multi([a.astype(np.int32)], [b], [a], [a], None, [1], **kw)
    with pytest.raises(ValueError, match="amsgrad"):
        K.adam_step_multi([a], [b], [a], [a], None, [1], **{**kw, "amsgrad": True})
    with pytest.raises(ValueError, match="steps has 2"):
        K.adam_step_multi([a], [b], [a], [a], None, [1, 2], **kw)
    ro = np.zeros(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        K.sgd_step(ro, b, None, 0.1)
    with pytest.raises(ValueError, match="needs bufs"):
        K.sgd_step_multi(
            [a],
            [b],
            None,
            None,
            lr=0.1,
            momentum=0.9,
            dampening=0,
            weight_decay=0,
            nesterov=False,
            maximize=False,
        )
