"""ember.jit with ember-autograd: lazy ops record on the tape under eager's op names, so
gradients match eager ones; a backward pass run inside ``lazy()`` is itself lazy and
fuses (a GELU and a layer norm, forward and backward, become a few kernels)."""

import numpy as np
import pytest

import ember

pytest.importorskip("ember.autograd")


@pytest.fixture(autouse=True, scope="module")
def _cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("EMBER_JIT_CACHE", str(tmp_path_factory.mktemp("jit")))
    yield
    mp.undo()


RNG = np.random.default_rng(3)


def _leaf(a):
    return ember.from_numpy(np.array(a)).requires_grad_()


def _grads(fn, arrays, lazy):
    leaves = [_leaf(a) for a in arrays]
    if lazy:
        with ember.jit.lazy():
            loss = fn(*leaves)
            loss.backward()
    else:
        loss = fn(*leaves)
        loss.backward()
    return loss.item(), [None if t.grad is None else t.grad.numpy() for t in leaves]


def _compare(fn, arrays, rtol):
    le, ge = _grads(fn, arrays, lazy=False)
    ll, gl = _grads(fn, arrays, lazy=True)
    np.testing.assert_allclose(ll, le, rtol=rtol)
    for a, b in zip(gl, ge, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=rtol)


OPS = {
    "unary": lambda x, y: (
        x.exp()
        + x.tanh()
        + x.sigmoid()
        + x.sin() * x.cos()
        + x.abs()
        + (x * x + 1).sqrt()
        + (x * x + 1).log()
        + x.relu()
        + x.silu()
        + x.neg()
        + x.square()
        + x.erf()
        + (x * x + 2).rsqrt()
    ).sum(),
    "binary": lambda x, y: (
        (x + y) * (x - y) / (y * y + 1)
        + ember.maximum(x, y)
        + ember.minimum(x, 2 * y)
        + (x * x + 1) ** y
        + ember.atan2(x, y)
        + 2**x
        + 1 / (y * y + 2)
        - 3 * x
    ).sum(),
    "broadcast": lambda x, y: (x[None, :, :] * y[:, None, :]).tanh().mean(),
    "where_clamp_cast": lambda x, y: (
        ember.where(x > y, x * 2, y)
        + x.clamp(-0.5, 0.5)
        + ember.clamp(y, min=x)
        + x.to(ember.float32).double()
    ).sum(),
    "reductions": lambda x, y: (
        x.sum(1) * y.mean(0)
        + x.amax(0)
        + y.amin(1, keepdim=True).sum()
        + (x * y).sum((0, 1))
        + x.mean()
    ).sum(),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradients_of_lazy_ops_match_eager(name):
    x, y = RNG.standard_normal((4, 4)), RNG.standard_normal((4, 4))
    _compare(OPS[name], [x, y], rtol=1e-10)


def gelu(x):
    return 0.5 * x * (1.0 + ember.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)))


def layer_norm(x, w, b, eps=1e-5):
    mu = x.mean(-1, keepdim=True)
    xc = x - mu
    var = (xc * xc).mean(-1, keepdim=True)
    return xc * (var + eps).rsqrt() * w + b


def test_gelu_forward_backward_fuses_into_few_kernels():
    x = RNG.standard_normal((64, 128)).astype(np.float32)
    _compare(lambda t: (gelu(t) * 1.5).sum(), [x], rtol=1e-5)
    ember.jit.reset_stats()
    _grads(lambda t: (gelu(t) * 1.5).sum(), [x], lazy=True)
    st = ember.jit.stats()
    # eager runs ~25 ops forward and backward; lazily: the loss, then the gradient
    assert st["forces"] <= 3 and st["kernels_run"] <= 5, st


def test_layer_norm_forward_backward_fuses_into_few_kernels():
    x = RNG.standard_normal((32, 64)).astype(np.float32)
    w, b = RNG.standard_normal(64).astype(np.float32), RNG.standard_normal(64).astype(np.float32)

    def loss(x, w, b):
        y = layer_norm(gelu(x), w, b)
        return (y * y).sum()

    _compare(loss, [x, w, b], rtol=2e-5)
    ember.jit.reset_stats()
    _grads(loss, [x, w, b], lazy=True)
    st = ember.jit.stats()
    assert st["forces"] <= 4 and st["kernels_run"] <= 14, st


def test_explain_shows_the_backward_graph_fused():
    x = _leaf(RNG.standard_normal((16, 8)).astype(np.float32))

    def step(x):
        loss = (gelu(x) * 2).sum()
        (gx,) = ember.autograd.grad(loss, [x])
        return gx

    e = ember.jit.explain(step, x)
    assert e.recorded > 20  # forward and backward ops were all recorded lazily
    assert len(e.kernels) <= 5
    assert "tanh" in str(e) and "jit_tanhf" in e.source
    ref = ember.autograd.grad((gelu(x) * 2).sum(), [x])[0]
    with ember.jit.lazy():
        got = step(x)
    np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-5, atol=1e-6)


def test_double_backward_under_lazy():
    xa = RNG.standard_normal(5)

    def second(lazy):
        x = _leaf(xa)
        ctx = ember.jit.lazy() if lazy else _Null()
        with ctx:
            (g,) = ember.autograd.grad((x * x * x).sum(), [x], create_graph=True)
            (gg,) = ember.autograd.grad(g.sum(), [x])
        return gg.numpy()

    np.testing.assert_allclose(second(True), second(False), rtol=1e-12)
    np.testing.assert_allclose(second(True), 6 * xa, rtol=1e-12)


class _Null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_softmax_gradients_under_lazy_match_eager():
    x = RNG.standard_normal((6, 10))
    w = RNG.standard_normal((6, 10))
    _compare(
        lambda x, w: (ember.softmax(x, 1) * w).sum() + (ember.log_softmax(x, 0) * w).sum(),
        [x, w],
        rtol=1e-10,
    )


def test_nn_functional_activations_written_in_ember_ops_fuse():
    F = pytest.importorskip("ember.nn.functional")
    x = RNG.standard_normal((8, 16))
    acts = [
        lambda t: F.gelu(t),
        lambda t: F.gelu(t, approximate="tanh"),
        lambda t: F.silu(t),
        lambda t: F.mish(t),
        lambda t: F.elu(t),
        lambda t: F.leaky_relu(t, 0.1),
    ]
    for act in acts:
        _compare(lambda t, act=act: (act(t) * t).sum(), [x], rtol=1e-10)
    t = _leaf(x)
    ember.jit.reset_stats()
    with ember.jit.lazy():
        y = F.gelu(t, approximate="tanh")
        assert y._node is not None  # built lazily, not computed by nn
        (y * y).sum().backward()
    assert ember.jit.stats()["kernels_run"] <= 3
