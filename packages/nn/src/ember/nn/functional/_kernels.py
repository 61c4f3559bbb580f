"""The numpy-level kernels under the hot layers, one small dispatch function each.

Each function takes and returns arrays of one device: numpy arrays on the CPU, CuPy
arrays on CUDA (the result stays on the input's device). When core's kernels
(``ember._nn_kernels``, which send CuPy arrays to ``ember._cuda``) provide one, it is
used; otherwise the array version here runs, written once for both devices: buffers come
from the input's array module (:func:`xp_of`), strided views from the matching
``as_strided``, and nothing goes through the host. Switching a kernel over is one line
in its function.
"""

from __future__ import annotations

import numpy as np

try:  # C kernels from ember-core, when this core has them
    from ember import _nn_kernels as _K
except ImportError:  # pragma: no cover - depends on the installed core
    _K = None

_C_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def xp_of(a):
    """The array module of ``a``: numpy for host arrays, CuPy for CUDA arrays."""
    if type(a) is np.ndarray:
        return np
    import cupy

    return cupy


def contiguous(a):
    """``a`` if C-contiguous, else a C-contiguous copy on its device (use it for
    ``np.ascontiguousarray``, which CuPy refuses: implicit conversion to the host)."""
    return a if a.flags.c_contiguous else a.copy()


def _c_ok(a: np.ndarray, pads) -> bool:
    """Whether core's kernel applies: float32/64 and symmetric padding (numpy arrays go
    to the C kernel, CUDA arrays to ember._cuda's)."""
    return _K is not None and a.dtype in _C_DTYPES and all(lo == hi for lo, hi in pads)


def c_ok(a: np.ndarray, pads) -> bool:
    """Whether core's C im2col/col2im take ``a`` (a numpy float32/64 array) with ``pads``
    ((lo, hi) per spatial dim; the C kernels pad symmetrically)."""
    return type(a) is np.ndarray and _c_ok(a, pads) and 1 <= len(pads) <= 3


def im2col_into(x, kernel, stride, pad_lo, dilation, buf) -> np.ndarray:
    """Core's C im2col of ``x`` (N, C, *S) written into ``buf`` (N, C*K, P)."""
    return _K.im2col(x, kernel, stride, pad_lo, dilation, out=buf)


def col2im_into(cols, gx, kernel, stride, pad_lo, dilation) -> np.ndarray:
    """Core's C col2im of ``cols`` (N, C*K, P) overwriting ``gx`` (N, C, *S)."""
    return _K.col2im(cols, gx.shape, kernel, stride, pad_lo, dilation, out=gx)


__all__ = [
    "im2col",
    "col2im",
    "pad_input",
    "maxpool_forward",
    "maxpool_backward",
    "softmax",
    "log_softmax",
    "embedding_backward",
]


def pad_input(x: np.ndarray, pads: tuple, value: float = 0.0) -> np.ndarray:
    """``x`` (N, C, *S) padded by ``pads`` ((lo, hi) per spatial dim)."""
    if not any(lo or hi for lo, hi in pads):
        return x
    return np.pad(x, ((0, 0), (0, 0), *pads), constant_values=value)


def windows(xp: np.ndarray, kernel: tuple, out: tuple, stride: tuple, dilation: tuple):
    """A read-only view (N, C, *kernel, *out) of the sliding windows of padded ``xp``."""
    st = xp.strides
    sp = st[2:]
    shape = xp.shape[:2] + tuple(kernel) + tuple(out)
    strides = (
        st[:2]
        + tuple(s * d for s, d in zip(sp, dilation))
        + tuple(s * k for s, k in zip(sp, stride))
    )
    if type(xp) is np.ndarray:
        return np.lib.stride_tricks.as_strided(xp, shape, strides, writeable=False)
    return xp_of(xp).lib.stride_tricks.as_strided(xp, shape, strides)


def im2col(xp, kernel, out, stride, dilation) -> np.ndarray:
    """Columns (N, C*prod(kernel), prod(out)) of padded input ``xp`` (N, C, *S)."""
    w = windows(xp, kernel, out, stride, dilation)
    n, c = xp.shape[:2]
    k = int(np.prod(kernel))
    p = int(np.prod(out))
    cols = xp_of(xp).empty((n, c * k, p), xp.dtype)
    np.copyto(cols.reshape(w.shape), w)
    return cols


def im2col_unpadded(x, kernel, out, stride, pads, dilation) -> np.ndarray:
    """Columns (N, C*prod(kernel), prod(out)) of ``x`` padded by ``pads``."""
    if _c_ok(x, pads):
        return _K.im2col(x, kernel, stride, tuple(lo for lo, _ in pads), dilation)
    return im2col(pad_input(x, pads), kernel, out, stride, dilation)


def col2im_unpadded(cols, x_shape, kernel, out, stride, pads, dilation) -> np.ndarray:
    """The adjoint of :func:`im2col_unpadded`: a gradient of ``x_shape``."""
    if _c_ok(cols, pads):
        return _K.col2im(cols, x_shape, kernel, stride, tuple(lo for lo, _ in pads), dilation)
    padded = tuple(x_shape[:2]) + tuple(s + lo + hi for s, (lo, hi) in zip(x_shape[2:], pads))
    gx = col2im(cols, padded, kernel, out, stride, dilation)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(x_shape[2:], pads))
    return contiguous(gx[(slice(None), slice(None)) + crop])


def maxpool2d_c(x, kernel, stride, padding, dilation, ceil_mode):
    """Core's C max pooling (2-D, float) or None when it does not apply."""
    if _K is None or x.dtype not in _C_DTYPES:
        return None
    return _K.maxpool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)


def col2im(cols, padded_shape, kernel, out, stride, dilation) -> np.ndarray:
    """Scatter-add columns (N, C*prod(kernel), prod(out)) back into a zero array of
    ``padded_shape`` (N, C, *S): the adjoint of :func:`im2col`."""
    n, c = padded_shape[:2]
    gx = xp_of(cols).zeros(padded_shape, cols.dtype)
    cv = cols.reshape((n, c) + tuple(kernel) + tuple(out))
    nd = len(kernel)
    for kidx in np.ndindex(*kernel):
        sl = tuple(
            slice(ki * d, ki * d + (o - 1) * s + 1, s)
            for ki, d, o, s in zip(kidx, dilation, out, stride)
        )
        gx[(slice(None), slice(None)) + sl] += cv[(slice(None), slice(None)) + kidx]
    del nd
    return gx


def im2col_cn(xp, kernel, out, stride, dilation) -> np.ndarray:
    """Columns (C*prod(kernel), N*prod(out)) of padded ``xp`` (N, C, *S): the layout
    that turns a whole batch's convolution into one GEMM (one large BLAS call is
    several times faster than one per sample)."""
    w = windows(xp, kernel, out, stride, dilation)
    nd = len(kernel)
    n, c = xp.shape[:2]
    perm = (1, *range(2, 2 + nd), 0, *range(2 + nd, 2 + 2 * nd))
    cols = xp_of(xp).empty((c,) + tuple(kernel) + (n,) + tuple(out), xp.dtype)
    np.copyto(cols, w.transpose(perm))
    return cols.reshape(c * int(np.prod(kernel)), -1)


def col2im_cn(cols, padded_shape, kernel, out, stride, dilation) -> np.ndarray:
    """The adjoint of :func:`im2col_cn`: columns (C*prod(kernel), N*prod(out)) summed
    back into a zero (N, C, *S) array."""
    n, c = padded_shape[:2]
    # accumulate in (C, N, *S) so each add reads one contiguous block of cols
    gxt = xp_of(cols).zeros((c, n) + tuple(padded_shape[2:]), cols.dtype)
    cv = cols.reshape((c,) + tuple(kernel) + (n,) + tuple(out))
    for kidx in np.ndindex(*kernel):
        sl = tuple(
            slice(ki * d, ki * d + (o - 1) * s + 1, s)
            for ki, d, o, s in zip(kidx, dilation, out, stride)
        )
        gxt[(slice(None), slice(None)) + sl] += cv[(slice(None),) + kidx]
    return gxt.swapaxes(0, 1)


def maxpool_forward(xp, kernel, out, stride, dilation):
    """Max over windows of padded ``xp`` (N, C, *S) and the flat index (into the
    padded spatial plane) of each maximum, as int64."""
    w = windows(xp, kernel, out, stride, dilation)
    nd = len(kernel)
    # bring kernel dims last: (N, C, *out, K)
    perm = (0, 1) + tuple(range(2 + nd, 2 + 2 * nd)) + tuple(range(2, 2 + nd))
    flat = w.transpose(perm).copy().reshape(w.shape[:2] + tuple(out) + (-1,))
    arg = flat.argmax(-1)
    y = np.take_along_axis(flat, arg[..., None], -1)[..., 0]
    # flat window offset -> position in the padded plane
    mod = xp_of(xp)
    kpos = mod.unravel_index(arg, kernel)
    idx = 0
    for d in range(nd):
        # output coordinate along dim d, shaped to broadcast over (N, C, *out)
        opos = mod.arange(out[d], dtype=np.int64).reshape((-1,) + (1,) * (nd - 1 - d))
        coord = opos * stride[d] + kpos[d] * dilation[d]
        idx = idx * xp.shape[2 + d] + coord
    return y, idx.astype(np.int64)


def maxpool_backward(gy, idx, plane_shape) -> np.ndarray:
    """Scatter ``gy`` (N, C, *out) to the flat positions ``idx`` in planes of
    ``plane_shape`` (N, C, *S), adding where windows overlap."""
    if _K is not None and gy.dtype in _C_DTYPES and len(plane_shape) == 4:
        return _K.maxpool2d_backward(gy, idx, plane_shape)
    n, c = plane_shape[:2]
    hw = int(np.prod(plane_shape[2:]))
    mod = xp_of(gy)
    base = (mod.arange(n * c, dtype=np.int64) * hw).reshape((n, c) + (1,) * (gy.ndim - 2))
    g = mod.bincount((idx + base).ravel(), weights=gy.ravel(), minlength=n * c * hw)
    return g.astype(gy.dtype, copy=False).reshape(plane_shape)


def softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Softmax along ``axis`` (max-shifted, so large inputs do not overflow)."""
    with np.errstate(invalid="ignore"):
        e = x - x.max(axis, keepdims=True)
        np.exp(e, out=e)
        e /= e.sum(axis, keepdims=True)
    return e


def log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    """Log-softmax along ``axis`` (an infinite input gives NaN, as in PyTorch)."""
    with np.errstate(invalid="ignore"):
        s = x - x.max(axis, keepdims=True)
        lse = np.log(np.exp(s).sum(axis, keepdims=True))
        s -= lse
    return s


def embedding_backward(gy: np.ndarray, idx: np.ndarray, num: int, padding_idx) -> np.ndarray:
    """Sum rows of ``gy`` (..., D) into a (num, D) gradient by index; the
    ``padding_idx`` row stays zero."""
    if type(gy) is not np.ndarray and _K is not None and gy.dtype in _C_DTYPES:
        return _K.embedding_backward(gy, idx, num, padding_idx)  # ember._cuda's kernel
    d = gy.shape[-1]
    g2 = gy.reshape(-1, d)
    flat = idx.reshape(-1)
    gw = xp_of(gy).zeros((num, d), gy.dtype)
    np.add.at(gw, flat, g2)
    if padding_idx is not None:
        gw[padding_idx] = 0
    return gw
