"""Reading and writing image files as uint8 tensors ``(C, H, W)`` (through Pillow)."""

from __future__ import annotations

import io as _io
import os
from enum import Enum

import numpy as np
from PIL import Image, UnidentifiedImageError

import ember

__all__ = [
    "ImageReadMode",
    "decode_image",
    "encode_jpeg",
    "encode_png",
    "read_file",
    "read_image",
    "write_file",
    "write_jpeg",
    "write_png",
]


class ImageReadMode(Enum):
    """Channels to decode to: as stored, gray, gray+alpha, RGB or RGBA."""

    UNCHANGED = None
    GRAY = "L"
    GRAY_ALPHA = "LA"
    RGB = "RGB"
    RGB_ALPHA = "RGBA"


def read_file(path: str | os.PathLike[str]) -> ember.Tensor:
    """The bytes of a file as a 1-D uint8 tensor."""
    with open(path, "rb") as f:
        return ember.from_numpy(np.frombuffer(f.read(), dtype=np.uint8).copy())


def write_file(path: str | os.PathLike[str], data: ember.Tensor) -> None:
    """Write a 1-D uint8 tensor's bytes to ``path``."""
    with open(path, "wb") as f:
        f.write(_bytes_of(data))


def _bytes_of(data: ember.Tensor) -> bytes:
    a = data.detach().numpy()
    if a.dtype != np.uint8 or a.ndim != 1:
        raise ValueError(f"expected a 1-D uint8 tensor of bytes, got {a.dtype} {a.shape}")
    return a.tobytes()


def decode_image(
    input: ember.Tensor, mode: ImageReadMode = ImageReadMode.UNCHANGED
) -> ember.Tensor:
    """Decode encoded image bytes (PNG, JPEG, GIF, BMP, ...) to a uint8 ``(C, H, W)`` tensor."""
    try:
        img = Image.open(_io.BytesIO(_bytes_of(input)))
        img.load()
    except UnidentifiedImageError as e:
        raise ValueError(f"cannot decode the image data: {e}") from e
    if mode.value is not None:
        img = img.convert(mode.value)
    elif img.mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    a = np.asarray(img)
    a = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
    return ember.from_numpy(np.ascontiguousarray(a))


def read_image(
    path: str | os.PathLike[str], mode: ImageReadMode = ImageReadMode.UNCHANGED
) -> ember.Tensor:
    """Read an image file into a uint8 ``(C, H, W)`` tensor."""
    return decode_image(read_file(path), mode)


def _to_pil(image: ember.Tensor):
    a = image.detach().numpy()
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[0] not in (1, 3):
        raise ValueError(f"expected a uint8 (1 or 3, H, W) image tensor, got {a.dtype} {a.shape}")
    return Image.fromarray(a[0] if a.shape[0] == 1 else np.ascontiguousarray(a.transpose(1, 2, 0)))


def encode_png(input: ember.Tensor, compression_level: int = 6) -> ember.Tensor:
    """PNG bytes (1-D uint8 tensor) of a uint8 ``(C, H, W)`` image."""
    if not 0 <= compression_level <= 9:
        raise ValueError(f"compression_level must be in 0..9, got {compression_level}")
    buf = _io.BytesIO()
    _to_pil(input).save(buf, format="PNG", compress_level=compression_level)
    return ember.from_numpy(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def encode_jpeg(input: ember.Tensor, quality: int = 75) -> ember.Tensor:
    """JPEG bytes (1-D uint8 tensor) of a uint8 ``(C, H, W)`` image."""
    if not 1 <= quality <= 100:
        raise ValueError(f"quality must be in 1..100, got {quality}")
    buf = _io.BytesIO()
    _to_pil(input).save(buf, format="JPEG", quality=quality)
    return ember.from_numpy(np.frombuffer(buf.getvalue(), dtype=np.uint8).copy())


def write_png(input: ember.Tensor, filename: str | os.PathLike[str], compression_level: int = 6):
    """Write a uint8 ``(C, H, W)`` image as a PNG file."""
    write_file(filename, encode_png(input, compression_level))


def write_jpeg(input: ember.Tensor, filename: str | os.PathLike[str], quality: int = 75) -> None:
    """Write a uint8 ``(C, H, W)`` image as a JPEG file."""
    write_file(filename, encode_jpeg(input, quality))
