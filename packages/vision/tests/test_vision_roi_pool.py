"""ops.roi_pool against a per-bin reference written here, hand values, and gradchecks."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember.autograd import gradcheck, gradgradcheck
from ember.vision import ops


def _c_round(v):
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def _reference(x, rois, out, scale, gy=None):
    """Fast R-CNN's RoIPool one bin at a time: max over whole pixels, 0 when empty."""
    n, c, h, w = x.shape
    y = np.zeros((len(rois), c) + out)
    gx = np.zeros_like(x)
    for k, roi in enumerate(rois):
        b = int(roi[0])
        x1, y1, x2, y2 = (_c_round(v * scale) for v in roi[1:])
        bh = max(y2 - y1 + 1, 1) / out[0]
        bw = max(x2 - x1 + 1, 1) / out[1]
        for ph in range(out[0]):
            hs = min(max(math.floor(ph * bh) + y1, 0), h)
            he = min(max(math.ceil((ph + 1) * bh) + y1, 0), h)
            for pw in range(out[1]):
                ws = min(max(math.floor(pw * bw) + x1, 0), w)
                we = min(max(math.ceil((pw + 1) * bw) + x1, 0), w)
                if he <= hs or we <= ws:
                    continue
                for ch in range(c):
                    win = x[b, ch, hs:he, ws:we]
                    r, q = np.unravel_index(np.argmax(win), win.shape)
                    y[k, ch, ph, pw] = win[r, q]
                    if gy is not None:
                        gx[b, ch, hs + r, ws + q] += gy[k, ch, ph, pw]
    return y, gx


def _rois(rng, k, n, h, w):
    x1, y1 = rng.uniform(-4, w, k), rng.uniform(-4, h, k)
    rois = np.stack(
        [rng.integers(0, n, k), x1, y1, x1 + rng.uniform(0, 12, k), y1 + rng.uniform(0, 12, k)],
        axis=1,
    )
    rois[0, 1:] = [2.4, 2.5, 2.6, 2.4]  # rounds to a single pixel
    rois[1, 1:] = [-6.0, 1.0, -2.0, 4.0]  # wholly left of the map: empty bins
    return rois


@pytest.mark.parametrize("scale", [1.0, 0.5])
@pytest.mark.parametrize("out", [(2, 2), (3, 4)])
def test_forward_and_backward_match_the_per_bin_reference(scale, out):
    rng = np.random.default_rng(int(scale * 10) + out[1])
    x = rng.standard_normal((2, 3, 9, 11))
    rois = _rois(rng, 8, 2, 9 / scale, 11 / scale)
    gy = rng.standard_normal((8, 3) + out)
    ref, ref_gx = _reference(x, rois, out, scale, gy)
    xt = ember.from_numpy(x.copy()).requires_grad_()
    y = ops.roi_pool(xt, ember.from_numpy(rois), out, scale)
    assert tuple(y.shape) == (8, 3) + out and y.dtype == ember.float64
    np.testing.assert_array_equal(y.detach().numpy(), ref)
    y.backward(ember.from_numpy(gy))
    np.testing.assert_allclose(xt.grad.numpy(), ref_gx, rtol=1e-12, atol=1e-12)
    y32 = ops.roi_pool(ember.from_numpy(x.astype(np.float32)), ember.from_numpy(rois), out, scale)
    assert y32.dtype == ember.float32
    np.testing.assert_array_equal(y32.numpy(), ref.astype(np.float32))


def test_hand_values_and_ties():
    x = ember.from_numpy(np.arange(36.0).reshape(1, 1, 6, 6))
    # (0, 0, 3, 3): 4 x 4 pixels, 2 x 2 bins of 2 x 2: the bottom-right of each.
    box = ember.tensor([[0, 0.0, 0.0, 3.0, 3.0]], dtype=ember.float64)
    np.testing.assert_array_equal(ops.roi_pool(x, box, 2).numpy()[0, 0], [[7, 9], [19, 21]])
    # Width 5 over 2 bins: bin size 2.5, columns [1, 4) and [3, 6) overlap at column 3.
    box = ember.tensor([[0, 1.0, 0.0, 5.0, 1.0]], dtype=ember.float64)
    np.testing.assert_array_equal(ops.roi_pool(x, box, (1, 2)).numpy()[0, 0], [[9, 11]])
    # spatial_scale rounds half away from zero: 2.5 * 1 -> 3, and 1.0 * 0.5 = 0.5 -> 1.
    box = ember.tensor([[0, 2.5, 1.0, 2.5, 1.0]], dtype=ember.float64)
    assert ops.roi_pool(x, box, 1, 0.5).item() == 1 * 6 + 1
    assert ops.roi_pool(x, box, 1, 1.0).item() == 1 * 6 + 3
    # Ties: the gradient goes to the first maximum in row-major order, once.
    flat = ember.ones(1, 1, 4, 4, dtype=ember.float64).requires_grad_()
    y = ops.roi_pool(flat, ember.tensor([[0, 1.0, 1.0, 2.0, 2.0]], dtype=ember.float64), 1)
    y.backward()
    g = np.zeros((4, 4))
    g[1, 1] = 1.0
    np.testing.assert_array_equal(flat.grad.numpy()[0, 0], g)
    # A region off the map pools nothing: 0, and no gradient.
    off = ember.tensor([[0, -9.0, -9.0, -7.0, -7.0]], dtype=ember.float64)
    assert ops.roi_pool(x, off, 1).item() == 0.0


def test_list_boxes_module_and_empty():
    rng = np.random.default_rng(3)
    x = ember.from_numpy(rng.standard_normal((2, 2, 8, 8)))
    b0 = ember.tensor([[0.0, 0.0, 5.0, 5.0]], dtype=ember.float64)
    b1 = ember.tensor([[2.0, 1.0, 4.0, 7.5], [0.0, 0.0, 7.0, 7.0]], dtype=ember.float64)
    rows = ember.tensor(
        [[0, 0.0, 0.0, 5.0, 5.0], [1, 2.0, 1.0, 4.0, 7.5], [1, 0.0, 0.0, 7.0, 7.0]],
        dtype=ember.float64,
    )
    m = ops.RoIPool((3, 2), 1.0)
    np.testing.assert_array_equal(m(x, [b0, b1]).numpy(), ops.roi_pool(x, rows, (3, 2)).numpy())
    assert repr(m) == "RoIPool(output_size=(3, 2), spatial_scale=1.0)"
    assert tuple(ops.roi_pool(x, ember.zeros(0, 5), 4).shape) == (0, 2, 4, 4)
    with pytest.raises(ValueError, match=r"shape \(K, 5\)"):
        ops.roi_pool(x, ember.zeros(2, 4), 2)


def test_gradcheck_and_gradgradcheck_float64():
    rng = np.random.default_rng(4)
    x = ember.from_numpy(rng.standard_normal((2, 2, 6, 7))).requires_grad_()
    rois = ember.from_numpy(_rois(rng, 5, 2, 6, 7))
    assert gradcheck(lambda t: ops.roi_pool(t, rois, (2, 3)), (x,), eps=1e-6, atol=1e-6)
    assert gradgradcheck(lambda t: ops.roi_pool(t, rois, (2, 3)), (x,), eps=1e-6, atol=1e-6)


def test_small_chunks_give_the_same_result(monkeypatch):
    from ember.vision import _roi_align

    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 3, 16, 16))
    rois = _rois(rng, 20, 2, 16, 16)
    rois[2, 1:] = [0.0, 0.0, 15.0, 15.0]  # one big region among small ones
    monkeypatch.setattr(_roi_align, "_CHUNK", 50)
    y = ops.roi_pool(ember.from_numpy(x), ember.from_numpy(rois), (2, 3))
    np.testing.assert_array_equal(y.numpy(), _reference(x, rois, (2, 3), 1.0)[0])


def test_non_contiguous_input():
    rng = np.random.default_rng(8)
    x = ember.from_numpy(rng.standard_normal((2, 3, 9, 8))).permute(0, 1, 3, 2)
    rois = np.array([[0, 1.0, 1.0, 6.0, 5.0], [1, 0.0, 2.0, 8.0, 7.5]])
    ref, _ = _reference(np.ascontiguousarray(x.numpy()), rois, (2, 3), 1.0)
    np.testing.assert_array_equal(ops.roi_pool(x, ember.from_numpy(rois), (2, 3)).numpy(), ref)
