"""im2col / col2im: the data movement that turns a convolution into one batched GEMM.

Layout (the same as PyTorch's ``unfold``): for x of shape (N, C, *spatial) with 1 to 3
spatial dims, ``cols`` has shape (N, C * prod(kernel), prod(out_spatial)). Row
``c * prod(kernel) + k`` holds channel c under kernel offset k (kernel offsets in C
order), column j is output position j (C order). So with weight (O, C, *kernel)::

    y = weight.reshape(O, -1) @ im2col(x, ...)      # (N, O, L): one batched GEMM
    y = y.reshape(N, O, *out_spatial)

and for groups the caller slices channels: cols.reshape(N, G, C // G * K, L).
``col2im`` is the adjoint (sums overlapping windows), i.e. the input gradient of
im2col, and PyTorch's ``fold``.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import math

import numpy as np

from ember import _nn_kernels_base as _b
from ember._C import ffi, lib

__all__ = [
    "col2im",
    "conv_output_shape",
    "convw_available",
    "convw_forward",
    "convw_input_grad",
    "convw_weight_grad",
    "im2col",
]


def conv_output_shape(spatial, kernel_size, stride=1, padding=0, dilation=1) -> tuple:
    """Output spatial shape of a convolution: (in + 2p - d (k - 1) - 1) // s + 1 per dim.

    Raises ValueError when the dilated kernel does not fit the padded input in some dim.
    """
    spatial = tuple(int(s) for s in spatial)
    n = len(spatial)
    k = _b.int_tuple(kernel_size, n, "kernel_size", "conv", 1)
    s = _b.int_tuple(stride, n, "stride", "conv", 1)
    p = _b.int_tuple(padding, n, "padding", "conv", 0)
    d = _b.int_tuple(dilation, n, "dilation", "conv", 1)
    out = tuple(
        (i + 2 * pp - dd * (kk - 1) - 1) // ss + 1 for i, kk, ss, pp, dd in zip(spatial, k, s, p, d)
    )
    if any(o < 1 for o in out):
        raise ValueError(
            f"conv: input spatial size {spatial} with padding {p} is smaller than the "
            f"dilated kernel {tuple(dd * (kk - 1) + 1 for kk, dd in zip(k, d))}: output "
            f"size would be {out}"
        )
    return out


def _geometry(shape: tuple, kernel_size, stride, padding, dilation, op: str):
    """(C geometry, out_spatial, kernel tuple) for an (N, C, *spatial) shape."""
    nsp = len(shape) - 2
    if not 1 <= nsp <= 3:
        raise ValueError(
            f"{op}: expected (N, C, *spatial) with 1 to 3 spatial dims, got shape {shape}"
        )
    k = _b.int_tuple(kernel_size, nsp, "kernel_size", op, 1)
    s = _b.int_tuple(stride, nsp, "stride", op, 1)
    p = _b.int_tuple(padding, nsp, "padding", op, 0)
    d = _b.int_tuple(dilation, nsp, "dilation", op, 1)
    out = conv_output_shape(shape[2:], k, s, p, d)
    pad = 3 - nsp  # leading unit dims make every problem 3-D for the C kernel
    g = [
        shape[0],
        shape[1],
        *(1,) * pad,
        *shape[2:],
        *(1,) * pad,
        *k,
        *(1,) * pad,
        *s,
        *(0,) * pad,
        *p,
        *(1,) * pad,
        *d,
    ]
    return _b.geometry(g), out, k


def _out_buffer(out, shape: tuple, dtype, name: str, op: str) -> np.ndarray:
    """``out`` checked as a C-contiguous array of ``shape`` and ``dtype``, or a new one.
    Callers that convolve in chunks pass the same buffer each time: a fresh large array
    costs a page fault per 4 KiB on first touch, more than the im2col itself."""
    if out is None:
        return np.empty(shape, dtype)
    if not isinstance(out, np.ndarray) or out.dtype != dtype or not out.flags.c_contiguous:
        raise TypeError(f"{op}: {name} must be a C-contiguous {dtype} numpy array")
    if out.shape != shape:
        raise ValueError(f"{op}: {name} has shape {out.shape}, expected {shape}")
    return out


def im2col(
    x: np.ndarray, kernel_size, stride=1, padding=0, dilation=1, out: np.ndarray | None = None
) -> np.ndarray:
    """Unfold x (N, C, *spatial) into cols (N, C * prod(kernel), prod(out_spatial)).

    ``kernel_size``, ``stride``, ``padding``, ``dilation``: an int or one int per spatial
    dim. Padding reads as zeros. See the module docstring for the layout. ``out``: an
    optional C-contiguous array of the cols shape and x's dtype to write into.
    """
    op = "im2col"
    x = _b.floats(x, "x", op)
    g, osp, k = _geometry(x.shape, kernel_size, stride, padding, dilation, op)
    shape = (x.shape[0], x.shape[1] * math.prod(k), math.prod(osp))
    cols = _out_buffer(out, shape, x.dtype, "out", op)
    _b.check(_b.fn(op, x.dtype)(_b.ptr(x), x.size, _b.ptr(cols), cols.size, g), op)
    return cols


def col2im(
    cols: np.ndarray,
    input_shape,
    kernel_size,
    stride=1,
    padding=0,
    dilation=1,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Fold cols (N, C * prod(kernel), prod(out_spatial)) back into an array of
    ``input_shape`` (N, C, *spatial), summing the entries that overlapping windows read
    from the same input element (entries that fall in the padding are dropped).
    ``out``: an optional C-contiguous array of ``input_shape`` to write (overwrite) into."""
    op = "col2im"
    cols = _b.floats(cols, "cols", op)
    shape = tuple(int(s) for s in input_shape)
    g, osp, k = _geometry(shape, kernel_size, stride, padding, dilation, op)
    expect = (shape[0], shape[1] * math.prod(k), math.prod(osp))
    if cols.shape != expect:
        raise ValueError(
            f"{op}: cols has shape {cols.shape}, expected {expect} for input shape {shape}"
        )
    x = _out_buffer(out, shape, cols.dtype, "out", op)
    _b.check(_b.fn(op, cols.dtype)(_b.ptr(cols), cols.size, _b.ptr(x), x.size, g), op)
    return x


# ----- width-unfolded 2-D convolution (stride 1 in height) over numpy's own BLAS -----
# numpy's OpenBLAS exports ILP64 CBLAS entry points; ember calls the very same GEMM that
# np.matmul does, from C, so the KH products of one sample need no Python round trip
# and can accumulate (beta = 1) into y. Other BLAS builds fall back to the im2col path.
_GEMM_NAMES = {
    np.dtype(np.float32): (("scipy_cblas_sgemm64_", "cblas_sgemm64_"), "em_sgemm_t"),
    np.dtype(np.float64): (("scipy_cblas_dgemm64_", "cblas_dgemm64_"), "em_dgemm_t"),
}


@functools.cache
def _gemm(dtype: np.dtype):
    """A cffi pointer to numpy's ILP64 CBLAS ?gemm for ``dtype``, or None."""
    names, ctype = _GEMM_NAMES[dtype]
    for handle in _blas_libs():
        for name in names:
            if hasattr(handle, name):
                addr = ctypes.cast(getattr(handle, name), ctypes.c_void_p).value
                return ffi.cast(ctype, addr)
    return None


@functools.cache
def _blas_libs() -> tuple:
    """ctypes handles of the BLAS libraries loaded in this process (Linux)."""
    paths = []
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rstrip().rpartition(" ")[2]
                if "blas" in path.lower() and ".so" in path and path not in paths:
                    paths.append(path)
    except OSError:  # not Linux
        return ()
    handles = []
    for path in paths:
        try:
            handles.append(ctypes.CDLL(path))
        except OSError:
            continue
    return tuple(handles)


@functools.cache
def _blas_threads():
    """(set, get) of the OpenBLAS thread count beside the gemm, or None."""
    for handle in _blas_libs():
        set_ = getattr(handle, "scipy_openblas_set_num_threads64_", None)
        get = getattr(handle, "scipy_openblas_get_num_threads64_", None)
        if set_ is not None and get is not None:
            set_.argtypes, set_.restype = [ctypes.c_int], None
            get.argtypes, get.restype = [], ctypes.c_int
            return set_, get
    return None


@contextlib.contextmanager
def _serial_blas():
    """The BLAS single-threaded while ember's threads each run whole samples (the C
    kernels split the batch over ember's OpenMP threads when it has more than one)."""
    st = _blas_threads() if lib.em_get_num_threads() > 1 else None
    prev = st[1]() if st is not None else 1
    if prev > 1:
        st[0](1)
    try:
        yield
    finally:
        if prev > 1:
            st[0](prev)


def convw_available(dtype) -> bool:
    """Whether the width-unfolded convolution kernels can run for ``dtype`` here."""
    dtype = np.dtype(dtype)
    return (
        dtype in _GEMM_NAMES
        and hasattr(lib, "em_convw_fwd_f32")  # a library built before these kernels lacks them
        and _gemm(dtype) is not None
    )


def _convw_geometry(x_shape, w_shape, stride, padding, dilation, op: str):
    n, c, h, w = (int(v) for v in x_shape)
    o, ci, kh, kw = (int(v) for v in w_shape)
    if ci != c:
        raise ValueError(f"{op}: input {tuple(x_shape)} and weight {tuple(w_shape)} disagree on C")
    s = _b.int_tuple(stride, 2, "stride", op, 1)
    p = _b.int_tuple(padding, 2, "padding", op, 0)
    d = _b.int_tuple(dilation, 2, "dilation", op, 1)
    if s[0] != 1:
        raise ValueError(f"{op}: the height stride must be 1, got stride {s}")
    oh, ow = conv_output_shape((h, w), (kh, kw), s, p, d)
    return _b.geometry((n, c, h, w, o, kh, kw, *s, *p, *d)), (n, o, oh, ow)


def _gemm_for(dtype, op: str):
    gemm = _gemm(dtype) if dtype in _GEMM_NAMES else None
    if gemm is None:
        raise RuntimeError(f"{op}: numpy's BLAS exports no ILP64 CBLAS gemm for {dtype}")
    return gemm


def convw_forward(x, weight, bias, stride=1, padding=0, dilation=1) -> np.ndarray:
    """2-D convolution y (N, O, OH, OW) of x (N, C, H, W) with weight (O, C, KH, KW) and
    an optional bias (O,), height stride 1: per sample, x is unfolded along the width
    only (KW copies of the padded input) and KH GEMMs accumulate into y."""
    op = "convw_forward"
    x = _b.floats(x, "x", op)
    weight = _b.like(weight, x, "weight", op)
    if x.ndim != 4 or weight.ndim != 4:
        raise ValueError(f"{op}: expected 4-D x and weight, got {x.shape} and {weight.shape}")
    bias = _b.optional(bias, x, "bias", op, (weight.shape[0],))
    g, shape = _convw_geometry(x.shape, weight.shape, stride, padding, dilation, op)
    y = np.empty(shape, x.dtype)
    fn = _b.fn("convw_fwd", x.dtype)
    with _serial_blas():
        rc = fn(
            _b.ptr(x),
            x.size,
            _b.ptr(weight),
            weight.size,
            _b.ptr(bias),
            _b.ptr(y),
            y.size,
            g,
            _gemm_for(x.dtype, op),
        )
    _b.check(rc, op)
    return y


def convw_input_grad(gy, weight, x_shape, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The input gradient (N, C, H, W) of :func:`convw_forward` for output gradient gy."""
    op = "convw_input_grad"
    gy = _b.floats(gy, "gy", op)
    weight = _b.like(weight, gy, "weight", op)
    x_shape = tuple(int(v) for v in x_shape)
    if len(x_shape) != 4 or weight.ndim != 4:
        raise ValueError(f"{op}: expected 4-D x_shape and weight, got {x_shape}, {weight.shape}")
    g, shape = _convw_geometry(x_shape, weight.shape, stride, padding, dilation, op)
    if gy.shape != shape:
        raise ValueError(f"{op}: gy has shape {gy.shape}, expected {shape}")
    gx = np.empty(x_shape, gy.dtype)
    fn = _b.fn("convw_igrad", gy.dtype)
    with _serial_blas():
        rc = fn(
            _b.ptr(gy),
            gy.size,
            _b.ptr(weight),
            weight.size,
            _b.ptr(gx),
            gx.size,
            g,
            _gemm_for(gy.dtype, op),
        )
    _b.check(rc, op)
    return gx


def convw_weight_grad(x, gy, w_shape, stride=1, padding=0, dilation=1) -> np.ndarray:
    """The weight gradient (O, C, KH, KW) of :func:`convw_forward`, summed over samples."""
    op = "convw_weight_grad"
    x = _b.floats(x, "x", op)
    gy = _b.like(gy, x, "gy", op)
    w_shape = tuple(int(v) for v in w_shape)
    if x.ndim != 4 or len(w_shape) != 4:
        raise ValueError(f"{op}: expected 4-D x and w_shape, got {x.shape} and {w_shape}")
    g, shape = _convw_geometry(x.shape, w_shape, stride, padding, dilation, op)
    if gy.shape != shape:
        raise ValueError(f"{op}: gy has shape {gy.shape}, expected {shape}")
    gw = np.empty(w_shape, x.dtype)
    fn = _b.fn("convw_wgrad", x.dtype)
    with _serial_blas():
        rc = fn(
            _b.ptr(x), x.size, _b.ptr(gy), gy.size, _b.ptr(gw), gw.size, g, _gemm_for(x.dtype, op)
        )
    _b.check(rc, op)
    return gw
