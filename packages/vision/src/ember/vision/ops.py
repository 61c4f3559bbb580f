"""Box operations: areas, IoU, format conversion, non-maximum suppression, RoIAlign and RoIPool.

Boxes are float tensors ``(N, 4)``; ``xyxy`` is (x1, y1, x2, y2) with x2 >= x1.
"""

from __future__ import annotations

import numpy as np

import ember

from ._roi_align import RoIAlign, roi_align
from ._roi_pool import RoIPool, roi_pool

__all__ = [
    "RoIAlign",
    "RoIPool",
    "batched_nms",
    "box_area",
    "box_convert",
    "box_iou",
    "nms",
    "roi_align",
    "roi_pool",
]


def _boxes(boxes: ember.Tensor, name: str = "boxes") -> np.ndarray:
    a = boxes.detach().numpy()
    if a.ndim != 2 or a.shape[1] != 4:
        raise ValueError(f"{name} must have shape (N, 4), got {tuple(a.shape)}")
    return a


def box_area(boxes: ember.Tensor) -> ember.Tensor:
    """Areas ``(x2 - x1) * (y2 - y1)`` of ``xyxy`` boxes ``(N, 4)`` -> ``(N,)``."""
    b = _boxes(boxes)
    return ember.from_numpy((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]))


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = np.clip(rb - lt, 0, None)
    inter = wh[..., 0] * wh[..., 1]
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0).astype(a.dtype)


def box_iou(boxes1: ember.Tensor, boxes2: ember.Tensor) -> ember.Tensor:
    """Pairwise intersection over union ``(N, M)`` of ``xyxy`` boxes."""
    return ember.from_numpy(_iou(_boxes(boxes1, "boxes1"), _boxes(boxes2, "boxes2")))


def box_convert(boxes: ember.Tensor, in_fmt: str, out_fmt: str) -> ember.Tensor:
    """Convert between ``xyxy``, ``xywh`` (corner + size) and ``cxcywh`` (centre + size)."""
    fmts = ("xyxy", "xywh", "cxcywh")
    if in_fmt not in fmts or out_fmt not in fmts:
        raise ValueError(f"box formats must be among {fmts}, got {in_fmt!r} -> {out_fmt!r}")
    b = _boxes(boxes).astype(np.result_type(boxes.detach().numpy().dtype, np.float32))
    if in_fmt == "xywh":
        b = np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1)
    elif in_fmt == "cxcywh":
        b = np.concatenate([b[:, :2] - b[:, 2:] / 2, b[:, :2] + b[:, 2:] / 2], 1)
    if out_fmt == "xywh":
        b = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], 1)
    elif out_fmt == "cxcywh":
        b = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], 1)
    return ember.from_numpy(np.ascontiguousarray(b))


def nms(boxes: ember.Tensor, scores: ember.Tensor, iou_threshold: float) -> ember.Tensor:
    """Indices (int64, by decreasing score) of the boxes kept by greedy NMS.

    A box is dropped when its IoU with a higher-scoring kept box exceeds
    ``iou_threshold``.
    """
    b = _boxes(boxes)
    s = scores.detach().numpy()
    if s.shape != (b.shape[0],):
        raise ValueError(f"scores must have shape ({b.shape[0]},), got {tuple(s.shape)}")
    order = np.argsort(-s, kind="stable")
    iou = _iou(b[order], b[order])
    suppressed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if suppressed[i]:
            continue
        keep.append(order[i])
        suppressed |= iou[i] > iou_threshold
    return ember.from_numpy(np.asarray(keep, dtype=np.int64))


def batched_nms(
    boxes: ember.Tensor, scores: ember.Tensor, idxs: ember.Tensor, iou_threshold: float
) -> ember.Tensor:
    """NMS within each category ``idxs`` (boxes of different categories never suppress)."""
    b = _boxes(boxes)
    if len(b) == 0:
        return ember.from_numpy(np.zeros(0, dtype=np.int64))
    # Shift each category far apart so that boxes of different ones never overlap.
    offset = idxs.detach().numpy().astype(b.dtype)[:, None] * (b.max() - b.min() + 1)
    return nms(ember.from_numpy(b + offset), scores, iou_threshold)
