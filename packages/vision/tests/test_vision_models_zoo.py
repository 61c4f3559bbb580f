"""The rest of torchvision's classification zoo: DenseNet, Inception v3, GoogLeNet,
MobileNet v3, ShuffleNet v2, EfficientNet B0-B7, and the weights manifest."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.vision import models
from ember.vision.models import _weights, densenet, inception, mobilenet_v3, shufflenet
from ember.vision.models._blocks import SqueezeExcitation, StochasticDepth, stochastic_depth
from ember.vision.models.efficientnet import MBConv, MBConvConfig


def _count(model) -> int:
    return sum(p.numel() for p in model.parameters())


# Published constants: ``num_params``, ``acc@1``, ``acc@5`` of each weights entry as
# torchvision's model pages list them (https://pytorch.org/vision/stable/models/generated/
# torchvision.models.<builder>.html, e.g. ...densenet201.html: "num_params 20013928",
# "acc@1 76.896", "acc@5 93.37"), with the entry the builder's DEFAULT points to.
PUBLISHED = {
    # builder: (num_params, <weights enum>_Weights, DEFAULT entry, acc@1, acc@5)
    "densenet121": (7_978_856, "DenseNet121", "IMAGENET1K_V1", 74.434, 91.972),
    "densenet161": (28_681_000, "DenseNet161", "IMAGENET1K_V1", 77.138, 93.560),
    "densenet169": (14_149_480, "DenseNet169", "IMAGENET1K_V1", 75.600, 92.806),
    "densenet201": (20_013_928, "DenseNet201", "IMAGENET1K_V1", 76.896, 93.370),
    "inception_v3": (27_161_264, "Inception_V3", "IMAGENET1K_V1", 77.294, 93.450),
    "googlenet": (6_624_904, "GoogLeNet", "IMAGENET1K_V1", 69.778, 89.530),
    "mobilenet_v3_large": (5_483_032, "MobileNet_V3_Large", "IMAGENET1K_V2", 75.274, 92.566),
    "mobilenet_v3_small": (2_542_856, "MobileNet_V3_Small", "IMAGENET1K_V1", 67.668, 87.402),
    "shufflenet_v2_x0_5": (1_366_792, "ShuffleNet_V2_X0_5", "IMAGENET1K_V1", 60.552, 81.746),
    "shufflenet_v2_x1_0": (2_278_604, "ShuffleNet_V2_X1_0", "IMAGENET1K_V1", 69.362, 88.316),
    "shufflenet_v2_x1_5": (3_503_624, "ShuffleNet_V2_X1_5", "IMAGENET1K_V1", 72.996, 91.086),
    "shufflenet_v2_x2_0": (7_393_996, "ShuffleNet_V2_X2_0", "IMAGENET1K_V1", 76.230, 93.006),
    "efficientnet_b0": (5_288_548, "EfficientNet_B0", "IMAGENET1K_V1", 77.692, 93.532),
    "efficientnet_b1": (7_794_184, "EfficientNet_B1", "IMAGENET1K_V2", 79.838, 94.934),
    "efficientnet_b2": (9_109_994, "EfficientNet_B2", "IMAGENET1K_V1", 80.608, 95.310),
    "efficientnet_b3": (12_233_232, "EfficientNet_B3", "IMAGENET1K_V1", 82.008, 96.054),
    "efficientnet_b4": (19_341_616, "EfficientNet_B4", "IMAGENET1K_V1", 83.384, 96.594),
    "efficientnet_b5": (30_389_784, "EfficientNet_B5", "IMAGENET1K_V1", 83.444, 96.628),
    "efficientnet_b6": (43_040_704, "EfficientNet_B6", "IMAGENET1K_V1", 84.008, 96.916),
    "efficientnet_b7": (66_347_960, "EfficientNet_B7", "IMAGENET1K_V1", 84.122, 96.908),
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


def _se(prefix, c, squeeze):
    """Squeeze-excitation: two biased 1x1 convolutions, c -> squeeze -> c."""
    return {
        f"{prefix}.fc1.weight": (squeeze, c, 1, 1), f"{prefix}.fc1.bias": (squeeze,),
        f"{prefix}.fc2.weight": (c, squeeze, 1, 1), f"{prefix}.fc2.bias": (c,),
    }  # fmt: skip


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
            want.update(_se(f"{p}.{j + 1}", exp, sq))
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
            want.update(_se(f"{p}.{j + 1}", c * e, c // 4))
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


# -- building blocks against numpy ------------------------------------------------------------


def test_channel_shuffle_interleaves_the_groups():
    x = ember.arange(2 * 6 * 2 * 1, dtype=ember.float32).reshape(2, 6, 2, 1)
    got = shufflenet.channel_shuffle(x, 2).numpy()
    # Two groups of three channels, (0 1 2)(3 4 5), read round-robin: 0 3 1 4 2 5.
    np.testing.assert_array_equal(got, x.numpy()[:, [0, 3, 1, 4, 2, 5]])
    with pytest.raises(ValueError, match="6 channels do not split into 4 groups"):
        shufflenet.channel_shuffle(x, 4)


def test_shufflenet_unit_passes_half_the_channels_through():
    unit = shufflenet.InvertedResidual(8, 8, 1).eval()
    x = ember.randn(2, 8, 5, 5)
    with ember.no_grad():
        y = unit(x).numpy()
    # Stride 1: the first half is concatenated untouched, then shuffled to the even slots.
    np.testing.assert_array_equal(y[:, 0::2], x.numpy()[:, :4])
    down = shufflenet.InvertedResidual(8, 16, 2)
    assert tuple(down(x).shape) == (2, 16, 3, 3)
    with pytest.raises(ValueError, match="cin == cout"):
        shufflenet.InvertedResidual(8, 12, 1)


def test_squeeze_excitation_against_numpy():
    se = SqueezeExcitation(6, 2)
    x = np.random.default_rng(0).standard_normal((3, 6, 4, 5)).astype(np.float32)
    with ember.no_grad():
        got = se(ember.from_numpy(x)).numpy()
    w1, b1 = se.fc1.weight.detach().numpy()[:, :, 0, 0], se.fc1.bias.detach().numpy()
    w2, b2 = se.fc2.weight.detach().numpy()[:, :, 0, 0], se.fc2.bias.detach().numpy()
    pooled = x.mean(axis=(2, 3))
    scale = 1 / (1 + np.exp(-(np.maximum(pooled @ w1.T + b1, 0) @ w2.T + b2)))
    np.testing.assert_allclose(got, x * scale[:, :, None, None], rtol=1e-5, atol=1e-6)


def test_stochastic_depth_drops_whole_samples_and_rescales():
    ember.manual_seed(0)
    x = ember.ones(4000, 3, 2)
    y = stochastic_depth(x, 0.25, "row").numpy()
    per_row = y.reshape(4000, -1)
    # Each sample is all zeros or all 1 / 0.75; about a quarter are dropped.
    assert set(np.unique(per_row.min(1))) <= {0.0, np.float32(1 / 0.75)}
    assert (per_row.min(1) == per_row.max(1)).all()
    assert abs((per_row[:, 0] == 0).mean() - 0.25) < 0.03
    batch = stochastic_depth(x, 0.5, "batch").numpy()
    assert np.unique(batch).size == 1  # the whole batch kept or dropped together
    assert stochastic_depth(x, 1.0, "row").numpy().sum() == 0
    layer = StochasticDepth(0.9).eval()
    assert layer(x) is x  # the identity in evaluation
    with pytest.raises(ValueError, match=r"in \[0, 1\]"):
        StochasticDepth(1.5)
    with pytest.raises(ValueError, match="mode"):
        stochastic_depth(x, 0.5, "column")


def test_mbconv_residual_branch_dropped_in_training_only():
    cnf = MBConvConfig(6, 3, 1, 8, 8, 1)
    block = MBConv(cnf, stochastic_depth_prob=1.0, norm_layer=nn.BatchNorm2d)
    x = ember.randn(2, 8, 6, 6)
    with ember.no_grad():
        np.testing.assert_array_equal(block(x).numpy(), x.numpy())  # branch always dropped
        block.eval()
        np.testing.assert_allclose(block(x).numpy(), (block.block(x) + x).numpy(), rtol=1e-6)
    # The expanded width is 6 x 8, the squeeze a quarter of the input (2 channels).
    assert tuple(block.block[2].fc1.weight.shape) == (2, 48, 1, 1)


def test_transform_input_renormalizes_to_googles_range():
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    img = np.random.default_rng(1).random((2, 3, 4, 4)).astype(np.float32)
    normalized = (img - mean[:, None, None]) / std[:, None, None]
    got = inception.transform_input_like_google(ember.from_numpy(normalized.astype(np.float32)))
    np.testing.assert_allclose(got.numpy(), (img - 0.5) / 0.5, rtol=1e-5, atol=1e-5)


def test_dense_block_keeps_its_input_as_the_first_channels():
    block = densenet._DenseBlock(3, 5, bn_size=2, growth_rate=4, drop_rate=0.0).eval()
    x = ember.randn(2, 5, 6, 6)
    with ember.no_grad():
        y = block(x).numpy()
    assert y.shape == (2, 5 + 3 * 4, 6, 6)
    np.testing.assert_array_equal(y[:, :5], x.numpy())


# -- training versus evaluation ---------------------------------------------------------------


# A narrow DenseNet keeps the test fast; the dropout sits inside the dense layers.
_SMALL_DENSENET = dict(
    growth_rate=8, block_config=(2, 2, 2, 2), num_init_features=16, drop_rate=0.5
)


@pytest.mark.parametrize("name", ["mobilenet_v3_small", "efficientnet_b0", "densenet"])
def test_eval_is_deterministic_and_training_updates_batchnorm(name):
    if name == "densenet":
        model = models.DenseNet(num_classes=5, **_SMALL_DENSENET)
    else:
        model = getattr(models, name)(num_classes=5)
    size = _min_size(name) + 3
    x = ember.randn(4, 3, size, size)
    bn = next(m for m in model.modules() if isinstance(m, nn.BatchNorm2d))
    model.eval()
    with ember.no_grad():
        a, b = model(x).numpy(), model(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert int(bn.num_batches_tracked) == 0 and np.all(bn.running_mean.numpy() == 0)
    model.train()
    ember.manual_seed(0)
    with ember.no_grad():
        c, d = model(x).numpy(), model(x).numpy()
    assert not np.allclose(c, d)  # dropout draws a new mask per call
    assert not np.allclose(c, a)  # batch statistics instead of running ones
    assert int(bn.num_batches_tracked) == 2 and not np.all(bn.running_mean.numpy() == 0)


def test_googlenet_aux_outputs_in_training_only(fast_trunc_normal):
    model = models.googlenet(num_classes=4)
    x = ember.randn(2, 3, 32, 32)
    with ember.no_grad():
        out = model(x)
        assert isinstance(out, models.GoogLeNetOutputs)
        assert [tuple(t.shape) for t in out] == [(2, 4)] * 3
        assert tuple(model.eval()(x).shape) == (2, 4)  # a plain tensor in evaluation
        plain = models.googlenet(num_classes=4, aux_logits=False).train()
        assert isinstance(plain(x), ember.Tensor) and plain.aux1 is None


def test_inception_aux_output_in_training(no_init):
    model = models.inception_v3(num_classes=3)
    for t in model.state_dict().values():  # skipped initialization: make it finite and cheap
        t.detach().numpy()[...] = 0.01 if t.dtype == ember.float32 else 0
    x = ember.randn(2, 3, 299, 299)  # the auxiliary head needs the full 17x17 grid
    with ember.no_grad():
        out = model(x)
        assert isinstance(out, models.InceptionOutputs)
        assert tuple(out.logits.shape) == tuple(out.aux_logits.shape) == (2, 3)
    head = model.AuxLogits.eval()
    with ember.no_grad():
        assert tuple(head(ember.zeros(1, 768, 17, 17)).shape) == (1, 3)


# -- the weights manifest and loading ---------------------------------------------------------


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_weights_entries_carry_torchvisions_published_metadata(name):
    n_params, enum_name, default, acc1, acc5 = PUBLISHED[name]
    enum = getattr(models, enum_name + "_Weights")
    assert enum.DEFAULT is enum[default]
    meta = enum.DEFAULT.meta
    assert meta.num_params == n_params and meta.num_classes == 1000
    assert meta.metrics == {"acc@1": acc1, "acc@5": acc5}
    # The file name carries the sha256 prefix that ember.hub checks.
    file_name = enum.DEFAULT.url.rsplit("/", 1)[1]
    assert enum.DEFAULT.url.startswith("https://download.pytorch.org/models/")
    assert file_name.rsplit("-", 1)[1] == meta.sha256_prefix + ".pth"
    assert meta.categories[0] == "tench" and len(meta.categories) == 1000


def test_every_manifest_entry_is_well_formed():
    spec = _weights._manifest()["weights"]
    assert len(spec) >= 41  # the 20 new builders' enums and the 21 older ones
    for enum_name, item in spec.items():
        assert item["default"] in item["entries"], enum_name
        for entry in item["entries"].values():
            name = entry["url"].rsplit("/", 1)[1]
            assert name.endswith(f"-{entry['sha256_prefix']}.pth"), name
            assert len(entry["sha256_prefix"]) >= 8 and int(entry["sha256_prefix"], 16) >= 0
            assert entry["transforms"]["interpolation"] in ("bilinear", "bicubic")
            assert entry["transforms"]["crop"] <= entry["transforms"]["resize"] + 25
            assert set(entry["metrics"]) == {"acc@1", "acc@5"}


def test_imagenet_categories_are_the_1000_classes():
    names = models.DenseNet121_Weights.DEFAULT.meta.categories
    assert len(names) == 1000 and all(n and n == n.strip() for n in names)
    # Well-known indices of the ILSVRC-2012 label list.
    assert names[0] == "tench" and names[1] == "goldfish" and names[281] == "tabby"
    assert names[207] == "golden retriever" and names[999] == "toilet tissue"


@pytest.mark.parametrize(
    "enum, resize, crop, mode",
    [
        ("Inception_V3_Weights", 342, 299, "BILINEAR"),
        ("EfficientNet_B4_Weights", 384, 380, "BICUBIC"),
        ("MobileNet_V3_Large_Weights", 232, 224, "BILINEAR"),
        ("EfficientNet_B7_Weights", 600, 600, "BICUBIC"),
    ],
)
def test_weights_transforms_follow_the_entry(enum, resize, crop, mode):
    text = repr(getattr(models, enum).DEFAULT.transforms())
    assert f"Resize(size={resize}, interpolation=<InterpolationMode.{mode}" in text
    assert f"CenterCrop(size=({crop}, {crop}))" in text


def test_unknown_weights_and_class_mismatch_are_refused():
    with pytest.raises(ValueError, match="unknown weights 'IMAGENET1K_V9'"):
        models.efficientnet_b0(weights="IMAGENET1K_V9")
    with pytest.raises(ValueError, match="num_classes=10 does not match the weights' 1000"):
        models.shufflenet_v2_x0_5(weights="DEFAULT", num_classes=10)
    with pytest.raises(TypeError, match="MobileNet_V3_Small_Weights member"):
        models.mobilenet_v3_small(weights=models.MobileNet_V3_Large_Weights.DEFAULT)
    with pytest.raises(KeyError, match="no weights 'Nope_Weights'"):
        _weights.weights_enum("Nope_Weights")


def _fake_hub(monkeypatch, state_dict):
    seen = []

    def fake_load(url, progress=True, check_hash=False, **kw):
        seen.append((url, check_hash))
        return dict(state_dict)

    import ember.hub

    monkeypatch.setattr(ember.hub, "load_state_dict_from_url", fake_load)
    return seen


def test_googlenet_weights_drop_the_untrained_aux_heads(no_init, monkeypatch):
    full = models.GoogLeNet(aux_logits=True, init_weights=False).state_dict()
    seen = _fake_hub(monkeypatch, full)
    m = models.googlenet(weights="DEFAULT")
    assert seen == [(models.GoogLeNet_Weights.DEFAULT.url, True)]
    assert m.aux1 is None and m.aux2 is None and m.transform_input is True
    with pytest.warns(UserWarning, match="not trained"):
        kept = models.googlenet(weights="DEFAULT", aux_logits=True, transform_input=False)
    assert kept.aux1 is not None and kept.transform_input is False


def test_inception_and_densenet_weights_load_by_name(no_init, monkeypatch):
    _fake_hub(monkeypatch, models.Inception3(init_weights=False).state_dict())
    with pytest.warns(DeprecationWarning, match="pretrained=True"):
        m = models.inception_v3(pretrained=True)
    assert m.AuxLogits is not None and m.transform_input is True
    assert models.inception_v3(weights="DEFAULT", aux_logits=False).AuxLogits is None
    # DenseNet's published files predate num_batches_tracked and use the legacy names
    # ("norm.1" for "norm1"); the builder renames them.
    sd = models.densenet121().state_dict()
    legacy = {
        re.sub(r"\.(norm|conv)([12])\.", r".\1.\2.", k): v
        for k, v in sd.items()
        if not k.endswith("num_batches_tracked")
    }
    assert "features.denseblock4.denselayer16.conv.2.weight" in legacy
    _fake_hub(monkeypatch, legacy)
    models.densenet121(weights=models.DenseNet121_Weights.IMAGENET1K_V1)


def _serve_checkpoint(server, monkeypatch, tmp_path, module, enum_name, state_dict, corrupt=False):
    """Save ``state_dict``, serve it under a hash-prefixed name, point the enum at it."""
    import ember.hub._cache as cache

    path = tmp_path / "ckpt.pth"
    ember.save(state_dict, path)
    data = path.read_bytes()
    prefix = hashlib.sha256(data).hexdigest()[:10]
    name = f"weights-{prefix}.pth"
    server.files[f"/models/{name}"] = data[:-1] + bytes([data[-1] ^ 1]) if corrupt else data
    manifest = json.loads(json.dumps(_weights._manifest()))
    entry = manifest["weights"][enum_name]["entries"]["IMAGENET1K_V1"]
    entry.update(url=f"{server.url}/models/{name}", sha256_prefix=prefix)
    monkeypatch.setattr(_weights, "_manifest", lambda: manifest)
    monkeypatch.setattr(module, enum_name, _weights.weights_enum(enum_name))
    monkeypatch.setattr(cache, "_override", str(tmp_path / "cache"))
    return name


def test_pretrained_shufflenet_downloads_over_http_and_loads(server, monkeypatch, tmp_path):
    ember.manual_seed(3)
    source = models.shufflenet_v2_x0_5()
    want = {k: v.detach().numpy().copy() for k, v in source.state_dict().items()}
    name = _serve_checkpoint(
        server, monkeypatch, tmp_path, shufflenet, "ShuffleNet_V2_X0_5_Weights", source.state_dict()
    )
    with pytest.warns(DeprecationWarning):
        model = shufflenet.shufflenet_v2_x0_5(pretrained=True, progress=False)
    got = model.state_dict()
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_array_equal(got[k].numpy(), want[k], err_msg=k)
    assert (tmp_path / "cache" / "checkpoints" / name).exists()
    # Cached: a second build reads the file without asking the server again.
    shufflenet.shufflenet_v2_x0_5(weights="IMAGENET1K_V1", progress=False)
    assert server.hits[f"/models/{name}"] == 1
    x = ember.randn(1, 3, 32, 32)
    with ember.no_grad():
        np.testing.assert_allclose(
            model.eval()(x).numpy(), source.eval()(x).numpy(), rtol=1e-5, atol=1e-6
        )


def test_a_corrupted_checkpoint_is_refused(server, monkeypatch, tmp_path):
    import ember.hub

    sd = models.shufflenet_v2_x0_5().state_dict()
    name = _serve_checkpoint(
        server, monkeypatch, tmp_path, shufflenet, "ShuffleNet_V2_X0_5_Weights", sd, corrupt=True
    )
    with pytest.raises(ember.hub.HashMismatchError):
        shufflenet.shufflenet_v2_x0_5(weights="DEFAULT", progress=False)
    assert not (tmp_path / "cache" / "checkpoints" / name).exists()


def test_a_pytorch_written_checkpoint_loads_like_the_published_files(server, monkeypatch, tmp_path):
    # torchvision's files are torch.save zip archives; ember reads them without torch. The
    # same path is covered torch-free above with an ember-written file.
    torch = pytest.importorskip("torch")
    ember.manual_seed(5)
    source = models.mobilenet_v3_small()
    sd = source.state_dict()
    path = tmp_path / "tv.pth"
    torch.save({k: torch.from_numpy(v.detach().numpy().copy()) for k, v in sd.items()}, path)
    monkeypatch.setattr(ember, "save", lambda obj, p: p.write_bytes(path.read_bytes()))
    _serve_checkpoint(server, monkeypatch, tmp_path, mobilenet_v3, "MobileNet_V3_Small_Weights", sd)
    model = mobilenet_v3.mobilenet_v3_small(weights="IMAGENET1K_V1", progress=False)
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), sd[k].numpy(), err_msg=k)


def test_pretrained_true_means_the_v1_weights_as_in_torchvision(no_init, monkeypatch):
    # DEFAULT moved on to the V2 recipe; the old boolean keeps giving the V1 file.
    seen = _fake_hub(monkeypatch, models.mobilenet_v3_large().state_dict())
    with pytest.warns(DeprecationWarning, match="MobileNet_V3_Large_Weights.IMAGENET1K_V1"):
        models.mobilenet_v3_large(pretrained=True)
    models.mobilenet_v3_large(weights="DEFAULT")
    assert [url.rsplit("/", 1)[1] for url, _ in seen] == [
        "mobilenet_v3_large-8738ca79.pth",
        "mobilenet_v3_large-5c1a4163.pth",
    ]
    assert models.ResNet50_Weights.DEFAULT is models.ResNet50_Weights.IMAGENET1K_V2
    assert models.ResNet50_Weights.IMAGENET1K_V2.meta.resize == 232


def test_memory_efficient_densenet_gives_the_same_gradients(monkeypatch):
    calls = []
    real = densenet.checkpoint
    monkeypatch.setattr(densenet, "checkpoint", lambda *a: calls.append(1) or real(*a))
    kwargs = dict(_SMALL_DENSENET, drop_rate=0.0, num_classes=3)
    plain, thrifty = models.DenseNet(**kwargs), models.DenseNet(memory_efficient=True, **kwargs)
    thrifty.load_state_dict(plain.state_dict())
    x = np.random.default_rng(2).standard_normal((2, 3, 32, 32)).astype(np.float32)
    grads = []
    for model in (plain, thrifty):
        inp = ember.from_numpy(x.copy()).requires_grad_()
        model(inp).square().sum().backward()
        named = dict(model.named_parameters())
        grads.append({"input": inp.grad.numpy(), **{k: p.grad.numpy() for k, p in named.items()}})
    assert len(calls) == 8  # every dense layer of the thrifty model checkpointed
    assert grads[0].keys() == grads[1].keys()
    for k in grads[0]:
        np.testing.assert_allclose(grads[1][k], grads[0][k], rtol=1e-4, atol=1e-5, err_msg=k)
