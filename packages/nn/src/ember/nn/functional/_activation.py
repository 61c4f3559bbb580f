"""Activation functions. Elementwise ones are short compositions of core ops (each
core op is one numpy/C kernel, and autograd differentiates them to any order);
softmax and log-softmax are fused ops."""

from __future__ import annotations

import math

import ember as E
from ember import _tensor
from ember._tensor import Tensor
from ember.nn.functional import _prim

__all__ = [
    "relu",
    "relu_",
    "relu6",
    "leaky_relu",
    "prelu",
    "elu",
    "selu",
    "celu",
    "gelu",
    "silu",
    "mish",
    "sigmoid",
    "tanh",
    "hardtanh",
    "hardsigmoid",
    "hardswish",
    "softplus",
    "softsign",
    "logsigmoid",
    "tanhshrink",
    "threshold",
    "glu",
    "softmax",
    "log_softmax",
    "softmin",
]


def _check(x, name: str) -> None:
    if not isinstance(x, Tensor):
        raise TypeError(f"{name}(): argument 'input' must be a Tensor, not {type(x).__name__}")


def _inplace(x: Tensor, fn, inplace: bool) -> Tensor:
    """``fn(x)``, written into ``x`` when ``inplace``. Under autograd the engine computes
    ``fn`` from a recorded copy of x's old value before overwriting it, so derivatives
    that need the input (leaky_relu, elu, ...) stay correct."""
    if not inplace:
        return fn(x)
    engine = _tensor._engine
    if x._ag is not None and engine is not None and engine.is_grad_enabled():
        if engine.inplace(x, fn, (x,), None):
            return x
    x.copy_(fn(x))
    return x


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """max(x, 0)."""
    _check(input, "relu")
    return _inplace(input, lambda input: E.relu(input), inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`."""
    return relu(input, True)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """min(max(x, 0), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """x where x > 0, else negative_slope * x."""
    _check(input, "leaky_relu")
    return _inplace(input, lambda input: E.where(input > 0, input, input * negative_slope), inplace)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """leaky_relu with a learned slope per channel (dim 1) or one shared slope."""
    _check(input, "prelu")
    n = weight.numel()
    if n != 1:
        if input.dim() < 2 or input.shape[1] != n:
            raise RuntimeError(
                f"prelu: weight has {n} slopes but input of shape {tuple(input.shape)} has "
                f"{input.shape[1] if input.dim() > 1 else 1} channels (dim 1)"
            )
        weight = weight.reshape((1, n) + (1,) * (input.dim() - 2))
    return E.where(input > 0, input, input * weight)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """x where x > 0, else alpha * (exp(x) - 1)."""
    _check(input, "elu")
    return _inplace(
        input,
        lambda input: E.where(input > 0, input, E.expm1(E.clamp(input, max=0.0)) * alpha),
        inplace,
    )


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return _inplace(input, lambda input: elu(input, _SELU_ALPHA) * _SELU_SCALE, inplace)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    _check(input, "celu")
    if alpha == 0:
        raise ValueError("celu: alpha must be non-zero")
    return _inplace(
        input,
        lambda input: E.where(input > 0, input, E.expm1(E.clamp(input, max=0.0) / alpha) * alpha),
        inplace,
    )


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x) (``approximate='none'``) or its tanh approximation ('tanh')."""
    _check(input, "gelu")
    if approximate == "none":
        return input * (E.erf(input * (1.0 / math.sqrt(2.0))) + 1.0) * 0.5
    if approximate == "tanh":
        inner = (input + input * input * input * 0.044715) * math.sqrt(2.0 / math.pi)
        return input * (E.tanh(inner) + 1.0) * 0.5
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """x * sigmoid(x)."""
    _check(input, "silu")
    return _inplace(input, lambda input: E.silu(input), inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * tanh(softplus(x))."""
    return _inplace(input, lambda input: input * E.tanh(softplus(input)), inplace)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-x))."""
    return E.sigmoid(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent."""
    return E.tanh(input)


def hardtanh(
    input: Tensor, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False
) -> Tensor:
    """x clamped to [min_val, max_val]."""
    _check(input, "hardtanh")
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val {min_val} must not exceed max_val {max_val}")
    return _inplace(input, lambda input: E.clamp(input, min_val, max_val), inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """relu6(x + 3) / 6."""
    _check(input, "hardsigmoid")
    return _inplace(input, lambda input: E.clamp(input / 6.0 + 0.5, 0.0, 1.0), inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """x * relu6(x + 3) / 6."""
    _check(input, "hardswish")
    return _inplace(input, lambda input: input * E.clamp(input / 6.0 + 0.5, 0.0, 1.0), inplace)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    _check(input, "softplus")
    bx = input * beta
    # log1p(exp(-|bx|)) + max(bx, 0) is log(1 + exp(bx)) without overflow
    soft = (E.log1p(E.exp(-E.abs(bx))) + E.relu(bx)) / beta
    return E.where(bx > threshold, input, soft)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``."""
    return input / (E.abs(input) + 1.0)


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)), computed stably."""
    return -softplus(-input)


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x)."""
    return input - E.tanh(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """x where x > threshold, else value."""
    _check(input, "threshold")
    return _inplace(input, lambda input: E.where(input > threshold, input, value), inplace)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """a * sigmoid(b) where a, b are the two halves of ``input`` along ``dim``."""
    _check(input, "glu")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(
            f"glu: halving dimension {dim} needs an even size, got {n} "
            f"(input shape {tuple(input.shape)})"
        )
    a, b = E.chunk(input, 2, dim)
    return a * E.sigmoid(b)


def _softmax_dim(x: Tensor, dim, name: str) -> int:
    if dim is None:
        # PyTorch's legacy implicit choice
        dim = 0 if x.dim() in (0, 1, 3) else 1
    nd = max(x.dim(), 1)
    if not -nd <= dim < nd:
        raise IndexError(f"{name}: dim {dim} out of range for a {x.dim()}-D input")
    return dim % nd


def _prep(x: Tensor, dtype, name: str) -> Tensor:
    _check(x, name)
    if dtype is not None:
        x = x.to(dtype)
    if not x.is_floating_point():
        raise RuntimeError(f"{name}: expected a floating-point input, got {x.dtype}")
    return x


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim`` (one fused op)."""
    x = _prep(input, dtype, "softmax")
    if x.dim() == 0:
        return _prim.softmax(x.reshape(1), 0).reshape(())
    return _prim.softmax(x, _softmax_dim(x, dim, "softmax"))


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """x - logsumexp(x) along ``dim`` (one fused op)."""
    x = _prep(input, dtype, "log_softmax")
    if x.dim() == 0:
        return _prim.log_softmax(x.reshape(1), 0).reshape(())
    return _prim.log_softmax(x, _softmax_dim(x, dim, "log_softmax"))


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3, dtype=None) -> Tensor:
    """softmax(-x) along ``dim``."""
    return softmax(-_prep(input, dtype, "softmin"), dim)
