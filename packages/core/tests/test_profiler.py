"""ember.profiler: counts and times ops while active, costs nothing after."""

import json

import ember
from ember._tensor import Tensor


def test_profile_counts_ops_and_restores_everything(tmp_path):
    before = (Tensor.__add__, Tensor.sum, ember.matmul, Tensor.add_)
    x = ember.randn(8, 8)
    with ember.profiler.profile() as prof:
        for _ in range(3):
            y = (x + 1) @ x
            y.sum()
        x.add_(1)
    assert prof.stats["add"].count == 3
    assert prof.stats["matmul"].count == 3
    assert prof.stats["sum"].count == 3
    assert prof.stats["add_"].count == 1
    assert prof.stats["matmul"].output_bytes == 3 * 8 * 8 * 4
    assert all(s.cpu_time_s > 0 for s in prof.stats.values())
    assert "matmul" in prof.table()
    assert (Tensor.__add__, Tensor.sum, ember.matmul, Tensor.add_) == before
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    events = json.loads(path.read_text())["traceEvents"]
    assert len(events) == 10 and {e["ph"] for e in events} == {"X"}


def test_nested_ops_count_toward_caller():
    x = ember.randn(4, 4, dtype=ember.float64)
    with ember.profiler.profile() as prof:
        ember.norm(x)  # composed of mul/sum/sqrt internally
    assert set(prof.stats) == {"norm"}


class _FakeEvent:
    """Stands in for ember.cuda.Event: a device clock that advances 2 ms per record,
    so each op's bracket measures exactly 2 ms and the bookkeeping can be checked
    without a GPU (the real path is checked by the device test below)."""

    clock = 0.0

    def record(self):
        _FakeEvent.clock += 2.0
        self.t = _FakeEvent.clock

    def elapsed_time(self, end):
        return end.t - self.t


def test_cuda_event_bookkeeping_without_gpu(monkeypatch, tmp_path):
    import ember.profiler as profiler

    monkeypatch.setattr(profiler, "_cuda_event_factory", lambda use: _FakeEvent)
    x = ember.randn(4, 4)
    with profiler.profile(use_cuda=True) as prof:
        for _ in range(3):
            x + 1
        ember.norm(x)  # its inner ops are not bracketed separately
    assert prof.stats["add"].cuda_time_s == 3 * 2e-3
    assert prof.stats["norm"].cuda_time_s == 2e-3
    assert "cuda total" in prof.table(sort_by="cuda_time_s")
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    cuda_rows = [e for e in json.loads(path.read_text())["traceEvents"] if e["cat"] == "cuda"]
    assert len(cuda_rows) == 4 and all(e["dur"] == 2000.0 for e in cuda_rows)
    # offsets from the origin event: the k-th op's start is 2 ms * (2k - 1) later
    assert sorted(e["ts"] for e in cuda_rows) == [2000.0, 6000.0, 10000.0, 14000.0]


def test_use_cuda_without_a_device_is_refused_or_off():
    import pytest

    if ember.cuda.is_available():
        pytest.skip("a GPU is present: covered by the device test")
    with pytest.raises(RuntimeError, match=r"use_cuda=True\) needs a CUDA device"):
        with ember.profiler.profile(use_cuda=True):
            pass
    with ember.profiler.profile() as prof:  # default: off without a GPU
        ember.ones(2) + 1
    assert prof.stats["add"].cuda_time_s == 0.0
    assert "cuda total" not in prof.table()
    with pytest.raises(ValueError, match="sort_by"):
        prof.table(sort_by="time")


def test_cuda_time_on_a_gpu():
    import pytest

    if not ember.cuda.is_available():
        pytest.skip("no CUDA device: ember.cuda.is_available() is False")
    x = ember.randn(2048, 2048, device="cuda")
    with ember.profiler.profile() as prof:
        for _ in range(3):
            x @ x
    s = prof.stats["matmul"]
    # 3 sgemms of 2048^3 are at least microseconds of device time, and the CPU only
    # queued them: the device total must be positive and finite
    assert s.count == 3 and 0 < s.cuda_time_s < 10
