"""In-process checks that need no MPI job: the sampler, the launcher's command line,
header mismatch reports, and argument/back-end errors."""

import datetime
import time

import ml_dtypes
import numpy as np
import pytest

import ember
import ember.distributed as dist
from ember.distributed import _meta
from ember.distributed.run import build_command, find_mpiexec


# ----- DistributedSampler -----
def _shares(n, replicas, **kw):
    return [list(dist.DistributedSampler(range(n), replicas, r, **kw)) for r in range(replicas)]


@pytest.mark.parametrize("n, replicas", [(10, 3), (12, 4), (2, 4), (7, 1)])
def test_sampler_pads_and_covers(n, replicas):
    shares = _shares(n, replicas, shuffle=False)
    per = -(-n // replicas)  # ceil
    assert all(len(s) == per for s in shares)
    # without shuffle: index list 0..n-1 padded by wrapping, dealt round-robin
    padded = [i % n for i in range(per * replicas)]
    for r, s in enumerate(shares):
        assert s == padded[r::replicas]
    assert set().union(*map(set, shares)) == set(range(n))


def test_sampler_drop_last_is_disjoint():
    shares = _shares(10, 3, shuffle=True, seed=5, drop_last=True)
    assert [len(s) for s in shares] == [3, 3, 3]
    flat = sum(shares, [])
    assert len(set(flat)) == 9 and set(flat) <= set(range(10))


def test_sampler_epochs_reshuffle_consistently():
    a = dist.DistributedSampler(range(50), 2, 0, seed=3)
    b = dist.DistributedSampler(range(50), 2, 1, seed=3)
    e0 = list(a) + list(b)
    assert sorted(e0) == list(range(50))  # one permutation, split between the ranks
    assert list(a) == e0[:25]  # same epoch: same order
    a.set_epoch(1)
    b.set_epoch(1)
    e1 = list(a) + list(b)
    assert sorted(e1) == list(range(50)) and e1 != e0
    perm = np.random.default_rng(3 + 1).permutation(50)
    assert list(a) == perm[0::2].tolist()  # the documented recipe: seed + epoch


def test_sampler_validates():
    with pytest.raises(ValueError, match=r"rank must be in \[0, 2\)"):
        dist.DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="num_replicas"):
        dist.DistributedSampler(range(4), num_replicas=0, rank=0)
    with pytest.raises(RuntimeError, match="initialized"):
        dist.DistributedSampler(range(4))


# ----- launcher -----
def test_launcher_command_line(tmp_path):
    mpiexec = find_mpiexec()
    cmd = build_command(4, ["train.py", "--lr", "0.1"], mpiexec)
    assert cmd[:3] == [mpiexec, "-n", "4"]
    assert cmd[-4:] == ["ember.distributed._bootstrap", "train.py", "--lr", "0.1"]
    hosts = tmp_path / "hosts"
    hosts.write_text("node1:2\nnode2:2\n")
    cmd = build_command(4, ["train.py"], mpiexec, hostfile=str(hosts))
    assert str(hosts) in cmd and cmd[cmd.index(str(hosts)) - 1] in ("-f", "--hostfile")
    with pytest.raises(FileNotFoundError, match="host file"):
        build_command(2, ["t.py"], mpiexec, hostfile=str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="-n must be at least 1"):
        build_command(0, ["t.py"], mpiexec)
    with pytest.raises(FileNotFoundError, match="was not found"):
        find_mpiexec("/nonexistent/mpiexec")


# ----- header mismatch reports -----
def test_mismatch_report_names_ranks_and_shapes():
    rows = np.stack(
        [
            _meta.header("all_reduce", (3, 4), np.float32, redop="SUM"),
            _meta.header("all_reduce", (3, 4), np.float32, redop="SUM"),
            _meta.header("all_reduce", (4,), np.float32, redop="SUM"),
        ]
    )
    msg = _meta.mismatch("all_reduce", rows, [0, 1, 5])
    assert "tensor shapes do not match" in msg
    assert "rank 0: all_reduce(shape (3, 4), float32, SUM)" in msg
    assert "rank 5: all_reduce(shape (4,), float32, SUM)" in msg and "rank 1" not in msg
    assert _meta.mismatch("all_reduce", rows[:2], [0, 1]) is None
    ops = np.stack([_meta.header("broadcast", (2,), np.int64, 0), _meta.header("barrier")])
    assert "operations do not match" in _meta.mismatch("x", ops, [0, 1])
    deep = [_meta.header("all_reduce", (1,) * 9 + (k,), np.float32) for k in (2, 3)]
    assert _meta.mismatch("all_reduce", np.stack(deep), [0, 1]) is not None


def test_headers_are_memoized_per_signature_and_read_only():
    h = _meta.header("all_reduce", (3, 4), np.float32, redop="SUM")
    # the same signature, spelled with other objects, gives the same row
    again = _meta.header("all_reduce", [3, 4], np.dtype("float32"), redop="SUM")
    assert again.tobytes() == h.tobytes()
    assert _meta.header("all_reduce", (3, 4), np.float32, redop="SUM") is h
    assert not h.flags.writeable  # shared between calls: nobody may scribble on it
    # every field that differs gives a different row
    others = [
        _meta.header("all_reduce", (4, 3), np.float32, redop="SUM"),
        _meta.header("all_reduce", (3, 4), np.float64, redop="SUM"),
        _meta.header("all_reduce", (3, 4), np.float32, redop="MAX"),
        _meta.header("reduce", (3, 4), np.float32, 0, "SUM"),
    ]
    assert len({h.tobytes(), *(o.tobytes() for o in others)}) == 5
    # the row itself, written out: op, dtype, root, redop, ndim, dims, numel, extra, spare
    want = [_meta.OPS.index("all_reduce"), 8, -1, 0, 2, 3, 4, *[-1] * 6, 12, 0, -1]
    assert h.tolist() == want


def test_header_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(_meta, "_HEADERS", {})
    monkeypatch.setattr(_meta, "_CACHE_MAX", 8)
    rows = [_meta.header("broadcast", (k,), np.int64, 0).tobytes() for k in range(20)]
    assert len(_meta._HEADERS) <= 8 and len(set(rows)) == 20
    assert _meta.header("broadcast", (3,), np.int64, 0).tobytes() == rows[3]


def test_dtype_name_matches_numpy():
    for dt in (np.float32, np.dtype("int8"), "float64", np.dtype(ml_dtypes.bfloat16)):
        assert _meta.dtype_name(dt) == np.dtype(dt).name


class _Ready:
    """A request that completes on its n-th test (counts the tests)."""

    def __init__(self, n):
        self.n, self.calls = n, 0

    def test(self):
        self.calls += 1
        return self.calls >= self.n


@pytest.mark.parametrize("spin", [(0.0, 0.0), (1e-3, 2e-4)])
def test_poll_returns_when_done_and_times_out_with_the_operation_named(monkeypatch, spin):
    from ember.distributed import _work

    monkeypatch.setattr(_work, "_first_spin_s", spin[0])
    monkeypatch.setattr(_work, "_spin_s", spin[1])
    req = _Ready(50)
    _work.poll(req, time.monotonic() + 10, lambda: "never used", 10)
    assert req.calls == 50
    said = r"all_reduce on rank 3 did not complete within 0\.05 s: a peer may have crashed"
    start = time.monotonic()
    with pytest.raises(dist.DistTimeoutError, match=said):
        _work.poll(_Ready(10**12), start + 0.05, lambda: "all_reduce on rank 3", 0.05)
    assert 0.05 <= time.monotonic() - start < 5


# ----- errors without a job -----
def test_use_before_init_is_an_error():
    assert not dist.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.get_rank()
    with pytest.raises(RuntimeError, match="init_process_group"):
        dist.all_reduce(ember.zeros(2))


def test_init_argument_errors():
    with pytest.raises(ValueError, match="unknown backend 'gloo'"):
        dist.init_process_group("gloo")
    with pytest.raises(ValueError, match="init_method"):
        dist.init_process_group("mpi", init_method="tcp://10.0.0.1:23456")
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group("mpi", timeout=-1)
    with pytest.raises(ValueError, match="timeout"):
        dist.init_process_group("mpi", timeout=datetime.timedelta(seconds=0))
    assert not dist.is_initialized()


def test_nccl_without_cuda_says_what_is_missing():
    if dist.is_nccl_available():
        pytest.skip("a GPU with NCCL is present")
    with pytest.raises(RuntimeError, match="backend 'nccl' needs"):
        dist.init_process_group("nccl")
    assert not dist.is_initialized()


def test_reduce_op_names():
    assert [op.name for op in dist.ReduceOp][:5] == ["SUM", "PRODUCT", "MIN", "MAX", "AVG"]
