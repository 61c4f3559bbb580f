"""The rest of torchvision's classification zoo: DenseNet, Inception v3, GoogLeNet,
MobileNet v3, ShuffleNet v2, EfficientNet B0-B7, and the weights manifest."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.vision import models
from ember.vision.models import _weights, densenet, googlenet, inception, shufflenet
from ember.vision.models._blocks import SqueezeExcitation, StochasticDepth, stochastic_depth
from ember.vision.models.efficientnet import MBConv, MBConvConfig


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


# Published constants: ``num_params``, ``acc@1``, ``acc@5`` of each weights entry as
# torchvision's model pages list them (https://pytorch.org/vision/stable/models/generated/
# torchvision.models.<builder>.html, e.g. ...densenet201.html: "num_params 20013928",
# "acc@1 76.896", "acc@5 93.37"), with the entry the builder's DEFAULT points to.
PUBLISHED = {
    # builder: (num_params, weights enum, DEFAULT entry, acc@1, acc@5)
    "densenet121": (7_978_856, "DenseNet121_Weights", "IMAGENET1K_V1", 74.434, 91.972),
    "densenet161": (28_681_000, "DenseNet161_Weights", "IMAGENET1K_V1", 77.138, 93.560),
    "densenet169": (14_149_480, "DenseNet169_Weights", "IMAGENET1K_V1", 75.600, 92.806),
    "densenet201": (20_013_928, "DenseNet201_Weights", "IMAGENET1K_V1", 76.896, 93.370),
    "inception_v3": (27_161_264, "Inception_V3_Weights", "IMAGENET1K_V1", 77.294, 93.450),
    "googlenet": (6_624_904, "GoogLeNet_Weights", "IMAGENET1K_V1", 69.778, 89.530),
    "mobilenet_v3_large": (5_483_032, "MobileNet_V3_Large_Weights", "IMAGENET1K_V2", 75.274, 92.566),
    "mobilenet_v3_small": (2_542_856, "MobileNet_V3_Small_Weights", "IMAGENET1K_V1", 67.668, 87.402),
    "shufflenet_v2_x0_5": (1_366_792, "ShuffleNet_V2_X0_5_Weights", "IMAGENET1K_V1", 60.552, 81.746),
    "shufflenet_v2_x1_0": (2_278_604, "ShuffleNet_V2_X1_0_Weights", "IMAGENET1K_V1", 69.362, 88.316),
    "shufflenet_v2_x1_5": (3_503_624, "ShuffleNet_V2_X1_5_Weights", "IMAGENET1K_V1", 72.996, 91.086),
    "shufflenet_v2_x2_0": (7_393_996, "ShuffleNet_V2_X2_0_Weights", "IMAGENET1K_V1", 76.230, 93.006),
    "efficientnet_b0": (5_288_548, "EfficientNet_B0_Weights", "IMAGENET1K_V1", 77.692, 93.532),
    "efficientnet_b1": (7_794_184, "EfficientNet_B1_Weights", "IMAGENET1K_V2", 79.838, 94.934),
    "efficientnet_b2": (9_109_994, "EfficientNet_B2_Weights", "IMAGENET1K_V1", 80.608, 95.310),
    "efficientnet_b3": (12_233_232, "EfficientNet_B3_Weights", "IMAGENET1K_V1", 82.008, 96.054),
    "efficientnet_b4": (19_341_616, "EfficientNet_B4_Weights", "IMAGENET1K_V1", 83.384, 96.594),
    "efficientnet_b5": (30_389_784, "EfficientNet_B5_Weights", "IMAGENET1K_V1", 83.444, 96.628),
    "efficientnet_b6": (43_040_704, "EfficientNet_B6_Weights", "IMAGENET1K_V1", 84.008, 96.916),
    "efficientnet_b7": (66_347_960, "EfficientNet_B7_Weights", "IMAGENET1K_V1", 84.122, 96.908),
}  # fmt: skip

# The smallest input each accepts (torchvision's ``min_size``); forward tests use it to stay fast.
MIN_SIZE = {"densenet": 29, "inception": 75, "googlenet": 15}


def _min_size(name: str) -> int:
    return next((s for prefix, s in MIN_SIZE.items() if name.startswith(prefix)), 1)


@pytest.fixture
def no_init(monkeypatch):
    """Skip random initialization: counts and key names do not depend on it."""
    for name in ("kaiming_normal_", "kaiming_uniform_", "normal_", "trunc_normal_", "uniform_"):
        monkeypatch.setattr(nn.init, name, lambda t, *a, **k: t)
    for name in ("ones_", "zeros_"):
        monkeypatch.setattr(nn.init, name, lambda t, *a, **k: t)
    for cls in (nn.Conv2d, nn.Linear, nn.BatchNorm2d):
        monkeypatch.setattr(cls, "reset_parameters", lambda self: None)


@pytest.fixture
def fast_trunc_normal(monkeypatch):
    """A plain normal in place of the truncated one (slow in ember): shapes do not care."""
    monkeypatch.setattr(nn.init, "trunc_normal_", lambda t, mean=0.0, std=1.0, a=-2, b=2: (
        nn.init.normal_(t, mean, std)
    ))  # fmt: skip


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_are_torchvisions(name, no_init):
    model = getattr(models, name)() if name != "googlenet" else models.googlenet(aux_logits=False)
    assert _count(model) == PUBLISHED[name][0]


def test_googlenet_aux_heads_add_two_classifiers(no_init):
    # Each head: 1x1 conv (cin*128, BN 2*128), fc1 2048*1024+1024, fc2 1024*1000+1000.
    head = lambda cin: cin * 128 + 256 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000  # noqa: E731
    assert _count(models.googlenet()) == 6_624_904 + head(512) + head(528)
    # Inception v3's published count includes its auxiliary head (aux_logits=True by default).
    aux = 768 * 128 + 256 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000
    assert _count(models.inception_v3(aux_logits=False)) == 27_161_264 - aux


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_forward_shape_at_the_smallest_input(name, fast_trunc_normal):
    model = getattr(models, name)(num_classes=7).eval()
    size = _min_size(name)
    with ember.no_grad():
        out = model(ember.randn(2, 3, size, size))
    assert tuple(out.shape) == (2, 7) and np.isfinite(out.numpy()).all()


@pytest.mark.parametrize(
    "name, size", [("densenet121", 28), ("googlenet", 14), ("inception_v3", 74)]
)
def test_inputs_below_the_minimum_are_refused(name, size, fast_trunc_normal):
    model = getattr(models, name)(num_classes=3).eval()
    with pytest.raises((RuntimeError, ValueError)), ember.no_grad():
        model(ember.randn(1, 3, size, size))


# -- state-dict names: derived here from the architectures' documented structure -----------


def _bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    names = ("weight", "bias", "running_mean", "running_var")
    return {**{f"{prefix}.{n}": (c,) for n in names}, f"{prefix}.num_batches_tracked": ()}


def _shapes(model) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def test_densenet121_names_and_shapes_match_torchvisions_layout(no_init):
    # DenseNet-BC-121 (paper table 1, torchvision's module names): stem conv0/norm0,
    # four dense blocks of (6, 12, 24, 16) layers with growth 32 and a 4x bottleneck,
    # transitions halving the channels, norm5, a linear classifier.
    want = {"features.conv0.weight": (64, 3, 7, 7), **_bn("features.norm0", 64)}
    c = 64
    for b, layers in enumerate((6, 12, 24, 16), 1):
        for i in range(1, layers + 1):
            p, cin = f"features.denseblock{b}.denselayer{i}", c + (i - 1) * 32
            want.update(_bn(f"{p}.norm1", cin))
            want[f"{p}.conv1.weight"] = (128, cin, 1, 1)
            want.update(_bn(f"{p}.norm2", 128))
            want[f"{p}.conv2.weight"] = (32, 128, 3, 3)
        c += layers * 32
        if b < 4:
            want.update(_bn(f"features.transition{b}.norm", c))
            want[f"features.transition{b}.conv.weight"] = (c // 2, c, 1, 1)
            c //= 2
    want.update(_bn("features.norm5", c))
    want.update({"classifier.weight": (1000, 1024), "classifier.bias": (1000,)})
    assert _shapes(models.densenet121()) == want


def test_densenet_reads_the_legacy_key_names_of_the_published_files():
    # densenet121-a639ec97.pth predates torchvision's renaming: "norm.1" for "norm1".
    old = {
        "features.denseblock1.denselayer1.norm.1.weight": 1,
        "features.denseblock3.denselayer12.conv.2.weight": 2,
        "features.denseblock1.denselayer1.norm.1.running_var": 3,
        "features.transition1.norm.weight": 4,
        "features.norm5.bias": 5,
    }
    assert densenet._rename_legacy_keys(old) == {
        "features.denseblock1.denselayer1.norm1.weight": 1,
        "features.denseblock3.denselayer12.conv2.weight": 2,
        "features.denseblock1.denselayer1.norm1.running_var": 3,
        "features.transition1.norm.weight": 4,
        "features.norm5.bias": 5,
    }


def _conv_bn(prefix, cin, cout, k, groups=1):
    return {f"{prefix}.0.weight": (cout, cin // groups, k, k), **_bn(f"{prefix}.1", cout)}


def test_mobilenet_v3_small_names_match_torchvisions_layout(no_init):
    # MobileNetV3-Small (paper table 2): input, kernel, expanded, output, SE, stride.
    rows = [(16, 3, 16, 16, 1), (16, 3, 72, 24, 0), (24, 3, 88, 24, 0), (24, 5, 96, 40, 1),
            (40, 5, 240, 40, 1), (40, 5, 240, 40, 1), (40, 5, 120, 48, 1), (48, 5, 144, 48, 1),
            (48, 5, 288, 96, 1), (96, 5, 576, 96, 1), (96, 5, 576, 96, 1)]  # fmt: skip
    want = _conv_bn("features.0", 3, 16, 3)
    for i, (cin, k, exp, cout, se) in enumerate(rows, 1):
        j, p = 0, f"features.{i}.block"
        if exp != cin:
            want.update(_conv_bn(f"{p}.0", cin, exp, 1))
            j = 1
        want.update(_conv_bn(f"{p}.{j}", exp, exp, k, groups=exp))
        if se:  # squeeze to a quarter, rounded to a multiple of 8
            sq = max(8, int(exp // 4 + 4) // 8 * 8)
            want.update(
                {f"{p}.{j + 1}.fc1.weight": (sq, exp, 1, 1), f"{p}.{j + 1}.fc1.bias": (sq,)}
            )
            want.update(
                {f"{p}.{j + 1}.fc2.weight": (exp, sq, 1, 1), f"{p}.{j + 1}.fc2.bias": (exp,)}
            )
        want.update(_conv_bn(f"{p}.{j + 1 + se}", exp, cout, 1))
    want.update(_conv_bn("features.12", 96, 576, 1))
    want.update({"classifier.0.weight": (1024, 576), "classifier.0.bias": (1024,)})
    want.update({"classifier.3.weight": (1000, 1024), "classifier.3.bias": (1000,)})
    assert _shapes(models.mobilenet_v3_small()) == want


def test_efficientnet_b0_names_match_torchvisions_layout(no_init):
    # EfficientNet-B0 (paper table 1): stages of MBConv (expand, kernel, in, out, repeats);
    # SE squeezes to a quarter of the block's input channels; the head is 4 x 320 wide.
    stages = [(1, 3, 32, 16, 1), (6, 3, 16, 24, 2), (6, 5, 24, 40, 2), (6, 3, 40, 80, 3),
              (6, 5, 80, 112, 3), (6, 5, 112, 192, 4), (6, 3, 192, 320, 1)]  # fmt: skip
    want = _conv_bn("features.0", 3, 32, 3)
    for s, (e, k, cin, cout, n) in enumerate(stages, 1):
        for b in range(n):
            c, p, j = (cin if b == 0 else cout), f"features.{s}.{b}.block", 0
            if e != 1:
                want.update(_conv_bn(f"{p}.0", c, c * e, 1))
                j = 1
            want.update(_conv_bn(f"{p}.{j}", c * e, c * e, k, groups=c * e))
            sq = c // 4
            want.update(
                {f"{p}.{j + 1}.fc1.weight": (sq, c * e, 1, 1), f"{p}.{j + 1}.fc1.bias": (sq,)}
            )
            want.update(
                {f"{p}.{j + 1}.fc2.weight": (c * e, sq, 1, 1), f"{p}.{j + 1}.fc2.bias": (c * e,)}
            )
            want.update(_conv_bn(f"{p}.{j + 2}", c * e, cout, 1))
    want.update(_conv_bn("features.8", 320, 1280, 1))
    want.update({"classifier.1.weight": (1000, 1280), "classifier.1.bias": (1000,)})
    assert _shapes(models.efficientnet_b0()) == want


def test_shufflenet_and_inception_family_names(no_init):
    sh = _shapes(models.shufflenet_v2_x1_0())
    assert sh["conv1.0.weight"] == (24, 3, 3, 3)
    assert sh["stage2.0.branch1.0.weight"] == (24, 1, 3, 3)  # depthwise on the 24 inputs
    assert sh["stage2.0.branch2.0.weight"] == (58, 24, 1, 1)
    assert sh["stage2.1.branch2.3.weight"] == (58, 1, 3, 3)
    assert "stage2.1.branch1.0.weight" not in sh  # stride-1 units split instead
    assert sh["stage4.3.branch2.6.running_var"] == (232,)  # conv, bn, relu, dw, bn, conv, bn
    assert sh["conv5.0.weight"] == (1024, 464, 1, 1) and sh["fc.weight"] == (1000, 1024)
    assert sum(k.startswith("stage3.") and k.endswith("branch2.0.weight") for k in sh) == 8
    g = _shapes(models.googlenet())
    assert g["conv1.conv.weight"] == (64, 3, 7, 7) and g["conv1.bn.running_mean"] == (64,)
    assert g["inception3a.branch3.1.conv.weight"] == (32, 16, 3, 3)  # the "5x5" branch is 3x3
    assert g["inception5b.branch4.1.conv.weight"] == (128, 832, 1, 1)
    assert g["aux1.conv.conv.weight"] == (128, 512, 1, 1) and g["aux2.fc1.weight"] == (1024, 2048)
    assert g["fc.weight"] == (1000, 1024)
    i = _shapes(models.inception_v3())
    assert i["Conv2d_1a_3x3.conv.weight"] == (32, 3, 3, 3)
    assert i["Mixed_6b.branch7x7_2.conv.weight"] == (128, 128, 1, 7)
    assert i["Mixed_7c.branch3x3dbl_3b.bn.running_var"] == (384,)
    assert i["AuxLogits.conv1.conv.weight"] == (768, 128, 5, 5)
    assert i["AuxLogits.fc.weight"] == (1000, 768) and i["fc.weight"] == (1000, 2048)
    assert not any(
        k.startswith("AuxLogits") for k in _shapes(models.inception_v3(aux_logits=False))
    )
