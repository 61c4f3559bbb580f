"""CUDA versions of the rest of ``ember._nn_kernels`` that ResNet-style models need: NLL
loss and adaptive average pooling, written as CuPy array operations (gathers, slices,
means), which are as fast as a hand kernel for these shapes. Same arguments, results and
errors as the CPU functions."""

from __future__ import annotations

import numpy as np

from ember import _nn_kernels_base as _b
from ember import _nn_kernels_pool as _pool
from ember._cuda.nn import _as_rows, _cp, _floats, _like, _optional, _target_message


def nll_loss_forward(logp, target, weight=None, ignore_index: int = -100, reduction="mean"):
    """Negative log-likelihood of log-probabilities: (loss, total_weight), as on the CPU."""
    cp = _cp()
    op = "nll_loss"
    red = _b.reduction_code(reduction, op)
    x, t, tshape, classes = _as_rows(logp, target, op)
    if t.size and classes < 1:
        raise ValueError(f"{op}: the input has no classes (C = 0)")
    w = _optional(weight, x, "weight", op, (classes,))
    valid = t != ignore_index
    bad = valid & ((t < 0) | (t >= classes))
    if t.size and bool(bad.any()):
        pos = int(cp.argmax(bad))
        msg = _target_message(classes, ignore_index)(pos, int(t[pos]))
        raise IndexError(f"{op}: {msg}")
    safe = cp.where(valid, t, 0)
    wt = (cp.ones(t.size, x.dtype) if w is None else w[safe]) * valid
    loss = -wt * x[cp.arange(t.size), safe]
    tw = float(wt.sum(dtype=np.float64))
    if red == 0:
        return loss.reshape(tshape), tw
    total = loss.sum()
    return (total if red == 2 else (total / x.dtype.type(tw) if tw else total * np.nan)), tw


def nll_loss_backward(
    gy,
    target,
    input_shape,
    weight=None,
    ignore_index: int = -100,
    reduction="mean",
    total_weight=None,
):
    """Input gradient of :func:`nll_loss_forward`: gx[i, t_i] = -w[t_i] * g_i."""
    cp = _cp()
    op = "nll_loss_backward"
    red = _b.reduction_code(reduction, op)
    shape = tuple(int(s) for s in input_shape)
    gy = _floats(gy, "gy", op)
    proto = cp.empty(shape, gy.dtype)
    x, t, tshape, classes = _as_rows(proto, target, op)
    gy = _like(gy, x, "gy", op, tshape if red == 0 else ())
    w = _optional(weight, x, "weight", op, (classes,))
    valid = (t != ignore_index) & (t >= 0) & (t < classes)
    safe = cp.where(valid, t, 0)
    wt = (cp.ones(t.size, x.dtype) if w is None else w[safe]) * valid
    if red == 1:
        tw = float(wt.sum(dtype=np.float64)) if total_weight is None else float(total_weight)
        g = gy / x.dtype.type(tw) if tw else gy * np.nan
    else:
        g = gy.reshape(-1) if red == 0 else gy
    gx = cp.zeros((t.size, classes), x.dtype)
    gx[cp.arange(t.size), safe] = -wt * g
    if len(shape) <= 2:
        return gx.reshape(shape)
    moved = gx.reshape(shape[:1] + shape[2:] + shape[1:2])
    return cp.ascontiguousarray(cp.moveaxis(moved, -1, 1))


def _adaptive_windows(size: int, out: int):
    """PyTorch's adaptive windows: [floor(o * size / out), ceil((o + 1) * size / out))."""
    return [((o * size) // out, -(-((o + 1) * size) // out)) for o in range(out)]


def adaptive_avgpool2d_forward(x, output_size):
    """Adaptive average pooling of x (N, C, H, W) or (C, H, W) to ``output_size``."""
    cp = _cp()
    op = "adaptive_avgpool2d"
    x = _floats(x, "x", op)
    _, hw = _pool._planes(x.shape, op)
    out = _pool._adaptive_out(output_size, hw, op)
    if out == (1, 1):  # global pooling: one reduction
        return x.mean(axis=(-2, -1), keepdims=True)
    y = cp.empty(x.shape[:-2] + out, x.dtype)
    for i, (h0, h1) in enumerate(_adaptive_windows(hw[0], out[0])):
        for j, (w0, w1) in enumerate(_adaptive_windows(hw[1], out[1])):
            y[..., i, j] = x[..., h0:h1, w0:w1].mean(axis=(-2, -1))
    return y


def adaptive_avgpool2d_backward(gy, input_shape):
    """Input gradient of :func:`adaptive_avgpool2d_forward` (output size read from gy)."""
    cp = _cp()
    op = "adaptive_avgpool2d_backward"
    gy = _floats(gy, "gy", op)
    shape = tuple(int(s) for s in input_shape)
    _, hw = _pool._planes(shape, op)
    if gy.ndim != len(shape) or gy.shape[:-2] != shape[:-2]:
        raise ValueError(
            f"{op}: gy {gy.shape} and input_shape {shape} must agree except in the last two dims"
        )
    oh, ow = gy.shape[-2:]
    if (oh, ow) == (1, 1):
        return cp.ascontiguousarray(cp.broadcast_to(gy / gy.dtype.type(hw[0] * hw[1]), shape))
    gx = cp.zeros(shape, gy.dtype)
    for i, (h0, h1) in enumerate(_adaptive_windows(hw[0], oh)):
        for j, (w0, w1) in enumerate(_adaptive_windows(hw[1], ow)):
            cnt = gy.dtype.type((h1 - h0) * (w1 - w0))
            gx[..., h0:h1, w0:w1] += (gy[..., i, j] / cnt)[..., None, None]
    return gx
