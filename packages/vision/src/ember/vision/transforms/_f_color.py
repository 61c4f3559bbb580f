"""Colour transforms of PIL images and tensors ``(..., C, H, W)``: grayscale, jitter, blur."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

import ember

from . import _resample
from ._image import check_image, from_float, is_pil, max_value, to_float

__all__ = [
    "adjust_brightness",
    "adjust_contrast",
    "adjust_hue",
    "adjust_saturation",
    "gaussian_blur",
    "invert",
    "rgb_to_grayscale",
    "to_grayscale",
]

# ITU-R 601-2 luma weights, as PIL's convert("L") uses.
_LUMA = np.array([0.299, 0.587, 0.114])


def _gray(x: np.ndarray) -> np.ndarray:
    """Luma of float ``x`` (..., 3, H, W), keeping a channel axis of 1."""
    return np.tensordot(_LUMA, np.moveaxis(x, -3, 0), axes=1)[..., None, :, :]


def rgb_to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """Grayscale with ITU-R 601-2 luma (``0.299 R + 0.587 G + 0.114 B``), 1 or 3 channels."""
    check_image(img)
    if num_output_channels not in (1, 3):
        raise ValueError(f"num_output_channels must be 1 or 3, got {num_output_channels}")
    if is_pil(img):
        out = img.convert("L")
        return out.convert("RGB") if num_output_channels == 3 else out
    x = to_float(img)
    if x.ndim < 3 or x.shape[-3] not in (1, 3):
        raise ValueError(f"rgb_to_grayscale expects (..., 1 or 3, H, W), got {tuple(img.shape)}")
    g = x if x.shape[-3] == 1 else _gray(x)
    if num_output_channels == 3:
        g = np.repeat(g, 3, axis=-3)
    return from_float(g, img)


def to_grayscale(img: Any, num_output_channels: int = 1) -> Any:
    """PIL spelling of :func:`rgb_to_grayscale`."""
    return rgb_to_grayscale(img, num_output_channels)


def _check_factor(value: float, name: str) -> float:
    if not isinstance(value, numbers.Real) or value < 0:
        raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    return float(value)


def _blend(img: ember.Tensor, x: np.ndarray, other: np.ndarray, ratio: float) -> ember.Tensor:
    bound = max_value(img.detach().numpy().dtype)
    return from_float(np.clip(ratio * x + (1.0 - ratio) * other, 0.0, bound), img)


def adjust_brightness(img: Any, brightness_factor: float) -> Any:
    """Scale intensities by ``brightness_factor`` (0 black, 1 unchanged), clipped."""
    check_image(img)
    f = _check_factor(brightness_factor, "brightness_factor")
    if is_pil(img):
        return ImageEnhance.Brightness(img).enhance(f)
    x = to_float(img)
    return _blend(img, x, np.zeros_like(x), f)


def adjust_contrast(img: Any, contrast_factor: float) -> Any:
    """Blend with the image's mean gray level (0 solid gray, 1 unchanged)."""
    check_image(img)
    f = _check_factor(contrast_factor, "contrast_factor")
    if is_pil(img):
        return ImageEnhance.Contrast(img).enhance(f)
    x = to_float(img)
    g = _gray(x) if x.ndim >= 3 and x.shape[-3] == 3 else x
    mean = g.mean(axis=(-3, -2, -1), keepdims=True) if g.ndim >= 3 else g.mean()
    return _blend(img, x, np.broadcast_to(mean, x.shape), f)


def adjust_saturation(img: Any, saturation_factor: float) -> Any:
    """Blend with the grayscale image (0 gray, 1 unchanged, 2 doubled saturation)."""
    check_image(img)
    f = _check_factor(saturation_factor, "saturation_factor")
    if is_pil(img):
        return ImageEnhance.Color(img).enhance(f)
    x = to_float(img)
    if x.ndim < 3 or x.shape[-3] == 1:
        return img
    return _blend(img, x, np.broadcast_to(_gray(x), x.shape), f)


def _rgb_to_hsv(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r, g, b = (np.take(x, i, axis=-3) for i in range(3))
    maxc, minc = np.maximum(np.maximum(r, g), b), np.minimum(np.minimum(r, g), b)
    delta = maxc - minc
    s = np.where(maxc > 0, delta / np.where(maxc > 0, maxc, 1), 0.0)
    safe = np.where(delta > 0, delta, 1)
    h = np.where(
        maxc == r, (g - b) / safe, np.where(maxc == g, 2.0 + (b - r) / safe, 4.0 + (r - g) / safe)
    )
    h = np.where(delta > 0, (h / 6.0) % 1.0, 0.0)
    return h, s, maxc


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    i = i.astype(np.int64) % 6
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    rgb = [np.select([i == k for k in range(6)], [c[ch] for c in choices]) for ch in range(3)]
    return np.stack(rgb, axis=-3)


def adjust_hue(img: Any, hue_factor: float) -> Any:
    """Rotate the hue by ``hue_factor`` turns, in ``[-0.5, 0.5]``."""
    check_image(img)
    if not -0.5 <= hue_factor <= 0.5:
        raise ValueError(f"hue_factor must be in [-0.5, 0.5], got {hue_factor}")
    if is_pil(img):
        if img.mode in ("L", "1", "I", "F"):
            return img
        h, s, v = img.convert("HSV").split()
        hue = (np.asarray(h, dtype=np.int64) + int(round(hue_factor * 255))) % 256
        out = Image.merge("HSV", (Image.fromarray(hue.astype(np.uint8)), s, v)).convert("RGB")
        return out if img.mode == "RGB" else out.convert(img.mode)
    x = to_float(img)
    if x.ndim < 3 or x.shape[-3] == 1:
        return img
    bound = max_value(img.detach().numpy().dtype)
    h, s, v = _rgb_to_hsv(x / bound)
    return from_float(_hsv_to_rgb((h + hue_factor) % 1.0, s, v) * bound, img)


def invert(img: Any) -> Any:
    """``max - img`` (255 - x for bytes, 1 - x for floats)."""
    check_image(img)
    if is_pil(img):
        return ImageOps.invert(img)
    return from_float(max_value(img.detach().numpy().dtype) - to_float(img), img)


def gaussian_blur(img: Any, kernel_size: Any, sigma: Any = None) -> Any:
    """Blur with a Gaussian: odd ``kernel_size`` (kx, ky), ``sigma`` (sx, sy), reflect padding.

    Without ``sigma`` it is ``0.3 * ((k - 1) * 0.5 - 1) + 0.8`` per axis, as
    OpenCV and torchvision choose.
    """
    check_image(img)
    ks = [kernel_size, kernel_size] if isinstance(kernel_size, int) else list(kernel_size)
    if len(ks) == 1:
        ks = ks * 2
    if len(ks) != 2 or any((not isinstance(k, int)) or k <= 0 or k % 2 == 0 for k in ks):
        raise ValueError(f"kernel_size must be positive odd ints, got {kernel_size!r}")
    if sigma is None:
        sig = [0.3 * ((k - 1) * 0.5 - 1) + 0.8 for k in ks]
    elif isinstance(sigma, numbers.Real):
        sig = [float(sigma)] * 2
    elif isinstance(sigma, Sequence) and len(sigma) in (1, 2):
        sig = [float(sigma[0]), float(sigma[-1])]
    else:
        raise TypeError(f"sigma must be a number or a sequence of 1 or 2 numbers, got {sigma!r}")
    if any(s <= 0 for s in sig):
        raise ValueError(f"sigma must be positive, got {sigma!r}")
    if is_pil(img):
        from ._f_convert import pil_to_tensor, to_pil_image

        return to_pil_image(gaussian_blur(pil_to_tensor(img), ks, sig), mode=img.mode)
    _, h, w = img.shape[-3:] if img.dim() >= 3 else (1, *img.shape)
    if ks[0] // 2 >= w or ks[1] // 2 >= h:
        raise ValueError(f"kernel_size {ks} is too large for an image of {h}x{w} (reflect padding)")
    return from_float(_resample.gaussian_blur(to_float(img), tuple(ks), tuple(sig)), img)
