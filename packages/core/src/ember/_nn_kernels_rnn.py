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


def _gate_rows(a, name: str, op: str) -> tuple[np.ndarray, int, int]:
    """``a`` checked as float rows of four gates, (N, 4H) with H >= 1; and N, H."""
    a = _b.floats(a, name, op)
    if a.ndim != 2 or a.shape[1] % 4 or a.shape[1] == 0:
        raise ValueError(f"{op}: {name} must be (N, 4H) with H >= 1, got {a.shape}")
    return a, a.shape[0], a.shape[1] // 4


def _states(h, c, ref: np.ndarray, names: tuple[str, str], op: str, hs: int):
    """``(B, h, c)``: fresh C-contiguous copies of the (B, H) states ``h`` and ``c`` (the
    kernels update states in place); B is -1 when ``h`` is not 2-D (``like`` rejects it)."""
    big_b = np.shape(h)[0] if np.ndim(h) == 2 else -1
    h = _b.like(h, ref, names[0], op, (big_b, hs)).copy()
    c = _b.like(c, ref, names[1], op, (big_b, hs)).copy()
    return big_b, h, c


def lstm_forward(pre, whh, h0, c0, steps):
    """Run the LSTM over ``steps``. ``pre`` (N, 4H): input projections plus both biases;
    ``whh`` (4H, H); ``h0``, ``c0`` (B, H). Returns ``(y, hT, cT, act, cs, cprev,
    hprev)``: outputs (N, H), final states (B, H), and what :func:`lstm_backward` needs
    (gate activations (N, 4H), cell states and the states each step read (N, H))."""
    op = "lstm_forward"
    pre, n, hs = _gate_rows(pre, "pre", op)
    whh = _b.like(whh, pre, "whh", op, (4 * hs, hs))
    big_b, h, c = _states(h0, c0, pre, ("h0", "c0"), op, hs)
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
    act, n, hs = _gate_rows(act, "act", op)
    cs = _b.like(cs, act, "cs", op, (n, hs))
    cprev = _b.like(cprev, act, "cprev", op, (n, hs))
    gy = _b.optional(gy, act, "gy", op, (n, hs))
    whh = _b.like(whh, act, "whh", op, (4 * hs, hs))
    big_b, dh, dc = _states(dh, dc, act, ("dh", "dc"), op, hs)
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
