"""Functional ops: float64 gradcheck (and gradgradcheck for the fused ops), values
against numpy written here, loss input checks, the non-finite switch, dropout and
batch norm train/eval behaviour, init distributions."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck, gradgradcheck


def r(*shape, seed=0):
    ember.manual_seed(seed)
    return ember.randn(*shape, dtype=ember.float64, requires_grad=True)


ACTIVATIONS = {
    "relu": (F.relu, lambda x: np.maximum(x, 0)),
    "relu6": (F.relu6, lambda x: np.clip(x, 0, 6)),
    "leaky_relu": (lambda x: F.leaky_relu(x, 0.2), lambda x: np.where(x > 0, x, 0.2 * x)),
    "elu": (lambda x: F.elu(x, 0.7), lambda x: np.where(x > 0, x, 0.7 * np.expm1(x))),
    "selu": (
        F.selu,
        lambda x: 1.0507009873554805 * np.where(x > 0, x, 1.6732632423543772 * np.expm1(x)),
    ),
    "celu": (lambda x: F.celu(x, 2.0), lambda x: np.where(x > 0, x, 2.0 * np.expm1(x / 2.0))),
    "gelu": (F.gelu, lambda x: x * 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    "gelu_tanh": (
        lambda x: F.gelu(x, approximate="tanh"),
        lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))),
    ),
    "silu": (F.silu, lambda x: x / (1 + np.exp(-x))),
    "mish": (F.mish, lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    "sigmoid": (F.sigmoid, lambda x: 1 / (1 + np.exp(-x))),
    "tanh": (F.tanh, np.tanh),
    "hardtanh": (lambda x: F.hardtanh(x, -0.5, 0.8), lambda x: np.clip(x, -0.5, 0.8)),
    "hardsigmoid": (F.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1)),
    "hardswish": (F.hardswish, lambda x: x * np.clip(x / 6 + 0.5, 0, 1)),
    "softplus": (F.softplus, lambda x: np.log1p(np.exp(x))),
    "softsign": (F.softsign, lambda x: x / (1 + np.abs(x))),
    "logsigmoid": (F.logsigmoid, lambda x: -np.log1p(np.exp(-x))),
    "threshold": (lambda x: F.threshold(x, 0.3, -2.0), lambda x: np.where(x > 0.3, x, -2.0)),
    "softmax": (lambda x: F.softmax(x, 1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    "log_softmax": (
        lambda x: F.log_softmax(x, 1),
        lambda x: x - np.log(np.exp(x).sum(1, keepdims=True)),
    ),
    "softmin": (lambda x: F.softmin(x, 1), lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True)),
    "glu": (lambda x: F.glu(x, 1), lambda x: x[:, :2] / (1 + np.exp(-x[:, 2:]))),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_values_and_gradients(name):
    fn, ref = ACTIVATIONS[name]
    x = r(3, 4, 2)
    with ember.no_grad():
        x.mul_(2.0)  # cover the kinks and saturation regions
    np.testing.assert_allclose(
        fn(x).detach().numpy(), ref(x.detach().numpy()), rtol=1e-7, atol=1e-10
    )
    assert gradcheck(fn, (x,))


def test_activation_modules_match_functional():
    x = r(2, 3)
    pairs = [
        (nn.ReLU(), F.relu),
        (nn.GELU(), F.gelu),
        (nn.Softmax(1), lambda t: F.softmax(t, 1)),
        (nn.LeakyReLU(0.3), lambda t: F.leaky_relu(t, 0.3)),
        (nn.Hardswish(), F.hardswish),
    ]
    for m, f in pairs:
        np.testing.assert_array_equal(m(x).detach().numpy(), f(x).detach().numpy())
    p = nn.PReLU(3).double()
    assert gradcheck(lambda t, w: F.prelu(t, w), (x, p.weight))


def _conv_ref(x, w, stride, pad):
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            win = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw]
            y[:, :, i, j] = np.einsum("nckl,ockl->no", win, w)
    return y


@pytest.mark.parametrize("one_gemm", [False, True])
def test_conv2d_against_loops_and_double_backward(one_gemm, monkeypatch):
    from ember.nn.functional import _conv

    monkeypatch.setattr(_conv, "_ONE_GEMM_MIN", 1 if one_gemm else 1 << 40)
    x, w = r(2, 3, 7, 6, seed=1), r(4, 3, 3, 2, seed=2)
    y = F.conv2d(x, w, stride=2, padding=1)
    np.testing.assert_allclose(
        y.detach().numpy(), _conv_ref(x.detach().numpy(), w.detach().numpy(), 2, 1), rtol=1e-10
    )
    b = r(4, seed=3)
    assert gradcheck(
        lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, dilation=(1, 2)), (x, w, b)
    )
    assert gradgradcheck(lambda x, w: F.conv2d(x, w, padding="same"), (x, w))
    assert gradcheck(lambda x, w: F.conv1d(x, w, stride=2), (r(2, 3, 9), r(2, 3, 3)))


def test_fused_ops_gradgradcheck():
    x = r(2, 3, 6, 5)
    assert gradgradcheck(lambda t: F.max_pool2d(t, 3, 2, 1), (x,))
    assert gradgradcheck(lambda t: F.avg_pool2d(t, 2, ceil_mode=True), (x,))
    assert gradgradcheck(lambda t: F.log_softmax(t, 1), (x,))
    w, b = r(3, seed=4), r(3, seed=5)
    assert gradcheck(lambda t, w, b: F.batch_norm(t, None, None, w, b, True), (x, w, b))
    assert gradgradcheck(lambda t, w, b: F.batch_norm(t, None, None, w, b, True), (x, w, b))
    lw, lb = r(6, 5, seed=6), r(6, 5, seed=7)
    y = r(3, 6, 5)
    assert gradgradcheck(lambda t, w, b: F.layer_norm(t, (6, 5), w, b), (y, lw, lb))
    assert gradcheck(lambda t: F.group_norm(t, 3, None, None), (r(2, 6, 4),))


def test_embedding_values_gradient_and_padding():
    w = r(5, 3)
    idx = ember.tensor([[0, 2, 2], [4, 1, 2]])
    y = F.embedding(idx, w, padding_idx=2)
    np.testing.assert_array_equal(y.detach().numpy(), w.detach().numpy()[idx.numpy()])
    y.sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 1, 0, 0, 1])
    assert gradcheck(lambda w: F.embedding(ember.tensor([0, 3, 3]), w), (r(4, 2),))
    with pytest.raises(IndexError, match="5 is out of range for 5"):
        F.embedding(ember.tensor([5]), w)
    e = nn.Embedding(4, 3, padding_idx=0)
    assert float(e.weight[0].abs().sum()) == 0.0


def test_linear_and_bilinear_shapes():
    x, w, b = r(4, 2, 5), r(3, 5, seed=1), r(3, seed=2)
    ref = x.detach().numpy() @ w.detach().numpy().T + b.detach().numpy()
    np.testing.assert_allclose(F.linear(x, w, b).detach().numpy(), ref, rtol=1e-12)
    assert gradgradcheck(F.linear, (x, w, b))
    with pytest.raises(RuntimeError, match="in_features=5"):
        F.linear(r(2, 4), w)


def test_dropout_train_eval():
    ember.manual_seed(3)
    d = nn.Dropout(0.25)
    x = ember.ones(20000)
    y = d(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.02
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    d.eval()
    assert d(x) is x
    d2 = nn.Dropout2d(0.5)
    z = d2(ember.ones(8, 16, 3, 3)).numpy()
    assert all(len(np.unique(z[i, c])) == 1 for i in range(8) for c in range(16))
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_batchnorm_train_then_eval():
    bn = nn.BatchNorm2d(3, momentum=0.5).double()
    x = r(6, 3, 4, 4).detach() * 3 + 1
    y = bn(x).detach().numpy()
    xa = x.numpy()
    mean, var = xa.mean((0, 2, 3)), xa.var((0, 2, 3))
    np.testing.assert_allclose(
        y, (xa - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5), rtol=1e-10, atol=1e-12
    )
    m = xa.size / 3
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * mean)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * var * m / (m - 1))
    bn.eval()
    ye = bn(x).detach().numpy()
    rm, rv = bn.running_mean.numpy(), bn.running_var.numpy()
    np.testing.assert_allclose(
        ye, (xa - rm[:, None, None]) / np.sqrt(rv[:, None, None] + 1e-5), rtol=1e-10
    )
    assert int(bn.num_batches_tracked) == 1


@pytest.mark.parametrize(
    "fn",
    [F.mse_loss, F.l1_loss, F.smooth_l1_loss, F.huber_loss, F.binary_cross_entropy_with_logits],
)
def test_losses_refuse_to_broadcast(fn):
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        fn(ember.zeros(4, 1), ember.zeros(4))


def test_class_losses_check_targets():
    x = r(3, 4)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        F.cross_entropy(x, ember.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.nll_loss(x, ember.tensor([0, -1, 1]))
    F.cross_entropy(x, ember.tensor([0, -100, 1]))  # ignore_index is allowed
    with pytest.raises(ValueError, match=r"expected target of shape \(3,\)"):
        F.cross_entropy(x, ember.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(x, x, reduction="avg")
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.binary_cross_entropy(x, x)


def test_pointwise_losses_against_numpy_and_gradcheck():
    a, b = r(3, 4, seed=1), r(3, 4, seed=2)
    an, bn_ = a.detach().numpy(), b.detach().numpy()
    d = an - bn_
    np.testing.assert_allclose(float(F.mse_loss(a, b)), (d**2).mean())
    np.testing.assert_allclose(float(F.l1_loss(a, b, reduction="sum")), np.abs(d).sum())
    y = ember.tensor([1.0, -1.0, 1.0], dtype=ember.float64)
    x1, x2 = r(3, seed=3), r(3, seed=4)
    ref = np.maximum(0, -y.numpy() * (x1.detach().numpy() - x2.detach().numpy()) + 0.1).mean()
    np.testing.assert_allclose(float(F.margin_ranking_loss(x1, x2, y, 0.1)), ref)
    hinge = np.where(y.numpy() == 1, x1.detach().numpy(), np.maximum(0, 1 - x1.detach().numpy()))
    np.testing.assert_allclose(float(F.hinge_embedding_loss(x1, y)), hinge.mean())
    cos = (an * bn_).sum(1) / np.linalg.norm(an, axis=1) / np.linalg.norm(bn_, axis=1)
    np.testing.assert_allclose(
        float(F.cosine_embedding_loss(a, b, y, 0.2)),
        np.where(y.numpy() == 1, 1 - cos, np.maximum(0, cos - 0.2)).mean(),
    )
    c = r(3, 4, seed=5)
    dap = np.linalg.norm(an - bn_ + 1e-6, axis=1)
    dan = np.linalg.norm(an - c.detach().numpy() + 1e-6, axis=1)
    np.testing.assert_allclose(
        float(F.triplet_margin_loss(a, b, c)), np.maximum(dap - dan + 1, 0).mean()
    )
    for f in (
        lambda p, q: F.cosine_embedding_loss(p, q, y),
        lambda p, q: F.triplet_margin_loss(p, q, c),
        lambda p, q: F.margin_ranking_loss(p[:, 0], q[:, 0], y),
        lambda p, q: F.smooth_l1_loss(p, q),
        F.kl_div,
    ):
        assert gradcheck(f, (a, b))
    cw = ember.rand(4, dtype=ember.float64)
    assert gradcheck(
        lambda p: F.cross_entropy(p, ember.tensor([1, -100, 3]), label_smoothing=0.3, weight=cw),
        (a,),
    )


def test_nonfinite_detection_is_opt_in():
    x = ember.tensor([float("nan"), 1.0])
    assert math.isnan(float(F.mse_loss(x, ember.zeros(2))))
    nn.set_detect_nonfinite(True)
    try:
        with pytest.raises(FloatingPointError, match="mse_loss"):
            F.mse_loss(x, ember.zeros(2))
        with pytest.raises(FloatingPointError, match="cross_entropy"):
            nn.CrossEntropyLoss()(ember.tensor([[float("inf"), 0.0]]), ember.tensor([1]))
    finally:
        nn.set_detect_nonfinite(False)


def test_default_init_matches_pytorch_bounds():
    ember.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform(a=sqrt(5)) gives 1/sqrt(fan_in)
    w = lin.weight.detach().numpy()
    assert w.max() <= bound and w.min() >= -bound and w.max() > 0.95 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound
    conv = nn.Conv2d(16, 8, 3)
    cb = 1 / math.sqrt(16 * 9)
    assert np.abs(conv.bias.detach().numpy()).max() <= cb
    assert np.abs(conv.weight.detach().numpy()).max() <= cb


def test_init_functions():
    ember.manual_seed(1)
    t = ember.empty(200, 300)
    nn.init.xavier_uniform_(t)
    a = math.sqrt(6 / 500)
    assert t.numpy().max() <= a and abs(t.numpy().std() - a / math.sqrt(3)) < 0.02 * a
    nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
    assert abs(t.numpy().std() - math.sqrt(2 / 200)) < 0.03 * math.sqrt(2 / 200)
    q = ember.empty(30, 50)
    nn.init.orthogonal_(q)
    np.testing.assert_allclose(q.numpy() @ q.numpy().T, np.eye(30), atol=1e-5)
    nn.init.trunc_normal_(t, std=1.0, a=-0.5, b=1.0)
    assert t.numpy().min() >= -0.5 and t.numpy().max() <= 1.0
    nn.init.eye_(q)
    np.testing.assert_array_equal(q.numpy(), np.eye(30, 50))
    assert nn.init.calculate_gain("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(ember.empty(3))


@pytest.mark.parametrize(
    "mean,std,a,b",
    [(0.0, 0.02, -2.0, 2.0), (0.5, 1.0, -0.5, 1.0), (0.0, 1.0, 1.5, 3.0)],
    ids=["wide-rejection", "half-mass-rejection", "tail-inverse-cdf"],
)
def test_trunc_normal_moments_match_the_truncated_normal(mean, std, a, b):
    def phi(z):
        return math.exp(-z * z / 2) / math.sqrt(2 * math.pi)

    def cdf(z):
        return (1 + math.erf(z / math.sqrt(2))) / 2

    al, be = (a - mean) / std, (b - mean) / std
    z = cdf(be) - cdf(al)
    want_mean = mean + std * (phi(al) - phi(be)) / z
    want_var = std**2 * (1 + (al * phi(al) - be * phi(be)) / z - ((phi(al) - phi(be)) / z) ** 2)
    ember.manual_seed(3)
    t = nn.init.trunc_normal_(ember.empty(400, 500, dtype=ember.float64), mean, std, a, b)
    x = t.numpy()
    assert x.min() >= a and x.max() <= b
    sd = math.sqrt(want_var)
    assert abs(x.mean() - want_mean) < 5 * sd / math.sqrt(x.size)
    assert abs(x.std() - sd) < 0.01 * sd


def test_inplace_activations_keep_gradients_correct_under_autograd():
    """In-place activations on graph tensors: the derivative must use the old values."""
    import numpy as np

    import ember
    import ember.nn.functional as F

    rng = np.random.default_rng(3)
    for fn in (
        lambda t, ip: F.leaky_relu(t, 0.2, inplace=ip),
        lambda t, ip: F.elu(t, 1.0, inplace=ip),
        lambda t, ip: F.hardtanh(t, -0.5, 0.5, inplace=ip),
    ):
        xs = [ember.from_numpy(rng.standard_normal((3, 4))).requires_grad_() for _ in range(2)]
        xs[1].detach().numpy()[...] = xs[0].detach().numpy()
        outs = []
        for x, ip in zip(xs, (False, True)):
            h = x * 2.0  # a non-leaf, overwritten in place when ip
            y = fn(h, ip)
            if ip:
                assert y is h
            (y * y).sum().backward()
            outs.append(x.grad.numpy())
        np.testing.assert_allclose(outs[1], outs[0])
