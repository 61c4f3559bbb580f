"""Conversions between PIL images, numpy arrays and tensors; normalize; erase."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

import ember

from ._image import is_pil, max_value

__all__ = [
    "convert_image_dtype",
    "erase",
    "normalize",
    "pil_to_tensor",
    "to_pil_image",
    "to_tensor",
]


def _pil_array(pic) -> np.ndarray:
    """A PIL image as an (H, W, C) numpy array in its natural dtype."""
    if pic.mode == "1":
        # Bilevel images come back as bool; PyTorch reads them as 0/255 bytes.
        return (np.asarray(pic, dtype=np.uint8) * 255)[:, :, None]
    a = np.asarray(pic)
    return a[:, :, None] if a.ndim == 2 else a


def pil_to_tensor(pic: Any) -> ember.Tensor:
    """A PIL image as a ``(C, H, W)`` tensor of its own dtype (uint8 for 8-bit modes), unscaled."""
    if not is_pil(pic):
        raise TypeError(f"pic must be a PIL Image, got {type(pic).__name__}")
    a = _pil_array(pic)
    return ember.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))


def to_tensor(pic: Any) -> ember.Tensor:
    """A PIL image or an (H, W[, C]) numpy array as a ``(C, H, W)`` float32 tensor.

    uint8 data is scaled to ``[0, 1]``; other dtypes keep their values
    (16/32-bit integer modes become float32 unscaled, as in torchvision).
    """
    if is_pil(pic):
        a = _pil_array(pic)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_tensor expects an (H, W) or (H, W, C) array, got {pic.shape}")
        a = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"pic must be a PIL Image or numpy.ndarray, got {type(pic).__name__}")
    chw = a.transpose(2, 0, 1)
    if a.dtype == np.uint8:
        out = chw.astype(np.float32) / np.float32(255.0)
    elif a.dtype == np.bool_:
        out = chw.astype(np.float32)
    else:
        out = chw.astype(np.float32) if a.dtype != np.float64 else chw
    return ember.from_numpy(np.ascontiguousarray(out))


def to_pil_image(pic: Any, mode: str | None = None):
    """A ``(C, H, W)`` tensor or ``(H, W, C)`` array as a PIL image.

    Float data is taken to be in ``[0, 1]`` and scaled to bytes (values are
    multiplied by 255 and truncated, as torchvision does). One channel gives
    mode ``"L"``, two ``"LA"``, three ``"RGB"``, four ``"RGBA"`` unless ``mode``
    says otherwise.
    """
    if isinstance(pic, ember.Tensor):
        if pic.dim() not in (2, 3):
            raise ValueError(f"to_pil_image expects a (C, H, W) tensor, got {tuple(pic.shape)}")
        a = pic.detach().numpy()
        a = a[None] if a.ndim == 2 else a
        if a.shape[0] > 4:
            raise ValueError(f"to_pil_image: {a.shape[0]} channels; expected at most 4 (C, H, W)")
        a = a.transpose(1, 2, 0)
        if np.issubdtype(a.dtype, np.floating) and mode != "F":
            a = (a * 255).astype(np.uint8)
    elif isinstance(pic, np.ndarray):
        if pic.ndim not in (2, 3):
            raise ValueError(f"to_pil_image expects an (H, W[, C]) array, got {pic.shape}")
        a = pic[:, :, None] if pic.ndim == 2 else pic
    else:
        raise TypeError(f"pic must be an ember.Tensor or numpy.ndarray, got {type(pic).__name__}")
    channels = a.shape[2]
    if channels == 1:
        a = a[:, :, 0]
        if mode is None:
            mode = {np.dtype(np.uint8): "L", np.dtype(np.int16): "I;16"}.get(a.dtype)
            mode = mode or {np.dtype(np.int32): "I", np.dtype(np.float32): "F"}.get(a.dtype)
        if mode is None:
            raise TypeError(f"to_pil_image: no PIL mode for one channel of {a.dtype}")
        if mode in ("L", "P") and a.dtype != np.uint8:
            a = a.astype(np.uint8)
    else:
        default = {2: "LA", 3: "RGB", 4: "RGBA"}[channels]
        mode = mode or default
        if a.dtype != np.uint8:
            raise TypeError(f"to_pil_image: {channels} channels must be uint8, got {a.dtype}")
    img = Image.fromarray(np.ascontiguousarray(a))
    return img if img.mode == mode else img.convert(mode)


def convert_image_dtype(image: ember.Tensor, dtype=ember.float32) -> ember.Tensor:
    """Convert a tensor image to ``dtype``, rescaling values to the new range.

    float -> float casts; int -> float divides by the int type's max;
    float -> int multiplies by ``max + 1 - eps`` (so 1.0 maps to max);
    int -> int shifts bits.
    """
    if not isinstance(image, ember.Tensor):
        raise TypeError(f"image must be an ember.Tensor, got {type(image).__name__}")
    from ember._dtype import to_numpy_dtype

    src, dst = image.detach().numpy().dtype, np.dtype(to_numpy_dtype(dtype))
    a = image.detach().numpy()
    if src == dst:
        return image
    src_float = np.issubdtype(src, np.floating)
    dst_float = np.issubdtype(dst, np.floating)
    if src_float and dst_float:
        out = a.astype(dst)
    elif src_float:
        if (src, dst) in ((np.float32, np.int32), (np.float32, np.int64), (np.float64, np.int64)):
            raise RuntimeError(f"converting {src} to {dst} cannot be done safely")
        eps = 1e-3
        out = (a * (max_value(dst) + 1.0 - eps)).astype(dst)
    elif dst_float:
        out = (a.astype(dst) / dst.type(max_value(src))).astype(dst)
    else:
        bits_src, bits_dst = np.iinfo(src).bits, np.iinfo(dst).bits
        # Unsigned types have one more significant bit than signed ones of the same width.
        shift_src = bits_src - (0 if np.iinfo(src).min == 0 else 1)
        shift_dst = bits_dst - (0 if np.iinfo(dst).min == 0 else 1)
        if shift_dst < shift_src:
            out = (a.astype(np.int64) >> (shift_src - shift_dst)).astype(dst)
        else:
            out = (a.astype(np.int64) << (shift_dst - shift_src)).astype(dst)
    return ember.from_numpy(np.ascontiguousarray(out))


def normalize(
    tensor: ember.Tensor, mean: Sequence[float], std: Sequence[float], inplace: bool = False
) -> ember.Tensor:
    """``(tensor - mean[c]) / std[c]`` per channel of a float tensor ``(..., C, H, W)``."""
    if not isinstance(tensor, ember.Tensor):
        raise TypeError(f"tensor must be an ember.Tensor, got {type(tensor).__name__}")
    a = tensor.detach().numpy()
    if not np.issubdtype(a.dtype, np.floating):
        raise TypeError(f"normalize needs a floating-point tensor, got {a.dtype}")
    if a.ndim < 3:
        raise ValueError(f"normalize expects (..., C, H, W), got {tuple(a.shape)}")
    m = np.asarray(mean, dtype=a.dtype).reshape(-1, 1, 1)
    s = np.asarray(std, dtype=a.dtype).reshape(-1, 1, 1)
    if (s == 0).any():
        raise ValueError(f"std must not contain zeros, got {list(std)}")
    if m.shape[0] not in (1, a.shape[-3]) or s.shape[0] not in (1, a.shape[-3]):
        raise ValueError(
            f"mean/std have {m.shape[0]}/{s.shape[0]} values for {a.shape[-3]} channels"
        )
    if inplace:
        np.subtract(a, m, out=a)
        np.divide(a, s, out=a)
        return tensor
    return ember.from_numpy((a - m) / s)


def erase(
    img: ember.Tensor, i: int, j: int, h: int, w: int, v: Any, inplace: bool = False
) -> ember.Tensor:
    """Set the ``h x w`` box at row ``i``, column ``j`` of tensor ``img`` to ``v``."""
    if not isinstance(img, ember.Tensor):
        raise TypeError(f"img must be an ember.Tensor, got {type(img).__name__}")
    a = img.detach().numpy() if inplace else img.detach().numpy().copy()
    value = v.detach().numpy() if isinstance(v, ember.Tensor) else v
    a[..., i : i + h, j : j + w] = value
    return img if inplace else ember.from_numpy(a)
