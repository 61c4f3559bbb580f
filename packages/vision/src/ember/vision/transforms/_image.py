"""Telling PIL images from tensors, and moving tensor images to and from float numpy."""

from __future__ import annotations

from enum import Enum
from typing import Any

import numpy as np
from PIL import Image

import ember


class InterpolationMode(Enum):
    """How to sample between pixels: the names of torchvision's modes."""

    NEAREST = "nearest"
    NEAREST_EXACT = "nearest-exact"
    BILINEAR = "bilinear"
    BICUBIC = "bicubic"
    BOX = "box"
    HAMMING = "hamming"
    LANCZOS = "lanczos"


def pil_filter(mode: InterpolationMode) -> int:
    """The PIL resampling constant for ``mode``."""
    table = {
        InterpolationMode.NEAREST: Image.Resampling.NEAREST,
        InterpolationMode.NEAREST_EXACT: Image.Resampling.NEAREST,
        InterpolationMode.BILINEAR: Image.Resampling.BILINEAR,
        InterpolationMode.BICUBIC: Image.Resampling.BICUBIC,
        InterpolationMode.BOX: Image.Resampling.BOX,
        InterpolationMode.HAMMING: Image.Resampling.HAMMING,
        InterpolationMode.LANCZOS: Image.Resampling.LANCZOS,
    }
    return table[mode]


def as_mode(interpolation: Any) -> InterpolationMode:
    """Accept an InterpolationMode, its string value, or a PIL resampling int."""
    if isinstance(interpolation, InterpolationMode):
        return interpolation
    if isinstance(interpolation, str) and interpolation in {m.value for m in InterpolationMode}:
        return InterpolationMode(interpolation)
    if isinstance(interpolation, int):
        inverse = {int(pil_filter(m)): m for m in reversed(InterpolationMode)}
        if interpolation in inverse:
            return inverse[interpolation]
    raise TypeError(
        f"interpolation must be an InterpolationMode, got {interpolation!r} "
        f"(one of {[m.name for m in InterpolationMode]})"
    )


def is_pil(img: Any) -> bool:
    """True for a ``PIL.Image.Image``."""
    return isinstance(img, Image.Image)


def check_image(img: Any, name: str = "img") -> None:
    """Raise TypeError unless ``img`` is a PIL image or a tensor with at least 2 dims."""
    if is_pil(img):
        return
    if isinstance(img, ember.Tensor):
        if img.dim() < 2:
            raise ValueError(f"{name} tensor must have shape (..., H, W), got {tuple(img.shape)}")
        return
    raise TypeError(f"{name} must be a PIL Image or an ember.Tensor, got {type(img).__name__}")


def to_float(t: ember.Tensor) -> np.ndarray:
    """A float64 copy of tensor ``t``'s values (integers keep their scale)."""
    return np.asarray(t.detach().numpy(), dtype=np.float64)


def from_float(x: np.ndarray, like: ember.Tensor) -> ember.Tensor:
    """A tensor of ``like``'s dtype from float values: integers are rounded and clipped."""
    npdt = like.detach().numpy().dtype
    if np.issubdtype(npdt, np.integer):
        info = np.iinfo(npdt)
        x = np.clip(np.rint(x), info.min, info.max)
    elif npdt == np.bool_:
        x = x > 0.5
    return ember.from_numpy(np.ascontiguousarray(x.astype(npdt)))


def max_value(dtype) -> float:
    """The value of full intensity: 1.0 for floats, the type's max for integers."""
    npdt = np.dtype(dtype)
    return float(np.iinfo(npdt).max) if np.issubdtype(npdt, np.integer) else 1.0


def dims(img: Any) -> tuple[int, int, int]:
    """``(channels, height, width)`` of a PIL image or a tensor ``(..., C, H, W)``."""
    if is_pil(img):
        return len(img.getbands()), img.height, img.width
    shape = tuple(img.shape)
    channels = shape[-3] if len(shape) >= 3 else 1
    return channels, shape[-2], shape[-1]


def fill_for(fill: Any, channels: int) -> np.ndarray:
    """``fill`` (None, a number or a sequence) as one value per channel."""
    if fill is None:
        fill = 0
    values = np.atleast_1d(np.asarray(fill, dtype=np.float64))
    if values.size == 1:
        return np.repeat(values, channels)
    if values.size != channels:
        raise ValueError(f"fill has {values.size} values but the image has {channels} channels")
    return values


def pil_fill(fill: Any, img: Any):
    """``fill`` in the form PIL's ``fillcolor`` wants for ``img``'s mode."""
    if fill is None:
        return None
    values = fill_for(fill, len(img.getbands()))
    cast = float if img.mode in ("F",) else int
    return cast(values[0]) if len(values) == 1 else tuple(cast(v) for v in values)
