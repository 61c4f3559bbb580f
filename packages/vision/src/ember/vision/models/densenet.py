"""DenseNet (Huang et al., 2017) with torchvision's parameter names."""

from __future__ import annotations

import re
from collections import OrderedDict
from typing import Any

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.nn.utils import checkpoint

from ._weights import WeightsEnum, resolve_weights, weights_enum

__all__ = [
    "DenseNet",
    "DenseNet121_Weights",
    "DenseNet161_Weights",
    "DenseNet169_Weights",
    "DenseNet201_Weights",
    "densenet121",
    "densenet161",
    "densenet169",
    "densenet201",
]


class _DenseLayer(nn.Module):
    """BN-ReLU-1x1 conv (``bn_size * growth_rate`` wide), BN-ReLU-3x3 conv (``growth_rate``)."""

    def __init__(
        self,
        cin: int,
        growth_rate: int,
        bn_size: int,
        drop_rate: float,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        self.norm1 = nn.BatchNorm2d(cin)
        self.relu1 = nn.ReLU(inplace=True)
        self.conv1 = nn.Conv2d(cin, bn_size * growth_rate, 1, bias=False)
        self.norm2 = nn.BatchNorm2d(bn_size * growth_rate)
        self.relu2 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(bn_size * growth_rate, growth_rate, 3, padding=1, bias=False)
        self.drop_rate = float(drop_rate)
        self.memory_efficient = memory_efficient

    def _bottleneck(self, *features: ember.Tensor) -> ember.Tensor:
        return self.conv1(self.relu1(self.norm1(ember.cat(list(features), 1))))

    def forward(self, features: list[ember.Tensor]) -> ember.Tensor:
        """``growth_rate`` new channels from the concatenation of all earlier ones."""
        features = list(features) if isinstance(features, list | tuple) else [features]
        if self.memory_efficient and any(f.requires_grad for f in features):
            # The concatenation is the memory hog: recompute it in backward instead of keeping it.
            x = checkpoint(self._bottleneck, *features)
        else:
            x = self._bottleneck(*features)
        x = self.conv2(self.relu2(self.norm2(x)))
        if self.drop_rate > 0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x


class _DenseBlock(nn.ModuleDict):
    """``num_layers`` dense layers (``denselayer1``...), each fed every earlier output."""

    def __init__(
        self, num_layers, cin, bn_size, growth_rate, drop_rate, memory_efficient=False
    ) -> None:
        super().__init__()
        for i in range(num_layers):
            c = cin + i * growth_rate
            layer = _DenseLayer(c, growth_rate, bn_size, drop_rate, memory_efficient)
            self.add_module(f"denselayer{i + 1}", layer)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """``(N, C, H, W) -> (N, C + num_layers * growth_rate, H, W)``."""
        features = [x]
        for layer in self.values():
            features.append(layer(features))
        return ember.cat(features, 1)


class _Transition(nn.Sequential):
    """BN-ReLU-1x1 conv to ``cout`` channels, then 2x2 average pooling."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(cin)
        self.relu = nn.ReLU(inplace=True)
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)


class DenseNet(nn.Module):
    """DenseNet-BC: ``features`` (stem, dense blocks, transitions, ``norm5``) then ``classifier``.

    Args:
        growth_rate: channels each dense layer adds (``k`` in the paper).
        block_config: dense layers in each of the four blocks.
        num_init_features: channels of the stem convolution.
        bn_size: bottleneck width as a multiple of ``growth_rate``.
        drop_rate: dropout after each dense layer (training only).
        num_classes: outputs of ``classifier``.
        memory_efficient: recompute each layer's concatenated input in backward
            (checkpointing) instead of storing it: slower, much less memory.

    Input ``(N, 3, H, W)`` with H, W >= 29; output ``(N, num_classes)``.
    """

    def __init__(
        self,
        growth_rate: int = 32,
        block_config: tuple[int, int, int, int] = (6, 12, 24, 16),
        num_init_features: int = 64,
        bn_size: int = 4,
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        memory_efficient: bool = False,
    ) -> None:
        super().__init__()
        stem = [
            ("conv0", nn.Conv2d(3, num_init_features, 7, 2, 3, bias=False)),
            ("norm0", nn.BatchNorm2d(num_init_features)),
            ("relu0", nn.ReLU(inplace=True)),
            ("pool0", nn.MaxPool2d(3, 2, 1)),
        ]
        self.features = nn.Sequential(OrderedDict(stem))
        c = num_init_features
        for i, num_layers in enumerate(block_config):
            block = _DenseBlock(num_layers, c, bn_size, growth_rate, drop_rate, memory_efficient)
            self.features.add_module(f"denseblock{i + 1}", block)
            c += num_layers * growth_rate
            if i != len(block_config) - 1:
                self.features.add_module(f"transition{i + 1}", _Transition(c, c // 2))
                c //= 2
        self.features.add_module("norm5", nn.BatchNorm2d(c))
        self.classifier = nn.Linear(c, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)``."""
        x = F.relu(self.features(x))
        return self.classifier(x.mean((2, 3)))


# The published checkpoints come from an older layout that named the dense
# layers' modules ``norm.1``/``conv.2``; today's names are ``norm1``/``conv2``.
_LEGACY_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.([12])\."
    r"(weight|bias|running_mean|running_var|num_batches_tracked)$"
)


def _rename_legacy_keys(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Map ``...denselayerN.norm.1.weight`` to ``...denselayerN.norm1.weight`` (others as is)."""
    return {_LEGACY_KEY.sub(r"\1\2.\3", k): v for k, v in state_dict.items()}


DenseNet121_Weights = weights_enum("DenseNet121_Weights")
DenseNet161_Weights = weights_enum("DenseNet161_Weights")
DenseNet169_Weights = weights_enum("DenseNet169_Weights")
DenseNet201_Weights = weights_enum("DenseNet201_Weights")


def _densenet(growth, blocks, init, enum, weights, progress, kwargs) -> DenseNet:
    w: WeightsEnum | None = resolve_weights(enum, weights, kwargs)
    model = DenseNet(growth, blocks, init, **kwargs)
    if w is not None:
        model.load_state_dict(_rename_legacy_keys(w.get_state_dict(progress=progress)))
    return model


def densenet121(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-121 (7,978,856 parameters with 1000 classes)."""
    return _densenet(32, (6, 12, 24, 16), 64, DenseNet121_Weights, weights, progress, kwargs)


def densenet161(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-161 (28,681,000 parameters; growth rate 48)."""
    return _densenet(48, (6, 12, 36, 24), 96, DenseNet161_Weights, weights, progress, kwargs)


def densenet169(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-169 (14,149,480 parameters)."""
    return _densenet(32, (6, 12, 32, 32), 64, DenseNet169_Weights, weights, progress, kwargs)


def densenet201(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> DenseNet:
    """DenseNet-201 (20,013,928 parameters)."""
    return _densenet(32, (6, 12, 48, 32), 64, DenseNet201_Weights, weights, progress, kwargs)
