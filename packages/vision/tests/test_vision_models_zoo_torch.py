"""Zoo forward passes against torch 2.13 as a reference.

Each reference is written here as plain ``torch.nn.functional`` calls from the
architecture's published description (no torchvision), reading the ember
model's own state dict by torchvision's names; BatchNorm statistics are
randomized so every layer matters. The torch-free tests in
``test_vision_models_zoo.py`` cover the same blocks against numpy.
"""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember.vision import models

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _randomize(model, seed: int) -> dict:
    """Random weights and BatchNorm statistics; returns the state dict as torch tensors."""
    rng = np.random.default_rng(seed)
    out = {}
    for k, t in model.state_dict().items():
        a = t.detach().numpy()
        if a.dtype == np.float32:
            if k.endswith("running_var"):
                a[...] = rng.uniform(0.5, 1.5, a.shape)
            elif k.endswith(("bn.weight", "1.weight")) and a.ndim == 1:
                a[...] = rng.uniform(0.5, 1.5, a.shape)
            else:
                fan_in = int(np.prod(a.shape[1:])) if a.ndim > 1 else 1
                a[...] = rng.standard_normal(a.shape) * (
                    1.0 / np.sqrt(fan_in) if a.ndim > 1 else 0.1
                )
        out[k] = torch.from_numpy(a.copy())
    return out


def _bn(sd, p, x, eps):
    return F.batch_norm(
        x, sd[f"{p}.running_mean"], sd[f"{p}.running_var"], sd[f"{p}.weight"], sd[f"{p}.bias"],
        False, 0.0, eps,
    )  # fmt: skip


def _compare(model, reference, size, seed=0):
    x = np.random.default_rng(seed + 1).standard_normal((2, 3, size, size)).astype(np.float32)
    with ember.no_grad():
        got = model.eval()(ember.from_numpy(x)).numpy()
    with torch.no_grad():
        want = reference(torch.from_numpy(x)).numpy()
    assert np.abs(want).max() > 1e-2  # a signal well above float32 noise
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-4 * np.abs(want).max())


def test_mobilenet_v3_small_matches_a_torch_reference():
    model = models.mobilenet_v3_small(num_classes=10)
    sd = _randomize(model, 0)
    hs, re_ = F.hardswish, F.relu
    # MobileNetV3-Small, paper table 2: in, kernel, expanded, out, SE, activation, stride.
    rows = [(16, 3, 16, 16, 1, re_, 2), (16, 3, 72, 24, 0, re_, 2), (24, 3, 88, 24, 0, re_, 1),
            (24, 5, 96, 40, 1, hs, 2), (40, 5, 240, 40, 1, hs, 1), (40, 5, 240, 40, 1, hs, 1),
            (40, 5, 120, 48, 1, hs, 1), (48, 5, 144, 48, 1, hs, 1), (48, 5, 288, 96, 1, hs, 2),
            (96, 5, 576, 96, 1, hs, 1), (96, 5, 576, 96, 1, hs, 1)]  # fmt: skip

    def cbn(p, x, stride=1, groups=1):
        w = sd[f"{p}.0.weight"]
        x = F.conv2d(x, w, None, stride, w.shape[-1] // 2, 1, groups)
        return _bn(sd, f"{p}.1", x, 1e-3)

    def reference(x):
        x = hs(cbn("features.0", x, 2))
        for i, (cin, _k, exp, cout, se, act, stride) in enumerate(rows, 1):
            p, j, y = f"features.{i}.block", 0, x
            if exp != cin:
                y, j = act(cbn(f"{p}.0", y)), 1
            y = act(cbn(f"{p}.{j}", y, stride, exp))
            if se:
                q = f"{p}.{j + 1}"
                s = F.relu(
                    F.conv2d(
                        y.mean((2, 3), keepdim=True), sd[f"{q}.fc1.weight"], sd[f"{q}.fc1.bias"]
                    )
                )
                y = y * F.hardsigmoid(F.conv2d(s, sd[f"{q}.fc2.weight"], sd[f"{q}.fc2.bias"]))
            y = cbn(f"{p}.{j + 1 + se}", y)
            x = y + x if stride == 1 and cin == cout else y
        x = hs(cbn("features.12", x)).mean((2, 3))
        x = hs(F.linear(x, sd["classifier.0.weight"], sd["classifier.0.bias"]))
        return F.linear(x, sd["classifier.3.weight"], sd["classifier.3.bias"])

    _compare(model, reference, 33)


def test_googlenet_matches_a_torch_reference():
    model = models.googlenet(num_classes=10, aux_logits=False, transform_input=True)
    sd = _randomize(model, 1)

    def bc(p, x, stride=1, pad=0):
        x = F.conv2d(x, sd[f"{p}.conv.weight"], None, stride, pad)
        return F.relu(_bn(sd, f"{p}.bn", x, 1e-3))

    def inception(p, x):
        b2 = bc(f"{p}.branch2.1", bc(f"{p}.branch2.0", x), pad=1)
        b3 = bc(f"{p}.branch3.1", bc(f"{p}.branch3.0", x), pad=1)
        b4 = bc(f"{p}.branch4.1", F.max_pool2d(x, 3, 1, 1, ceil_mode=True))
        return torch.cat([bc(f"{p}.branch1", x), b2, b3, b4], 1)

    def reference(x):
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        x = x * (std / 0.5)[:, None, None] + ((mean - 0.5) / 0.5)[:, None, None]
        x = F.max_pool2d(bc("conv1", x, 2, 3), 3, 2, ceil_mode=True)
        x = F.max_pool2d(bc("conv3", bc("conv2", x), pad=1), 3, 2, ceil_mode=True)
        x = F.max_pool2d(
            inception("inception3b", inception("inception3a", x)), 3, 2, ceil_mode=True
        )
        for name in ("4a", "4b", "4c", "4d", "4e"):
            x = inception(f"inception{name}", x)
        x = F.max_pool2d(x, 2, 2, ceil_mode=True)
        x = inception("inception5b", inception("inception5a", x)).mean((2, 3))
        return F.linear(x, sd["fc.weight"], sd["fc.bias"])

    _compare(model, reference, 40)  # 40 -> 20 -> 10 only with ceil-mode pooling (9 without)


def test_efficientnet_b0_matches_a_torch_reference():
    model = models.efficientnet_b0(num_classes=10)
    sd = _randomize(model, 2)
    # EfficientNet-B0, paper table 1: expand, kernel, stride, in, out, repeats.
    stages = [(1, 3, 1, 32, 16, 1), (6, 3, 2, 16, 24, 2), (6, 5, 2, 24, 40, 2),
              (6, 3, 2, 40, 80, 3), (6, 5, 1, 80, 112, 3), (6, 5, 2, 112, 192, 4),
              (6, 3, 1, 192, 320, 1)]  # fmt: skip

    def cbn(p, x, stride=1, groups=1):
        w = sd[f"{p}.0.weight"]
        x = F.conv2d(x, w, None, stride, w.shape[-1] // 2, 1, groups)
        return _bn(sd, f"{p}.1", x, 1e-5)

    def reference(x):
        x = F.silu(cbn("features.0", x, 2))
        for s, (e, _k, stride, cin, cout, n) in enumerate(stages, 1):
            for b in range(n):
                c, st = (cin, stride) if b == 0 else (cout, 1)
                p, j, y = f"features.{s}.{b}.block", 0, x
                if e != 1:
                    y, j = F.silu(cbn(f"{p}.0", y)), 1
                y = F.silu(cbn(f"{p}.{j}", y, st, c * e))
                q = f"{p}.{j + 1}"
                z = F.silu(
                    F.conv2d(
                        y.mean((2, 3), keepdim=True), sd[f"{q}.fc1.weight"], sd[f"{q}.fc1.bias"]
                    )
                )
                y = y * torch.sigmoid(F.conv2d(z, sd[f"{q}.fc2.weight"], sd[f"{q}.fc2.bias"]))
                y = cbn(f"{p}.{j + 2}", y)
                x = y + x if st == 1 and c == cout else y  # stochastic depth is off in eval
        x = F.silu(cbn("features.8", x)).mean((2, 3))
        return F.linear(x, sd["classifier.1.weight"], sd["classifier.1.bias"])

    _compare(model, reference, 35)


def test_shufflenet_v2_matches_a_torch_reference():
    model = models.shufflenet_v2_x0_5(num_classes=10)
    sd = _randomize(model, 3)

    def cb(p, i, x, stride=1, groups=1, relu=False):
        w = sd[f"{p}.{i}.weight"]
        x = _bn(sd, f"{p}.{i + 1}", F.conv2d(x, w, None, stride, w.shape[-1] // 2, 1, groups), 1e-5)
        return F.relu(x) if relu else x

    def unit(p, x, stride):
        if stride == 1:
            left, x = x.chunk(2, 1)
        else:
            left = cb(f"{p}.branch1", 2, cb(f"{p}.branch1", 0, x, 2, x.shape[1]), relu=True)
        y = cb(f"{p}.branch2", 0, x, relu=True)
        y = cb(f"{p}.branch2", 3, y, stride, y.shape[1])
        y = torch.cat([left, cb(f"{p}.branch2", 5, y, relu=True)], 1)
        n, c, h, w = y.shape  # shuffle two groups: channel g * c/2 + i goes to 2 * i + g
        return y.reshape(n, 2, c // 2, h, w).transpose(1, 2).reshape(n, c, h, w)

    def reference(x):
        x = F.max_pool2d(cb("conv1", 0, x, 2, relu=True), 3, 2, 1)
        for stage, repeats in ((2, 4), (3, 8), (4, 4)):
            for i in range(repeats):
                x = unit(f"stage{stage}.{i}", x, 2 if i == 0 else 1)
        x = cb("conv5", 0, x, relu=True).mean((2, 3))
        return F.linear(x, sd["fc.weight"], sd["fc.bias"])

    _compare(model, reference, 37)


def test_densenet_matches_a_torch_reference():
    cfg = dict(growth_rate=8, block_config=(2, 3, 2, 2), num_init_features=16, bn_size=2)
    model = models.DenseNet(num_classes=10, **cfg)
    sd = _randomize(model, 4)

    def brc(p, x, pad=0):  # BN -> ReLU -> conv, the DenseNet-BC order
        return F.conv2d(
            F.relu(_bn(sd, p.replace("conv", "norm"), x, 1e-5)), sd[f"{p}.weight"], None, 1, pad
        )

    def reference(x):
        x = F.conv2d(x, sd["features.conv0.weight"], None, 2, 3)
        x = F.max_pool2d(F.relu(_bn(sd, "features.norm0", x, 1e-5)), 3, 2, 1)
        for b, layers in enumerate(cfg["block_config"], 1):
            for i in range(1, layers + 1):
                p = f"features.denseblock{b}.denselayer{i}"
                x = torch.cat([x, brc(f"{p}.conv2", brc(f"{p}.conv1", x), 1)], 1)
            if b < 4:
                x = F.avg_pool2d(brc(f"features.transition{b}.conv", x), 2, 2)
        x = F.relu(_bn(sd, "features.norm5", x, 1e-5)).mean((2, 3))
        return F.linear(x, sd["classifier.weight"], sd["classifier.bias"])

    _compare(model, reference, 35)


def test_inception_v3_matches_a_torch_reference():
    model = models.inception_v3(num_classes=10, aux_logits=False, init_weights=False)
    sd = _randomize(model, 5)

    def bc(p, x, stride=1, pad=0):
        x = F.conv2d(x, sd[f"{p}.conv.weight"], None, stride, pad)
        return F.relu(_bn(sd, f"{p}.bn", x, 1e-3))

    def pooled(p, x):
        return bc(f"{p}.branch_pool", F.avg_pool2d(x, 3, 1, 1))

    def a(p, x):
        b5 = bc(f"{p}.branch5x5_2", bc(f"{p}.branch5x5_1", x), pad=2)
        d = bc(
            f"{p}.branch3x3dbl_3",
            bc(f"{p}.branch3x3dbl_2", bc(f"{p}.branch3x3dbl_1", x), pad=1),
            pad=1,
        )
        return torch.cat([bc(f"{p}.branch1x1", x), b5, d, pooled(p, x)], 1)

    def b(p, x):
        d = bc(
            f"{p}.branch3x3dbl_3", bc(f"{p}.branch3x3dbl_2", bc(f"{p}.branch3x3dbl_1", x), pad=1), 2
        )
        return torch.cat([bc(f"{p}.branch3x3", x, 2), d, F.max_pool2d(x, 3, 2)], 1)

    row7, col7, row3, col3 = (0, 3), (3, 0), (0, 1), (1, 0)

    def c(p, x):
        b7 = bc(
            f"{p}.branch7x7_3",
            bc(f"{p}.branch7x7_2", bc(f"{p}.branch7x7_1", x), pad=row7),
            pad=col7,
        )
        d = bc(f"{p}.branch7x7dbl_1", x)
        for i, pad in zip(range(2, 6), (col7, row7, col7, row7)):
            d = bc(f"{p}.branch7x7dbl_{i}", d, pad=pad)
        return torch.cat([bc(f"{p}.branch1x1", x), b7, d, pooled(p, x)], 1)

    def d_(p, x):
        b3 = bc(f"{p}.branch3x3_2", bc(f"{p}.branch3x3_1", x), 2)
        b7 = bc(
            f"{p}.branch7x7x3_3",
            bc(f"{p}.branch7x7x3_2", bc(f"{p}.branch7x7x3_1", x), pad=row7),
            pad=col7,
        )
        return torch.cat([b3, bc(f"{p}.branch7x7x3_4", b7, 2), F.max_pool2d(x, 3, 2)], 1)

    def e(p, x):
        b3 = bc(f"{p}.branch3x3_1", x)
        b3 = torch.cat(
            [bc(f"{p}.branch3x3_2a", b3, pad=row3), bc(f"{p}.branch3x3_2b", b3, pad=col3)], 1
        )
        d = bc(f"{p}.branch3x3dbl_2", bc(f"{p}.branch3x3dbl_1", x), pad=1)
        d = torch.cat(
            [bc(f"{p}.branch3x3dbl_3a", d, pad=row3), bc(f"{p}.branch3x3dbl_3b", d, pad=col3)], 1
        )
        return torch.cat([bc(f"{p}.branch1x1", x), b3, d, pooled(p, x)], 1)

    def reference(x):
        x = bc("Conv2d_2b_3x3", bc("Conv2d_2a_3x3", bc("Conv2d_1a_3x3", x, 2)), pad=1)
        x = F.max_pool2d(bc("Conv2d_4a_3x3", bc("Conv2d_3b_1x1", F.max_pool2d(x, 3, 2))), 3, 2)
        for name, block in (("5b", a), ("5c", a), ("5d", a), ("6a", b), ("6b", c), ("6c", c),
                            ("6d", c), ("6e", c), ("7a", d_), ("7b", e), ("7c", e)):  # fmt: skip
            x = block(f"Mixed_{name}", x)
        return F.linear(x.mean((2, 3)), sd["fc.weight"], sd["fc.bias"])

    _compare(model, reference, 79)
