"""GoogLeNet (Inception v1, Szegedy et al., 2015) with torchvision's parameter names."""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import ember
import ember.nn as nn
import ember.nn.functional as F

from ._weights import resolve_weights, weights_enum
from .inception import BasicConv2d, init_trunc_normal_, transform_input_like_google

__all__ = ["GoogLeNet", "GoogLeNetOutputs", "GoogLeNet_Weights", "googlenet"]


class GoogLeNetOutputs(NamedTuple):
    """What :class:`GoogLeNet` returns in training mode with ``aux_logits``."""

    logits: ember.Tensor
    aux_logits2: ember.Tensor | None
    aux_logits1: ember.Tensor | None


class Inception(nn.Module):
    """Four parallel branches: 1x1; 1x1 -> 3x3; 1x1 -> "5x5"; 3x3 max pool -> 1x1.

    The "5x5" branch uses a 3x3 kernel, as torchvision's published weights do.
    Output channels: ``ch1x1 + ch3x3 + ch5x5 + pool_proj``.
    """

    def __init__(self, cin, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, pool_proj) -> None:
        super().__init__()
        self.branch1 = BasicConv2d(cin, ch1x1, kernel_size=1)
        self.branch2 = nn.Sequential(
            BasicConv2d(cin, ch3x3red, kernel_size=1),
            BasicConv2d(ch3x3red, ch3x3, kernel_size=3, padding=1),
        )
        self.branch3 = nn.Sequential(
            BasicConv2d(cin, ch5x5red, kernel_size=1),
            BasicConv2d(ch5x5red, ch5x5, kernel_size=3, padding=1),
        )
        self.branch4 = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True),
            BasicConv2d(cin, pool_proj, kernel_size=1),
        )

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The branches concatenated along channels; spatial size unchanged."""
        branches = (self.branch1, self.branch2, self.branch3, self.branch4)
        return ember.cat([b(x) for b in branches], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier: pool to 4x4, 1x1 conv to 128, fc 2048 -> 1024 -> classes."""

    def __init__(self, cin: int, num_classes: int, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = BasicConv2d(cin, 128, kernel_size=1)
        self.fc1 = nn.Linear(2048, 1024)
        self.fc2 = nn.Linear(1024, num_classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """``(N, cin, H, W) -> (N, num_classes)``."""
        x = ember.flatten(self.conv(F.adaptive_avg_pool2d(x, (4, 4))), 1)
        return self.fc2(self.dropout(F.relu(self.fc1(x))))


# (name, in, 1x1, 3x3 reduce, 3x3, "5x5" reduce, "5x5", pool projection): the paper's table 1.
_MODULES = [
    ("inception3a", 192, 64, 96, 128, 16, 32, 32),
    ("inception3b", 256, 128, 128, 192, 32, 96, 64),
    ("inception4a", 480, 192, 96, 208, 16, 48, 64),
    ("inception4b", 512, 160, 112, 224, 24, 64, 64),
    ("inception4c", 512, 128, 128, 256, 24, 64, 64),
    ("inception4d", 512, 112, 144, 288, 32, 64, 64),
    ("inception4e", 528, 256, 160, 320, 32, 128, 128),
    ("inception5a", 832, 256, 160, 320, 32, 128, 128),
    ("inception5b", 832, 384, 192, 384, 48, 128, 128),
]


class GoogLeNet(nn.Module):
    """GoogLeNet for ``(N, 3, H, W)`` images (H, W >= 15).

    Args:
        num_classes: outputs of ``fc`` (and of ``aux1``/``aux2``).
        aux_logits: build the auxiliary classifiers ``aux1`` (after 4a) and
            ``aux2`` (after 4d); in training mode ``forward`` then returns
            :class:`GoogLeNetOutputs`.
        transform_input: re-normalize inputs as Google's weights expect.
        init_weights: draw truncated-normal weights (skip when loading weights).
        dropout, dropout_aux: dropout before ``fc`` and inside the auxiliary heads.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.2,
        dropout_aux: float = 0.7,
    ) -> None:
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.conv1 = BasicConv2d(3, 64, kernel_size=7, stride=2, padding=3)
        self.maxpool1 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.conv2 = BasicConv2d(64, 64, kernel_size=1)
        self.conv3 = BasicConv2d(64, 192, kernel_size=3, padding=1)
        self.maxpool2 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name, *channels in _MODULES[:2]:
            setattr(self, name, Inception(*channels))
        self.maxpool3 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        for name, *channels in _MODULES[2:7]:
            setattr(self, name, Inception(*channels))
        self.maxpool4 = nn.MaxPool2d(2, stride=2, ceil_mode=True)
        for name, *channels in _MODULES[7:]:
            setattr(self, name, Inception(*channels))
        self.aux1 = InceptionAux(512, num_classes, dropout_aux) if aux_logits else None
        self.aux2 = InceptionAux(528, num_classes, dropout_aux) if aux_logits else None
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(1024, num_classes)
        if init_weights:
            init_trunc_normal_(self, 0.01)

    def forward(self, x: ember.Tensor) -> ember.Tensor | GoogLeNetOutputs:
        """Logits ``(N, num_classes)``; in training with aux heads, ``(logits, aux2, aux1)``."""
        if self.transform_input:
            x = transform_input_like_google(x)
        x = self.maxpool1(self.conv1(x))
        x = self.maxpool2(self.conv3(self.conv2(x)))
        x = self.maxpool3(self.inception3b(self.inception3a(x)))
        x = self.inception4a(x)
        aux1 = self.aux1(x) if self.aux1 is not None and self.training else None
        x = self.inception4d(self.inception4c(self.inception4b(x)))
        aux2 = self.aux2(x) if self.aux2 is not None and self.training else None
        x = self.maxpool4(self.inception4e(x))
        x = self.inception5b(self.inception5a(x))
        x = self.fc(self.dropout(ember.flatten(self.avgpool(x), 1)))
        if self.training and self.aux_logits:
            return GoogLeNetOutputs(x, aux2, aux1)
        return x


GoogLeNet_Weights = weights_enum("GoogLeNet_Weights")


def googlenet(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> GoogLeNet:
    """GoogLeNet (6,624,904 parameters without the auxiliary heads, 1000 classes).

    Without weights the model has auxiliary heads (``aux_logits=True``, as
    :class:`GoogLeNet`). With weights, ``transform_input`` defaults to True and
    ``aux_logits`` to False: the checkpoint's auxiliary heads were never
    trained, so they are loaded and then dropped unless asked for.
    """
    w = resolve_weights(GoogLeNet_Weights, weights, kwargs)
    if w is None:
        return GoogLeNet(**kwargs)
    kwargs.setdefault("transform_input", True)
    keep_aux = kwargs.pop("aux_logits", False)
    kwargs.pop("init_weights", None)
    model = GoogLeNet(aux_logits=True, init_weights=False, **kwargs)
    model.load_state_dict(w.get_state_dict(progress=progress))
    if keep_aux:
        warnings.warn(
            "the auxiliary heads of the pretrained GoogLeNet are not trained; train them first",
            stacklevel=2,
        )
    else:
        model.aux_logits, model.aux1, model.aux2 = False, None, None
    return model
