"""What runs inside a DataLoader worker process, and what it tells the main process.

Messages from the main process (through the worker's index queue):
  ``("epoch", epoch, base_seed)``  start an epoch: reseed, restart an iterable dataset;
  ``("task", epoch, idx, indices)`` fetch batch ``idx`` (``indices`` is the batch size
  for iterable datasets);
  ``None``                         exit.
Messages to the main process (through the worker's result pipe):
  ``("data", epoch, idx, packed_batch)``, ``("error", epoch, idx, WorkerFailure)``,
  ``("stop", epoch, idx)`` (an iterable dataset ran out).
"""

from __future__ import annotations

import os
import pickle
import queue
import random
import signal
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

import ember

from . import _shm, collate
from ._fetch import Exhausted, IterFetcher, MapFetcher

__all__ = ["WorkerInfo", "get_worker_info", "WorkerError"]

# How often an idle worker checks that its parent is still alive.
_PARENT_POLL_S = 0.5


@dataclass(frozen=True)
class WorkerInfo:
    """Describes the current DataLoader worker (see :func:`get_worker_info`).

    Attributes:
        id: this worker's index, ``0 <= id < num_workers``.
        num_workers: how many workers the loader runs.
        seed: the seed ember's generator got for this worker and epoch.
        seed_sequence: a ``numpy.random.SeedSequence`` for this worker and epoch,
            for code that wants its own ``np.random.default_rng(...)``.
        dataset: this worker's copy of the dataset.
    """

    id: int
    num_workers: int
    seed: int
    seed_sequence: np.random.SeedSequence
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """Information about the current worker, or None in the main process.

    Use it in ``IterableDataset.__iter__`` to shard the stream between workers,
    or in ``worker_init_fn`` to configure each worker's copy of the dataset.
    """
    return _worker_info


class WorkerError(RuntimeError):
    """A worker failed and its exception type could not be rebuilt in the main process."""


class _KeyErrorMessage(KeyError):
    # KeyError's str() is the repr of its argument, which would print a
    # multi-line traceback as one escaped line.
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


@dataclass
class WorkerFailure:
    """An exception raised in a worker, as data the main process can re-raise."""

    worker_id: int
    where: str
    type_name: str
    type_pickle: bytes | None
    traceback: str

    @classmethod
    def capture(cls, worker_id: int, where: str, exc: BaseException) -> WorkerFailure:
        """Record the exception being handled in this worker."""
        try:
            type_pickle = pickle.dumps(type(exc))
        except Exception:
            type_pickle = None  # a class defined in a function: re-raised as WorkerError
        tb = "".join(traceback.format_exception(exc))
        return cls(worker_id, where, type(exc).__qualname__, type_pickle, tb)

    def message(self) -> str:
        """The text of the re-raised exception."""
        return (
            f"Caught {self.type_name} in DataLoader worker {self.worker_id} {self.where}.\n"
            f"Original traceback in the worker:\n{self.traceback}"
        )

    def exception(self) -> BaseException:
        """An exception of the original type when it can be rebuilt, else WorkerError."""
        exc_type: Any = None
        if self.type_pickle is not None:
            try:
                exc_type = pickle.loads(self.type_pickle)
            except Exception:
                exc_type = None
        msg = self.message()
        if exc_type is KeyError:
            exc_type = _KeyErrorMessage
        exc: BaseException
        try:
            exc = exc_type(msg) if exc_type is not None else WorkerError(msg)
        except Exception:
            exc = WorkerError(msg)
        exc.worker_id = self.worker_id  # type: ignore[attr-defined]
        exc.worker_traceback = self.traceback  # type: ignore[attr-defined]
        return exc


def _seed_worker(base_seed: int, worker_id: int, num_workers: int, dataset: Any) -> None:
    global _worker_info
    # One SeedSequence per (epoch seed, worker) gives statistically independent
    # streams; the same base seed always gives the same streams.
    seq = np.random.SeedSequence([base_seed, worker_id])
    words = seq.generate_state(2, np.uint64)
    ember_seed = int(words[0] >> np.uint64(1))
    random.seed(int(words[1]))
    np.random.seed(seq.generate_state(4))
    manual_seed = getattr(ember, "manual_seed", None)
    if manual_seed is not None:
        manual_seed(ember_seed)
    _worker_info = WorkerInfo(worker_id, num_workers, ember_seed, seq, dataset)


@dataclass
class WorkerConfig:
    """Everything a worker needs, sent once when it starts (must pickle for spawn)."""

    dataset: Any
    iterable: bool
    auto_collation: bool
    collate_fn: Callable
    drop_last: bool
    worker_init_fn: Callable[[int], None] | None
    worker_id: int
    num_workers: int
    shm_prefix: str
    parent_pid: int


def _make_fetcher(cfg: WorkerConfig) -> MapFetcher | IterFetcher:
    if cfg.iterable:
        return IterFetcher(cfg.dataset, cfg.auto_collation, cfg.collate_fn, cfg.drop_last)
    return MapFetcher(cfg.dataset, cfg.auto_collation, cfg.collate_fn)


def worker_loop(cfg: WorkerConfig, index_queue: Any, conn: Any) -> None:
    """The body of a worker process: fetch the batches asked for until told to stop."""
    # Ctrl-C reaches the whole process group; the main process decides what
    # happens and shuts the workers down, so they must not die on their own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    writer = _shm.Writer(cfg.shm_prefix)
    collate._allocate = writer.allocate
    init_failure: WorkerFailure | None = None
    fetcher: MapFetcher | IterFetcher | None = None
    epoch = -1
    try:
        while True:
            try:
                msg = index_queue.get(timeout=_PARENT_POLL_S)
            except queue.Empty:
                if os.getppid() != cfg.parent_pid:
                    return  # orphaned: the main process is gone
                continue
            if msg is None:
                return
            if msg[0] == "epoch":
                first = epoch < 0
                epoch = msg[1]
                _seed_worker(msg[2], cfg.worker_id, cfg.num_workers, cfg.dataset)
                if first and cfg.worker_init_fn is not None:
                    try:
                        cfg.worker_init_fn(cfg.worker_id)
                    except Exception as e:
                        init_failure = WorkerFailure.capture(cfg.worker_id, "in worker_init_fn", e)
                fetcher = None
                if init_failure is None:
                    try:
                        fetcher = _make_fetcher(cfg)
                    except Exception as e:
                        init_failure = WorkerFailure.capture(
                            cfg.worker_id, "while starting to iterate the dataset", e
                        )
                continue
            _, task_epoch, idx, indices = msg
            if init_failure is not None:
                conn.send(("error", task_epoch, idx, init_failure))
                continue
            conn.send(_run_task(fetcher, writer, cfg.worker_id, task_epoch, idx, indices))
            writer.sent()
    except (BrokenPipeError, EOFError, OSError):
        pass  # the main process closed our channels: it is shutting down
    finally:
        writer.discard()
        conn.close()


def _run_task(
    fetcher: MapFetcher | IterFetcher,
    writer: _shm.Writer,
    worker_id: int,
    epoch: int,
    idx: int,
    indices: Any,
) -> tuple:
    try:
        batch = fetcher.fetch(indices)
        return ("data", epoch, idx, writer.pack(batch))
    except Exhausted:
        writer.discard()
        return ("stop", epoch, idx)
    except Exception as e:
        writer.discard()
        return ("error", epoch, idx, WorkerFailure.capture(worker_id, fetcher.where(), e))
