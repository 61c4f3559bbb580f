"""Worker failures: errors re-raised with context, dead and hung workers, cleanup."""

import gc
import os
import signal
import threading
import time

import pytest
from _data_helpers import (
    FailingDataset,
    FailingStream,
    RangeDataset,
    SlowDataset,
    SuicideDataset,
    TwoArgFailingDataset,
    failing_init,
)

from ember.data import DataLoader, WorkerError

pytestmark = pytest.mark.usefixtures("no_leaks")


def _segments(prefix="em"):
    return [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_worker_exception_keeps_type_and_names_worker_and_sample(context):
    loader = DataLoader(
        FailingDataset(12, bad=7), batch_size=4, num_workers=2, multiprocessing_context=context
    )
    it = iter(loader)
    assert next(it)[1].tolist() == [0, 1, 2, 3]
    with pytest.raises(ValueError) as info:
        next(it)
    msg = str(info.value)
    assert "DataLoader worker 1" in msg and "sample index 7" in msg
    assert "sample 7 is corrupt" in msg
    assert "in __getitem__" in msg and "_data_helpers.py" in msg  # the worker's traceback
    assert info.value.worker_id == 1
    del info
    # like PyTorch, the iterator goes on with the next batch
    assert next(it)[1].tolist() == [8, 9, 10, 11]
    del it


def test_main_process_errors_are_the_original_exception():
    with pytest.raises(ValueError, match="sample 2 is corrupt"):
        list(DataLoader(FailingDataset(4, bad=2), batch_size=2))


def test_unrebuildable_exception_becomes_worker_error():
    with pytest.raises(WorkerError, match="NeedsTwoArgsError") as info:
        list(DataLoader(TwoArgFailingDataset(6), batch_size=2, num_workers=1))
    assert "sample index 3" in str(info.value)


def test_key_error_message_stays_readable():
    with pytest.raises(KeyError) as info:
        list(DataLoader(FailingDataset(4, bad=1, exc_type=KeyError), num_workers=1))
    assert "\n" in str(info.value) and "Original traceback" in str(info.value)


def test_worker_init_fn_failure_is_reported():
    with pytest.raises(RuntimeError, match=r"in worker_init_fn[\s\S]*init failed in worker 0"):
        list(DataLoader(RangeDataset(4), num_workers=1, worker_init_fn=failing_init))


def test_worker_killed_by_a_signal_is_detected_promptly():
    loader = DataLoader(SuicideDataset(40, fatal=9), batch_size=2, num_workers=2)
    t0 = time.monotonic()
    with pytest.raises(
        RuntimeError,
        match=r"worker \d \(pid \d+\) exited unexpectedly with "
        r"exit code -9 \(killed by signal SIGKILL\)",
    ):
        list(loader)
    assert time.monotonic() - t0 < 5


def test_worker_killed_from_outside_while_main_waits():
    loader = DataLoader(SlowDataset(40, delay=0.2), batch_size=2, num_workers=2)
    it = iter(loader)
    next(it)
    pid = it._pool.processes[1].pid
    os.kill(pid, signal.SIGKILL)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=rf"pid {pid}\) exited unexpectedly"):
        for _ in it:
            pass
    assert time.monotonic() - t0 < 3
    assert it.closed
    del it


def test_timeout_raises_instead_of_hanging():
    loader = DataLoader(SlowDataset(4, delay=5.0, slow=2), batch_size=2, num_workers=1, timeout=0.5)
    it = iter(loader)
    next(it)
    t0 = time.monotonic()
    with pytest.raises(RuntimeError, match=r"timed out after 0.5 seconds"):
        next(it)
    assert time.monotonic() - t0 < 2.5  # 0.5 s wait + worker shutdown
    del it


def test_ctrl_c_shuts_the_workers_down():
    loader = DataLoader(SlowDataset(100, delay=0.1), batch_size=2, num_workers=2)
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    it = iter(loader)
    pids = [p.pid for p in it._pool.processes]
    try:
        with pytest.raises(KeyboardInterrupt):
            for _ in it:
                pass
    finally:
        timer.cancel()
    assert it.closed
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    del it


def test_garbage_collected_iterator_frees_workers_and_segments():
    loader = DataLoader(RangeDataset(400), batch_size=8, num_workers=2, prefetch_factor=4)
    it = iter(loader)
    next(it)
    prefix = it._pool.prefixes[0].rsplit("_", 2)[0]  # em<pid>_<token>: both workers
    procs = list(it._pool.processes)
    deadline = time.monotonic() + 5
    while len(_segments(prefix)) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)  # let the workers fill their prefetch slots
    assert len(_segments(prefix)) >= 4, "expected batches in flight in shared memory"
    del it
    gc.collect()
    assert not any(p.is_alive() for p in procs)
    assert _segments(prefix) == []


def test_batches_outlive_the_loader_and_their_segment_names():
    loader = DataLoader(RangeDataset(6), batch_size=3, num_workers=2)
    it = iter(loader)
    prefix = it._pool.prefixes[0].rsplit("_", 2)[0]
    batches = list(it)
    del loader, it
    gc.collect()
    assert _segments(prefix) == []
    # the memory stays mapped while the tensors live
    assert [x.numpy()[:, 0, 0].tolist() for x, _y in batches] == [[0, 1, 2], [3, 4, 5]]


def test_iterable_dataset_error_names_the_stream_position():
    with pytest.raises(OSError, match=r"worker 0 while fetching sample #3 of the worker's stream"):
        list(DataLoader(FailingStream(), batch_size=2, num_workers=1))


def test_unpicklable_collate_fn_with_spawn_fails_cleanly():
    loader = DataLoader(
        RangeDataset(4),
        num_workers=2,
        multiprocessing_context="spawn",
        collate_fn=lambda batch: batch,
    )
    # AttributeError or PicklingError depending on where the lambda lives
    with pytest.raises(Exception, match="pickle"):
        iter(loader)
