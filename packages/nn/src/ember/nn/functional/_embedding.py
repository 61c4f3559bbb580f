"""Embedding lookup and one-hot encoding."""

from __future__ import annotations

import numpy as np

import ember as E
from ember._tensor import Tensor, _wrap
from ember.nn.functional import _prim

__all__ = ["embedding", "one_hot"]


def _check_indices(idx: Tensor, num: int, who: str) -> None:
    a = idx._a
    if a.dtype.kind not in "iu":
        raise TypeError(f"{who}: indices must be an integer tensor, got {idx.dtype}")
    if a.size and (a.min() < -num or a.max() >= num):
        bad = int(a.max()) if a.max() >= num else int(a.min())
        raise IndexError(f"{who}: index {bad} is out of range for {num} embeddings")


def embedding(
    input: Tensor,
    weight: Tensor,
    padding_idx: int | None = None,
    max_norm: float | None = None,
    norm_type: float = 2.0,
    scale_grad_by_freq: bool = False,
    sparse: bool = False,
) -> Tensor:
    """Rows of ``weight`` ``(num, D)`` at integer ``input`` ``(*)`` -> ``(*, D)``. The
    ``padding_idx`` row gets no gradient; ``max_norm`` renormalizes the looked-up
    rows of ``weight`` in place to at most that norm. ``scale_grad_by_freq``
    divides each row's gradient by how often its index occurs in ``input``.

    ``sparse=True`` is accepted for PyTorch compatibility, but ember has no sparse
    tensors: ``weight.grad`` is the dense ``(num, D)`` gradient, holding exactly the
    values of PyTorch's sparse gradient after ``.to_dense()`` (zero rows for unused
    indices). Every ember optimizer takes it as it is; the cost is a dense
    gradient's memory and a dense update where PyTorch's SparseAdam touches only
    the looked-up rows."""
    if not isinstance(input, Tensor):
        input = E.as_tensor(input)
    if weight.dim() != 2:
        raise RuntimeError(f"embedding: weight must be 2-D, got shape {tuple(weight.shape)}")
    num = weight.shape[0]
    _check_indices(input, num, "embedding")
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings")
        padding_idx %= num
    if max_norm is not None:
        with E.no_grad():
            wa = weight._a
            rows = np.unique(input._a % num)
            norms = np.linalg.norm(wa[rows], ord=norm_type, axis=1)
            scale = np.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0)
            wa[rows] *= scale[:, None].astype(wa.dtype)
            weight._bump()
    idx = input if input._a.dtype == np.int64 else _wrap(input._a.astype(np.int64))
    idx = _wrap(idx._a % num) if idx._a.size and idx._a.min() < 0 else idx
    return _prim.embedding(weight, idx, padding_idx, scale_grad_by_freq)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding ``(*, num_classes)`` of class indices ``(*)``."""
    a = tensor._a
    if a.dtype.kind not in "iu":
        raise TypeError(f"one_hot: expected an integer tensor, got {tensor.dtype}")
    if num_classes < 0:
        num_classes = int(a.max()) + 1 if a.size else 0
    if a.size and (a.min() < 0 or a.max() >= num_classes):
        raise RuntimeError(f"one_hot: class values must be in [0, {num_classes})")
    out = np.zeros(a.shape + (num_classes,), np.int64)
    np.put_along_axis(out, a[..., None].astype(np.int64), 1, -1)
    return _wrap(out)
