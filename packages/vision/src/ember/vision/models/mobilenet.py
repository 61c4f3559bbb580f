"""MobileNet v2 (Sandler et al., 2018) with torchvision's parameter names."""

from __future__ import annotations

import math
from typing import Any

import ember
import ember.nn as nn

from ._weights import load_weights, resolve_weights, weights_enum

__all__ = ["InvertedResidual", "MobileNetV2", "MobileNet_V2_Weights", "mobilenet_v2"]


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None) -> int:
    """Round ``v`` to a multiple of ``divisor``, never dropping more than 10%."""
    min_value = divisor if min_value is None else min_value
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class ConvBNReLU6(nn.Sequential):
    """Conv (no bias) -> BatchNorm -> ReLU6, as ``0``, ``1``, ``2``."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, groups: int = 1):
        super().__init__(
            nn.Conv2d(cin, cout, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )


class InvertedResidual(nn.Module):
    """1x1 expand (unless ``expand_ratio == 1``), 3x3 depthwise, 1x1 linear projection."""

    def __init__(self, cin: int, cout: int, stride: int, expand_ratio: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = int(round(cin * expand_ratio))
        self.use_res_connect = stride == 1 and cin == cout
        layers: list[nn.Module] = []
        if expand_ratio != 1:
            layers.append(ConvBNReLU6(cin, hidden, kernel=1))
        layers += [
            ConvBNReLU6(hidden, hidden, stride=stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.conv = nn.Sequential(*layers)
        self.out_channels = cout

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The block, plus ``x`` when shapes allow."""
        return x + self.conv(x) if self.use_res_connect else self.conv(x)


def init_weights_(model: nn.Module, linear_uniform: bool = False) -> None:
    """MobileNet v2's and v3's initialization (EfficientNet's with ``linear_uniform``), in
    module order: convolutions Kaiming-normal (fan_out) with zero bias, batch norms 1 and
    0, linear weights N(0, 0.01) (``linear_uniform``: U(-r, r), ``r = 1 / sqrt(out)``)
    with zero bias."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            if linear_uniform:
                r = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -r, r)
            else:
                nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


class MobileNetV2(nn.Module):
    """MobileNet v2: ``features`` (19 stages) then ``classifier`` (dropout, linear)."""

    def __init__(
        self, num_classes: int = 1000, width_mult: float = 1.0, dropout: float = 0.2
    ) -> None:
        super().__init__()
        settings = [  # expansion t, channels c, repeats n, first stride s
            [1, 16, 1, 1], [6, 24, 2, 2], [6, 32, 3, 2], [6, 64, 4, 2],
            [6, 96, 3, 1], [6, 160, 3, 2], [6, 320, 1, 1],
        ]  # fmt: skip
        cin = make_divisible(32 * width_mult)
        self.last_channel = make_divisible(1280 * max(1.0, width_mult))
        features: list[nn.Module] = [ConvBNReLU6(3, cin, stride=2)]
        for t, c, n, s in settings:
            cout = make_divisible(c * width_mult)
            for i in range(n):
                features.append(InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        features.append(ConvBNReLU6(cin, self.last_channel, kernel=1))
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout), nn.Linear(self.last_channel, num_classes)
        )
        init_weights_(self)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)``."""
        x = self.features(x).mean((2, 3))  # global average pooling
        return self.classifier(x)


MobileNet_V2_Weights = weights_enum("MobileNet_V2_Weights")


def mobilenet_v2(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> MobileNetV2:
    """MobileNet v2 (3,504,872 parameters with 1000 classes)."""
    w = resolve_weights(MobileNet_V2_Weights, weights, kwargs)
    model = MobileNetV2(**kwargs)
    load_weights(model, w, progress)
    return model
