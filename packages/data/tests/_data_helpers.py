"""Datasets for ember-data's tests, importable by spawned worker processes."""

import os
import random
import signal
import time

import numpy as np

import ember
from ember.data import Dataset, IterableDataset, get_worker_info


class RangeDataset(Dataset):
    """Sample i is (a float32 array of shape (2, 3) filled with i, the int i)."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return np.full((2, 3), i, np.float32), i


class RandomAugDataset(Dataset):
    """Each sample draws from numpy's, random's and ember's global generators."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        info = get_worker_info()
        return {
            "index": i,
            "numpy": float(np.random.rand()),
            "random": random.random(),
            "ember": float(ember.rand(1).item()),
            "worker": -1 if info is None else info.id,
        }


class FailingDataset(RangeDataset):
    """Raises ``exc_type(message)`` when asked for index ``bad``."""

    def __init__(self, n, bad, exc_type=ValueError):
        super().__init__(n)
        self.bad = bad
        self.exc_type = exc_type

    def __getitem__(self, i):
        if i == self.bad:
            raise self.exc_type(f"sample {i} is corrupt")
        return super().__getitem__(i)


class NeedsTwoArgsError(Exception):
    """An exception whose constructor cannot take a single message."""

    def __init__(self, code, detail):
        super().__init__(code, detail)


class TwoArgFailingDataset(RangeDataset):
    def __getitem__(self, i):
        if i == 3:
            raise NeedsTwoArgsError(42, "bad")
        return super().__getitem__(i)


class SlowDataset(RangeDataset):
    """Sleeps ``delay`` seconds on index ``slow`` (all indices when slow is None)."""

    def __init__(self, n, delay, slow=None):
        super().__init__(n)
        self.delay = delay
        self.slow = slow

    def __getitem__(self, i):
        if self.slow is None or i == self.slow:
            time.sleep(self.delay)
        return super().__getitem__(i)


class SuicideDataset(RangeDataset):
    """The worker that fetches index ``fatal`` kills itself with SIGKILL."""

    def __init__(self, n, fatal):
        super().__init__(n)
        self.fatal = fatal

    def __getitem__(self, i):
        if i == self.fatal and get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return super().__getitem__(i)


class ShardedStream(IterableDataset):
    """0..n-1, split between workers in contiguous shards with get_worker_info."""

    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            lo, hi = 0, self.n
        else:
            per = -(-self.n // info.num_workers)
            lo, hi = info.id * per, min(self.n, (info.id + 1) * per)
        for i in range(lo, hi):
            yield np.array([i], np.int64)


class UnshardedStream(IterableDataset):
    """0..n-1 in every worker (no sharding)."""

    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))


def record_worker_init(worker_id):
    """worker_init_fn: marks the dataset copy of this worker."""
    info = get_worker_info()
    info.dataset.init_by = (worker_id, info.id, info.num_workers)


class InitRecordingDataset(RangeDataset):
    init_by = None

    def __getitem__(self, i):
        return {"i": i, "init_by": list(self.init_by), "pid": os.getpid()}


def failing_init(worker_id):
    raise RuntimeError(f"init failed in worker {worker_id}")


class FailingStream(IterableDataset):
    """Yields 0, 1, 2 then raises while producing the fourth sample."""

    def __iter__(self):
        for i in range(10):
            if i == 3:
                raise OSError("stream broke")
            yield i
