"""Variable-length sequences for the recurrent layers: packing and padding.

A :class:`PackedSequence` stores a batch of sequences time step by time step:
``data`` ``(sum(lengths), *)`` holds step 0 of every sequence, then step 1 of every
sequence still running, ...; ``batch_sizes[t]`` says how many sequences are
running at step ``t``. Sequences are sorted by decreasing length inside;
``sorted_indices`` / ``unsorted_indices`` map between that order and the caller's.
Every function here is built from differentiable ops (index_select, cat, pad),
so gradients flow through packing and padding.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

import ember as E
from ember._tensor import Tensor

__all__ = [
    "PackedSequence",
    "pack_padded_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "pack_sequence",
    "unpad_sequence",
    "unpack_sequence",
]


class PackedSequence(NamedTuple):
    """Packed batch of sequences (see the module docstring). ``batch_sizes`` is an
    int64 tensor; the index tensors are None when the batch was given sorted."""

    data: Tensor
    batch_sizes: Tensor
    sorted_indices: Tensor | None = None
    unsorted_indices: Tensor | None = None

    def to(self, *args, **kwargs) -> PackedSequence:
        """The same sequence with ``data`` moved/cast by ``Tensor.to``."""
        return self._replace(data=self.data.to(*args, **kwargs))

    @property
    def is_cuda(self) -> bool:
        """Whether ``data`` lives on a CUDA device."""
        return bool(getattr(self.data, "is_cuda", False))


def _lengths_array(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        a = lengths._a
    else:
        a = np.asarray(lengths)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise ValueError(f"lengths must be a 1-D sequence of integers, got {a!r}")
    return a.astype(np.int64)


def _batch_sizes(sorted_lengths: np.ndarray) -> np.ndarray:
    """How many of the (decreasingly sorted) sequences run at each step."""
    steps = np.arange(int(sorted_lengths[0]))
    return (sorted_lengths[None, :] > steps[:, None]).sum(1).astype(np.int64)


def _packed_rows(batch_sizes: np.ndarray, batch: int) -> np.ndarray:
    """For each packed row, its position ``t * batch + b`` in a (T, B) layout."""
    t = np.repeat(np.arange(len(batch_sizes)), batch_sizes)
    b = np.concatenate([np.arange(n) for n in batch_sizes]) if len(batch_sizes) else t
    return t * batch + b


def pack_padded_sequence(
    input: Tensor, lengths, batch_first: bool = False, enforce_sorted: bool = True
) -> PackedSequence:
    """Pack a padded batch ``(T, B, *)`` (or ``(B, T, *)`` with ``batch_first``) of sequences
    of the given ``lengths``. With ``enforce_sorted`` the lengths must be
    non-increasing; otherwise the batch is sorted here and the order remembered."""
    lens = _lengths_array(lengths)
    bdim = 0 if batch_first else 1
    if input.dim() < 2:
        raise ValueError(
            f"pack_padded_sequence: expected input of at least 2 dims, got {tuple(input.shape)}"
        )
    if len(lens) != input.shape[bdim]:
        raise ValueError(
            f"pack_padded_sequence: got {len(lens)} lengths for a batch of {input.shape[bdim]} "
            f"(input shape {tuple(input.shape)}, batch_first={batch_first})"
        )
    if lens.size == 0 or lens.min() <= 0:
        raise RuntimeError("pack_padded_sequence: every length must be positive")
    tdim = 1 - bdim
    if lens.max() > input.shape[tdim]:
        raise RuntimeError(
            f"pack_padded_sequence: a length of {int(lens.max())} exceeds the "
            f"{input.shape[tdim]} time steps of input of shape {tuple(input.shape)}"
        )
    sorted_idx = unsorted_idx = None
    if enforce_sorted:
        if np.any(np.diff(lens) > 0):
            raise RuntimeError(
                f"pack_padded_sequence: lengths must be sorted in decreasing order, got "
                f"{lens.tolist()}; pass enforce_sorted=False to sort them here"
            )
    else:
        order = np.argsort(-lens, kind="stable")
        lens = lens[order]
        sorted_idx = E.from_numpy(order.astype(np.int64))
        unsorted_idx = E.from_numpy(np.argsort(order).astype(np.int64))
        input = input.index_select(bdim, sorted_idx)
    if batch_first:
        input = input.transpose(0, 1)
    t_max = int(lens[0])
    bs = _batch_sizes(lens)
    batch = input.shape[1]
    flat = input[:t_max].reshape((t_max * batch,) + tuple(input.shape[2:]))
    data = flat.index_select(0, E.from_numpy(_packed_rows(bs, batch)))
    return PackedSequence(data, E.from_numpy(bs), sorted_idx, unsorted_idx)


def pad_packed_sequence(
    sequence: PackedSequence,
    batch_first: bool = False,
    padding_value: float = 0.0,
    total_length: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The inverse of :func:`pack_padded_sequence`: ``(padded, lengths)`` with padded
    ``(T, B, *)`` (or ``(B, T, *)``) filled with ``padding_value`` past each length, in the
    caller's original batch order; ``T`` is ``total_length`` when given."""
    data, bs_t, _, unsorted = sequence
    bs = bs_t._a.astype(np.int64)
    batch = int(bs[0])
    t_max = len(bs)
    if total_length is not None:
        if total_length < t_max:
            raise ValueError(
                f"pad_packed_sequence: total_length={total_length} is shorter than the "
                f"longest sequence ({t_max} steps)"
            )
        t_max = total_length
    rows = _packed_rows(bs, batch)
    n = data.shape[0]
    src = np.full(t_max * batch, n, np.int64)  # row n is the padding row
    src[rows] = np.arange(n)
    pad_row = E.full((1,) + tuple(data.shape[1:]), padding_value, dtype=data.dtype)
    ext = E.cat([data, pad_row], 0)
    padded = ext.index_select(0, E.from_numpy(src)).reshape((t_max, batch) + tuple(data.shape[1:]))
    lengths = (bs[None, :] > np.arange(batch)[:, None]).sum(1).astype(np.int64)
    if unsorted is not None:
        padded = padded.index_select(1, unsorted)
        lengths = lengths[unsorted._a]
    if batch_first:
        padded = padded.transpose(0, 1)
    return padded, E.from_numpy(lengths)


def pad_sequence(
    sequences,
    batch_first: bool = False,
    padding_value: float = 0.0,
    padding_side: str = "right",
) -> Tensor:
    """Stack tensors of shape ``(L_i, *)`` into ``(max L, B, *)`` (or ``(B, max L, *)``), filling
    with ``padding_value`` on ``padding_side`` ('right' or 'left')."""
    seqs = list(sequences)
    if not seqs:
        raise RuntimeError("pad_sequence: received an empty list of sequences")
    if padding_side not in ("left", "right"):
        raise ValueError(
            f"pad_sequence: padding_side must be 'left' or 'right', got {padding_side!r}"
        )
    tail = tuple(seqs[0].shape[1:])
    for i, s in enumerate(seqs):
        if s.dim() == 0 or tuple(s.shape[1:]) != tail:
            raise RuntimeError(
                f"pad_sequence: sequence {i} has shape {tuple(s.shape)}, expected (L, *{tail})"
            )
    t_max = max(s.shape[0] for s in seqs)
    padded = []
    for s in seqs:
        extra = t_max - s.shape[0]
        spec = [0, 0] * len(tail) + ([0, extra] if padding_side == "right" else [extra, 0])
        padded.append(E.pad(s, spec, value=padding_value) if extra else s)
    return E.stack(padded, 0 if batch_first else 1)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of ``(L_i, *)`` tensors (non-increasing lengths unless
    ``enforce_sorted=False``)."""
    seqs = list(sequences)
    lengths = [s.shape[0] for s in seqs]
    return pack_padded_sequence(pad_sequence(seqs), lengths, enforce_sorted=enforce_sorted)


def unpad_sequence(padded: Tensor, lengths, batch_first: bool = False) -> list[Tensor]:
    """Split a padded batch back into a list of ``(L_i, *)`` tensors."""
    lens = _lengths_array(lengths)
    if not batch_first:
        padded = padded.transpose(0, 1)
    return [padded[i, : int(n)] for i, n in enumerate(lens)]


def unpack_sequence(packed: PackedSequence) -> list[Tensor]:
    """A packed batch as a list of ``(L_i, *)`` tensors in the caller's order."""
    padded, lengths = pad_packed_sequence(packed, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
