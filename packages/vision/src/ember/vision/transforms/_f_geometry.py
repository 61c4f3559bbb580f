"""Geometric transforms of PIL images and tensors ``(..., C, H, W)``: resize, crop, pad, warp."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

import ember

from . import _resample
from ._image import (
    InterpolationMode,
    as_mode,
    check_image,
    dims,
    fill_for,
    from_float,
    is_pil,
    pil_fill,
    pil_filter,
    to_float,
)

__all__ = [
    "affine",
    "center_crop",
    "crop",
    "five_crop",
    "get_dimensions",
    "get_image_size",
    "hflip",
    "pad",
    "perspective",
    "resize",
    "resized_crop",
    "rotate",
    "ten_crop",
    "vflip",
]


def get_dimensions(img: Any) -> list[int]:
    """``[channels, height, width]`` of a PIL image or tensor."""
    check_image(img)
    return list(dims(img))


def get_image_size(img: Any) -> list[int]:
    """``[width, height]`` of a PIL image or tensor."""
    _, h, w = get_dimensions(img)
    return [w, h]


def _output_size(h: int, w: int, size: Any, max_size: int | None) -> tuple[int, int]:
    if isinstance(size, numbers.Integral) or (isinstance(size, Sequence) and len(size) == 1):
        target = int(size if isinstance(size, numbers.Integral) else size[0])
        short, long = (h, w) if h <= w else (w, h)
        new_short, new_long = target, int(target * long / short)
        if max_size is not None:
            if max_size <= target:
                raise ValueError(f"max_size ({max_size}) must be larger than size ({target})")
            if new_long > max_size:
                new_short, new_long = int(max_size * new_short / new_long), max_size
        return (new_short, new_long) if h <= w else (new_long, new_short)
    if isinstance(size, Sequence) and len(size) == 2:
        if max_size is not None:
            raise ValueError("max_size is only allowed when size is a single int")
        return int(size[0]), int(size[1])
    raise TypeError(f"size must be an int or a sequence of 1 or 2 ints, got {size!r}")


def resize(
    img: Any,
    size: Any,
    interpolation: Any = InterpolationMode.BILINEAR,
    max_size: int | None = None,
    antialias: bool | None = True,
) -> Any:
    """Resize to ``size``: ``(h, w)``, or an int for the smaller edge (keeping the aspect ratio).

    Tensors use PIL's filters (so both agree to within rounding); with
    ``antialias`` a downscale low-pass filters first, as PIL always does.
    """
    check_image(img)
    mode = as_mode(interpolation)
    _, h, w = dims(img)
    oh, ow = _output_size(h, w, size, max_size)
    if oh <= 0 or ow <= 0:
        raise ValueError(f"resize to {(oh, ow)}: sizes must be positive")
    if is_pil(img):
        return img.resize((ow, oh), pil_filter(mode))
    if (oh, ow) == (h, w):
        return img
    npdt = img.detach().numpy().dtype
    bound = float(np.iinfo(npdt).max) if np.issubdtype(npdt, np.integer) else None
    out = _resample.resize(to_float(img), oh, ow, mode.value, bool(antialias), bound)
    return from_float(out, img)


def crop(img: Any, top: int, left: int, height: int, width: int) -> Any:
    """The ``height x width`` box at ``(top, left)``; parts outside the image are zero."""
    check_image(img)
    if is_pil(img):
        return img.crop((left, top, left + width, top + height))
    _, h, w = dims(img)
    a = img.detach().numpy()
    if top < 0 or left < 0 or top + height > h or left + width > w:
        pad = [(0, 0)] * (a.ndim - 2)
        pt, pl = max(-top, 0), max(-left, 0)
        pb, pr = max(top + height - h, 0), max(left + width - w, 0)
        a = np.pad(a, pad + [(pt, pb), (pl, pr)])
        top, left = top + pt, left + pl
    return ember.from_numpy(np.ascontiguousarray(a[..., top : top + height, left : left + width]))


def _pair(size: Any, name: str) -> tuple[int, int]:
    if isinstance(size, numbers.Integral):
        return int(size), int(size)
    if isinstance(size, Sequence) and len(size) in (1, 2):
        return (int(size[0]), int(size[-1]))
    raise TypeError(f"{name} must be an int or a sequence of 1 or 2 ints, got {size!r}")


def center_crop(img: Any, output_size: Any) -> Any:
    """The central ``output_size`` box (padded with zeros when larger than the image)."""
    check_image(img)
    ch, cw = _pair(output_size, "output_size")
    _, h, w = dims(img)
    if ch > h or cw > w:
        img = pad(
            img,
            [
                (cw - w) // 2 if cw > w else 0,
                (ch - h) // 2 if ch > h else 0,
                (cw - w + 1) // 2 if cw > w else 0,
                (ch - h + 1) // 2 if ch > h else 0,
            ],
        )
        _, h, w = dims(img)
    return crop(img, int(round((h - ch) / 2.0)), int(round((w - cw) / 2.0)), ch, cw)


def resized_crop(
    img: Any,
    top: int,
    left: int,
    height: int,
    width: int,
    size: Any,
    interpolation: Any = InterpolationMode.BILINEAR,
    antialias: bool | None = True,
) -> Any:
    """Crop, then resize to ``size``."""
    return resize(crop(img, top, left, height, width), size, interpolation, antialias=antialias)


def hflip(img: Any) -> Any:
    """Mirror left-right."""
    check_image(img)
    if is_pil(img):
        return img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return ember.from_numpy(np.ascontiguousarray(img.detach().numpy()[..., ::-1]))


def vflip(img: Any) -> Any:
    """Mirror top-bottom."""
    check_image(img)
    if is_pil(img):
        return img.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
    return ember.from_numpy(np.ascontiguousarray(img.detach().numpy()[..., ::-1, :]))


_PAD_MODES = {"constant": "constant", "edge": "edge", "reflect": "reflect"}
_PAD_MODES["symmetric"] = "symmetric"


def _padding(padding: Any) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) from an int, (lr, tb) or (l, t, r, b)."""
    if isinstance(padding, numbers.Integral):
        p = int(padding)
        return p, p, p, p
    if isinstance(padding, Sequence) and len(padding) in (1, 2, 4):
        p = [int(v) for v in padding]
        if len(p) == 1:
            return p[0], p[0], p[0], p[0]
        if len(p) == 2:
            return p[0], p[1], p[0], p[1]
        return p[0], p[1], p[2], p[3]
    raise TypeError(f"padding must be an int or a sequence of 1, 2 or 4 ints, got {padding!r}")


def pad(img: Any, padding: Any, fill: Any = 0, padding_mode: str = "constant") -> Any:
    """Pad the borders: ``padding`` is an int, ``(left/right, top/bottom)`` or ``(l, t, r, b)``.

    ``padding_mode``: ``constant`` (with ``fill``), ``edge``, ``reflect``
    (without repeating the edge) or ``symmetric`` (repeating it).
    Negative padding crops.
    """
    check_image(img)
    if padding_mode not in _PAD_MODES:
        raise ValueError(f"padding_mode must be one of {list(_PAD_MODES)}, got {padding_mode!r}")
    left, top, right, bottom = _padding(padding)
    if is_pil(img):
        a = np.asarray(img)
        chw = a[None] if a.ndim == 2 else a.transpose(2, 0, 1)
        out = _pad_array(chw, (left, top, right, bottom), fill, padding_mode)
        out = np.ascontiguousarray(out[0] if a.ndim == 2 else out.transpose(1, 2, 0))
        if img.mode == "P":  # keep the palette: pad the indices
            res = Image.frombytes("P", (out.shape[1], out.shape[0]), out.tobytes())
            res.putpalette(img.getpalette())
            return res
        res = Image.fromarray(out)
        return res if res.mode == img.mode else res.convert(img.mode)
    return ember.from_numpy(
        _pad_array(img.detach().numpy(), (left, top, right, bottom), fill, padding_mode)
    )


def _pad_array(a: np.ndarray, ltrb: tuple[int, int, int, int], fill: Any, mode: str) -> np.ndarray:
    left, top, right, bottom = ltrb
    h, w = a.shape[-2:]
    # Negative padding crops first.
    a = a[..., max(-top, 0) : h - max(-bottom, 0), max(-left, 0) : w - max(-right, 0)]
    lead = [(0, 0)] * (a.ndim - 2)
    widths = lead + [(max(top, 0), max(bottom, 0)), (max(left, 0), max(right, 0))]
    if mode != "constant":
        return np.pad(a, widths, mode=_PAD_MODES[mode])
    channels = a.shape[-3] if a.ndim >= 3 else 1
    values = fill_for(fill, channels).astype(a.dtype)
    if len(set(values.tolist())) == 1:
        return np.pad(a, widths, mode="constant", constant_values=values[0])
    planes = [
        np.pad(a[..., c, :, :], widths[:-3] + widths[-2:], constant_values=v)
        for c, v in enumerate(values)
    ]
    return np.stack(planes, axis=-3)


def _warp_tensor(img, matrix: np.ndarray, out_hw: tuple[int, int], mode, fill) -> ember.Tensor:
    if mode not in (InterpolationMode.NEAREST, InterpolationMode.BILINEAR):
        raise ValueError(f"tensor warps support NEAREST and BILINEAR, got {mode}")
    x = to_float(img)
    squeeze = x.ndim == 2
    x = x[None] if squeeze else x
    out = _resample.warp(x, np.linalg.inv(matrix), *out_hw, mode.value, fill_for(fill, x.shape[-3]))
    return from_float(out[0] if squeeze else out, img)


def affine(
    img: Any,
    angle: float,
    translate: Sequence[float],
    scale: float,
    shear: float | Sequence[float],
    interpolation: Any = InterpolationMode.NEAREST,
    fill: Any = None,
    center: Sequence[float] | None = None,
) -> Any:
    """Rotate by ``angle`` degrees clockwise, scale, shear and translate, about ``center``.

    ``center`` is in pixels from the top-left corner (default: the image centre);
    ``shear`` is one angle (x) or two (x, y) in degrees. Points from outside
    the image take ``fill``.
    """
    check_image(img)
    mode = as_mode(interpolation)
    if not isinstance(translate, Sequence) or len(translate) != 2:
        raise TypeError(f"translate must be a sequence of 2 numbers, got {translate!r}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    shear = [float(shear), 0.0] if isinstance(shear, numbers.Number) else [float(s) for s in shear]
    shear = shear + [0.0] * (2 - len(shear))
    _, h, w = dims(img)
    c = (w * 0.5, h * 0.5) if center is None else (float(center[0]), float(center[1]))
    m = _resample.affine_matrix(c, angle, tuple(translate), float(scale), tuple(shear))
    if is_pil(img):
        inv = np.linalg.inv(m)
        return img.transform(
            img.size,
            Image.Transform.AFFINE,
            tuple(inv[:2].ravel()),
            pil_filter(mode),
            fillcolor=pil_fill(fill, img),
        )
    return _warp_tensor(img, m, (h, w), mode, fill)


def rotate(
    img: Any,
    angle: float,
    interpolation: Any = InterpolationMode.NEAREST,
    expand: bool = False,
    center: Sequence[float] | None = None,
    fill: Any = None,
) -> Any:
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (default: the centre).

    With ``expand`` the output grows to hold the whole rotated image.
    """
    check_image(img)
    mode = as_mode(interpolation)
    if is_pil(img):
        return img.rotate(
            angle,
            pil_filter(mode),
            expand,
            None if center is None else tuple(center),
            fillcolor=pil_fill(fill, img),
        )
    _, h, w = dims(img)
    c = (w * 0.5, h * 0.5) if center is None else (float(center[0]), float(center[1]))
    m = _resample.affine_matrix(c, -angle, (0.0, 0.0), 1.0, (0.0, 0.0))
    out_h, out_w = h, w
    if expand:
        corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], dtype=np.float64).T
        # PIL's rule: the rotated corners' extent, outward to whole pixels (rounded
        # first, so that floating-point noise does not add a pixel).
        pts = np.round(m @ corners, 9)
        out_w = int(math.ceil(pts[0].max()) - math.floor(pts[0].min()))
        out_h = int(math.ceil(pts[1].max()) - math.floor(pts[1].min()))
        shift = np.array([[1.0, 0, (out_w - w) / 2], [0, 1.0, (out_h - h) / 2], [0, 0, 1.0]])
        m = shift @ m
    return _warp_tensor(img, m, (out_h, out_w), mode, fill)


def five_crop(img: Any, size: Any) -> tuple[Any, Any, Any, Any, Any]:
    """The four corner crops and the central crop: ``(tl, tr, bl, br, center)``."""
    ch, cw = _pair(size, "size")
    _, h, w = dims(img)
    if ch > h or cw > w:
        raise ValueError(f"crop size {(ch, cw)} is bigger than the image {(h, w)}")
    return (
        crop(img, 0, 0, ch, cw),
        crop(img, 0, w - cw, ch, cw),
        crop(img, h - ch, 0, ch, cw),
        crop(img, h - ch, w - cw, ch, cw),
        center_crop(img, (ch, cw)),
    )


def ten_crop(img: Any, size: Any, vertical_flip: bool = False) -> tuple[Any, ...]:
    """:func:`five_crop` of the image and of its (horizontally, or vertically) flipped copy."""
    flipped = vflip(img) if vertical_flip else hflip(img)
    return five_crop(img, size) + five_crop(flipped, size)


def perspective_coefficients(
    startpoints: Sequence[Sequence[float]], endpoints: Sequence[Sequence[float]]
) -> np.ndarray:
    """The 8 coefficients of the projective map taking ``endpoints`` to ``startpoints``.

    (PIL's convention: they map each output pixel to the input pixel it samples.)
    """
    a = np.zeros((8, 8))
    b = np.zeros(8)
    for i, ((sx, sy), (ex, ey)) in enumerate(zip(startpoints, endpoints)):
        a[2 * i] = [ex, ey, 1, 0, 0, 0, -sx * ex, -sx * ey]
        a[2 * i + 1] = [0, 0, 0, ex, ey, 1, -sy * ex, -sy * ey]
        b[2 * i], b[2 * i + 1] = sx, sy
    return np.linalg.lstsq(a, b, rcond=None)[0]


def perspective(
    img: Any,
    startpoints: Sequence[Sequence[float]],
    endpoints: Sequence[Sequence[float]],
    interpolation: Any = InterpolationMode.BILINEAR,
    fill: Any = None,
) -> Any:
    """Warp so that the four ``startpoints`` (corners, [x, y]) land on ``endpoints``."""
    check_image(img)
    if len(startpoints) != 4 or len(endpoints) != 4:
        raise ValueError("perspective needs 4 start points and 4 end points")
    mode = as_mode(interpolation)
    coeffs = perspective_coefficients(startpoints, endpoints)
    if is_pil(img):
        return img.transform(
            img.size, Image.Transform.PERSPECTIVE, tuple(coeffs), pil_filter(mode),
            fillcolor=pil_fill(fill, img),
        )  # fmt: skip
    _, h, w = dims(img)
    inverse = np.append(coeffs, 1.0).reshape(3, 3)
    return _warp_tensor(img, np.linalg.inv(inverse), (h, w), mode, fill)
