"""Tensors on CUDA devices: moving, creating, exchanging, streams, events and memory
statistics (needs a GPU; ``test_cuda_support.py`` covers the error paths on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest

import ember

pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(not ember.cuda.is_available(), reason="no CUDA device (needs a GPU)"),
]


def test_the_seed_snippet():
    x, y = ember.rand(5, 3), ember.rand(5, 3)
    want = (x + y).numpy()
    if ember.cuda.is_available():
        x = x.cuda()
        y = y.cuda()
        z = x + y
    assert z.is_cuda and z.device == ember.device("cuda", ember.cuda.current_device())
    np.testing.assert_array_equal(z.cpu().numpy(), want)


def test_moves_round_trip_and_keep_dtype():
    for dt in (ember.float32, ember.float64, ember.int64, ember.bool, ember.float16):
        x = ember.tensor([[1, 0], [3, 4]], dtype=dt)
        d = x.cuda()
        assert d.is_cuda and d.dtype == dt and d.shape == x.shape
        assert d.cuda() is d and d.to("cuda:0") is d and x.cpu() is x
        np.testing.assert_array_equal(d.cpu().numpy(), x.numpy())
        np.testing.assert_array_equal(x.to("cuda", non_blocking=True).to("cpu").numpy(), x.numpy())
    assert ember.ones(2).to(ember.device("cuda:0"), ember.float64).dtype == ember.float64


def test_creation_ops_allocate_on_the_device():
    for t in (
        ember.zeros(2, 3, device="cuda"),
        ember.ones(4, dtype=ember.int32, device="cuda:0"),
        ember.full((2,), 7.0, device="cuda"),
        ember.empty(3, device="cuda"),
        ember.arange(5, device="cuda"),
        ember.eye(3, device="cuda"),
        ember.tensor([1.0, 2.0], device="cuda"),
        ember.randn(3, device="cuda"),
        ember.zeros_like(ember.ones(2).cuda()),
    ):
        assert t.is_cuda, t
    assert ember.zeros(2, device="cuda").cpu().tolist() == [0.0, 0.0]
    assert ember.full((2,), 7.0, device="cuda").cpu().tolist() == [7.0, 7.0]


def test_autograd_on_the_device():
    pytest.importorskip("ember.autograd")
    w = ember.randn(4, 3, device="cuda", requires_grad=True)
    x = ember.randn(5, 4, device="cuda")
    loss = (x @ w).relu().sum()
    loss.backward()
    assert w.grad is not None and w.grad.is_cuda
    wc, xc = w.detach().cpu().requires_grad_(), x.cpu()
    (xc @ wc).relu().sum().backward()
    np.testing.assert_allclose(w.grad.cpu().numpy(), wc.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_zero_copy_exchange_with_cupy():
    import cupy

    a = cupy.arange(6, dtype=cupy.float32)
    t = ember.from_dlpack(a)
    assert t.is_cuda and t.data_ptr() == a.data.ptr
    t.add_(1)  # writes through
    assert float(a[0]) == 1.0
    b = cupy.from_dlpack(t)
    assert b.data.ptr == a.data.ptr
    c = cupy.asarray(t)  # __cuda_array_interface__
    assert c.data.ptr == a.data.ptr
    assert t.__cuda_array_interface__["data"][0] == a.data.ptr


def test_zero_copy_exchange_with_torch():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("this PyTorch has no CUDA")
    x = ember.arange(4, dtype=ember.float32, device="cuda")
    tt = torch.from_dlpack(x)
    assert tt.is_cuda and tt.data_ptr() == x.data_ptr()
    back = ember.from_dlpack(torch.ones(3, device="cuda"))
    assert back.is_cuda and back.cpu().tolist() == [1.0, 1.0, 1.0]


def test_streams_and_events_time_work():
    s = ember.cuda.Stream()
    start, end = ember.cuda.Event(enable_timing=True), ember.cuda.Event(enable_timing=True)
    with ember.cuda.stream(s):
        start.record()
        x = ember.randn(2048, 2048, device="cuda")
        y = x @ x
        end.record()
    assert ember.cuda.current_stream() != s  # restored after the block
    ms = start.elapsed_time(end)
    assert ms > 0.0 and end.query() and s.query()
    s.synchronize()
    assert y.shape == (2048, 2048)
    other = ember.cuda.Stream()
    other.wait_stream(s)
    other.wait_event(end)
    with pytest.raises(RuntimeError, match="enable_timing"):
        ember.cuda.Event().elapsed_time(end)


def test_memory_statistics_follow_allocations():
    ember.cuda.synchronize()
    ember.cuda.empty_cache()
    base = ember.cuda.memory_allocated()
    ember.cuda.reset_peak_memory_stats()
    x = ember.empty(1 << 20, device="cuda")  # 4 MiB
    assert ember.cuda.memory_allocated() - base >= 4 << 20
    assert ember.cuda.max_memory_allocated() >= base + (4 << 20)
    del x
    assert ember.cuda.memory_allocated() == base
    assert ember.cuda.max_memory_allocated() >= base + (4 << 20)  # the peak stays
    assert ember.cuda.memory_reserved() >= ember.cuda.memory_allocated()
    ember.cuda.empty_cache()


def test_device_queries():
    assert ember.cuda.device_count() >= 1
    assert isinstance(ember.cuda.get_device_name(), str)
    major, _ = ember.cuda.get_device_capability()
    assert major >= 7
    with ember.cuda.device(0):
        assert ember.cuda.current_device() == 0
    g = ember.Generator("cuda").manual_seed(5)
    assert g.device.type == "cuda"
    a = ember.rand(10, generator=g, device="cuda")
    b = ember.rand(10, generator=ember.Generator().manual_seed(5))
    np.testing.assert_array_equal(a.cpu().numpy(), b.numpy())


def test_module_and_optimizer_on_the_device():
    nn = pytest.importorskip("ember.nn")
    optim = pytest.importorskip("ember.optim")
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)).cuda()
    assert all(p.is_cuda for p in m.parameters())
    opt = optim.Adam(m.parameters(), lr=1e-2)
    x, t = ember.randn(16, 4, device="cuda"), ember.randint(0, 2, (16,), device="cuda")
    for _ in range(3):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(m(x), t)
        loss.backward()
        opt.step()
    for state in opt.state.values():
        for k, v in state.items():
            if isinstance(v, ember.Tensor) and k != "step":
                assert v.is_cuda, k
