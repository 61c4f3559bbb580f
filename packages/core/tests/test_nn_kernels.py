"""ember._nn_kernels against straightforward numpy references and finite differences.

Forward values are compared with loop/slice references written here from PyTorch's
documented semantics; every backward is checked against central finite differences of
its forward in float64 (or an adjoint identity), so the two halves test each other.
Pinned PyTorch 2.13 outputs for the edge cases live in test_nn_kernels_torch.py.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from ember import _nn_kernels as K

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 3e-5, np.float64: 1e-11}


def rnd(shape, dtype=np.float64, seed=0, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def close(a, b, dtype, factor=1.0):
    np.testing.assert_allclose(
        a, b, rtol=TOL[dtype] * factor, atol=TOL[dtype] * factor, equal_nan=True
    )


def fd_check(f, x, gy, gx, h=1e-6, seed=1, tol=1e-6):
    """<gy, df(x)[v]> by central differences equals <gx, v> for a random direction v."""
    v = rnd(x.shape, seed=seed)
    num = np.sum(gy * (f(x + h * v) - f(x - h * v))) / (2 * h)
    ana = np.sum(gx * v)
    assert abs(num - ana) <= tol * max(1.0, abs(ana)), (num, ana)


# ---------------------------------------------------------------- im2col / col2im


def ref_im2col(x, k, s, p, d):
    n, c = x.shape[:2]
    nsp = x.ndim - 2
    xp = np.pad(x, [(0, 0), (0, 0)] + [(q, q) for q in p])
    out = [(x.shape[2 + i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nsp)]
    rows = []
    for ch in range(c):
        for off in itertools.product(*[range(kk) for kk in k]):
            sl = tuple(
                slice(o * dd, o * dd + (m - 1) * ss + 1, ss) for o, dd, m, ss in zip(off, d, out, s)
            )
            rows.append(xp[(slice(None), ch) + sl].reshape(n, math.prod(out)))
    return np.stack(rows, axis=1)


CONV_CASES = [
    ((2, 3, 7), (3,), (1,), (1,), (1,)),
    ((1, 2, 9), (2,), (3,), (0,), (2,)),
    ((2, 3, 7, 9), (3, 2), (2, 1), (1, 0), (1, 2)),
    ((1, 2, 5, 5), (3, 3), (1, 1), (1, 1), (1, 1)),
    ((2, 1, 6, 4), (2, 3), (3, 2), (0, 1), (2, 1)),
    ((1, 1, 4, 4), (4, 4), (1, 1), (0, 0), (1, 1)),
    ((1, 2, 3, 3), (1, 1), (2, 2), (2, 2), (1, 1)),  # output windows entirely in padding
    ((2, 2, 4, 5, 6), (2, 3, 2), (1, 2, 2), (1, 0, 1), (1, 1, 2)),
    ((0, 2, 5, 5), (3, 3), (1, 1), (0, 0), (1, 1)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p,d", CONV_CASES)
def test_im2col_matches_reference_and_col2im_is_its_adjoint(dtype, shape, k, s, p, d):
    x = rnd(shape, dtype)
    cols = K.im2col(x, k, s, p, d)
    ref = ref_im2col(x, k, s, p, d)
    assert cols.shape == ref.shape and cols.dtype == dtype
    np.testing.assert_array_equal(cols, ref)
    c = rnd(cols.shape, dtype, seed=2)
    back = K.col2im(c, shape, k, s, p, d)
    assert back.shape == shape and back.dtype == dtype
    # <im2col(x), c> == <x, col2im(c)> for every x, c: col2im is the exact adjoint
    lhs = np.sum(ref.astype(np.float64) * c)
    rhs = np.sum(x.astype(np.float64) * back)
    assert abs(lhs - rhs) <= 1e-4 * max(1.0, abs(lhs))


def test_im2col_layout_gives_convolution_as_one_gemm():
    x, w = rnd((2, 3, 6, 7)), rnd((4, 3, 3, 2), seed=3)
    y = (w.reshape(4, -1) @ K.im2col(x, (3, 2), 1, (1, 0), 1)).reshape(2, 4, 6, 6)
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (0, 0)])
    ref = np.zeros((2, 4, 6, 6))
    for i, j in itertools.product(range(6), range(6)):
        ref[:, :, i, j] = np.einsum("nchw,ochw->no", xp[:, :, i : i + 3, j : j + 2], w)
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


def test_im2col_noncontiguous_input_is_accepted():
    x = rnd((2, 3, 8, 10))[:, :, ::2, 1:]
    np.testing.assert_array_equal(
        K.im2col(x, 2, 1, 0, 1), ref_im2col(x, (2, 2), (1, 1), (0, 0), (1, 1))
    )


def test_conv_bad_inputs_raise():
    x = rnd((1, 2, 4, 4), np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        K.im2col(x.astype(np.int32), 2)
    with pytest.raises(TypeError, match="numpy array"):
        K.im2col([[1.0]], 2)
    with pytest.raises(ValueError, match="1 to 3 spatial dims"):
        K.im2col(rnd((4, 4)), 2)
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        K.im2col(x, 5)
    with pytest.raises(ValueError, match="stride must be >= 1"):
        K.im2col(x, 2, stride=0)
    with pytest.raises(ValueError, match="kernel_size must be an int or 2 ints"):
        K.im2col(x, (2, 2, 2))
    with pytest.raises(ValueError, match="cols has shape"):
        K.col2im(rnd((1, 8, 10), np.float32), (1, 2, 4, 4), 2)


# ---------------------------------------------------------------- pooling


def ref_pool_out(i, k, s, p, d, ceil):
    out = (i + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil else 0)) // s + 1
    return out - 1 if ceil and (out - 1) * s >= i + p else out


def ref_maxpool(x, k, s, p, d, ceil):
    h, w = x.shape[-2:]
    oh, ow = (
        ref_pool_out(h, k[0], s[0], p[0], d[0], ceil),
        ref_pool_out(w, k[1], s[1], p[1], d[1], ceil),
    )
    lead = x.shape[:-2]
    xf = x.reshape(-1, h, w)
    y = np.empty((xf.shape[0], oh, ow), x.dtype)
    idx = np.empty(y.shape, np.int64)
    for q, i, j in itertools.product(range(xf.shape[0]), range(oh), range(ow)):
        best, bi = -np.inf, None
        for a, b in itertools.product(range(k[0]), range(k[1])):
            r, c = i * s[0] - p[0] + a * d[0], j * s[1] - p[1] + b * d[1]
            if 0 <= r < h and 0 <= c < w:
                v = xf[q, r, c]
                if bi is None:
                    bi = r * w + c  # the first tap in the input, as PyTorch starts
                if v > best or np.isnan(v):
                    best, bi = v, r * w + c
        y[q, i, j], idx[q, i, j] = best, bi
    return y.reshape(lead + (oh, ow)), idx.reshape(lead + (oh, ow))


def ref_avgpool(x, k, s, p, ceil, cip, div):
    h, w = x.shape[-2:]
    oh, ow = ref_pool_out(h, k[0], s[0], p[0], 1, ceil), ref_pool_out(w, k[1], s[1], p[1], 1, ceil)
    xf = x.reshape(-1, h, w).astype(np.float64)
    y = np.empty((xf.shape[0], oh, ow))
    for i, j in itertools.product(range(oh), range(ow)):
        r0, c0 = i * s[0] - p[0], j * s[1] - p[1]
        r1, c1 = min(r0 + k[0], h + p[0]), min(c0 + k[1], w + p[1])
        padded = (r1 - r0) * (c1 - c0)
        r0, c0, r1, c1 = max(r0, 0), max(c0, 0), min(r1, h), min(c1, w)
        count = (r1 - r0) * (c1 - c0)
        total = xf[:, r0:r1, c0:c1].sum(axis=(1, 2))
        y[:, i, j] = total / (div if div else padded if cip else count)
    return y.reshape(x.shape[:-2] + (oh, ow)).astype(x.dtype)


POOL_CASES = [
    ((2, 3, 7, 8), (2, 2), (2, 2), (0, 0), (1, 1), False),
    ((2, 3, 7, 8), (3, 3), (2, 2), (1, 1), (1, 1), True),
    ((1, 2, 5, 5), (3, 2), (2, 1), (1, 1), (2, 1), True),
    ((3, 6, 7), (3, 3), (3, 3), (1, 0), (1, 2), True),
    ((1, 1, 6, 6), (2, 2), (4, 4), (1, 1), (1, 1), True),  # ceil window starts in padding
    ((2, 2, 1, 9), (1, 3), (1, 2), (0, 1), (1, 1), False),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p,d,ceil", POOL_CASES)
def test_maxpool2d_forward_and_backward(dtype, shape, k, s, p, d, ceil):
    x = rnd(shape, dtype)
    x.reshape(-1)[::7] = np.nan  # NaN wins its window (the last NaN, as PyTorch)
    y, idx = K.maxpool2d_forward(x, k, s, p, d, ceil)
    ry, ridx = ref_maxpool(x, k, s, p, d, ceil)
    np.testing.assert_array_equal(y, ry)
    np.testing.assert_array_equal(idx, ridx)
    gy = rnd(y.shape, dtype, seed=4)
    gx = K.maxpool2d_backward(gy, idx, shape)
    ref = np.zeros((int(np.prod(shape[:-2])), shape[-2] * shape[-1]))
    for q in range(ref.shape[0]):
        np.add.at(ref[q], idx.reshape(ref.shape[0], -1)[q], gy.reshape(ref.shape[0], -1)[q])
    close(gx, ref.reshape(shape), dtype)


def test_maxpool_ties_and_all_negative_infinity_follow_pytorch():
    x = np.full((1, 1, 2, 4), -np.inf)
    x[0, 0, 1, 2] = 5.0
    x[0, 0, 0, 3] = 5.0  # a tie: the first maximum in window order wins
    y, idx = K.maxpool2d_forward(x, 2, 2)
    np.testing.assert_array_equal(y.ravel(), [-np.inf, 5.0])
    np.testing.assert_array_equal(idx.ravel(), [0, 3])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,k,s,p,d,ceil", [c for c in POOL_CASES if c[4] == (1, 1)])
@pytest.mark.parametrize("cip,div", [(True, None), (False, None), (True, 3), (False, 5)])
def test_avgpool2d_forward_and_backward(dtype, shape, k, s, p, d, ceil, cip, div):
    x = rnd(shape, dtype)
    y = K.avgpool2d_forward(x, k, s, p, ceil, cip, div)
    close(y, ref_avgpool(x, k, s, p, ceil, cip, div), dtype)
    x64 = x.astype(np.float64)
    gy = rnd(y.shape, seed=5)
    gx = K.avgpool2d_backward(gy, shape, k, s, p, ceil, cip, div)
    fd_check(lambda a: K.avgpool2d_forward(a, k, s, p, ceil, cip, div), x64, gy, gx)


@pytest.mark.parametrize("dtype", DTYPES)
def test_pool1d_is_pool2d_along_the_last_dim(dtype):
    x = rnd((2, 3, 11), dtype)
    y, idx = K.maxpool1d_forward(x, 3, 2, 1, 2, True)
    ry, ridx = ref_maxpool(x[:, :, None, :], (1, 3), (1, 2), (0, 1), (1, 2), True)
    np.testing.assert_array_equal(y, ry[:, :, 0])
    np.testing.assert_array_equal(idx, ridx[:, :, 0])
    gy = rnd(y.shape, dtype, seed=6)
    gx = K.maxpool1d_backward(gy, idx, x.shape)
    ref = np.zeros((6, 11))
    for q in range(6):
        np.add.at(ref[q], idx.reshape(6, -1)[q], gy.reshape(6, -1)[q])
    close(gx, ref.reshape(x.shape), dtype)
    ya = K.avgpool1d_forward(x, 4, 3, 2, True, False)
    close(
        ya, ref_avgpool(x[:, :, None, :], (1, 4), (1, 3), (0, 2), True, False, None)[:, :, 0], dtype
    )
    gy = rnd(ya.shape, seed=7)
    fd_check(
        lambda a: K.avgpool1d_forward(a, 4, 3, 2, True, False),
        x.astype(np.float64),
        gy,
        K.avgpool1d_backward(gy, x.shape, 4, 3, 2, True, False),
    )


def ref_adaptive(x, out, fn):
    h, w = x.shape[-2:]
    y = np.empty(x.shape[:-2] + out, np.float64)
    for i, j in itertools.product(range(out[0]), range(out[1])):
        r0, r1 = (i * h) // out[0], -(-((i + 1) * h) // out[0])
        c0, c1 = (j * w) // out[1], -(-((j + 1) * w) // out[1])
        y[..., i, j] = fn(x[..., r0:r1, c0:c1].astype(np.float64), axis=(-2, -1))
    return y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,out",
    [((2, 3, 7, 9), (3, 4)), ((2, 5, 5), (5, 5)), ((1, 2, 10, 3), (4, 3)), ((1, 1, 3, 3), (7, 7))],
)
def test_adaptive_pools(dtype, shape, out):
    x = rnd(shape, dtype)
    y = K.adaptive_avgpool2d_forward(x, out)
    close(y, ref_adaptive(x, out, np.mean), dtype)
    ym, idx = K.adaptive_maxpool2d_forward(x, out)
    close(ym, ref_adaptive(x, out, np.max), dtype)
    flat = x.reshape(x.shape[:-2] + (-1,))
    np.testing.assert_array_equal(
        np.take_along_axis(flat, idx.reshape(idx.shape[:-2] + (-1,)), -1).reshape(ym.shape), ym
    )
    gy = rnd(y.shape, seed=8)
    fd_check(
        lambda a: K.adaptive_avgpool2d_forward(a, out),
        x.astype(np.float64),
        gy,
        K.adaptive_avgpool2d_backward(gy, shape),
    )
    x64 = x.astype(np.float64)
    _, idx64 = K.adaptive_maxpool2d_forward(x64, out)
    fd_check(
        lambda a: K.adaptive_maxpool2d_forward(a, out)[0],
        x64,
        gy,
        K.adaptive_maxpool2d_backward(gy, idx64, shape),
        h=1e-7,
    )
    assert K.adaptive_avgpool2d_forward(x, (None, 2)).shape == shape[:-1] + (2,)
    y1 = K.adaptive_avgpool1d_forward(x.reshape(-1, shape[-2], shape[-1]), 2)
    close(
        y1,
        ref_adaptive(x.reshape(-1, 1, shape[-2], shape[-1]), (shape[-2], 2), np.mean)[:, 0],
        dtype,
    )


def test_pool_bad_inputs_raise():
    x = rnd((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match="at most half of kernel_size"):
        K.maxpool2d_forward(x, 2, 1, 2)
    with pytest.raises(ValueError, match="too small"):
        K.maxpool2d_forward(x, 3, 1, 0, 3)
    with pytest.raises(ValueError, match="3-D or 4-D"):
        K.avgpool2d_forward(rnd((4, 4)), 2)
    with pytest.raises(ValueError, match="non-empty"):
        K.maxpool2d_forward(rnd((1, 0, 4, 4)), 2)
    with pytest.raises(ValueError, match="divisor_override"):
        K.avgpool2d_forward(x, 2, divisor_override=0)
    _, idx = K.maxpool2d_forward(x, 2)
    idx[0, 0, 1, 1] = 16
    with pytest.raises(IndexError, match=r"index 16 at position 3 .*valid range \[0, 15\]"):
        K.maxpool2d_backward(np.ones((1, 1, 2, 2), np.float32), idx, x.shape)
    with pytest.raises(ValueError, match="gy has shape"):
        K.avgpool2d_backward(np.ones((1, 1, 3, 3), np.float32), x.shape, 2)
    with pytest.raises(TypeError, match="integers"):
        K.maxpool2d_backward(np.ones((1, 1, 2, 2), np.float32), idx.astype(float), x.shape)


# ---------------------------------------------------------------- softmax and losses


def ref_log_softmax(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(5, 7), (3, 1), (4, 1000), (2, 3, 17), (0, 4), (33,)])
def test_softmax_and_log_softmax(dtype, shape):
    x = rnd(shape, dtype, scale=10)
    ref = ref_log_softmax(x)
    close(K.log_softmax(x), ref, dtype, 4)
    close(K.softmax(x), np.exp(ref), dtype)
    gy = rnd(shape, seed=9)
    x64 = x.astype(np.float64)
    fd_check(K.softmax, x64, gy, K.softmax_backward(gy, K.softmax(x64)))
    fd_check(K.log_softmax, x64, gy, K.log_softmax_backward(gy, K.log_softmax(x64)))


def test_softmax_extremes_match_pytorch_conventions():
    x = np.array([[1000.0, 0.0, -1000.0], [np.nan, 1.0, 2.0], [-np.inf, 0.0, 0.0]], np.float32)
    y = K.softmax(x)
    np.testing.assert_allclose(y[0], [1, 0, 0])
    assert np.isnan(y[1]).all()
    np.testing.assert_allclose(y[2], [0, 0.5, 0.5])
    np.testing.assert_allclose(K.log_softmax(x)[0], [0, -1000, -2000])


def ref_losses(x, t, w, ignore, red, eps, log_probs):
    """Per PyTorch's definition; x is (N, C, *) logits (or log-probs when log_probs)."""
    lp = np.moveaxis(x.astype(np.float64), 1, -1).reshape(-1, x.shape[1])
    if not log_probs:
        lp = ref_log_softmax(lp)
    t = t.reshape(-1)
    c = lp.shape[1]
    wv = np.ones(c) if w is None else w.astype(np.float64)
    keep = t != ignore
    tt = np.where(keep, t, 0)
    wt = np.where(keep, wv[tt], 0.0)
    loss = -wt * lp[np.arange(len(t)), tt]
    if eps:
        smooth = np.where(keep, -(lp * wv).sum(axis=1), 0.0)
        loss = (1 - eps) * loss + eps / c * smooth
    if red == "none":
        return loss.reshape((x.shape[0],) + x.shape[2:])
    return loss.sum() / (wt.sum() if red == "mean" else 1.0)


LOSS_CASES = list(
    itertools.product(
        [(6, 5), (3, 4, 2, 3)], [False, True], [-100, 1], ["mean", "sum", "none"], [0.0, 0.25]
    )
)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape,weighted,ignore,red,eps", LOSS_CASES)
def test_cross_entropy_and_nll(dtype, shape, weighted, ignore, red, eps):
    rng = np.random.default_rng(10)
    x = rnd(shape, dtype, scale=3)
    c = shape[1]
    t = rng.integers(0, c, (shape[0],) + shape[2:])
    t.reshape(-1)[::4] = ignore
    w = (rng.random(c) + 0.5).astype(dtype) if weighted else None
    loss, lse, tw = K.cross_entropy_forward(x, t, w, ignore, red, eps)
    close(loss, ref_losses(x, t, w, ignore, red, eps, False), dtype, 4)
    keep = t != ignore
    assert tw == pytest.approx((w[t[keep]] if weighted else keep[keep]).sum(), rel=1e-6)
    x64 = x.astype(np.float64)
    w64 = None if w is None else w.astype(np.float64)
    gy = rnd(np.shape(loss), seed=11)
    _, lse64, tw64 = K.cross_entropy_forward(x64, t, w64, ignore, red, eps)
    gx = K.cross_entropy_backward(gy, x64, t, lse64, w64, ignore, red, eps, tw64)
    fd_check(lambda a: K.cross_entropy_forward(a, t, w64, ignore, red, eps)[0], x64, gy, gx)
    if eps == 0:
        lp = np.ascontiguousarray(np.moveaxis(K.log_softmax(np.moveaxis(x, 1, -1)), -1, 1))
        nl, ntw = K.nll_loss_forward(lp, t, w, ignore, red)
        close(nl, ref_losses(lp, t, w, ignore, red, 0, True), dtype, 4)
        assert ntw == pytest.approx(tw, rel=1e-6)
        lp64 = lp.astype(np.float64)
        gx = K.nll_loss_backward(gy, t, lp.shape, w64, ignore, red)  # total weight derived
        fd_check(lambda a: K.nll_loss_forward(a, t, w64, ignore, red)[0], lp64, gy, gx)


def test_loss_of_unbatched_input_and_all_ignored_mean():
    x = rnd((5,))
    loss, _, _ = K.cross_entropy_forward(x, np.array(2), reduction="none")
    assert loss.shape == () and loss == pytest.approx(-ref_log_softmax(x)[2])
    t = np.full(4, -100)
    loss, _, tw = K.cross_entropy_forward(rnd((4, 3)), t)
    assert tw == 0.0 and np.isnan(loss)  # 0 / 0, as PyTorch


def test_loss_bad_inputs_raise():
    x = rnd((3, 4), np.float32)
    with pytest.raises(IndexError, match=r"target 4 at position 1 .* \[0, 3\]"):
        K.cross_entropy_forward(x, np.array([0, 4, 1]))
    with pytest.raises(IndexError, match="target -1 at position 0"):
        K.nll_loss_forward(x, np.array([-1, 0, 1]))
    with pytest.raises(IndexError, match="target 9"):
        K.nll_loss_backward(np.float32(1), np.array([9, 0, 1]), x.shape)
    with pytest.raises(TypeError, match="integers"):
        K.cross_entropy_forward(x, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="needs target of shape"):
        K.cross_entropy_forward(x, np.array([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        K.cross_entropy_forward(x, np.array([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing"):
        K.cross_entropy_forward(x, np.array([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="weight is float64"):
        K.cross_entropy_forward(x, np.array([0, 1, 2]), weight=np.ones(4))
    with pytest.raises(ValueError, match="weight has shape"):
        K.cross_entropy_forward(x, np.array([0, 1, 2]), weight=np.ones(3, np.float32))


# ---------------------------------------------------------------- normalization


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(4, 3, 5, 2), (7, 2), (2, 4, 9), (3, 5, 2, 2, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batchnorm(dtype, shape, affine):
    c = shape[1]
    x = rnd(shape, dtype, scale=3) + 100  # a large mean: float32 must stay accurate
    w, b = (rnd(c, dtype, 12), rnd(c, dtype, 13)) if affine else (None, None)
    rm, rv = rnd(c, dtype, 14), np.abs(rnd(c, dtype, 15)) + 0.5
    rm0, rv0 = rm.copy(), rv.copy()
    axes = (0,) + tuple(range(2, len(shape)))
    x64 = x.astype(np.float64)
    mean, var = x64.mean(axis=axes), x64.var(axis=axes)
    bshape = (1, c) + (1,) * (len(shape) - 2)
    ref = (x64 - mean.reshape(bshape)) / np.sqrt(var.reshape(bshape) + 1e-4)
    if affine:
        ref = ref * w.reshape(bshape) + b.reshape(bshape)
    y, sm, si = K.batchnorm_forward(x, w, b, rm, rv, True, 0.3, 1e-4)
    close(y, ref, dtype, 10)
    close(sm, mean, dtype, 10)
    close(si, 1 / np.sqrt(var + 1e-4), dtype, 10)
    m = x.size // c
    close(rm, 0.7 * rm0 + 0.3 * mean, dtype, 10)
    close(rv, 0.7 * rv0 + 0.3 * var * m / (m - 1), dtype, 10)
    ye, sme, sie = K.batchnorm_forward(x, w, b, rm, rv, False, 0.3, 1e-4)
    refe = (x64 - rm.reshape(bshape)) / np.sqrt(rv.reshape(bshape) + 1e-4)
    if affine:
        refe = refe * w.reshape(bshape) + b.reshape(bshape)
    close(ye, refe, dtype, 100)
    # backward, float64, against finite differences (train and eval)
    xd = x64 - 100
    wd = None if w is None else w.astype(np.float64)
    gy = rnd(shape, seed=16)
    _, sm, si = K.batchnorm_forward(xd, wd, None, None, None, True, 0.1, 1e-4)
    gx, gw, gb = K.batchnorm_backward(gy, xd, wd, sm, si, True)
    fd_check(lambda a: K.batchnorm_forward(a, wd, None, None, None, True, 0.1, 1e-4)[0], xd, gy, gx)
    rmd, rvd = rm.astype(np.float64), rv.astype(np.float64)
    _, sme, sie = K.batchnorm_forward(xd, wd, None, rmd.copy(), rvd.copy(), False, 0.1, 1e-4)
    gxe, _, _ = K.batchnorm_backward(gy, xd, wd, sme, sie, False)
    fd_check(
        lambda a: K.batchnorm_forward(a, wd, None, rmd.copy(), rvd.copy(), False, 0.1, 1e-4)[0],
        xd,
        gy,
        gxe,
    )
    xhat = (xd - sm.reshape(bshape)) * si.reshape(bshape)
    np.testing.assert_allclose(gb, gy.sum(axis=axes), rtol=1e-10)
    np.testing.assert_allclose(gw, (gy * xhat).sum(axis=axes), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,k", [((4, 3, 5), 1), ((4, 3, 5), 2), ((7, 33), 1), ((2, 3, 4), 3), ((5, 0), 1)]
)
@pytest.mark.parametrize("affine", [True, False])
def test_layernorm(dtype, shape, k, affine):
    x = rnd(shape, dtype, scale=2) + 50
    ns = shape[len(shape) - k :]
    w, b = (rnd(ns, dtype, 17), rnd(ns, dtype, 18)) if affine else (None, None)
    axes = tuple(range(len(shape) - k, len(shape)))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=axes, keepdims=True) if x.size else np.zeros(shape[:-k] + (1,) * k)
    var = x64.var(axis=axes, keepdims=True) if x.size else np.zeros(shape[:-k] + (1,) * k)
    ref = (x64 - mean) / np.sqrt(var + 1e-5)
    if affine:
        ref = ref * w + b
    y, m, r = K.layernorm_forward(x, k, w, b, 1e-5)
    assert m.shape == mean.shape and r.shape == mean.shape
    close(y, ref, dtype, 10)
    close(m, mean, dtype, 10)
    xd, wd = x64 - 50, None if w is None else w.astype(np.float64)
    bd = None if b is None else b.astype(np.float64)
    gy = rnd(shape, seed=19)
    _, m, r = K.layernorm_forward(xd, k, wd, bd, 1e-5)
    gx, gw, gb = K.layernorm_backward(gy, xd, k, wd, m, r)
    if x.size:
        fd_check(lambda a: K.layernorm_forward(a, k, wd, bd, 1e-5)[0], xd, gy, gx)
    lead = tuple(range(len(shape) - k))
    np.testing.assert_allclose(gb, gy.sum(axis=lead), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(gw, (gy * (xd - m) * r).sum(axis=lead), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "shape,groups", [((4, 6, 5), 3), ((2, 4, 3, 3), 1), ((3, 4), 4), ((2, 6, 7), 2)]
)
def test_groupnorm(dtype, shape, groups):
    n, c = shape[:2]
    x = rnd(shape, dtype, scale=2) + 20
    w, b = rnd(c, dtype, 20), rnd(c, dtype, 21)
    xg = x.astype(np.float64).reshape(n, groups, -1)
    mean, var = xg.mean(axis=2), xg.var(axis=2)
    bshape = (1, c) + (1,) * (len(shape) - 2)
    ref = ((xg - mean[..., None]) / np.sqrt(var[..., None] + 1e-5)).reshape(shape)
    ref = ref * w.reshape(bshape) + b.reshape(bshape)
    y, m, r = K.groupnorm_forward(x, groups, w, b, 1e-5)
    close(y, ref, dtype, 10)
    close(m, mean, dtype, 10)
    xd, wd, bd = x.astype(np.float64) - 20, w.astype(np.float64), b.astype(np.float64)
    gy = rnd(shape, seed=22)
    _, m, r = K.groupnorm_forward(xd, groups, wd, bd, 1e-5)
    gx, gw, gb = K.groupnorm_backward(gy, xd, groups, wd, m, r)
    fd_check(lambda a: K.groupnorm_forward(a, groups, wd, bd, 1e-5)[0], xd, gy, gx)
    for i, (fw, g) in enumerate(
        [
            (lambda v: K.groupnorm_forward(xd, groups, v, bd)[0], gw),
            (lambda v: K.groupnorm_forward(xd, groups, wd, v)[0], gb),
        ]
    ):
        fd_check(fw, (wd, bd)[i], gy, g)


def test_norm_bad_inputs_raise():
    x = rnd((4, 3, 2), np.float32)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        K.batchnorm_forward(x[:1, :, :1], None, None, None, None, True)
    with pytest.raises(ValueError, match="running_mean and running_var are needed"):
        K.batchnorm_forward(x, None, None, None, None, False)
    with pytest.raises(TypeError, match="running_mean must be a float32"):
        K.batchnorm_forward(x, None, None, np.zeros(3), np.ones(3, np.float32), True)
    with pytest.raises(ValueError, match="weight has shape"):
        K.batchnorm_forward(x, np.ones(4, np.float32), None, None, None, True)
    with pytest.raises(ValueError, match="num_groups must be a positive divisor"):
        K.groupnorm_forward(x, 2)
    with pytest.raises(ValueError, match="normalized_ndim"):
        K.layernorm_forward(x, 4)
    with pytest.raises(ValueError, match="gy has shape"):
        K.layernorm_backward(x[:1], x, 1, None, *K.layernorm_forward(x, 1)[1:])


# ---------------------------------------------------------------- embedding


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("pad,scale", [(None, False), (2, False), (-1, True), (None, True)])
def test_embedding_backward(dtype, pad, scale):
    rng = np.random.default_rng(23)
    idx = rng.integers(0, 7, (4, 5))
    gy = rnd((4, 5, 3), dtype, 24)
    ref = np.zeros((7, 3))
    counts = np.bincount(idx.ravel(), minlength=7)
    for i, row in zip(idx.ravel(), gy.reshape(-1, 3)):
        if pad is None or i != pad % 7:
            ref[i] += row / (counts[i] if scale else 1)
    close(K.embedding_backward(gy, idx, 7, pad, scale), ref, dtype)


def test_embedding_backward_large_is_thread_count_independent():
    rng = np.random.default_rng(25)
    idx = rng.integers(0, 50, 20000)
    gy = rnd((20000, 64), np.float32, 26)
    ref = np.zeros((50, 64))
    np.add.at(ref, idx, gy.astype(np.float64))
    np.testing.assert_allclose(K.embedding_backward(gy, idx, 50), ref, rtol=1e-4, atol=1e-3)


def test_embedding_bad_inputs_raise():
    gy = np.ones((3, 2), np.float32)
    with pytest.raises(IndexError, match=r"index 5 at position 2 .* \[0, 4\]"):
        K.embedding_backward(gy, np.array([0, 1, 5]), 5)
    with pytest.raises(IndexError, match="index -1 at position 0"):
        K.embedding_backward(gy, np.array([-1, 1, 2]), 5)
    with pytest.raises(ValueError, match="indices.shape"):
        K.embedding_backward(gy, np.array([0, 1]), 5)
    with pytest.raises(ValueError, match="padding_idx 5"):
        K.embedding_backward(gy, np.array([0, 1, 2]), 5, padding_idx=5)
