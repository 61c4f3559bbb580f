"""Linear, Identity, Flatten, Unflatten."""

from __future__ import annotations

import math

import ember as E
from ember._tensor import Tensor
from ember.nn import functional as F
from ember.nn import init
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["Identity", "Linear", "LazyLinear", "Flatten", "Unflatten"]


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


def _factory(device, dtype) -> dict:
    return {"device": device, "dtype": dtype if dtype is not None else E.get_default_dtype()}


class Linear(Module):
    """y = x W^T + b. Input (*, in_features) -> (*, out_features).

    weight (out_features, in_features) and bias (out_features,) are initialized
    from U(-1/sqrt(in_features), 1/sqrt(in_features)), as in PyTorch.
    """

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, device=None, dtype=None
    ) -> None:
        super().__init__()
        if in_features < 0 or out_features < 0:
            raise ValueError(
                f"Linear: feature counts must be non-negative, got {in_features}, {out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
        kw = _factory(device, dtype)
        self.weight = Parameter(E.empty((out_features, in_features), **kw))
        if bias:
            self.bias = Parameter(E.empty(out_features, **kw))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """PyTorch's default: kaiming_uniform_(a=sqrt(5)) weight, U(+-1/sqrt(fan_in)) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_features
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input: Tensor) -> Tensor:
        if input.dim() == 0 or input.shape[-1] != self.in_features:
            raise RuntimeError(
                f"{self._describe()} expected input with last dimension {self.in_features} "
                f"(shape (*, {self.in_features})), got input of shape {tuple(input.shape)}"
            )
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class LazyLinear(Linear):
    """A Linear whose ``in_features`` is taken from the first input."""

    def __init__(self, out_features: int, bias: bool = True, device=None, dtype=None) -> None:
        Module.__init__(self)
        self.in_features = 0
        self.out_features = out_features
        self._lazy = (bias, device, dtype)
        self.weight = Parameter(E.empty(0))
        self.bias = Parameter(E.empty(0)) if bias else None
        if not bias:
            self.register_parameter("bias", None)

    def forward(self, input: Tensor) -> Tensor:
        if self._lazy is not None:
            bias, device, dtype = self._lazy
            self._lazy = None
            kw = _factory(device, dtype)
            self.in_features = input.shape[-1]
            self.weight = Parameter(E.empty((self.out_features, self.in_features), **kw))
            if bias:
                self.bias = Parameter(E.empty(self.out_features, **kw))
            self.reset_parameters()
        return super().forward(input)


class Flatten(Module):
    """Flattens dims ``start_dim``..``end_dim`` into one (default: all but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expands dim ``dim`` into the shape ``unflattened_size``."""

    def __init__(self, dim: int, unflattened_size) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        n = input.shape[self.dim]
        size = self.unflattened_size
        known = math.prod(s for s in size if s != -1)
        if (-1 not in size and known != n) or (-1 in size and n % max(known, 1)):
            raise RuntimeError(
                f"{self._describe()}: cannot unflatten dim {self.dim} of size {n} into {size} "
                f"(input shape {tuple(input.shape)})"
            )
        return input.unflatten(self.dim, size)

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
