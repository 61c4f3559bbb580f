"""The recurrent loops of RNN/LSTM/GRU over a whole sequence, on numpy arrays.

One call runs one layer in one direction. The input projections ``xg = x W_ih^T +
b_ih`` of every time step are computed beforehand in one matrix product; what is
left per step is one ``h W_hh^T`` product and a handful of elementwise passes.
Backward is backpropagation through time in the same style, with the weight
gradients taken in one product over all steps at the end.

Sequences are in PyTorch's packed layout: ``xg`` is (N, G*H), the rows of step
``t`` being ``off[t]:off[t+1]`` with ``batch_sizes[t]`` (non-increasing) rows, so
the same code serves padded batches (all batch sizes equal) and packed ones. A
sequence's state stays in its row of ``h``; rows past the batch size of a step
keep their value, which is what makes the final state of a shorter sequence
its state at its own last step (and, in reverse, a late-starting row start at
``h0``).
"""

from __future__ import annotations

import numpy as np

try:  # core's C time loop for the LSTM (absent from older ember-core builds)
    from ember import _nn_kernels_rnn as _CR
except ImportError:  # pragma: no cover - depends on the installed core
    _CR = None

__all__ = ["forward", "backward", "GATES"]

GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _sigmoid_(a: np.ndarray) -> np.ndarray:
    """In-place logistic function (exp may overflow to inf: 1/inf is the right 0)."""
    np.negative(a, out=a)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    return a


def _steps(batch_sizes: np.ndarray, reverse: bool):
    off = np.concatenate(([0], np.cumsum(batch_sizes)))
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    return [(int(off[t]), int(off[t + 1])) for t in order]


def forward(mode, xg, whh, bhh, whr, h0, c0, batch_sizes, reverse):
    """Run the recurrence. Returns ``(y, hT, cT, saved)``: the outputs (N, Hout) in
    packed row order, the final states (B, Hout) and (B, H) (cT None unless LSTM), and
    the arrays backward needs."""
    steps = _steps(batch_sizes, reverse)
    with np.errstate(over="ignore"):
        if mode == "LSTM":
            return _lstm_forward(xg, whh, bhh, whr, h0, c0, steps)
        if mode == "GRU":
            return _gru_forward(xg, whh, bhh, h0, steps)
        return _rnn_forward(xg, whh, bhh, h0, steps, mode == "RNN_RELU")


def backward(mode, saved, gy, ghT, gcT, whh, whr, batch_sizes, reverse):
    """Gradients ``(gxg, gwhh, gbhh, gwhr, gh0, gc0)`` of :func:`forward` (gwhr and
    gc0 None unless they exist); ``gy``, ``ghT``, ``gcT`` may be None (zero)."""
    steps = _steps(batch_sizes, reverse)[::-1]
    if mode == "LSTM":
        return _lstm_backward(saved, gy, ghT, gcT, whh, whr, steps)
    if mode == "GRU":
        return _gru_backward(saved, gy, ghT, whh, steps)
    return _rnn_backward(saved, gy, ghT, whh, steps, mode == "RNN_RELU")


# ----- LSTM: gates i, f, g, o -----
def _lstm_c(whr, a) -> bool:
    """Whether core's C loop runs this LSTM (no projection; it has no proj_size path)."""
    return whr is None and _CR is not None and a.shape[1] > 0 and _CR.lstm_available(a.dtype)


def _lstm_forward(xg, whh, bhh, whr, h0, c0, steps):
    n, h4 = xg.shape
    hs = h4 // 4
    pre = xg + bhh if bhh is not None else xg
    if _lstm_c(whr, xg):
        y, h, c, act, cs, cprev, hprev = _CR.lstm_forward(pre, whh, h0, c0, steps)
        return y, h, c, (act, cs, cprev, hprev, None)
    act = np.empty((n, h4), xg.dtype)  # gate activations, kept for backward
    cs = np.empty((n, hs), xg.dtype)  # cell states after each step
    cprev = np.empty((n, hs), xg.dtype)
    hprev = np.empty((n, h0.shape[1]), xg.dtype)
    ms = np.empty((n, hs), xg.dtype) if whr is not None else None
    y = np.empty((n, h0.shape[1]), xg.dtype)
    h, c = h0.copy(), c0.copy()
    whh_t = np.ascontiguousarray(whh.T)  # BLAS is faster on small products with this layout
    for s, e in steps:
        b = e - s
        hp = h[:b]
        hprev[s:e] = hp
        cprev[s:e] = c[:b]
        g = act[s:e]
        np.matmul(hp, whh_t, out=g)
        g += pre[s:e]
        gg = np.tanh(g[:, 2 * hs : 3 * hs])
        _sigmoid_(g)
        g[:, 2 * hs : 3 * hs] = gg
        i, f, o = g[:, :hs], g[:, hs : 2 * hs], g[:, 3 * hs :]
        cn = cs[s:e]
        np.multiply(f, c[:b], out=cn)
        cn += i * gg
        c[:b] = cn
        m = o * np.tanh(cn)
        if whr is not None:
            ms[s:e] = m
            m = m @ whr.T
        h[:b] = m
        y[s:e] = m
    return y, h, c, (act, cs, cprev, hprev, ms)


def _lstm_backward(saved, gy, ghT, gcT, whh, whr, steps):
    act, cs, cprev, hprev, ms = saved
    n, h4 = act.shape
    hs = h4 // 4
    bsz = hprev.shape[1] if ghT is None else ghT.shape[1]
    big_b = max(e - s for s, e in steps)  # the batch size
    dh = np.zeros((big_b, bsz), act.dtype) if ghT is None else ghT.copy()
    dc = np.zeros((big_b, hs), act.dtype) if gcT is None else gcT.copy()
    if _lstm_c(whr, act):
        dgates, dh, dc = _CR.lstm_backward(act, cs, cprev, gy, whh, dh, dc, steps)
        return dgates, dgates.T @ hprev, dgates.sum(0), None, dh, dc
    dgates = np.empty((n, h4), act.dtype)
    dys = np.empty((n, dh.shape[1]), act.dtype) if whr is not None else None
    for s, e in steps:
        b = e - s
        dhn = dh[:b] if gy is None else dh[:b] + gy[s:e]
        if whr is not None:
            dys[s:e] = dhn
            dhn = dhn @ whr
        a = act[s:e]
        i, f, gg, o = a[:, :hs], a[:, hs : 2 * hs], a[:, 2 * hs : 3 * hs], a[:, 3 * hs :]
        tc = np.tanh(cs[s:e])
        dcn = dc[:b] + dhn * o * (1 - tc * tc)
        d = dgates[s:e]
        np.multiply(dcn * gg, i * (1 - i), out=d[:, :hs])
        np.multiply(dcn * cprev[s:e], f * (1 - f), out=d[:, hs : 2 * hs])
        np.multiply(dcn * i, 1 - gg * gg, out=d[:, 2 * hs : 3 * hs])
        np.multiply(dhn * tc, o * (1 - o), out=d[:, 3 * hs :])
        dc[:b] = dcn * f
        dh[:b] = d @ whh
    gwhr = dys.T @ ms if whr is not None else None
    return dgates, dgates.T @ hprev, dgates.sum(0), gwhr, dh, dc


# ----- GRU: gates r, z, n; the hidden bias of n sits inside r * (...) -----
def _gru_forward(xg, whh, bhh, h0, steps):
    n, h3 = xg.shape
    hs = h3 // 3
    act = np.empty((n, h3), xg.dtype)
    ghn = np.empty((n, hs), xg.dtype)  # h W_hn^T + b_hn, needed for r's gradient
    hprev = np.empty((n, hs), xg.dtype)
    y = np.empty((n, hs), xg.dtype)
    h = h0.copy()
    whh_t = np.ascontiguousarray(whh.T)  # BLAS is faster on small products with this layout
    for s, e in steps:
        b = e - s
        hp = h[:b]
        hprev[s:e] = hp
        gh = hp @ whh_t
        if bhh is not None:
            gh += bhh
        a = act[s:e]
        gi = xg[s:e]
        np.add(gi[:, : 2 * hs], gh[:, : 2 * hs], out=a[:, : 2 * hs])
        _sigmoid_(a[:, : 2 * hs])
        ghn[s:e] = gh[:, 2 * hs :]
        r, z, nn = a[:, :hs], a[:, hs : 2 * hs], a[:, 2 * hs :]
        np.multiply(r, gh[:, 2 * hs :], out=nn)
        nn += gi[:, 2 * hs :]
        np.tanh(nn, out=nn)
        hn = y[s:e]
        np.subtract(hp, nn, out=hn)
        hn *= z
        hn += nn
        h[:b] = hn
    return y, h, None, (act, ghn, hprev)


def _gru_backward(saved, gy, ghT, whh, steps):
    act, ghn, hprev = saved
    n, h3 = act.shape
    hs = h3 // 3
    big_b = max(e - s for s, e in steps)
    dh = np.zeros((big_b, hs), act.dtype) if ghT is None else ghT.copy()
    dgi = np.empty((n, h3), act.dtype)
    dgh = np.empty((n, h3), act.dtype)
    for s, e in steps:
        b = e - s
        dhn = dh[:b] if gy is None else dh[:b] + gy[s:e]
        a = act[s:e]
        r, z, nn = a[:, :hs], a[:, hs : 2 * hs], a[:, 2 * hs :]
        hp = hprev[s:e]
        dnp = dhn * (1 - z) * (1 - nn * nn)
        np.multiply(dnp * ghn[s:e], r * (1 - r), out=dgi[s:e, :hs])
        np.multiply(dhn * (hp - nn), z * (1 - z), out=dgi[s:e, hs : 2 * hs])
        dgi[s:e, 2 * hs :] = dnp
        dgh[s:e, : 2 * hs] = dgi[s:e, : 2 * hs]
        np.multiply(dnp, r, out=dgh[s:e, 2 * hs :])
        dh[:b] = dhn * z + dgh[s:e] @ whh
    return dgi, dgh.T @ hprev, dgh.sum(0), None, dh, None


# ----- Elman RNN: h' = act(xg + b_hh + h W_hh^T) -----
def _rnn_forward(xg, whh, bhh, h0, steps, relu: bool):
    n, hs = xg.shape
    pre = xg + bhh if bhh is not None else xg
    hprev = np.empty((n, hs), xg.dtype)
    y = np.empty((n, hs), xg.dtype)
    h = h0.copy()
    whh_t = np.ascontiguousarray(whh.T)  # BLAS is faster on small products with this layout
    for s, e in steps:
        b = e - s
        hp = h[:b]
        hprev[s:e] = hp
        hn = y[s:e]
        np.matmul(hp, whh_t, out=hn)
        hn += pre[s:e]
        if relu:
            np.maximum(hn, 0, out=hn)
        else:
            np.tanh(hn, out=hn)
        h[:b] = hn
    return y, h, None, (y, hprev)


def _rnn_backward(saved, gy, ghT, whh, steps, relu: bool):
    y, hprev = saved
    n, hs = y.shape
    big_b = max(e - s for s, e in steps)
    dh = np.zeros((big_b, hs), y.dtype) if ghT is None else ghT.copy()
    dpre = np.empty((n, hs), y.dtype)
    for s, e in steps:
        b = e - s
        dhn = dh[:b] if gy is None else dh[:b] + gy[s:e]
        a = y[s:e]
        d = dpre[s:e]
        if relu:
            np.multiply(dhn, a > 0, out=d)
        else:
            np.multiply(dhn, 1 - a * a, out=d)
        dh[:b] = d @ whh
    return dpre, dpre.T @ hprev, dpre.sum(0), None, dh, None
