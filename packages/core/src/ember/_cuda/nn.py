"""CUDA versions of ``ember._nn_kernels`` (same names, arguments, results and errors),
over CuPy arrays: softmax family and cross-entropy, im2col/col2im, 2-D max/avg pooling,
batch/layer norm and embedding backward (float32/float64, as on the CPU).

``ember._nn_kernels`` sends a CuPy array here; the shape and argument checks are the CPU
module's own helpers, so both devices accept and reject the same inputs.
"""

from __future__ import annotations

import math

import numpy as np

from ember import _nn_kernels_base as _b
from ember import _nn_kernels_conv as _conv
from ember import _nn_kernels_pool as _pool
from ember._cuda import loader as L

_SFX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}


for _t, _c in (("f32", "f"), ("f64", "d")):
    L.declare("softmax", "ppqqi", f"ember_softmax_fwd_{_t}")
    L.declare("softmax", "pppqqi", f"ember_softmax_bwd_{_t}")
    L.declare("softmax", "pppqqqdpppp", f"ember_cross_entropy_fwd_{_t}")
    L.declare("softmax", "pqdppppqqqd" + _c + "p", f"ember_cross_entropy_bwd_{_t}")
    L.declare("conv", "spp", f"ember_im2col_{_t}", f"ember_col2im_{_t}")
    L.declare("pool", "sppp", f"ember_maxpool2d_fwd_{_t}", f"ember_maxpool2d_bwd_{_t}")
    L.declare("pool", "sppiq", f"ember_avgpool2d_fwd_{_t}", f"ember_avgpool2d_bwd_{_t}")


def _cp():
    import cupy

    return cupy


def _floats(x, name: str, op: str):
    """``x`` as a C-contiguous float32/float64 CuPy array, else TypeError."""
    if not L._is_device_array(x):
        raise TypeError(f"{op}: {name} must be a CUDA array, got {type(x).__name__}")
    if x.dtype not in _SFX:
        raise TypeError(f"{op}: {name} must be float32 or float64, got {x.dtype}")
    return _cp().ascontiguousarray(x)


def _like(x, ref, name: str, op: str, shape=None):
    a = _floats(x, name, op)
    if a.dtype != ref.dtype:
        raise TypeError(f"{op}: {name} is {a.dtype} but the input is {ref.dtype}")
    if shape is not None and a.shape != tuple(shape):
        raise ValueError(f"{op}: {name} has shape {a.shape}, expected {tuple(shape)}")
    return a


def _optional(x, ref, name, op, shape):
    return None if x is None else _like(x, ref, name, op, shape)


def _indices(x, name: str, op: str):
    if not L._is_device_array(x):
        raise TypeError(f"{op}: {name} must be a CUDA array, got {type(x).__name__}")
    if x.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers (int64), got {x.dtype}")
    return _cp().ascontiguousarray(x, dtype=np.int64)


def _rows_of(a) -> tuple[int, int]:
    cols = a.shape[-1] if a.ndim else 1
    return (a.size // cols if cols else math.prod(a.shape[:-1])), cols


def _row_grid(rows: int) -> int:
    return max(1, min(rows, 65535))


def _check_bad(bad, op: str, message) -> None:
    """Raise IndexError when a kernel recorded a bad index: bad = (position + 1, value)."""
    pos, val = (int(v) for v in bad.get())
    if pos:
        raise IndexError(f"{op}: {message(pos - 1, np.int64(np.uint64(val)))}")


# ----- softmax family ------------------------------------------------------------------
def _softmax(x, log: int, op: str):
    x = _floats(x, "x", op)
    rows, cols = _rows_of(x)
    y = _cp().empty_like(x)
    if x.size:
        L.launch(
            f"ember_softmax_fwd_{_SFX[x.dtype]}",
            _row_grid(rows),
            L.THREADS,
            (x, y, rows, cols, log),
        )
    return y


def softmax(x):
    """exp(x - max) / sum(exp(x - max)) along the last dim (a row with a NaN is NaN)."""
    return _softmax(x, 0, "softmax")


def log_softmax(x):
    """x - logsumexp(x) along the last dim."""
    return _softmax(x, 1, "log_softmax")


def _softmax_bw(gy, y, log: int, op: str):
    y = _floats(y, "y", op)
    gy = _like(gy, y, "gy", op, y.shape)
    rows, cols = _rows_of(y)
    gx = _cp().empty_like(y)
    if y.size:
        L.launch(
            f"ember_softmax_bwd_{_SFX[y.dtype]}",
            _row_grid(rows),
            L.THREADS,
            (gy, y, gx, rows, cols, log),
        )
    return gx


def softmax_backward(gy, y):
    """Input gradient of softmax from its output y: y * (gy - sum(gy * y, -1))."""
    return _softmax_bw(gy, y, 0, "softmax_backward")


def log_softmax_backward(gy, y):
    """Input gradient of log_softmax from its output y: gy - exp(y) * sum(gy, -1)."""
    return _softmax_bw(gy, y, 1, "log_softmax_backward")


# ----- cross-entropy -------------------------------------------------------------------
def _as_rows(x, target, op: str):
    """(x as (rows, C) with classes last, target (rows,), per-row output shape, C)."""
    cp = _cp()
    x = _floats(x, "input", op)
    t = _indices(target, "target", op)
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
    if x.ndim > 2:
        x = cp.ascontiguousarray(cp.moveaxis(x, 1, -1)).reshape(-1, classes)
    return x, t.reshape(-1), t.shape, classes


def _target_message(classes: int, ignore_index: int):
    return lambda pos, val: (
        f"target {val} at position {pos} is out of bounds: expected a "
        f"class in [0, {classes - 1}] or ignore_index={ignore_index}"
    )


def _smoothing(label_smoothing, op: str) -> float:
    eps = float(label_smoothing)
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    return eps


def cross_entropy_forward(
    x,
    target,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
):
    """Cross-entropy of logits against class indices: returns (loss, lse, total_weight)
    exactly as the CPU's ``cross_entropy_forward`` (total_weight a Python float)."""
    cp = _cp()
    op = "cross_entropy"
    red = _b.reduction_code(reduction, op)
    eps = _smoothing(label_smoothing, op)
    xr, t, tshape, classes = _as_rows(x, target, op)
    rows = t.size
    if rows and classes < 1:
        raise ValueError(f"{op}: the input has no classes (C = 0)")
    w = _optional(weight, xr, "weight", op, (classes,))
    loss = cp.empty(rows, xr.dtype)
    lse = cp.empty(rows, xr.dtype)
    roww = cp.empty(rows, xr.dtype)
    bad = cp.zeros(2, np.uint64)
    if rows:
        L.launch(
            f"ember_cross_entropy_fwd_{_SFX[xr.dtype]}",
            _row_grid(rows),
            L.THREADS,
            (xr, t, w, rows, classes, int(ignore_index), eps, loss, lse, roww, bad),
        )
        _check_bad(bad, op, _target_message(classes, ignore_index))
    tw = float(roww.sum(dtype=np.float64))  # the CPU reports it for every reduction
    if red == 0:
        out = loss.reshape(tshape)
    elif red == 2:
        out = loss.sum()
    else:
        out = (loss.sum(dtype=np.float64) / tw).astype(xr.dtype) if tw else loss.sum() * np.nan
    return out, lse.reshape(tshape), tw


def cross_entropy_backward(
    gy,
    x,
    target,
    lse,
    weight=None,
    ignore_index: int = -100,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    total_weight: float | None = None,
):
    """Input gradient of :func:`cross_entropy_forward` w.r.t. the logits (the CPU's
    formula: g_i * (p * ((1 - eps) w_t + eps * sum(w) / C) - eps * w / C
    - (1 - eps) w_t onehot(t)))."""
    cp = _cp()
    op = "cross_entropy_backward"
    red = _b.reduction_code(reduction, op)
    eps = _smoothing(label_smoothing, op)
    shape = tuple(x.shape)
    xr, t, tshape, classes = _as_rows(x, target, op)
    lse = _like(lse, xr, "lse", op, tshape).reshape(-1)
    gy = _like(gy, xr, "gy", op, tshape if red == 0 else ())
    w = _optional(weight, xr, "weight", op, (classes,))
    rows = t.size
    if red == 1:
        if total_weight is None:
            valid = (t != ignore_index) & (t >= 0) & (t < classes)
            total_weight = float(
                valid.sum() if w is None else (w[cp.where(valid, t, 0)] * valid).sum()
            )
        scale = 1.0 / total_weight if total_weight else math.nan
    else:
        scale = 1.0
    wsum = float(w.sum()) if w is not None else float(classes)
    gx = cp.empty((rows, classes), xr.dtype)
    if rows:
        L.launch(
            f"ember_cross_entropy_bwd_{_SFX[xr.dtype]}",
            _row_grid(rows),
            L.THREADS,
            (
                gy,
                1 if red == 0 else 0,
                scale,
                xr,
                t,
                w,
                lse,
                rows,
                classes,
                int(ignore_index),
                eps,
                wsum,
                gx,
            ),
        )
    if len(shape) <= 2:
        return gx.reshape(shape)
    moved = gx.reshape(shape[:1] + shape[2:] + shape[1:2])
    return cp.ascontiguousarray(cp.moveaxis(moved, -1, 1))


# ----- im2col / col2im -----------------------------------------------------------------
def _conv_geom(shape: tuple, kernel_size, stride, padding, dilation, op: str):
    nsp = len(shape) - 2
    if not 1 <= nsp <= 3:
        raise ValueError(
            f"{op}: expected (N, C, *spatial) with 1 to 3 spatial dims, got shape {shape}"
        )
    k = _b.int_tuple(kernel_size, nsp, "kernel_size", op, 1)
    s = _b.int_tuple(stride, nsp, "stride", op, 1)
    p = _b.int_tuple(padding, nsp, "padding", op, 0)
    d = _b.int_tuple(dilation, nsp, "dilation", op, 1)
    out = _conv.conv_output_shape(shape[2:], k, s, p, d)
    lead = 3 - nsp  # unit leading dims make every problem 3-D, as on the CPU

    def three(v, fill):
        return (fill,) * lead + tuple(v)

    g = L.struct(
        L.CONV_GEOM,
        n=shape[0],
        c=shape[1],
        inp=three(shape[2:], 1),
        k=three(k, 1),
        s=three(s, 1),
        p=three(p, 0),
        d=three(d, 1),
        out=three(out, 1),
    )
    return g, out, k


def _out_buffer(out, shape: tuple, dtype, op: str):
    """``out`` checked as a C-contiguous CUDA array of ``shape`` and ``dtype``, or a new one."""
    if out is None:
        return _cp().empty(shape, dtype)
    if not L._is_device_array(out) or out.dtype != dtype or not out.flags.c_contiguous:
        raise TypeError(f"{op}: out must be a C-contiguous {dtype} CUDA array")
    if out.shape != shape:
        raise ValueError(f"{op}: out has shape {out.shape}, expected {shape}")
    return out


def im2col(x, kernel_size, stride=1, padding=0, dilation=1, out=None):
    """Unfold x (N, C, *spatial) into cols (N, C * prod(kernel), prod(out_spatial)),
    written into ``out`` when given."""
    op = "im2col"
    x = _floats(x, "x", op)
    g, osp, k = _conv_geom(x.shape, kernel_size, stride, padding, dilation, op)
    shape = (x.shape[0], x.shape[1] * math.prod(k), math.prod(osp))
    cols = _out_buffer(out, shape, x.dtype, op)
    if cols.size:
        L.launch(f"ember_im2col_{_SFX[x.dtype]}", L.blocks(cols.size), L.THREADS, (g, x, cols))
    return cols


def col2im(cols, input_shape, kernel_size, stride=1, padding=0, dilation=1, out=None):
    """Fold cols back into ``input_shape`` (N, C, *spatial), summing overlaps (into
    ``out`` when given)."""
    op = "col2im"
    cols = _floats(cols, "cols", op)
    shape = tuple(int(s) for s in input_shape)
    g, osp, k = _conv_geom(shape, kernel_size, stride, padding, dilation, op)
    expect = (shape[0], shape[1] * math.prod(k), math.prod(osp))
    if cols.shape != expect:
        raise ValueError(
            f"{op}: cols has shape {cols.shape}, expected {expect} for input shape {shape}"
        )
    x = _out_buffer(out, shape, cols.dtype, op)
    if x.size:
        L.launch(f"ember_col2im_{_SFX[x.dtype]}", L.blocks(x.size), L.THREADS, (g, cols, x))
    return x


# ----- pooling -------------------------------------------------------------------------
def _pool_geom(planes, hw, out, k, s, p, d):
    return L.struct(
        L.POOL_GEOM,
        planes=planes,
        ih=hw[0],
        iw=hw[1],
        oh=out[0],
        ow=out[1],
        kh=k[0],
        kw=k[1],
        sh=s[0],
        sw=s[1],
        ph=p[0],
        pw=p[1],
        dh=d[0],
        dw=d[1],
    )


def maxpool2d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max pooling of x (N, C, H, W) or (C, H, W): (out, int64 indices ih * W + iw)."""
    cp = _cp()
    op = "maxpool2d"
    x = _floats(x, "x", op)
    planes, hw = _pool._planes(x.shape, op)
    k, s, p, d, out = _pool._window_args(kernel_size, stride, padding, dilation, ceil_mode, hw, op)
    y = cp.empty(x.shape[:-2] + out, x.dtype)
    idx = cp.empty(y.shape, np.int64)
    if y.size:
        L.launch(
            f"ember_maxpool2d_fwd_{_SFX[x.dtype]}",
            L.blocks(y.size),
            L.THREADS,
            (_pool_geom(planes, hw, out, k, s, p, d), x, y, idx),
        )
    return y, idx


def maxpool2d_backward(gy, indices, input_shape):
    """Input gradient of max pooling: gy added at each window's recorded maximum."""
    cp = _cp()
    op = "maxpool2d_backward"
    gy = _floats(gy, "gy", op)
    idx = _indices(indices, "indices", op)
    shape = tuple(int(s) for s in input_shape)
    if idx.shape != gy.shape or len(shape) != gy.ndim or shape[:-2] != gy.shape[:-2]:
        raise ValueError(
            f"{op}: gy {gy.shape}, indices {idx.shape} and input_shape {shape} "
            f"must agree except in the last two dims"
        )
    planes = math.prod(shape[:-2])
    gx = cp.zeros(shape, gy.dtype)
    if gy.size:
        g = _pool_geom(planes, shape[-2:], gy.shape[-2:], (1, 1), (1, 1), (0, 0), (1, 1))
        L.launch(
            f"ember_maxpool2d_bwd_{_SFX[gy.dtype]}", L.blocks(gy.size), L.THREADS, (g, gy, idx, gx)
        )
    return gx


# The backward of adaptive max pooling is max pooling's: gy added at the recorded maxima.
adaptive_maxpool2d_backward = maxpool2d_backward


def _avg(a, shape_in, kernel_size, stride, padding, ceil_mode, cip, divisor_override, bw):
    cp = _cp()
    op = "avgpool2d" + ("_backward" if bw else "")
    a = _floats(a, "gy" if bw else "x", op)
    planes, hw = _pool._planes(shape_in, op)
    k, s, p, d, out = _pool._window_args(kernel_size, stride, padding, 1, ceil_mode, hw, op)
    if divisor_override is not None and (
        not isinstance(divisor_override, (int, np.integer)) or divisor_override == 0
    ):
        raise ValueError(
            f"{op}: divisor_override must be a non-zero int or None, got {divisor_override!r}"
        )
    div = 0 if divisor_override is None else int(divisor_override)
    g = _pool_geom(planes, hw, out, k, s, p, d)
    out_shape = tuple(shape_in[:-2]) + out
    sfx = _SFX[a.dtype]
    if bw:
        if a.shape != out_shape:
            raise ValueError(f"{op}: gy has shape {a.shape}, expected {out_shape}")
        gx = cp.zeros(shape_in, a.dtype)
        if a.size:
            L.launch(
                f"ember_avgpool2d_bwd_{sfx}",
                L.blocks(a.size),
                L.THREADS,
                (g, a, gx, bool(cip), div),
            )
        return gx
    y = cp.empty(out_shape, a.dtype)
    if y.size:
        L.launch(
            f"ember_avgpool2d_fwd_{sfx}", L.blocks(y.size), L.THREADS, (g, a, y, bool(cip), div)
        )
    return y


def avgpool2d_forward(
    x,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Average pooling of x (N, C, H, W) or (C, H, W), PyTorch's divisor rules."""
    return _avg(
        x,
        tuple(x.shape),
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        False,
    )


def avgpool2d_backward(
    gy,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """Input gradient of :func:`avgpool2d_forward`."""
    return _avg(
        gy,
        tuple(int(s) for s in input_shape),
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        True,
    )
