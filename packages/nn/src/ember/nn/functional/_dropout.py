"""Dropout: zero elements (or whole channels) with probability ``p`` while training,
scaling the rest by 1 / (1 - p) so the expectation is unchanged."""

from __future__ import annotations

import ember as E
from ember._tensor import Tensor, _wrap

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout"]


def _check_p(p: float, who: str) -> None:
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{who}: dropout probability has to be between 0 and 1, but got {p}")


def _mask(shape, p: float, x: Tensor) -> Tensor:
    # drawn from ember's generator (ember.manual_seed makes it reproducible)
    keep = E.rand(shape, dtype=x.dtype, device=x.device)._a >= p
    return _wrap(keep.astype(x._a.dtype) * (1.0 / (1.0 - p)))


def _apply(x: Tensor, mask: Tensor, inplace: bool) -> Tensor:
    if not inplace:
        return x * mask
    from ember.nn.functional._activation import _inplace

    return _inplace(x, lambda t: t * mask, True)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` (identity when not ``training``)."""
    _check_p(p, "dropout")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _apply(input, E.zeros_like(input), inplace)
    return _apply(input, _mask(tuple(input.shape), p, input), inplace)


def _feature_dropout(x: Tensor, p, training, inplace, nd: int, who: str) -> Tensor:
    _check_p(p, who)
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{who}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
            f"got shape {tuple(x.shape)}"
        )
    if not training or p == 0.0:
        return x
    lead = tuple(x.shape[: x.dim() - nd])
    shape = lead + (1,) * nd
    if p == 1.0:
        return _apply(x, E.zeros_like(x), inplace)
    return _apply(x, _mask(shape, p, x), inplace)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, L) input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, 1, "dropout1d")


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, H, W) input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, 2, "dropout2d")


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero whole channels of (N, C, D, H, W) input with probability ``p``."""
    return _feature_dropout(input, p, training, inplace, 3, "dropout3d")


_ALPHA = -1.7580993408473766  # -selu scale * selu alpha


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False):
    """Dropout for SELU networks: dropped elements take SELU's negative saturation value
    and an affine correction keeps mean and variance."""
    _check_p(p, "alpha_dropout")
    if not training or p == 0.0:
        return input
    keep = E.rand(tuple(input.shape), dtype=input.dtype, device=input.device) >= p
    a = ((1 - p) * (1 + p * _ALPHA**2)) ** -0.5
    b = -a * _ALPHA * p
    y = E.where(keep, input, _ALPHA) * a + b
    return input.copy_(y) if inplace else y
