"""ember.jit's CUDA dispatch, run without a GPU on stand-in device storage
(``ember._cuda.standin``): CUDA tensors make CUDA graph nodes, graphs never mix devices,
plans are keyed per device, outputs are allocated through ``ember.cuda``, each kernel of
the generated CUDA source is launched once with a grid computed from its work and with
every program slot as an argument.

The stand-in launcher (``ember.jit._gpu_standin``) records each launch and then
computes the graph with the CPU kernels generated from the same canonical graph, on
the host views of the same (stand-in) memory. What this proves: the plumbing
(placement, keys, slots, grids, allocation, fallback rules, autograd's device
buffers). What it does not: that the CUDA source is right (nvcc and NVRTC compile it
in test_jit_cuda_compile.py; it runs in test_jit_cuda_run.py on a GPU), or anything
about CuPy's launches.
"""

import numpy as np
import pytest

import ember
from ember._cuda import standin
from ember.jit import LazyTensor, _gpu, _gpu_standin, _lazy


@pytest.fixture
def rec(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBER_JIT_CACHE", str(tmp_path / "jit"))
    monkeypatch.delenv("EMBER_JIT_CUDA", raising=False)
    return _gpu_standin.activate(monkeypatch, sms=2)


def _x(*shape, seed=0, dtype=np.float32):
    return ember.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def _pending(t):
    return type(t) is LazyTensor and t._node is not None


def test_cuda_graph_is_built_placed_launched_and_matches_numpy(rec):
    xh = _x(40, 30)
    bh = _x(30, seed=1)
    x, b = xh.cuda(), bh.cuda()
    with ember.jit.lazy():
        y = ((x + b) * 0.5).tanh()
        s = y.sum(1)
        assert _pending(y) and _pending(s)
        assert y.is_cuda and not y.is_cpu and y.device == ember.device("cuda", 0)
        assert s.device == x.device
        assert rec.launches == []  # nothing ran yet
        yv, sv = y.cpu().numpy(), s.cpu().numpy()
    assert isinstance(y._a, standin.StandIn) and isinstance(s._a, standin.StandIn)
    ref = np.tanh((xh.numpy() + bh.numpy()) * 0.5)
    np.testing.assert_allclose(yv, ref, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(sv, ref.sum(1), rtol=1e-5, atol=1e-5)
    # one NVRTC module, one reduction kernel and one elementwise kernel, both launched
    # with every slot (x, b, y, s) as a device array
    assert len(rec.modules) == 1 and rec.modules[0][2] == 0
    src = rec.modules[0][0]
    assert src.count("__global__") == 2
    names = [n for n, *_ in rec.launches]
    assert sorted(names) == sorted(rec.modules[0][1]) and len(names) == 2
    for _name, _g, b_, args in rec.launches:
        assert b_ == (256,) and len(args) == 4
        assert all(isinstance(a, standin.StandIn) for a in args)
    grids = {n: g for n, g, *_ in rec.launches}
    bodies = {n: src.split(f"void {n}(")[1].split("__global__")[0] for n in names}
    red = next(n for n in names if "__shared__" in bodies[n])
    ew = next(n for n in names if n != red)
    assert grids[red] == (40,)  # one block per output row (40 < 2 SMs * 32)
    assert grids[ew] == (5,)  # ceil(1200 / 256)


def test_grid_math():
    assert _gpu.grid("ew", 0, 4) == 1
    assert _gpu.grid("ew", 256, 4) == 1 and _gpu.grid("ew", 257, 4) == 2
    assert _gpu.grid("ew", 10**9, 4) == 4 * _gpu.WAVES  # capped: grid-stride loop covers the rest
    assert _gpu.grid("red", 1, 132) == 1 and _gpu.grid("red", 7, 132) == 7
    assert _gpu.grid("red", 10**6, 132) == 132 * _gpu.WAVES


def test_plan_cache_hits_and_keys_per_device(rec, monkeypatch):
    x = _x(8, 8).cuda()
    before = dict(ember.jit.stats())
    for _ in range(3):
        with ember.jit.lazy():
            y = (x * 3 + 1).amax(0)
            y.cpu()
    st = ember.jit.stats()
    assert st["misses"] - before["misses"] == 1 and st["hits"] - before["hits"] == 2
    assert len(rec.modules) == 1 and len(rec.launches) == 3
    # the same graph on the CPU is another plan
    xc = _x(8, 8)
    with ember.jit.lazy():
        yc = (xc * 3 + 1).amax(0)
        yc.numpy()
    assert ember.jit.stats()["misses"] - before["misses"] == 2
    np.testing.assert_array_equal(y.cpu().numpy(), yc.numpy())
    # the NVRTC module key covers the source, the compute capability and the versions
    src = rec.modules[0][0]
    k = _gpu.module_key(src, 0)
    assert _gpu.module_key(src + " ", 0) != k
    monkeypatch.setattr(_gpu, "compute_capability", lambda dev: "80")
    assert _gpu.module_key(src, 0) != k
    monkeypatch.setattr(_gpu, "compute_capability", lambda dev: "90")
    monkeypatch.setattr(_gpu, "versions", lambda: "cupy other")
    assert _gpu.module_key(src, 0) != k


def _raised(fn):
    try:
        fn()
    except Exception as e:  # the test compares whatever eager raises
        return type(e), str(e)
    return None


@pytest.mark.parametrize(
    "op",
    [
        lambda a, b: a + b,
        lambda a, b: ember.where(a > 0, a, b),
        lambda a, b: a.clamp(b, None),
        lambda a, b: ember.maximum(a, b),
    ],
    ids=["add", "where", "clamp", "maximum"],
)
def test_cpu_and_cuda_in_one_graph_raise_what_eager_raises(rec, op):
    a, b = _x(4, 3).cuda(), _x(4, 3, seed=1)
    eager = _raised(lambda: op(a, b))
    assert eager is not None  # eager refuses to mix devices
    with ember.jit.lazy():
        assert _raised(lambda: op(a, b)) == eager
        lz = _raised(lambda: op(a * 1, b * 1))  # both pending, on different devices
    assert lz == eager


def test_fallbacks_to_eager(rec, monkeypatch):
    h = _x(5, dtype=np.float16).cuda()
    with ember.jit.lazy():
        y = h * 2  # float16 is not fused: eager computes it
        assert not _pending(y) and y.is_cuda
    monkeypatch.setenv("EMBER_JIT_CUDA", "0")
    x = _x(5).cuda()
    with ember.jit.lazy():
        z = x * 2
        assert not _pending(z) and z.is_cuda
    assert rec.launches == []


def test_reading_one_device_leaves_the_other_pending(rec):
    xc, xg = _x(6), _x(6, seed=2).cuda()
    with ember.jit.lazy():
        c = xc.exp()
        g = xg.exp()
        c.numpy()
        assert not _pending(c) and _pending(g)
        assert rec.launches == []
        _lazy.flush()
        assert not _pending(g) and len(rec.launches) == 1
    np.testing.assert_allclose(g.cpu().numpy(), np.exp(standin.to_host(xg._a)), rtol=1e-6)


def test_autograd_through_cuda_lazy_graph(rec):
    pytest.importorskip("ember.autograd")
    xh = _x(7, 5)
    x = xh.cuda().requires_grad_()
    with ember.jit.lazy():
        # GELU (tanh form) written in ember ops: autograd records lazily on the device
        y = 0.5 * x * (1 + ((x + 0.044715 * x * x * x) * 0.7978845608028654).tanh())
        y.sum().backward()
    g = x.grad
    assert g.is_cuda and isinstance(g._a, standin.StandIn)
    v = xh.numpy().astype(np.float64)
    u = 0.7978845608028654 * (v + 0.044715 * v**3)
    du = 0.7978845608028654 * (1 + 3 * 0.044715 * v**2)
    ref = 0.5 * (1 + np.tanh(u)) + 0.5 * v * (1 - np.tanh(u) ** 2) * du
    np.testing.assert_allclose(g.cpu().numpy(), ref, rtol=1e-4, atol=1e-5)
    assert rec.launches  # the backward graph ran through the CUDA plans


def test_long_reductions_take_two_passes_with_a_scratch_buffer(rec):
    h = np.random.default_rng(3).standard_normal((3, 100_000)).astype(np.float32)
    h[2, 777] = np.nan
    x = ember.from_numpy(h).cuda()
    with ember.jit.lazy():
        s = x.sum()  # 300k elements, one output
        m = x.amax(1)  # 3 outputs of 100k
        got_s, got_m = s.cpu().numpy(), m.cpu().numpy()
    ok = ~np.isnan(h)
    np.testing.assert_allclose(got_m[:2], h[:2].max(1))
    assert np.isnan(got_m[2]) and np.isnan(got_s)  # a NaN in one chunk reaches the result
    launches = {n: (g, args) for n, g, _, args in rec.launches}
    # 300000 / 8192 -> 37 chunks for the sum, 13 per row for the max: pass 1 gets one
    # block per chunk (capped at 2 SMs * 32), pass 2 one per output
    sums = sorted(n for n in launches if launches[n][0] in ((37,), (1,)))
    assert len(rec.launches) == 4 and len(sums) == 2
    grids = sorted(g for g, _ in launches.values())
    assert grids == [(1,), (3,), (37,), (39,)]
    (_, args) = launches[sums[0]]
    shapes = sorted(a.shape for a in args)
    assert (37,) in shapes and (39,) in shapes  # the two partials buffers, on the device
    assert all(isinstance(a, standin.StandIn) for a in args)
    x2 = ember.from_numpy(np.where(ok, h, 0).astype(np.float32)).cuda()
    with ember.jit.lazy():
        s2 = x2.mean()
        got = s2.cpu().numpy()
    np.testing.assert_allclose(got, np.where(ok, h, 0).astype(np.float64).mean(), rtol=1e-6)


def test_explain_shows_the_cuda_kernels(rec):
    x = _x(16, 8).cuda()
    e = ember.jit.explain(lambda t: (t.exp() * 2).sum(1), x)
    text = str(e)
    assert "ember_jit_kern0" in text and "__global__" in e.source
    assert len(e.kernels) == 1 and len(rec.launches) == 1
