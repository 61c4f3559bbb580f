"""Learned and random augmentation policies: AutoAugment, RandAugment, TrivialAugmentWide.

Each transform picks operations and magnitudes with ember's generator (so
``ember.manual_seed`` and DataLoader worker seeding repeat them) and applies
them to a PIL image or a tensor ``(..., C, H, W)``; a batch gets the same
operations for every image. Magnitudes are tables of ``num_bins`` values per
operation, as torchvision defines them; a signed operation's magnitude is
negated with probability 1/2.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from enum import Enum
from typing import Any

import numpy as np

import ember

from . import _f_augment as FA
from . import _f_color as FC
from . import _f_geometry as FG
from ._image import InterpolationMode, as_mode, check_image, dims, is_pil, max_value
from ._t_basic import _Simple

__all__ = ["AugMix", "AutoAugment", "AutoAugmentPolicy", "RandAugment", "TrivialAugmentWide"]


class AutoAugmentPolicy(Enum):
    """The AutoAugment policies learned on ImageNet, CIFAR10 and SVHN."""

    IMAGENET = "imagenet"
    CIFAR10 = "cifar10"
    SVHN = "svhn"


# Sub-policies of the AutoAugment paper (Cubuk et al., 2018, appendix): two
# (operation, probability, magnitude bin) steps each; None for operations
# without a magnitude.
_POLICIES = {
    AutoAugmentPolicy.IMAGENET: [
        (("Posterize", 0.4, 8), ("Rotate", 0.6, 9)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
        (("Posterize", 0.6, 7), ("Posterize", 0.6, 6)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Equalize", 0.4, None), ("Rotate", 0.8, 8)),
        (("Solarize", 0.6, 3), ("Equalize", 0.6, None)),
        (("Posterize", 0.8, 5), ("Equalize", 1.0, None)),
        (("Rotate", 0.2, 3), ("Solarize", 0.6, 8)),
        (("Equalize", 0.6, None), ("Posterize", 0.4, 6)),
        (("Rotate", 0.8, 8), ("Color", 0.4, 0)),
        (("Rotate", 0.4, 9), ("Equalize", 0.6, None)),
        (("Equalize", 0.0, None), ("Equalize", 0.8, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Rotate", 0.8, 8), ("Color", 1.0, 2)),
        (("Color", 0.8, 8), ("Solarize", 0.8, 7)),
        (("Sharpness", 0.4, 7), ("Invert", 0.6, None)),
        (("ShearX", 0.6, 5), ("Equalize", 1.0, None)),
        (("Color", 0.4, 0), ("Equalize", 0.6, None)),
        (("Equalize", 0.4, None), ("Solarize", 0.2, 4)),
        (("Solarize", 0.6, 5), ("AutoContrast", 0.6, None)),
        (("Invert", 0.6, None), ("Equalize", 1.0, None)),
        (("Color", 0.6, 4), ("Contrast", 1.0, 8)),
        (("Equalize", 0.8, None), ("Equalize", 0.6, None)),
    ],
    AutoAugmentPolicy.CIFAR10: [
        (("Invert", 0.1, None), ("Contrast", 0.2, 6)),
        (("Rotate", 0.7, 2), ("TranslateX", 0.3, 9)),
        (("Sharpness", 0.8, 1), ("Sharpness", 0.9, 3)),
        (("ShearY", 0.5, 8), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.5, None), ("Equalize", 0.9, None)),
        (("ShearY", 0.2, 7), ("Posterize", 0.3, 7)),
        (("Color", 0.4, 3), ("Brightness", 0.6, 7)),
        (("Sharpness", 0.3, 9), ("Brightness", 0.7, 9)),
        (("Equalize", 0.6, None), ("Equalize", 0.5, None)),
        (("Contrast", 0.6, 7), ("Sharpness", 0.6, 5)),
        (("Color", 0.7, 7), ("TranslateX", 0.5, 8)),
        (("Equalize", 0.3, None), ("AutoContrast", 0.4, None)),
        (("TranslateY", 0.4, 3), ("Sharpness", 0.2, 6)),
        (("Brightness", 0.9, 6), ("Color", 0.2, 8)),
        (("Solarize", 0.5, 2), ("Invert", 0.0, None)),
        (("Equalize", 0.2, None), ("AutoContrast", 0.6, None)),
        (("Equalize", 0.2, None), ("Equalize", 0.6, None)),
        (("Color", 0.9, 9), ("Equalize", 0.6, None)),
        (("AutoContrast", 0.8, None), ("Solarize", 0.2, 8)),
        (("Brightness", 0.1, 3), ("Color", 0.7, 0)),
        (("Solarize", 0.4, 5), ("AutoContrast", 0.9, None)),
        (("TranslateY", 0.9, 9), ("TranslateY", 0.7, 9)),
        (("AutoContrast", 0.9, None), ("Solarize", 0.8, 3)),
        (("Equalize", 0.8, None), ("Invert", 0.1, None)),
        (("TranslateY", 0.7, 9), ("AutoContrast", 0.9, None)),
    ],
    AutoAugmentPolicy.SVHN: [
        (("ShearX", 0.9, 4), ("Invert", 0.2, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.6, None), ("Solarize", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("AutoContrast", 0.8, None)),
        (("ShearY", 0.9, 8), ("Invert", 0.4, None)),
        (("ShearY", 0.9, 5), ("Solarize", 0.2, 6)),
        (("Invert", 0.9, None), ("AutoContrast", 0.8, None)),
        (("Equalize", 0.6, None), ("Rotate", 0.9, 3)),
        (("ShearX", 0.9, 4), ("Solarize", 0.3, 3)),
        (("ShearY", 0.8, 8), ("Invert", 0.7, None)),
        (("Equalize", 0.9, None), ("TranslateY", 0.6, 6)),
        (("Invert", 0.9, None), ("Equalize", 0.6, None)),
        (("Contrast", 0.3, 3), ("Rotate", 0.8, 4)),
        (("Invert", 0.8, None), ("TranslateY", 0.0, 2)),
        (("ShearY", 0.7, 6), ("Solarize", 0.4, 8)),
        (("Invert", 0.6, None), ("Rotate", 0.8, 4)),
        (("ShearY", 0.3, 7), ("TranslateX", 0.9, 3)),
        (("ShearX", 0.1, 6), ("Invert", 0.6, None)),
        (("Solarize", 0.7, 2), ("TranslateY", 0.6, 7)),
        (("ShearY", 0.8, 4), ("Invert", 0.8, None)),
        (("ShearX", 0.7, 9), ("TranslateY", 0.8, 3)),
        (("ShearY", 0.8, 5), ("AutoContrast", 0.7, None)),
        (("ShearX", 0.7, 2), ("Invert", 0.1, None)),
    ],
}


def _linspace(a: float, b: float, n: int) -> np.ndarray:
    return np.linspace(a, b, n)


def _posterize_bits(num_bins: int, spread: int) -> np.ndarray:
    # 8 bits at bin 0 down to 8 - spread at the last bin, rounded half to even.
    return 8 - np.round(np.arange(num_bins) / ((num_bins - 1) / spread)).astype(np.int64)


def _space(
    num_bins: int, height: int, width: int, *, wide: bool, identity: bool, invert: bool
) -> dict[str, tuple[np.ndarray | None, bool]]:
    """``op name -> (magnitude per bin or None, signed)`` in the order ops are drawn."""
    shear, rotate, enhance = (0.99, 135.0, 0.99) if wide else (0.3, 30.0, 0.9)
    tx, ty = (32.0, 32.0) if wide else (150.0 / 331.0 * width, 150.0 / 331.0 * height)
    space: dict[str, tuple[np.ndarray | None, bool]] = {}
    if identity:
        space["Identity"] = (None, False)
    space["ShearX"] = (_linspace(0.0, shear, num_bins), True)
    space["ShearY"] = (_linspace(0.0, shear, num_bins), True)
    space["TranslateX"] = (_linspace(0.0, tx, num_bins), True)
    space["TranslateY"] = (_linspace(0.0, ty, num_bins), True)
    space["Rotate"] = (_linspace(0.0, rotate, num_bins), True)
    for name in ("Brightness", "Color", "Contrast", "Sharpness"):
        space[name] = (_linspace(0.0, enhance, num_bins), True)
    space["Posterize"] = (_posterize_bits(num_bins, 6 if wide else 4), False)
    space["Solarize"] = (_linspace(255.0, 0.0, num_bins), False)
    space["AutoContrast"] = (None, False)
    space["Equalize"] = (None, False)
    if invert:
        space["Invert"] = (None, False)
    return space


def apply_op(
    img: Any, op_name: str, magnitude: float, interpolation: InterpolationMode, fill: Any
) -> Any:
    """Apply one named augmentation at ``magnitude`` (signed where the op has a direction).

    Solarize thresholds are on the 0..255 scale and rescaled for float tensors.
    """
    if op_name == "Identity":
        return img
    if op_name in ("ShearX", "ShearY"):
        angle = math.degrees(math.atan(magnitude))
        shear = [angle, 0.0] if op_name == "ShearX" else [0.0, angle]
        # About the top-left corner, as the paper's PIL affine transform does.
        return FG.affine(img, 0.0, [0, 0], 1.0, shear, interpolation, fill, center=[0, 0])
    if op_name in ("TranslateX", "TranslateY"):
        shift = [int(magnitude), 0] if op_name == "TranslateX" else [0, int(magnitude)]
        return FG.affine(img, 0.0, shift, 1.0, [0.0, 0.0], interpolation, fill)
    if op_name == "Rotate":
        return FG.rotate(img, magnitude, interpolation, fill=fill)
    enhancers = {
        "Brightness": FC.adjust_brightness,
        "Color": FC.adjust_saturation,
        "Contrast": FC.adjust_contrast,
        "Sharpness": FA.adjust_sharpness,
    }
    if op_name in enhancers:
        return enhancers[op_name](img, 1.0 + magnitude)
    if op_name == "Posterize":
        return FA.posterize(img, int(magnitude))
    if op_name == "Solarize":
        bound = 255.0 if is_pil(img) else max_value(img.detach().numpy().dtype)
        return FA.solarize(img, magnitude * bound / 255.0)
    if op_name == "AutoContrast":
        return FA.autocontrast(img)
    if op_name == "Equalize":
        return FA.equalize(img)
    if op_name == "Invert":
        return FC.invert(img)
    raise ValueError(f"unknown augmentation {op_name!r}")


def _tensor_fill(img: Any, fill: Any) -> Any:
    if is_pil(img) or fill is None:
        return fill
    if isinstance(fill, (int, float)):
        return [float(fill)] * dims(img)[0]
    return [float(f) for f in fill]


def _randint(high: int) -> int:
    return int(ember.randint(0, high, (1,)).item())


def _draw_op(space: dict[str, tuple[Any, bool]], bin_of: Callable[[int], int]) -> tuple[str, float]:
    """An operation drawn uniformly from ``space`` and its magnitude, in the draw order
    RandAugment, TrivialAugmentWide and AugMix share: the operation, then (for operations
    with magnitudes) the bin ``bin_of(number of bins)`` picks, then a coin for the sign of
    signed operations."""
    names = list(space)
    op_name = names[_randint(len(names))]
    magnitudes, signed = space[op_name]
    magnitude = float(magnitudes[bin_of(len(magnitudes))]) if magnitudes is not None else 0.0
    if signed and _randint(2):
        magnitude = -magnitude
    return op_name, magnitude


class _Augment(_Simple):
    def __init__(self, interpolation: Any, fill: Any) -> None:
        self.interpolation = as_mode(interpolation)
        self.fill = fill

    def _prepare(self, img: Any) -> tuple[Any, int, int]:
        check_image(img)
        _, h, w = dims(img)
        return _tensor_fill(img, self.fill), h, w


class AutoAugment(_Augment):
    """AutoAugment (Cubuk et al., 2018): one of the policy's 25 sub-policies per call.

    Each sub-policy applies two operations, each with its own probability and
    magnitude bin (10 bins). Args: ``policy`` (:class:`AutoAugmentPolicy`),
    ``interpolation`` (tensors: NEAREST or BILINEAR), ``fill`` for pixels
    uncovered by geometric operations (a number or one value per channel).
    """

    _args = ("policy", "interpolation", "fill")

    def __init__(
        self,
        policy: AutoAugmentPolicy = AutoAugmentPolicy.IMAGENET,
        interpolation: Any = InterpolationMode.NEAREST,
        fill: Any = None,
    ) -> None:
        if not isinstance(policy, AutoAugmentPolicy):
            raise TypeError(f"policy must be an AutoAugmentPolicy, got {policy!r}")
        super().__init__(interpolation, fill)
        self.policy = policy
        self.policies = _POLICIES[policy]

    @staticmethod
    def get_params(transform_num: int) -> tuple[int, list[float], list[int]]:
        """``(sub-policy index, two probabilities in [0, 1), two signs in {0, 1})``."""
        policy_id = _randint(transform_num)
        probs = [float(p) for p in ember.rand(2).tolist()]
        signs = [int(s) for s in ember.randint(0, 2, (2,)).tolist()]
        return policy_id, probs, signs

    def __call__(self, img: Any) -> Any:
        fill, h, w = self._prepare(img)
        transform_id, probs, signs = self.get_params(len(self.policies))
        space = _space(10, h, w, wide=False, identity=False, invert=True)
        for i, (op_name, p, bin_id) in enumerate(self.policies[transform_id]):
            if probs[i] <= p:
                magnitudes, signed = space[op_name]
                magnitude = float(magnitudes[bin_id]) if magnitudes is not None else 0.0
                if signed and signs[i] == 0:
                    magnitude = -magnitude
                img = apply_op(img, op_name, magnitude, self.interpolation, fill)
        return img


class RandAugment(_Augment):
    """RandAugment (Cubuk et al., 2019): ``num_ops`` operations drawn uniformly, one magnitude.

    Every operation uses bin ``magnitude`` of ``num_magnitude_bins``; Identity
    is among the 14 operations.
    """

    _args = ("num_ops", "magnitude", "num_magnitude_bins", "interpolation", "fill")

    def __init__(
        self,
        num_ops: int = 2,
        magnitude: int = 9,
        num_magnitude_bins: int = 31,
        interpolation: Any = InterpolationMode.NEAREST,
        fill: Any = None,
    ) -> None:
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ValueError(f"num_magnitude_bins must be an int >= 2, got {num_magnitude_bins!r}")
        if not isinstance(magnitude, int) or not 0 <= magnitude < num_magnitude_bins:
            raise ValueError(
                f"magnitude must be an int in [0, {num_magnitude_bins}), got {magnitude!r}"
            )
        if not isinstance(num_ops, int) or num_ops < 0:
            raise ValueError(f"num_ops must be a non-negative int, got {num_ops!r}")
        super().__init__(interpolation, fill)
        self.num_ops, self.magnitude = num_ops, magnitude
        self.num_magnitude_bins = num_magnitude_bins

    def __call__(self, img: Any) -> Any:
        fill, h, w = self._prepare(img)
        space = _space(self.num_magnitude_bins, h, w, wide=False, identity=True, invert=False)
        for _ in range(self.num_ops):
            op_name, magnitude = _draw_op(space, lambda n: self.magnitude)
            img = apply_op(img, op_name, magnitude, self.interpolation, fill)
        return img


class TrivialAugmentWide(_Augment):
    """TrivialAugment (Müller and Hutter, 2021), wide space: one operation, one random bin.

    The operation and its magnitude bin (of ``num_magnitude_bins``) are drawn
    uniformly on every call.
    """

    _args = ("num_magnitude_bins", "interpolation", "fill")

    def __init__(
        self,
        num_magnitude_bins: int = 31,
        interpolation: Any = InterpolationMode.NEAREST,
        fill: Any = None,
    ) -> None:
        if not isinstance(num_magnitude_bins, int) or num_magnitude_bins < 2:
            raise ValueError(f"num_magnitude_bins must be an int >= 2, got {num_magnitude_bins!r}")
        super().__init__(interpolation, fill)
        self.num_magnitude_bins = num_magnitude_bins

    def __call__(self, img: Any) -> Any:
        fill, h, w = self._prepare(img)
        space = _space(self.num_magnitude_bins, h, w, wide=True, identity=True, invert=False)
        op_name, magnitude = _draw_op(space, _randint)
        return apply_op(img, op_name, magnitude, self.interpolation, fill)


def _gamma(alpha: float, n: int) -> np.ndarray:
    """``n`` draws of Gamma(alpha, 1) from ember's generator (Marsaglia and Tsang's method).

    Rejection sampling: the number of draws used depends on the values, but a
    seed still fixes them all.
    """
    boost = alpha < 1.0  # Gamma(a) = Gamma(a + 1) * U ** (1 / a)
    d = (alpha + 1.0 if boost else alpha) - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    out = np.empty(n)
    todo = np.arange(n)
    while todo.size:
        x = ember.randn(todo.size, dtype=ember.float64).numpy()
        u = ember.rand(todo.size, dtype=ember.float64).numpy()
        v = (1.0 + c * x) ** 3
        with np.errstate(invalid="ignore", divide="ignore"):
            ok = (v > 0) & (np.log(u) < 0.5 * x * x + d - d * v + d * np.log(v))
        out[todo[ok]] = d * v[ok]
        todo = todo[~ok]
    if boost:
        out *= ember.rand(n, dtype=ember.float64).numpy() ** (1.0 / alpha)
    return out


def dirichlet(alpha: float, k: int, rows: int) -> np.ndarray:
    """``rows`` draws of a symmetric Dirichlet(alpha, ..., alpha) on ``k`` parts: ``(rows, k)``."""
    g = _gamma(alpha, rows * k).reshape(rows, k)
    return g / g.sum(axis=1, keepdims=True)


class AugMix(_Augment):
    """AugMix (Hendrycks et al., 2020): a convex mix of the image and augmented copies.

    ``mixture_width`` chains of ``chain_depth`` random operations (1 to 3 when
    ``chain_depth <= 0``) at a magnitude bin below ``severity`` (of 10) are mixed
    with Dirichlet(``alpha``) weights, then blended with the original by a
    Beta(``alpha``, ``alpha``) weight. ``all_ops=False`` leaves out the colour
    enhancers. A batch shares the operations; each image draws its own weights.
    Integer images are truncated after mixing.
    """

    _args = ("severity", "mixture_width", "chain_depth", "alpha", "all_ops", "interpolation")
    _PARAMETER_MAX = 10

    def __init__(
        self,
        severity: int = 3,
        mixture_width: int = 3,
        chain_depth: int = -1,
        alpha: float = 1.0,
        all_ops: bool = True,
        interpolation: Any = InterpolationMode.BILINEAR,
        fill: Any = None,
    ) -> None:
        if not isinstance(severity, int) or not 1 <= severity <= self._PARAMETER_MAX:
            raise ValueError(f"severity must be an int in [1, 10], got {severity!r}")
        if not isinstance(mixture_width, int) or mixture_width < 1:
            raise ValueError(f"mixture_width must be a positive int, got {mixture_width!r}")
        if not isinstance(chain_depth, int):
            raise TypeError(f"chain_depth must be an int, got {chain_depth!r}")
        if not alpha > 0:
            raise ValueError(f"alpha must be positive, got {alpha!r}")
        super().__init__(interpolation, fill)
        self.severity, self.mixture_width, self.chain_depth = severity, mixture_width, chain_depth
        self.alpha, self.all_ops = float(alpha), all_ops

    def space(self, height: int, width: int) -> dict[str, tuple[np.ndarray | None, bool]]:
        """AugMix's operations: magnitudes per bin (10 bins) and whether they are signed."""
        n = self._PARAMETER_MAX
        s: dict[str, tuple[np.ndarray | None, bool]] = {
            "ShearX": (_linspace(0.0, 0.3, n), True),
            "ShearY": (_linspace(0.0, 0.3, n), True),
            "TranslateX": (_linspace(0.0, width / 3.0, n), True),
            "TranslateY": (_linspace(0.0, height / 3.0, n), True),
            "Rotate": (_linspace(0.0, 30.0, n), True),
            "Posterize": (_posterize_bits(n, 4) - 4, False),  # 4 bits down to 0
            "Solarize": (_linspace(255.0, 0.0, n), False),
            "AutoContrast": (None, False),
            "Equalize": (None, False),
        }
        if self.all_ops:
            for name in ("Brightness", "Color", "Contrast", "Sharpness"):
                s[name] = (_linspace(0.0, 0.9, n), True)
        return s

    def __call__(self, img: Any) -> Any:
        fill, h, w = self._prepare(img)
        pil = is_pil(img)
        if pil:
            from ._f_convert import pil_to_tensor, to_pil_image

            mode, img = img.mode, pil_to_tensor(img)
        shape = tuple(img.shape)
        batch = img.reshape(-1, *shape[-3:]) if len(shape) >= 3 else img.reshape(1, 1, *shape)
        b = int(batch.shape[0])
        space = self.space(h, w)
        m = dirichlet(self.alpha, 2, b)  # (original, augmented) weight per image
        weights = dirichlet(self.alpha, self.mixture_width, b) * m[:, 1:]
        x = batch.detach().numpy()
        mix = m[:, 0, None, None, None] * x
        for i in range(self.mixture_width):
            aug = batch
            depth = self.chain_depth if self.chain_depth > 0 else 1 + _randint(3)
            for _ in range(depth):
                op_name, magnitude = _draw_op(space, lambda n: _randint(self.severity))
                aug = apply_op(aug, op_name, magnitude, self.interpolation, fill)
            mix = mix + weights[:, i, None, None, None] * aug.detach().numpy()
        out = ember.from_numpy(np.ascontiguousarray(mix.astype(x.dtype).reshape(shape)))
        return to_pil_image(out, mode=mode) if pil else out
