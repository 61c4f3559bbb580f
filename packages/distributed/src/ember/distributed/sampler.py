"""DistributedSampler: each rank iterates over its own share of a dataset's indices."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sized

import numpy as np

__all__ = ["DistributedSampler"]


class DistributedSampler:
    """Indices ``rank, rank + num_replicas, ...`` of a (per-epoch shuffled) index list.

    Every rank draws the same permutation (seeded by ``seed + epoch``), pads it by
    repeating its start so it divides evenly (or, with ``drop_last``, drops the tail),
    and keeps every ``num_replicas``-th index from ``rank``: the ranks' shares are
    disjoint (except for padding) and cover the dataset. Call :meth:`set_epoch` at the
    start of each epoch, or every epoch repeats the same order. Pass it as a
    DataLoader's ``sampler``.

    Args:
        dataset: anything with ``len()``.
        num_replicas: number of ranks (default: the default group's size).
        rank: this rank (default: the default group's rank).
        shuffle: permute the indices each epoch.
        seed: base seed; must be the same on every rank.
        drop_last: drop the tail instead of padding so every rank gets the same count.
    """

    def __init__(
        self,
        dataset: Sized,
        num_replicas: int | None = None,
        rank: int | None = None,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
    ) -> None:
        if num_replicas is None or rank is None:
            from .process_group import get_rank, get_world_size, is_initialized

            if not is_initialized():
                raise RuntimeError(
                    "DistributedSampler needs num_replicas and rank, or an initialized "
                    "default process group to take them from"
                )
            num_replicas = get_world_size() if num_replicas is None else num_replicas
            rank = get_rank() if rank is None else rank
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or not 0 <= rank < num_replicas:
            raise ValueError(f"rank must be in [0, {num_replicas}), got {rank!r}")
        self.dataset = dataset
        self.num_replicas, self.rank = num_replicas, rank
        self.shuffle, self.seed, self.drop_last = bool(shuffle), int(seed), bool(drop_last)
        self.epoch = 0
        n = len(dataset)
        if drop_last and n % num_replicas:
            self.num_samples = n // num_replicas
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n:
            # pad by repeating from the start (several times over if the dataset is tiny)
            order = np.resize(order, self.total_size)
        else:
            order = order[: self.total_size]
        return iter(order[self.rank : self.total_size : self.num_replicas].tolist())

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use ``epoch`` for the next iteration's shuffle (same value on every rank)."""
        self.epoch = int(epoch)
