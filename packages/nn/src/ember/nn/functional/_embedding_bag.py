"""EmbeddingBag: sums, means or maxima of bags of embedding rows, without
materializing the (bags, rows) intermediate of an Embedding followed by a
reduction per bag in Python."""

from __future__ import annotations

import numpy as np

import ember as E
from ember._tensor import Tensor

__all__ = ["embedding_bag", "bilinear"]


def _bags(input: np.ndarray, offsets, include_last_offset: bool, who: str):
    """(flat indices, bag id of each, number of bags)."""
    if input.ndim == 2:
        if offsets is not None:
            raise ValueError(f"{who}: offsets must be None when input is 2-D (B, L)")
        b, length = input.shape
        return input.reshape(-1), np.repeat(np.arange(b), length), b
    if input.ndim != 1:
        raise ValueError(f"{who}: input must be 1-D (with offsets) or 2-D, got {input.shape}")
    if offsets is None:
        raise ValueError(f"{who}: offsets has to be a 1-D tensor when input is 1-D")
    off = offsets.cpu()._a if isinstance(offsets, Tensor) else np.asarray(offsets)
    off = off.astype(np.int64)
    if off.ndim != 1:
        raise ValueError(f"{who}: offsets has to be a 1-D tensor, got shape {off.shape}")
    if include_last_offset:
        if off.size == 0 or off[-1] != input.size:
            raise ValueError(
                f"{who}: with include_last_offset the last offset must equal the number of "
                f"indices ({input.size}), got offsets {off.tolist()}"
            )
        off = off[:-1]
    if off.size and (off[0] != 0 or np.any(np.diff(off) < 0) or off[-1] > input.size):
        raise ValueError(
            f"{who}: offsets must start at 0 and be non-decreasing within the {input.size} "
            f"indices, got {off.tolist()}"
        )
    bag = np.searchsorted(off, np.arange(input.size), side="right") - 1
    return input, bag, off.size


def embedding_bag(
    input: Tensor,
    weight: Tensor,
    offsets: Tensor | None = None,
    max_norm: float | None = None,
    norm_type: float = 2,
    scale_grad_by_freq: bool = False,
    mode: str = "mean",
    sparse: bool = False,
    per_sample_weights: Tensor | None = None,
    include_last_offset: bool = False,
    padding_idx: int | None = None,
) -> Tensor:
    """Reduce bags of rows of ``weight`` (num, D): input (B, L) (each row a bag) or 1-D
    indices with ``offsets`` (B,) marking where each bag starts. ``mode`` 'sum',
    'mean' or 'max'; ``per_sample_weights`` (like input) scales rows ('sum' only);
    indices equal to ``padding_idx`` are left out. Empty bags give zeros. -> (B, D).

    ``scale_grad_by_freq`` divides each row's gradient by how often its index occurs
    in ``input`` ('sum' and 'mean' modes, as PyTorch). ``sparse=True`` gives the
    dense gradient with the values of PyTorch's sparse one (see ``F.embedding``)."""
    who = "embedding_bag"
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"{who}: mode must be 'sum', 'mean' or 'max', got {mode!r}")
    if weight.dim() != 2:
        raise ValueError(f"{who}: weight must be 2-D (num, D), got shape {tuple(weight.shape)}")
    # The bag bookkeeping (bag ids, gather table, counts) is index arithmetic on small
    # integer arrays: done on the host, and the few index tensors it yields are sent to
    # the weight's device once.
    ia = input._a if type(input._a) is np.ndarray else input.cpu()._a
    dev = weight.device

    def on_dev(a: np.ndarray) -> Tensor:
        t = E.from_numpy(a)
        return t if dev.type == "cpu" else t.to(dev)

    if ia.dtype.kind not in "iu":
        raise TypeError(f"{who}: input must be an integer tensor, got {input.dtype}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(
                f"{who}: per_sample_weights is only supported for mode='sum' (got mode={mode!r})"
            )
        if tuple(per_sample_weights.shape) != tuple(ia.shape):
            raise ValueError(
                f"{who}: per_sample_weights of shape {tuple(per_sample_weights.shape)} must "
                f"match input of shape {tuple(ia.shape)}"
            )
    num, d = weight.shape
    flat, bag, nb = _bags(ia, offsets, include_last_offset, who)
    if flat.size and (flat.min() < 0 or flat.max() >= num):
        raise IndexError(f"{who}: index out of range for {num} embeddings: {flat.tolist()}")
    if padding_idx is not None:
        padding_idx %= num
    if max_norm is not None:
        from ember.nn.functional._embedding import embedding

        embedding(on_dev(flat), weight, max_norm=max_norm, norm_type=norm_type)
    keep = flat != padding_idx if padding_idx is not None else np.ones(flat.size, bool)
    counts = np.bincount(bag[keep], minlength=nb)
    # position of each kept index within its bag -> a (B, Lmax) gather table
    lmax = int(counts.max()) if nb and counts.size else 0
    kept = np.nonzero(keep)[0]
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    slot = np.arange(kept.size) - starts[bag[kept]]
    table = np.full((nb, max(lmax, 1)), flat.size, np.int64)  # flat.size: the zero row
    table[bag[kept], slot] = kept
    if scale_grad_by_freq and mode == "max":
        raise ValueError(f"{who}: scale_grad_by_freq is not supported with mode='max'")
    if scale_grad_by_freq:
        from ember.nn.functional import _prim

        rows = _prim.embedding(weight, on_dev(flat.astype(np.int64)), None, True)
    else:
        rows = weight.index_select(0, on_dev(flat))
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1).to(rows.dtype)
    ext = E.cat([rows, E.zeros((1, d), dtype=weight.dtype, device=dev)], 0)
    g = ext.index_select(0, on_dev(table.reshape(-1))).reshape(nb, table.shape[1], d)
    if mode == "max":
        dt = E._dtype.to_numpy_dtype(weight.dtype)
        valid = table < flat.size
        g = g + on_dev(np.where(valid, 0.0, -np.inf).astype(dt)[..., None])
        out = g.amax(1)
        empty_bag_zero = E.zeros((), dtype=weight.dtype, device=dev)
        return E.where(on_dev((counts > 0)[:, None]), out, empty_bag_zero)
    out = g.sum(1)
    if mode == "mean":
        dt = E._dtype.to_numpy_dtype(weight.dtype)
        out = out * on_dev((1.0 / np.maximum(counts, 1)).astype(dt)[:, None])
    return out


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None):
    """``y_o = x1^T W_o x2 + b_o``: input1 ``(*, in1)``, input2 ``(*, in2)``, weight
    ``(out, in1, in2)``, bias ``(out,)`` -> ``(*, out)``."""
    if weight.dim() != 3:
        raise RuntimeError(
            f"bilinear: weight must be 3-D (out, in1, in2), got {tuple(weight.shape)}"
        )
    o, i1, i2 = weight.shape
    if input1.shape[-1] != i1 or input2.shape[-1] != i2 or input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(
            f"bilinear: expected input1 (*, {i1}) and input2 (*, {i2}) with equal leading "
            f"dims, got {tuple(input1.shape)} and {tuple(input2.shape)}"
        )
    t = E.matmul(input1, weight.permute(1, 0, 2).reshape(i1, o * i2))
    y = (t.reshape(*input1.shape[:-1], o, i2) * input2.unsqueeze(-2)).sum(-1)
    return y + bias if bias is not None else y
