"""ops.roi_align against a per-sample reference written here, hand values, and gradchecks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.vision import ops


def _taps(h, w, y, x):
    """Bilinear taps ``[(row, col, weight)]`` at (y, x) by torchvision's rules, one point."""
    if y < -1.0 or y > h or x < -1.0 or x > w:
        return []
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= h - 1:
        yl = yh = h - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= w - 1:
        xl = xh = w - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    return [
        (yl, xl, (1 - ly) * (1 - lx)),
        (yl, xh, (1 - ly) * lx),
        (yh, xl, ly * (1 - lx)),
        (yh, xh, ly * lx),
    ]


def _samples(roi, h, w, out, scale, ratio, aligned):
    """For every bin (ph, pw): its taps, each weight already divided by the sample count."""
    off = 0.5 if aligned else 0.0
    x1, y1, x2, y2 = (v * scale - off for v in roi[1:])
    rw, rh = x2 - x1, y2 - y1
    if not aligned:
        rw, rh = max(rw, 1.0), max(rh, 1.0)
    bh, bw = rh / out[0], rw / out[1]
    gh = ratio if ratio > 0 else math.ceil(rh / out[0])
    gw = ratio if ratio > 0 else math.ceil(rw / out[1])
    count = max(gh * gw, 1)
    bins = {}
    for ph in range(out[0]):
        for pw in range(out[1]):
            taps = []
            for iy in range(gh):
                y = y1 + ph * bh + (iy + 0.5) * bh / gh
                for ix in range(gw):
                    x = x1 + pw * bw + (ix + 0.5) * bw / gw
                    taps += [(r, c, wt / count) for r, c, wt in _taps(h, w, y, x)]
            bins[ph, pw] = taps
    return bins


def _reference(x, rois, out, scale, ratio, aligned, gy=None):
    """Forward (K, C, PH, PW), and with ``gy`` the input gradient, one sample at a time."""
    n, c, h, w = x.shape
    y = np.zeros((len(rois), c) + out)
    gx = np.zeros_like(x, dtype=np.float64)
    for k, roi in enumerate(rois):
        b = int(roi[0])
        for (ph, pw), taps in _samples(roi, h, w, out, scale, ratio, aligned).items():
            for r, col, wt in taps:
                y[k, :, ph, pw] += wt * x[b, :, r, col]
                if gy is not None:
                    gx[b, :, r, col] += wt * gy[k, :, ph, pw]
    return y, gx


def _random_rois(rng, k, n, h, w):
    x1 = rng.uniform(-3, w, k)
    y1 = rng.uniform(-3, h, k)
    rois = np.stack(
        [rng.integers(0, n, k), x1, y1, x1 + rng.uniform(0, 9, k), y1 + rng.uniform(0, 9, k)],
        axis=1,
    )
    rois[0, 1:] = [1.0, 1.0, 1.3, 1.2]  # smaller than a pixel
    rois[1, 1:] = [-4.0, 2.0, -1.5, 5.0]  # wholly left of the image
    return rois


@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("ratio", [-1, 1, 2, 3])
@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_forward_and_backward_match_the_per_sample_reference(aligned, ratio, scale):
    rng = np.random.default_rng(int(aligned) * 100 + (ratio + 1) * 10 + int(scale * 2))
    x = rng.standard_normal((2, 3, 9, 11))
    rois = _random_rois(rng, 7, 2, 9 / scale, 11 / scale)
    out = (3, 2)
    gy = rng.standard_normal((7, 3) + out)
    ref, ref_gx = _reference(x, rois, out, scale, ratio, aligned, gy)
    xt = ember.from_numpy(x.copy()).requires_grad_()
    y = ops.roi_align(xt, ember.from_numpy(rois), out, scale, ratio, aligned)
    assert tuple(y.shape) == (7, 3, 3, 2) and y.dtype == ember.float64
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-12, atol=1e-12)
    y.backward(ember.from_numpy(gy))
    np.testing.assert_allclose(xt.grad.numpy(), ref_gx, rtol=1e-12, atol=1e-12)
    # float32 keeps its dtype and agrees to single precision.
    y32 = ops.roi_align(ember.from_numpy(x.astype(np.float32)), ember.from_numpy(rois), out,
                        scale, ratio, aligned)  # fmt: skip
    assert y32.dtype == ember.float32
    np.testing.assert_allclose(y32.numpy(), ref, rtol=1e-4, atol=1e-5)


def test_hand_values_aligned_and_not():
    # A linear map v = 4 r + c + 10: bilinear sampling is exact, so an inside bin is
    # the value at the mean of its sample points.
    x = ember.from_numpy(np.arange(16.0).reshape(1, 1, 4, 4) + 10.0)
    box = ember.tensor([[0.0, 0.0, 0.0, 2.0, 2.0]], dtype=ember.float64)
    # Not aligned: samples at 0.5 and 1.5 on each axis -> (1, 1) -> 4 + 1 + 10.
    assert ops.roi_align(x, box, 1, 1.0, 2, aligned=False).item() == 15.0
    # Aligned: the box moves by half a pixel, samples at 0 and 1 -> (0.5, 0.5) -> 12.5.
    assert ops.roi_align(x, box, 1, 1.0, 2, aligned=True).item() == 12.5
    # 2x2 bins of that box, one sample each at the bin centres 0.5 / 1.5 (not aligned).
    np.testing.assert_array_equal(
        ops.roi_align(x, box, 2, 1.0, 1).numpy()[0, 0], [[12.5, 13.5], [16.5, 17.5]]
    )
    # One sample at x = -1.0 (one pixel out): kept and clamped to column 0;
    # at x = -1.5: dropped, so the bin is 0 even though the map is >= 10 everywhere.
    keep = ember.tensor([[0.0, -2.0, 1.0, 0.0, 2.0]], dtype=ember.float64)
    assert ops.roi_align(x, keep, 1, 1.0, 1).item() == 4 * 1.5 + 0 + 10
    drop = ember.tensor([[0.0, -3.0, 1.0, 0.0, 2.0]], dtype=ember.float64)
    assert ops.roi_align(x, drop, 1, 1.0, 1).item() == 0.0
    # At the far edge: x = 3.5 (within W = 4) takes the last column's value.
    edge = ember.tensor([[0.0, 3.0, 1.0, 4.0, 2.0]], dtype=ember.float64)
    assert ops.roi_align(x, edge, 1, 1.0, 1).item() == 4 * 1.5 + 3 + 10
    # Not aligned, a region under one pixel is widened to one pixel.
    tiny = ember.tensor([[0.0, 1.0, 1.0, 1.2, 1.1]], dtype=ember.float64)
    one = ember.tensor([[0.0, 1.0, 1.0, 2.0, 2.0]], dtype=ember.float64)
    np.testing.assert_array_equal(
        ops.roi_align(x, tiny, 2, 1.0, 2).numpy(), ops.roi_align(x, one, 2, 1.0, 2).numpy()
    )
    # spatial_scale maps image coordinates onto the map: (0, 0, 4, 4) at 1/2 is (0, 0, 2, 2).
    big = ember.tensor([[0.0, 0.0, 0.0, 4.0, 4.0]], dtype=ember.float64)
    assert ops.roi_align(x, big, 1, 0.5, 2).item() == 15.0


def test_adaptive_sampling_uses_ceil_of_bin_size():
    x = ember.from_numpy(np.random.default_rng(0).standard_normal((1, 2, 12, 12)))
    box = ember.tensor([[0.0, 0.5, 1.0, 5.5, 8.0]], dtype=ember.float64)
    # Width 5 over 2 bins -> ceil(2.5) = 3 samples; height 7 over 2 -> 4 samples.
    auto = ops.roi_align(x, box, 2, 1.0, -1).numpy()
    ref, _ = _reference(x.numpy(), box.numpy(), (2, 2), 1.0, -1, False)
    np.testing.assert_allclose(auto, ref, rtol=1e-12)
    assert not np.allclose(auto, ops.roi_align(x, box, 2, 1.0, 3).numpy())
    assert not np.allclose(auto, ops.roi_align(x, box, 2, 1.0, 4).numpy())


def test_boxes_as_a_list_and_empty():
    rng = np.random.default_rng(1)
    x = ember.from_numpy(rng.standard_normal((2, 4, 8, 8)))
    b0 = ember.tensor([[0.0, 0.0, 5.0, 5.0], [1.0, 2.0, 7.0, 6.0]], dtype=ember.float64)
    b1 = ember.tensor([[2.0, 1.0, 4.0, 7.5]], dtype=ember.float64)
    rows = ember.tensor(
        [[0, 0.0, 0.0, 5.0, 5.0], [0, 1.0, 2.0, 7.0, 6.0], [1, 2.0, 1.0, 4.0, 7.5]],
        dtype=ember.float64,
    )
    a = ops.roi_align(x, [b0, b1], (2, 3), 1.0, 2)
    np.testing.assert_array_equal(a.numpy(), ops.roi_align(x, rows, (2, 3), 1.0, 2).numpy())
    empty = ops.roi_align(x, ember.zeros(0, 5, dtype=ember.float64), 7)
    assert tuple(empty.shape) == (0, 4, 7, 7)
    m = ops.RoIAlign((2, 3), spatial_scale=1.0, sampling_ratio=2)
    np.testing.assert_array_equal(m(x, [b0, b1]).numpy(), a.numpy())
    assert (
        repr(m)
        == "RoIAlign(output_size=(2, 3), spatial_scale=1.0, sampling_ratio=2, aligned=False)"
    )


def test_gradcheck_and_gradgradcheck_float64():
    rng = np.random.default_rng(2)
    x = ember.from_numpy(rng.standard_normal((2, 2, 6, 7))).requires_grad_()
    rois = ember.from_numpy(_random_rois(rng, 5, 2, 6, 7))
    for aligned in (False, True):
        for ratio in (-1, 2):

            def f(t, aligned=aligned, ratio=ratio):
                return ops.roi_align(t, rois, (2, 3), 1.0, ratio, aligned)

            assert gradcheck(f, (x,), eps=1e-6, atol=1e-6)
            assert gradgradcheck(f, (x,), eps=1e-6, atol=1e-6)


def test_gradient_accumulates_over_overlapping_boxes_by_hand():
    x = ember.zeros(1, 1, 4, 4, dtype=ember.float64).requires_grad_()
    box = [0.0, 0.0, 0.0, 2.0, 2.0]
    y = ops.roi_align(x, ember.tensor([box, box], dtype=ember.float64), 1, 1.0, 2)
    y.sum().backward()
    # Per axis the samples 0.5 and 1.5 (half weight each) spread over rows (0, 1) and
    # (1, 2): (1/4, 1/2, 1/4). Per box the outer product of that; two boxes add.
    line = np.array([0.5, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(x.grad.numpy()[0, 0], 2 * np.outer(line, line) / 4)


def test_bad_arguments_name_what_was_wrong():
    x = ember.zeros(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"shape \(K, 5\).*got \(3, 4\)"):
        ops.roi_align(x, ember.zeros(3, 4), 2)
    with pytest.raises(ValueError, match=r"boxes\[1\] must have shape \(L, 4\), got \(2, 5\)"):
        ops.roi_align(x, [ember.zeros(1, 4), ember.zeros(2, 5)], 2)
    with pytest.raises(ValueError, match=r"batch indices must be integers in \[0, 2\)"):
        ops.roi_align(x, ember.tensor([[2.0, 0, 0, 1, 1]]), 2)
    with pytest.raises(ValueError, match=r"input must be a Tensor \(N, C, H, W\), got \(3, 8, 8\)"):
        ops.roi_align(ember.zeros(3, 8, 8), ember.zeros(0, 5), 2)
    with pytest.raises(TypeError, match="floating-point"):
        ops.roi_align(ember.zeros(1, 1, 4, 4, dtype=ember.int64), ember.zeros(0, 5), 2)
    with pytest.raises(ValueError, match="output_size"):
        ops.roi_align(x, ember.zeros(0, 5), (2, 0))
    with pytest.raises(TypeError, match="boxes must be a Tensor"):
        ops.roi_align(x, np.zeros((1, 5)), 2)


def test_small_chunks_give_the_same_result(monkeypatch):
    from ember.vision import _roi_align

    rng = np.random.default_rng(5)
    x = ember.from_numpy(rng.standard_normal((2, 3, 16, 16))).requires_grad_()
    rois = _random_rois(rng, 20, 2, 16, 16)
    rois[2, 1:] = [0.0, 0.0, 16.0, 16.0]  # one big region among small ones
    boxes = ember.from_numpy(rois)
    gy = ember.from_numpy(rng.standard_normal((20, 3, 3, 3)))
    whole = ops.roi_align(x, boxes, 3, 1.0, -1)
    (gx,) = ember.autograd.grad(whole, x, gy)
    monkeypatch.setattr(_roi_align, "_CHUNK", 50)  # a chunk per region or two
    part = ops.roi_align(x, boxes, 3, 1.0, -1)
    (gx_part,) = ember.autograd.grad(part, x, gy)
    np.testing.assert_allclose(part.detach().numpy(), whole.detach().numpy(), rtol=1e-13)
    np.testing.assert_allclose(gx_part.numpy(), gx.numpy(), rtol=1e-13, atol=1e-15)
    ref, _ = _reference(x.detach().numpy(), rois, (3, 3), 1.0, -1, False)
    np.testing.assert_allclose(part.detach().numpy(), ref, rtol=1e-12, atol=1e-12)


def test_non_contiguous_and_half_inputs():
    rng = np.random.default_rng(7)
    base = ember.from_numpy(rng.standard_normal((2, 3, 9, 8)))
    x = base.permute(0, 1, 3, 2)  # (2, 3, 8, 9), a non-contiguous view
    boxes = ember.tensor([[0, 1.0, 1.0, 6.0, 5.0], [1, 0.0, 2.0, 8.0, 7.5]], dtype=ember.float64)
    ref, _ = _reference(np.ascontiguousarray(x.numpy()), boxes.numpy(), (2, 2), 1.0, 2, True)
    np.testing.assert_allclose(ops.roi_align(x, boxes, 2, 1.0, 2, True).numpy(), ref, rtol=1e-12)
    half = ops.roi_align(x.to(ember.float16), boxes, 2, 1.0, 2, True)
    assert half.dtype == ember.float16
    np.testing.assert_allclose(half.numpy().astype(np.float64), ref, atol=2e-2)
