"""LSTM time loops in C (``nn_rnn.c``): one layer, one direction, per-step products in
numpy's own BLAS (the same GEMM np.matmul calls) and the gates fused into one pass.

Rows are in PyTorch's packed order (see ``ember.nn.functional._rnn_kernels``): ``steps``
lists the (start, stop) rows of each step in the order they are processed.
"""

from __future__ import annotations

import numpy as np

from ember import _nn_kernels_base as _b
from ember import _nn_kernels_conv as _conv
from ember._C import ffi, lib

__all__ = ["lstm_available", "lstm_forward", "lstm_backward"]


def lstm_available(dtype) -> bool:
    """Whether the C LSTM loops can run for ``dtype`` here."""
    dtype = np.dtype(dtype)
    return (
        dtype in (np.float32, np.float64)
        and hasattr(lib, "em_lstm_fwd_f32")
        and _conv._gemm(dtype) is not None
    )


def _steps(steps) -> object:
    flat = [int(v) for se in steps for v in se]
    return ffi.new("int64_t[]", flat or [0])


def _state(a, ref: np.ndarray, name: str, op: str, shape: tuple) -> np.ndarray:
    """A fresh C-contiguous copy (the kernels update states in place)."""
    a = _b.like(a, ref, name, op, shape)
    return a.copy()


def lstm_forward(pre, whh, h0, c0, steps):
    """Run the LSTM over ``steps``. ``pre`` (N, 4H): input projections plus both biases;
    ``whh`` (4H, H); ``h0``, ``c0`` (B, H). Returns ``(y, hT, cT, act, cs, cprev,
    hprev)``: outputs (N, H), final states (B, H), and what :func:`lstm_backward` needs
    (gate activations (N, 4H), cell states and the states each step read (N, H))."""
    op = "lstm_forward"
    pre = _b.floats(pre, "pre", op)
    if pre.ndim != 2 or pre.shape[1] % 4 or pre.shape[1] == 0:
        raise ValueError(f"{op}: pre must be (N, 4H) with H >= 1, got {pre.shape}")
    n, hs = pre.shape[0], pre.shape[1] // 4
    whh = _b.like(whh, pre, "whh", op, (4 * hs, hs))
    big_b = np.shape(h0)[0] if np.ndim(h0) == 2 else -1
    h = _state(h0, pre, "h0", op, (big_b, hs))
    c = _state(c0, pre, "c0", op, (big_b, hs))
    act = np.empty((n, 4 * hs), pre.dtype)
    cs, cprev, hprev, y = (np.empty((n, hs), pre.dtype) for _ in range(4))
    dims = _b.geometry((n, big_b, hs, len(steps)))
    p = _b.ptr
    rc = _b.fn("lstm_fwd", pre.dtype)(
        p(pre),
        p(whh),
        p(h),
        p(c),
        p(act),
        p(cs),
        p(cprev),
        p(hprev),
        p(y),
        dims,
        _steps(steps),
        _conv._gemm(pre.dtype),
    )
    _b.check(rc, op)
    return y, h, c, act, cs, cprev, hprev


def lstm_backward(act, cs, cprev, gy, whh, dh, dc, steps):
    """Backpropagation through :func:`lstm_forward`'s loop, ``steps`` in backward order.
    ``gy`` (N, H) or None; ``dh``, ``dc`` (B, H): final-state gradients (copied, not
    modified). Returns ``(dgates (N, 4H), dh0, dc0)``."""
    op = "lstm_backward"
    act = _b.floats(act, "act", op)
    if act.ndim != 2 or act.shape[1] % 4 or act.shape[1] == 0:
        raise ValueError(f"{op}: act must be (N, 4H) with H >= 1, got {act.shape}")
    n, hs = act.shape[0], act.shape[1] // 4
    cs = _b.like(cs, act, "cs", op, (n, hs))
    cprev = _b.like(cprev, act, "cprev", op, (n, hs))
    gy = _b.optional(gy, act, "gy", op, (n, hs))
    whh = _b.like(whh, act, "whh", op, (4 * hs, hs))
    big_b = np.shape(dh)[0] if np.ndim(dh) == 2 else -1
    dh = _state(dh, act, "dh", op, (big_b, hs))
    dc = _state(dc, act, "dc", op, (big_b, hs))
    dgates = np.empty((n, 4 * hs), act.dtype)
    whh_t = np.ascontiguousarray(whh.T)  # the kernel's (H, b) = W_hh^T d^T reads it
    dims = _b.geometry((n, big_b, hs, len(steps)))
    p = _b.ptr
    rc = _b.fn("lstm_bwd", act.dtype)(
        p(act),
        p(cs),
        p(cprev),
        p(gy),
        p(whh_t),
        p(dh),
        p(dc),
        p(dgates),
        dims,
        _steps(steps),
        _conv._gemm(act.dtype),
    )
    _b.check(rc, op)
    return dgates, dh, dc
