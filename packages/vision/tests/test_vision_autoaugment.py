"""AutoAugment's pixel ops against PIL's ImageOps/ImageEnhance and hand values; the policies
(AutoAugment, RandAugment, TrivialAugmentWide) against their magnitude tables and a
re-enactment of their draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

import ember
from ember.data import DataLoader, Dataset
from ember.vision import transforms as T
from ember.vision.transforms import _t_autoaugment as AA
from ember.vision.transforms import functional as F

IM = T.InterpolationMode


def _rgb(h=19, w=23, seed=0, lo=0, hi=256):
    return np.random.default_rng(seed).integers(lo, hi, (h, w, 3), dtype=np.uint8)


def _t(a_hwc):
    return ember.from_numpy(np.ascontiguousarray(a_hwc.transpose(2, 0, 1)))


def _hwc(t):
    return t.numpy().transpose(1, 2, 0)


PIL_OPS = [
    ("posterize3", lambda i: ImageOps.posterize(i, 3), lambda x: F.posterize(x, 3)),
    ("posterize1", lambda i: ImageOps.posterize(i, 1), lambda x: F.posterize(x, 1)),
    ("solarize", lambda i: ImageOps.solarize(i, 100), lambda x: F.solarize(x, 100)),
    ("autocontrast", ImageOps.autocontrast, F.autocontrast),
    ("equalize", ImageOps.equalize, F.equalize),
    ("invert", ImageOps.invert, F.invert),
]
PIL_OPS += [
    (
        f"sharpness{f}",
        lambda i, f=f: ImageEnhance.Sharpness(i).enhance(f),
        lambda x, f=f: F.adjust_sharpness(x, f),
    )
    for f in (0.0, 0.3, 1.0, 1.7, 2.5)
]


@pytest.mark.parametrize("name,pil_op,op", PIL_OPS, ids=[o[0] for o in PIL_OPS])
def test_uint8_tensor_ops_equal_pil_bytes(name, pil_op, op):
    for seed in range(8):
        rng = np.random.default_rng(seed)
        lo, hi = sorted(int(v) for v in rng.integers(0, 256, 2))
        a = _rgb(seed=seed, lo=lo, hi=hi + 1)
        if seed == 3:
            a[..., 1] = 77  # a constant channel
        ref = np.asarray(pil_op(Image.fromarray(a)))
        np.testing.assert_array_equal(_hwc(op(_t(a))), ref)
        # PIL in, PIL out, the same bytes; grayscale images too.
        out = op(Image.fromarray(a))
        assert isinstance(out, Image.Image) and (np.asarray(out) == ref).all()
        gray = Image.fromarray(a[..., 0])
        tg = ember.from_numpy(a[None, :, :, 0].copy())
        np.testing.assert_array_equal(op(tg).numpy()[0], np.asarray(pil_op(gray)))
    # A batch is the images one by one (each plane's statistics are its own).
    batch = np.stack([_rgb(seed=s).transpose(2, 0, 1) for s in range(3)])
    out = op(ember.from_numpy(batch)).numpy()
    for i in range(3):
        np.testing.assert_array_equal(out[i], op(ember.from_numpy(batch[i])).numpy())


def test_posterize_and_solarize_hand_values():
    x = ember.from_numpy(np.array([[[0b10110111, 0b01001000, 255, 0]]], dtype=np.uint8))
    np.testing.assert_array_equal(
        F.posterize(x, 3).numpy().ravel(), [0b10100000, 0b01000000, 0b11100000, 0]
    )
    np.testing.assert_array_equal(F.posterize(x, 8).numpy(), x.numpy())
    np.testing.assert_array_equal(F.posterize(x, 0).numpy(), np.zeros_like(x.numpy()))
    np.testing.assert_array_equal(F.solarize(x, 128).numpy().ravel(), [72, 72, 0, 0])
    xf = ember.tensor([[[0.0, 0.2, 0.5, 0.74, 0.76, 1.0]]])
    # 2 bits: levels 0, 1/4, 2/4, 3/4 (1.0 falls in the top level).
    np.testing.assert_allclose(
        F.posterize(xf, 2).numpy().ravel(), [0, 0, 0.5, 0.5, 0.75, 0.75], atol=1e-7
    )
    np.testing.assert_allclose(
        F.solarize(xf, 0.5).numpy().ravel(), [0, 0.2, 0.5, 0.26, 0.24, 0.0], atol=1e-6
    )
    assert F.posterize(xf, 2).dtype == ember.float32


def test_autocontrast_and_equalize_hand_values():
    x = ember.from_numpy(np.array([[[50, 100], [150, 150]]], dtype=np.uint8))
    # (v - 50) * 255 / 100, truncated: 0, 127, 255, 255.
    np.testing.assert_array_equal(F.autocontrast(x).numpy().ravel(), [0, 127, 255, 255])
    xf = ember.tensor([[[0.2, 0.3], [0.6, 0.6]], [[0.5, 0.5], [0.5, 0.5]]])
    out = F.autocontrast(xf).numpy()
    np.testing.assert_allclose(out[0].ravel(), [0, 0.25, 1, 1], atol=1e-6)
    np.testing.assert_array_equal(out[1], xf.numpy()[1])  # constant: unchanged
    # Histogram {0: 1, 1: 1, 2: 2}: step = (4 - 2) // 255 = 0 -> unchanged;
    # with 300 pixels: 100 zeros, 100 ones, 100 twos -> step = 200 // 255 = 0 too;
    # 600 pixels in {0, 1, 2}: step = 400 // 255 = 1, lut[v] = (0 + #darker) // 1 capped.
    y = np.repeat(np.array([0, 1, 2], dtype=np.uint8), 200).reshape(1, 20, 30)
    np.testing.assert_array_equal(
        F.equalize(ember.from_numpy(y)).numpy().ravel(),
        np.repeat(np.array([0, 200, 255], dtype=np.uint8), 200),
    )
    small = np.array([[[0, 1], [2, 2]]], dtype=np.uint8)
    np.testing.assert_array_equal(F.equalize(ember.from_numpy(small)).numpy(), small)
    # Float images are equalized on their 256 levels.
    a = _rgb(seed=5)
    xf = ember.from_numpy((a.transpose(2, 0, 1) / 255.0).astype(np.float32))
    np.testing.assert_allclose(
        F.equalize(xf).numpy(), F.equalize(_t(a)).numpy() / 255.0, rtol=0, atol=1e-7
    )


def test_sharpness_float_tiny_and_identity():
    a = _rgb(seed=1)
    x = ember.from_numpy(a.transpose(2, 0, 1) / 255.0)
    np.testing.assert_allclose(F.adjust_sharpness(x, 1.0).numpy(), x.numpy())
    # Factor 0 on float images is the SMOOTH filter itself, by hand on one pixel.
    out = F.adjust_sharpness(x, 0.0).numpy()
    xn = x.numpy()
    patch = xn[1, 4:7, 5:8]
    np.testing.assert_allclose(out[1, 5, 6], (patch.sum() + 4 * patch[1, 1]) / 13)
    np.testing.assert_array_equal(out[:, 0], xn[:, 0])  # the border is kept
    tiny = ember.from_numpy(np.arange(10, dtype=np.uint8).reshape(1, 2, 5))
    np.testing.assert_array_equal(F.adjust_sharpness(tiny, 2.0).numpy(), tiny.numpy())


def test_augment_ops_reject_bad_input():
    x = _t(_rgb())
    with pytest.raises(ValueError, match="bits"):
        F.posterize(x, 9)
    with pytest.raises(TypeError, match="uint8 or floating"):
        F.posterize(ember.zeros(3, 4, 4, dtype=ember.int16), 4)
    with pytest.raises(ValueError, match="above the image's maximum value 1"):
        F.solarize(ember.zeros(3, 4, 4), 2.0)
    with pytest.raises(ValueError, match="mode 'L' or 'RGB'"):
        F.equalize(Image.new("RGBA", (4, 4)))
    with pytest.raises(ValueError, match="sharpness_factor"):
        F.adjust_sharpness(x, -1.0)
    with pytest.raises(TypeError, match="PIL Image or an ember.Tensor"):
        F.autocontrast(np.zeros((3, 4, 4)))


def test_magnitude_tables_by_hand():
    h, w = 40, 66
    aa = AA._space(10, h, w, wide=False, identity=False, invert=True)
    assert list(aa) == [
        "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Brightness", "Color",
        "Contrast", "Sharpness", "Posterize", "Solarize", "AutoContrast", "Equalize", "Invert",
    ]  # fmt: skip
    assert aa["ShearX"][1] and not aa["Posterize"][1] and aa["Invert"][0] is None
    assert math.isclose(aa["ShearX"][0][5], 0.3 * 5 / 9)
    assert math.isclose(aa["TranslateX"][0][9], 150 / 331 * w)
    assert math.isclose(aa["TranslateY"][0][9], 150 / 331 * h)
    assert math.isclose(aa["Rotate"][0][3], 10.0)
    assert math.isclose(aa["Color"][0][9], 0.9)
    assert aa["Posterize"][0].tolist() == [8, 8, 7, 7, 6, 6, 5, 5, 4, 4]
    assert math.isclose(aa["Solarize"][0][0], 255) and math.isclose(aa["Solarize"][0][3], 170)
    ra = AA._space(31, h, w, wide=False, identity=True, invert=False)
    assert list(ra)[0] == "Identity" and "Invert" not in ra and len(ra) == 14
    # 8 - round(i / 7.5): bins 0..3 -> 8, 4..11 -> 7, ..., 27..30 -> 4.
    assert ra["Posterize"][0].tolist() == [8 - round(i / 7.5) for i in range(31)]
    assert ra["Posterize"][0][-1] == 4 and math.isclose(ra["Rotate"][0][9], 9.0)
    ta = AA._space(31, h, w, wide=True, identity=True, invert=False)
    assert math.isclose(ta["TranslateX"][0][30], 32.0) and math.isclose(ta["Rotate"][0][1], 4.5)
    assert math.isclose(ta["Sharpness"][0][30], 0.99) and ta["Posterize"][0][-1] == 2
    assert ta["Posterize"][0].tolist() == [8 - round(i / 5) for i in range(31)]


def test_ops_at_magnitude_zero_are_identity():
    a = _rgb(seed=2)
    for name in ("Identity", "ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate",
                 "Brightness", "Color", "Contrast", "Sharpness"):  # fmt: skip
        out = AA.apply_op(_t(a), name, 0.0, IM.NEAREST, None)
        np.testing.assert_array_equal(_hwc(out), a, err_msg=name)
        pil = AA.apply_op(Image.fromarray(a), name, 0.0, IM.NEAREST, None)
        np.testing.assert_array_equal(np.asarray(pil), a, err_msg=name)
    np.testing.assert_array_equal(_hwc(AA.apply_op(_t(a), "Posterize", 8, IM.NEAREST, None)), a)


def test_geometric_ops_by_hand():
    a = _rgb(seed=3)
    h, w = a.shape[:2]
    # TranslateX by 3 (magnitude 3.7 truncates to 3): columns move right, fill enters.
    out = _hwc(AA.apply_op(_t(a), "TranslateX", 3.7, IM.NEAREST, 9))
    np.testing.assert_array_equal(out[:, 3:], a[:, :-3])
    assert (out[:, :3] == 9).all()
    out = _hwc(AA.apply_op(_t(a), "TranslateY", -2.0, IM.NEAREST, [1, 2, 3]))
    np.testing.assert_array_equal(out[:-2], a[2:])
    assert (out[-2:] == np.array([1, 2, 3], dtype=np.uint8)).all()
    # ShearX m about the top-left corner samples x_in = x + m * y (pixel centres, nearest):
    # PIL's own affine transform (1, m, 0, 0, 1, 0) is the reference for PIL images.
    m = 0.3
    pil = AA.apply_op(Image.fromarray(a), "ShearX", m, IM.NEAREST, None)
    ref = Image.fromarray(a).transform((w, h), Image.Transform.AFFINE, (1, m, 0, 0, 1, 0))
    np.testing.assert_array_equal(np.asarray(pil), np.asarray(ref))
    ys, xs = np.mgrid[0:h, 0:w]
    src = np.floor(xs + 0.5 + m * (ys + 0.5)).astype(int)
    inside = src < w
    hand = np.where(inside[..., None], a[ys, np.minimum(src, w - 1)], 0)
    np.testing.assert_array_equal(_hwc(AA.apply_op(_t(a), "ShearX", m, IM.NEAREST, None)), hand)
    srcy = np.floor(ys + 0.5 - m * (xs + 0.5)).astype(int)
    inside = srcy >= 0
    hand = np.where(inside[..., None], a[np.maximum(srcy, 0), xs], 0)
    np.testing.assert_array_equal(_hwc(AA.apply_op(_t(a), "ShearY", -m, IM.NEAREST, None)), hand)
    # Rotate 90 degrees counter-clockwise on a square image is rot90.
    sq = _rgb(h=12, w=12, seed=4)
    out = _hwc(AA.apply_op(_t(sq), "Rotate", 90.0, IM.NEAREST, None))
    np.testing.assert_array_equal(out, np.rot90(sq))


def test_enhance_and_solarize_ops_map_magnitudes():
    a = _rgb(seed=6)
    t = _t(a)
    enhancers = {"Brightness": F.adjust_brightness, "Contrast": F.adjust_contrast}
    enhancers.update(Color=F.adjust_saturation, Sharpness=F.adjust_sharpness)
    for name, fn in enhancers.items():
        out = AA.apply_op(t, name, -0.4, IM.NEAREST, None)
        np.testing.assert_array_equal(out.numpy(), fn(t, 0.6).numpy(), err_msg=name)
    out = AA.apply_op(t, "Solarize", 170.0, IM.NEAREST, None).numpy()
    np.testing.assert_array_equal(out, np.where(t.numpy() >= 170, 255 - t.numpy(), t.numpy()))
    # Float images: the threshold is rescaled to [0, 1].
    xf = ember.from_numpy(t.numpy() / 255.0)
    out = AA.apply_op(xf, "Solarize", 170.0, IM.NEAREST, None).numpy()
    np.testing.assert_allclose(out * 255, np.where(t.numpy() >= 170, 255 - t.numpy(), t.numpy()))
    np.testing.assert_array_equal(
        AA.apply_op(t, "Posterize", 5.0, IM.NEAREST, None).numpy(), t.numpy() & 0b11111000
    )
    with pytest.raises(ValueError, match="unknown augmentation 'Blur'"):
        AA.apply_op(t, "Blur", 1.0, IM.NEAREST, None)


def _replay_autoaugment(tr, img, seed):
    """AutoAugment by hand: the same draws in the same order, then the policy table."""
    ember.manual_seed(seed)
    pid = int(ember.randint(0, 25, (1,)).item())
    probs = ember.rand(2).tolist()
    signs = ember.randint(0, 2, (2,)).tolist()
    _, h, w = F.get_dimensions(img)
    space = AA._space(10, h, w, wide=False, identity=False, invert=True)
    applied = []
    for i, (name, p, b) in enumerate(AA._POLICIES[tr.policy][pid]):
        if probs[i] <= p:
            mags, signed = space[name]
            mag = 0.0 if mags is None else float(mags[b]) * (-1 if signed and not signs[i] else 1)
            img = AA.apply_op(img, name, mag, tr.interpolation, tr.fill)
            applied.append(name)
    return img, applied


@pytest.mark.parametrize("policy", list(T.AutoAugmentPolicy))
def test_autoaugment_follows_its_draws(policy):
    tr = T.AutoAugment(policy)
    assert len(tr.policies) == 25 and all(len(s) == 2 for s in tr.policies)
    a = _rgb(seed=7)
    seen = set()
    for seed in range(30):
        ref, applied = _replay_autoaugment(tr, _t(a), seed)
        seen.update(applied)
        ember.manual_seed(seed)
        out = tr(_t(a))
        assert out.dtype == ember.uint8 and tuple(out.shape) == (3, 19, 23)
        np.testing.assert_array_equal(out.numpy(), ref.numpy())
    assert len(seen) >= 4  # several different operations were exercised


def test_randaugment_and_trivialaugment_follow_their_draws():
    a = _rgb(seed=8)
    h, w = a.shape[:2]
    ra = T.RandAugment(num_ops=3, magnitude=12, num_magnitude_bins=31)
    space = AA._space(31, h, w, wide=False, identity=True, invert=False)
    for seed in range(15):
        ember.manual_seed(seed)
        img = _t(a)
        for _ in range(3):
            name = list(space)[int(ember.randint(0, 14, (1,)).item())]
            mags, signed = space[name]
            mag = 0.0 if mags is None else float(mags[12])
            if signed and int(ember.randint(0, 2, (1,)).item()):
                mag = -mag
            img = AA.apply_op(img, name, mag, IM.NEAREST, None)
        ember.manual_seed(seed)
        np.testing.assert_array_equal(ra(_t(a)).numpy(), img.numpy())
    ta = T.TrivialAugmentWide()
    space = AA._space(31, h, w, wide=True, identity=True, invert=False)
    for seed in range(15):
        ember.manual_seed(seed)
        name = list(space)[int(ember.randint(0, 14, (1,)).item())]
        mags, signed = space[name]
        mag = 0.0 if mags is None else float(mags[int(ember.randint(0, 31, (1,)).item())])
        if signed and int(ember.randint(0, 2, (1,)).item()):
            mag = -mag
        ref = AA.apply_op(_t(a), name, mag, IM.NEAREST, None)
        ember.manual_seed(seed)
        np.testing.assert_array_equal(ta(_t(a)).numpy(), ref.numpy())


@pytest.mark.parametrize(
    "make",
    [
        lambda: T.AutoAugment(T.AutoAugmentPolicy.CIFAR10, fill=[10, 20, 30]),
        lambda: T.RandAugment(interpolation=IM.BILINEAR, fill=5),
        lambda: T.TrivialAugmentWide(),
    ],
)
def test_policies_seeded_kinds_and_batches(make):
    tr = make()
    a = _rgb(seed=9)
    outs = []
    for seed in range(12):
        ember.manual_seed(seed)
        first = tr(_t(a))
        ember.manual_seed(seed)
        np.testing.assert_array_equal(tr(_t(a)).numpy(), first.numpy())
        outs.append(first.numpy())
        # PIL in, PIL out; float tensors keep their dtype and range.
        ember.manual_seed(seed)
        pil = tr(Image.fromarray(a))
        assert isinstance(pil, Image.Image) and pil.size == (23, 19) and pil.mode == "RGB"
        f = tr(ember.from_numpy((a.transpose(2, 0, 1) / 255.0).astype(np.float32)))
        assert f.dtype == ember.float32 and tuple(f.shape) == (3, 19, 23)
        # (fill is on the image's scale, as given: it may lie outside [0, 1])
        top = max(1.0, *np.atleast_1d(tr.fill if tr.fill is not None else 0))
        assert 0.0 <= float(f.min()) and float(f.max()) <= top
        # A batch gets one draw: every image sees the same operations.
        batch = ember.from_numpy(np.stack([a.transpose(2, 0, 1)] * 2))
        out = tr(batch).numpy()
        assert out.shape == (2, 3, 19, 23) and (out[0] == out[1]).all()
    assert len({o.tobytes() for o in outs}) > 3  # different seeds, different augmentations


def test_policy_arguments_are_checked_and_shown():
    with pytest.raises(TypeError, match="AutoAugmentPolicy"):
        T.AutoAugment("imagenet")
    with pytest.raises(ValueError, match=r"magnitude must be an int in \[0, 31\)"):
        T.RandAugment(magnitude=31)
    with pytest.raises(ValueError, match="num_magnitude_bins"):
        T.TrivialAugmentWide(num_magnitude_bins=1)
    with pytest.raises(TypeError, match="interpolation"):
        T.RandAugment(interpolation="sideways")
    assert "num_ops=2, magnitude=9" in repr(T.RandAugment())
    assert "SVHN" in repr(T.AutoAugment(T.AutoAugmentPolicy.SVHN))


class _Augmented(Dataset):
    def __init__(self):
        self.base = _t(_rgb(h=16, w=16, seed=10))
        self.t = T.RandAugment(num_ops=2, magnitude=15)

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return self.t(self.base)


def test_dataloader_workers_make_randaugment_reproducible():
    def run(seed):
        g = ember.Generator().manual_seed(seed)
        loader = DataLoader(_Augmented(), batch_size=4, num_workers=2, generator=g)
        return np.concatenate([b.numpy() for b in loader])

    a, b, c = run(0), run(0), run(1)
    assert (a == b).all() and not (a == c).all()
    assert not (a[:4] == a[4:8]).all()  # the two workers draw different operations


@pytest.mark.parametrize(
    "alpha,cdf",
    [
        (1.0, lambda x: 1 - math.exp(-x)),
        (2.0, lambda x: 1 - math.exp(-x) * (1 + x)),
        (0.5, lambda x: math.erf(math.sqrt(x))),
    ],
)
def test_gamma_draws_follow_the_gamma_distribution(alpha, cdf):
    ember.manual_seed(11)
    g = np.sort(AA._gamma(alpha, 20000))
    # Kolmogorov-Smirnov distance to the closed-form CDF (5% critical value ~0.0096).
    f = np.array([cdf(v) for v in g])
    n = len(g)
    ks = max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max())
    assert ks < 0.012
    assert abs(g.mean() - alpha) < 0.03 * max(alpha, 1)
    ember.manual_seed(11)
    np.testing.assert_array_equal(np.sort(AA._gamma(alpha, 20000)), g)  # seeded


def test_dirichlet_rows_are_convex_weights():
    ember.manual_seed(12)
    d = AA.dirichlet(0.7, 3, 5000)
    assert d.shape == (5000, 3) and (d > 0).all()
    np.testing.assert_allclose(d.sum(axis=1), 1.0)
    np.testing.assert_allclose(d.mean(axis=0), [1 / 3] * 3, atol=0.01)
    # Var of one part of Dirichlet(a, a, a): (1/3)(2/3) / (3a + 1).
    np.testing.assert_allclose(d.var(axis=0), [2 / 9 / 3.1] * 3, rtol=0.08)


def test_augmix_space_by_hand():
    s = T.AugMix(all_ops=False).space(30, 45)
    assert "Brightness" not in s and len(s) == 9
    assert s["Posterize"][0].tolist() == [4, 4, 3, 3, 2, 2, 1, 1, 0, 0]
    assert math.isclose(s["TranslateX"][0][9], 15.0) and math.isclose(s["TranslateY"][0][9], 10.0)
    assert math.isclose(s["Rotate"][0][1], 30 / 9)
    assert len(T.AugMix().space(30, 45)) == 13


def _replay_augmix(tr, x, seed):
    """AugMix by hand from its draws: Beta via Dirichlet(a, a), chain weights, chains."""
    ember.manual_seed(seed)
    batch = x.reshape(-1, *x.shape[-3:])
    b = batch.shape[0]
    m = AA.dirichlet(tr.alpha, 2, b)
    w = AA.dirichlet(tr.alpha, tr.mixture_width, b) * m[:, 1:]
    space = tr.space(x.shape[-2], x.shape[-1])
    names = list(space)
    mix = m[:, 0].reshape(b, 1, 1, 1) * batch.astype(np.float64)
    for i in range(tr.mixture_width):
        aug = ember.from_numpy(batch.copy())
        depth = tr.chain_depth if tr.chain_depth > 0 else int(ember.randint(1, 4, (1,)).item())
        for _ in range(depth):
            name = names[int(ember.randint(0, len(names), (1,)).item())]
            mags, signed = space[name]
            mag = 0.0 if mags is None else float(mags[int(ember.randint(0, tr.severity, (1,)))])
            if signed and int(ember.randint(0, 2, (1,)).item()):
                mag = -mag
            aug = AA.apply_op(aug, name, mag, tr.interpolation, tr.fill)
        mix += w[:, i].reshape(b, 1, 1, 1) * aug.numpy()
    return mix.astype(x.dtype).reshape(x.shape)  # integers truncate, as a cast does


@pytest.mark.parametrize(
    "make", [lambda: T.AugMix(), lambda: T.AugMix(severity=10, mixture_width=2, chain_depth=2,
                                                  alpha=0.5, all_ops=False, fill=3)],
)  # fmt: skip
def test_augmix_follows_its_draws(make):
    tr = make()
    a = np.stack([_rgb(seed=s).transpose(2, 0, 1) for s in (13, 14)])
    for seed in range(6):
        ref = _replay_augmix(tr, a, seed)
        ember.manual_seed(seed)
        out = tr(ember.from_numpy(a))
        assert out.dtype == ember.uint8 and tuple(out.shape) == a.shape
        np.testing.assert_array_equal(out.numpy(), ref)
    # Each image of a batch draws its own weights: two equal images come out different.
    twins = ember.from_numpy(np.stack([a[0], a[0]]))
    ember.manual_seed(0)
    out = tr(twins).numpy()
    assert not (out[0] == out[1]).all()


def test_augmix_kinds_and_arguments():
    a = _rgb(seed=15)
    tr = T.AugMix()
    ember.manual_seed(3)
    pil = tr(Image.fromarray(a))
    ember.manual_seed(3)
    t = tr(_t(a))
    assert isinstance(pil, Image.Image) and pil.mode == "RGB"
    np.testing.assert_array_equal(np.asarray(pil), _hwc(t))
    # A convex mix of images in [0, 1] stays in [0, 1] and keeps float32.
    f = tr(ember.from_numpy((a.transpose(2, 0, 1) / 255.0).astype(np.float32)))
    assert f.dtype == ember.float32 and 0 <= float(f.min()) and float(f.max()) <= 1
    with pytest.raises(ValueError, match=r"severity must be an int in \[1, 10\], got 11"):
        T.AugMix(severity=11)
    with pytest.raises(ValueError, match="mixture_width"):
        T.AugMix(mixture_width=0)
    with pytest.raises(ValueError, match="alpha must be positive"):
        T.AugMix(alpha=0.0)


@pytest.mark.parametrize("make", [T.RandAugment, T.TrivialAugmentWide, T.AugMix])
def test_pil_and_tensor_inputs_draw_the_same_operations(make):
    tr = make()
    a = _rgb(seed=16)
    for seed in range(10):
        ember.manual_seed(seed)
        pil = np.asarray(tr(Image.fromarray(a))).astype(int)
        ember.manual_seed(seed)
        ten = _hwc(tr(_t(a))).astype(int)
        # The same operations at the same magnitudes; the enhancers' rounding and
        # nearest sampling at borders may differ by a level or a pixel.
        assert (np.abs(pil - ten) <= 1).mean() > 0.97


def test_policies_take_grayscale_images():
    g = _rgb(seed=17)[..., 0]
    for tr in [T.AutoAugment(p) for p in T.AutoAugmentPolicy] + [
        T.RandAugment(fill=3),
        T.TrivialAugmentWide(),
        T.AugMix(),
    ]:
        for seed in range(8):
            ember.manual_seed(seed)
            assert tr(Image.fromarray(g)).mode == "L"
            out = tr(ember.from_numpy(g[None, None].copy()))
            assert tuple(out.shape) == (1, 1, 19, 23) and out.dtype == ember.uint8
