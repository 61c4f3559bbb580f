"""Pooling layers."""

from __future__ import annotations

from ember._tensor import Tensor
from ember.nn import functional as F
from ember.nn.modules.module import Module

__all__ = [
    "MaxPool1d",
    "MaxPool2d",
    "MaxPool3d",
    "AvgPool1d",
    "AvgPool2d",
    "AvgPool3d",
    "AdaptiveAvgPool1d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d",
    "AdaptiveMaxPool2d",
    "MaxUnpool1d",
    "MaxUnpool2d",
]


def _check_rank(m: Module, x: Tensor, nd: int) -> None:
    if not isinstance(x, Tensor) or x.dim() not in (nd + 1, nd + 2):
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise RuntimeError(
            f"{m._describe()} expected {nd + 2}-D (batched) or {nd + 1}-D (unbatched) input, "
            f"got input of shape {shape}"
        )


class _MaxPoolNd(Module):
    _nd = 2

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        dilation=1,
        return_indices: bool = False,
        ceil_mode: bool = False,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def forward(self, input: Tensor):
        _check_rank(self, input, self._nd)
        fn = (F.max_pool1d, F.max_pool2d, F.max_pool3d)[self._nd - 1]
        return fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.dilation,
            ceil_mode=self.ceil_mode,
            return_indices=self.return_indices,
        )

    def extra_repr(self) -> str:
        return (
            f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
            f"dilation={self.dilation}, ceil_mode={self.ceil_mode}"
        )


class MaxPool1d(_MaxPoolNd):
    """Max over sliding windows of (N, C, L)."""

    _nd = 1


class MaxPool2d(_MaxPoolNd):
    """Max over sliding windows of (N, C, H, W)."""

    _nd = 2


class MaxPool3d(_MaxPoolNd):
    """Max over sliding windows of (N, C, D, H, W)."""

    _nd = 3


class _AvgPoolNd(Module):
    _nd = 2

    def __init__(
        self,
        kernel_size,
        stride=None,
        padding=0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
        divisor_override=None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        _check_rank(self, input, self._nd)
        if self._nd == 1:
            return F.avg_pool1d(
                input,
                self.kernel_size,
                self.stride,
                self.padding,
                self.ceil_mode,
                self.count_include_pad,
            )
        fn = F.avg_pool2d if self._nd == 2 else F.avg_pool3d
        return fn(
            input,
            self.kernel_size,
            self.stride,
            self.padding,
            self.ceil_mode,
            self.count_include_pad,
            self.divisor_override,
        )

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AvgPool1d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, L)."""

    _nd = 1

    def __init__(
        self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True
    ) -> None:
        super().__init__(kernel_size, stride, padding, ceil_mode, count_include_pad)


class AvgPool2d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, H, W)."""

    _nd = 2


class AvgPool3d(_AvgPoolNd):
    """Mean over sliding windows of (N, C, D, H, W)."""

    _nd = 3


class _AdaptivePool(Module):
    _nd = 2
    _fn = "adaptive_avg_pool2d"

    def __init__(self, output_size, return_indices: bool = False) -> None:
        super().__init__()
        self.output_size = output_size
        if "max" in self._fn:
            self.return_indices = return_indices

    def forward(self, input: Tensor):
        _check_rank(self, input, self._nd)
        fn = getattr(F, self._fn)
        if "max" in self._fn:
            return fn(input, self.output_size, self.return_indices)
        return fn(input, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class AdaptiveAvgPool1d(_AdaptivePool):
    """Average pooling of (N, C, L) to a fixed length."""

    _nd, _fn = 1, "adaptive_avg_pool1d"

    def __init__(self, output_size) -> None:
        super().__init__(output_size)


class AdaptiveAvgPool2d(_AdaptivePool):
    """Average pooling of (N, C, H, W) to a fixed (H_out, W_out)."""

    _nd, _fn = 2, "adaptive_avg_pool2d"

    def __init__(self, output_size) -> None:
        super().__init__(output_size)


class AdaptiveMaxPool1d(_AdaptivePool):
    """Max pooling of (N, C, L) to a fixed length."""

    _nd, _fn = 1, "adaptive_max_pool1d"


class AdaptiveMaxPool2d(_AdaptivePool):
    """Max pooling of (N, C, H, W) to a fixed (H_out, W_out)."""

    _nd, _fn = 2, "adaptive_max_pool2d"


class _MaxUnpool(Module):
    _nd = 2

    def __init__(self, kernel_size, stride=None, padding=0) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding

    def forward(self, input: Tensor, indices: Tensor, output_size=None) -> Tensor:
        fn = F.max_unpool1d if self._nd == 1 else F.max_unpool2d
        return fn(input, indices, self.kernel_size, self.stride, self.padding, output_size)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxUnpool1d(_MaxUnpool):
    """Inverse of MaxPool1d given its indices (zeros elsewhere)."""

    _nd = 1


class MaxUnpool2d(_MaxUnpool):
    """Inverse of MaxPool2d given its indices (zeros elsewhere)."""

    _nd = 2
