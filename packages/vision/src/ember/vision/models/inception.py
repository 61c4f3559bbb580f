"""Inception v3 (Szegedy et al., 2016) with torchvision's parameter names."""

from __future__ import annotations

from typing import Any, NamedTuple

import ember
import ember.nn as nn
import ember.nn.functional as F

from ._weights import resolve_weights, weights_enum

__all__ = ["Inception3", "InceptionOutputs", "Inception_V3_Weights", "inception_v3"]


class InceptionOutputs(NamedTuple):
    """What :class:`Inception3` returns in training mode with ``aux_logits``."""

    logits: ember.Tensor
    aux_logits: ember.Tensor | None


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU; ``kwargs`` go to the convolution."""

    def __init__(self, cin: int, cout: int, **kwargs: Any) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kwargs)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """``relu(bn(conv(x)))``."""
        return F.relu(self.bn(self.conv(x)))


def _pool_avg(x: ember.Tensor) -> ember.Tensor:
    return F.avg_pool2d(x, 3, 1, 1)


class InceptionA(nn.Module):
    """35x35 module: 1x1, 5x5, double 3x3 and pooled branches (64+64+96+pool_features out)."""

    def __init__(self, cin: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The four branches concatenated along channels."""
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return ember.cat([self.branch1x1(x), b5, b3, self.branch_pool(_pool_avg(x))], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 -> 17: strided 3x3, strided double 3x3, max pooling (384+96+cin)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The three branches concatenated along channels."""
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return ember.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, 2)], 1)


class InceptionC(nn.Module):
    """17x17 module with factorized 7x7 convolutions (1x7 then 7x1); 768 channels out."""

    def __init__(self, cin: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        row = {"kernel_size": (1, 7), "padding": (0, 3)}
        col = {"kernel_size": (7, 1), "padding": (3, 0)}
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, **row)
        self.branch7x7_3 = BasicConv2d(c7, 192, **col)
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, **row)
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, **col)
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, **row)
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The four branches concatenated along channels."""
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        d = x
        for i in range(1, 6):
            d = getattr(self, f"branch7x7dbl_{i}")(d)
        return ember.cat([self.branch1x1(x), b7, d, self.branch_pool(_pool_avg(x))], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 -> 8: strided 3x3, 7x7-then-strided-3x3, max pooling (320+192+cin)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The three branches concatenated along channels."""
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_1(x)
        for i in range(2, 5):
            b7 = getattr(self, f"branch7x7x3_{i}")(b7)
        return ember.cat([b3, b7, F.max_pool2d(x, 3, 2)], 1)


class InceptionE(nn.Module):
    """8x8 module whose 3x3 branches split into parallel 1x3 and 3x1 (2048 channels out)."""

    def __init__(self, cin: int) -> None:
        super().__init__()
        row = {"kernel_size": (1, 3), "padding": (0, 1)}
        col = {"kernel_size": (3, 1), "padding": (1, 0)}
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, **row)
        self.branch3x3_2b = BasicConv2d(384, 384, **col)
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, **row)
        self.branch3x3dbl_3b = BasicConv2d(384, 384, **col)
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """The four branches (two of them split in two) concatenated along channels."""
        b3 = self.branch3x3_1(x)
        b3 = ember.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        d = ember.cat([self.branch3x3dbl_3a(d), self.branch3x3dbl_3b(d)], 1)
        return ember.cat([self.branch1x1(x), b3, d, self.branch_pool(_pool_avg(x))], 1)


class InceptionAux(nn.Module):
    """Auxiliary classifier on the 17x17 grid (needs at least 17x17 inputs, i.e. 299x299 images)."""

    def __init__(self, cin: int, num_classes: int) -> None:
        super().__init__()
        self.conv0 = BasicConv2d(cin, 128, kernel_size=1)
        self.conv1 = BasicConv2d(128, 768, kernel_size=5)
        self.conv1.stddev = 0.01  # read by Inception3's initialization
        self.fc = nn.Linear(768, num_classes)
        self.fc.stddev = 0.001

    def forward(self, x: ember.Tensor) -> ember.Tensor:
        """``(N, cin, 17, 17) -> (N, num_classes)``."""
        x = self.conv1(self.conv0(F.avg_pool2d(x, 5, 3)))
        return self.fc(x.mean((2, 3)))


def transform_input_like_google(x: ember.Tensor) -> ember.Tensor:
    """Re-normalize ImageNet-normalized ``x`` to Google's ``(x - 0.5) / 0.5`` per channel.

    Google's released Inception weights expect [-1, 1] inputs; torchvision's
    preprocessing gives ``(x - mean) / std``, so undo that and redo Google's.
    """
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    chans = [x[:, i : i + 1] * (std[i] / 0.5) + (mean[i] - 0.5) / 0.5 for i in range(3)]
    return ember.cat(chans, 1)


# The modules before the auxiliary head, in order.
_TRUNK = (
    "Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
    "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
    "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
)  # fmt: skip


def init_trunc_normal_(model: nn.Module, std: float) -> None:
    """GoogLeNet's and Inception v3's initialization, in module order: convolution and
    linear weights from N(0, std) truncated to [-2, 2] (a layer's own ``stddev``
    attribute overrides ``std``), batch norms 1 and 0."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            std_m = getattr(m, "stddev", std)
            nn.init.trunc_normal_(m.weight, mean=0.0, std=std_m, a=-2, b=2)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class Inception3(nn.Module):
    """Inception v3 for ``(N, 3, H, W)`` images (H, W >= 75; 299 for the auxiliary head).

    Args:
        num_classes: outputs of ``fc`` (and of ``AuxLogits``).
        aux_logits: build the auxiliary classifier ``AuxLogits``; in training
            mode ``forward`` then returns :class:`InceptionOutputs`.
        transform_input: re-normalize inputs as Google's weights expect
            (see :func:`transform_input_like_google`).
        init_weights: draw truncated-normal weights (skip when loading weights).
        dropout: dropout before ``fc``.
    """

    def __init__(
        self,
        num_classes: int = 1000,
        aux_logits: bool = True,
        transform_input: bool = False,
        init_weights: bool = True,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.aux_logits, self.transform_input = aux_logits, transform_input
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.maxpool1 = nn.MaxPool2d(3, 2)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.maxpool2 = nn.MaxPool2d(3, 2)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.AuxLogits = InceptionAux(768, num_classes) if aux_logits else None
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280)
        self.Mixed_7c = InceptionE(2048)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2048, num_classes)
        if init_weights:
            init_trunc_normal_(self, 0.1)

    def forward(self, x: ember.Tensor) -> ember.Tensor | InceptionOutputs:
        """Logits ``(N, num_classes)``; in training with ``AuxLogits``, ``(logits, aux)``."""
        if self.transform_input:
            x = transform_input_like_google(x)
        for name in _TRUNK:
            x = getattr(self, name)(x)
        aux = self.AuxLogits(x) if self.AuxLogits is not None and self.training else None
        x = self.Mixed_7c(self.Mixed_7b(self.Mixed_7a(x)))
        x = self.fc(ember.flatten(self.dropout(self.avgpool(x)), 1))
        if self.training and self.aux_logits:
            return InceptionOutputs(x, aux)
        return x


Inception_V3_Weights = weights_enum("Inception_V3_Weights")


def inception_v3(*, weights: Any = None, progress: bool = True, **kwargs: Any) -> Inception3:
    """Inception v3 (27,161,264 parameters with the auxiliary head, 1000 classes).

    With weights, ``transform_input`` defaults to True (Google's weights expect
    [-1, 1] inputs) and the auxiliary head is loaded, then dropped when
    ``aux_logits=False``.
    """
    w = resolve_weights(Inception_V3_Weights, weights, kwargs)
    if w is None:
        return Inception3(**kwargs)
    kwargs.setdefault("transform_input", True)
    keep_aux = kwargs.pop("aux_logits", True)
    kwargs.pop("init_weights", None)
    model = Inception3(aux_logits=True, init_weights=False, **kwargs)
    model.load_state_dict(w.get_state_dict(progress=progress))
    if not keep_aux:
        model.aux_logits, model.AuxLogits = False, None
    return model
