"""Core's C LSTM loops (``ember._nn_kernels_rnn``) against a numpy LSTM written here
(forward) and directional finite differences of it (backward), on padded and packed
batches in both directions."""

from __future__ import annotations

import numpy as np
import pytest

from ember import _nn_kernels_rnn as KR

pytestmark = pytest.mark.skipif(
    not KR.lstm_available(np.float64), reason="numpy's BLAS exports no ILP64 CBLAS gemm"
)


def _sig(a):
    return 1 / (1 + np.exp(-a))


def _steps(batch_sizes, reverse):
    off = np.concatenate(([0], np.cumsum(batch_sizes)))
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    return [(int(off[t]), int(off[t + 1])) for t in order]


def _numpy_lstm(pre, whh, h0, c0, steps):
    hs = whh.shape[1]
    h, c = h0.copy(), c0.copy()
    y = np.zeros((pre.shape[0], hs))
    for s, e in steps:
        b = e - s
        a = pre[s:e] + h[:b] @ whh.T
        i, f, g, o = (
            _sig(a[:, :hs]),
            _sig(a[:, hs : 2 * hs]),
            np.tanh(a[:, 2 * hs : 3 * hs]),
            _sig(a[:, 3 * hs :]),
        )
        c[:b] = f * c[:b] + i * g
        h[:b] = o * np.tanh(c[:b])
        y[s:e] = h[:b]
    return y, h, c


CASES = [  # batch sizes (non-increasing), hidden, reverse
    ([3, 3, 3, 3], 5, False),
    ([3, 3, 3, 3], 5, True),
    ([4, 3, 3, 1], 7, False),
    ([4, 3, 3, 1], 7, True),
    ([2], 1, False),
]


@pytest.mark.parametrize("batch_sizes,hs,reverse", CASES)
def test_lstm_forward_and_backward(batch_sizes, hs, reverse):
    rng = np.random.default_rng(11)
    n, big_b = sum(batch_sizes), batch_sizes[0]
    pre = rng.standard_normal((n, 4 * hs))
    whh = rng.standard_normal((4 * hs, hs)) * 0.5
    h0, c0 = rng.standard_normal((big_b, hs)), rng.standard_normal((big_b, hs))
    steps = _steps(batch_sizes, reverse)
    y, hT, cT, act, cs, cprev, _ = KR.lstm_forward(pre, whh, h0, c0, steps)
    y_ref, h_ref, c_ref = _numpy_lstm(pre, whh, h0, c0, steps)
    for got, ref in ((y, y_ref), (hT, h_ref), (cT, c_ref)):
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-12)
    y32 = KR.lstm_forward(*(a.astype(np.float32) for a in (pre, whh, h0, c0)), steps)[0]
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, y_ref, rtol=2e-5, atol=2e-5)
    # L = <gy, y> + <ghT, hT> + <gcT, cT>: directional derivatives against the gradients
    gy, ghT, gcT = (rng.standard_normal(a.shape) for a in (y, hT, cT))
    dgates, dh0, dc0 = KR.lstm_backward(act, cs, cprev, gy, whh, ghT, gcT, steps[::-1])

    def loss(p, h, c):
        yy, hh, cc = _numpy_lstm(p, whh, h, c, steps)
        return (gy * yy).sum() + (ghT * hh).sum() + (gcT * cc).sum()

    eps = 1e-6
    for _ in range(3):
        dp, dh, dc = (rng.standard_normal(a.shape) for a in (pre, h0, c0))
        num = (
            loss(pre + eps * dp, h0 + eps * dh, c0 + eps * dc)
            - loss(pre - eps * dp, h0 - eps * dh, c0 - eps * dc)
        ) / (2 * eps)
        ana = (dgates * dp).sum() + (dh0 * dh).sum() + (dc0 * dc).sum()
        assert abs(num - ana) <= 1e-6 * max(1.0, abs(num))


def test_lstm_backward_without_output_gradient_and_inputs_untouched():
    rng = np.random.default_rng(2)
    pre, whh = rng.standard_normal((6, 8)), rng.standard_normal((8, 2))
    h0, c0 = rng.standard_normal((2, 2)), rng.standard_normal((2, 2))
    steps = _steps([2, 2, 2], False)
    h0_copy = h0.copy()
    _, hT, _, act, cs, cprev, _ = KR.lstm_forward(pre, whh, h0, c0, steps)
    np.testing.assert_array_equal(h0, h0_copy)  # the states are copied, not updated
    ghT = np.ones_like(hT)
    gate_a, dh_a, _ = KR.lstm_backward(
        act, cs, cprev, None, whh, ghT, np.zeros_like(hT), steps[::-1]
    )
    zeros = np.zeros((6, 2))
    gate_b, dh_b, _ = KR.lstm_backward(
        act, cs, cprev, zeros, whh, ghT, np.zeros_like(hT), steps[::-1]
    )
    np.testing.assert_array_equal(gate_a, gate_b)
    np.testing.assert_array_equal(dh_a, dh_b)
    assert np.array_equal(ghT, np.ones_like(hT))


def test_lstm_bad_input_is_named():
    pre, whh = np.zeros((4, 8)), np.zeros((8, 2))
    h0 = np.zeros((2, 2))
    with pytest.raises(ValueError, match=r"whh has shape \(8, 3\), expected \(8, 2\)"):
        KR.lstm_forward(pre, np.zeros((8, 3)), h0, h0, [(0, 2), (2, 4)])
    with pytest.raises(ValueError, match="pre must be"):
        KR.lstm_forward(np.zeros((4, 7)), whh, h0, h0, [(0, 2)])
    with pytest.raises(ValueError, match="invalid sizes"):  # a step past the rows
        KR.lstm_forward(pre, whh, h0, h0, [(0, 2), (2, 6)])
    with pytest.raises(TypeError, match="whh is float32"):
        KR.lstm_forward(pre, whh.astype(np.float32), h0, h0, [(0, 2)])
