"""Image grids, saving and annotation: ``make_grid``, ``save_image``, ``draw_bounding_boxes``."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np
from PIL import Image, ImageColor, ImageDraw

import ember

__all__ = ["draw_bounding_boxes", "make_grid", "save_image"]


def _as_batch(tensor: Any) -> np.ndarray:
    """A float (B, C, H, W) array from a tensor (B,C,H,W)/(C,H,W)/(H,W) or a list of (C,H,W)."""
    if isinstance(tensor, list | tuple):
        if not tensor or not all(isinstance(t, ember.Tensor) for t in tensor):
            raise TypeError("make_grid expects a tensor or a non-empty list of tensors")
        arrays = [t.detach().numpy() for t in tensor]
        if len({a.shape for a in arrays}) != 1:
            raise ValueError(f"tensors in the list differ in shape: {[a.shape for a in arrays]}")
        a = np.stack(arrays)
    elif isinstance(tensor, ember.Tensor):
        a = tensor.detach().numpy()
    else:
        raise TypeError(f"make_grid expects an ember.Tensor or a list, got {type(tensor).__name__}")
    if a.ndim == 2:
        a = a[None, None]
    elif a.ndim == 3:
        a = a[None]
    if a.ndim != 4:
        raise ValueError(f"make_grid expects (B, C, H, W), (C, H, W) or (H, W); got {a.shape}")
    a = a.astype(np.float32)
    if a.shape[1] == 1:  # grayscale becomes RGB, as for a photo
        a = np.repeat(a, 3, axis=1)
    return a


def _rescale(a: np.ndarray, value_range: tuple[float, float] | None) -> np.ndarray:
    lo, hi = (float(a.min()), float(a.max())) if value_range is None else value_range
    a = np.clip(a, lo, hi)
    return (a - lo) / max(hi - lo, 1e-5)


def make_grid(
    tensor: ember.Tensor | Sequence[ember.Tensor],
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range: tuple[float, float] | None = None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> ember.Tensor:
    """Tile images ``(B, C, H, W)`` into one ``(3 or C, H', W')`` image, ``nrow`` per row.

    Args:
        nrow: images per row; the number of rows is ``ceil(B / nrow)``.
        padding: pixels of ``pad_value`` between and around the images.
        normalize: rescale to ``[0, 1]`` using ``value_range`` (default: the
            min and max of the batch, or of each image with ``scale_each``).

    One-channel images are repeated to three channels. A single image is
    returned as it is (after normalizing), without padding.
    """
    if not isinstance(nrow, int) or nrow < 1:
        raise ValueError(f"nrow must be a positive int, got {nrow!r}")
    a = _as_batch(tensor)
    if normalize:
        if scale_each:
            a = np.stack([_rescale(img, value_range) for img in a])
        else:
            a = _rescale(a, value_range)
    b, c, h, w = a.shape
    if b == 1:
        return ember.from_numpy(np.ascontiguousarray(a[0]))
    cols = min(nrow, b)
    rows = int(math.ceil(b / cols))
    cell_h, cell_w = h + padding, w + padding
    grid = np.full((c, rows * cell_h + padding, cols * cell_w + padding), pad_value, np.float32)
    for k in range(b):
        y, x = divmod(k, cols)
        top, left = y * cell_h + padding, x * cell_w + padding
        grid[:, top : top + h, left : left + w] = a[k]
    return ember.from_numpy(grid)


def save_image(
    tensor: ember.Tensor | Sequence[ember.Tensor],
    fp: str | os.PathLike[str] | BinaryIO,
    format: str | None = None,
    **kwargs: Any,
) -> None:
    """Save a tensor image (or a grid of a batch, see :func:`make_grid`) with Pillow.

    Values in ``[0, 1]`` map to bytes with rounding; ``format`` overrides the
    one guessed from the file name (``"PNG"`` for file objects without one).
    """
    grid = make_grid(tensor, **kwargs).detach().numpy()
    data = np.clip(grid * 255.0 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    img = Image.fromarray(data[:, :, 0] if data.shape[2] == 1 else np.ascontiguousarray(data))
    if format is None and not isinstance(fp, str | os.PathLike):
        format = "PNG"
    img.save(fp, format=format)


def draw_bounding_boxes(
    image: ember.Tensor,
    boxes: ember.Tensor,
    labels: Sequence[str] | None = None,
    colors: Any = None,
    fill: bool = False,
    width: int = 1,
) -> ember.Tensor:
    """Draw ``xyxy`` boxes ``(N, 4)`` (and optional labels) on a uint8 image ``(3 or 1, H, W)``.

    ``colors`` is one colour for all boxes or one per box (names like ``"red"``
    or RGB tuples); the default cycles through a fixed palette. ``fill`` paints
    the boxes' insides at 40% opacity. Returns a new uint8 ``(3, H, W)`` tensor.
    """
    a = image.detach().numpy()
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[0] not in (1, 3):
        raise ValueError(f"image must be a uint8 (1 or 3, H, W) tensor, got {a.dtype} {a.shape}")
    b = boxes.detach().numpy()
    if b.ndim != 2 or b.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {tuple(b.shape)}")
    if ((b[:, 2] < b[:, 0]) | (b[:, 3] < b[:, 1])).any():
        raise ValueError("boxes must be (x1, y1, x2, y2) with x1 <= x2 and y1 <= y2")
    if labels is not None and len(labels) != len(b):
        raise ValueError(f"{len(labels)} labels for {len(b)} boxes")
    palette = ["red", "lime", "blue", "yellow", "magenta", "cyan", "orange", "white"]
    if colors is None:
        colors = [palette[i % len(palette)] for i in range(len(b))]
    elif isinstance(colors, str | tuple):
        colors = [colors] * len(b)
    rgb = np.repeat(a, 3, axis=0) if a.shape[0] == 1 else a
    img = Image.fromarray(np.ascontiguousarray(rgb.transpose(1, 2, 0)))
    draw = ImageDraw.Draw(img, "RGBA" if fill else None)
    for i, box in enumerate(b.tolist()):
        color = ImageColor.getrgb(colors[i]) if isinstance(colors[i], str) else tuple(colors[i])
        if fill:
            draw.rectangle(box, width=width, outline=color, fill=(*color[:3], 100))
        else:
            draw.rectangle(box, width=width, outline=color)
        if labels is not None:
            draw.text((box[0] + width, box[1] + width), labels[i], fill=color)
    return ember.from_numpy(np.ascontiguousarray(np.asarray(img).transpose(2, 0, 1)))
