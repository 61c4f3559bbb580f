"""Bilinear, pixel shuffling, upsampling, padding layers, EmbeddingBag and CTCLoss."""

from __future__ import annotations

import math

import ember as E
from ember._tensor import Tensor
from ember.nn import init
from ember.nn.functional import _ctc, _embedding_bag, _sampling
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = [
    "Bilinear",
    "PixelShuffle",
    "PixelUnshuffle",
    "Upsample",
    "UpsamplingNearest2d",
    "UpsamplingBilinear2d",
    "ZeroPad1d",
    "ZeroPad2d",
    "ConstantPad1d",
    "ConstantPad2d",
    "ReflectionPad1d",
    "ReflectionPad2d",
    "ReplicationPad1d",
    "ReplicationPad2d",
    "CircularPad1d",
    "CircularPad2d",
    "EmbeddingBag",
    "CTCLoss",
]


def _kw(device, dtype) -> dict:
    return {"device": device, "dtype": dtype if dtype is not None else E.get_default_dtype()}


class Bilinear(Module):
    """``y = x1^T A x2 + b``: input1 ``(*, in1)``, input2 ``(*, in2)`` -> ``(*, out)``. ``weight``
    (out, in1, in2) and ``bias`` (out,) start U(-1/sqrt(in1), 1/sqrt(in1))."""

    def __init__(
        self,
        in1_features: int,
        in2_features: int,
        out_features: int,
        bias: bool = True,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        self.in1_features, self.in2_features = in1_features, in2_features
        self.out_features = out_features
        kw = _kw(device, dtype)
        self.weight = Parameter(E.empty((out_features, in1_features, in2_features), **kw))
        if bias:
            self.bias = Parameter(E.empty(out_features, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """U(-1/sqrt(in1_features), 1/sqrt(in1_features)) for weight and bias."""
        bound = 1 / math.sqrt(self.in1_features)
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1: Tensor, input2: Tensor) -> Tensor:
        if input1.shape[-1] != self.in1_features or input2.shape[-1] != self.in2_features:
            raise RuntimeError(
                f"{self._describe()}: expected inputs (*, {self.in1_features}) and "
                f"(*, {self.in2_features}), got {tuple(input1.shape)} and {tuple(input2.shape)}"
            )
        return _embedding_bag.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
            f"out_features={self.out_features}, bias={self.bias is not None}"
        )


class PixelShuffle(Module):
    """``(*, C*r^2, H, W) -> (*, C, H*r, W*r)`` with r = ``upscale_factor``."""

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return _sampling.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """``(*, C, H*r, W*r) -> (*, C*r^2, H, W)`` with r = ``downscale_factor``."""

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return _sampling.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"


class Upsample(Module):
    """Resample to ``size`` or by ``scale_factor`` (see ``F.interpolate`` for modes)."""

    def __init__(
        self,
        size=None,
        scale_factor=None,
        mode: str = "nearest",
        align_corners: bool | None = None,
        recompute_scale_factor: bool | None = None,
    ) -> None:
        super().__init__()
        self.size = size
        self.scale_factor = float(scale_factor) if isinstance(scale_factor, int) else scale_factor
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return _sampling.interpolate(
            input,
            self.size,
            self.scale_factor,
            self.mode,
            self.align_corners,
            self.recompute_scale_factor,
        )

    def extra_repr(self) -> str:
        what = f"scale_factor={self.scale_factor}" if self.size is None else f"size={self.size}"
        return f"{what}, mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """2-D nearest-neighbour upsampling."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, "nearest")


class UpsamplingBilinear2d(Upsample):
    """2-D bilinear upsampling with ``align_corners=True``."""

    def __init__(self, size=None, scale_factor=None) -> None:
        super().__init__(size, scale_factor, "bilinear", align_corners=True)


# ----- padding -----
class _PadNd(Module):
    _mode = "constant"
    _nd = 2

    def __init__(self, padding, value: float = 0.0) -> None:
        super().__init__()
        n = 2 * self._nd
        pads = (padding,) * n if isinstance(padding, int) else tuple(padding)
        if len(pads) != n:
            raise ValueError(
                f"{type(self).__name__}: padding must be an int or a {n}-tuple, got {padding!r}"
            )
        self.padding = pads
        self.value = value

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() not in (self._nd + 1, self._nd + 2):
            raise ValueError(
                f"{self._describe()}: expected {self._nd + 1}-D or {self._nd + 2}-D input, got "
                f"shape {tuple(input.shape)}"
            )
        value = self.value if self._mode == "constant" else None
        return _sampling.pad(input, self.padding, self._mode, value)

    def extra_repr(self) -> str:
        s = f"{self.padding}"
        return s + (f", value={self.value}" if self._mode == "constant" else "")


def _pad_class(name: str, mode: str, nd: int, doc: str, constant_value: bool = False):
    def __init__(self, padding, value: float = 0.0) -> None:
        _PadNd.__init__(self, padding, value)

    def __init_zero(self, padding) -> None:
        _PadNd.__init__(self, padding, 0.0)

    attrs = {"_mode": mode, "_nd": nd, "__doc__": doc, "__module__": __name__}
    attrs["__init__"] = __init__ if constant_value else __init_zero
    return type(name, (_PadNd,), attrs)


ZeroPad1d = _pad_class("ZeroPad1d", "constant", 1, "Pad the last dim with zeros.")
ZeroPad2d = _pad_class("ZeroPad2d", "constant", 2, "Pad the last two dims with zeros.")
ConstantPad1d = _pad_class("ConstantPad1d", "constant", 1, "Pad the last dim with ``value``.", True)
ConstantPad2d = _pad_class(
    "ConstantPad2d", "constant", 2, "Pad the last two dims with ``value``.", True
)
ReflectionPad1d = _pad_class(
    "ReflectionPad1d", "reflect", 1, "Pad the last dim by reflection (edge not repeated)."
)
ReflectionPad2d = _pad_class(
    "ReflectionPad2d", "reflect", 2, "Pad the last two dims by reflection (edge not repeated)."
)
ReplicationPad1d = _pad_class(
    "ReplicationPad1d", "replicate", 1, "Pad the last dim by repeating the edge value."
)
ReplicationPad2d = _pad_class(
    "ReplicationPad2d", "replicate", 2, "Pad the last two dims by repeating the edge values."
)
CircularPad1d = _pad_class("CircularPad1d", "circular", 1, "Pad the last dim by wrapping around.")
CircularPad2d = _pad_class(
    "CircularPad2d", "circular", 2, "Pad the last two dims by wrapping around."
)


class EmbeddingBag(Module):
    """Sums, means or maxima of bags of embeddings (see ``F.embedding_bag``);
    ``weight`` (num_embeddings, embedding_dim) starts N(0, 1)."""

    def __init__(
        self,
        num_embeddings: int,
        embedding_dim: int,
        max_norm: float | None = None,
        norm_type: float = 2.0,
        scale_grad_by_freq: bool = False,
        mode: str = "mean",
        sparse: bool = False,
        _weight: Tensor | None = None,
        include_last_offset: bool = False,
        padding_idx: int | None = None,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        if mode not in ("sum", "mean", "max"):
            raise ValueError(f"EmbeddingBag: mode must be 'sum', 'mean' or 'max', got {mode!r}")
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.mode, self.sparse = scale_grad_by_freq, mode, sparse
        self.include_last_offset = include_last_offset
        if padding_idx is not None:
            if not -num_embeddings <= padding_idx < num_embeddings:
                raise ValueError("EmbeddingBag: padding_idx must be within num_embeddings")
            padding_idx %= num_embeddings
        self.padding_idx = padding_idx
        if _weight is None:
            self.weight = Parameter(E.empty((num_embeddings, embedding_dim), **_kw(device, dtype)))
            self.reset_parameters()
        else:
            self.weight = Parameter(_weight)

    def reset_parameters(self) -> None:
        """N(0, 1), with the padding row zero."""
        init.normal_(self.weight)
        if self.padding_idx is not None:
            with E.no_grad():
                self.weight[self.padding_idx].fill_(0)

    def forward(
        self, input: Tensor, offsets: Tensor | None = None, per_sample_weights: Tensor | None = None
    ) -> Tensor:
        return _embedding_bag.embedding_bag(
            input,
            self.weight,
            offsets,
            self.max_norm,
            self.norm_type,
            self.scale_grad_by_freq,
            self.mode,
            self.sparse,
            per_sample_weights,
            self.include_last_offset,
            self.padding_idx,
        )

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}, mode={self.mode!r}"

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True, **kwargs) -> EmbeddingBag:
        """An EmbeddingBag over the given 2-D weights (frozen unless ``freeze=False``)."""
        if embeddings.dim() != 2:
            raise ValueError("Embeddings parameter is expected to be 2-dimensional")
        m = cls(embeddings.shape[0], embeddings.shape[1], _weight=embeddings, **kwargs)
        m.weight.requires_grad_(not freeze)
        return m


class CTCLoss(Module):
    """Connectionist temporal classification loss (see ``F.ctc_loss``):
    ``forward(log_probs, targets, input_lengths, target_lengths)``."""

    def __init__(
        self, blank: int = 0, reduction: str = "mean", zero_infinity: bool = False
    ) -> None:
        super().__init__()
        self.blank, self.reduction, self.zero_infinity = blank, reduction, zero_infinity

    def forward(self, log_probs: Tensor, targets: Tensor, input_lengths, target_lengths):
        return _ctc.ctc_loss(
            log_probs,
            targets,
            input_lengths,
            target_lengths,
            self.blank,
            self.reduction,
            self.zero_infinity,
        )

    def extra_repr(self) -> str:
        return f"blank={self.blank}, reduction={self.reduction!r}"
