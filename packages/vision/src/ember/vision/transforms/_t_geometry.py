"""Geometric transforms: resize, crops, flips, padding, rotation, affine warps."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from . import _f_geometry as F
from . import _random
from ._image import InterpolationMode, as_mode, dims
from ._t_basic import _Simple

__all__ = [
    "CenterCrop",
    "FiveCrop",
    "Pad",
    "RandomAffine",
    "RandomCrop",
    "RandomHorizontalFlip",
    "RandomPerspective",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomVerticalFlip",
    "Resize",
    "Scale",
    "TenCrop",
]


def _size_pair(size: Any, name: str = "size") -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) in (1, 2):
        return int(size[0]), int(size[-1])
    raise TypeError(f"{name} must be an int or a sequence of 1 or 2 ints, got {size!r}")


def _range(value: Any, name: str, center: float = 0.0, min_value: float | None = None):
    """A number v -> (center - v, center + v); a pair stays as it is."""
    if isinstance(value, numbers.Real):
        if value < 0:
            raise ValueError(f"{name} must be non-negative when a single number, got {value}")
        return (center - float(value), center + float(value))
    if isinstance(value, Sequence) and len(value) == 2:
        lo, hi = float(value[0]), float(value[1])
        if lo > hi or (min_value is not None and lo < min_value):
            raise ValueError(f"{name} must be (min, max) with min <= max, got {value!r}")
        return (lo, hi)
    raise TypeError(f"{name} must be a number or a (min, max) pair, got {value!r}")


class Resize(_Simple):
    """Resize to ``size`` (``(h, w)``, or an int for the smaller edge); see ``F.resize``."""

    _args = ("size", "interpolation", "max_size", "antialias")

    def __init__(
        self,
        size: Any,
        interpolation: Any = InterpolationMode.BILINEAR,
        max_size: int | None = None,
        antialias: bool | None = True,
    ) -> None:
        if not isinstance(size, int | Sequence) or isinstance(size, str):
            raise TypeError(f"size must be an int or a sequence, got {size!r}")
        self.size, self.max_size, self.antialias = size, max_size, antialias
        self.interpolation = as_mode(interpolation)

    def __call__(self, img: Any) -> Any:
        return F.resize(img, self.size, self.interpolation, self.max_size, self.antialias)


class Scale(Resize):
    """The seed's (and old torchvision's) name for :class:`Resize`."""


class CenterCrop(_Simple):
    """Crop the centre ``size`` box."""

    _args = ("size",)

    def __init__(self, size: Any) -> None:
        self.size = _size_pair(size)

    def __call__(self, img: Any) -> Any:
        return F.center_crop(img, self.size)


class Pad(_Simple):
    """Pad the borders (see ``F.pad`` for ``padding`` and ``padding_mode``)."""

    _args = ("padding", "fill", "padding_mode")

    def __init__(self, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> None:
        F._padding(padding)  # validate now, not at the first image
        if padding_mode not in F._PAD_MODES:
            raise ValueError(f"padding_mode must be one of {list(F._PAD_MODES)}")
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def __call__(self, img: Any) -> Any:
        return F.pad(img, self.padding, self.fill, self.padding_mode)


class RandomCrop(_Simple):
    """Crop a ``size`` box at a random place, after optional padding.

    ``pad_if_needed`` pads an image smaller than ``size`` so a crop fits.
    """

    _args = ("size", "padding")

    def __init__(
        self,
        size: Any,
        padding: Any = None,
        pad_if_needed: bool = False,
        fill: Any = 0,
        padding_mode: str = "constant",
    ) -> None:
        self.size = _size_pair(size)
        self.padding, self.pad_if_needed = padding, pad_if_needed
        self.fill, self.padding_mode = fill, padding_mode

    @staticmethod
    def get_params(img: Any, output_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """``(top, left, height, width)`` of a random crop of ``output_size``."""
        _, h, w = dims(img)
        th, tw = output_size
        if h < th or w < tw:
            raise ValueError(f"crop size {(th, tw)} is larger than the image {(h, w)}")
        if (h, w) == (th, tw):
            return 0, 0, h, w
        return _random.randint(0, h - th + 1), _random.randint(0, w - tw + 1), th, tw

    def __call__(self, img: Any) -> Any:
        if self.padding is not None:
            img = F.pad(img, self.padding, self.fill, self.padding_mode)
        _, h, w = dims(img)
        th, tw = self.size
        if self.pad_if_needed and (h < th or w < tw):
            dw, dh = max(tw - w, 0), max(th - h, 0)
            img = F.pad(img, [dw, dh], self.fill, self.padding_mode)
        return F.crop(img, *self.get_params(img, self.size))


class RandomResizedCrop(_Simple):
    """Crop a random area and aspect ratio, then resize to ``size`` (Inception-style)."""

    _args = ("size", "scale", "ratio", "interpolation")

    def __init__(
        self,
        size: Any,
        scale: tuple[float, float] = (0.08, 1.0),
        ratio: tuple[float, float] = (3.0 / 4.0, 4.0 / 3.0),
        interpolation: Any = InterpolationMode.BILINEAR,
        antialias: bool | None = True,
    ) -> None:
        self.size = _size_pair(size)
        self.scale, self.ratio = _range(scale, "scale"), _range(ratio, "ratio")
        self.interpolation, self.antialias = as_mode(interpolation), antialias

    @staticmethod
    def get_params(img: Any, scale: Sequence[float], ratio: Sequence[float]):
        """``(top, left, height, width)``: 10 tries at a random box, then a central crop."""
        _, h, w = dims(img)
        area = h * w
        log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
        for _ in range(10):
            target = area * _random.uniform(scale[0], scale[1])
            aspect = math.exp(_random.uniform(*log_ratio))
            cw = int(round(math.sqrt(target * aspect)))
            ch = int(round(math.sqrt(target / aspect)))
            if 0 < cw <= w and 0 < ch <= h:
                return _random.randint(0, h - ch + 1), _random.randint(0, w - cw + 1), ch, cw
        in_ratio = w / h
        if in_ratio < min(ratio):
            cw, ch = w, int(round(w / min(ratio)))
        elif in_ratio > max(ratio):
            ch, cw = h, int(round(h * max(ratio)))
        else:
            cw, ch = w, h
        return (h - ch) // 2, (w - cw) // 2, ch, cw

    def __call__(self, img: Any) -> Any:
        i, j, h, w = self.get_params(img, self.scale, self.ratio)
        return F.resized_crop(img, i, j, h, w, self.size, self.interpolation, self.antialias)


class RandomHorizontalFlip(_Simple):
    """Mirror left-right with probability ``p``."""

    _args = ("p",)

    def __init__(self, p: float = 0.5) -> None:
        self.p = p

    def __call__(self, img: Any) -> Any:
        return F.hflip(img) if _random.coin(self.p) else img


class RandomVerticalFlip(RandomHorizontalFlip):
    """Mirror top-bottom with probability ``p``."""

    def __call__(self, img: Any) -> Any:
        return F.vflip(img) if _random.coin(self.p) else img


class RandomRotation(_Simple):
    """Rotate by an angle drawn from ``degrees`` (a number d means (-d, d)), counter-clockwise."""

    _args = ("degrees", "interpolation", "expand", "center", "fill")

    def __init__(
        self,
        degrees: Any,
        interpolation: Any = InterpolationMode.NEAREST,
        expand: bool = False,
        center: Sequence[float] | None = None,
        fill: Any = 0,
    ) -> None:
        self.degrees = _range(degrees, "degrees")
        self.interpolation, self.expand = as_mode(interpolation), expand
        self.center, self.fill = center, fill

    @staticmethod
    def get_params(degrees: Sequence[float]) -> float:
        """An angle drawn uniformly from ``degrees``."""
        return _random.uniform(degrees[0], degrees[1])

    def __call__(self, img: Any) -> Any:
        angle = self.get_params(self.degrees)
        return F.rotate(img, angle, self.interpolation, self.expand, self.center, self.fill)


class RandomAffine(_Simple):
    """A random rotation, translation, scale and shear about the centre.

    Args:
        degrees: rotation range (number d: (-d, d)), clockwise as ``F.affine``.
        translate: ``(a, b)``: shifts drawn from ``|dx| <= a * width``, ``|dy| <= b * height``.
        scale: ``(min, max)`` scale range.
        shear: x shear range (number s: (-s, s); a pair) or x and y ranges (4 numbers).
    """

    _args = ("degrees", "translate", "scale", "shear", "interpolation", "fill")

    def __init__(
        self,
        degrees: Any,
        translate: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
        shear: Any = None,
        interpolation: Any = InterpolationMode.NEAREST,
        fill: Any = 0,
        center: Sequence[float] | None = None,
    ) -> None:
        self.degrees = _range(degrees, "degrees")
        if translate is not None and (
            len(translate) != 2 or not all(0.0 <= t <= 1.0 for t in translate)
        ):
            raise ValueError(f"translate must be two fractions in [0, 1], got {translate!r}")
        if scale is not None and (len(scale) != 2 or scale[0] <= 0 or scale[0] > scale[1]):
            raise ValueError(f"scale must be (min, max) with 0 < min <= max, got {scale!r}")
        if shear is not None and not isinstance(shear, numbers.Real):
            if len(shear) not in (2, 4):
                raise ValueError(f"shear must be a number or 2 or 4 numbers, got {shear!r}")
        self.translate, self.scale = translate, scale
        if shear is None:
            self.shear = None
        elif isinstance(shear, numbers.Real):
            self.shear = _range(shear, "shear")
        else:
            self.shear = tuple(float(s) for s in shear)
        self.interpolation, self.fill, self.center = as_mode(interpolation), fill, center

    @staticmethod
    def get_params(
        degrees: Sequence[float],
        translate: Sequence[float] | None,
        scale_ranges: Sequence[float] | None,
        shears: Sequence[float] | None,
        img_size: Sequence[int],
    ) -> tuple[float, tuple[int, int], float, tuple[float, float]]:
        """``(angle, (tx, ty), scale, (shear_x, shear_y))`` for an image of ``[width, height]``."""
        angle = _random.uniform(degrees[0], degrees[1])
        tx = ty = 0
        if translate is not None:
            max_dx, max_dy = translate[0] * img_size[0], translate[1] * img_size[1]
            tx = int(round(_random.uniform(-max_dx, max_dx)))
            ty = int(round(_random.uniform(-max_dy, max_dy)))
        scale = _random.uniform(*scale_ranges) if scale_ranges is not None else 1.0
        sx = sy = 0.0
        if shears is not None:
            sx = _random.uniform(shears[0], shears[1])
            if len(shears) == 4:
                sy = _random.uniform(shears[2], shears[3])
        return angle, (tx, ty), scale, (sx, sy)

    def __call__(self, img: Any) -> Any:
        _, h, w = dims(img)
        angle, translate, scale, shear = self.get_params(
            self.degrees, self.translate, self.scale, self.shear, [w, h]
        )
        return F.affine(
            img,
            angle,
            list(translate),
            scale,
            list(shear),
            self.interpolation,
            self.fill,
            self.center,
        )


class FiveCrop(_Simple):
    """The four corner crops and the centre crop of ``size``, as a tuple."""

    _args = ("size",)

    def __init__(self, size: Any) -> None:
        self.size = _size_pair(size)

    def __call__(self, img: Any) -> tuple:
        return F.five_crop(img, self.size)


class TenCrop(FiveCrop):
    """:class:`FiveCrop` of the image and of its flipped copy (10 crops)."""

    _args = ("size", "vertical_flip")

    def __init__(self, size: Any, vertical_flip: bool = False) -> None:
        super().__init__(size)
        self.vertical_flip = vertical_flip

    def __call__(self, img: Any) -> tuple:
        return F.ten_crop(img, self.size, self.vertical_flip)


class RandomPerspective(_Simple):
    """With probability ``p``, a random perspective warp moving each corner inwards.

    ``distortion_scale`` (0..1) bounds how far a corner moves, as a fraction of
    half the image size.
    """

    _args = ("distortion_scale", "p", "interpolation", "fill")

    def __init__(
        self,
        distortion_scale: float = 0.5,
        p: float = 0.5,
        interpolation: Any = InterpolationMode.BILINEAR,
        fill: Any = 0,
    ) -> None:
        if not 0 <= distortion_scale <= 1:
            raise ValueError(f"distortion_scale must be in [0, 1], got {distortion_scale}")
        self.distortion_scale, self.p = distortion_scale, p
        self.interpolation, self.fill = as_mode(interpolation), fill

    @staticmethod
    def get_params(width: int, height: int, distortion_scale: float):
        """``(startpoints, endpoints)``: the corners and where they move (lists of [x, y])."""
        dw, dh = int(distortion_scale * (width // 2)), int(distortion_scale * (height // 2))
        r = _random.randint
        top_left = [r(0, dw + 1), r(0, dh + 1)]
        top_right = [r(width - dw - 1, width), r(0, dh + 1)]
        bottom_right = [r(width - dw - 1, width), r(height - dh - 1, height)]
        bottom_left = [r(0, dw + 1), r(height - dh - 1, height)]
        start = [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]]
        return start, [top_left, top_right, bottom_right, bottom_left]

    def __call__(self, img: Any) -> Any:
        if not _random.coin(self.p):
            return img
        _, h, w = dims(img)
        start, end = self.get_params(w, h, self.distortion_scale)
        return F.perspective(img, start, end, self.interpolation, self.fill)
