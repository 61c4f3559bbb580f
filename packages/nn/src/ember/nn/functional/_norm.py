"""Normalization: batch, layer, group and instance norm, and ``normalize``."""

from __future__ import annotations

import ember as E
from ember._tensor import Tensor, _wrap
from ember.nn.functional import _prim

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm", "normalize"]


def _check_param(t, n: int, name: str, who: str) -> None:
    if t is not None and tuple(t.shape) != (n,):
        raise RuntimeError(f"{who}: expected {name} of shape ({n},), got {tuple(t.shape)}")


def batch_norm(
    input: Tensor,
    running_mean: Tensor | None,
    running_var: Tensor | None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    training: bool = False,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize ``(N, C, *)`` over all dims but C. Training uses batch statistics and
    updates ``running_mean``/``running_var`` in place (unbiased variance, weighted
    by ``momentum``); otherwise the running estimates are used."""
    if input.dim() < 2:
        raise RuntimeError(
            f"batch_norm: expected at least 2-D input (N, C, ...), got {tuple(input.shape)}"
        )
    c = input.shape[1]
    for t, name in (
        (weight, "weight"),
        (bias, "bias"),
        (running_mean, "running_mean"),
        (running_var, "running_var"),
    ):
        _check_param(t, c, name, "batch_norm")
    if training:
        m = input.numel() // c
        if m <= 1:
            raise ValueError(
                f"Expected more than 1 value per channel when training, got input size "
                f"{tuple(input.shape)}"
            )
        y, mean, var = _prim.batch_norm_train(input, weight, bias, eps)
        if running_mean is not None:
            rm = running_mean._a
            rm *= 1 - momentum
            rm += (momentum * mean).astype(rm.dtype)
            running_mean._bump()
        if running_var is not None:
            rv = running_var._a
            rv *= 1 - momentum
            rv += (momentum * var * (m / (m - 1))).astype(rv.dtype)
            running_var._bump()
        return y
    if running_mean is None or running_var is None:
        raise RuntimeError("batch_norm: running_mean and running_var are needed when not training")
    return _prim.batch_norm_eval(input, running_mean._a, running_var._a, weight, bias, eps)


def layer_norm(
    input: Tensor,
    normalized_shape,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize over the trailing dims given by ``normalized_shape``."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if tuple(input.shape[input.dim() - len(ns) :]) != ns or input.dim() < len(ns):
        raise RuntimeError(
            f"layer_norm: expected input with trailing shape {ns}, got {tuple(input.shape)}"
        )
    for t, name in ((weight, "weight"), (bias, "bias")):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"layer_norm: expected {name} of shape {ns}, got {tuple(t.shape)}")
    return _prim.layer_norm(input, ns, weight, bias, eps)


def group_norm(
    input: Tensor,
    num_groups: int,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize ``(N, C, *)`` over groups of ``C // num_groups`` channels (and all of ``*``)."""
    if input.dim() < 2:
        raise RuntimeError(f"group_norm: expected (N, C, ...) input, got {tuple(input.shape)}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(
            f"group_norm: number of channels {c} must be divisible by num_groups {num_groups}"
        )
    _check_param(weight, c, "weight", "group_norm")
    _check_param(bias, c, "bias", "group_norm")
    x = input.reshape(n, num_groups, -1)
    y = _prim.layer_norm(x, (x.shape[-1],), None, None, eps).reshape(input.shape)
    shp = (1, c) + (1,) * (input.dim() - 2)
    if weight is not None:
        y = y * weight.reshape(shp)
    if bias is not None:
        y = y + bias.reshape(shp)
    return y


def instance_norm(
    input: Tensor,
    running_mean: Tensor | None = None,
    running_var: Tensor | None = None,
    weight: Tensor | None = None,
    bias: Tensor | None = None,
    use_input_stats: bool = True,
    momentum: float = 0.1,
    eps: float = 1e-5,
) -> Tensor:
    """Normalize each (sample, channel) plane of ``(N, C, *)`` separately."""
    if input.dim() < 3:
        raise RuntimeError(
            f"instance_norm: expected (N, C, *spatial) input, got {tuple(input.shape)}"
        )
    n, c = input.shape[:2]
    shp = (1, c) + (1,) * (input.dim() - 2)
    if use_input_stats:
        x = input.reshape(n * c, -1)
        y = _prim.layer_norm(x, (x.shape[-1],), None, None, eps).reshape(input.shape)
        if running_mean is not None or running_var is not None:
            xa = input.detach()._a.reshape(n, c, -1)  # numpy or CuPy: stats stay on device
            m = xa.shape[-1]
            with E.no_grad():
                if running_mean is not None:
                    running_mean.mul_(1 - momentum).add_(_wrap(xa.mean(-1).mean(0)) * momentum)
                if running_var is not None:
                    uv = xa.var(-1) * (m / max(m - 1, 1))
                    running_var.mul_(1 - momentum).add_(_wrap(uv.mean(0)) * momentum)
    else:
        if running_mean is None or running_var is None:
            raise RuntimeError("instance_norm: running stats are needed with use_input_stats=False")
        y = (input - running_mean.reshape(shp)) * E.rsqrt(running_var.reshape(shp) + eps)
    if weight is not None:
        y = y * weight.reshape(shp)
    if bias is not None:
        y = y + bias.reshape(shp)
    return y


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """``input / max(||input||_p along dim, eps)``."""
    norm = (
        E.norm(input, p, dim, keepdim=True)
        if p != 2.0
        else E.sqrt((input * input).sum(dim, keepdim=True))
    )
    return input / E.clamp(norm, min=eps)
