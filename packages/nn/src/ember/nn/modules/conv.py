"""Convolution layers: Conv1d/2d/3d and ConvTranspose1d/2d/3d."""

from __future__ import annotations

import math

import ember as E
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.nn import init
from ember.nn.functional._conv import _tuple
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"]

_PAD_MODES = {"zeros", "reflect", "replicate", "circular"}


class _ConvNd(Module):
    _nd = 2
    _transposed = False

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        output_padding=0,
        device=None,
        dtype=None,
    ) -> None:
        super().__init__()
        nd = self._nd
        name = type(self).__name__
        if groups <= 0:
            raise ValueError(f"{name}: groups must be a positive integer")
        if in_channels % groups:
            raise ValueError(f"{name}: in_channels {in_channels} must be divisible by groups")
        if out_channels % groups:
            raise ValueError(f"{name}: out_channels {out_channels} must be divisible by groups")
        if padding_mode not in _PAD_MODES:
            raise ValueError(
                f"{name}: padding_mode must be one of {sorted(_PAD_MODES)}, got {padding_mode!r}"
            )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _tuple(kernel_size, nd, "kernel_size")
        self.stride = _tuple(stride, nd, "stride")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"{name}: padding must be 'same', 'valid' or ints")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            self.padding = padding
        else:
            self.padding = _tuple(padding, nd, "padding")
        self.dilation = _tuple(dilation, nd, "dilation")
        self.transposed = self._transposed
        self.output_padding = _tuple(output_padding, nd, "output_padding")
        self.groups = groups
        self.padding_mode = padding_mode
        kw = {"device": device, "dtype": dtype if dtype is not None else E.get_default_dtype()}
        if self._transposed:
            wshape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            wshape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(E.empty(wshape, **kw))
        if bias:
            self.bias = Parameter(E.empty(out_channels, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) weight, U(+-1/sqrt(fan_in)) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._fans(self.weight)
            if fan_in:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _check_input(self, x: Tensor) -> None:
        nd = self._nd
        if not isinstance(x, Tensor):
            raise TypeError(f"{self._describe()} expected a Tensor, got {type(x).__name__}")
        if x.dim() not in (nd + 1, nd + 2):
            raise RuntimeError(
                f"{self._describe()} expected {nd + 2}-D input (N, C, {self._spatial()}) or "
                f"{nd + 1}-D unbatched input, got input of shape {tuple(x.shape)}"
            )
        c = x.shape[-nd - 1]
        if c != self.in_channels:
            raise RuntimeError(
                f"{self._describe()} expected input with {self.in_channels} channels, got {c} "
                f"(input shape {tuple(x.shape)})"
            )

    def _spatial(self) -> str:
        return ", ".join(["D", "H", "W"][3 - self._nd :]) if self._nd > 1 else "L"

    def extra_repr(self) -> str:
        s = (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"
            f", stride={self.stride}"
        )
        if self.padding != (0,) * self._nd:
            s += (
                f", padding={self.padding!r}"
                if isinstance(self.padding, str)
                else f", padding={self.padding}"
            )
        if self.dilation != (1,) * self._nd:
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * self._nd:
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s

    def __setstate__(self, state) -> None:
        super().__setstate__(state)
        if not hasattr(self, "padding_mode"):
            self.padding_mode = "zeros"


class _Conv(_ConvNd):
    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        dilation=1,
        groups=1,
        bias=True,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            0,
            device,
            dtype,
        )

    def _conv_forward(self, input: Tensor, weight: Tensor, bias) -> Tensor:
        fn = (F.conv1d, F.conv2d, F.conv3d)[self._nd - 1]
        if self.padding_mode != "zeros":
            pad = self.padding
            if isinstance(pad, str):
                tot = [d * (k - 1) for d, k in zip(self.dilation, self.kernel_size)]
                pairs = (
                    [(t // 2, t - t // 2) for t in tot] if pad == "same" else [(0, 0)] * len(tot)
                )
            else:
                pairs = [(p, p) for p in pad]
            flat = [v for lo_hi in reversed(pairs) for v in lo_hi]
            input = F.pad(input, flat, mode=self.padding_mode)
            return fn(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        return self._conv_forward(input, self.weight, self.bias)


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) -> (N, C_out, L_out); weight
    (C_out, C_in/groups, k)."""

    _nd = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) -> (N, C_out, H_out, W_out); weight
    (C_out, C_in/groups, kH, kW). ``padding`` may be ints, 'valid' or 'same'."""

    _nd = 2


class Conv3d(_Conv):
    """3-D convolution over (N, C_in, D, H, W)."""

    _nd = 3


class _ConvTranspose(_ConvNd):
    _transposed = True

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size,
        stride=1,
        padding=0,
        output_padding=0,
        groups=1,
        bias=True,
        dilation=1,
        padding_mode="zeros",
        device=None,
        dtype=None,
    ) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for {type(self).__name__}')
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation,
            groups,
            bias,
            padding_mode,
            output_padding,
            device,
            dtype,
        )

    def _output_padding(self, input, output_size) -> tuple:
        if output_size is None:
            return self.output_padding
        nd = self._nd
        osz = tuple(output_size)[-nd:]
        res = []
        for i in range(nd):
            base = (
                (input.shape[-nd + i] - 1) * self.stride[i]
                - 2 * self.padding[i]
                + self.dilation[i] * (self.kernel_size[i] - 1)
                + 1
            )
            extra = osz[i] - base
            if not 0 <= extra < max(self.stride[i], self.dilation[i]):
                raise ValueError(
                    f"{self._describe()}: requested output size {osz} is not reachable from "
                    f"input shape {tuple(input.shape)}"
                )
            res.append(extra)
        return tuple(res)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        self._check_input(input)
        fn = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[self._nd - 1]
        op = self._output_padding(input, output_size)
        return fn(
            input, self.weight, self.bias, self.stride, self.padding, op, self.groups, self.dilation
        )


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution; weight (C_in, C_out/groups, k)."""

    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution; weight (C_in, C_out/groups, kH, kW)."""

    _nd = 2


class ConvTranspose3d(_ConvTranspose):
    """3-D transposed convolution; weight (C_in, C_out/groups, kD, kH, kW)."""

    _nd = 3
