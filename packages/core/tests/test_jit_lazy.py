"""ember.jit semantics: when lazy tensors are computed, where errors surface, the plan
and disk caches, compile()/explain()/stats(), dead-code and common-subexpression
elimination, in-place ops, and two processes compiling the same kernel at once."""

import os
import subprocess
import sys
import textwrap
import traceback

import numpy as np
import pytest

import ember
from ember.jit import LazyTensor


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_JIT_CACHE", str(tmp_path / "jit"))


def _x(*shape, seed=0):
    return ember.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


def _pending(t):
    return type(t) is LazyTensor and t._node is not None


@pytest.mark.parametrize(
    "access",
    [
        lambda t: t.numpy(),
        lambda t: t.sum().item() if t.ndim else t.item(),
        repr,
        str,
        lambda t: t.tolist(),
        lambda t: bool((t > 100).any()),  # a non-fusible op on a lazy input
        lambda t: t.reshape(-1),
        lambda t: t @ t.t(),
    ],
    ids=["numpy", "item", "repr", "str", "tolist", "any", "reshape", "matmul"],
)
def test_data_access_forces(access):
    x = _x(3, 4)
    with ember.jit.lazy():
        y = (x * 2).exp() - 1
        assert _pending(y)
        access(y)
        assert not _pending(y)
    np.testing.assert_allclose(y.numpy(), np.exp(x.numpy() * 2) - 1, rtol=1e-6, atol=1e-6)


def test_branch_on_value_forces_and_metadata_does_not():
    x = _x(5)
    with ember.jit.lazy():
        s = (x * x).sum()
        assert s.shape == () and s.dtype == ember.float32 and s.dim() == 0
        assert (x * 2).size(0) == 5 and len(x + 1) == 5 and (x + 1).numel() == 5
        assert _pending(s)
        took = "big" if s > 1 else "small"  # bool() forces
        assert not _pending(s)
    assert took == ("big" if float((x.numpy() ** 2).sum()) > 1 else "small")


def test_leaving_the_block_computes_live_tensors_only():
    x = _x(4)
    ember.jit.reset_stats()
    with ember.jit.lazy():
        y = x + 1
        _ = (x * 3).exp()  # rebound below: dead
        _ = None
    assert not _pending(y)
    assert ember.jit.stats()["forces"] == 1
    np.testing.assert_allclose(y.numpy(), x.numpy() + 1)


def test_eager_outside_the_block_is_untouched():
    x = _x(3)
    with ember.jit.lazy():
        pass
    assert type(x * 2) is ember.Tensor and ember.add is ember._ops.math.add
    with ember.jit.lazy(), ember.jit.lazy():  # nesting
        assert ember.jit.active()
        y = x * 2
    assert not ember.jit.active() and type(x + 1) is ember.Tensor
    np.testing.assert_allclose(y.numpy(), x.numpy() * 2)


def _raise_line(excinfo):
    frames = [f for f in traceback.extract_tb(excinfo.tb) if f.filename == __file__]
    return frames[-1].lineno


def test_broadcast_error_raised_at_the_op_with_eager_message():
    x, w = _x(3, 4), _x(5)
    with pytest.raises(RuntimeError) as eager:
        x + w
    with pytest.raises(RuntimeError) as lazy:
        with ember.jit.lazy():
            y = x * 2
            z = y + w  # the faulty op
            z.numpy()
    assert str(lazy.value) == str(eager.value)
    assert "(3, 4)" in str(lazy.value) and "(5,)" in str(lazy.value)
    src = open(__file__).read().splitlines()
    assert src[_raise_line(lazy) - 1].strip().startswith("z = y + w")


def test_reduction_dim_error_raised_at_the_op():
    x = _x(3, 4)
    with pytest.raises(IndexError, match="Dimension out of range") as lazy:
        with ember.jit.lazy():
            y = x.exp()
            s = y.sum(dim=2)  # the faulty op
            s.numpy()
    src = open(__file__).read().splitlines()
    assert src[_raise_line(lazy) - 1].strip().startswith("s = y.sum(dim=2)")


def test_unsupported_cases_fall_back_to_eager_with_its_errors():
    b = ember.tensor([True, False])
    with pytest.raises(RuntimeError, match="Negation"), ember.jit.lazy():
        _ = -b
    with pytest.raises(RuntimeError, match="could not infer output dtype"), ember.jit.lazy():
        ember.tensor([1, 2]).mean()
    h = _x(4).half()
    with ember.jit.lazy():
        r = (h * 2).float()  # float16 is computed eagerly
    np.testing.assert_allclose(r.numpy(), h.numpy().astype(np.float32) * 2)


def test_inplace_op_sees_the_values_from_before_it():
    x = _x(4)
    x0 = x.numpy().copy()
    with ember.jit.lazy():
        y = x + 1
        x.add_(10)  # must not leak into y
        x[0] = -5.0
        z = x * 1
    np.testing.assert_allclose(y.numpy(), x0 + 1)
    expect = x0 + 10
    expect[0] = -5
    np.testing.assert_allclose(z.numpy(), expect)


def test_plan_cache_hits_on_same_signature_and_misses_on_new_shape():
    ember.jit.reset_stats()

    def f(x):
        with ember.jit.lazy():
            return ((x * 0.5).tanh() + x).sum(0)

    f(_x(8, 3)).numpy()
    s1 = ember.jit.stats()
    f(_x(8, 3, seed=1)).numpy()
    s2 = ember.jit.stats()
    assert s2["hits"] == s1["hits"] + 1 and s2["misses"] == s1["misses"]
    f(_x(9, 3)).numpy()
    s3 = ember.jit.stats()
    assert s3["misses"] == s2["misses"] + 1 and s3["compiles"] == s2["compiles"] + 1


def test_disk_cache_serves_a_new_process(tmp_path):
    code = textwrap.dedent(
        """
        import ember, numpy as np
        x = ember.arange(12, dtype=ember.float32).reshape(3, 4)
        with ember.jit.lazy():
            y = (x * 0.25).sigmoid().sum(1)
        print(list(np.round(y.numpy(), 5)), ember.jit.stats()["compiles"],
              ember.jit.stats()["disk_hits"])
        """
    )
    env = {**os.environ, "EMBER_JIT_CACHE": str(tmp_path / "c")}
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr + runs[1].stderr
    first, second = (r.stdout.split("]")[1].split() for r in runs)
    assert first == ["1", "0"] and second == ["0", "1"]
    assert runs[0].stdout.split("]")[0] == runs[1].stdout.split("]")[0]


def test_concurrent_processes_compile_the_same_signature_safely(tmp_path):
    code = textwrap.dedent(
        """
        import sys, time, ember, numpy as np
        while time.time() < float(sys.argv[1]):
            time.sleep(0.001)
        x = ember.arange(1000, dtype=ember.float64) / 100
        with ember.jit.lazy():
            y = (x.sin() * x.cos() + 3.0).log().sum()
        ref = np.log(np.sin(np.arange(1000) / 100) * np.cos(np.arange(1000) / 100) + 3).sum()
        assert abs(y.item() - ref) < 1e-9 * abs(ref), (y.item(), ref)
        print("ok")
        """
    )
    import time

    cache = tmp_path / "shared"
    env = {**os.environ, "EMBER_JIT_CACHE": str(cache)}
    start = str(time.time() + 2.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, start],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    assert all(o[0].strip() == "ok" for o in outs)
    entries = sorted(os.listdir(cache))
    assert len([e for e in entries if not e.startswith(".")]) == 1, entries
    assert not [e for e in entries if e.startswith(".build")], entries


def test_compile_replays_on_same_signature_and_retraces_on_new_shape():
    calls = []

    @ember.jit.compile
    def f(x, y, scale):
        calls.append(1)
        z = (x * scale + y).tanh()
        return z, z.sum(1)

    x, y = _x(4, 5), _x(5, seed=1)
    ember.jit.reset_stats()
    z1, s1 = f(x, y, 2.0)
    z2, s2 = f(_x(4, 5, seed=2), y, 2.0)
    st = ember.jit.stats()
    assert len(calls) == 1 and st["replays"] == 1 and st["compiles"] == 1
    xr = _x(4, 5, seed=2).numpy()
    ref = np.tanh(xr * 2 + y.numpy())
    np.testing.assert_allclose(z2.numpy(), ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(s2.numpy(), ref.sum(1), rtol=1e-5, atol=1e-6)
    assert type(z2) is ember.Tensor
    f(_x(6, 5), y, 2.0)  # new shape: traced again
    f(x, y, 3.0)  # new Python value: traced again
    assert len(calls) == 3 and ember.jit.stats()["compiles"] == 3
    np.testing.assert_allclose(
        f(x, y, 3.0)[0].numpy(), np.tanh(x.numpy() * 3 + y.numpy()), rtol=1e-6, atol=1e-6
    )
    assert len(calls) == 3


def test_compile_does_not_replay_data_dependent_functions():
    calls = []

    @ember.jit.compile
    def f(x):
        calls.append(1)
        return x * 2 if (x.sum() > 0) else x * -1

    for seed in range(4):
        x = _x(6, seed=seed)
        ref = x.numpy() * (2 if x.numpy().sum() > 0 else -1)
        np.testing.assert_allclose(f(x).numpy(), ref, rtol=1e-6)
    assert len(calls) == 4


def test_compile_reads_captured_tensors_at_each_call():
    w = _x(3)

    @ember.jit.compile
    def f(x):
        return x * w + 1

    x = _x(3, seed=5)
    f(x)
    w.mul_(2)  # captured, changed in place
    np.testing.assert_allclose(f(x).numpy(), x.numpy() * w.numpy() + 1, rtol=1e-6)
    assert ember.jit.stats()["replays"] >= 1


def test_explain_shows_dead_code_and_cse_and_fused_kernels():
    def f(x, y):
        a = x * y
        b = x * y  # the same expression: computed once
        dead = (x + 100).exp()  # noqa: F841 - never used: never computed
        return (a + b).sigmoid().sum(1)

    e = ember.jit.explain(f, _x(4, 5), _x(5, seed=1))
    assert e.recorded == 7  # mul, mul, add, exp, add, sigmoid, sum
    assert e.computed == 5 and e.unique == 4  # without the dead add/exp; one mul
    assert len(e.kernels) == 1 and "= exp(" not in str(e)
    assert "jit_sigmoid" in e.source and "#pragma omp simd" in e.source
    text = str(e)
    assert "graph: 7 ops recorded" in text and "kern0" in text


def test_stored_values_ride_along_with_the_reduction_that_reads_them():
    x = _x(8, 32)

    def f(x):
        y = (x * 0.5).exp()  # kept, and reduced below: one pass does both
        s = y.sum(1)
        mu = x.mean(1, keepdim=True)
        xc = x - mu  # kept; the variance reads it
        var = (xc * xc).mean(1, keepdim=True)
        return y, s, xc, xc * (var + 1e-5).rsqrt()

    e = ember.jit.explain(f, x)
    # sum(y) stores y; mean(x); mean(xc*xc) stores xc; the normalized result needs var
    assert len(e.kernels) == 4, e.kernels
    assert sorted(len(st) for _, _, st in e.kernels) == [1, 1, 2, 2]
    eager = f(x)
    with ember.jit.lazy():
        lazy = f(x)
    for a, b in zip(lazy, eager, strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


def test_reused_result_buffers_never_alias_live_results():
    n = 1 << 17  # 512 KiB of float32: served by the buffer pool

    @ember.jit.compile
    def f(x):
        return x * 2 + 1

    xs = [_x(n, seed=s) for s in range(4)]
    r0 = f(xs[0])
    view = r0.numpy()[::2]  # a view keeps r0's block in use
    del r0
    r1 = f(xs[1])
    r2 = f(xs[2])
    assert not np.shares_memory(view, r1.numpy()) and not np.shares_memory(r1.numpy(), r2.numpy())
    keep = r2.numpy().copy()
    del r1
    r3 = f(xs[3])  # may reuse r1's block, never r2's or the viewed one
    np.testing.assert_array_equal(r2.numpy(), keep)
    np.testing.assert_allclose(view, (xs[0].numpy() * 2 + 1)[::2])
    np.testing.assert_allclose(r3.numpy(), xs[3].numpy() * 2 + 1)


def test_bad_shapes_in_where_and_clamp_raise_what_eager_raises():
    x, lo = _x(3, 4), _x(5)
    for f in (lambda: ember.clamp(x, lo, None), lambda: ember.where(x > 0, x, lo)):
        with pytest.raises(Exception) as eager:
            f()
        with pytest.raises(type(eager.value)) as lazy, ember.jit.lazy():
            f()
        assert str(lazy.value) == str(eager.value)
