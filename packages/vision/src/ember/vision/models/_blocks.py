"""Building blocks shared by MobileNet v3 and EfficientNet, named as in torchvision.ops.

They live here, private to the zoo, until ``ember.vision.ops`` grows its own
``Conv2dNormActivation``, ``SqueezeExcitation`` and ``StochasticDepth``; their
submodule names (``0``/``1``/``2``, ``fc1``/``fc2``) are what torchvision's
checkpoints expect.
"""

from __future__ import annotations

from collections.abc import Callable

import ember
import ember.nn as nn

__all__ = ["Conv2dNormActivation", "SqueezeExcitation", "StochasticDepth", "stochastic_depth"]


class Conv2dNormActivation(nn.Sequential):
    """Conv2d (``0``) -> norm (``1``) -> activation (``2``); "same" padding for odd kernels.

    ``norm_layer=None`` gives the convolution a bias and no norm;
    ``activation_layer=None`` leaves the activation out (a linear block).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: Callable[[int], nn.Module] | None = nn.BatchNorm2d,
        activation_layer: Callable[..., nn.Module] | None = nn.ReLU,
        dilation: int = 1,
    ) -> None:
        padding = (kernel_size - 1) // 2 * dilation
        layers: list[nn.Module] = [
            nn.Conv2d(
                in_channels, out_channels, kernel_size, stride, padding,
                dilation=dilation, groups=groups, bias=norm_layer is None,
            )
        ]  # fmt: skip
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=True))
        super().__init__(*layers)
        self.out_channels = out_channels


class SqueezeExcitation(nn.Module):
    """Channel attention (Hu et al., 2018): ``x * scale(fc2(act(fc1(mean_hw(x)))))``.

    ``fc1``/``fc2`` are 1x1 convolutions with bias, ``(N, C, H, W) -> (N, C, H, W)``.
    """

    def __init__(
        self,
        input_channels: int,
        squeeze_channels: int,
        activation: Callable[..., nn.Module] = nn.ReLU,
        scale_activation: Callable[..., nn.Module] = nn.Sigmoid,
    ) -> None:
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """``x`` rescaled per sample and channel by weights in (0, 1)."""
        scale = self.fc2(self.activation(self.fc1(self.avgpool(x))))
        return self.scale_activation(scale) * x


def stochastic_depth(x: ember.Tensor, p: float, mode: str, training: bool = True) -> ember.Tensor:
    """Zero whole samples (``mode="row"``) or the whole batch (``"batch"``) with probability ``p``.

    Survivors are scaled by ``1 / (1 - p)`` so the expectation is unchanged
    (Huang et al., 2016). The identity in evaluation or when ``p == 0``.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"drop probability must be in [0, 1], got {p}")
    if mode not in ("row", "batch"):
        raise ValueError(f"mode must be 'row' or 'batch', got {mode!r}")
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    shape = (x.shape[0],) + (1,) * (x.dim() - 1) if mode == "row" else (1,) * x.dim()
    keep = (ember.rand(*shape, device=x.device) < survival).to(x.dtype)
    return x * (keep / survival) if survival > 0.0 else x * keep


class StochasticDepth(nn.Module):
    """:func:`stochastic_depth` as a layer; active only in training mode."""

    def __init__(self, p: float, mode: str = "row") -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"drop probability must be in [0, 1], got {p}")
        self.p, self.mode = p, mode

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """``x`` with whole samples dropped (training) or unchanged (evaluation)."""
        return stochastic_depth(x, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        """``p=..., mode=...``."""
        return f"p={self.p}, mode={self.mode}"
