"""Flatten parameters into one vector and back (for optimizers working on vectors)."""

from __future__ import annotations

import ember as E
from ember._tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters) -> Tensor:
    """All ``parameters`` flattened and concatenated into one 1-D tensor (differentiable)."""
    ps = list(parameters)
    if not ps:
        raise ValueError("parameters_to_vector: got no parameters")
    return E.cat([p.reshape(-1) for p in ps])


def vector_to_parameters(vec: Tensor, parameters) -> None:
    """Copy consecutive slices of 1-D ``vec`` into ``parameters`` (their data, in place)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected vec to be a Tensor, but got {type(vec).__name__}")
    if vec.dim() != 1:
        raise ValueError(f"vector_to_parameters: vec must be 1-D, got shape {tuple(vec.shape)}")
    ps = list(parameters)
    need = sum(p.numel() for p in ps)
    if vec.numel() != need:
        raise ValueError(
            f"vector_to_parameters: vec has {vec.numel()} elements, the parameters {need}"
        )
    off = 0
    with E.no_grad():
        for p in ps:
            n = p.numel()
            p.copy_(vec[off : off + n].reshape(p.shape))
            off += n
