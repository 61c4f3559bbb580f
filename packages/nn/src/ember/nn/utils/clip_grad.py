"""Gradient clipping: rescale or clamp the ``.grad`` of parameters in place."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

import ember as E
from ember._tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(parameters) -> list[Tensor]:
    if isinstance(parameters, Tensor):
        return [parameters]
    return list(parameters)


def get_total_norm(
    tensors: Iterable[Tensor], norm_type: float = 2.0, error_if_nonfinite: bool = False
) -> Tensor:
    """The ``norm_type``-norm of all ``tensors`` together (as if concatenated into one
    vector): a 0-d tensor. ``inf`` gives the largest absolute value."""
    ts = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not ts:
        return E.tensor(0.0)
    arrs = [t.detach()._a for t in ts]
    dt = np.result_type(*[a.dtype for a in arrs])
    if norm_type == math.inf:
        total = max(float(np.abs(a).max()) if a.size else 0.0 for a in arrs)
    elif norm_type == 2.0:
        # per-tensor sums in float64 so many small gradients do not lose precision
        total = math.sqrt(sum(float(np.dot(a.ravel(), a.ravel())) for a in arrs))
    elif norm_type <= 0:
        raise ValueError(f"norm_type must be positive or inf, got {norm_type}")
    else:
        s = sum(float((np.abs(a.astype(np.float64)) ** norm_type).sum()) for a in arrs)
        total = s ** (1.0 / norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is "
            "non-finite, so it cannot be clipped. To disable this error and scale the "
            "gradients by the non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    return E.tensor(total, dtype=E._dtype.from_numpy_dtype(dt), device=ts[0].device)


def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor) -> None:
    """Scale the gradients by ``max_norm / (total_norm + 1e-6)`` when that is below 1."""
    coef = float(max_norm) / (float(total_norm) + 1e-6)
    if coef >= 1.0:
        return
    with E.no_grad():
        for p in _as_list(parameters):
            if p.grad is not None:
                g = p.grad._a
                g *= g.dtype.type(coef)  # a scalar: valid for numpy and CuPy storage alike


def clip_grad_norm_(
    parameters,
    max_norm: float,
    norm_type: float = 2.0,
    error_if_nonfinite: bool = False,
    foreach=None,
) -> Tensor:
    """Rescale the gradients of ``parameters`` in place so that their total
    ``norm_type``-norm is at most ``max_norm``; returns the total norm before clipping
    (a 0-d tensor)."""
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_value_(parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient of ``parameters`` into ``[-clip_value, clip_value]`` in place."""
    v = float(clip_value)
    if v < 0:
        raise ValueError(f"clip_grad_value_: clip_value must be non-negative, got {v}")
    for p in _as_list(parameters):
        if p.grad is not None:
            np.clip(p.grad._a, -v, v, out=p.grad._a)
