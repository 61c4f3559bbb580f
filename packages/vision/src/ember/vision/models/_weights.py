"""Pretrained weights: where they live, how inputs must be prepared, and loading them.

Each model has a ``<Model>_Weights`` enum whose members carry a
:class:`WeightsMeta`: the checkpoint URL (torchvision's published files,
named ``name-<sha256 prefix>.pth``, which ember.hub checks), the number of
classes and the preprocessing. ``weights=Enum.MEMBER`` (or its name as a
string, or the seed's ``pretrained=True`` for the default) downloads once into
the ember cache and loads the state dict by name.

The entries live in one data file, ``_manifest.json`` beside this module
(URL, sha256 prefix, preprocessing, metrics, parameter count, the categories
key); :func:`weights_enum` builds an enum from it. Class names are shipped
once per label set (``imagenet1k_categories.txt``) and read on first use.
"""

from __future__ import annotations

import functools
import json
import os
import warnings
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["WeightsEnum", "WeightsMeta", "resolve_weights", "weights_enum"]

_HERE = os.path.dirname(os.path.abspath(__file__))
_MANIFEST_FORMAT = "ember-vision-weights"

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class WeightsMeta:
    """Where a checkpoint lives and what the model expects.

    ``resize``/``crop``/``mean``/``std``/``interpolation`` describe the
    evaluation preprocessing: resize the shorter side to ``resize`` with
    ``interpolation``, centre-crop ``crop``, scale to [0, 1], normalize with
    ``mean``/``std``. ``categories_key`` names the label set whose class names
    :attr:`categories` returns; ``num_params`` and ``min_size`` (smallest
    ``(H, W)`` input) are torchvision's published figures.
    """

    url: str
    num_classes: int = 1000
    resize: int = 256
    crop: int = 224
    mean: tuple[float, ...] = _IMAGENET_MEAN
    std: tuple[float, ...] = _IMAGENET_STD
    metrics: dict[str, float] = field(default_factory=dict)
    interpolation: str = "bilinear"
    sha256_prefix: str | None = None
    num_params: int | None = None
    min_size: tuple[int, int] = (1, 1)
    categories_key: str | None = None

    @property
    def categories(self) -> list[str] | None:
        """The class names, index by index (None when the entry names no label set)."""
        return None if self.categories_key is None else list(_categories(self.categories_key))

    def transforms(self):
        """The evaluation transform for PIL images (Resize, CenterCrop, ToTensor, Normalize)."""
        from ember.vision import transforms as T

        return T.Compose(
            [
                T.Resize(self.resize, interpolation=T.InterpolationMode(self.interpolation)),
                T.CenterCrop(self.crop),
                T.ToTensor(),
                T.Normalize(self.mean, self.std),
            ]
        )


class WeightsEnum(Enum):
    """Base of the per-model weight enums: ``meta``, ``url``, ``transforms``, ``get_state_dict``."""

    @property
    def meta(self) -> WeightsMeta:
        """The :class:`WeightsMeta` of this entry."""
        return self.value

    @property
    def url(self) -> str:
        """The checkpoint's URL."""
        return self.value.url

    def transforms(self):
        """The evaluation preprocessing (see :meth:`WeightsMeta.transforms`)."""
        return self.value.transforms()

    def get_state_dict(self, progress: bool = True, check_hash: bool = True) -> dict[str, Any]:
        """Download (once, into the ember cache) and load the checkpoint, hash-checked."""
        from ember.hub import load_state_dict_from_url

        return load_state_dict_from_url(self.url, progress=progress, check_hash=check_hash)


def resolve_weights(
    enum: type[WeightsEnum], weights: Any, kwargs: dict[str, Any]
) -> WeightsEnum | None:
    """Turn ``weights=`` (a member, its name, None) or the seed's ``pretrained=`` into a member.

    ``pretrained=True`` means ``IMAGENET1K_V1`` where the enum has it (the
    weights the old API gave, as in torchvision, even where ``DEFAULT`` has
    moved on to newer ones), else ``DEFAULT``. ``num_classes`` in
    ``kwargs`` must match the weights' when both are given (it is filled in
    otherwise).
    """
    pretrained = kwargs.pop("pretrained", None)
    if pretrained is not None:
        if weights is not None:
            raise ValueError("pass weights= or pretrained=, not both")
        legacy = "IMAGENET1K_V1" if "IMAGENET1K_V1" in enum.__members__ else "DEFAULT"
        weights = enum[legacy] if pretrained else None
    if isinstance(weights, str):
        try:
            weights = enum[weights.split(".")[-1]]
        except KeyError:
            names = [m for m in enum.__members__]
            raise ValueError(f"unknown weights {weights!r}; {enum.__name__} has {names}") from None
    if weights is None:
        return None
    if not isinstance(weights, enum):
        raise TypeError(f"weights must be a {enum.__name__} member, got {weights!r}")
    n = kwargs.setdefault("num_classes", weights.meta.num_classes)
    if n != weights.meta.num_classes:
        raise ValueError(
            f"num_classes={n} does not match the weights' {weights.meta.num_classes} classes"
        )
    if pretrained:
        warnings.warn(
            f"pretrained=True is the old spelling of weights={enum.__name__}.{weights.name}",
            DeprecationWarning,
            stacklevel=3,
        )
    return weights


def load_weights(model, weights: WeightsEnum | None, progress: bool) -> None:
    """Load ``weights`` into ``model`` (strictly) when given."""
    if weights is not None:
        model.load_state_dict(weights.get_state_dict(progress=progress))


@functools.cache
def _manifest() -> dict[str, Any]:
    with open(os.path.join(_HERE, "_manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    if manifest.get("format") != _MANIFEST_FORMAT or manifest.get("version") != 1:
        raise ValueError(
            f"_manifest.json: expected format {_MANIFEST_FORMAT!r} version 1, got "
            f"{manifest.get('format')!r} version {manifest.get('version')!r}"
        )
    return manifest


@functools.cache
def _categories(key: str) -> tuple[str, ...]:
    files = _manifest()["categories"]
    if key not in files:
        raise KeyError(f"no label set {key!r} in the weights manifest; it has {sorted(files)}")
    with open(os.path.join(_HERE, files[key]), encoding="utf-8") as f:
        return tuple(line.rstrip("\n") for line in f)


def _meta_from_entry(entry: dict[str, Any]) -> WeightsMeta:
    t = entry["transforms"]
    return WeightsMeta(
        url=entry["url"],
        num_classes=entry["num_classes"],
        resize=t["resize"],
        crop=t["crop"],
        mean=tuple(t["mean"]),
        std=tuple(t["std"]),
        metrics=dict(entry["metrics"]),
        interpolation=t["interpolation"],
        sha256_prefix=entry["sha256_prefix"],
        num_params=entry["num_params"],
        min_size=tuple(entry["min_size"]),
        categories_key=entry.get("categories"),
    )


def weights_enum(name: str) -> type[WeightsEnum]:
    """Build the ``name`` enum (e.g. ``"DenseNet121_Weights"``) from the manifest.

    Its members are the manifest's entries in order, plus ``DEFAULT`` as an
    alias of the entry the manifest marks default.
    """
    spec = _manifest()["weights"].get(name)
    if spec is None:
        raise KeyError(f"no weights {name!r} in the weights manifest")
    members = {k: _meta_from_entry(e) for k, e in spec["entries"].items()}
    members["DEFAULT"] = members[spec["default"]]  # the same value: Enum makes it an alias
    enum = WeightsEnum(name, members)
    enum.__doc__ = f"torchvision's published weights for this model: {', '.join(spec['entries'])}."
    enum.__module__ = __name__
    return enum
