"""Composition, conversion and normalization transforms."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ember

from . import _f_convert as F
from . import _random

__all__ = [
    "Compose",
    "ConvertImageDtype",
    "Lambda",
    "Normalize",
    "PILToTensor",
    "RandomApply",
    "RandomChoice",
    "RandomOrder",
    "ToPILImage",
    "ToTensor",
]


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")


class Compose:
    """Apply ``transforms`` one after the other."""

    def __init__(self, transforms: Sequence[Callable]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose expects callables, got {type(t).__name__}")

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img

    def __repr__(self) -> str:
        body = "".join(f"\n    {_indent(repr(t))}" for t in self.transforms)
        return f"{type(self).__name__}({body}\n)"


class _Simple:
    """A transform with no randomness: repr shows its arguments."""

    _args: tuple[str, ...] = ()

    def __repr__(self) -> str:
        args = ", ".join(f"{a}={getattr(self, a)!r}" for a in self._args)
        return f"{type(self).__name__}({args})"


class ToTensor(_Simple):
    """PIL image or (H, W, C) array -> float32 tensor ``(C, H, W)``, bytes scaled to [0, 1]."""

    def __call__(self, pic: Any) -> ember.Tensor:
        return F.to_tensor(pic)


class PILToTensor(_Simple):
    """PIL image -> tensor ``(C, H, W)`` of the image's own dtype, unscaled."""

    def __call__(self, pic: Any) -> ember.Tensor:
        return F.pil_to_tensor(pic)


class ToPILImage(_Simple):
    """Tensor ``(C, H, W)`` or array ``(H, W, C)`` -> PIL image (see ``F.to_pil_image``)."""

    _args = ("mode",)

    def __init__(self, mode: str | None = None) -> None:
        self.mode = mode

    def __call__(self, pic: Any) -> Any:
        return F.to_pil_image(pic, self.mode)


class ConvertImageDtype(_Simple):
    """Convert a tensor image to ``dtype``, rescaling its values (``F.convert_image_dtype``)."""

    _args = ("dtype",)

    def __init__(self, dtype) -> None:
        self.dtype = dtype

    def __call__(self, image: ember.Tensor) -> ember.Tensor:
        return F.convert_image_dtype(image, self.dtype)


class Normalize(_Simple):
    """``(x - mean[c]) / std[c]`` per channel of a float tensor ``(..., C, H, W)``."""

    _args = ("mean", "std")

    def __init__(self, mean: Sequence[float], std: Sequence[float], inplace: bool = False) -> None:
        self.mean, self.std, self.inplace = list(mean), list(std), inplace

    def __call__(self, tensor: ember.Tensor) -> ember.Tensor:
        return F.normalize(tensor, self.mean, self.std, self.inplace)


class Lambda(_Simple):
    """Wrap a user function as a transform."""

    def __init__(self, lambd: Callable) -> None:
        if not callable(lambd):
            raise TypeError(f"Lambda expects a callable, got {type(lambd).__name__}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)


class RandomApply(Compose):
    """Apply all of ``transforms`` with probability ``p``, else none."""

    def __init__(self, transforms: Sequence[Callable], p: float = 0.5) -> None:
        super().__init__(transforms)
        self.p = p

    def __call__(self, img: Any) -> Any:
        return super().__call__(img) if _random.coin(self.p) else img

    def __repr__(self) -> str:
        return super().__repr__().replace("(", f"(\n    p={self.p}", 1)


class RandomChoice(Compose):
    """Apply one of ``transforms``, picked with probabilities ``p`` (uniform by default)."""

    def __init__(self, transforms: Sequence[Callable], p: Sequence[float] | None = None) -> None:
        super().__init__(transforms)
        if p is not None and len(p) != len(self.transforms):
            raise ValueError(f"p has {len(p)} values for {len(self.transforms)} transforms")
        self.p = list(p) if p is not None else None

    def __call__(self, img: Any) -> Any:
        if self.p is None:
            i = _random.randint(0, len(self.transforms))
        else:
            weights = ember.tensor(self.p, dtype=ember.float64)
            i = int(ember.multinomial(weights, 1).item())
        return self.transforms[i](img)


class RandomOrder(Compose):
    """Apply ``transforms`` in a random order."""

    def __call__(self, img: Any) -> Any:
        for i in ember.randperm(len(self.transforms)).tolist():
            img = self.transforms[i](img)
        return img
