"""transforms.functional against PIL and hand-computed numpy references."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

import ember
from ember.vision.transforms import functional as F
from ember.vision.transforms.functional import InterpolationMode as IM


def _rgb(h=37, w=53, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _t(a_hwc):
    return ember.from_numpy(np.ascontiguousarray(a_hwc.transpose(2, 0, 1)))


def _np(img):
    """HWC (or HW) numpy from a PIL image or CHW tensor."""
    if isinstance(img, Image.Image):
        return np.asarray(img)
    a = img.numpy()
    return a.transpose(1, 2, 0) if a.ndim == 3 else a


def test_to_tensor_scales_bytes_and_roundtrips():
    a = _rgb()
    t = F.to_tensor(Image.fromarray(a))
    assert t.dtype == ember.float32 and tuple(t.shape) == (3, 37, 53)
    np.testing.assert_allclose(t.numpy(), a.transpose(2, 0, 1) / 255.0, rtol=1e-6)
    assert (np.asarray(F.to_pil_image(t)) == a).all()  # exact for every byte value
    every = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert (np.asarray(F.to_pil_image(F.to_tensor(Image.fromarray(every)))) == every).all()
    np.testing.assert_array_equal(F.to_tensor(a[:, :, 0]).numpy()[0], a[:, :, 0] / np.float32(255))
    f = np.random.default_rng(1).standard_normal((4, 5, 2)).astype(np.float32)
    np.testing.assert_array_equal(F.to_tensor(f).numpy(), f.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="PIL Image or numpy.ndarray"):
        F.to_tensor([1, 2])


def test_pil_to_tensor_and_modes():
    a = _rgb()
    t = F.pil_to_tensor(Image.fromarray(a))
    assert t.dtype == ember.uint8 and (t.numpy() == a.transpose(2, 0, 1)).all()
    assert F.to_pil_image(t).mode == "RGB"
    gray = F.to_pil_image(ember.from_numpy(a[None, :, :, 0].copy()))
    assert gray.mode == "L" and (np.asarray(gray) == a[:, :, 0]).all()
    rgba = np.concatenate([a, a[:, :, :1]], axis=2)
    assert F.to_pil_image(_t(rgba)).mode == "RGBA"
    with pytest.raises(ValueError, match="at most 4"):
        F.to_pil_image(ember.zeros(5, 4, 4))


def test_convert_image_dtype_matches_hand_values():
    u8 = ember.tensor([[[0, 1, 128, 255]]], dtype=ember.uint8)
    f = F.convert_image_dtype(u8, ember.float32)
    np.testing.assert_allclose(f.numpy(), np.array([[[0, 1, 128, 255]]]) / 255.0, rtol=1e-6)
    back = F.convert_image_dtype(ember.tensor([[[0.0, 0.5, 1.0]]]), ember.uint8)
    assert back.numpy().tolist() == [[[0, 127, 255]]]
    i16 = F.convert_image_dtype(u8, ember.int16)
    assert i16.numpy().tolist() == [[[0, 128, 128 * 128, 255 * 128]]]
    assert F.convert_image_dtype(i16, ember.uint8).numpy().tolist() == u8.numpy().tolist()
    with pytest.raises(RuntimeError, match="safely"):
        F.convert_image_dtype(ember.zeros(1, 2, 2), ember.int64)


def test_normalize_per_channel():
    x = np.random.default_rng(2).random((2, 3, 4, 5)).astype(np.float32)
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    out = F.normalize(ember.from_numpy(x.copy()), mean, std)
    ref = (x - np.array(mean, np.float32)[:, None, None]) / np.array(std, np.float32)[:, None, None]
    np.testing.assert_allclose(out.numpy(), ref, rtol=1e-6)
    t = ember.from_numpy(x.copy())
    assert F.normalize(t, mean, std, inplace=True) is t
    np.testing.assert_allclose(t.numpy(), ref, rtol=1e-6)
    with pytest.raises(ValueError, match="zeros"):
        F.normalize(ember.from_numpy(x), mean, [1, 0, 1])
    with pytest.raises(TypeError, match="floating-point"):
        F.normalize(ember.zeros(3, 2, 2, dtype=ember.uint8), mean, std)


@pytest.mark.parametrize("mode", [IM.BILINEAR, IM.BICUBIC, IM.BOX, IM.HAMMING, IM.LANCZOS])
@pytest.mark.parametrize("size", [(20, 31), (60, 90), (37, 20)])
def test_resize_tensor_agrees_with_pil(mode, size):
    a = _rgb()
    pil = np.asarray(F.resize(Image.fromarray(a), list(size), mode), dtype=np.int64)
    ten = _np(F.resize(_t(a), list(size), mode)).astype(np.int64)
    assert pil.shape == ten.shape == (*size, 3)
    # PIL rounds its weights to fixed point; the float path may differ by one level.
    assert np.abs(pil - ten).max() <= 1


def test_resize_nearest_rules():
    a = _rgb(7, 9)
    exact = _np(F.resize(_t(a), [4, 5], IM.NEAREST_EXACT))
    assert (exact == np.asarray(Image.fromarray(a).resize((5, 4), Image.Resampling.NEAREST))).all()
    legacy = _np(F.resize(_t(a), [4, 5], IM.NEAREST))
    rows, cols = (
        np.floor(np.arange(4) * 7 / 4).astype(int),
        np.floor(np.arange(5) * 9 / 5).astype(int),
    )
    assert (legacy == a[rows][:, cols]).all()


def test_resize_size_rules_and_batches():
    x = ember.rand(2, 3, 30, 60)
    assert tuple(F.resize(x, 15).shape) == (2, 3, 15, 30)
    assert tuple(F.resize(x, 15, max_size=20).shape) == (2, 3, 10, 20)
    assert F.resize(Image.new("L", (60, 30)), 15).size == (30, 15)
    one = F.resize(x[1], [7, 11])
    np.testing.assert_allclose(F.resize(x, [7, 11])[1].numpy(), one.numpy(), rtol=1e-6)
    # A constant image stays constant under every filter.
    c = F.resize(ember.full((1, 9, 13), 0.25), [4, 17], IM.BICUBIC)
    np.testing.assert_allclose(c.numpy(), 0.25, rtol=1e-12, atol=1e-7)
    with pytest.raises(ValueError, match="max_size"):
        F.resize(x, 15, max_size=10)
    with pytest.raises(TypeError, match="size must be"):
        F.resize(x, "big")


def test_crops_agree_with_slicing_and_pil():
    a = _rgb(20, 30)
    assert (_np(F.crop(_t(a), 3, 4, 10, 12)) == a[3:13, 4:16]).all()
    assert (np.asarray(F.crop(Image.fromarray(a), 3, 4, 10, 12)) == a[3:13, 4:16]).all()
    assert (_np(F.center_crop(_t(a), [10, 10])) == a[5:15, 10:20]).all()
    assert (np.asarray(F.center_crop(Image.fromarray(a), 10)) == a[5:15, 10:20]).all()
    big = _np(F.center_crop(_t(a), [24, 30]))
    assert big.shape == (24, 30, 3) and (big[2:22] == a).all() and (big[:2] == 0).all()
    crops = F.five_crop(_t(a), 8)
    refs = [a[:8, :8], a[:8, 22:], a[12:, :8], a[12:, 22:], a[6:14, 11:19]]
    assert all((_np(c) == r).all() for c, r in zip(crops, refs))
    ten = F.ten_crop(_t(a), 8)
    assert len(ten) == 10 and (_np(ten[5]) == a[:8, ::-1][:, :8]).all()


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric"])
def test_pad_modes_match_numpy_and_pil(mode):
    a = _rgb(6, 7)
    ref = np.pad(a, [(2, 4), (1, 3), (0, 0)], mode=mode)
    assert (_np(F.pad(_t(a), [1, 2, 3, 4], padding_mode=mode)) == ref).all()
    assert (np.asarray(F.pad(Image.fromarray(a), [1, 2, 3, 4], padding_mode=mode)) == ref).all()


def test_pad_fill_and_negative():
    a = _rgb(6, 7)
    out = _np(F.pad(_t(a), 2, fill=(10, 20, 30)))
    assert (out[0, 0] == [10, 20, 30]).all() and (out[2:8, 2:9] == a).all()
    assert (_np(F.pad(_t(a), [-1, -2])) == a[2:4, 1:6]).all()
    p = Image.fromarray(a[:, :, 0]).convert("P")
    assert F.pad(p, 1).mode == "P"
    with pytest.raises(ValueError, match="padding_mode"):
        F.pad(_t(a), 1, padding_mode="wrap")


def test_flips():
    a = _rgb(5, 6)
    assert (_np(F.hflip(_t(a))) == a[:, ::-1]).all()
    assert (_np(F.vflip(_t(a))) == a[::-1]).all()
    assert (np.asarray(F.hflip(Image.fromarray(a))) == a[:, ::-1]).all()
    assert (np.asarray(F.vflip(Image.fromarray(a))) == a[::-1]).all()


def test_rotate_right_angles_exact():
    a = _rgb(16, 16)
    assert (_np(F.rotate(_t(a), 90)) == np.rot90(a)).all()  # counter-clockwise
    assert (np.asarray(F.rotate(Image.fromarray(a), 90)) == np.rot90(a)).all()
    assert (_np(F.rotate(_t(a), 180)) == a[::-1, ::-1]).all()
    r = _rgb(10, 16)
    assert (_np(F.rotate(_t(r), -90, expand=True)) == np.rot90(r, -1)).all()


def test_rotate_and_affine_agree_with_pil():
    a = _rgb(31, 40)
    for kwargs in ({"angle": 30.0}, {"angle": -17.0, "expand": True}):
        pil = np.asarray(F.rotate(Image.fromarray(a), **kwargs))
        ten = _np(F.rotate(_t(a), **kwargs))
        assert pil.shape == ten.shape
        assert (pil == ten).all(axis=2).mean() > 0.98
    args = dict(angle=20.0, translate=[3, -2], scale=1.1, shear=[5.0, 3.0])
    pil = np.asarray(F.affine(Image.fromarray(a), **args))
    ten = _np(F.affine(_t(a), **args))
    assert (pil == ten).all(axis=2).mean() > 0.98


def test_affine_translation_by_hand():
    a = _rgb(12, 14)
    out = _np(F.affine(_t(a), angle=0.0, translate=[2, 3], scale=1.0, shear=0.0, fill=7))
    ref = np.full_like(a, 7)
    ref[3:, 2:] = a[:-3, :-2]
    assert (out == ref).all()
    pil = np.asarray(F.affine(Image.fromarray(a), 0.0, [2, 3], 1.0, 0.0, fill=7))
    assert (pil == ref).all()
    # Bilinear at half-pixel shift averages neighbours.
    x = ember.tensor([[[0.0, 2.0, 4.0, 6.0]]])
    out = F.affine(x, 0.0, [0.5, 0], 1.0, 0.0, IM.BILINEAR)
    np.testing.assert_allclose(out.numpy()[0, 0, 1:], [1.0, 3.0, 5.0])


def test_grayscale_matches_pil():
    a = _rgb()
    pil = np.asarray(Image.fromarray(a).convert("L"), dtype=np.int64)
    ten = F.rgb_to_grayscale(_t(a)).numpy()[0].astype(np.int64)
    assert np.abs(pil - ten).max() <= 1
    f = F.rgb_to_grayscale(F.to_tensor(Image.fromarray(a)), 3).numpy()
    ref = (0.299 * a[..., 0] + 0.587 * a[..., 1] + 0.114 * a[..., 2]) / 255
    np.testing.assert_allclose(f[2], ref, atol=1e-6)
    assert F.to_grayscale(Image.fromarray(a), 3).mode == "RGB"


def test_color_adjustments_by_hand():
    x = np.random.default_rng(3).random((3, 6, 7))
    t = ember.from_numpy(x)
    np.testing.assert_allclose(F.adjust_brightness(t, 1.5).numpy(), np.clip(1.5 * x, 0, 1))
    gray = 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    np.testing.assert_allclose(
        F.adjust_contrast(t, 0.3).numpy(), np.clip(0.3 * x + 0.7 * gray.mean(), 0, 1)
    )
    np.testing.assert_allclose(
        F.adjust_saturation(t, 2.0).numpy(), np.clip(2 * x - gray, 0, 1), atol=1e-12
    )
    np.testing.assert_allclose(F.adjust_hue(t, 0.0).numpy(), x, atol=1e-12)
    red = ember.tensor([[[1.0]], [[0.0]], [[0.0]]])
    np.testing.assert_allclose(F.adjust_hue(red, 0.5).numpy().ravel(), [0, 1, 1], atol=1e-12)
    np.testing.assert_allclose(F.adjust_hue(red, 1 / 3).numpy().ravel(), [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(F.invert(t).numpy(), 1 - x)
    with pytest.raises(ValueError, match="hue_factor"):
        F.adjust_hue(t, 0.7)
    with pytest.raises(ValueError, match="non-negative"):
        F.adjust_brightness(t, -1)


def test_color_adjustments_pil_vs_tensor():
    a = _rgb()
    for fn, f in ((F.adjust_brightness, 0.6), (F.adjust_saturation, 0.4)):
        pil = np.asarray(fn(Image.fromarray(a), f), dtype=np.int64)
        ten = _np(fn(_t(a), f)).astype(np.int64)
        assert np.abs(pil - ten).max() <= 1
    pil = np.asarray(F.adjust_hue(Image.fromarray(a), 0.2), dtype=np.int64)
    ten = _np(F.adjust_hue(_t(a), 0.2)).astype(np.int64)
    # PIL's HSV is 8-bit: its hues are quantized to 1/256 of a turn.
    assert np.median(np.abs(pil - ten)) <= 2


def test_gaussian_blur_by_hand():
    k, s = 5, 1.3
    x = np.zeros((1, 11, 11))
    x[0, 5, 5] = 1.0
    out = F.gaussian_blur(ember.from_numpy(x), [k, k], [s, s]).numpy()[0]
    g = np.exp(-0.5 * (np.arange(-2, 3) / s) ** 2)
    g /= g.sum()
    np.testing.assert_allclose(out[3:8, 3:8], np.outer(g, g), rtol=1e-12)
    assert out.sum() == pytest.approx(1.0)
    c = F.gaussian_blur(ember.full((3, 8, 8), 0.5), 3)
    np.testing.assert_allclose(c.numpy(), 0.5)
    img = F.gaussian_blur(Image.fromarray(_rgb(10, 10)), 3, 1.0)
    assert img.mode == "RGB" and img.size == (10, 10)
    with pytest.raises(ValueError, match="odd"):
        F.gaussian_blur(ember.from_numpy(x), 4)
    default_sigma = 0.3 * ((5 - 1) * 0.5 - 1) + 0.8
    same = F.gaussian_blur(ember.from_numpy(x), 5, default_sigma).numpy()
    np.testing.assert_allclose(F.gaussian_blur(ember.from_numpy(x), 5).numpy(), same)
    assert math.isclose(default_sigma, 1.1)


def test_erase():
    x = ember.ones(3, 6, 6)
    out = F.erase(x, 1, 2, 3, 2, 0.0)
    ref = np.ones((3, 6, 6))
    ref[:, 1:4, 2:4] = 0
    np.testing.assert_array_equal(out.numpy(), ref)
    assert x.numpy().min() == 1.0  # not in place
    F.erase(x, 0, 0, 1, 1, 5.0, inplace=True)
    assert x.numpy()[0, 0, 0] == 5.0


def test_bad_inputs():
    with pytest.raises(TypeError, match="PIL Image or an ember.Tensor"):
        F.hflip(np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"\(\.\.\., H, W\)"):
        F.vflip(ember.zeros(3))
    with pytest.raises(TypeError, match="interpolation"):
        F.resize(ember.zeros(1, 4, 4), 2, interpolation="cubic-ish")


def test_perspective_agrees_with_pil():
    a = _rgb(31, 40)
    s = [[0, 0], [39, 0], [39, 30], [0, 30]]
    e = [[3, 2], [36, 1], [38, 27], [1, 29]]
    pil = np.asarray(F.perspective(Image.fromarray(a), s, e, IM.NEAREST))
    assert (_np(F.perspective(_t(a), s, e, IM.NEAREST)) == pil).all()
    pil = np.asarray(F.perspective(Image.fromarray(a), s, e, IM.BILINEAR)).astype(int)
    ten = _np(F.perspective(_t(a), s, e, IM.BILINEAR)).astype(int)
    # Inside, both interpolate alike; at the border PIL fills where the tensor path blends.
    assert np.abs(pil - ten)[4:-4, 4:-4].max() <= 1
    same = F.perspective(_t(a), s, s, IM.NEAREST)
    assert (_np(same) == a).all()
