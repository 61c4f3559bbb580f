"""AlexNet, VGG and SqueezeNet with torchvision's parameter names."""

from __future__ import annotations

from typing import Any

import ember
import ember.nn as nn

from ._weights import load_weights, resolve_weights, weights_enum

__all__ = [
    "VGG",
    "VGG11_BN_Weights",
    "VGG11_Weights",
    "VGG13_BN_Weights",
    "VGG13_Weights",
    "VGG16_BN_Weights",
    "VGG16_Weights",
    "VGG19_BN_Weights",
    "VGG19_Weights",
    "SqueezeNet1_0_Weights",
    "SqueezeNet1_1_Weights",
    "AlexNet",
    "AlexNet_Weights",
    "SqueezeNet",
    "alexnet",
    "squeezenet1_0",
    "squeezenet1_1",
    "vgg11",
    "vgg11_bn",
    "vgg13",
    "vgg13_bn",
    "vgg16",
    "vgg16_bn",
    "vgg19",
    "vgg19_bn",
]


def _build(cls, enum, weights, progress, kwargs, *args) -> nn.Module:
    w = resolve_weights(enum, weights, kwargs)
    model = cls(*args, **kwargs)
    load_weights(model, w, progress)
    return model


class AlexNet(nn.Module):
    """AlexNet, torchvision's single-tower variant (61,100,840 parameters)."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 11, 4, 2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(64, 192, 5, padding=2), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
            nn.Conv2d(192, 384, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2),
        )  # fmt: skip
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True),
            nn.Dropout(dropout), nn.Linear(4096, 4096), nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )  # fmt: skip

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)`` for ``(N, 3, H, W)`` images (H, W >= 63)."""
        return self.classifier(ember.flatten(self.avgpool(self.features(x)), 1))


AlexNet_Weights = weights_enum("AlexNet_Weights")


def alexnet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> AlexNet:
    """AlexNet; ``weights=AlexNet_Weights.DEFAULT`` for torchvision's ImageNet weights."""
    return _build(AlexNet, AlexNet_Weights, weights, progress, kwargs)


_VGG_CFGS = {
    "A": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "B": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "D": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "E": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"]
    + [512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def _vgg_features(cfg: list, batch_norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    cin = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
            continue
        layers.append(nn.Conv2d(cin, v, 3, padding=1))
        if batch_norm:
            layers.append(nn.BatchNorm2d(v))
        layers.append(nn.ReLU(inplace=True))
        cin = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    """VGG: stacks of 3x3 convolutions (``features``) and a 3-layer ``classifier``."""

    def __init__(self, features: nn.Module, num_classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        self.features = features
        self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
        self.classifier = nn.Sequential(
            nn.Linear(512 * 7 * 7, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(dropout),
            nn.Linear(4096, num_classes),
        )  # fmt: skip
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)`` for ``(N, 3, H, W)`` images (H, W >= 32)."""
        return self.classifier(ember.flatten(self.avgpool(self.features(x)), 1))


_VGG_FILES = {  # configuration, batch norm
    "vgg11": ("A", False),
    "vgg11_bn": ("A", True),
    "vgg13": ("B", False),
    "vgg13_bn": ("B", True),
    "vgg16": ("D", False),
    "vgg16_bn": ("D", True),
    "vgg19": ("E", False),
    "vgg19_bn": ("E", True),
}
_VGG_ENUMS = {n: weights_enum(f"VGG{n[3:].upper()}_Weights") for n in _VGG_FILES}
VGG11_Weights, VGG11_BN_Weights = _VGG_ENUMS["vgg11"], _VGG_ENUMS["vgg11_bn"]
VGG13_Weights, VGG13_BN_Weights = _VGG_ENUMS["vgg13"], _VGG_ENUMS["vgg13_bn"]
VGG16_Weights, VGG16_BN_Weights = _VGG_ENUMS["vgg16"], _VGG_ENUMS["vgg16_bn"]
VGG19_Weights, VGG19_BN_Weights = _VGG_ENUMS["vgg19"], _VGG_ENUMS["vgg19_bn"]


def _vgg(name: str, weights: Any, progress: bool, kwargs: dict) -> VGG:
    cfg, bn = _VGG_FILES[name]
    w = resolve_weights(_VGG_ENUMS[name], weights, kwargs)
    model = VGG(_vgg_features(_VGG_CFGS[cfg], bn), **kwargs)
    load_weights(model, w, progress)
    return model


def vgg11(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-11 (132,863,336 parameters)."""
    return _vgg("vgg11", weights, progress, kwargs)


def vgg11_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-11 with BatchNorm (132,868,840 parameters)."""
    return _vgg("vgg11_bn", weights, progress, kwargs)


def vgg13(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-13 (133,047,848 parameters)."""
    return _vgg("vgg13", weights, progress, kwargs)


def vgg13_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-13 with BatchNorm (133,053,736 parameters)."""
    return _vgg("vgg13_bn", weights, progress, kwargs)


def vgg16(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-16 (138,357,544 parameters)."""
    return _vgg("vgg16", weights, progress, kwargs)


def vgg16_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-16 with BatchNorm (138,365,992 parameters)."""
    return _vgg("vgg16_bn", weights, progress, kwargs)


def vgg19(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-19 (143,667,240 parameters)."""
    return _vgg("vgg19", weights, progress, kwargs)


def vgg19_bn(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> VGG:
    """VGG-19 with BatchNorm (143,678,248 parameters)."""
    return _vgg("vgg19_bn", weights, progress, kwargs)


class Fire(nn.Module):
    """SqueezeNet's module: 1x1 squeeze, then parallel 1x1 and 3x3 expands, concatenated."""

    def __init__(self, cin: int, squeeze: int, expand1x1: int, expand3x3: int) -> None:
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.squeeze_activation = nn.ReLU(inplace=True)
        self.expand1x1 = nn.Conv2d(squeeze, expand1x1, 1)
        self.expand1x1_activation = nn.ReLU(inplace=True)
        self.expand3x3 = nn.Conv2d(squeeze, expand3x3, 3, padding=1)
        self.expand3x3_activation = nn.ReLU(inplace=True)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Channels ``expand1x1 + expand3x3``."""
        x = self.squeeze_activation(self.squeeze(x))
        a = self.expand1x1_activation(self.expand1x1(x))
        b = self.expand3x3_activation(self.expand3x3(x))
        return ember.cat([a, b], 1)


class SqueezeNet(nn.Module):
    """SqueezeNet 1.0 (``version="1_0"``) or 1.1 (``"1_1"``, 2.4x cheaper, same accuracy)."""

    def __init__(self, version: str = "1_0", num_classes: int = 1000, dropout: float = 0.5):
        super().__init__()
        self.num_classes = num_classes
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        if version == "1_0":
            self.features = nn.Sequential(
                nn.Conv2d(3, 96, 7, 2), nn.ReLU(inplace=True), pool(),
                Fire(96, 16, 64, 64), Fire(128, 16, 64, 64), Fire(128, 32, 128, 128), pool(),
                Fire(256, 32, 128, 128), Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256), pool(), Fire(512, 64, 256, 256),
            )  # fmt: skip
        elif version == "1_1":
            self.features = nn.Sequential(
                nn.Conv2d(3, 64, 3, 2), nn.ReLU(inplace=True), pool(),
                Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
                Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(),
                Fire(256, 48, 192, 192), Fire(384, 48, 192, 192),
                Fire(384, 64, 256, 256), Fire(512, 64, 256, 256),
            )  # fmt: skip
        else:
            raise ValueError(f"SqueezeNet version must be '1_0' or '1_1', got {version!r}")
        final_conv = nn.Conv2d(512, num_classes, 1)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), final_conv, nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d((1, 1))
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                if m is final_conv:
                    nn.init.normal_(m.weight, mean=0.0, std=0.01)
                else:
                    nn.init.kaiming_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)``."""
        return ember.flatten(self.classifier(self.features(x)), 1)


SqueezeNet1_0_Weights = weights_enum("SqueezeNet1_0_Weights")
SqueezeNet1_1_Weights = weights_enum("SqueezeNet1_1_Weights")


def squeezenet1_0(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SqueezeNet:
    """SqueezeNet 1.0 (1,248,424 parameters)."""
    return _build(SqueezeNet, SqueezeNet1_0_Weights, weights, progress, kwargs, "1_0")


def squeezenet1_1(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> SqueezeNet:
    """SqueezeNet 1.1 (1,235,496 parameters)."""
    return _build(SqueezeNet, SqueezeNet1_1_Weights, weights, progress, kwargs, "1_1")
