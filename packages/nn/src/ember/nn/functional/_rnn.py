"""The recurrent sequence op under RNN, LSTM and GRU, and the single-step cells.

:func:`rnn_sequence` runs one layer in one direction as ONE recorded op
(``"rnn_sequence"``): its loop is numpy (:mod:`._rnn_kernels`), its derivative a
numpy backpropagation through time (``ember.autograd.formulas_nn_b``). When a
backward is itself to be differentiated (``create_graph=True``), the formula
recomputes the step with :func:`composite`, the same recurrence written in
differentiable ember ops, and differentiates that instead.
"""

from __future__ import annotations

import numpy as np

import ember as E
from ember._ops._dispatch import record_if_needed
from ember._tensor import Tensor, _wrap
from ember.nn.functional import _rnn_kernels as K

__all__ = ["rnn_sequence", "composite", "rnn_tanh_cell", "rnn_relu_cell", "lstm_cell", "gru_cell"]


def _arr(t: Tensor | None):
    return None if t is None else t._a


def rnn_sequence(mode: str, xg, w_hh, b_hh, w_hr, h0, c0, batch_sizes: np.ndarray, reverse):
    """One layer, one direction. ``xg`` (N, G*H): the input projections ``x W_ih^T +
    b_ih`` in packed row order; ``h0`` (B, Hout), ``c0`` (B, H) for LSTM (else None).
    Returns ``(y (N, Hout), hT (B, Hout))`` plus ``cT (B, H)`` for LSTM.

    CUDA tensors take :func:`composite` (the recurrence in ember ops, each running on
    the device): the fused loop in :mod:`._rnn_kernels` works on host arrays."""
    if type(xg._a) is not np.ndarray:
        return composite(mode, xg, w_hh, b_hh, w_hr, h0, c0, batch_sizes, reverse)
    y, hT, cT, saved = K.forward(
        mode,
        xg._a,
        w_hh._a,
        _arr(b_hh),
        _arr(w_hr),
        h0._a,
        _arr(c0),
        batch_sizes,
        reverse,
    )
    outs = (_wrap(y), _wrap(hT)) + ((_wrap(cT),) if cT is not None else ())
    params = (mode, batch_sizes, reverse, saved)
    return record_if_needed(outs, (xg, w_hh, b_hh, w_hr, h0, c0), "rnn_sequence", params)


def rnn_sequence_grad(ctx, gys):
    """Derivative of :func:`rnn_sequence` (the formula behind ``"rnn_sequence"``)."""
    mode, batch_sizes, reverse, saved = ctx.params
    xg, w_hh, b_hh, w_hr, h0, c0 = ctx.inputs
    if ctx.create_graph:
        return _composite_grad(ctx, gys)
    gy, ghT = gys[0], gys[1]
    gcT = gys[2] if len(gys) > 2 else None
    grads = K.backward(
        mode,
        saved,
        _arr(gy),
        _arr(ghT),
        _arr(gcT),
        w_hh._a,
        _arr(w_hr),
        batch_sizes,
        reverse,
    )
    gxg, gwhh, gbhh, gwhr, gh0, gc0 = grads
    out = (gxg, gwhh, gbhh if b_hh is not None else None, gwhr, gh0, gc0)
    return tuple(None if g is None else _wrap(np.ascontiguousarray(g)) for g in out)


def _composite_grad(ctx, gys):
    mode, batch_sizes, reverse, _ = ctx.params
    inputs = ctx.inputs
    with E.enable_grad():
        outs = composite(mode, *inputs, batch_sizes, reverse)
    want = [i for i, e in enumerate(ctx.node.edges) if e is not None]
    pairs = [(o, g) for o, g in zip(outs, gys) if g is not None]
    gs = E.autograd.grad(
        [o for o, _ in pairs],
        [inputs[i] for i in want],
        [g for _, g in pairs],
        create_graph=True,
        allow_unused=True,
    )
    res = [None] * len(inputs)
    for i, g in zip(want, gs):
        res[i] = g
    return tuple(res)


def composite(mode: str, xg, w_hh, b_hh, w_hr, h0, c0, batch_sizes, reverse):
    """:func:`rnn_sequence` written step by step in differentiable ember ops (slow;
    used for higher-order derivatives)."""
    off = np.concatenate(([0], np.cumsum(batch_sizes)))
    order = range(len(batch_sizes) - 1, -1, -1) if reverse else range(len(batch_sizes))
    h, c = h0, c0
    ys = [None] * len(batch_sizes)
    for t in order:
        s, e = int(off[t]), int(off[t + 1])
        b = e - s
        hn, cn = _cell(mode, xg[s:e], h[:b], None if c is None else c[:b], w_hh, b_hh, w_hr)
        ys[t] = hn
        h = hn if b == h.shape[0] else E.cat([hn, h[b:]], 0)
        if c is not None:
            c = cn if b == c.shape[0] else E.cat([cn, c[b:]], 0)
    y = E.cat(ys, 0)
    return (y, h) if c is None else (y, h, c)


def _cell(mode, gi, h, c, w_hh, b_hh, w_hr):
    gh = E.matmul(h, w_hh.t())
    if b_hh is not None:
        gh = gh + b_hh
    if mode == "LSTM":
        i, f, g, o = (gi + gh).chunk(4, 1)
        cn = E.sigmoid(f) * c + E.sigmoid(i) * E.tanh(g)
        hn = E.sigmoid(o) * E.tanh(cn)
        if w_hr is not None:
            hn = E.matmul(hn, w_hr.t())
        return hn, cn
    if mode == "GRU":
        ir, iz, in_ = gi.chunk(3, 1)
        hr, hz, hn_ = gh.chunk(3, 1)
        r = E.sigmoid(ir + hr)
        z = E.sigmoid(iz + hz)
        n = E.tanh(in_ + r * hn_)
        return n + z * (h - n), None
    pre = gi + gh
    return (E.relu(pre) if mode == "RNN_RELU" else E.tanh(pre)), None


# ----- single steps (the cells) -----
def _step(mode, input, h, c, w_ih, w_hh, b_ih, b_hh):
    from ember.nn.functional._linear import linear

    xg = linear(input, w_ih, b_ih)
    bs = np.array([input.shape[0]], np.int64)
    return rnn_sequence(mode, xg, w_hh, b_hh, None, h, c, bs, False)


def rnn_tanh_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One Elman step ``tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)``: (B, in), (B, H) -> (B, H)."""
    return _step("RNN_TANH", input, hx, None, w_ih, w_hh, b_ih, b_hh)[1]


def rnn_relu_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One Elman step with ReLU: (B, in), (B, H) -> (B, H)."""
    return _step("RNN_RELU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[1]


def lstm_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> tuple[Tensor, Tensor]:
    """One LSTM step: input (B, in), ``hx = (h, c)`` each (B, H) -> ``(h', c')``."""
    _, h, c = _step("LSTM", input, hx[0], hx[1], w_ih, w_hh, b_ih, b_hh)
    return h, c


def gru_cell(input, hx, w_ih, w_hh, b_ih=None, b_hh=None) -> Tensor:
    """One GRU step: (B, in), (B, H) -> (B, H)."""
    return _step("GRU", input, hx, None, w_ih, w_hh, b_ih, b_hh)[1]
