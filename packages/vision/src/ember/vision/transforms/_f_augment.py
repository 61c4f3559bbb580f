"""The pixel operations of AutoAugment and its kin: posterize, solarize, autocontrast,
equalize and sharpness, on PIL images and on tensors ``(..., C, H, W)``.

PIL images go through ``ImageOps``/``ImageEnhance``; tensors follow the same
arithmetic in numpy so that a uint8 tensor and the PIL image of the same bytes
give the same result (to within one level where PIL truncates a blend).
Float tensors are taken to lie in ``[0, 1]``.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np
from PIL import ImageEnhance, ImageOps

import ember

from ._f_color import _blend, _check_factor
from ._image import check_image, is_pil, max_value, to_float

__all__ = ["adjust_sharpness", "autocontrast", "equalize", "posterize", "solarize"]


def _array(img: ember.Tensor) -> np.ndarray:
    return img.detach().numpy()


def _is_uint8(a: np.ndarray) -> bool:
    return a.dtype == np.uint8


def _check_pil_mode(img: Any, name: str) -> None:
    if img.mode not in ("L", "RGB"):
        raise ValueError(f"{name} expects a PIL image in mode 'L' or 'RGB', got mode {img.mode!r}")


def _check_uint8_or_float(a: np.ndarray, name: str) -> None:
    if not (_is_uint8(a) or np.issubdtype(a.dtype, np.floating)):
        raise TypeError(f"{name} expects a uint8 or floating-point tensor, got {a.dtype}")


def posterize(img: Any, bits: int) -> Any:
    """Keep the ``bits`` most significant bits of each channel (``1 <= bits <= 8``).

    uint8: ``x & ~(2**(8 - bits) - 1)``. Float in [0, 1]: ``floor(x * 2**bits) / 2**bits``
    (clipped to the top level), the same quantization on the unit scale.
    """
    check_image(img)
    if not isinstance(bits, numbers.Integral) or not 0 <= bits <= 8:
        raise ValueError(f"bits must be an int in [0, 8], got {bits!r}")
    bits = int(bits)
    if is_pil(img):
        _check_pil_mode(img, "posterize")
        return ImageOps.posterize(img, bits)
    a = _array(img)
    _check_uint8_or_float(a, "posterize")
    if _is_uint8(a):
        mask = np.uint8((0xFF << (8 - bits)) & 0xFF)
        return ember.from_numpy(np.bitwise_and(a, mask))
    levels = float(1 << bits)
    out = np.clip(np.floor(a * levels), 0.0, levels - 1.0) / levels
    return ember.from_numpy(np.ascontiguousarray(out.astype(a.dtype)))


def solarize(img: Any, threshold: float) -> Any:
    """Invert every value at or above ``threshold`` (on the image's scale: 0..255 or 0..1)."""
    check_image(img)
    if not isinstance(threshold, numbers.Real):
        raise TypeError(f"threshold must be a number, got {type(threshold).__name__}")
    if is_pil(img):
        _check_pil_mode(img, "solarize")
        return ImageOps.solarize(img, threshold)
    a = _array(img)
    bound = max_value(a.dtype)
    if threshold > bound:
        raise ValueError(f"threshold {threshold} is above the image's maximum value {bound:g}")
    inverted = (bound - a.astype(np.float64)).astype(a.dtype)
    return ember.from_numpy(np.ascontiguousarray(np.where(a >= threshold, inverted, a)))


def autocontrast(img: Any) -> Any:
    """Stretch each channel linearly so that its darkest value becomes 0 and its lightest the max.

    A constant channel is left as it is. Integer results are truncated, as PIL's
    lookup table is.
    """
    check_image(img)
    if is_pil(img):
        _check_pil_mode(img, "autocontrast")
        return ImageOps.autocontrast(img)
    a = _array(img)
    x = to_float(img)
    bound = max_value(a.dtype)
    lo = x.min(axis=(-2, -1), keepdims=True)
    hi = x.max(axis=(-2, -1), keepdims=True)
    flat = hi <= lo
    scale = bound / np.where(flat, 1.0, hi - lo)
    # PIL's arithmetic, x * scale - lo * scale, so that bytes agree exactly.
    out = np.where(flat, x, x * scale + (-lo * scale))
    out = np.clip(out, 0.0, bound)
    if np.issubdtype(a.dtype, np.integer):
        out = np.floor(out)
    return ember.from_numpy(np.ascontiguousarray(out.astype(a.dtype)))


def _equalize_bytes(a: np.ndarray) -> np.ndarray:
    """PIL's histogram equalization of uint8 planes ``(..., H, W)``, each plane on its own."""
    shape = a.shape
    planes = a.reshape(-1, shape[-2] * shape[-1]).astype(np.int64)
    n = planes.shape[0]
    hist = np.bincount((planes + 256 * np.arange(n)[:, None]).ravel(), minlength=256 * n)
    hist = hist.reshape(n, 256)
    top = 255 - np.argmax(hist[:, ::-1] > 0, axis=1)  # the largest value present
    step = (hist.sum(axis=1) - hist[np.arange(n), top]) // 255
    before = np.cumsum(hist, axis=1) - hist  # pixels strictly darker than each value
    safe = np.where(step > 0, step, 1)[:, None]
    lut = np.minimum((step[:, None] // 2 + before) // safe, 255)
    lut = np.where(step[:, None] > 0, lut, np.arange(256))
    return np.take_along_axis(lut, planes, axis=1).astype(np.uint8).reshape(shape)


def equalize(img: Any) -> Any:
    """Equalize each channel's histogram (PIL's algorithm: a cumulative-histogram lookup).

    Float tensors are quantized to 256 levels, equalized, and scaled back.
    """
    check_image(img)
    if is_pil(img):
        _check_pil_mode(img, "equalize")
        return ImageOps.equalize(img)
    a = _array(img)
    _check_uint8_or_float(a, "equalize")
    if _is_uint8(a):
        return ember.from_numpy(_equalize_bytes(a))
    q = np.clip(np.rint(a.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    return ember.from_numpy((_equalize_bytes(q) / 255.0).astype(a.dtype))


def adjust_sharpness(img: Any, sharpness_factor: float) -> Any:
    """Blend with a smoothed copy: 0 smooth, 1 unchanged, 2 twice as sharp.

    The smoothed copy is PIL's ``SMOOTH`` filter (centre 5, neighbours 1, over 13)
    on the interior, the original on the one-pixel border.
    """
    check_image(img)
    f = _check_factor(sharpness_factor, "sharpness_factor")
    if is_pil(img):
        return ImageEnhance.Sharpness(img).enhance(f)
    h, w = img.shape[-2:]
    if h <= 2 or w <= 2:  # no interior: the smoothed copy is the image itself
        return img
    x = to_float(img)
    a = _array(img)
    box = sum(x[..., i : h - 2 + i, j : w - 2 + j] for i in range(3) for j in range(3))
    interior = (box + 4.0 * x[..., 1:-1, 1:-1]) / 13.0
    if np.issubdtype(a.dtype, np.integer):
        interior = np.floor(interior + 0.5)  # the filter's own output is whole levels
    smooth = x.copy()
    smooth[..., 1:-1, 1:-1] = interior
    if not np.issubdtype(a.dtype, np.integer):
        return _blend(img, x, smooth, f)
    # PIL's blend in single precision, truncated toward zero, then clipped.
    s32 = smooth.astype(np.float32)
    out = np.trunc(s32 + np.float32(f) * (x.astype(np.float32) - s32))
    out = np.clip(out, 0, max_value(a.dtype)).astype(a.dtype)
    return ember.from_numpy(np.ascontiguousarray(out))
