"""ember.vision.io round trips through files PIL reads, and ops.box_* / nms by hand."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ember
from ember.vision import io, ops


def test_png_roundtrip_and_pil_agrees(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (3, 5, 7), dtype=np.uint8)
    path = tmp_path / "x.png"
    io.write_png(ember.from_numpy(a), str(path))
    assert (np.asarray(Image.open(path)) == a.transpose(1, 2, 0)).all()
    back = io.read_image(str(path))
    assert back.dtype == ember.uint8 and (back.numpy() == a).all()
    gray = io.read_image(str(path), io.ImageReadMode.GRAY)
    ref = np.asarray(Image.open(path).convert("L"))
    assert tuple(gray.shape) == (1, 5, 7) and (gray.numpy()[0] == ref).all()
    assert tuple(io.read_image(str(path), io.ImageReadMode.RGB_ALPHA).shape) == (4, 5, 7)


def test_jpeg_and_bytes(tmp_path):
    a = np.full((3, 16, 16), 120, dtype=np.uint8)
    data = io.encode_jpeg(ember.from_numpy(a), quality=95)
    assert data.dtype == ember.uint8 and bytes(data.numpy()[:2]) == b"\xff\xd8"  # JPEG SOI
    decoded = io.decode_image(data)
    assert np.abs(decoded.numpy().astype(int) - 120).max() <= 2
    io.write_file(str(tmp_path / "f.jpg"), data)
    assert (io.read_file(str(tmp_path / "f.jpg")).numpy() == data.numpy()).all()
    with pytest.raises(ValueError, match="cannot decode"):
        io.decode_image(ember.from_numpy(np.frombuffer(b"not an image", np.uint8).copy()))
    with pytest.raises(ValueError, match="uint8"):
        io.encode_png(ember.zeros(3, 4, 4))


def test_box_area_iou_convert_by_hand():
    a = ember.tensor([[0.0, 0.0, 2.0, 2.0], [1.0, 1.0, 3.0, 4.0]])
    b = ember.tensor([[1.0, 0.0, 2.0, 1.0], [5.0, 5.0, 6.0, 6.0]])
    assert ops.box_area(a).tolist() == [4.0, 6.0]
    iou = ops.box_iou(a, b).numpy()
    # a0 & b0 overlap in [1,2]x[0,1] (area 1), union 4 + 1 - 1; a1 & b0 touch only (area 0).
    np.testing.assert_allclose(iou, [[0.25, 0.0], [0.0, 0.0]])
    xywh = ops.box_convert(a, "xyxy", "xywh").numpy()
    np.testing.assert_allclose(xywh, [[0, 0, 2, 2], [1, 1, 2, 3]])
    cx = ops.box_convert(ember.from_numpy(xywh), "xywh", "cxcywh").numpy()
    np.testing.assert_allclose(cx, [[1, 1, 2, 2], [2, 2.5, 2, 3]])
    np.testing.assert_allclose(
        ops.box_convert(ember.from_numpy(cx), "cxcywh", "xyxy").numpy(), a.numpy()
    )
    with pytest.raises(ValueError, match="box formats"):
        ops.box_convert(a, "xyxy", "yxyx")


def _nms_reference(boxes, scores, thr):
    # Plain greedy NMS in Python, one pair at a time.
    def iou(p, q):
        w = max(0.0, min(p[2], q[2]) - max(p[0], q[0]))
        h = max(0.0, min(p[3], q[3]) - max(p[1], q[1]))
        inter = w * h
        union = (p[2] - p[0]) * (p[3] - p[1]) + (q[2] - q[0]) * (q[3] - q[1]) - inter
        return inter / union if union > 0 else 0.0

    keep = []
    for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if all(iou(boxes[i], boxes[j]) <= thr for j in keep):
            keep.append(i)
    return keep


def test_nms_matches_reference():
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 50, (60, 2))
    wh = rng.uniform(5, 20, (60, 2))
    boxes = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    scores = rng.permutation(60).astype(np.float32)
    for thr in (0.1, 0.3, 0.7):
        got = ops.nms(ember.from_numpy(boxes), ember.from_numpy(scores), thr)
        assert got.dtype == ember.int64
        assert got.tolist() == _nms_reference(boxes.tolist(), scores.tolist(), thr)
    cats = rng.integers(0, 3, 60)
    got = ops.batched_nms(
        ember.from_numpy(boxes), ember.from_numpy(scores), ember.from_numpy(cats), 0.3
    )
    ref = []
    for c in range(3):
        idx = np.flatnonzero(cats == c)
        ref += [idx[k] for k in _nms_reference(boxes[idx].tolist(), scores[idx].tolist(), 0.3)]
    assert sorted(got.tolist()) == sorted(ref)
    assert list(scores[got.numpy()]) == sorted(scores[got.numpy()], reverse=True)
    with pytest.raises(ValueError, match="scores must have shape"):
        ops.nms(ember.from_numpy(boxes), ember.zeros(3), 0.5)
