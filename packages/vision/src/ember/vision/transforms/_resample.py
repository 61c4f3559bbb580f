"""Separable resampling filters (PIL's, so tensor and PIL resizes agree) and affine sampling.

Everything here works on numpy arrays shaped ``(..., H, W)`` in float64 and
uses the continuous-coordinate convention of PIL and torchvision: pixel ``i``
covers ``[i, i + 1)``, so its centre is ``i + 0.5``.
"""

from __future__ import annotations

import math

import numpy as np


def _triangle(x):
    x = np.abs(x)
    return np.where(x < 1.0, 1.0 - x, 0.0)


def _box(x):
    return np.where((x >= -0.5) & (x < 0.5), 1.0, 0.0)


def _cubic(x, a=-0.5):
    # Keys' cubic convolution with a = -0.5, as PIL's BICUBIC.
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1.0
    far = (((x - 5.0) * x + 8.0) * x - 4.0) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _sinc(x):
    return np.sinc(x)  # numpy's sinc is sin(pi x) / (pi x)


def _lanczos(x):
    return np.where(np.abs(x) < 3.0, _sinc(x) * _sinc(x / 3.0), 0.0)


def _hamming(x):
    x = np.abs(x)
    return np.where(x < 1.0, _sinc(x) * (0.54 + 0.46 * np.cos(np.pi * x)), 0.0)


#: name -> (filter, support radius at scale 1)
FILTERS = {
    "box": (_box, 0.5),
    "bilinear": (_triangle, 1.0),
    "hamming": (_hamming, 1.0),
    "bicubic": (_cubic, 2.0),
    "lanczos": (_lanczos, 3.0),
}


def weights(in_size: int, out_size: int, mode: str, antialias: bool = True) -> np.ndarray:
    """The ``(out_size, in_size)`` matrix that resamples one axis.

    ``mode`` is a key of :data:`FILTERS`, ``"nearest"`` (torchvision's: source
    ``floor(i * scale)``) or ``"nearest-exact"`` (PIL's: ``floor((i + 0.5) * scale)``).
    With ``antialias`` a downscale widens the filter by the scale factor, as PIL does.
    """
    scale = in_size / out_size
    w = np.zeros((out_size, in_size))
    if mode in ("nearest", "nearest-exact"):
        offset = 0.5 if mode == "nearest-exact" else 0.0
        src = np.minimum(
            np.floor((np.arange(out_size) + offset) * scale).astype(np.int64), in_size - 1
        )
        w[np.arange(out_size), src] = 1.0
        return w
    fn, support = FILTERS[mode]
    filterscale = max(scale, 1.0) if antialias else 1.0
    support = support * filterscale
    for i in range(out_size):
        center = (i + 0.5) * scale
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), in_size)
        if hi <= lo:  # a degenerate window: take the nearest pixel
            lo, hi = min(int(center), in_size - 1), min(int(center), in_size - 1) + 1
        taps = fn((np.arange(lo, hi) - center + 0.5) / filterscale)
        total = taps.sum()
        w[i, lo:hi] = taps / total if total != 0 else 1.0 / (hi - lo)
    return w


def resize(
    x: np.ndarray, out_h: int, out_w: int, mode: str, antialias: bool, bound: float | None = None
) -> np.ndarray:
    """Resize the last two axes of float array ``x`` to ``(out_h, out_w)``.

    With ``bound`` (integer images), the horizontal pass is rounded and clipped
    to ``[0, bound]`` before the vertical one, as PIL does with 8-bit images.
    """
    wh = weights(x.shape[-2], out_h, mode, antialias)
    ww = weights(x.shape[-1], out_w, mode, antialias)
    rows = np.matmul(x, ww.T)
    if bound is not None:
        rows = np.clip(np.rint(rows), 0.0, bound)
    return np.matmul(wh, rows)


def affine_matrix(
    center: tuple[float, float],
    angle: float,
    translate: tuple[float, float],
    scale: float,
    shear: tuple[float, float],
) -> np.ndarray:
    """The forward 3x3 map of torchvision's affine: about ``center``, ``angle`` degrees clockwise.

    ``M = T(translate) @ T(center) @ RotateScaleShear @ T(-center)`` in (x, y)
    pixel coordinates with y pointing down.
    """
    rot = math.radians(angle)
    sx, sy = (math.radians(s) for s in shear)
    a = math.cos(rot - sy) / math.cos(sy)
    b = -math.cos(rot - sy) * math.tan(sx) / math.cos(sy) - math.sin(rot)
    c = math.sin(rot - sy) / math.cos(sy)
    d = -math.sin(rot - sy) * math.tan(sx) / math.cos(sy) + math.cos(rot)
    rss = np.array([[a * scale, b * scale, 0.0], [c * scale, d * scale, 0.0], [0.0, 0.0, 1.0]])
    cx, cy = center
    tx, ty = translate
    to_c = np.array([[1.0, 0, cx + tx], [0, 1.0, cy + ty], [0, 0, 1.0]])
    from_c = np.array([[1.0, 0, -cx], [0, 1.0, -cy], [0, 0, 1.0]])
    return to_c @ rss @ from_c


def warp(
    x: np.ndarray, inverse: np.ndarray, out_h: int, out_w: int, mode: str, fill: np.ndarray
) -> np.ndarray:
    """Sample float ``x`` (..., C, H, W) at ``inverse @ (output pixel centre)`` (homogeneous).

    ``mode`` is ``"nearest"`` or ``"bilinear"``; points outside the image take
    ``fill`` (one value per channel).
    """
    h, w = x.shape[-2:]
    ys, xs = np.meshgrid(np.arange(out_h) + 0.5, np.arange(out_w) + 0.5, indexing="ij")
    # A projective map in general; for affine maps the last row is (0, 0, 1).
    w3 = inverse[2, 0] * xs + inverse[2, 1] * ys + inverse[2, 2]
    px = (inverse[0, 0] * xs + inverse[0, 1] * ys + inverse[0, 2]) / w3 - 0.5
    py = (inverse[1, 0] * xs + inverse[1, 1] * ys + inverse[1, 2]) / w3 - 0.5
    fill = np.asarray(fill, dtype=np.float64).reshape(-1, 1, 1)
    if mode == "nearest":
        ix, iy = np.floor(px + 0.5).astype(np.int64), np.floor(py + 0.5).astype(np.int64)
        inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
        out = x[..., np.clip(iy, 0, h - 1), np.clip(ix, 0, w - 1)]
        return np.where(inside, out, fill)
    x0, y0 = np.floor(px).astype(np.int64), np.floor(py).astype(np.int64)
    fx, fy = px - x0, py - y0
    out = np.zeros(x.shape[:-2] + (out_h, out_w))
    for dy, wy in ((0, 1 - fy), (1, fy)):
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi, yi = x0 + dx, y0 + dy
            inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
            tap = x[..., np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
            out += np.where(inside, tap, fill) * (wx * wy)
    return out


def gaussian_kernel1d(size: int, sigma: float) -> np.ndarray:
    """A normalized 1-D Gaussian of odd length ``size``."""
    half = (size - 1) * 0.5
    k = np.exp(-0.5 * (np.linspace(-half, half, size) / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: np.ndarray, ksize: tuple[int, int], sigma: tuple[float, float]) -> np.ndarray:
    """Blur the last two axes of float ``x`` with reflect padding (kernel ``(kx, ky)``)."""
    kx, ky = gaussian_kernel1d(ksize[0], sigma[0]), gaussian_kernel1d(ksize[1], sigma[1])
    px, py = ksize[0] // 2, ksize[1] // 2
    pad = [(0, 0)] * (x.ndim - 2) + [(py, py), (px, px)]
    p = np.pad(x, pad, mode="reflect")
    h, w = x.shape[-2:]
    rows = sum(kx[i] * p[..., :, i : i + w] for i in range(ksize[0]))
    return sum(ky[i] * rows[..., i : i + h, :] for i in range(ksize[1]))
