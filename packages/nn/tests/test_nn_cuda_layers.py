"""ember.nn on CUDA against the CPU: functional layers, modules, losses, gradients.

Each case runs on the CPU and on the device from the same inputs; outputs and the
gradients of every input must agree. Random layers (dropout) draw from the same Philox
stream on both devices, so they agree too. Covers both conv paths (core's im2col kernel
and the strided-view fallback: asymmetric padding, groups, large inputs), pooling,
normalization with running statistics, attention masks, losses, and a LeNet step.

Needs a GPU (skipped with the reason otherwise). ``EMBER_CUDA_DRYRUN=1`` runs the same
tests on the CPU with stand-in device storage (``ember._cuda.standin``): that catches
host arrays in device code paths, not CUDA bugs.
"""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from ember._cuda import standin

pytestmark = standin.device_test_marks()
RNG = np.random.default_rng(11)


@pytest.fixture(autouse=True)
def _device(monkeypatch):
    standin.activate_for_dryrun(monkeypatch)


def arr(*shape, low=None):
    a = RNG.standard_normal(shape)
    return (np.abs(a) + low if low is not None else a).astype(np.float64)


def _x(a, device, grad=True):
    t = ember.from_numpy(np.array(a)).to(device)
    return t.requires_grad_() if grad and t.is_floating_point() else t


def host(t):
    return np.array(t.detach().cpu().numpy())


def run(fn, arrays, device, seed=3):
    """fn(*tensors) on ``device``; returns outputs and input gradients as numpy."""
    ts = [_x(a, device) for a in arrays]
    ember.manual_seed(seed)
    out = fn(*ts)
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    loss = None
    for o in outs:
        if isinstance(o, ember.Tensor) and o.requires_grad:
            w = ember.from_numpy(np.linspace(0.5, 1.5, o.numel()).reshape(o.shape)).to(device)
            term = (o * w.to(o.dtype)).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    kind = ember.device(device).type
    for o in outs:
        if isinstance(o, ember.Tensor):
            assert o.device.type == kind, "an output left the device"
    for t in ts:
        assert t.grad is None or t.grad.device.type == kind, "a gradient left the device"
    return [host(o) for o in outs if isinstance(o, ember.Tensor)], [
        None if t.grad is None else host(t.grad) for t in ts
    ]


def compare(fn, *arrays, rtol=1e-9, atol=1e-11):
    want, want_g = run(fn, arrays, "cpu")
    got, got_g = run(fn, arrays, "cuda")
    for i, (g, w) in enumerate(zip(got, want)):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"output {i}")
    for i, (g, w) in enumerate(zip(got_g, want_g)):
        assert (g is None) == (w is None), f"input {i}: a gradient on one device only"
        if w is not None:
            np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"gradient {i}")


_I = np.array([[1, 0, 3], [2, 2, -100]])  # class targets, one ignored
CASES = {
    "conv2d": (
        lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1),
        arr(2, 3, 7, 6),
        arr(4, 3, 3, 3),
        arr(4),
    ),  # noqa: E501
    "conv2d_strided_dilated": (
        lambda x, w: F.conv2d(x, w, stride=2, dilation=2),
        arr(2, 3, 9, 9),
        arr(2, 3, 3, 3),
    ),  # noqa: E501
    "conv2d_same_even_kernel": (
        lambda x, w: F.conv2d(x, w, padding="same"),
        arr(2, 2, 6, 5),
        arr(3, 2, 2, 4),
    ),  # noqa: E501
    "conv2d_groups": (
        lambda x, w: F.conv2d(x, w, groups=2, padding=1),
        arr(2, 4, 5, 5),
        arr(6, 2, 3, 3),
    ),  # noqa: E501
    "conv2d_pointwise": (lambda x, w: F.conv2d(x, w), arr(2, 3, 4, 4), arr(5, 3, 1, 1)),
    "conv2d_one_gemm": (
        # N*C*K*P >= 4M column entries: _conv.py's one-GEMM layout (im2col_cn/col2im_cn)
        lambda x, w: F.conv2d(x, w, padding=1),
        arr(16, 32, 34, 34),
        arr(4, 32, 3, 3),
    ),
    "conv1d": (lambda x, w, b: F.conv1d(x, w, b, padding=2), arr(2, 3, 10), arr(4, 3, 3), arr(4)),
    "conv3d": (lambda x, w: F.conv3d(x, w, padding=1), arr(1, 2, 4, 4, 4), arr(3, 2, 3, 3, 3)),
    "conv_transpose2d": (
        lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1, output_padding=1),
        arr(2, 3, 4, 4),
        arr(3, 2, 3, 3),
    ),  # noqa: E501
    "max_pool2d": (lambda x: F.max_pool2d(x, 2), arr(2, 3, 6, 6)),
    "max_pool2d_padded_ceil": (lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True), arr(2, 3, 7, 7)),  # noqa: E501
    "max_pool1d": (lambda x: F.max_pool1d(x, 3, 2), arr(2, 3, 9)),
    "max_pool3d": (lambda x: F.max_pool3d(x, 2), arr(1, 2, 4, 4, 4)),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, 2, 1), arr(2, 3, 7, 7)),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 2), arr(2, 3, 8)),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (3, 2)), arr(2, 3, 7, 5)),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, 3), arr(2, 3, 7, 7)),
    "batch_norm_train": (
        lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        arr(4, 3, 5, 5),
        arr(3),
        arr(3),
    ),  # noqa: E501
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (5,), w, b), arr(3, 4, 5), arr(5), arr(5)),
    "group_norm": (lambda x, w, b: F.group_norm(x, 2, w, b), arr(2, 4, 3, 3), arr(4), arr(4)),
    "instance_norm": (lambda x: F.instance_norm(x), arr(2, 3, 4, 4)),
    "softmax": (lambda x: F.softmax(x, 1), arr(3, 5)),
    "log_softmax": (lambda x: F.log_softmax(x, -1), arr(3, 5)),
    "dropout": (lambda x: F.dropout(x, 0.3), arr(4, 6)),
    "dropout2d": (lambda x: F.dropout2d(x, 0.5), arr(3, 4, 2, 2)),
    "alpha_dropout": (lambda x: F.alpha_dropout(x, 0.2, training=True), arr(4, 6)),
    "linear": (lambda x, w, b: F.linear(x, w, b), arr(3, 4), arr(5, 4), arr(5)),
    "gelu_silu": (lambda x: (F.gelu(x), F.silu(x), F.elu(x), F.leaky_relu(x)), arr(3, 4)),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), arr(3, 4), arr(3, 4)),
    "bce_with_logits": (
        lambda x, y: F.binary_cross_entropy_with_logits(x, y.sigmoid()),
        arr(3, 4),
        arr(3, 4),
    ),  # noqa: E501
    "cross_entropy": (
        lambda x: F.cross_entropy(
            x.reshape(2, 3, 4).transpose(1, 2), ember.from_numpy(_I).to(x.device)
        ),
        arr(2, 12),
    ),  # noqa: E501
    "cross_entropy_smoothing": (
        lambda x: F.cross_entropy(
            x.reshape(2, 3, 4).transpose(1, 2),
            ember.from_numpy(_I).to(x.device),
            label_smoothing=0.1,
        ),
        arr(2, 12),
    ),  # noqa: E501
    "nll_loss_weighted": (
        lambda x, w: F.nll_loss(
            F.log_softmax(x, 1), ember.from_numpy(np.array([1, 0, 3])).to(x.device), weight=w.abs()
        ),
        arr(3, 4),
        arr(4),
    ),  # noqa: E501
    "sdpa_causal": (
        lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
        arr(2, 4, 3),
        arr(2, 4, 3),
        arr(2, 4, 3),
    ),  # noqa: E501
    "sdpa_bool_mask": (
        lambda q, k, v: F.scaled_dot_product_attention(
            q, k, v, attn_mask=(k[0, :, :1].T > -10) & (q[0, :, :1] > -0.5)
        ),
        arr(2, 4, 3),
        arr(2, 4, 3),
        arr(2, 4, 3),
    ),  # noqa: E501
    "embedding": (
        lambda w: F.embedding(
            ember.from_numpy(np.array([[0, 2], [2, 3]])).to(w.device), w, padding_idx=3
        ),
        arr(4, 5),
    ),  # noqa: E501
    "embedding_bag_mean_max": (
        lambda w: (
            F.embedding_bag(
                ember.from_numpy(np.array([0, 2, 2, 3, 1])).to(w.device),
                w,
                ember.from_numpy(np.array([0, 2, 2])).to(w.device),
                mode=m,
            )
            for m in ("mean", "max")
        ),
        arr(4, 5),
    ),
    "adaptive_max_indices": (
        lambda x: F.adaptive_max_pool2d(x, (2, 3), return_indices=True),
        arr(2, 3, 5, 7),
    ),
    "max_unpool": (
        lambda x: F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2),
        arr(2, 3, 4, 6),
    ),
    "clip_grad_norm": (
        lambda w: (w * 3.0, nn.utils.get_total_norm([w * 2.0])),
        arr(3, 4),
    ),
}


@pytest.mark.parametrize(
    "name",
    sorted(CASES),
)
def test_functional_on_cuda_matches_cpu(name):
    fn, *arrays = CASES[name]
    compare(fn, *arrays)


def test_batch_norm_and_instance_norm_running_stats_stay_on_device():
    out = {}
    x_np = arr(4, 3, 5, 5).astype(np.float32)
    for device in ("cpu", "cuda"):
        x = _x(x_np, device, grad=False)
        bn = nn.BatchNorm2d(3).to(device)
        inorm = nn.InstanceNorm2d(3, track_running_stats=True).to(device)
        bn(x), inorm(x)
        bn.eval()
        y = bn(x)
        stats = [bn.running_mean, bn.running_var, inorm.running_mean, inorm.running_var]
        assert all(s.device.type == device for s in stats)
        out[device] = [host(s) for s in stats] + [host(y)]
    for g, w in zip(out["cuda"], out["cpu"]):
        np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-7)


def test_multihead_attention_module_on_cuda_matches_cpu():
    res = {}
    q_np = arr(5, 3, 8).astype(np.float32)
    for device in ("cpu", "cuda"):
        ember.manual_seed(0)
        mha = nn.MultiheadAttention(8, 2, add_bias_kv=True, add_zero_attn=True).to(device)
        q = _x(q_np, device)
        y, w = mha(q, q, q, need_weights=True)
        (y.sum() + w.sum()).backward()
        res[device] = [host(y), host(w), host(q.grad), host(mha.in_proj_weight.grad)]
    for g, w in zip(res["cuda"], res["cpu"]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_lenet_training_step_on_cuda_matches_cpu():
    """The demo's model: forward, cross-entropy, backward and two Adam steps."""
    x_np = RNG.standard_normal((8, 1, 28, 28)).astype(np.float32)
    y_np = RNG.integers(0, 10, 8)
    res = {}
    for device in ("cpu", "cuda"):
        ember.manual_seed(0)
        model = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120),
            nn.ReLU(),
            nn.Dropout(0.2),
            nn.Linear(120, 10),
        ).to(device)
        opt = ember.optim.Adam(model.parameters(), lr=1e-3)
        x = ember.from_numpy(x_np).to(device)
        y = ember.from_numpy(y_np).to(device)
        losses = []
        for _ in range(2):
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(float(loss))
        assert all(p.device.type == device for p in model.parameters())
        res[device] = [losses] + [host(p) for p in model.parameters()]
    np.testing.assert_allclose(res["cuda"][0], res["cpu"][0], rtol=1e-5)
    for g, w in zip(res["cuda"][1:], res["cpu"][1:]):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=1e-5)


def test_recurrent_and_transformer_state_on_device():
    """Default initial states and the causal mask are made on the input's device."""
    res = {}
    x_np = arr(5, 2, 3).astype(np.float32)
    for device in ("cpu", "cuda"):
        ember.manual_seed(0)
        lstm, gru_cell = nn.LSTM(3, 4, num_layers=2).to(device), nn.GRUCell(3, 4).to(device)
        x = _x(x_np, device)
        y, (h, c) = lstm(x)
        hc = gru_cell(x[0])
        mask = nn.Transformer.generate_square_subsequent_mask(4, device=device)
        assert {t.device.type for t in (y, h, c, hc, mask)} == {ember.device(device).type}
        (y.sum() + hc.sum()).backward()
        res[device] = [host(y), host(h), host(c), host(hc), host(mask), host(x.grad)]
    for g, w in zip(res["cuda"], res["cpu"]):
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def test_clip_grad_norm_scales_device_gradients():
    res = {}
    for device in ("cpu", "cuda"):
        w = _x(arr(3, 4), device)
        (w * 10.0).sum().backward()
        total = nn.utils.clip_grad_norm_([w], max_norm=1.0)
        assert total.device.type == ember.device(device).type
        res[device] = [host(total), host(w.grad)]
    for g, w in zip(res["cuda"], res["cpu"]):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(res["cpu"][1]), 1.0, rtol=1e-5)
