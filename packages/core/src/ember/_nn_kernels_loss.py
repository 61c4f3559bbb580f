"""Softmax, log-softmax, NLL loss and fused cross-entropy kernels (PyTorch's semantics).

Softmax runs over the last dim. Losses take (N, C), (N, C, d1, ..., dk) or (C,) inputs
with integer targets of shape (N,), (N, d1, ..., dk) or () and class weights (C,).
Mean reduction divides by the total weight of the targets that are not ignored:
``sum(w[t_i] * l_i) / sum(w[t_i])`` (NaN when every target is ignored, as PyTorch).
"""

from __future__ import annotations

import numpy as np

from ember import _nn_kernels_base as _b

__all__ = [
    "cross_entropy_backward",
    "cross_entropy_forward",
    "log_softmax",
    "log_softmax_backward",
    "nll_loss_backward",
    "nll_loss_forward",
    "softmax",
    "softmax_backward",
]


def _rows(a: np.ndarray) -> tuple[int, int]:
    cols = a.shape[-1] if a.ndim else 1
    return (a.size // cols if cols else int(np.prod(a.shape[:-1]))), cols


def _softmax(x, log: int, op: str) -> np.ndarray:
    x = _b.floats(x, "x", op)
    rows, cols = _rows(x)
    y = np.empty_like(x)
    _b.check(_b.fn("softmax", x.dtype)(_b.ptr(x), _b.ptr(y), x.size, rows, cols, log), op)
    return y


def softmax(x: np.ndarray) -> np.ndarray:
    """exp(x - max) / sum(exp(x - max)) along the last dim (a row with a NaN is NaN)."""
    return _softmax(x, 0, "softmax")


def log_softmax(x: np.ndarray) -> np.ndarray:
    """x - logsumexp(x) along the last dim."""
    return _softmax(x, 1, "log_softmax")


def _softmax_bw(gy, y, log: int, op: str) -> np.ndarray:
    y = _b.floats(y, "y", op)
    gy = _b.like(gy, y, "gy", op, y.shape)
    rows, cols = _rows(y)
    gx = np.empty_like(y)
    rc = _b.fn("softmax_backward", y.dtype)(
        _b.ptr(gy), _b.ptr(y), _b.ptr(gx), y.size, rows, cols, log
    )
    _b.check(rc, op)
    return gx


def softmax_backward(gy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Input gradient of softmax from its output y: y * (gy - sum(gy * y, -1))."""
    return _softmax_bw(gy, y, 0, "softmax_backward")


def log_softmax_backward(gy: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Input gradient of log_softmax from its output y: gy - exp(y) * sum(gy, -1)."""
    return _softmax_bw(gy, y, 1, "log_softmax_backward")


def _as_rows(x, target, op: str):
    """(x as (rows, C) with classes last, target (rows,), per-row output shape, C)."""
    x = _b.floats(x, "input", op)
    t = _b.indices(target, "target", op)
    if x.ndim == 1:
        if t.ndim != 0:
            raise ValueError(f"{op}: a 1-D input (C,) takes a 0-d target, got {t.shape}")
        return x.reshape(1, -1), t.reshape(1), (), x.shape[0]
    if x.ndim < 1 or t.shape != x.shape[:1] + x.shape[2:]:
        raise ValueError(
            f"{op}: input {x.shape} (N, C, d1, ...) needs target of shape "
            f"{x.shape[:1] + x.shape[2:]}, got {t.shape}"
        )
    classes = x.shape[1]
    if x.ndim > 2:  # classes to the last dim: rows are (n, d1, ..., dk)
        x = np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(-1, classes)
    return x, t.reshape(-1), t.shape, classes


def _weight(weight, x, classes, op):
    return _b.optional(weight, x, "weight", op, (classes,))


def _target_message(classes: int, ignore_index: int):
    return lambda pos, val: (
        f"target {val} at position {pos} is out of bounds: expected a "
        f"class in [0, {classes - 1}] or ignore_index={ignore_index}"
    )


def _check_classes(rows: int, classes: int, op: str) -> None:
    if rows and classes < 1:
        raise ValueError(f"{op}: the input has no classes (C = 0)")


def nll_loss_forward(
    logp: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
):
    """Negative log-likelihood of log-probabilities: returns (loss, total_weight).

    loss is 0-d for 'mean'/'sum', shaped like target for 'none'; total_weight (a float)
    is sum(w[t_i]) over the targets that are not ``ignore_index`` (pass it back to the
    backward). Targets outside [0, C) other than ignore_index raise IndexError.
    """
    op = "nll_loss"
    red = _b.reduction_code(reduction, op)
    x, t, tshape, classes = _as_rows(logp, target, op)
    _check_classes(t.size, classes, op)
    w = _weight(weight, x, classes, op)
    out = np.empty(tshape if red == 0 else (), x.dtype)
    tw, bad = _b.ffi.new("double *"), _b.new_bad()
    rc = _b.fn(op, x.dtype)(
        _b.ptr(x),
        x.size,
        _b.ptr(t),
        _b.ptr(w),
        t.size,
        classes,
        int(ignore_index),
        red,
        _b.ptr(out),
        out.size,
        tw,
        bad,
    )
    _b.check(rc, op, bad, _target_message(classes, ignore_index))
    return out, float(tw[0])


def _gy(gy, x, red: int, tshape: tuple, op: str) -> np.ndarray:
    gy = _b.like(gy, x, "gy", op)
    want = tshape if red == 0 else ()
    if gy.shape != want:
        raise ValueError(f"{op}: gy has shape {gy.shape}, expected {want}")
    return gy


def _total_weight(total_weight, t, w, ignore_index, red):
    if total_weight is not None or red != 1:
        return 0.0 if total_weight is None else float(total_weight)
    keep = t[t != ignore_index]
    keep = keep[(keep >= 0) & (keep < (len(w) if w is not None else np.inf))]  # C reports bad ones
    return float(len(keep) if w is None else w[keep].sum(dtype=np.float64))


def _restore(gx: np.ndarray, shape: tuple) -> np.ndarray:
    """(rows, C) gradient back to the input's (N, C, d1, ...) layout."""
    if len(shape) <= 2:
        return gx.reshape(shape)
    moved = gx.reshape(shape[:1] + shape[2:] + shape[1:2])
    return np.ascontiguousarray(np.moveaxis(moved, -1, 1))


def nll_loss_backward(
    gy: np.ndarray,
    target: np.ndarray,
    input_shape,
    weight: np.ndarray | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    total_weight: float | None = None,
) -> np.ndarray:
    """Input gradient of ``nll_loss_forward``: gx[i, t_i] = -w[t_i] * g_i, zero elsewhere,
    with g_i = gy[i] ('none'), gy ('sum') or gy / total_weight ('mean'; computed from
    target and weight when not given). gx has ``input_shape`` and gy's dtype."""
    op = "nll_loss_backward"
    red = _b.reduction_code(reduction, op)
    shape = tuple(int(s) for s in input_shape)
    proto = np.empty(shape, _b.floats(gy, "gy", op).dtype)
    x, t, tshape, classes = _as_rows(proto, target, op)
    gy = _gy(gy, x, red, tshape, op)
    w = _weight(weight, x, classes, op)
    tw = _total_weight(total_weight, t, w, ignore_index, red)
    gx = np.empty((t.size, classes), x.dtype)
    bad = _b.new_bad()
    rc = _b.fn(op, x.dtype)(
        _b.ptr(gy),
        gy.size,
        _b.ptr(t),
        _b.ptr(w),
        t.size,
        classes,
        int(ignore_index),
        red,
        tw,
        _b.ptr(gx),
        gx.size,
        bad,
    )
    _b.check(rc, op, bad, _target_message(classes, ignore_index))
    return _restore(gx, shape)


def _smoothing(label_smoothing, op):
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    return eps


def cross_entropy_forward(
    x: np.ndarray,
    target: np.ndarray,
    weight: np.ndarray | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """Cross-entropy of logits x against class indices, fused (no log-softmax array).

    Returns (loss, lse, total_weight): loss as ``nll_loss_forward``; lse, shaped like
    target, is each row's logsumexp, which the backward needs; with label smoothing eps
    the per-row loss is (1 - eps) * nll + eps / C * sum_c(-w_c * logp_c) (PyTorch's).
    """
    op = "cross_entropy"
    red = _b.reduction_code(reduction, op)
    eps = _smoothing(label_smoothing, op)
    xr, t, tshape, classes = _as_rows(x, target, op)
    _check_classes(t.size, classes, op)
    w = _weight(weight, xr, classes, op)
    out = np.empty(tshape if red == 0 else (), xr.dtype)
    lse = np.empty(tshape, xr.dtype)
    tw, bad = _b.ffi.new("double *"), _b.new_bad()
    rc = _b.fn(op, xr.dtype)(
        _b.ptr(xr),
        xr.size,
        _b.ptr(t),
        _b.ptr(w),
        t.size,
        classes,
        int(ignore_index),
        red,
        eps,
        _b.ptr(out),
        out.size,
        _b.ptr(lse),
        tw,
        bad,
    )
    _b.check(rc, op, bad, _target_message(classes, ignore_index))
    return out, lse, float(tw[0])


def cross_entropy_backward(
    gy: np.ndarray,
    x: np.ndarray,
    target: np.ndarray,
    lse: np.ndarray,
    weight: np.ndarray | None = None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    total_weight: float | None = None,
) -> np.ndarray:
    """Input gradient of ``cross_entropy_forward`` w.r.t. the logits x (same arguments,
    plus the forward's lse and total_weight): per row not ignored,
    g_i * (p * ((1 - eps) w_t + eps * sum(w) / C) - eps * w / C - (1 - eps) w_t onehot(t))."""
    op = "cross_entropy_backward"
    red = _b.reduction_code(reduction, op)
    eps = _smoothing(label_smoothing, op)
    shape = x.shape if isinstance(x, np.ndarray) else ()
    xr, t, tshape, classes = _as_rows(x, target, op)
    lse = _b.like(lse, xr, "lse", op, tshape)
    gy = _gy(gy, xr, red, tshape, op)
    w = _weight(weight, xr, classes, op)
    tw = _total_weight(total_weight, t, w, ignore_index, red)
    gx = np.empty((t.size, classes), xr.dtype)
    bad = _b.new_bad()
    rc = _b.fn(op, xr.dtype)(
        _b.ptr(gy),
        gy.size,
        _b.ptr(xr),
        xr.size,
        _b.ptr(t),
        _b.ptr(w),
        _b.ptr(lse),
        t.size,
        classes,
        int(ignore_index),
        red,
        eps,
        tw,
        _b.ptr(gx),
        bad,
    )
    _b.check(rc, op, bad, _target_message(classes, ignore_index))
    return _restore(gx, shape)
