"""The engine: recording, backward, grad, higher order, modes, hooks, errors,
custom Functions, memory. References are hand-derived or finite differences."""

import gc
import math
import threading
import weakref

import numpy as np
import pytest

import ember
from ember.autograd import Function, Variable, grad, gradcheck, gradgradcheck

RNG = np.random.default_rng(0)


def t64(*shape, rg=True):
    return ember.from_numpy(RNG.standard_normal(shape)).requires_grad_(rg)


# ----- the seed's snippets -----
def test_seed_rnn_cell_gradients_match_hand_derivation():
    x = Variable(ember.randn(1, 10))
    prev_h = Variable(ember.randn(1, 20))
    W_h = Variable(ember.randn(20, 20), requires_grad=True)
    W_x = Variable(ember.randn(20, 10), requires_grad=True)
    i2h = ember.mm(W_x, x.t())
    h2h = ember.mm(W_h, prev_h.t())
    next_h = i2h + h2h
    next_h = next_h.tanh()
    next_h.backward(ember.ones(1, 20))  # the seed's (legacy-shaped) gradient
    pre = W_x.detach().numpy() @ x.numpy().T + W_h.detach().numpy() @ prev_h.numpy().T
    d = 1 - np.tanh(pre) ** 2  # (20, 1)
    np.testing.assert_allclose(W_x.grad.numpy(), d @ x.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(W_h.grad.numpy(), d @ prev_h.numpy(), rtol=1e-5, atol=1e-6)


def test_seed_linear_regression_loop():
    trX = ember.linspace(-1, 1, 101)
    trY = 2 * trX + ember.randn(*trX.size()) * 0.33
    w = Variable(trX.new([0.0]), requires_grad=True)
    for _ in range(10):
        for x, y in zip(trX, trY):
            X = Variable(x)
            Y = Variable(y)
            y_model = X * w.expand_as(X)
            cost = (Y - y_model) ** 2
            cost.backward(ember.ones(*cost.size()))
            w.data = w.data + 0.01 * w.grad.data
    # Each step adds -2x(y - w x) * 0.01 to w.grad's running sum: same as numpy's loop.
    xs, ys = trX.numpy(), trY.numpy()
    wn, g = 0.0, 0.0
    for _ in range(10):
        for x, y in zip(xs, ys):
            g += float(-2 * x * (y - wn * x))
            wn = wn + 0.01 * g
    assert abs(w.item() - wn) < 1e-3 * max(1, abs(wn))


def test_backward_accumulates_and_broadcasts():
    a = t64(3, 1)
    b = t64(1, 4)
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), np.repeat(b.detach().numpy().sum(), 3)[:, None])
    np.testing.assert_allclose(b.grad.numpy(), np.full((1, 4), a.detach().numpy().sum()))
    (a * b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * np.repeat(b.detach().numpy().sum(), 3)[:, None])


def test_grad_fn_chain_and_leaves():
    x = t64(2)
    y = (x * 2).exp()
    assert x.is_leaf and not y.is_leaf
    assert y.grad_fn.name() == "ExpBackward0"
    nxt = y.grad_fn.next_functions[0][0]
    assert nxt.name() == "MulBackward0"
    assert nxt.next_functions[0][0].name() == "AccumulateGrad"
    assert nxt.next_functions[0][0].variable is x
    assert "grad_fn=<ExpBackward0>" in repr(y)


def test_non_float_tensors_cannot_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2]).requires_grad_()
    idx = t64(3).argmax()
    assert not idx.requires_grad
    assert not (t64(3) > 0).requires_grad


def test_backward_errors():
    x = t64(3)
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        (x * 2).backward()
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()
    z = (x * x).sum()
    z.backward(retain_graph=True)
    z.backward()  # retained: fine
    np.testing.assert_allclose(x.grad.numpy(), 6 * x.detach().numpy())
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.ones(2).sum().backward()
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(ember.ones(4, dtype=ember.float64))


def test_inplace_on_saved_tensor_is_caught():
    x = t64(3)
    y = x * 2
    z = y.exp()  # saves its output
    z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*version 1"):
        z.sum().backward()
    a = t64(3)
    b = a.sin()  # saves its input (a leaf): a later in-place change must be caught
    with ember.no_grad():
        a.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        b.sum().backward()


def test_inplace_on_leaf_requiring_grad_is_refused():
    x = t64(3)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with ember.no_grad():
        x.add_(1)  # allowed: optimizers do this


def test_inplace_on_non_leaf_is_differentiated():
    x = t64(4)
    y = x * 3
    y.mul_(y)  # y = (3x)^2
    y.add_(1)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 18 * x.detach().numpy())


def test_inplace_through_view_updates_base_graph():
    x = t64(4)
    y = x * 2
    y[1:3].mul_(5)  # y[1:3] = 10 x[1:3]
    (y * y).sum().backward()
    xv = x.detach().numpy()
    scale = np.array([2, 10, 10, 2.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * scale * scale * xv)


def test_setitem_under_autograd():
    x = t64(5)
    h = x * 1.0
    g = h.clone()
    g[h < 0] = 0
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), (x.detach().numpy() >= 0).astype(float))


# ----- grad(), higher order -----
def test_grad_does_not_touch_dot_grad():
    x = t64(3)
    (g,) = grad((x**3).sum(), x)
    np.testing.assert_allclose(g.numpy(), 3 * x.detach().numpy() ** 2)
    assert x.grad is None


def test_fifth_derivative_of_sin():
    x = t64(4)
    f = x.sin().sum()
    derivs = []
    g = f
    for _ in range(5):
        (g,) = grad(g.sum() if g.dim() else g, x, create_graph=True)
        derivs.append(g)
    xv = x.detach().numpy()
    expected = [np.cos(xv), -np.sin(xv), -np.cos(xv), np.sin(xv), np.cos(xv)]
    for d, e in zip(derivs, expected):
        np.testing.assert_allclose(d.detach().numpy(), e, rtol=1e-10)


def test_seed_higher_order_norm_pattern():
    x = t64(3)
    g1 = grad(ember.norm(x), x, create_graph=True)[0]
    g2 = grad(g1.sum(), x, create_graph=True)[0]
    g3 = grad(g2.sum(), x, create_graph=True)[0]
    g4 = grad(g3.sum(), x, create_graph=True)[0]
    g5 = grad(g4.sum(), x, create_graph=True)[0]
    # Check the last against finite differences of the fourth.
    xv = x.detach().numpy().copy()

    def fourth(v):
        xx = ember.from_numpy(v.copy()).requires_grad_()
        h = grad(ember.norm(xx), xx, create_graph=True)[0]
        for _ in range(3):
            h = grad(h.sum(), xx, create_graph=True)[0]
        return h.detach().numpy().sum()

    eps = 1e-5
    fd = np.array([(fourth(xv + eps * e) - fourth(xv - eps * e)) / (2 * eps) for e in np.eye(3)])
    np.testing.assert_allclose(g5.detach().numpy(), fd, rtol=1e-4, atol=1e-6)


def test_hessian_vector_product_and_gradient_penalty():
    A = RNG.standard_normal((4, 4))
    A = A + A.T
    At = ember.from_numpy(A)
    x = t64(4)
    v = ember.from_numpy(RNG.standard_normal(4))
    f = 0.5 * (x @ (At @ x))
    (g,) = grad(f, x, create_graph=True)
    (hv,) = grad((g * v).sum(), x)
    np.testing.assert_allclose(hv.numpy(), A @ v.numpy(), rtol=1e-10)

    # WGAN-GP: penalty (|d D(x)/dx| - 1)^2 with D(x) = tanh(w . x), differentiated w.r.t. w.
    w = t64(4)
    xin = t64(4)

    def penalty(wv):
        d = (wv * xin).sum().tanh()
        (gx,) = grad(d, xin, create_graph=True)
        return (gx.norm() - 1) ** 2

    p = penalty(w)
    (gw,) = grad(p, w)
    eps = 1e-6
    wv = w.detach().numpy()
    fd = []
    for e in np.eye(4):
        hi = penalty(ember.from_numpy(wv + eps * e)).item()
        lo = penalty(ember.from_numpy(wv - eps * e)).item()
        fd.append((hi - lo) / (2 * eps))
    np.testing.assert_allclose(gw.numpy(), fd, rtol=1e-5, atol=1e-8)


def test_allow_unused():
    x, y = t64(2), t64(2)
    with pytest.raises(RuntimeError, match="not have been used"):
        grad((x * 2).sum(), [x, y])
    gx, gy = grad((x * 2).sum(), [x, y], allow_unused=True)
    assert gy is None and gx.tolist() == [2.0, 2.0]


def test_backward_inputs_restricts_accumulation():
    x, y = t64(2), t64(2)
    (x * y).sum().backward(inputs=[x])
    assert y.grad is None
    np.testing.assert_allclose(x.grad.numpy(), y.detach().numpy())


# ----- grad modes -----
def test_no_grad_enable_grad_set_grad_enabled():
    x = t64(2)
    with ember.no_grad():
        assert not (x * 2).requires_grad
        with ember.enable_grad():
            assert (x * 2).requires_grad
    with ember.autograd.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert (x * 2).requires_grad

    @ember.no_grad()
    def f(v):
        return v * 2

    assert not f(x).requires_grad
    with ember.autograd.inference_mode():
        assert not (x * 2).requires_grad and ember.autograd.is_inference_mode_enabled()


def test_grad_mode_is_thread_local():
    x = t64(2)
    seen = {}

    def worker():
        seen["other"] = (x * 2).requires_grad

    with ember.no_grad():
        th = threading.Thread(target=worker)
        th.start()
        th.join()
        seen["here"] = (x * 2).requires_grad
    assert seen == {"other": True, "here": False}


def test_detach_and_requires_grad_flags():
    x = t64(3)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and np.shares_memory(d.numpy(), y.detach().numpy())
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)
    with pytest.raises(RuntimeError, match="requires grad"):
        x.numpy()
    assert x.detach().numpy().shape == (3,)


# ----- hooks and retain_grad -----
def test_hooks_and_retain_grad():
    x = t64(3)
    seen = []
    h = x.register_hook(lambda g: seen.append(g.clone()) or g * 2)
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g + 1)
    y.sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), np.full(3, 2.0))  # after the +1 hook
    np.testing.assert_allclose(seen[0].numpy(), np.full(3, 6.0))
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 12.0))
    h.remove()
    x.grad = None
    (x * 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.ones(3))


# ----- custom Functions (the seed's numpy/scipy extension tutorial) -----
class NumpyRFFT(Function):
    """|rfft(x)| computed in numpy; backward by hand."""

    @staticmethod
    def forward(ctx, x):
        a = x.detach().numpy()
        ctx.save_for_backward(x)
        return ember.from_numpy(np.abs(np.fft.rfft(a)))

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        a = x.detach().numpy()
        f = np.fft.rfft(a)
        n = a.shape[0]
        # d|F_k|/dx_j = Re(conj(F_k) e^{-2pi i jk/n}) / |F_k|
        k = np.arange(f.shape[0])
        j = np.arange(n)
        basis = np.exp(-2j * np.pi * np.outer(k, j) / n)
        jac = np.real(np.conj(f)[:, None] * basis) / np.abs(f)[:, None]
        return ember.from_numpy(gy.numpy() @ jac)


def test_custom_function_with_numpy_inside():
    x = t64(8)
    assert gradcheck(NumpyRFFT.apply, (x,))
    y = NumpyRFFT.apply(x)
    assert y.grad_fn is not None and y.requires_grad


class Square(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, gy):
        (x,) = ctx.saved_tensors
        return gy * 2 * x


def test_custom_function_double_backward_and_needs_input_grad():
    x = t64(3)
    assert gradgradcheck(Square.apply, (x,))
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            return a + b

        @staticmethod
        def backward(ctx, gy):
            return gy, gy

    Probe.apply(x, ember.ones(3, dtype=ember.float64))
    assert seen["needs"] == (True, False)


def test_once_differentiable_refuses_double_backward():
    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        @ember.autograd.once_differentiable
        def backward(ctx, gy):
            (x,) = ctx.saved_tensors
            return gy * 3 * x**2

    x = t64(2)
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 3 * x.detach().numpy() ** 2)
    with pytest.raises(RuntimeError, match="once_differentiable"):
        grad(g.sum(), x)


def test_custom_function_wrong_number_of_grads():
    class Bad(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x + y

        @staticmethod
        def backward(ctx, gy):
            return gy

    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        Bad.apply(t64(2), t64(2)).sum().backward()


# ----- anomaly mode -----
def test_detect_anomaly_names_the_forward_op():
    x = ember.tensor([0.0, 1.0], dtype=ember.float64, requires_grad=True)
    with ember.autograd.detect_anomaly():
        y = x.sqrt()  # d sqrt at 0 -> inf, times 0 -> nan
        z = (y * 0).sum()
        with pytest.raises(RuntimeError, match="SqrtBackward0.*nan") as info:
            z.backward()
    assert "x.sqrt()" in str(info.value)


# ----- memory -----
def test_graph_is_freed_by_reference_counting():
    x = t64(3)
    gc.disable()
    try:
        y = (x * 2).exp().sin()
        node = weakref.ref(y.grad_fn)
        out = weakref.ref(y)
        del y
        assert node() is None and out() is None  # no cycles: freed without the collector
        y = (x * 2).exp()
        y.sum().backward()
        r = weakref.ref(y.grad_fn)
        del y
        assert r() is None
    finally:
        gc.enable()


def test_create_graph_does_not_leak_cycles():
    gc.collect()
    gc.disable()
    try:
        x = t64(3)
        y = x.exp().sum()
        (g,) = grad(y, x, create_graph=True)
        ref = weakref.ref(g.grad_fn)
        del g, y
        assert ref() is None
    finally:
        gc.enable()


# ----- gradcheck itself -----
def test_gradcheck_catches_a_wrong_formula():
    class Wrong(Function):
        @staticmethod
        def forward(ctx, x):
            return x * x

        @staticmethod
        def backward(ctx, gy):
            return gy * 3.0

    with pytest.raises(ember.autograd.GradcheckError, match="Jacobian mismatch"):
        gradcheck(Wrong.apply, (t64(3),))
    assert not gradcheck(Wrong.apply, (t64(3),), raise_exception=False)


# ----- functional -----
def test_functional_api():
    F = ember.autograd.functional
    A = ember.from_numpy(RNG.standard_normal((3, 3)))
    x = ember.from_numpy(RNG.standard_normal(3))

    def f(v):
        return (v @ (A @ v)).reshape(())

    J = F.jacobian(lambda v: A @ v, x)
    np.testing.assert_allclose(J.numpy(), A.numpy())
    H = F.hessian(f, x)
    np.testing.assert_allclose(H.numpy(), A.numpy() + A.numpy().T, rtol=1e-10)
    v = ember.from_numpy(RNG.standard_normal(3))
    _, vj = F.vjp(lambda u: A @ u, x, v)
    np.testing.assert_allclose(vj.numpy(), v.numpy() @ A.numpy())
    _, jv = F.jvp(lambda u: A @ u, x, v)
    np.testing.assert_allclose(jv.numpy(), A.numpy() @ v.numpy(), rtol=1e-10)
    _, hv = F.hvp(f, x, v)
    np.testing.assert_allclose(hv.numpy(), (A.numpy() + A.numpy().T) @ v.numpy(), rtol=1e-10)


def test_autograd_absent_message_mentions_package():
    # ember._tensor._require_engine names the package when autograd is missing.
    from ember import _tensor

    saved = _tensor._engine
    _tensor._engine = None
    try:
        with pytest.raises(RuntimeError, match="pip install ember-autograd"):
            ember.ones(2).requires_grad_()
    finally:
        _tensor._engine = saved


def test_float32_gradients_stay_float32():
    x = ember.randn(3, requires_grad=True)
    (x * 2.5).sum().backward()
    assert x.grad.dtype is ember.float32
    assert math.isclose(x.grad[0].item(), 2.5)
