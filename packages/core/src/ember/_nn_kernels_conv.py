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

import math

import numpy as np

from ember import _nn_kernels_base as _b

__all__ = ["col2im", "conv_output_shape", "im2col"]


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
