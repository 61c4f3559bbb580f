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
