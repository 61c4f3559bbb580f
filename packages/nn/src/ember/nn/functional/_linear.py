"""Linear maps."""

from __future__ import annotations

from ember._tensor import Tensor
from ember.nn.functional import _prim

__all__ = ["linear"]


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``: input (*, in), weight (out, in), bias (out,) -> (*, out)."""
    if not isinstance(input, Tensor) or not isinstance(weight, Tensor):
        raise TypeError("linear(): input and weight must be Tensors")
    if weight.dim() not in (1, 2):
        raise RuntimeError(f"linear(): weight must be 1-D or 2-D, got shape {tuple(weight.shape)}")
    if input.dim() == 0 or input.shape[-1] != weight.shape[-1]:
        raise RuntimeError(
            f"linear(): input's last dimension must equal in_features={weight.shape[-1]}, "
            f"got input of shape {tuple(input.shape)} (weight shape {tuple(weight.shape)})"
        )
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        raise RuntimeError(
            f"linear(): input ({input.dtype}), weight ({weight.dtype}) and bias must have the "
            "same dtype"
        )
    if weight.dim() == 1:
        y = (input * weight).sum(-1)
        return y + bias if bias is not None else y
    if bias is not None and tuple(bias.shape) not in ((weight.shape[0],), ()):
        raise RuntimeError(
            f"linear(): bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}"
        )
    return _prim.linear(input, weight, bias)
