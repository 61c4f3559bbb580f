"""Image grids and saving: ``make_grid`` and ``save_image``."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np
from PIL import Image

import ember

__all__ = ["make_grid", "save_image"]


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
