"""Fetching one batch from a dataset, in the main process or in a worker."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Exhausted(Exception):
    """An iterable dataset has no more samples for this epoch."""


class MapFetcher:
    """``dataset[i]`` for each index of a batch, then ``collate_fn``.

    ``current`` names the index being fetched, so a failure can say which sample broke.
    """

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self._getitems = getattr(dataset, "__getitems__", None)
        self.current: Any = None

    def fetch(self, indices: Any) -> Any:
        """The collated batch for ``indices`` (one index when auto-collation is off)."""
        if not self.auto_collation:
            self.current = indices
            data = self.dataset[indices]
            self.current = None
            return self.collate_fn(data)
        if self._getitems is not None:
            self.current = indices
            data = self._getitems(indices)
        else:
            data = []
            dataset = self.dataset
            for i in indices:
                self.current = i
                data.append(dataset[i])
        self.current = None
        return self.collate_fn(data)

    def where(self) -> str:
        """Where a failure happened, for error messages."""
        if self.current is None:
            return "while collating the batch"
        return f"while fetching sample index {self.current!r}"


class IterFetcher:
    """The next ``batch_size`` samples of an iterable dataset, then ``collate_fn``.

    Raises :class:`Exhausted` at the end of the stream (and for a final short
    batch when ``drop_last``).
    """

    def __init__(
        self,
        dataset: Any,
        auto_collation: bool,
        collate_fn: Callable,
        drop_last: bool,
    ) -> None:
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn
        self.drop_last = drop_last
        self.ended = False
        self.count = 0  # samples taken from the stream so far
        self.fetching = False

    def fetch(self, batch_size: int | None) -> Any:
        """The next collated batch; ``batch_size`` is None when auto-collation is off."""
        if self.ended:
            raise Exhausted
        self.fetching = True
        if not self.auto_collation:
            try:
                data = next(self.iterator)
            except StopIteration:
                self.ended = True
                raise Exhausted from None
            self.count += 1
        else:
            data = []
            for _ in range(batch_size):
                try:
                    data.append(next(self.iterator))
                except StopIteration:
                    self.ended = True
                    break
                self.count += 1
            if not data or (self.drop_last and len(data) < batch_size):
                raise Exhausted
        self.fetching = False
        return self.collate_fn(data)

    def where(self) -> str:
        """Where a failure happened, for error messages."""
        if self.fetching:
            return f"while fetching sample #{self.count} of the worker's stream"
        return "while collating the batch"
