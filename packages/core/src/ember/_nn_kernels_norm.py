"""Batch, layer and group normalization and embedding backward kernels (PyTorch's
semantics). Inputs are (N, C, *) for batch and group norm, (*, *normalized_shape) for
layer norm. Statistics accumulate in double; saved statistics have the input's dtype.
Backward functions take ``output_mask`` = (gx?, gweight?, gbias?) and return None for
the gradients not asked for.
"""

from __future__ import annotations

import math

import numpy as np

from ember import _nn_kernels_base as _b

__all__ = [
    "batchnorm_backward",
    "batchnorm_forward",
    "embedding_backward",
    "groupnorm_backward",
    "groupnorm_forward",
    "layernorm_backward",
    "layernorm_forward",
]


def _ncs(x: np.ndarray, op: str) -> tuple[int, int, int]:
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, *), got {x.shape}")
    return x.shape[0], x.shape[1], math.prod(x.shape[2:])


def _out(mask, i: int, shape: tuple, dtype) -> np.ndarray | None:
    return np.empty(shape, dtype) if mask[i] else None


def _running(a, x, name: str, op: str, c: int):
    """A running statistic updated in place: must already be contiguous, x's dtype, (C,)."""
    if a is None:
        return None
    if not isinstance(a, np.ndarray) or a.dtype != x.dtype or a.shape != (c,):
        raise TypeError(f"{op}: {name} must be a {x.dtype} numpy array of shape ({c},)")
    if not (a.flags.c_contiguous and a.flags.writeable):
        raise ValueError(f"{op}: {name} is updated in place: it must be contiguous and writeable")
    return a


def batchnorm_forward(
    x: np.ndarray,
    weight,
    bias,
    running_mean,
    running_var,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Batch normalization of x (N, C, *): returns (y, save_mean, save_invstd), each (C,).

    training: batch statistics (biased variance for y); running_mean / running_var (if
    given) are updated in place with ``momentum`` and the unbiased variance. Not
    training: running statistics normalize, and are returned as (mean, 1/sqrt(var+eps))
    for ``batchnorm_backward(..., training=False)``.
    """
    op = "batchnorm"
    x = _b.floats(x, "x", op)
    n, c, s = _ncs(x, op)
    w = _b.optional(weight, x, "weight", op, (c,))
    b = _b.optional(bias, x, "bias", op, (c,))
    rm = _running(running_mean, x, "running_mean", op, c)
    rv = _running(running_var, x, "running_var", op, c)
    if training and n * s < 2:
        raise ValueError(
            f"{op}: expected more than 1 value per channel when training, got "
            f"input of shape {x.shape}"
        )
    if not training and (rm is None or rv is None):
        raise ValueError(f"{op}: running_mean and running_var are needed when not training")
    y, mean, invstd = np.empty_like(x), np.empty(c, x.dtype), np.empty(c, x.dtype)
    rc = _b.fn(op, x.dtype)(
        _b.ptr(x),
        x.size,
        _b.ptr(y),
        _b.ptr(w),
        _b.ptr(b),
        _b.ptr(rm),
        _b.ptr(rv),
        _b.ptr(mean),
        _b.ptr(invstd),
        n,
        c,
        s,
        bool(training),
        float(momentum),
        float(eps),
    )
    _b.check(rc, op)
    return y, mean, invstd


def batchnorm_backward(
    gy: np.ndarray,
    x: np.ndarray,
    weight,
    save_mean,
    save_invstd,
    training: bool = True,
    output_mask=(True, True, True),
):
    """Gradients (gx, gweight, gbias) of batch normalization from the forward's saved
    statistics; gweight = sum(gy * xhat), gbias = sum(gy) per channel."""
    op = "batchnorm_backward"
    x = _b.floats(x, "x", op)
    n, c, s = _ncs(x, op)
    gy = _b.like(gy, x, "gy", op, x.shape)
    w = _b.optional(weight, x, "weight", op, (c,))
    mean = _b.like(save_mean, x, "save_mean", op, (c,))
    invstd = _b.like(save_invstd, x, "save_invstd", op, (c,))
    gx, gw, gb = (
        _out(output_mask, 0, x.shape, x.dtype),
        _out(output_mask, 1, (c,), x.dtype),
        _out(output_mask, 2, (c,), x.dtype),
    )
    rc = _b.fn(op, x.dtype)(
        _b.ptr(gy),
        _b.ptr(x),
        x.size,
        _b.ptr(w),
        _b.ptr(mean),
        _b.ptr(invstd),
        _b.ptr(gx),
        _b.ptr(gw),
        _b.ptr(gb),
        n,
        c,
        s,
        bool(training),
    )
    _b.check(rc, op)
    return gx, gw, gb


def _ln_dims(x: np.ndarray, normalized_ndim: int, op: str):
    if not isinstance(normalized_ndim, (int, np.integer)) or not 1 <= normalized_ndim <= x.ndim:
        raise ValueError(
            f"{op}: normalized_ndim must be in [1, {x.ndim}] for input "
            f"{x.shape}, got {normalized_ndim!r}"
        )
    k = int(normalized_ndim)
    norm_shape = x.shape[x.ndim - k :]
    return k, norm_shape, math.prod(norm_shape), math.prod(x.shape[: x.ndim - k])


def layernorm_forward(
    x: np.ndarray, normalized_ndim: int, weight=None, bias=None, eps: float = 1e-5
):
    """Layer normalization over the trailing ``normalized_ndim`` dims of x: returns
    (y, mean, rstd) with mean and rstd of shape x.shape[:-k] + (1,) * k (PyTorch's);
    weight and bias (or None) have the normalized shape."""
    op = "layernorm"
    x = _b.floats(x, "x", op)
    k, norm_shape, cols, rows = _ln_dims(x, normalized_ndim, op)
    w = _b.optional(weight, x, "weight", op, norm_shape)
    b = _b.optional(bias, x, "bias", op, norm_shape)
    stat_shape = x.shape[: x.ndim - k] + (1,) * k
    y, mean, rstd = np.empty_like(x), np.empty(stat_shape, x.dtype), np.empty(stat_shape, x.dtype)
    rc = _b.fn(op, x.dtype)(
        _b.ptr(x),
        x.size,
        _b.ptr(y),
        _b.ptr(w),
        _b.ptr(b),
        _b.ptr(mean),
        _b.ptr(rstd),
        rows,
        cols,
        float(eps),
    )
    _b.check(rc, op)
    return y, mean, rstd


def layernorm_backward(
    gy: np.ndarray,
    x: np.ndarray,
    normalized_ndim: int,
    weight,
    mean,
    rstd,
    output_mask=(True, True, True),
):
    """Gradients (gx, gweight, gbias) of layer normalization; gweight and gbias have the
    normalized shape (computed even when weight is None if the mask asks)."""
    op = "layernorm_backward"
    x = _b.floats(x, "x", op)
    k, norm_shape, cols, rows = _ln_dims(x, normalized_ndim, op)
    gy = _b.like(gy, x, "gy", op, x.shape)
    w = _b.optional(weight, x, "weight", op, norm_shape)
    stat_shape = x.shape[: x.ndim - k] + (1,) * k
    mean = _b.like(mean, x, "mean", op, stat_shape)
    rstd = _b.like(rstd, x, "rstd", op, stat_shape)
    gx = _out(output_mask, 0, x.shape, x.dtype)
    gw, gb = _out(output_mask, 1, norm_shape, x.dtype), _out(output_mask, 2, norm_shape, x.dtype)
    rc = _b.fn(op, x.dtype)(
        _b.ptr(gy),
        _b.ptr(x),
        x.size,
        _b.ptr(w),
        _b.ptr(mean),
        _b.ptr(rstd),
        _b.ptr(gx),
        _b.ptr(gw),
        _b.ptr(gb),
        rows,
        cols,
    )
    _b.check(rc, op)
    return gx, gw, gb


def _groups(c: int, num_groups, op: str) -> int:
    if not isinstance(num_groups, (int, np.integer)) or num_groups < 1 or c % num_groups:
        raise ValueError(
            f"{op}: num_groups must be a positive divisor of the {c} channels, got {num_groups!r}"
        )
    return int(num_groups)


def groupnorm_forward(x: np.ndarray, num_groups: int, weight=None, bias=None, eps: float = 1e-5):
    """Group normalization of x (N, C, *): returns (y, mean, rstd), mean and rstd of
    shape (N, num_groups); weight and bias (or None) are per channel (C,)."""
    op = "groupnorm"
    x = _b.floats(x, "x", op)
    n, c, s = _ncs(x, op)
    g = _groups(c, num_groups, op)
    w = _b.optional(weight, x, "weight", op, (c,))
    b = _b.optional(bias, x, "bias", op, (c,))
    y, mean, rstd = np.empty_like(x), np.empty((n, g), x.dtype), np.empty((n, g), x.dtype)
    rc = _b.fn(op, x.dtype)(
        _b.ptr(x),
        x.size,
        _b.ptr(y),
        _b.ptr(w),
        _b.ptr(b),
        _b.ptr(mean),
        _b.ptr(rstd),
        n,
        c,
        s,
        g,
        float(eps),
    )
    _b.check(rc, op)
    return y, mean, rstd


def groupnorm_backward(
    gy: np.ndarray,
    x: np.ndarray,
    num_groups: int,
    weight,
    mean,
    rstd,
    output_mask=(True, True, True),
):
    """Gradients (gx, gweight, gbias) of group normalization; gweight, gbias are (C,)."""
    op = "groupnorm_backward"
    x = _b.floats(x, "x", op)
    n, c, s = _ncs(x, op)
    g = _groups(c, num_groups, op)
    gy = _b.like(gy, x, "gy", op, x.shape)
    w = _b.optional(weight, x, "weight", op, (c,))
    mean = _b.like(mean, x, "mean", op, (n, g))
    rstd = _b.like(rstd, x, "rstd", op, (n, g))
    gx, gw, gb = (
        _out(output_mask, 0, x.shape, x.dtype),
        _out(output_mask, 1, (c,), x.dtype),
        _out(output_mask, 2, (c,), x.dtype),
    )
    rc = _b.fn(op, x.dtype)(
        _b.ptr(gy),
        _b.ptr(x),
        x.size,
        _b.ptr(w),
        _b.ptr(mean),
        _b.ptr(rstd),
        _b.ptr(gx),
        _b.ptr(gw),
        _b.ptr(gb),
        n,
        c,
        s,
        g,
    )
    _b.check(rc, op)
    return gx, gw, gb


def embedding_backward(
    gy: np.ndarray,
    indices: np.ndarray,
    num_embeddings: int,
    padding_idx: int | None = None,
    scale_grad_by_freq: bool = False,
) -> np.ndarray:
    """Weight gradient of an embedding lookup: gw (num_embeddings, D) with gy[i] (shape
    indices.shape + (D,)) summed into row indices[i]; rows equal to ``padding_idx``
    (negative counts from the end) get nothing; ``scale_grad_by_freq`` divides each
    contribution by its index's count in this batch. Bad indices raise IndexError."""
    op = "embedding_backward"
    gy = _b.floats(gy, "gy", op)
    idx = _b.indices(indices, "indices", op)
    num = int(num_embeddings)
    if num < 0:
        raise ValueError(f"{op}: num_embeddings must be >= 0, got {num_embeddings}")
    if gy.ndim != idx.ndim + 1 or gy.shape[:-1] != idx.shape:
        raise ValueError(
            f"{op}: gy must have shape indices.shape + (D,) = {idx.shape} + (D,), got {gy.shape}"
        )
    pad = -1
    if padding_idx is not None:
        pad = int(padding_idx) + (num if padding_idx < 0 else 0)
        if not 0 <= pad < num:
            raise ValueError(f"{op}: padding_idx {padding_idx} must be within [-{num}, {num - 1}]")
    dim = gy.shape[-1]
    gw = np.empty((num, dim), gy.dtype)
    bad = _b.new_bad()
    rc = _b.fn(op, gy.dtype)(
        _b.ptr(gy),
        gy.size,
        _b.ptr(idx),
        idx.size,
        _b.ptr(gw),
        gw.size,
        num,
        dim,
        pad,
        bool(scale_grad_by_freq),
        bad,
    )
    _b.check(
        rc,
        op,
        bad,
        lambda pos, val: (
            f"index {val} at position {pos} is out of range for {num} embeddings (valid range "
            f"[0, {num - 1}])"
        ),
    )
    return gw
