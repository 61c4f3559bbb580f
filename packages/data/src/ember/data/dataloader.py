"""DataLoader: batches from a dataset, in the main process or in worker processes."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from . import _random
from ._fetch import Exhausted, IterFetcher, MapFetcher
from .collate import default_collate, default_convert
from .dataset import Dataset, IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler

__all__ = ["DataLoader"]


class _InfiniteSampler(Sampler[None]):
    # An iterable dataset has no indices: this just counts out batches.
    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _check_bool(value: Any, name: str) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"DataLoader: {name} must be a bool, got {value!r}")


class DataLoader:
    """Iterate over a dataset in batches, optionally with worker processes.

    Args:
        dataset: a map-style :class:`Dataset` (or anything with ``__getitem__``
            and ``__len__``) or an :class:`IterableDataset`.
        batch_size: samples per batch; ``None`` turns batching off (each sample
            goes through ``default_convert`` instead of ``default_collate``).
        shuffle: reshuffle indices every epoch (map-style only).
        sampler: iterable of indices; excludes ``shuffle``.
        batch_sampler: iterable of index lists; excludes ``batch_size``,
            ``shuffle``, ``sampler`` and ``drop_last``.
        num_workers: worker processes; 0 loads in the main process.
        collate_fn: merges a list of samples into a batch (default: ``default_collate``).
        pin_memory: accepted for compatibility. ember's CPU tensors need no
            pinning and GPU copies are staged by CuPy, so it does nothing.
        drop_last: drop a last batch smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers before raising
            ``RuntimeError``; 0 waits forever (a dead worker is still detected at once).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker
            after it is seeded and before it loads anything.
        multiprocessing_context: ``"fork"``, ``"spawn"``, ``"forkserver"`` or a
            context object; default is Python's default start method.
        generator: ``ember.Generator`` (or ``numpy.random.Generator``) for the
            shuffle order and the workers' seeds.
        prefetch_factor: batches each worker loads ahead (default 2 with workers).
        persistent_workers: keep the workers alive between epochs.
        in_order: yield batches in sampler order; ``False`` yields each batch as
            soon as it is ready (faster when some samples are slow).

    Each epoch draws a base seed from ``generator``; worker ``i`` seeds ember,
    numpy's global generator and ``random`` from ``(base_seed, i)``, so workers
    never repeat each other's random augmentations and a fixed seed repeats a run.
    """

    def __init__(
        self,
        dataset: Dataset | Any,
        batch_size: int | None = 1,
        shuffle: bool | None = None,
        sampler: Sampler | Iterable | None = None,
        batch_sampler: Sampler | Iterable | None = None,
        num_workers: int = 0,
        collate_fn: Callable[[list], Any] | None = None,
        pin_memory: bool = False,
        drop_last: bool = False,
        timeout: float = 0,
        worker_init_fn: Callable[[int], None] | None = None,
        multiprocessing_context: Any = None,
        generator: Any = None,
        *,
        prefetch_factor: int | None = None,
        persistent_workers: bool = False,
        pin_memory_device: str = "",
        in_order: bool = True,
    ) -> None:
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(
                f"DataLoader: num_workers must be a non-negative int, got {num_workers!r}"
            )
        if not isinstance(timeout, int | float) or timeout < 0:
            raise ValueError(f"DataLoader: timeout must be a non-negative number, got {timeout!r}")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError(
                "DataLoader: prefetch_factor needs num_workers > 0 (it counts batches per worker)"
            )
        if prefetch_factor is None:
            prefetch_factor = 2 if num_workers > 0 else None
        elif (
            isinstance(prefetch_factor, bool)
            or not isinstance(prefetch_factor, int)
            or (prefetch_factor < 1)
        ):
            raise ValueError(
                f"DataLoader: prefetch_factor must be a positive int, got {prefetch_factor!r}"
            )
        if persistent_workers and num_workers == 0:
            raise ValueError("DataLoader: persistent_workers needs num_workers > 0")
        for flag, name in (
            (pin_memory, "pin_memory"),
            (drop_last, "drop_last"),
            (persistent_workers, "persistent_workers"),
            (in_order, "in_order"),
        ):
            _check_bool(flag, name)
        _random.check_generator(generator, "DataLoader")

        iterable = isinstance(dataset, IterableDataset)
        if iterable:
            if shuffle:
                raise ValueError(
                    "DataLoader: shuffle=True does not apply to an IterableDataset; "
                    "shuffle inside the dataset's __iter__"
                )
            if sampler is not None or batch_sampler is not None:
                raise ValueError("DataLoader: an IterableDataset takes no sampler or batch_sampler")
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler and shuffle=True are mutually exclusive")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError(
                    "DataLoader: batch_sampler excludes batch_size, shuffle, sampler and drop_last"
                )
            batch_size = None
            drop_last = False
        elif batch_size is None and drop_last:
            raise ValueError("DataLoader: drop_last=True needs a batch_size")

        if sampler is None:
            if iterable:
                sampler = _InfiniteSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.drop_last = drop_last
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = float(timeout)
        self.worker_init_fn = worker_init_fn
        self.generator = generator
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.multiprocessing_context = _context(multiprocessing_context)
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._iterable = iterable
        self._iterator: Any = None

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Iterable:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __iter__(self) -> Iterator:
        """A fresh iterator over one epoch (the same workers again if persistent)."""
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        from ._mp_iter import MultiProcessIter

        if not self.persistent_workers:
            return MultiProcessIter(self)
        if self._iterator is None or self._iterator.closed:
            self._iterator = MultiProcessIter(self)
        else:
            self._iterator.reset()
        return self._iterator

    def __len__(self) -> int:
        """Batches per epoch (for an IterableDataset, from ``len(dataset)`` if it has one)."""
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            if self.drop_last:
                return n // self.batch_size
            return -(-n // self.batch_size)
        return len(self._index_sampler)  # type: ignore[arg-type]

    def _make_fetcher(self) -> MapFetcher | IterFetcher:
        if self._iterable:
            return IterFetcher(self.dataset, self._auto_collation, self.collate_fn, self.drop_last)
        return MapFetcher(self.dataset, self._auto_collation, self.collate_fn)


def _context(ctx: Any) -> Any:
    if ctx is None:
        return multiprocessing.get_context()
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(
                f"DataLoader: multiprocessing_context {ctx!r} is not available here; "
                f"choose one of {methods}"
            )
        return multiprocessing.get_context(ctx)
    if not hasattr(ctx, "Process"):
        raise TypeError(
            "DataLoader: multiprocessing_context must be a start-method name or a "
            f"multiprocessing context, got {type(ctx).__name__}"
        )
    return ctx


class _BaseIter:
    """What every DataLoader iterator shares: length and epoch bookkeeping."""

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._num_yielded = 0
        self._sampler_iter: Iterator = iter(())

    def _start_epoch(self) -> int:
        # Drawn whatever num_workers is, so the sampler sees the same generator
        # state and the order is the same with and without workers.
        base_seed = _random.draw_seed(self._loader.generator)
        self._sampler_iter = iter(self._loader._index_sampler)
        self._num_yielded = 0
        return base_seed

    def _next_index(self) -> Any:
        index = next(self._sampler_iter)
        if self._loader._iterable and self._loader._auto_collation:
            return self._loader.batch_size
        return index

    def __iter__(self) -> Iterator:
        return self

    def __len__(self) -> int:
        return len(self._loader)


class _SingleProcessIter(_BaseIter):
    """Loads every batch in the main process (``num_workers=0``)."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        self._start_epoch()
        self._fetcher = loader._make_fetcher()

    def __next__(self) -> Any:
        try:
            batch = self._fetcher.fetch(self._next_index())
        except Exhausted:
            raise StopIteration from None
        self._num_yielded += 1
        return batch
