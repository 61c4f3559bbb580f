"""LeNet-5 as the seed's tutorial writes it (``Net``): two conv+pool stages, three linear layers."""

from __future__ import annotations

from typing import Any

import ember
import ember.nn as nn
import ember.nn.functional as F

__all__ = ["LeNet", "lenet"]


class LeNet(nn.Module):
    """LeNet-5 for ``(N, in_channels, 32, 32)`` images (pad 28x28 MNIST digits by 2).

    ``conv1`` (5x5, 6 maps) -> ReLU -> 2x2 max-pool -> ``conv2`` (5x5, 16 maps)
    -> ReLU -> 2x2 max-pool -> ``fc1`` (400 -> 120) -> ReLU -> ``fc2`` (120 -> 84)
    -> ReLU -> ``fc3`` (84 -> ``num_classes``). Parameter names are the seed's,
    so its PyTorch state dicts load as they are. 61,706 parameters for 1 channel
    and 10 classes.
    """

    def __init__(self, num_classes: int = 10, in_channels: int = 1) -> None:
        super().__init__()
        # 1 input image channel, 6 output channels, 5x5 square convolution kernel
        self.conv1 = nn.Conv2d(in_channels, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, num_classes)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """Logits ``(N, num_classes)`` for images ``(N, C, 32, 32)``."""
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        return self.fc3(x)

    @staticmethod
    def num_flat_features(x: ember.Tensor) -> int:
        """Number of features per sample: the product of all but the batch dimension."""
        n = 1
        for s in x.size()[1:]:
            n *= s
        return n


def lenet(**kwargs: Any) -> LeNet:
    """Build a :class:`LeNet` (no pretrained weights exist for it)."""
    return LeNet(**kwargs)
