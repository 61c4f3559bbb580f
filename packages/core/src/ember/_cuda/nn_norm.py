"""CUDA versions of ``ember._nn_kernels_norm``: batch norm, layer norm and embedding
backward over float32/float64 CuPy arrays, with the CPU functions' arguments, results and
errors (group norm and ``scale_grad_by_freq`` raise NotImplementedError on CUDA)."""

from __future__ import annotations

import math

import numpy as np

from ember._cuda import loader as L
from ember._cuda.nn import _SFX, _check_bad, _floats, _indices, _like, _optional, _row_grid

for _t in ("f32", "f64"):
    L.declare("norm", "pqqqppppdd", f"ember_batchnorm_stats_{_t}")
    L.declare("norm", "ppppppqqq", f"ember_batchnorm_apply_{_t}")
    L.declare("norm", "ppppqqqpp", f"ember_batchnorm_bwd_reduce_{_t}")
    L.declare("norm", "ppppppppqqqi", f"ember_batchnorm_bwd_input_{_t}")
    L.declare("norm", "ppppppqqd", f"ember_layernorm_fwd_{_t}")
    L.declare("norm", "ppppppqq", f"ember_layernorm_bwd_{_t}")
    L.declare("norm", "ppppppqq", f"ember_layernorm_bwd_wb_{_t}")
    L.declare("norm", "pppqqqqip", f"ember_embedding_bwd_{_t}")
_STAT_THREADS = 512  # one block per channel/row walks many elements: use more threads


def _cp():
    import cupy

    return cupy


def _ncs(x, op: str) -> tuple[int, int, int]:
    if x.ndim < 2:
        raise ValueError(f"{op}: expected an input of shape (N, C, *), got {x.shape}")
    return x.shape[0], x.shape[1], math.prod(x.shape[2:])


def _running(a, x, name: str, op: str, c: int):
    if a is None:
        return None
    if not L._is_device_array(a) or a.dtype != x.dtype or a.shape != (c,):
        raise TypeError(f"{op}: {name} must be a ({c},) CUDA array of {x.dtype}")
    if not a.flags.c_contiguous:
        raise ValueError(f"{op}: {name} must be contiguous (it is updated in place)")
    return a


def batchnorm_forward(
    x,
    weight,
    bias,
    running_mean,
    running_var,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Batch normalization of x (N, C, *): (y, save_mean, save_invstd), as on the CPU."""
    cp = _cp()
    op = "batchnorm"
    x = _floats(x, "x", op)
    n, c, s = _ncs(x, op)
    w = _optional(weight, x, "weight", op, (c,))
    b = _optional(bias, x, "bias", op, (c,))
    rm = _running(running_mean, x, "running_mean", op, c)
    rv = _running(running_var, x, "running_var", op, c)
    if training and n * s < 2:
        raise ValueError(
            f"{op}: expected more than 1 value per channel when training, got "
            f"input of shape {x.shape}"
        )
    if not training and (rm is None or rv is None):
        raise ValueError(f"{op}: running_mean and running_var are needed when not training")
    sfx = _SFX[x.dtype]
    y = cp.empty_like(x)
    if training:
        mean, invstd = cp.empty(c, x.dtype), cp.empty(c, x.dtype)
        if c:
            L.launch(
                f"ember_batchnorm_stats_{sfx}",
                _row_grid(c),
                _STAT_THREADS,
                (x, n, c, s, mean, invstd, rm, rv, float(momentum), float(eps)),
            )
    else:
        mean = rm.copy()
        invstd = (1.0 / cp.sqrt(rv + x.dtype.type(eps))).astype(x.dtype)
    if x.size:
        L.launch(
            f"ember_batchnorm_apply_{sfx}",
            L.blocks(x.size),
            L.THREADS,
            (x, y, mean, invstd, w, b, x.size, c, s),
        )
    return y, mean, invstd


def batchnorm_backward(
    gy, x, weight, save_mean, save_invstd, training: bool = True, output_mask=(True, True, True)
):
    """Gradients (gx, gweight, gbias) of batch normalization (None where the mask says)."""
    cp = _cp()
    op = "batchnorm_backward"
    x = _floats(x, "x", op)
    n, c, s = _ncs(x, op)
    gy = _like(gy, x, "gy", op, x.shape)
    w = _optional(weight, x, "weight", op, (c,))
    mean = _like(save_mean, x, "save_mean", op, (c,))
    invstd = _like(save_invstd, x, "save_invstd", op, (c,))
    sfx = _SFX[x.dtype]
    gw, gb = cp.empty(c, x.dtype), cp.empty(c, x.dtype)
    if c:
        L.launch(
            f"ember_batchnorm_bwd_reduce_{sfx}",
            _row_grid(c),
            _STAT_THREADS,
            (gy, x, mean, invstd, n, c, s, gw, gb),
        )
    gx = None
    if output_mask[0]:
        gx = cp.empty_like(x)
        if x.size:
            L.launch(
                f"ember_batchnorm_bwd_input_{sfx}",
                L.blocks(x.size),
                L.THREADS,
                (gy, x, w, mean, invstd, gw, gb, gx, x.size, c, s, bool(training)),
            )
    return gx, gw if output_mask[1] else None, gb if output_mask[2] else None


def _ln_dims(x, normalized_ndim: int, op: str):
    if not isinstance(normalized_ndim, (int, np.integer)) or not 1 <= normalized_ndim <= x.ndim:
        raise ValueError(
            f"{op}: normalized_ndim must be in [1, {x.ndim}] for input "
            f"{x.shape}, got {normalized_ndim!r}"
        )
    k = int(normalized_ndim)
    norm_shape = x.shape[x.ndim - k :]
    return k, norm_shape, math.prod(norm_shape), math.prod(x.shape[: x.ndim - k])


def layernorm_forward(x, normalized_ndim: int, weight=None, bias=None, eps: float = 1e-5):
    """Layer normalization over the trailing dims: (y, mean, rstd), stats shaped
    x.shape[:-k] + (1,) * k as on the CPU."""
    cp = _cp()
    op = "layernorm"
    x = _floats(x, "x", op)
    k, norm_shape, cols, rows = _ln_dims(x, normalized_ndim, op)
    w = _optional(weight, x, "weight", op, norm_shape)
    b = _optional(bias, x, "bias", op, norm_shape)
    stat_shape = x.shape[: x.ndim - k] + (1,) * k
    y, mean, rstd = cp.empty_like(x), cp.empty(stat_shape, x.dtype), cp.empty(stat_shape, x.dtype)
    if rows and cols:
        L.launch(
            f"ember_layernorm_fwd_{_SFX[x.dtype]}",
            _row_grid(rows),
            L.THREADS,
            (x, w, b, y, mean, rstd, rows, cols, float(eps)),
        )
    return y, mean, rstd


def layernorm_backward(
    gy, x, normalized_ndim: int, weight, mean, rstd, output_mask=(True, True, True)
):
    """Gradients (gx, gweight, gbias) of layer normalization."""
    cp = _cp()
    op = "layernorm_backward"
    x = _floats(x, "x", op)
    k, norm_shape, cols, rows = _ln_dims(x, normalized_ndim, op)
    gy = _like(gy, x, "gy", op, x.shape)
    w = _optional(weight, x, "weight", op, norm_shape)
    stat_shape = x.shape[: x.ndim - k] + (1,) * k
    mean = _like(mean, x, "mean", op, stat_shape)
    rstd = _like(rstd, x, "rstd", op, stat_shape)
    sfx = _SFX[x.dtype]
    gx = cp.empty_like(x) if output_mask[0] else None
    gw = cp.empty(norm_shape, x.dtype) if output_mask[1] else None
    gb = cp.empty(norm_shape, x.dtype) if output_mask[2] else None
    if rows and cols:
        if gx is not None:
            L.launch(
                f"ember_layernorm_bwd_{sfx}",
                _row_grid(rows),
                L.THREADS,
                (gy, x, w, mean, rstd, gx, rows, cols),
            )
        if gw is not None or gb is not None:
            L.launch(
                f"ember_layernorm_bwd_wb_{sfx}",
                L.blocks(cols),
                L.THREADS,
                (gy, x, mean, rstd, gw, gb, rows, cols),
            )
    elif gw is not None or gb is not None:
        for g in (gw, gb):
            if g is not None:
                g.fill(0)
    return gx, gw, gb


def embedding_backward(
    gy,
    indices,
    num_embeddings: int,
    padding_idx: int | None = None,
    scale_grad_by_freq: bool = False,
):
    """Weight gradient (num_embeddings, D) of an embedding lookup, as on the CPU."""
    cp = _cp()
    op = "embedding_backward"
    if scale_grad_by_freq:
        raise NotImplementedError(
            f"{op} with scale_grad_by_freq is not implemented for device cuda"
        )
    gy = _floats(gy, "gy", op)
    idx = _indices(indices, "indices", op)
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
    gw = cp.zeros((num, dim), gy.dtype)
    bad = cp.zeros(2, np.uint64)
    if gy.size:
        L.launch(
            f"ember_embedding_bwd_{_SFX[gy.dtype]}",
            L.blocks(gy.size),
            L.THREADS,
            (gy, idx, gw, idx.size, dim, num, pad, pad >= 0, bad),
        )
        _check_bad(
            bad,
            op,
            lambda pos, val: (
                f"index {val} at position {pos} is out of range for {num} embeddings (valid range "
                f"[0, {num - 1}])"
            ),
        )
    return gw
