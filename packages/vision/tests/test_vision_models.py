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


# -- the zoo: torchvision's published parameter counts ---------------------------------

COUNTS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "resnext50_32x4d": 25_028_904,
    "wide_resnet50_2": 68_883_240,
    "alexnet": 61_100_840,
    "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840,
    "vgg13": 133_047_848,
    "vgg13_bn": 133_053_736,
    "vgg16": 138_357_544,
    "vgg16_bn": 138_365_992,
    "vgg19": 143_667_240,
    "vgg19_bn": 143_678_248,
    "squeezenet1_0": 1_248_424,
    "squeezenet1_1": 1_235_496,
    "mobilenet_v2": 3_504_872,
    "efficientnet_lite0": 4_652_008,
}


@pytest.fixture
def no_init(monkeypatch):
    """Skip random initialization: counts and shapes do not depend on it, and it is slow."""
    import ember.nn as nn

    for name in ("kaiming_normal_", "kaiming_uniform_", "normal_", "ones_", "zeros_"):
        monkeypatch.setattr(nn.init, name, lambda t, *a, **k: t)
    for cls in (nn.Conv2d, nn.Linear, nn.BatchNorm2d):
        monkeypatch.setattr(cls, "reset_parameters", lambda self: None)


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_parameter_counts(name, no_init):
    model = getattr(models, name)()
    assert _count(model) == COUNTS[name]


@pytest.mark.parametrize(
    "name, size",
    [("resnet18", 64), ("resnet50", 64), ("alexnet", 63)]
    + [("squeezenet1_1", 64), ("mobilenet_v2", 32), ("efficientnet_lite0", 64)],
)
def test_forward_shapes(name, size):
    model = getattr(models, name)(num_classes=7).eval()
    with ember.no_grad():
        out = model(ember.randn(2, 3, size, size))
    assert tuple(out.shape) == (2, 7) and np.isfinite(out.numpy()).all()


def test_vgg_forward_shape(no_init):
    # Initializing VGG's 133M weights takes seconds; the shape does not depend on them.
    model = models.vgg11_bn(num_classes=7).eval()
    for t in model.state_dict().values():  # uninitialized memory: make it finite
        t.detach().numpy()[...] = 0
    with ember.no_grad():
        assert tuple(model(ember.zeros(1, 3, 32, 32)).shape) == (1, 7)


def test_resnet_names_match_torchvision(no_init):
    sd = models.resnet18().state_dict()
    # The layout torchvision's resnet18-f37072fd.pth uses.
    assert len(sd) == 122
    for key, shape in {
        "conv1.weight": (64, 3, 7, 7),
        "bn1.running_var": (64,),
        "layer1.1.conv2.weight": (64, 64, 3, 3),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1),
        "layer2.0.downsample.1.num_batches_tracked": (),
        "layer4.1.bn2.bias": (512,),
        "fc.weight": (1000, 512),
    }.items():
        assert tuple(sd[key].shape) == shape, key
    mb = models.mobilenet_v2().state_dict()
    assert tuple(mb["features.1.conv.0.0.weight"].shape) == (32, 1, 3, 3)
    assert tuple(mb["features.2.conv.3.running_mean"].shape) == (24,)
    assert tuple(mb["features.18.0.weight"].shape) == (1280, 320, 1, 1)
    assert tuple(mb["classifier.1.weight"].shape) == (1000, 1280)
    sq = models.squeezenet1_0().state_dict()
    assert tuple(sq["features.3.expand3x3.weight"].shape) == (64, 16, 3, 3)
    assert tuple(sq["classifier.1.weight"].shape) == (1000, 512, 1, 1)
    vgg = models.vgg16_bn().state_dict()
    assert tuple(vgg["features.40.weight"].shape) == (512, 512, 3, 3)
    assert tuple(vgg["features.41.running_var"].shape) == (512,)
    assert tuple(vgg["classifier.6.weight"].shape) == (1000, 4096)


def test_weights_api(no_init, monkeypatch):
    w = models.ResNet18_Weights.DEFAULT
    assert w is models.ResNet18_Weights.IMAGENET1K_V1
    assert w.url.endswith("resnet18-f37072fd.pth") and w.meta.metrics["acc@1"] == 69.758
    with pytest.raises(ValueError, match="num_classes=10 does not match"):
        models.resnet18(weights=w, num_classes=10)
    with pytest.raises(ValueError, match="unknown weights"):
        models.resnet18(weights="IMAGENET9K")
    # ResNeXt and Wide ResNet carry torchvision's two published checkpoints each
    assert models.Wide_ResNet50_2_Weights.DEFAULT is models.Wide_ResNet50_2_Weights.IMAGENET1K_V2
    assert models.ResNeXt50_32X4D_Weights.IMAGENET1K_V1.url.endswith("resnext50_32x4d-7cdf4587.pth")
    # Loading goes through the hub with the hash check; serve it from a fake hub here.
    sd = models.resnet18().state_dict()
    seen = {}

    def fake_load(url, progress=True, check_hash=False, **kw):
        seen.update(url=url, check_hash=check_hash)
        return {k: ember.zeros_like(v) for k, v in sd.items()}

    import ember.hub

    monkeypatch.setattr(ember.hub, "load_state_dict_from_url", fake_load)
    with pytest.warns(DeprecationWarning, match="pretrained=True"):
        m = models.resnet18(pretrained=True)
    assert seen == {"url": w.url, "check_hash": True}
    assert float(m.fc.weight.abs().sum()) == 0.0
    t = w.transforms()
    assert "Resize(size=256" in repr(t) and "CenterCrop(size=(224, 224))" in repr(t)


def test_same_padding_like_tensorflow():
    from ember.vision.models.efficientnet_lite import SameConv2d

    conv = SameConv2d(1, 1, 3, 2, bias=False)
    ember.nn.init.ones_(conv.weight)
    # TF "same" on an even size with stride 2 pads 0 before and 1 after.
    x = ember.arange(16, dtype=ember.float32).reshape(1, 1, 4, 4)
    out = conv(x).detach().numpy()[0, 0]
    a = np.pad(np.arange(16.0).reshape(4, 4), ((0, 1), (0, 1)))
    ref = np.array([[a[i : i + 3, j : j + 3].sum() for j in (0, 2)] for i in (0, 2)])
    np.testing.assert_allclose(out, ref)
    assert tuple(conv(ember.zeros(1, 1, 7, 7)).shape) == (1, 1, 4, 4)
