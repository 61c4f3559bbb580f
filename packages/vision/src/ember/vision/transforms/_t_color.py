"""Colour transforms: grayscale, colour jitter, blur, random erasing."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import ember

from . import _f_color as F
from . import _f_convert, _random
from ._image import check_image, dims, is_pil
from ._t_basic import _Simple

__all__ = ["ColorJitter", "GaussianBlur", "Grayscale", "RandomErasing", "RandomGrayscale"]


class Grayscale(_Simple):
    """Convert to grayscale with 1 or 3 output channels."""

    _args = ("num_output_channels",)

    def __init__(self, num_output_channels: int = 1) -> None:
        if num_output_channels not in (1, 3):
            raise ValueError(f"num_output_channels must be 1 or 3, got {num_output_channels}")
        self.num_output_channels = num_output_channels

    def __call__(self, img: Any) -> Any:
        return F.rgb_to_grayscale(img, self.num_output_channels)


class RandomGrayscale(_Simple):
    """Grayscale with probability ``p``, keeping the number of channels."""

    _args = ("p",)

    def __init__(self, p: float = 0.1) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        if not _random.coin(self.p):
            return img
        return F.rgb_to_grayscale(img, dims(img)[0] if dims(img)[0] in (1, 3) else 1)


def _jitter_range(value: Any, name: str, center: float, bound: tuple[float, float]):
    if value is None:
        return None
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"{name} must be non-negative, got {value}")
        lo, hi = center - float(value), center + float(value)
        lo = max(lo, 0.0) if name != "hue" else lo
    elif isinstance(value, Sequence) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
    else:
        raise TypeError(f"{name} must be a number or a (min, max) pair, got {value!r}")
    if not bound[0] <= lo <= hi <= bound[1]:
        raise ValueError(f"{name} range ({lo}, {hi}) must lie within {bound}")
    return None if lo == hi == center else (lo, hi)


class ColorJitter(_Simple):
    """Randomly change brightness, contrast, saturation and hue, in a random order.

    Each of ``brightness``, ``contrast``, ``saturation`` is a number f (factor
    drawn from ``[max(0, 1 - f), 1 + f]``) or a ``(min, max)`` pair; ``hue``
    is h in ``[0, 0.5]`` (shift drawn from ``[-h, h]``) or a pair in ``[-0.5, 0.5]``.
    """

    _args = ("brightness", "contrast", "saturation", "hue")

    def __init__(self, brightness: Any = 0, contrast: Any = 0, saturation: Any = 0, hue: Any = 0):
        inf = float("inf")
        self.brightness = _jitter_range(brightness, "brightness", 1.0, (0.0, inf))
        self.contrast = _jitter_range(contrast, "contrast", 1.0, (0.0, inf))
        self.saturation = _jitter_range(saturation, "saturation", 1.0, (0.0, inf))
        self.hue = _jitter_range(hue, "hue", 0.0, (-0.5, 0.5))

    @staticmethod
    def get_params(brightness, contrast, saturation, hue):
        """``(order, b, c, s, h)``: a permutation of the four adjustments and their factors."""
        order = ember.randperm(4).tolist()
        draw = [None if r is None else _random.uniform(r[0], r[1]) for r in (brightness, contrast)]
        draw += [None if r is None else _random.uniform(r[0], r[1]) for r in (saturation, hue)]
        return (order, *draw)

    def __call__(self, img: Any) -> Any:
        order, *factors = self.get_params(self.brightness, self.contrast, self.saturation, self.hue)
        fns = (F.adjust_brightness, F.adjust_contrast, F.adjust_saturation, F.adjust_hue)
        for i in order:
            if factors[i] is not None:
                img = fns[i](img, factors[i])
        return img


class GaussianBlur(_Simple):
    """Gaussian blur with sigma drawn from ``sigma`` (a number, or a ``(min, max)`` range)."""

    _args = ("kernel_size", "sigma")

    def __init__(self, kernel_size: Any, sigma: Any = (0.1, 2.0)) -> None:
        ks = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if len(ks) != 2 or any(not isinstance(k, int) or k <= 0 or k % 2 == 0 for k in ks):
            raise ValueError(f"kernel_size must be positive odd ints, got {kernel_size!r}")
        if isinstance(sigma, numbers.Real):
            if sigma <= 0:
                raise ValueError(f"sigma must be positive, got {sigma}")
            sigma = (float(sigma), float(sigma))
        elif not (isinstance(sigma, Sequence) and len(sigma) == 2 and 0 < sigma[0] <= sigma[1]):
            raise ValueError(f"sigma must be a positive number or (min, max), got {sigma!r}")
        self.kernel_size, self.sigma = ks, tuple(sigma)

    @staticmethod
    def get_params(sigma_min: float, sigma_max: float) -> float:
        """A sigma drawn uniformly from ``[sigma_min, sigma_max]``."""
        return _random.uniform(sigma_min, sigma_max)

    def __call__(self, img: Any) -> Any:
        s = self.get_params(*self.sigma)
        return F.gaussian_blur(img, self.kernel_size, [s, s])


class RandomErasing(_Simple):
    """With probability ``p``, erase a random box of a tensor image (Zhong et al., 2017).

    Args:
        scale: range of the erased area, as a fraction of the image.
        ratio: range of the box's aspect ratio (drawn log-uniformly).
        value: fill value: a number, one per channel, or ``"random"`` (normal noise).
        inplace: modify the input tensor.
    """

    _args = ("p", "scale", "ratio", "value", "inplace")

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        if scale[0] > scale[1] or ratio[0] > ratio[1] or not 0 <= scale[0] <= scale[1] <= 1:
            raise ValueError(f"scale and ratio must be (min, max) ranges, got {scale}, {ratio}")
        if not (isinstance(value, numbers.Real | Sequence) or value == "random"):
            raise TypeError(f"value must be a number, a sequence or 'random', got {value!r}")
        self.p, self.scale, self.ratio, self.value, self.inplace = p, scale, ratio, value, inplace

    @staticmethod
    def get_params(img: ember.Tensor, scale, ratio, value=None):
        """``(i, j, h, w, v)``: the box and its fill; after 10 failed tries, the image itself."""
        c, h, w = dims(img)
        area = h * w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            erase_area = area * _random.uniform(scale[0], scale[1])
            aspect = math.exp(_random.uniform(*log_ratio))
            eh = int(round(math.sqrt(erase_area * aspect)))
            ew = int(round(math.sqrt(erase_area / aspect)))
            if not (0 < eh < h and 0 < ew < w):
                continue
            if value is None:
                v = ember.randn(c, eh, ew, dtype=img.dtype)
            else:
                v = ember.tensor(value, dtype=img.dtype).reshape(-1, 1, 1)
            return _random.randint(0, h - eh + 1), _random.randint(0, w - ew + 1), eh, ew, v
        return 0, 0, h, w, img

    def __call__(self, img: Any) -> Any:
        check_image(img)
        if is_pil(img):
            raise TypeError("RandomErasing works on tensors; apply ToTensor first")
        if not _random.coin(self.p):
            return img
        value = None if self.value == "random" else self.value
        if isinstance(value, Sequence) and len(value) not in (1, dims(img)[0]):
            raise ValueError(f"value has {len(value)} entries for {dims(img)[0]} channels")
        i, j, h, w, v = self.get_params(img, self.scale, self.ratio, value)
        if v is img:
            return img
        return _f_convert.erase(img, i, j, h, w, v, self.inplace)
