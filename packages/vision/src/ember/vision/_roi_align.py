"""RoIAlign (He et al., Mask R-CNN) with torchvision's sampling rules, as two matrix products.

Each output bin averages bilinear samples taken on a regular grid inside the
bin. Bilinear interpolation is separable, and so is the sample grid, so for one
region of interest ``k`` the whole output is

    out[k, c] = Wy[k] @ input[n_k, c] @ Wx[k].T

where ``Wy[k]`` (``PH x H``) holds, for every output row, the summed bilinear
row weights of that row's samples divided by their number (``Wx`` likewise for
columns). The weights are built for all regions at once with ``bincount``; the
products run in BLAS, a chunk of regions at a time. The gradient with respect
to the input is the adjoint, ``Wy[k].T @ gy[k, c] @ Wx[k]`` summed over regions;
the two maps are each other's adjoint, so every order of derivative works.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

import ember
from ember import nn
from ember._ops._dispatch import result

try:  # registers the derivatives of "roi_align" and "roi_align_backward"
    import ember.autograd.formulas_vision  # noqa: F401
except ImportError:  # ember-autograd absent: forward only
    pass

__all__ = ["RoIAlign", "roi_align"]

# Elements of one intermediate (regions x PH x C x W) product, to bound memory.
_CHUNK = 1 << 22


def _pair(size: Any, name: str) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        size = (size, size)
    if (
        not isinstance(size, Sequence)
        or len(size) != 2
        or not all(isinstance(s, numbers.Integral) and s > 0 for s in size)
    ):
        raise ValueError(f"{name} must be a positive int or a pair of them, got {size!r}")
    return int(size[0]), int(size[1])


def rois_array(boxes: Any) -> np.ndarray:
    """Boxes as float64 ``(K, 5)`` rows ``(batch index, x1, y1, x2, y2)``.

    ``boxes`` is a tensor ``(K, 5)`` in that form or a list of tensors ``(L_i, 4)``,
    one per image of the batch.
    """
    if isinstance(boxes, ember.Tensor):
        a = np.asarray(boxes.detach().numpy(), dtype=np.float64)
        if a.ndim != 2 or a.shape[1] != 5:
            raise ValueError(
                f"boxes tensor must have shape (K, 5) (batch index, x1, y1, x2, y2), "
                f"got {tuple(a.shape)}"
            )
        return a
    if isinstance(boxes, (list, tuple)):
        rows = []
        for i, b in enumerate(boxes):
            if not isinstance(b, ember.Tensor):
                raise TypeError(f"boxes[{i}] must be a Tensor (L, 4), got {type(b).__name__}")
            a = np.asarray(b.detach().numpy(), dtype=np.float64)
            if a.ndim != 2 or a.shape[1] != 4:
                raise ValueError(f"boxes[{i}] must have shape (L, 4), got {tuple(a.shape)}")
            rows.append(np.concatenate([np.full((len(a), 1), float(i)), a], axis=1))
        return np.concatenate(rows) if rows else np.zeros((0, 5))
    raise TypeError(
        f"boxes must be a Tensor (K, 5) or a list of Tensors (L, 4), got {type(boxes).__name__}"
    )


def check_inputs(
    input: Any, boxes: Any, output_size: Any
) -> tuple[tuple[int, int], np.ndarray, np.ndarray, tuple[int, int, int, int]]:
    """Validate a region op's arguments: ``(output size, rois (K, 5), batch index, shape)``."""
    if not isinstance(input, ember.Tensor) or input.dim() != 4:
        shape = tuple(input.shape) if isinstance(input, ember.Tensor) else type(input).__name__
        raise ValueError(f"input must be a Tensor (N, C, H, W), got {shape}")
    if not input.dtype.is_floating_point:
        raise TypeError(f"input must be a floating-point tensor, got {input.dtype}")
    size = _pair(output_size, "output_size")
    rois = rois_array(boxes)
    n_img, c, h, w = (int(s) for s in input.shape)
    batch = rois[:, 0].astype(np.int64)
    if len(rois) and ((rois[:, 0] != batch).any() or batch.min() < 0 or batch.max() >= n_img):
        raise ValueError(
            f"box batch indices must be integers in [0, {n_img}) for an input of "
            f"{n_img} images, got {sorted(set(rois[:, 0].tolist()))}"
        )
    return size, rois, batch, (n_img, c, h, w)


def _axis_weights(
    start: np.ndarray, length: np.ndarray, grid: np.ndarray, pooled: int, size: int
) -> np.ndarray:
    """``(K, pooled, size)``: per output bin, the mean bilinear weight of each input line."""
    k = len(start)
    g = max(int(grid.max()) if k else 1, 1)
    safe = np.maximum(grid, 1).astype(np.float64)[:, None, None]
    bin_size = (length / pooled)[:, None, None]
    p = np.arange(pooled, dtype=np.float64)[None, :, None]
    i = np.arange(g, dtype=np.float64)[None, None, :]
    pos = start[:, None, None] + p * bin_size + (i + 0.5) * bin_size / safe  # (K, pooled, g)
    # A sample more than one pixel outside contributes nothing (torchvision's rule); the
    # rest are clamped into the image, the last line taking the whole weight at the edge.
    used = (i < grid[:, None, None]) & (pos >= -1.0) & (pos <= size)
    pos = np.maximum(pos, 0.0)
    low = np.floor(pos).astype(np.int64)
    edge = low >= size - 1
    low = np.where(edge, size - 1, low)
    high = np.where(edge, size - 1, low + 1)
    frac = np.where(edge, 0.0, pos - low)
    share = used / safe
    rows = (np.arange(k)[:, None, None] * pooled + np.arange(pooled)[None, :, None]) * size
    index = np.concatenate([(rows + low).ravel(), (rows + high).ravel()])
    weight = np.concatenate([((1.0 - frac) * share).ravel(), (frac * share).ravel()])
    return np.bincount(index, weight, minlength=k * pooled * size).reshape(k, pooled, size)


def weights(
    rois: np.ndarray,
    output_size: tuple[int, int],
    spatial_scale: float,
    sampling_ratio: int,
    aligned: bool,
    height: int,
    width: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The row and column weight matrices ``Wy (K, PH, H)`` and ``Wx (K, PW, W)``."""
    offset = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (rois[:, j] * spatial_scale - offset for j in range(1, 5))
    rw, rh = x2 - x1, y2 - y1
    if not aligned:  # the legacy version forces regions at least one pixel wide
        rw, rh = np.maximum(rw, 1.0), np.maximum(rh, 1.0)
    ph, pw = output_size
    if sampling_ratio > 0:
        gy = gx = np.full(len(rois), sampling_ratio, dtype=np.int64)
    else:  # adaptive: about one sample per input pixel of a bin
        gy = np.ceil(rh / ph).astype(np.int64)
        gx = np.ceil(rw / pw).astype(np.int64)
    return _axis_weights(y1, rh, gy, ph, height), _axis_weights(x1, rw, gx, pw, width)


def taps(dense: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The nonzero entries of each row of ``dense (K, P, S)`` as ``(index, weight)``, both
    ``(K, P, A)`` with ``A`` the largest count (shorter rows padded with zero weights)."""
    nonzero = dense != 0
    a = max(int(nonzero.sum(axis=-1).max()) if dense.size else 0, 1)
    index = np.argsort(~nonzero, axis=-1, kind="stable")[..., :a]
    return index, np.take_along_axis(dense, index, axis=-1)


def size_chunks(size: np.ndarray, per_unit: int):
    """Index arrays of regions, smallest ``size`` first, in chunks of about ``_CHUNK`` elements.

    Regions of similar size share a chunk, so padding every region of a chunk to
    its largest one wastes little.
    """
    order = np.argsort(size, kind="stable")
    start, k = 0, len(order)
    while start < k:
        n = max(1, _CHUNK // max(per_unit * int(size[order[start]]), 1))
        while n > 1 and n * per_unit * int(size[order[min(start + n, k) - 1]]) > _CHUNK:
            n //= 2
        yield order[start : start + n]
        start += n


def _plan(params: tuple, dtype):
    """Per chunk of regions: indices, flat channels-last pixel indices and tap weights.

    ``pix`` and ``weight`` are ``(k, PH, PW, A, B)`` with ``A x B`` the chunk's
    largest tap counts (taps are stored nonzero first, so a prefix holds them all).
    """
    iy, wy, ix, wx, batch, (_, c, h, w) = params
    ph, pw = iy.shape[1], ix.shape[1]
    ay = (wy != 0).sum(axis=-1).max(axis=-1, initial=1)
    ax = (wx != 0).sum(axis=-1).max(axis=-1, initial=1)
    for ks in size_chunks(ay * ax, ph * pw * c):
        a, b = int(ay[ks].max()), int(ax[ks].max())
        ry, rx = iy[ks, :, :a], ix[ks, :, :b]
        pix = (batch[ks, None, None, None, None] * h + ry[:, :, None, :, None]) * w
        pix = pix + rx[:, None, :, None, :]
        weight = wy[ks, :, None, :a, None] * wx[ks, None, :, None, :b]
        yield ks, pix, weight.astype(dtype)


def apply(x: np.ndarray, params: tuple) -> np.ndarray:
    """RoIAlign of ``x (N, C, H, W)``: each bin, the weighted sum of its ``A x B`` taps."""
    iy, _, ix, _, batch, (n, c, h, w) = params
    k, ph, pw = len(batch), iy.shape[1], ix.shape[1]
    # Channels last, so that every tap gathers one contiguous run of C values.
    rows = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(n * h * w, c)
    out = np.empty((k, ph, pw, c), dtype=x.dtype)
    for ks, pix, weight in _plan(params, x.dtype):
        m, taps_ = len(ks) * ph * pw, pix.shape[3] * pix.shape[4]
        v = rows[pix.reshape(-1)].reshape(m, taps_, c)
        out[ks] = (weight.reshape(m, 1, taps_) @ v).reshape(-1, ph, pw, c)
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2))


def adjoint(gy: np.ndarray, params: tuple) -> np.ndarray:
    """The transpose of :func:`apply`: each bin's gradient spread back over its taps.

    One ``bincount`` per channel over every tap of every region: numpy's fastest
    scatter-add, and memory proportional to the taps rather than taps x channels.
    """
    iy, _, ix, _, batch, (n, c, h, w) = params
    k, ph, pw = len(batch), iy.shape[1], ix.shape[1]
    pixes, weights_, bins = [np.zeros(0, np.int64)], [np.zeros(0)], [np.zeros(0, np.int64)]
    for ks, pix, weight in _plan(params, np.float64):
        used = weight != 0  # padding taps carry nothing
        cell = (ks[:, None, None] * ph + np.arange(ph)[:, None]) * pw + np.arange(pw)
        pixes.append(pix[used])
        weights_.append(weight[used])
        bins.append(np.broadcast_to(cell[..., None, None], pix.shape)[used])
    pix, weight, cells = (np.concatenate(v) for v in (pixes, weights_, bins))
    planes = gy.reshape(k, c, ph * pw).transpose(1, 0, 2).reshape(c, k * ph * pw)
    gx = np.empty((c, n * h * w), dtype=gy.dtype)
    for ch in range(c):
        gx[ch] = np.bincount(pix, weight * planes[ch][cells], minlength=n * h * w)
    return np.ascontiguousarray(gx.reshape(c, n, h, w).transpose(1, 0, 2, 3))


def _host(t: ember.Tensor, op: str) -> np.ndarray:
    if t.device.type != "cpu":
        raise NotImplementedError(f"{op} is implemented for CPU tensors only, got {t.device}")
    a = t.detach().numpy()
    return a if a.dtype in (np.float32, np.float64) else a.astype(np.float32)


def apply_op(x: ember.Tensor, params: tuple) -> ember.Tensor:
    """RoIAlign of ``x`` with precomputed ``params``, recorded for autograd."""
    a = _host(x, "roi_align")
    return result(apply(a, params).astype(x.detach().numpy().dtype), (x,), "roi_align", params)


def adjoint_op(gy: ember.Tensor, params: tuple) -> ember.Tensor:
    """The gradient of RoIAlign with respect to its input, recorded for autograd."""
    a = _host(gy, "roi_align_backward")
    out = adjoint(a, params).astype(gy.detach().numpy().dtype)
    return result(out, (gy,), "roi_align_backward", params)


def roi_align(
    input: ember.Tensor,
    boxes: Any,
    output_size: int | tuple[int, int],
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> ember.Tensor:
    """Region-of-interest pooling by bilinear sampling (Mask R-CNN's RoIAlign).

    Args:
        input: float feature map ``(N, C, H, W)``.
        boxes: ``(K, 5)`` rows ``(batch index, x1, y1, x2, y2)``, or a list of ``N``
            tensors ``(L_i, 4)`` of ``(x1, y1, x2, y2)``, in input-image coordinates.
        output_size: ``(PH, PW)`` bins per region (an int for square).
        spatial_scale: factor from box coordinates to feature-map coordinates
            (e.g. 1/16 for a stride-16 map).
        sampling_ratio: samples per bin along each axis; ``<= 0`` chooses
            ``ceil(region size / output size)`` per region and axis.
        aligned: shift boxes by half a pixel so that pixel centres line up (the
            corrected version); False keeps the original, which also treats
            regions smaller than one pixel as one pixel.

    Returns:
        ``(K, C, PH, PW)``, differentiable with respect to ``input``.
    """
    if not isinstance(sampling_ratio, numbers.Integral):
        raise TypeError(f"sampling_ratio must be an int, got {sampling_ratio!r}")
    size, rois, batch, shape = check_inputs(input, boxes, output_size)
    h, w = shape[2:]
    wy, wx = weights(rois, size, float(spatial_scale), int(sampling_ratio), aligned, h, w)
    params = (*taps(wy), *taps(wx), batch, shape)
    return apply_op(input, params)


class RoIAlign(nn.Module):
    """:func:`roi_align` as a module: ``RoIAlign(output_size, spatial_scale, sampling_ratio)``."""

    def __init__(
        self,
        output_size: int | tuple[int, int],
        spatial_scale: float,
        sampling_ratio: int,
        aligned: bool = False,
    ) -> None:
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input: ember.Tensor, rois: Any) -> ember.Tensor:
        """RoIAlign of feature map ``input`` (N, C, H, W) over ``rois`` -> (K, C, PH, PW)."""
        return roi_align(
            input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned
        )

    def extra_repr(self) -> str:
        return (
            f"output_size={self.output_size}, spatial_scale={self.spatial_scale}, "
            f"sampling_ratio={self.sampling_ratio}, aligned={self.aligned}"
        )
