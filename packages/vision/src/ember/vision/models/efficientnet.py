"""EfficientNet B0-B7 (Tan & Le, 2019) in torchvision's layout (its checkpoints load by name).

Unlike :mod:`efficientnet_lite`, these use swish (SiLU), squeeze-and-excitation
and symmetric padding, and scale width and depth per variant.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any, NamedTuple

import ember
import ember.nn as nn

from ._blocks import Conv2dNormActivation, SqueezeExcitation, StochasticDepth
from ._weights import load_weights, resolve_weights, weights_enum
from .mobilenet import init_weights_, make_divisible

__all__ = [
    "EfficientNet",
    "MBConv",
    "MBConvConfig",
    *[f"EfficientNet_B{i}_Weights" for i in range(8)],
    *[f"efficientnet_b{i}" for i in range(8)],
]


class MBConvConfig(NamedTuple):
    """One stage: expansion ratio, kernel, first stride, input/output channels, block count."""

    expand_ratio: float
    kernel: int
    stride: int
    input_channels: int
    out_channels: int
    num_layers: int

    @classmethod
    def scaled(cls, expand, kernel, stride, cin, cout, layers, width_mult, depth_mult):
        """The stage with channels scaled by ``width_mult`` (multiples of 8) and block
        count by ``depth_mult`` (rounded up)."""
        c = lambda v: make_divisible(v * width_mult, 8)  # noqa: E731
        return cls(expand, kernel, stride, c(cin), c(cout), int(math.ceil(layers * depth_mult)))


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-excitation and stochastic depth.

    ``block``: 1x1 expand (when ``expand_ratio != 1``), depthwise kxk, SE
    (squeezing to a quarter of the *input* channels), 1x1 linear projection.
    With a skip, training drops the block per sample with probability
    ``stochastic_depth_prob``.
    """

    def __init__(self, cnf: MBConvConfig, stochastic_depth_prob: float, norm_layer) -> None:
        super().__init__()
        if cnf.stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        cin, exp = cnf.input_channels, make_divisible(cnf.input_channels * cnf.expand_ratio, 8)
        layers: list[nn.Module] = []
        if exp != cin:
            layers.append(Conv2dNormActivation(cin, exp, 1, 1, 1, norm_layer, nn.SiLU))
        layers += [
            Conv2dNormActivation(exp, exp, cnf.kernel, cnf.stride, exp, norm_layer, nn.SiLU),
            SqueezeExcitation(exp, max(1, cin // 4), activation=partial(nn.SiLU, inplace=True)),
            Conv2dNormActivation(exp, cnf.out_channels, 1, 1, 1, norm_layer, None),
        ]
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")
        self.out_channels = cnf.out_channels

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The block, plus ``x`` (after stochastic depth) when shapes allow."""
        y = self.block(x)
        return self.stochastic_depth(y) + x if self.use_res_connect else y


class EfficientNet(nn.Module):
    """EfficientNet: ``features`` (stem, one ``Sequential`` of MBConv per stage, 1x1 head),
    ``avgpool``, ``classifier`` (dropout, linear).

    Args:
        inverted_residual_setting: the stages (see :func:`efficientnet_b0`).
        dropout: dropout before the final linear layer (training only).
        stochastic_depth_prob: drop probability of the last block; block ``i``
            of ``n`` drops with ``stochastic_depth_prob * i / n``.
        num_classes: outputs.
        norm_layer: normalization (BatchNorm2d by default).
        last_channel: width of the head (default 4x the last stage's).

    Input ``(N, 3, H, W)``, any H, W >= 1; output ``(N, num_classes)``.
    """

    def __init__(
        self,
        inverted_residual_setting: list[MBConvConfig],
        dropout: float,
        stochastic_depth_prob: float = 0.2,
        num_classes: int = 1000,
        norm_layer: Any = None,
        last_channel: int | None = None,
    ) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("inverted_residual_setting must list at least one stage")
        norm_layer = nn.BatchNorm2d if norm_layer is None else norm_layer
        first = inverted_residual_setting[0].input_channels
        layers: list[nn.Module] = [Conv2dNormActivation(3, first, 3, 2, 1, norm_layer, nn.SiLU)]
        total = sum(cnf.num_layers for cnf in inverted_residual_setting)
        done = 0
        for cnf in inverted_residual_setting:
            stage = []
            for i in range(cnf.num_layers):
                # After a stage's first block, input = output channels and stride 1.
                c = cnf if i == 0 else cnf._replace(input_channels=cnf.out_channels, stride=1)
                stage.append(MBConv(c, stochastic_depth_prob * done / total, norm_layer))
                done += 1
            layers.append(nn.Sequential(*stage))
        cin = inverted_residual_setting[-1].out_channels
        head = 4 * cin if last_channel is None else last_channel
        layers.append(Conv2dNormActivation(cin, head, 1, 1, 1, norm_layer, nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(dropout, inplace=True), nn.Linear(head, num_classes)
        )
        init_weights_(self, linear_uniform=True)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)``."""
        return self.classifier(ember.flatten(self.avgpool(self.features(x)), 1))


# (expand, kernel, stride, in, out, blocks) per stage: EfficientNet-B0 from the paper's table 1.
_B0_STAGES = [
    (1, 3, 1, 32, 16, 1),
    (6, 3, 2, 16, 24, 2),
    (6, 5, 2, 24, 40, 2),
    (6, 3, 2, 40, 80, 3),
    (6, 5, 1, 80, 112, 3),
    (6, 5, 2, 112, 192, 4),
    (6, 3, 1, 192, 320, 1),
]

# (width multiplier, depth multiplier, dropout) per variant. B5-B7 carry weights
# ported from TensorFlow, trained with BatchNorm eps 1e-3.
_VARIANTS = {
    0: (1.0, 1.0, 0.2), 1: (1.0, 1.1, 0.2), 2: (1.1, 1.2, 0.3), 3: (1.2, 1.4, 0.3),
    4: (1.4, 1.8, 0.4), 5: (1.6, 2.2, 0.4), 6: (1.8, 2.6, 0.5), 7: (2.0, 3.1, 0.5),
}  # fmt: skip

EfficientNet_B0_Weights = weights_enum("EfficientNet_B0_Weights")
EfficientNet_B1_Weights = weights_enum("EfficientNet_B1_Weights")
EfficientNet_B2_Weights = weights_enum("EfficientNet_B2_Weights")
EfficientNet_B3_Weights = weights_enum("EfficientNet_B3_Weights")
EfficientNet_B4_Weights = weights_enum("EfficientNet_B4_Weights")
EfficientNet_B5_Weights = weights_enum("EfficientNet_B5_Weights")
EfficientNet_B6_Weights = weights_enum("EfficientNet_B6_Weights")
EfficientNet_B7_Weights = weights_enum("EfficientNet_B7_Weights")
_ENUMS = [globals()[f"EfficientNet_B{i}_Weights"] for i in range(8)]


def _efficientnet(variant: int, weights: Any, progress: bool, kwargs: dict) -> EfficientNet:
    w = resolve_weights(_ENUMS[variant], weights, kwargs)
    width, depth, dropout = _VARIANTS[variant]
    setting = [MBConvConfig.scaled(*s, width, depth) for s in _B0_STAGES]
    if variant >= 5:
        kwargs.setdefault("norm_layer", partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))
    model = EfficientNet(setting, kwargs.pop("dropout", dropout), **kwargs)
    load_weights(model, w, progress)
    return model


def efficientnet_b0(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """EfficientNet-B0 (5,288,548 parameters with 1000 classes; 224x224 inputs)."""
    return _efficientnet(0, weights, progress, kwargs)


def efficientnet_b1(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """EfficientNet-B1 (7,794,184 parameters; 240x240 inputs)."""
    return _efficientnet(1, weights, progress, kwargs)


def efficientnet_b2(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """EfficientNet-B2 (9,109,994 parameters; 288x288 inputs)."""
    return _efficientnet(2, weights, progress, kwargs)


def efficientnet_b3(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """EfficientNet-B3 (12,233,232 parameters; 300x300 inputs)."""
    return _efficientnet(3, weights, progress, kwargs)


def efficientnet_b4(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """EfficientNet-B4 (19,341,616 parameters; 380x380 inputs)."""
    return _efficientnet(4, weights, progress, kwargs)


def efficientnet_b5(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """EfficientNet-B5 (30,389,784 parameters; 456x456 inputs; BatchNorm eps 1e-3)."""
    return _efficientnet(5, weights, progress, kwargs)


def efficientnet_b6(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """EfficientNet-B6 (43,040,704 parameters; 528x528 inputs; BatchNorm eps 1e-3)."""
    return _efficientnet(6, weights, progress, kwargs)


def efficientnet_b7(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """EfficientNet-B7 (66,347,960 parameters; 600x600 inputs; BatchNorm eps 1e-3)."""
    return _efficientnet(7, weights, progress, kwargs)
