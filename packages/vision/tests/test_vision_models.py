"""Model zoo: forward shapes, parameter counts (torchvision's published numbers), names."""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.vision import models


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_lenet_is_the_seeds_net():
    net = models.LeNet()
    # conv1 6*1*25+6, conv2 16*6*25+16, fc1 400*120+120, fc2 120*84+84, fc3 84*10+10
    assert _count(net) == 156 + 2416 + 48120 + 10164 + 850 == 61706
    assert list(net.state_dict()) == [
        f"{m}.{p}" for m in ("conv1", "conv2", "fc1", "fc2", "fc3") for p in ("weight", "bias")
    ]
    x = ember.randn(3, 1, 32, 32)
    assert tuple(net(x).shape) == (3, 10)
    assert net.num_flat_features(ember.zeros(2, 16, 5, 5)) == 400
    assert _count(models.lenet(num_classes=2, in_channels=3)) == 61706 + 300 - 84 * 8 - 8


def test_lenet_forward_by_hand():
    # Recompute the forward pass with numpy from the module's own weights.
    net = models.LeNet()
    x = np.random.default_rng(0).standard_normal((2, 1, 32, 32)).astype(np.float32)
    sd = {k: v.numpy().astype(np.float64) for k, v in net.state_dict().items()}

    def conv(a, w, b):
        k = w.shape[-1]
        n, c, h, wd = a.shape
        out = np.zeros((n, w.shape[0], h - k + 1, wd - k + 1))
        for i in range(h - k + 1):
            for j in range(wd - k + 1):
                out[:, :, i, j] = np.tensordot(
                    a[:, :, i : i + k, j : j + k], w, ([1, 2, 3], [1, 2, 3])
                )
        return out + b[None, :, None, None]

    def pool(a):
        n, c, h, w = a.shape
        return a.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))

    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    a = pool(relu(conv(x.astype(np.float64), sd["conv1.weight"], sd["conv1.bias"])))
    a = pool(relu(conv(a, sd["conv2.weight"], sd["conv2.bias"]))).reshape(2, -1)
    a = relu(a @ sd["fc1.weight"].T + sd["fc1.bias"])
    a = relu(a @ sd["fc2.weight"].T + sd["fc2.bias"])
    ref = a @ sd["fc3.weight"].T + sd["fc3.bias"]
    with ember.no_grad():
        got = net(ember.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_lenet_rejects_wrong_input_size():
    with pytest.raises(RuntimeError, match="400"):  # 28x28 digits must be padded to 32x32
        models.LeNet()(ember.randn(1, 1, 28, 28))
