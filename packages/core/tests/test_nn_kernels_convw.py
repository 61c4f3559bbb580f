"""Core's width-unfolded convolution (``ember._nn_kernels_conv.convw_*``) and the 2x2
stride-2 max-pool fast path, against direct numpy references written here."""

from __future__ import annotations

import numpy as np
import pytest

from ember import _nn_kernels as K
from ember import _nn_kernels_conv as KC

pytestmark = pytest.mark.skipif(
    not KC.convw_available(np.float64), reason="numpy's BLAS exports no ILP64 CBLAS gemm"
)


def _windows(xp, kh, kw, oh, ow, sw, dil):
    """(i, j, view) for every kernel tap: xp[:, :, i*dh + a, j*dw + b*sw] over (a, b)."""
    for i in range(kh):
        for j in range(kw):
            r0, c0 = i * dil[0], j * dil[1]
            yield i, j, xp[:, :, r0 : r0 + oh, c0 : c0 + (ow - 1) * sw + 1 : sw]


def _reference(x, w, b, gy, sw, pad, dil):
    """y, gx, gw of a height-stride-1 conv by summing over kernel taps (float64)."""
    ph, pw = pad
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    o, _, kh, kw = w.shape
    oh = xp.shape[2] - dil[0] * (kh - 1)
    ow = (xp.shape[3] - dil[1] * (kw - 1) - 1) // sw + 1
    y = np.zeros((x.shape[0], o, oh, ow))
    gxp = np.zeros_like(xp)
    gw = np.zeros_like(w)
    for i, j, win in _windows(xp, kh, kw, oh, ow, sw, dil):
        y += np.einsum("nchw,oc->nohw", win, w[:, :, i, j])
        if gy is not None:
            gw[:, :, i, j] = np.einsum("nohw,nchw->oc", gy, win)
    if gy is not None:
        for i, j, win in _windows(gxp, kh, kw, oh, ow, sw, dil):
            win += np.einsum("nohw,oc->nchw", gy, w[:, :, i, j])
    if b is not None:
        y += b[None, :, None, None]
    gx = gxp[:, :, ph : ph + x.shape[2], pw : pw + x.shape[3]]
    return y, gx, gw


CASES = [  # x shape, w shape, width stride, padding, dilation
    ((2, 3, 7, 9), (4, 3, 3, 3), 1, (1, 1), (1, 1)),
    ((2, 3, 7, 9), (4, 3, 3, 2), 2, (0, 1), (1, 1)),
    ((3, 2, 8, 8), (5, 2, 2, 3), 3, (2, 0), (2, 2)),
    ((1, 1, 5, 5), (1, 1, 5, 5), 1, (2, 2), (1, 1)),
    ((2, 4, 1, 20), (3, 4, 1, 3), 2, (0, 1), (1, 2)),
    ((2, 3, 6, 6), (2, 3, 1, 1), 1, (0, 0), (1, 1)),
    ((4, 6, 14, 14), (16, 6, 5, 5), 1, (0, 0), (1, 1)),
    # wide enough that a sample is done in several blocks of output rows
    ((2, 64, 20, 64), (3, 64, 3, 3), 1, (1, 1), (1, 1)),
    ((1, 48, 23, 70), (2, 48, 3, 3), 2, (2, 1), (2, 1)),
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("xs,ws,sw,pad,dil", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_convw_matches_direct_sum(xs, ws, sw, pad, dil, dtype, bias):
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(xs), rng.standard_normal(ws)
    b = rng.standard_normal(ws[0]) if bias else None
    y_ref, _, _ = _reference(x, w, b, None, sw, pad, dil)
    gy = rng.standard_normal(y_ref.shape)
    y_ref, gx_ref, gw_ref = _reference(x, w, b, gy, sw, pad, dil)
    cast = [None if a is None else a.astype(dtype) for a in (x, w, b, gy)]
    xd, wd, bd, gyd = cast
    tol = 2e-4 if dtype == np.float32 else 1e-11
    y = KC.convw_forward(xd, wd, bd, (1, sw), pad, dil)
    assert y.dtype == dtype and y.shape == y_ref.shape
    np.testing.assert_allclose(y, y_ref, rtol=tol, atol=tol)
    gx = KC.convw_input_grad(gyd, wd, xs, (1, sw), pad, dil)
    np.testing.assert_allclose(gx, gx_ref, rtol=tol, atol=tol)
    gw = KC.convw_weight_grad(xd, gyd, ws, (1, sw), pad, dil)
    np.testing.assert_allclose(gw, gw_ref, rtol=tol, atol=tol * 10)


def test_convw_empty_batch():
    x = np.zeros((0, 3, 5, 5))
    w = np.ones((2, 3, 3, 3))
    assert KC.convw_forward(x, w, None, 1, 1, 1).shape == (0, 2, 5, 5)
    gy = np.zeros((0, 2, 5, 5))
    assert KC.convw_input_grad(gy, w, x.shape, 1, 1, 1).shape == x.shape
    gw = KC.convw_weight_grad(x, gy, w.shape, 1, 1, 1)
    assert gw.shape == w.shape and not gw.any()


def test_convw_bad_input_is_named():
    x = np.zeros((2, 3, 5, 5))
    w = np.zeros((2, 3, 3, 3))
    with pytest.raises(ValueError, match="height stride must be 1"):
        KC.convw_forward(x, w, None, (2, 1), 1, 1)
    with pytest.raises(ValueError, match="disagree on C"):
        KC.convw_forward(x, np.zeros((2, 4, 3, 3)), None, 1, 1, 1)
    with pytest.raises(ValueError, match=r"gy has shape \(2, 2, 4, 4\), expected \(2, 2, 5, 5\)"):
        KC.convw_input_grad(np.zeros((2, 2, 4, 4)), w, x.shape, 1, 1, 1)
    with pytest.raises(TypeError, match="weight is float32"):
        KC.convw_forward(x, w.astype(np.float32), None, 1, 1, 1)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        KC.convw_weight_grad(np.zeros((1, 3, 2, 2)), np.zeros((1, 2, 1, 1)), w.shape, 1, 0, 1)


def _maxpool2x2_reference(x):
    """Max and flat index of each 2x2 window (first maximum, the last NaN wins)."""
    n, c, h, w = x.shape
    oh, ow = h // 2, w // 2
    y = np.empty((n, c, oh, ow), x.dtype)
    idx = np.empty((n, c, oh, ow), np.int64)
    for p in np.ndindex(n, c, oh, ow):
        best, bi = None, None
        for a, b in ((0, 0), (0, 1), (1, 0), (1, 1)):
            r, q = 2 * p[2] + a, 2 * p[3] + b
            v = x[p[0], p[1], r, q]
            if best is None or v > best or np.isnan(v):
                best, bi = v, r * w + q
        y[p], idx[p] = best, bi
    return y, idx


@pytest.mark.parametrize("shape", [(2, 3, 6, 8), (1, 2, 7, 9), (2, 1, 2, 2), (1, 40, 30, 30)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_maxpool_2x2_fast_path(shape, dtype):
    rng = np.random.default_rng(5)
    x = rng.integers(-3, 3, shape).astype(dtype)  # small integers: many ties
    flat = x.reshape(-1)
    flat[::11] = np.nan
    flat[5::13] = -np.inf
    y, idx = K.maxpool2d_forward(x, 2, 2)
    y_ref, idx_ref = _maxpool2x2_reference(x)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)


def test_convw_two_threads_split_samples_and_restore_blas():
    import ember

    prev = ember.get_num_threads()
    ember.set_num_threads(2)
    try:
        rng = np.random.default_rng(9)
        x, w = rng.standard_normal((9, 6, 12, 10)), rng.standard_normal((5, 6, 3, 3))
        b = rng.standard_normal(5)
        gy = rng.standard_normal((9, 5, 12, 10))
        y_ref, gx_ref, gw_ref = _reference(x, w, b, gy, 1, (1, 1), (1, 1))
        np.testing.assert_allclose(KC.convw_forward(x, w, b, 1, 1, 1), y_ref, atol=1e-11)
        gx = KC.convw_input_grad(gy, w, x.shape, 1, 1, 1)
        np.testing.assert_allclose(gx, gx_ref, atol=1e-11)
        gw = KC.convw_weight_grad(x, gy, w.shape, 1, 1, 1)
        np.testing.assert_allclose(gw, gw_ref, atol=1e-10)
        threads = KC._blas_threads()
        if threads is not None:  # the BLAS gets its thread count back after each call
            assert threads[1]() == 2
    finally:
        ember.set_num_threads(prev)
