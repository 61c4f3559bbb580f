"""Padding, resampling and pixel shuffling.

``interpolate`` resamples one spatial dim at a time: nearest modes are an
``index_select``; linear, bicubic and (for 3 spatial dims) area modes a product
with a small (out, in) interpolation matrix. Every one of these is separable, so
the result equals PyTorch's per-pixel kernels, and both are ember ops whose
derivatives (and second derivatives) come from autograd: no formula is needed.
"""

from __future__ import annotations

import math

import numpy as np

import ember as E
from ember._tensor import Tensor

__all__ = [
    "pad",
    "interpolate",
    "upsample",
    "upsample_nearest",
    "upsample_bilinear",
    "pixel_shuffle",
    "pixel_unshuffle",
]

_LINEAR = {"linear": 1, "bilinear": 2, "trilinear": 3}


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad = (left_last, right_last, left_prev,
    right_prev, ...)``. ``mode``: 'constant' (with ``value``, default 0; negative
    pads crop), 'reflect', 'replicate' or 'circular'."""
    return E.pad(input, pad, mode=mode, value=value)


def _out_sizes(x: Tensor, size, scale_factor, nd: int):
    spatial = tuple(x.shape[2:])
    if (size is None) == (scale_factor is None):
        raise ValueError("interpolate: exactly one of size and scale_factor must be given")
    if size is not None:
        sizes = (size,) * nd if isinstance(size, int) else tuple(size)
        if len(sizes) != nd:
            raise ValueError(
                f"interpolate: input of shape {tuple(x.shape)} has {nd} spatial dims, "
                f"but size {size} has {len(sizes)}"
            )
        return tuple(int(s) for s in sizes), None
    sfs = (scale_factor,) * nd if isinstance(scale_factor, (int, float)) else tuple(scale_factor)
    if len(sfs) != nd:
        raise ValueError(
            f"interpolate: input of shape {tuple(x.shape)} has {nd} spatial dims, "
            f"but scale_factor {scale_factor} has {len(sfs)}"
        )
    sizes = tuple(int(math.floor(s * f)) for s, f in zip(spatial, sfs))
    return sizes, tuple(float(f) for f in sfs)


def _src_scale(n_in: int, n_out: int, sf, align_corners: bool) -> float:
    if align_corners:
        return (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0
    return 1.0 / sf if sf else n_in / n_out


def _nearest_index(n_in, n_out, sf, exact: bool) -> np.ndarray:
    # float32 arithmetic, as PyTorch's kernels do: it decides the boundary cases
    scale = np.float32(_src_scale(n_in, n_out, sf, False))
    dst = np.arange(n_out, dtype=np.float32)
    src = np.floor((dst + np.float32(0.5)) * scale) if exact else np.floor(dst * scale)
    return np.minimum(src.astype(np.int64), n_in - 1)


def _linear_matrix(n_in, n_out, sf, align_corners, dtype) -> np.ndarray:
    """(n_out, n_in) weights of linear interpolation along one dim."""
    scale = _src_scale(n_in, n_out, sf, align_corners)
    dst = np.arange(n_out, dtype=np.float64)
    src = dst * scale if align_corners else np.maximum((dst + 0.5) * scale - 0.5, 0.0)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    i1 = np.minimum(i0 + 1, n_in - 1)
    lam = src - i0
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.arange(n_out), i0), 1.0 - lam)
    np.add.at(m, (np.arange(n_out), i1), lam)
    return m.astype(dtype)


def _cubic_matrix(n_in, n_out, sf, align_corners, dtype) -> np.ndarray:
    """(n_out, n_in) weights of Keys' cubic convolution (A = -0.75, as PyTorch) along
    one dim. The source coordinate is not clamped at 0 (unlike linear); the four
    taps are, so border pixels repeat."""
    a = -0.75
    scale = _src_scale(n_in, n_out, sf, align_corners)
    dst = np.arange(n_out, dtype=np.float64)
    src = dst * scale if align_corners else (dst + 0.5) * scale - 0.5
    i0 = np.floor(src).astype(np.int64)
    t = src - i0

    def near(x):  # |x| <= 1
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def far(x):  # 1 < |x| < 2
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    weights = (far(t + 1), near(t), near(1 - t), far(2 - t))
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    for k, w in enumerate(weights):
        np.add.at(m, (rows, np.clip(i0 - 1 + k, 0, n_in - 1)), w)
    return m.astype(dtype)


def _area_matrix(n_in, n_out, dtype) -> np.ndarray:
    """(n_out, n_in) averaging weights of adaptive average pooling along one dim:
    output i averages inputs [floor(i * in / out), ceil((i + 1) * in / out))."""
    i = np.arange(n_out)
    start = (i * n_in) // n_out
    end = -((-(i + 1) * n_in) // n_out)
    cols = np.arange(n_in)[None]
    inside = (cols >= start[:, None]) & (cols < end[:, None])
    return (inside / (end - start)[:, None]).astype(dtype)


def interpolate(
    input: Tensor,
    size=None,
    scale_factor=None,
    mode: str = "nearest",
    align_corners: bool | None = None,
    recompute_scale_factor: bool | None = None,
    antialias: bool = False,
) -> Tensor:
    """Resample ``(N, C, *spatial)`` input to ``size`` (or ``spatial * scale_factor``,
    floored). Modes: 'nearest', 'nearest-exact', 'linear' (3-D input), 'bilinear'
    (4-D), 'bicubic' (4-D; Keys' kernel with A = -0.75, taps clamped at the borders,
    so results may overshoot the input range as in PyTorch), 'trilinear' (5-D),
    'area' (3-D to 5-D). ``align_corners`` (linear and bicubic modes only) maps the
    corner pixels' centres onto each other."""
    if not isinstance(input, Tensor) or input.dim() < 3:
        raise ValueError(
            f"interpolate: expected (N, C, *spatial) input with 1-3 spatial dims, got "
            f"{tuple(input.shape) if isinstance(input, Tensor) else type(input).__name__}"
        )
    nd = input.dim() - 2
    if mode in _LINEAR or mode == "bicubic":
        want = _LINEAR.get(mode, 2)
        if want != nd:
            raise NotImplementedError(
                f"interpolate: mode {mode!r} needs {want + 2}-D input, got input of "
                f"shape {tuple(input.shape)}"
            )
    elif align_corners is not None:
        raise ValueError(
            "align_corners option can only be set with the interpolating modes: "
            "linear | bilinear | bicubic | trilinear"
        )
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    sizes, sfs = _out_sizes(input, size, scale_factor, nd)
    if recompute_scale_factor:
        sfs = None
    if mode == "area":
        from ember.nn.functional import _pool

        fn = {1: _pool.adaptive_avg_pool1d, 2: _pool.adaptive_avg_pool2d}.get(nd)
        if fn is not None:  # the C pooling kernels
            return fn(input, sizes)
    if mode not in ("nearest", "nearest-exact", "bicubic", "area") and mode not in _LINEAR:
        raise NotImplementedError(
            f"interpolate: mode {mode!r} is not supported (nearest, nearest-exact, linear, "
            "bilinear, bicubic, trilinear, area)"
        )
    x = input
    dt = E._dtype.to_numpy_dtype(input.dtype)
    for d in range(nd):
        axis = 2 + d
        n_in, n_out = x.shape[axis], sizes[d]
        sf = sfs[d] if sfs else None
        if n_in == n_out and (sf is None or sf == 1.0):
            continue
        if mode in _LINEAR or mode in ("bicubic", "area"):
            if mode == "bicubic":
                m = _cubic_matrix(n_in, n_out, sf, bool(align_corners), dt)
            elif mode == "area":
                m = _area_matrix(n_in, n_out, dt)
            else:
                m = _linear_matrix(n_in, n_out, sf, bool(align_corners), dt)
            m = E.from_numpy(m).to(x.device)  # a CUDA input keeps its matmul on the device
            x = E.matmul(x.movedim(axis, -1), m.t()).movedim(-1, axis)
        else:
            idx = _nearest_index(n_in, n_out, sf, mode == "nearest-exact")
            x = x.index_select(axis, E.from_numpy(idx).to(x.device))
    return x if x is not input else input.clone()


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Same as :func:`interpolate` (the older name)."""
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """:func:`interpolate` with mode 'nearest'."""
    return interpolate(input, size, scale_factor, "nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """:func:`interpolate` with mode 'bilinear' and ``align_corners=True``."""
    return interpolate(input, size, scale_factor, "bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """``(*, C*r^2, H, W) -> (*, C, H*r, W*r)``: channel blocks become spatial blocks."""
    r = int(upscale_factor)
    if input.dim() < 3 or r <= 0 or input.shape[-3] % (r * r):
        raise RuntimeError(
            f"pixel_shuffle: expected input (*, C*{r}^2, H, W) with channels divisible by "
            f"{r * r}, got shape {tuple(input.shape)}"
        )
    *lead, c, h, w = input.shape
    k = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(k), k, k + 3, k + 1, k + 4, k + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """``(*, C, H*r, W*r) -> (*, C*r^2, H, W)``: the inverse of :func:`pixel_shuffle`."""
    r = int(downscale_factor)
    if input.dim() < 3 or r <= 0 or input.shape[-2] % r or input.shape[-1] % r:
        raise RuntimeError(
            f"pixel_unshuffle: expected input (*, C, H*{r}, W*{r}) with H and W divisible by "
            f"{r}, got shape {tuple(input.shape)}"
        )
    *lead, c, h, w = input.shape
    k = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(k), k, k + 2, k + 4, k + 1, k + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
