"""The DataLoader iterator that runs worker processes.

The main process keeps ``prefetch_factor * num_workers`` batches in flight,
handing batch indices to the workers round-robin through one queue each. Each
worker answers through its own pipe; the main process waits on all the pipes
and all the workers' process sentinels at once (``multiprocessing.connection.wait``),
so a batch is picked up the moment it is ready and a dead worker is noticed the
moment it dies, without polling.

Every resource (processes, queues, pipes, shared-memory names) belongs to a
``_Pool`` that a ``weakref.finalize`` on the iterator shuts down: at the end of
an epoch, on an error, on Ctrl-C, when a half-consumed iterator is garbage
collected, and at interpreter exit.
"""

from __future__ import annotations

import itertools
import os
import signal
import time
import weakref
from collections import deque
from multiprocessing.connection import wait
from typing import Any

from . import _shm
from .dataloader import DataLoader, _BaseIter
from .worker import WorkerConfig, WorkerFailure, worker_loop

# Seconds the workers get to exit after being asked, before SIGTERM, then SIGKILL.
# Idle workers exit at once; only one stuck in a slow sample needs the signal.
_JOIN_S = 0.5
_STOP = object()  # an iterable dataset's worker ran out for this task
_NOTHING = object()  # no batch ready yet


class _Pool:
    """The worker processes of one iterator and everything they own."""

    def __init__(self, loader: DataLoader) -> None:
        if not _shm.available():
            raise RuntimeError("DataLoader: num_workers > 0 needs POSIX shared memory")
        ctx = loader.multiprocessing_context
        token = _shm.new_token()
        self.closed = False
        self.prefixes: list[str] = []
        self.processes: list[Any] = []
        self.index_queues: list[Any] = []
        self.conns: list[Any] = []
        try:
            for i in range(loader.num_workers):
                prefix = _shm.new_prefix(i, token)
                index_queue = ctx.Queue()
                # Undelivered tasks must never make the interpreter wait at exit.
                index_queue.cancel_join_thread()
                reader, writer = ctx.Pipe(duplex=False)
                cfg = WorkerConfig(
                    dataset=loader.dataset,
                    iterable=loader._iterable,
                    auto_collation=loader._auto_collation,
                    collate_fn=loader.collate_fn,
                    drop_last=loader.drop_last,
                    worker_init_fn=loader.worker_init_fn,
                    worker_id=i,
                    num_workers=loader.num_workers,
                    shm_prefix=prefix,
                    parent_pid=os.getpid(),
                )
                process = ctx.Process(
                    target=worker_loop,
                    args=(cfg, index_queue, writer),
                    name=f"ember-data-worker-{i}",
                    daemon=True,
                )
                self.prefixes.append(prefix)
                self.index_queues.append(index_queue)
                self.conns.append(reader)
                process.start()
                self.processes.append(process)
                writer.close()  # the worker holds the only write end now
        except BaseException:
            self.shutdown()
            raise

    def shutdown(self) -> None:
        """Stop the workers, then free everything they may have left behind."""
        if self.closed:
            return
        self.closed = True
        for q in self.index_queues:
            try:
                q.put(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + _JOIN_S
        for p in self.processes:
            p.join(max(0.0, deadline - time.monotonic()))
        for p in self.processes:
            if p.is_alive():
                p.terminate()
                p.join(1.0)
            if p.is_alive():
                p.kill()
                p.join()
        for conn in self.conns:
            _drain(conn)
            conn.close()
        for q in self.index_queues:
            q.close()
        # Only now that no worker can create one: unlink what was never received.
        for prefix in self.prefixes:
            _shm.sweep(prefix)

    def dead_worker_error(self) -> RuntimeError | None:
        """A RuntimeError describing the first worker that has exited, if any."""
        for i, p in enumerate(self.processes):
            code = p.exitcode
            if code is None:
                continue
            how = f"exit code {code}"
            if code < 0:
                try:
                    how += f" (killed by signal {signal.Signals(-code).name})"
                except ValueError:
                    pass
            return RuntimeError(
                f"DataLoader worker {i} (pid {p.pid}) exited unexpectedly with {how}. "
                "If it was killed for memory, lower batch_size, prefetch_factor or num_workers."
            )
        return None


def _drain(conn: Any) -> None:
    # Results nobody will read still name shared-memory segments: unlink them.
    try:
        while conn.poll():
            msg = conn.recv()
            if msg[0] == "data":
                _shm.release(msg[3])
    except (EOFError, OSError):
        pass


class MultiProcessIter(_BaseIter):
    """Loads batches in ``loader.num_workers`` worker processes."""

    def __init__(self, loader: DataLoader) -> None:
        super().__init__(loader)
        base_seed = self._start_epoch()
        self._pool = _Pool(loader)
        self._finalizer = weakref.finalize(self, self._pool.shutdown)
        self._epoch = 0
        self._begin(base_seed)

    @property
    def closed(self) -> bool:
        """True once the workers have been shut down."""
        return self._pool.closed

    def _begin(self, base_seed: int) -> None:
        n = self._loader.num_workers
        self._send_idx = 0
        self._rcvd_idx = 0
        self._in_flight: dict[int, int] = {}  # task idx -> worker id
        self._buffer: dict[int, Any] = {}  # received, not yet yielded (in order)
        self._ready: deque = deque()  # received, not yet yielded (out of order)
        self._active = [True] * n
        self._sampler_done = False
        self._cycle = itertools.cycle(range(n))
        for q in self._pool.index_queues:
            q.put(("epoch", self._epoch, base_seed))
        for _ in range(self._loader.prefetch_factor * n):
            self._dispatch()

    def reset(self) -> None:
        """Start a new epoch on the same workers (``persistent_workers=True``)."""
        # Results of the previous epoch still in flight are recognised by their
        # epoch number and released when they arrive.
        self._epoch += 1
        self._begin(self._start_epoch())

    def _dispatch(self) -> None:
        if self._sampler_done:
            return
        for _ in range(len(self._active)):
            worker = next(self._cycle)
            if self._active[worker]:
                break
        else:
            return
        try:
            index = self._next_index()
        except StopIteration:
            self._sampler_done = True
            return
        self._pool.index_queues[worker].put(("task", self._epoch, self._send_idx, index))
        self._in_flight[self._send_idx] = worker
        self._send_idx += 1

    def __next__(self) -> Any:
        try:
            item = self._next_item()
        except StopIteration:
            raise
        except BaseException:
            # Ctrl-C, a dead worker, a timeout: nothing can continue.
            self._finalizer()
            raise
        if isinstance(item, WorkerFailure):
            raise item.exception()
        self._num_yielded += 1
        return item

    def _pop(self) -> Any:
        if self._loader.in_order:
            if self._rcvd_idx in self._buffer:
                self._rcvd_idx += 1
                return self._buffer.pop(self._rcvd_idx - 1)
        elif self._ready:
            return self._ready.popleft()
        return _NOTHING

    def _next_item(self) -> Any:
        if self._pool.closed:
            raise StopIteration
        while True:
            item = self._pop()
            if item is not _NOTHING:
                self._dispatch()  # one out, one in: at most prefetch*n batches held
                if item is _STOP:
                    continue
                return item
            if not self._in_flight:
                if not self._loader.persistent_workers:
                    self._finalizer()
                raise StopIteration
            self._receive()

    def _receive(self) -> None:
        pool = self._pool
        timeout = self._loader.timeout
        deadline = time.monotonic() + timeout if timeout > 0 else None
        sentinels = [p.sentinel for p in pool.processes]
        while True:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = wait(pool.conns + sentinels, left)
            if not ready:
                raise RuntimeError(
                    f"DataLoader timed out after {timeout} seconds waiting for a batch "
                    f"(batches in flight: {sorted(self._in_flight)[:8]})"
                )
            progressed = False
            for conn in ready:
                if conn in sentinels:
                    continue
                try:
                    msg = conn.recv()
                except (EOFError, OSError):
                    continue  # the worker died; its sentinel says how
                progressed |= self._handle(msg)
            if progressed:
                return
            error = pool.dead_worker_error()
            if error is not None:
                raise error

    def _handle(self, msg: tuple) -> bool:
        kind, epoch, idx = msg[0], msg[1], msg[2]
        if epoch != self._epoch:
            if kind == "data":
                _shm.release(msg[3])
            return False
        worker = self._in_flight.pop(idx)
        if kind == "data":
            item = _shm.unpack(msg[3])
        elif kind == "stop":
            self._active[worker] = False
            item = _STOP
        else:
            item = msg[3]
        if self._loader.in_order:
            self._buffer[idx] = item
        else:
            self._ready.append(item)
        return True
