"""ShuffleNet v2 (Ma et al., 2018) with torchvision's parameter names."""

from __future__ import annotations

from typing import Any

import ember
import ember.nn as nn

from ._weights import load_weights, resolve_weights, weights_enum

__all__ = [
    "ShuffleNetV2",
    "ShuffleNet_V2_X0_5_Weights",
    "ShuffleNet_V2_X1_0_Weights",
    "ShuffleNet_V2_X1_5_Weights",
    "ShuffleNet_V2_X2_0_Weights",
    "channel_shuffle",
    "shufflenet_v2_x0_5",
    "shufflenet_v2_x1_0",
    "shufflenet_v2_x1_5",
    "shufflenet_v2_x2_0",
]


def channel_shuffle(x: ember.Tensor, groups: int) -> ember.Tensor:
    """Interleave ``groups`` channel groups: channel ``g * k + i`` moves to ``i * groups + g``.

    ``(N, C, H, W) -> (N, C, H, W)``; ``C`` must be divisible by ``groups``.
    """
    n, c, h, w = x.shape
    if c % groups:
        raise ValueError(f"channel_shuffle: {c} channels do not split into {groups} groups")
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)


def _depthwise(c: int, stride: int) -> nn.Conv2d:
    return nn.Conv2d(c, c, 3, stride, 1, groups=c, bias=False)


class InvertedResidual(nn.Module):
    """ShuffleNet v2 unit: split (stride 1) or duplicate (stride 2), two branches, shuffle.

    ``branch1`` (stride 2 only: depthwise 3x3, BN, 1x1, BN, ReLU) and
    ``branch2`` (1x1, BN, ReLU, depthwise 3x3, BN, 1x1, BN, ReLU) each give
    half of the ``cout`` output channels.
    """

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        if stride not in (1, 2, 3):
            raise ValueError(f"stride must be 1, 2 or 3, got {stride}")
        half = cout // 2
        if stride == 1 and cin != 2 * half:
            raise ValueError(f"a stride-1 unit needs cin == cout (even), got {cin} and {cout}")
        self.stride = stride
        if stride > 1:
            self.branch1 = nn.Sequential(
                _depthwise(cin, stride), nn.BatchNorm2d(cin),
                nn.Conv2d(cin, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            )  # fmt: skip
        else:
            self.branch1 = nn.Sequential()
        self.branch2 = nn.Sequential(
            nn.Conv2d(cin if stride > 1 else half, half, 1, bias=False),
            nn.BatchNorm2d(half), nn.ReLU(inplace=True),
            _depthwise(half, stride), nn.BatchNorm2d(half),
            nn.Conv2d(half, half, 1, bias=False), nn.BatchNorm2d(half), nn.ReLU(inplace=True),
        )  # fmt: skip

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """``(N, cin, H, W) -> (N, cout, H / stride, W / stride)``."""
        if self.stride == 1:
            x1, x2 = x.chunk(2, dim=1)
            out = ember.cat([x1, self.branch2(x2)], 1)
        else:
            out = ember.cat([self.branch1(x), self.branch2(x)], 1)
        return channel_shuffle(out, 2)


class ShuffleNetV2(nn.Module):
    """ShuffleNet v2: ``conv1``, ``maxpool``, ``stage2``-``stage4``, ``conv5``, ``fc``.

    Args:
        stages_repeats: units in stages 2, 3 and 4.
        stages_out_channels: output channels of conv1, the three stages and conv5.
        num_classes: outputs of ``fc``.

    Input ``(N, 3, H, W)``, any H, W >= 1; output ``(N, num_classes)``.
    """

    def __init__(
        self, stages_repeats: list[int], stages_out_channels: list[int], num_classes: int = 1000
    ) -> None:
        super().__init__()
        if len(stages_repeats) != 3:
            raise ValueError(f"stages_repeats must list 3 stages, got {stages_repeats}")
        if len(stages_out_channels) != 5:
            raise ValueError(f"stages_out_channels must list 5 widths, got {stages_out_channels}")
        self._stage_out_channels = list(stages_out_channels)
        c = stages_out_channels[0]
        self.conv1 = nn.Sequential(
            nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(inplace=True)
        )
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        for i, (repeats, cout) in enumerate(zip(stages_repeats, stages_out_channels[1:4])):
            units = [InvertedResidual(c, cout, 2)]
            units += [InvertedResidual(cout, cout, 1) for _ in range(repeats - 1)]
            setattr(self, f"stage{i + 2}", nn.Sequential(*units))
            c = cout
        last = stages_out_channels[-1]
        self.conv5 = nn.Sequential(
            nn.Conv2d(c, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU(inplace=True)
        )
        self.fc = nn.Linear(last, num_classes)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)``."""
        x = self.maxpool(self.conv1(x))
        x = self.conv5(self.stage4(self.stage3(self.stage2(x))))
        return self.fc(x.mean((2, 3)))  # global average pooling


ShuffleNet_V2_X0_5_Weights = weights_enum("ShuffleNet_V2_X0_5_Weights")
ShuffleNet_V2_X1_0_Weights = weights_enum("ShuffleNet_V2_X1_0_Weights")
ShuffleNet_V2_X1_5_Weights = weights_enum("ShuffleNet_V2_X1_5_Weights")
ShuffleNet_V2_X2_0_Weights = weights_enum("ShuffleNet_V2_X2_0_Weights")


def _shufflenet(widths, enum, weights, progress, kwargs) -> ShuffleNetV2:
    w = resolve_weights(enum, weights, kwargs)
    model = ShuffleNetV2([4, 8, 4], widths, **kwargs)
    load_weights(model, w, progress)
    return model


def shufflenet_v2_x0_5(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """ShuffleNet v2 at 0.5x width (1,366,792 parameters with 1000 classes)."""
    widths = [24, 48, 96, 192, 1024]
    return _shufflenet(widths, ShuffleNet_V2_X0_5_Weights, weights, progress, kwargs)


def shufflenet_v2_x1_0(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """ShuffleNet v2 at 1.0x width (2,278,604 parameters)."""
    widths = [24, 116, 232, 464, 1024]
    return _shufflenet(widths, ShuffleNet_V2_X1_0_Weights, weights, progress, kwargs)


def shufflenet_v2_x1_5(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """ShuffleNet v2 at 1.5x width (3,503,624 parameters)."""
    widths = [24, 176, 352, 704, 1024]
    return _shufflenet(widths, ShuffleNet_V2_X1_5_Weights, weights, progress, kwargs)


def shufflenet_v2_x2_0(*, weights: Any = None, progress: bool = True, **kwargs: Any):
    """ShuffleNet v2 at 2.0x width (7,393,996 parameters)."""
    widths = [24, 244, 488, 976, 2048]
    return _shufflenet(widths, ShuffleNet_V2_X2_0_Weights, weights, progress, kwargs)
