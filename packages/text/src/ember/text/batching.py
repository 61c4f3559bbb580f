"""Batching for text: length-bucketed batches, BPTT streams, padding collate helpers."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ember.text.transforms import pad_sequence

__all__ = [
    "BPTTIterator",
    "BucketBatchSampler",
    "PadCollate",
    "batchify",
    "collate_padded",
    "padding_fraction",
]


def _draw_seed(generator) -> int:
    """A 63-bit seed from ``generator`` (ember's default generator when None), so
    ``ember.manual_seed`` or a seeded ``ember.Generator`` fixes the order."""
    import ember

    return int(ember.randint(0, 2**62, (1,), generator=generator).item())


class BucketBatchSampler:
    """Batches of indices whose items have similar lengths, so little padding is needed.

    Each epoch (each ``iter``): the indices are shuffled, cut into pools of
    ``batch_size * bucket_size_multiplier``, each pool is sorted by length and cut
    into batches, and the batches are shuffled. With ``shuffle=False`` the whole
    dataset is sorted by length (stable) and batches come shortest first.
    ``sort_within_batch`` orders each batch by decreasing length (what
    ``pack_padded_sequence(enforce_sorted=True)`` wants).

    Use as ``DataLoader(ds, batch_sampler=BucketBatchSampler(lengths, 32))``.
    The order depends only on ``generator`` (or ember's default generator).
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        shuffle: bool = True,
        drop_last: bool = False,
        bucket_size_multiplier: int = 100,
        sort_within_batch: bool = False,
        generator=None,
    ) -> None:
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if bucket_size_multiplier < 1:
            raise ValueError(f"bucket_size_multiplier must be >= 1, got {bucket_size_multiplier}")
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if self.lengths.ndim != 1:
            raise ValueError("lengths must be a 1-D sequence of ints, one per example")
        if (self.lengths < 0).any():
            raise ValueError("lengths must be >= 0")
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.bucket_size_multiplier = bucket_size_multiplier
        self.sort_within_batch = sort_within_batch
        self.generator = generator

    def __len__(self) -> int:
        n = len(self.lengths)
        if not self.shuffle:
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        pool = self.batch_size * self.bucket_size_multiplier
        total = 0
        for start in range(0, n, pool):
            size = min(pool, n - start)
            total += (
                size // self.batch_size if self.drop_last else math.ceil(size / self.batch_size)
            )
        return total

    def _batches(self, order: np.ndarray) -> list[np.ndarray]:
        out = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if self.drop_last and out and len(out[-1]) < self.batch_size:
            out.pop()
        return out

    def __iter__(self) -> Iterator[list[int]]:
        lengths = self.lengths
        if not self.shuffle:
            batches = self._batches(np.argsort(lengths, kind="stable"))
        else:
            rng = np.random.default_rng(_draw_seed(self.generator))
            perm = rng.permutation(len(lengths))
            pool = self.batch_size * self.bucket_size_multiplier
            batches = []
            for start in range(0, len(perm), pool):
                chunk = perm[start : start + pool]
                # stable sort of a shuffled chunk: equal lengths stay in random order
                batches += self._batches(chunk[np.argsort(lengths[chunk], kind="stable")])
            batches = [batches[i] for i in rng.permutation(len(batches))]
        for b in batches:
            if self.sort_within_batch:
                b = b[np.argsort(-lengths[b], kind="stable")]
            yield b.tolist()


def padding_fraction(batches: Sequence[Sequence[int]], lengths: Sequence[int]) -> float:
    """The share of a padded batch's cells that are padding, over all ``batches``."""
    lengths = np.asarray(lengths)
    cells = sum(len(b) * int(lengths[b].max()) for b in batches if len(b))
    used = sum(int(lengths[b].sum()) for b in batches if len(b))
    return 0.0 if cells == 0 else 1.0 - used / cells


def batchify(data: Sequence[int] | Any, batch_size: int) -> np.ndarray:
    """Cut a 1-D token stream into ``batch_size`` contiguous streams, one per row:
    ``(batch_size, len(data) // batch_size)``; the tail that does not fit is dropped."""
    a = data.numpy() if hasattr(data, "numpy") else np.asarray(data)
    if a.ndim != 1:
        raise ValueError(f"batchify expects a 1-D token stream, got shape {a.shape}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    n = len(a) // batch_size
    if n == 0:
        raise ValueError(f"a stream of {len(a)} tokens is too short for {batch_size} rows")
    return np.ascontiguousarray(a[: n * batch_size].reshape(batch_size, n))


class BPTTIterator:
    """Truncated back-propagation-through-time batches for language modelling.

    The stream is cut into ``batch_size`` contiguous rows (:func:`batchify`); step
    ``k`` yields ``(input, target)`` of shape ``(batch_size, bptt_len)`` (or
    ``(bptt_len, batch_size)`` with ``batch_first=False``), columns
    ``k*bptt_len ... k*bptt_len+bptt_len-1`` and the same shifted by one token. Row
    ``i`` of step ``k+1`` continues row ``i`` of step ``k``, so a recurrent state can
    be carried over (detached) between steps. The last step may be shorter.
    """

    def __init__(
        self,
        data: Sequence[int] | Any,
        batch_size: int,
        bptt_len: int,
        batch_first: bool = True,
    ) -> None:
        if bptt_len < 1:
            raise ValueError(f"bptt_len must be >= 1, got {bptt_len}")
        self.streams = batchify(data, batch_size)
        if self.streams.shape[1] < 2:
            raise ValueError("each stream needs at least 2 tokens (an input and a target)")
        self.batch_size, self.bptt_len, self.batch_first = batch_size, bptt_len, batch_first

    def __len__(self) -> int:
        return math.ceil((self.streams.shape[1] - 1) / self.bptt_len)

    def __iter__(self) -> Iterator[tuple[Any, Any]]:
        import ember

        s = self.streams
        for start in range(0, s.shape[1] - 1, self.bptt_len):
            stop = min(start + self.bptt_len, s.shape[1] - 1)
            x, y = s[:, start:stop], s[:, start + 1 : stop + 1]
            if not self.batch_first:
                x, y = x.T, y.T
            yield (
                ember.from_numpy(np.ascontiguousarray(x)),
                ember.from_numpy(np.ascontiguousarray(y)),
            )


def collate_padded(
    batch: Sequence, padding_value: int = 0, batch_first: bool = True
) -> tuple[Any, Any]:
    """``(padded, lengths)`` for a list of 1-D sequences; ``lengths`` is an int64 tensor,
    ready for ``pack_padded_sequence``."""
    import ember

    lengths = ember.tensor([len(s) for s in batch], dtype=ember.int64)
    return pad_sequence(batch, batch_first, padding_value), lengths


class PadCollate:
    """``collate_fn`` for ``(sequence, label)`` examples: gives
    ``(padded, lengths, labels)``, optionally sorted by decreasing length.

    ``transform`` (e.g. a tokenize+vocab pipeline) is applied to each raw text first.
    """

    def __init__(
        self,
        padding_value: int = 0,
        batch_first: bool = True,
        sort_by_length: bool = False,
        transform: Callable | None = None,
        label_transform: Callable | None = None,
    ) -> None:
        self.padding_value, self.batch_first = padding_value, batch_first
        self.sort_by_length = sort_by_length
        self.transform, self.label_transform = transform, label_transform

    def __call__(self, batch: Sequence[tuple[Any, Any]]) -> tuple[Any, Any, Any]:
        import ember

        for i, item in enumerate(batch):
            if not isinstance(item, tuple | list) or len(item) != 2:
                raise TypeError(
                    f"example {i} is not a (sequence, label) pair: {type(item).__name__}"
                )
        seqs = [self.transform(s) if self.transform else s for s, _ in batch]
        labels = [self.label_transform(y) if self.label_transform else y for _, y in batch]
        if self.sort_by_length:
            order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
            seqs, labels = [seqs[i] for i in order], [labels[i] for i in order]
        padded, lengths = collate_padded(seqs, self.padding_value, self.batch_first)
        if labels and hasattr(labels[0], "numpy"):
            return padded, lengths, ember.stack(labels)
        return padded, lengths, ember.tensor(labels)
