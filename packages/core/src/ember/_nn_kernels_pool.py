"""Max, average and adaptive pooling over (N, C, H, W) or (C, H, W) arrays, PyTorch's
semantics; 1-D pooling runs the 2-D kernels with H = 1.

Max-pool indices are int64 positions ``ih * W + iw`` within each (H, W) plane (for 1-D:
the position along L), exactly as PyTorch returns them; the backward functions take
them back. Output sizes follow PyTorch: ``(in + 2p - d (k - 1) - 1 [+ s - 1 if
ceil_mode]) // s + 1``, minus one when ceil_mode would start the last window in the
right padding. Padding may be at most half the kernel. NaN propagates through max.
"""

from __future__ import annotations

import numpy as np

from ember import _nn_kernels_base as _b

__all__ = [
    "adaptive_avgpool1d_forward",
    "adaptive_avgpool2d_backward",
    "adaptive_avgpool2d_forward",
    "adaptive_maxpool1d_forward",
    "adaptive_maxpool2d_backward",
    "adaptive_maxpool2d_forward",
    "avgpool1d_backward",
    "avgpool1d_forward",
    "avgpool2d_backward",
    "avgpool2d_forward",
    "maxpool1d_backward",
    "maxpool1d_forward",
    "maxpool2d_backward",
    "maxpool2d_forward",
    "pool_output_size",
]


def pool_output_size(
    size: int, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool
) -> int:
    """PyTorch's pooling output length along one dim."""
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window would start in the right padding
    return out


def _planes(x_shape: tuple, op: str, nd: int = 2) -> tuple:
    """(planes, spatial) of a batched or unbatched input; spatial dims must be non-empty."""
    if len(x_shape) not in (nd + 1, nd + 2):
        raise ValueError(f"{op}: expected a {nd + 1}-D or {nd + 2}-D input, got shape {x_shape}")
    if any(s < 1 for s in x_shape[-nd - 1 :]):  # only the batch dim may be empty
        raise ValueError(f"{op}: expected non-empty channel and spatial dims, got shape {x_shape}")
    return int(np.prod(x_shape[:-nd], dtype=np.int64)), tuple(x_shape[-nd:])


def _window_args(kernel_size, stride, padding, dilation, ceil_mode, hw, op):
    k = _b.int_tuple(kernel_size, 2, "kernel_size", op, 1)
    s = (
        k
        if stride is None or stride == () or stride == []
        else _b.int_tuple(stride, 2, "stride", op, 1)
    )
    p = _b.int_tuple(padding, 2, "padding", op, 0)
    d = _b.int_tuple(dilation, 2, "dilation", op, 1)
    if any(pp > kk // 2 for pp, kk in zip(p, k)):
        raise ValueError(f"{op}: padding {p} must be at most half of kernel_size {k}")
    out = tuple(
        pool_output_size(i, kk, ss, pp, dd, bool(ceil_mode))
        for i, kk, ss, pp, dd in zip(hw, k, s, p, d)
    )
    if any(o < 1 for o in out):
        raise ValueError(
            f"{op}: input spatial size {tuple(hw)} gives output size {out}, "
            f"which is too small (kernel {k}, stride {s}, padding {p}, "
            f"dilation {d})"
        )
    return k, s, p, d, out


def _max_index_message(plane: int):
    return lambda pos, val: (
        f"index {val} at position {pos} is out of range for an input "
        f"plane of {plane} elements (valid range [0, {plane - 1}])"
    )


def maxpool2d_forward(
    x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling of x (N, C, H, W) or (C, H, W): returns (out, indices), both
    (N, C, OH, OW); indices are int64 ``ih * W + iw``. ``stride`` None means kernel_size."""
    op = "maxpool2d"
    x = _b.floats(x, "x", op)
    planes, hw = _planes(x.shape, op)
    k, s, p, d, out = _window_args(kernel_size, stride, padding, dilation, ceil_mode, hw, op)
    y = np.empty(x.shape[:-2] + out, x.dtype)
    idx = np.empty(y.shape, np.int64)
    g = _b.geometry((planes, *hw, *out, *k, *s, *p, *d))
    _b.check(_b.fn(op, x.dtype)(_b.ptr(x), x.size, _b.ptr(y), _b.ptr(idx), y.size, g), op)
    return y, idx


def maxpool2d_backward(gy: np.ndarray, indices: np.ndarray, input_shape) -> np.ndarray:
    """Input gradient of max pooling (also adaptive max pooling, any dims): gx of
    ``input_shape`` with gy added at each window's recorded maximum. gy and indices share
    one shape (…, OH, OW); input_shape is (…, H, W) with the same leading dims."""
    op = "maxpool2d_backward"
    gy = _b.floats(gy, "gy", op)
    idx = _b.indices(indices, "indices", op)
    shape = tuple(int(s) for s in input_shape)
    if idx.shape != gy.shape or len(shape) != gy.ndim or shape[:-2] != gy.shape[:-2]:
        raise ValueError(
            f"{op}: gy {gy.shape}, indices {idx.shape} and input_shape {shape} "
            f"must agree except in the last two dims"
        )
    planes = int(np.prod(shape[:-2], dtype=np.int64))
    gx = np.empty(shape, gy.dtype)
    g = _b.geometry((planes, *shape[-2:], *gy.shape[-2:]))
    bad = _b.new_bad()
    rc = _b.fn(op, gy.dtype)(_b.ptr(gy), _b.ptr(idx), gy.size, _b.ptr(gx), gx.size, g, bad)
    _b.check(rc, op, bad, _max_index_message(shape[-2] * shape[-1]))
    return gx


def _avg_call(
    name,
    x_or_gy,
    shape_in,
    kernel_size,
    stride,
    padding,
    ceil_mode,
    count_include_pad,
    divisor_override,
    backward,
):
    op = name + ("_backward" if backward else "")
    a = _b.floats(x_or_gy, "gy" if backward else "x", op)
    planes, hw = _planes(shape_in, op)
    k, s, p, d, out = _window_args(kernel_size, stride, padding, 1, ceil_mode, hw, op)
    if divisor_override is not None and (
        not isinstance(divisor_override, (int, np.integer)) or divisor_override == 0
    ):
        raise ValueError(
            f"{op}: divisor_override must be a non-zero int or None, got {divisor_override!r}"
        )
    div = 0 if divisor_override is None else int(divisor_override)
    g = _b.geometry((planes, *hw, *out, *k, *s, *p, *d))
    out_shape = tuple(shape_in[:-2]) + out
    if backward:
        if a.shape != out_shape:
            raise ValueError(f"{op}: gy has shape {a.shape}, expected {out_shape}")
        gx = np.empty(shape_in, a.dtype)
        rc = _b.fn("avgpool2d_backward", a.dtype)(
            _b.ptr(a), a.size, _b.ptr(gx), gx.size, g, bool(count_include_pad), div
        )
        _b.check(rc, op)
        return gx
    y = np.empty(out_shape, a.dtype)
    rc = _b.fn("avgpool2d", a.dtype)(
        _b.ptr(a), a.size, _b.ptr(y), y.size, g, bool(count_include_pad), div
    )
    _b.check(rc, op)
    return y


def avgpool2d_forward(
    x: np.ndarray,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """Average pooling of x (N, C, H, W) or (C, H, W). Each window averages the inputs it
    covers, dividing by ``divisor_override`` if given, else by the window size counting
    the zero padding (``count_include_pad``, but never the part of a ceil_mode window
    past the padding) or not counting it."""
    return _avg_call(
        "avgpool2d",
        x,
        x.shape if isinstance(x, np.ndarray) else (),
        kernel_size,
        stride,
        padding,
        ceil_mode,
        count_include_pad,
        divisor_override,
        False,
    )


def avgpool2d_backward(
    gy: np.ndarray,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
    divisor_override: int | None = None,
) -> np.ndarray:
    """Input gradient of ``avgpool2d_forward`` (same arguments; gy has its output shape)."""
    return _avg_call(
        "avgpool2d",
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


def _to2d(shape: tuple, op: str) -> tuple:
    """(N, C, L) or (C, L) as the 2-D pooling shape with H = 1."""
    if len(shape) not in (2, 3):
        raise ValueError(f"{op}: expected a 2-D or 3-D input, got shape {shape}")
    return shape[:-1] + (1, shape[-1])


def _pair1(v, name, op, minimum):
    return (1, _b.int_tuple(v, 1, name, op, minimum)[0])


def maxpool1d_forward(
    x: np.ndarray, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Max pooling of x (N, C, L) or (C, L): (out, indices), indices along L."""
    op = "maxpool1d"
    x = _b.floats(x, "x", op)
    s = None if stride is None else _pair1(stride, "stride", op, 1)
    y, idx = maxpool2d_forward(
        x.reshape(_to2d(x.shape, op)),
        _pair1(kernel_size, "kernel_size", op, 1),
        s,
        (0, _b.int_tuple(padding, 1, "padding", op, 0)[0]),
        _pair1(dilation, "dilation", op, 1),
        ceil_mode,
    )
    return y.reshape(y.shape[:-2] + y.shape[-1:]), idx.reshape(y.shape[:-2] + y.shape[-1:])


def maxpool1d_backward(gy: np.ndarray, indices: np.ndarray, input_shape) -> np.ndarray:
    """Input gradient of ``maxpool1d_forward``."""
    op = "maxpool1d_backward"
    gy = _b.floats(gy, "gy", op)
    shape = tuple(int(s) for s in input_shape)
    gx = maxpool2d_backward(
        gy.reshape(_to2d(gy.shape, op)),
        np.asarray(indices).reshape(_to2d(np.shape(indices), op)),
        _to2d(shape, op),
    )
    return gx.reshape(shape)


def avgpool1d_forward(
    x: np.ndarray,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Average pooling of x (N, C, L) or (C, L)."""
    op = "avgpool1d"
    x = _b.floats(x, "x", op)
    s = None if stride is None else _pair1(stride, "stride", op, 1)
    y = avgpool2d_forward(
        x.reshape(_to2d(x.shape, op)),
        _pair1(kernel_size, "kernel_size", op, 1),
        s,
        (0, _b.int_tuple(padding, 1, "padding", op, 0)[0]),
        ceil_mode,
        count_include_pad,
    )
    return y.reshape(y.shape[:-2] + y.shape[-1:])


def avgpool1d_backward(
    gy: np.ndarray,
    input_shape,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode: bool = False,
    count_include_pad: bool = True,
) -> np.ndarray:
    """Input gradient of ``avgpool1d_forward``."""
    op = "avgpool1d_backward"
    gy = _b.floats(gy, "gy", op)
    shape = tuple(int(s) for s in input_shape)
    s = None if stride is None else _pair1(stride, "stride", op, 1)
    gx = avgpool2d_backward(
        gy.reshape(_to2d(gy.shape, op)),
        _to2d(shape, op),
        _pair1(kernel_size, "kernel_size", op, 1),
        s,
        (0, _b.int_tuple(padding, 1, "padding", op, 0)[0]),
        ceil_mode,
        count_include_pad,
    )
    return gx.reshape(shape)


def _adaptive_out(output_size, hw: tuple, op: str) -> tuple:
    """PyTorch's output_size: an int, or a pair whose None entries keep the input size."""
    if isinstance(output_size, (int, np.integer)) or output_size is None:
        output_size = (output_size, output_size)
    vals = tuple(hw[i] if v is None else v for i, v in enumerate(output_size))
    return _b.int_tuple(vals, 2, "output_size", op, 0)


def _adaptive(name: str, x, output_size, with_indices: bool):
    x = _b.floats(x, "x", name)
    planes, hw = _planes(x.shape, name)
    out = _adaptive_out(output_size, hw, name)
    y = np.empty(x.shape[:-2] + out, x.dtype)
    g = _b.geometry((planes, *hw, *out))
    if with_indices:
        idx = np.empty(y.shape, np.int64)
        rc = _b.fn(name, x.dtype)(_b.ptr(x), x.size, _b.ptr(y), _b.ptr(idx), y.size, g)
        _b.check(rc, name)
        return y, idx
    _b.check(_b.fn(name, x.dtype)(_b.ptr(x), x.size, _b.ptr(y), y.size, g), name)
    return y


def adaptive_avgpool2d_forward(x: np.ndarray, output_size) -> np.ndarray:
    """Adaptive average pooling of x (N, C, H, W) or (C, H, W) to ``output_size``
    (int or (OH, OW), None keeps that input dim): window o covers
    [floor(o * H / OH), ceil((o + 1) * H / OH))."""
    return _adaptive("adaptive_avgpool2d", x, output_size, False)


def adaptive_avgpool2d_backward(gy: np.ndarray, input_shape) -> np.ndarray:
    """Input gradient of ``adaptive_avgpool2d_forward`` (output size read from gy)."""
    op = "adaptive_avgpool2d_backward"
    gy = _b.floats(gy, "gy", op)
    shape = tuple(int(s) for s in input_shape)
    planes, hw = _planes(shape, op)
    if gy.ndim != len(shape) or gy.shape[:-2] != shape[:-2]:
        raise ValueError(
            f"{op}: gy {gy.shape} and input_shape {shape} must agree except in the last two dims"
        )
    gx = np.empty(shape, gy.dtype)
    g = _b.geometry((planes, *hw, *gy.shape[-2:]))
    rc = _b.fn("adaptive_avgpool2d_backward", gy.dtype)(_b.ptr(gy), gy.size, _b.ptr(gx), gx.size, g)
    _b.check(rc, op)
    return gx


def adaptive_maxpool2d_forward(x: np.ndarray, output_size) -> tuple[np.ndarray, np.ndarray]:
    """Adaptive max pooling (windows as ``adaptive_avgpool2d_forward``): (out, indices);
    the backward is ``maxpool2d_backward`` (``adaptive_maxpool2d_backward``)."""
    return _adaptive("adaptive_maxpool2d", x, output_size, True)


adaptive_maxpool2d_backward = maxpool2d_backward


def adaptive_avgpool1d_forward(x: np.ndarray, output_size: int) -> np.ndarray:
    """Adaptive average pooling of x (N, C, L) or (C, L); backward:
    ``adaptive_avgpool2d_backward(gy[..., None, :], shape[:-1] + (1, L))``."""
    x = _b.floats(x, "x", "adaptive_avgpool1d")
    y = adaptive_avgpool2d_forward(
        x.reshape(_to2d(x.shape, "adaptive_avgpool1d")), (1, output_size)
    )
    return y.reshape(y.shape[:-2] + y.shape[-1:])


def adaptive_maxpool1d_forward(x: np.ndarray, output_size: int):
    """Adaptive max pooling of x (N, C, L) or (C, L): (out, indices along L)."""
    x = _b.floats(x, "x", "adaptive_maxpool1d")
    y, idx = adaptive_maxpool2d_forward(
        x.reshape(_to2d(x.shape, "adaptive_maxpool1d")), (1, output_size)
    )
    shape = y.shape[:-2] + y.shape[-1:]
    return y.reshape(shape), idx.reshape(shape)
