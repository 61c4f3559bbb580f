"""RoIPool (Girshick, Fast R-CNN) with torchvision's quantization rules.

Each region is rounded to whole feature-map pixels and cut into a grid of bins
(floor of the start, ceil of the end, so neighbouring bins may overlap); a
bin's output is the maximum of its pixels, 0 for an empty bin. Regions are
sorted by bin size and taken in chunks; within a chunk, a running maximum
visits one window offset at a time for all bins at once (offsets beyond a
bin's own bounds are masked out). The gradient goes to
the pixel that held each maximum (the first one in row-major order on ties).
Given those positions both directions are linear, and the forward (a gather)
and the backward (a scatter-add) are each other's derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import ember
from ember import nn
from ember._ops._dispatch import result

from ._roi_align import _host, check_inputs, size_chunks

__all__ = ["RoIPool", "roi_pool"]


def _round(v: np.ndarray) -> np.ndarray:
    """C's round(): halves away from zero."""
    return np.sign(v) * np.floor(np.abs(v) + 0.5)


def bin_bounds(
    rois: np.ndarray, size: tuple[int, int], scale: float, h: int, w: int, dtype
) -> tuple[np.ndarray, ...]:
    """Row and column bounds ``[start, end)`` of every bin: ``(K, PH)`` and ``(K, PW)`` each.

    Bin sizes are computed in the input's floating type, as torchvision does, so
    that floor and ceil agree with it at exact multiples.
    """
    x1, y1, x2, y2 = (_round(rois[:, j] * scale).astype(np.int64) for j in range(1, 5))
    bounds = []
    for start, end, pooled, limit in ((y1, y2, size[0], h), (x1, x2, size[1], w)):
        length = np.maximum(end - start + 1, 1).astype(dtype)
        bin_size = (length / dtype(pooled))[:, None]
        p = np.arange(pooled, dtype=dtype)[None, :]
        lo = np.floor(p * bin_size).astype(np.int64) + start[:, None]
        hi = np.ceil((p + 1) * bin_size).astype(np.int64) + start[:, None]
        bounds += [np.clip(lo, 0, limit), np.clip(hi, 0, limit)]
    return tuple(bounds)


def argmax_positions(x: np.ndarray, batch: np.ndarray, bounds: tuple) -> np.ndarray:
    """Flat index into ``x (N, C, H, W)`` of each bin's maximum, ``(K, C, PH, PW)``; -1: empty."""
    n, c, h, w = x.shape
    ys, ye, xs, xe = bounds
    k, ph = ys.shape
    pw = xs.shape[1]
    rows = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n * h * w, c)
    out = np.empty((k, ph, pw, c), dtype=np.int64)
    span_h = np.maximum(ye - ys, 1).max(axis=1, initial=1)
    span_w = np.maximum(xe - xs, 1).max(axis=1, initial=1)
    for ks in size_chunks(span_h * span_w, ph * pw * c):
        lh, lw = int(span_h[ks].max()), int(span_w[ks].max())
        m = len(ks)
        best = np.full((m, ph, pw, c), -np.inf, dtype=rows.dtype)
        where = np.full((m, ph, pw, c), -1, dtype=np.int64)
        # One window offset at a time over every bin of the chunk: a running maximum
        # (strictly greater, so the first maximum in row-major order wins).
        for i in range(lh):
            r = ys[ks] + i  # (k, PH)
            row_in = r < ye[ks]
            base = (batch[ks, None] * h + np.minimum(r, h - 1)) * w
            for j in range(lw):
                col = xs[ks] + j  # (k, PW)
                inside = row_in[:, :, None] & (col < xe[ks])[:, None, :]
                pix = base[:, :, None] + np.minimum(col, w - 1)[:, None, :]
                vals = rows[pix]  # (k, PH, PW, C)
                better = (vals > best) & inside[..., None]
                best = np.where(better, vals, best)
                where = np.where(better, pix[..., None], where)
        # (pixel, channel) -> the flat index of x[b, ch, y, x] in NCHW order
        b_, yx = np.divmod(where, h * w)
        chan = np.arange(c)
        out[ks] = np.where(where >= 0, (b_ * c + chan) * (h * w) + yx, -1)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def gather(x: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``x.flat[where]``, 0 where ``where`` is -1."""
    return np.where(where >= 0, x.reshape(-1)[np.maximum(where, 0)], 0).astype(x.dtype)


def scatter(gy: np.ndarray, where: np.ndarray, shape: tuple) -> np.ndarray:
    """The transpose of :func:`gather`: ``gy`` added into zeros of ``shape`` at ``where``."""
    used = where >= 0
    total = int(np.prod(shape))
    out = np.bincount(where[used], gy[used].astype(np.float64), minlength=total)
    return out.astype(gy.dtype).reshape(shape)


def gather_op(x: ember.Tensor, params: tuple) -> ember.Tensor:
    """RoIPool's forward at known maximum positions, recorded for autograd."""
    a = _host(x, "roi_pool")
    return result(gather(a, params[0]).astype(x.detach().numpy().dtype), (x,), "roi_pool", params)


def scatter_op(gy: ember.Tensor, params: tuple) -> ember.Tensor:
    """RoIPool's gradient with respect to its input, recorded for autograd."""
    a = _host(gy, "roi_pool_backward")
    out = scatter(a, params[0], params[1]).astype(gy.detach().numpy().dtype)
    return result(out, (gy,), "roi_pool_backward", params)


def roi_pool(
    input: ember.Tensor,
    boxes: Any,
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
) -> ember.Tensor:
    """Region-of-interest max pooling over whole-pixel bins (Fast R-CNN's RoIPool).

    Args:
        input: float feature map ``(N, C, H, W)``.
        boxes: ``(K, 5)`` rows ``(batch index, x1, y1, x2, y2)``, or a list of ``N``
            tensors ``(L_i, 4)``, in input-image coordinates.
        output_size: ``(PH, PW)`` bins per region (an int for square).
        spatial_scale: factor from box coordinates to feature-map coordinates.

    Returns:
        ``(K, C, PH, PW)``, differentiable with respect to ``input``.
    """
    size, rois, batch, shape = check_inputs(input, boxes, output_size)
    a = _host(input, "roi_pool")
    bounds = bin_bounds(rois, size, float(spatial_scale), shape[2], shape[3], a.dtype.type)
    where = argmax_positions(a, batch, bounds)
    return gather_op(input, (where, shape))


class RoIPool(nn.Module):
    """:func:`roi_pool` as a module: ``RoIPool(output_size, spatial_scale)``."""

    def __init__(self, output_size: int | tuple[int, int], spatial_scale: float) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale

    def forward(self, input: ember.Tensor, rois: Any) -> ember.Tensor:
        """RoIPool of feature map ``input`` (N, C, H, W) over ``rois`` -> (K, C, PH, PW)."""
        return roi_pool(input, rois, self.output_size, self.spatial_scale)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}, spatial_scale={self.spatial_scale}"
