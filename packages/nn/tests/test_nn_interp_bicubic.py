"""F.interpolate / Upsample modes 'bicubic' (Keys' kernel, A = -0.75) and N-d 'area',
'trilinear', 'nearest-exact': a per-pixel numpy reference written here, PyTorch
2.13 fixtures (fixtures/c/sampling.npz), first and second derivatives."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import ember as E
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "c", "sampling.npz")


@pytest.fixture(scope="module")
def fx():
    return dict(np.load(FIX))


def keys(t: float, a: float = -0.75) -> float:
    """Keys' cubic convolution kernel at distance ``t``."""
    t = abs(t)
    if t <= 1:
        return (a + 2) * t**3 - (a + 3) * t**2 + 1
    if t < 2:
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a
    return 0.0


def bicubic_ref(x: np.ndarray, out_hw, align_corners: bool, scales=None) -> np.ndarray:
    """One output pixel at a time: 16 clamped taps weighted by keys(dx) * keys(dy)."""
    n, c, h, w = x.shape
    oh, ow = out_hw

    def src(i, n_in, n_out, sf):
        if align_corners:
            return i * ((n_in - 1) / (n_out - 1) if n_out > 1 else 0.0)
        scale = 1.0 / sf if sf else n_in / n_out
        return (i + 0.5) * scale - 0.5  # not clamped at 0 for cubic

    out = np.zeros((n, c, oh, ow))
    for oy in range(oh):
        sy = src(oy, h, oh, scales and scales[0])
        fy = math.floor(sy)
        for ox in range(ow):
            sx = src(ox, w, ow, scales and scales[1])
            fx_ = math.floor(sx)
            acc = np.zeros((n, c))
            for ky in range(fy - 1, fy + 3):
                for kx in range(fx_ - 1, fx_ + 3):
                    wgt = keys(sy - ky) * keys(sx - kx)
                    acc += wgt * x[:, :, min(max(ky, 0), h - 1), min(max(kx, 0), w - 1)]
            out[:, :, oy, ox] = acc
    return out


def area_ref(x: np.ndarray, size) -> np.ndarray:
    """Adaptive average pooling over 3 spatial dims, one output cell at a time."""
    out = np.zeros(x.shape[:2] + tuple(size))
    bins = [
        [(i * s // o, -(-(i + 1) * s // o)) for i in range(o)] for s, o in zip(x.shape[2:], size)
    ]
    for i, (a0, a1) in enumerate(bins[0]):
        for j, (b0, b1) in enumerate(bins[1]):
            for k, (c0, c1) in enumerate(bins[2]):
                out[:, :, i, j, k] = x[:, :, a0:a1, b0:b1, c0:c1].mean((2, 3, 4))
    return out


CASES = [
    ((9, 4), False, None),
    ((3, 11), True, None),
    ((1, 6), True, None),
    ((1, 1), False, None),
    ((8, 14), False, (1.7, 2.0)),
    ((2, 3), False, (0.5, 0.5)),
]


@pytest.mark.parametrize("size,ac,sf", CASES)
def test_bicubic_matches_per_pixel_numpy(size, ac, sf):
    x = np.random.default_rng(3).standard_normal((2, 3, 5, 7))
    kw = {"scale_factor": sf} if sf else {"size": size}
    got = F.interpolate(E.tensor(x), mode="bicubic", align_corners=ac, **kw).numpy()
    assert got.shape == (2, 3) + tuple(size)
    np.testing.assert_allclose(got, bicubic_ref(x, size, ac, sf), rtol=1e-12, atol=1e-12)


def test_bicubic_overshoots_and_reproduces_constant():
    # a step edge rings (negative lobes), a constant stays exactly constant
    step = np.zeros((1, 1, 1, 6))
    step[..., 3:] = 1.0
    y = F.interpolate(E.tensor(step), size=(1, 17), mode="bicubic").numpy()
    assert y.min() < -1e-3 and y.max() > 1 + 1e-3
    const = np.full((1, 2, 4, 5), 2.5)
    yc = F.interpolate(E.tensor(const), size=(7, 3), mode="bicubic").numpy()
    np.testing.assert_allclose(yc, 2.5, rtol=0, atol=1e-14)


@pytest.mark.parametrize(
    "key,kw",
    [
        ("bic_up_down", {"size": (9, 4)}),
        ("bic_ac", {"size": (3, 11), "align_corners": True}),
        ("bic_sf", {"scale_factor": 1.7}),
        ("bic_sf_ac", {"scale_factor": (2.0, 0.5), "align_corners": True}),
        ("bic_one", {"size": (1, 6), "align_corners": True}),
    ],
)
def test_bicubic_matches_torch_fixture(fx, key, kw):
    got = F.interpolate(E.tensor(fx["x"]), mode="bicubic", **kw).numpy()
    np.testing.assert_allclose(got, fx[key], rtol=1e-12, atol=1e-12)


def test_bicubic_input_gradient_matches_torch_fixture(fx):
    x = E.tensor(fx["x"], requires_grad=True)
    y = F.interpolate(x, size=(9, 4), mode="bicubic")
    (y * E.tensor(fx["proj"])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), fx["bic_grad"], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("ac", [False, True])
def test_bicubic_gradcheck_and_gradgradcheck(ac):
    x = E.tensor(np.random.default_rng(5).standard_normal((1, 2, 3, 4)), requires_grad=True)

    def f(t):
        return F.interpolate(t, size=(5, 3), mode="bicubic", align_corners=ac)

    assert gradcheck(f, (x,))
    assert gradgradcheck(f, (x,))


def test_upsample_module_bicubic_and_float32():
    x = np.random.default_rng(6).standard_normal((1, 1, 4, 4)).astype(np.float32)
    m = nn.Upsample(scale_factor=2, mode="bicubic", align_corners=False)
    y = m(E.tensor(x))
    assert y.dtype == E.float32 and tuple(y.shape) == (1, 1, 8, 8)
    ref = bicubic_ref(x.astype(np.float64), (8, 8), False, (2.0, 2.0))
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-5, atol=1e-5)
    assert "bicubic" in repr(m)


def test_area_5d_matches_numpy_and_torch(fx):
    x5 = fx["x5"]
    for key, size in (("area5", (3, 4, 2)), ("area5_up", (7, 6, 9))):
        got = F.interpolate(E.tensor(x5), size=size, mode="area").numpy()
        np.testing.assert_allclose(got, area_ref(x5, size), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(got, fx[key], rtol=1e-12, atol=1e-12)


def test_area_5d_gradcheck():
    x = E.tensor(np.random.default_rng(7).standard_normal((1, 1, 3, 4, 5)), requires_grad=True)
    assert gradcheck(lambda t: F.interpolate(t, size=(2, 3, 2), mode="area"), (x,))


def test_trilinear_and_nearest_exact_5d_match_torch(fx):
    x5 = E.tensor(fx["x5"])
    got = F.interpolate(x5, size=(3, 8, 5), mode="trilinear").numpy()
    np.testing.assert_allclose(got, fx["tri5"], rtol=1e-12, atol=1e-12)
    got = F.interpolate(x5, scale_factor=1.5, mode="trilinear", align_corners=True).numpy()
    np.testing.assert_allclose(got, fx["tri5_ac"], rtol=1e-12, atol=1e-12)
    got = F.interpolate(x5, size=(3, 9, 4), mode="nearest-exact").numpy()
    np.testing.assert_allclose(got, fx["nex5"], rtol=0, atol=0)


def test_bicubic_bad_input():
    with pytest.raises(NotImplementedError, match=r"'bicubic' needs 4-D input.*\(1, 2, 5\)"):
        F.interpolate(E.zeros(1, 2, 5), size=3, mode="bicubic")
    with pytest.raises(NotImplementedError, match="antialias"):
        F.interpolate(E.zeros(1, 1, 4, 4), size=2, mode="bicubic", antialias=True)
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(E.zeros(1, 1, 4, 4), size=2, mode="area", align_corners=True)
