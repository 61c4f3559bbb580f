"""MobileNet v3 Large and Small (Howard et al., 2019) with torchvision's parameter names."""

from __future__ import annotations

from functools import partial
from typing import Any, NamedTuple

import ember
import ember.nn as nn

from ._blocks import Conv2dNormActivation, SqueezeExcitation
from ._weights import load_weights, resolve_weights, weights_enum
from .mobilenet import init_weights_, make_divisible

__all__ = [
    "InvertedResidualConfig",
    "MobileNetV3",
    "MobileNet_V3_Large_Weights",
    "MobileNet_V3_Small_Weights",
    "mobilenet_v3_large",
    "mobilenet_v3_small",
]


class InvertedResidualConfig(NamedTuple):
    """One block: input, kernel, expanded and output channels, squeeze-excitation, activation
    (``"RE"`` ReLU or ``"HS"`` hard-swish), stride, dilation."""

    input_channels: int
    kernel: int
    expanded_channels: int
    out_channels: int
    use_se: bool
    activation: str
    stride: int
    dilation: int

    @classmethod
    def scaled(cls, cin, kernel, exp, cout, se, act, stride, dilation, width_mult: float):
        """The config with every channel count scaled by ``width_mult`` (multiples of 8)."""
        c = lambda v: make_divisible(v * width_mult, 8)  # noqa: E731
        return cls(c(cin), kernel, c(exp), c(cout), se, act, stride, dilation)


class InvertedResidual(nn.Module):
    """1x1 expand (when wider), depthwise kxk, squeeze-excitation (optional), 1x1 project.

    The layers sit in ``block`` (torchvision's names); a skip is added when
    the stride is 1 and the channel counts match.
    """

    def __init__(self, cnf: InvertedResidualConfig, norm_layer) -> None:
        super().__init__()
        if cnf.stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {cnf.stride}")
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        act = nn.Hardswish if cnf.activation == "HS" else nn.ReLU
        exp = cnf.expanded_channels
        layers: list[nn.Module] = []
        if exp != cnf.input_channels:
            layers.append(Conv2dNormActivation(cnf.input_channels, exp, 1, 1, 1, norm_layer, act))
        stride = 1 if cnf.dilation > 1 else cnf.stride  # dilation replaces striding
        layers.append(
            Conv2dNormActivation(exp, exp, cnf.kernel, stride, exp, norm_layer, act, cnf.dilation)
        )
        if cnf.use_se:
            squeeze = make_divisible(exp // 4, 8)
            layers.append(SqueezeExcitation(exp, squeeze, scale_activation=nn.Hardsigmoid))
        layers.append(Conv2dNormActivation(exp, cnf.out_channels, 1, 1, 1, norm_layer, None))
        self.block = nn.Sequential(*layers)
        self.out_channels = cnf.out_channels

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The block, plus ``x`` when shapes allow."""
        y = self.block(x)
        return y + x if self.use_res_connect else y


class MobileNetV3(nn.Module):
    """MobileNet v3: ``features`` (stem, blocks, 1x1 conv), ``avgpool``, ``classifier``.

    Args:
        inverted_residual_setting: the blocks (see :func:`mobilenet_v3_large`).
        last_channel: width of the classifier's hidden layer.
        num_classes: outputs.
        dropout: dropout inside the classifier (training only).

    Input ``(N, 3, H, W)``, any H, W >= 1; output ``(N, num_classes)``.
    """

    def __init__(
        self,
        inverted_residual_setting: list[InvertedResidualConfig],
        last_channel: int,
        num_classes: int = 1000,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if not inverted_residual_setting:
            raise ValueError("inverted_residual_setting must list at least one block")
        norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        first = inverted_residual_setting[0].input_channels
        layers: list[nn.Module] = [Conv2dNormActivation(3, first, 3, 2, 1, norm, nn.Hardswish)]
        layers += [InvertedResidual(cnf, norm) for cnf in inverted_residual_setting]
        cin = inverted_residual_setting[-1].out_channels
        layers.append(Conv2dNormActivation(cin, 6 * cin, 1, 1, 1, norm, nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * cin, last_channel),
            nn.Hardswish(inplace=True),
            nn.Dropout(dropout, inplace=True),
            nn.Linear(last_channel, num_classes),
        )
        init_weights_(self)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)``."""
        return self.classifier(ember.flatten(self.avgpool(self.features(x)), 1))


def _large(width_mult: float, reduced_tail: bool, dilated: bool):
    rd, d = (2 if reduced_tail else 1), (2 if dilated else 1)
    c = partial(InvertedResidualConfig.scaled, width_mult=width_mult)
    setting = [
        c(16, 3, 16, 16, False, "RE", 1, 1),
        c(16, 3, 64, 24, False, "RE", 2, 1),
        c(24, 3, 72, 24, False, "RE", 1, 1),
        c(24, 5, 72, 40, True, "RE", 2, 1),
        c(40, 5, 120, 40, True, "RE", 1, 1),
        c(40, 5, 120, 40, True, "RE", 1, 1),
        c(40, 3, 240, 80, False, "HS", 2, 1),
        c(80, 3, 200, 80, False, "HS", 1, 1),
        c(80, 3, 184, 80, False, "HS", 1, 1),
        c(80, 3, 184, 80, False, "HS", 1, 1),
        c(80, 3, 480, 112, True, "HS", 1, 1),
        c(112, 3, 672, 112, True, "HS", 1, 1),
        c(112, 5, 672, 160 // rd, True, "HS", 2, d),
        c(160 // rd, 5, 960 // rd, 160 // rd, True, "HS", 1, d),
        c(160 // rd, 5, 960 // rd, 160 // rd, True, "HS", 1, d),
    ]
    return setting, make_divisible(1280 // rd * width_mult, 8)


def _small(width_mult: float, reduced_tail: bool, dilated: bool):
    rd, d = (2 if reduced_tail else 1), (2 if dilated else 1)
    c = partial(InvertedResidualConfig.scaled, width_mult=width_mult)
    setting = [
        c(16, 3, 16, 16, True, "RE", 2, 1),
        c(16, 3, 72, 24, False, "RE", 2, 1),
        c(24, 3, 88, 24, False, "RE", 1, 1),
        c(24, 5, 96, 40, True, "HS", 2, 1),
        c(40, 5, 240, 40, True, "HS", 1, 1),
        c(40, 5, 240, 40, True, "HS", 1, 1),
        c(40, 5, 120, 48, True, "HS", 1, 1),
        c(48, 5, 144, 48, True, "HS", 1, 1),
        c(48, 5, 288, 96 // rd, True, "HS", 2, d),
        c(96 // rd, 5, 576 // rd, 96 // rd, True, "HS", 1, d),
        c(96 // rd, 5, 576 // rd, 96 // rd, True, "HS", 1, d),
    ]
    return setting, make_divisible(1024 // rd * width_mult, 8)


MobileNet_V3_Large_Weights = weights_enum("MobileNet_V3_Large_Weights")
MobileNet_V3_Small_Weights = weights_enum("MobileNet_V3_Small_Weights")


def _build(conf, enum, weights, progress, kwargs) -> MobileNetV3:
    w = resolve_weights(enum, weights, kwargs)
    setting, last = conf(
        kwargs.pop("width_mult", 1.0),
        kwargs.pop("reduced_tail", False),
        kwargs.pop("dilated", False),
    )
    model = MobileNetV3(setting, last, **kwargs)
    load_weights(model, w, progress)
    return model


def mobilenet_v3_large(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """MobileNet v3 Large (5,483,032 parameters with 1000 classes).

    ``width_mult``, ``reduced_tail`` (halve the last stage) and ``dilated``
    (dilate the last stage instead of striding) shape the network; other
    keyword arguments go to :class:`MobileNetV3`.
    """
    return _build(_large, MobileNet_V3_Large_Weights, weights, progress, kwargs)


def mobilenet_v3_small(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """MobileNet v3 Small (2,542,856 parameters with 1000 classes); options as for Large."""
    return _build(_small, MobileNet_V3_Small_Weights, weights, progress, kwargs)
