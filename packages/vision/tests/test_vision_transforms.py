"""Transform classes: composition, get_params drawn from ember's generator, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import ember
from ember.data import DataLoader, Dataset
from ember.vision import transforms as T
from ember.vision.transforms import functional as F


def _img(h=24, w=32, seed=0):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def test_seed_pipeline_runs_with_scale():
    # The seed's DCGAN preprocessing, torch spelled ember.
    t = T.Compose(
        [T.Scale(16), T.CenterCrop(16), T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]
    )
    x = t(_img())
    assert tuple(x.shape) == (3, 16, 16) and x.dtype == ember.float32
    assert -1.0 <= x.numpy().min() and x.numpy().max() <= 1.0
    ref = F.center_crop(F.resize(_img(), 16), 16)
    np.testing.assert_allclose(
        x.numpy(), (np.asarray(ref).transpose(2, 0, 1) / 255.0 - 0.5) / 0.5, rtol=1e-5, atol=1e-6
    )
    assert "Scale(size=16" in repr(t) and "CenterCrop(size=(16, 16))" in repr(t)


def test_random_crop_get_params_follow_ember_seed():
    img = _img()
    ember.manual_seed(3)
    a = [T.RandomCrop.get_params(img, (10, 12)) for _ in range(20)]
    ember.manual_seed(3)
    b = [T.RandomCrop.get_params(img, (10, 12)) for _ in range(20)]
    assert a == b and len(set(a)) > 10
    assert all(0 <= i <= 14 and 0 <= j <= 20 and (h, w) == (10, 12) for i, j, h, w in a)
    ember.manual_seed(3)
    i, j, h, w = T.RandomCrop.get_params(img, (10, 12))
    ember.manual_seed(3)
    out = T.RandomCrop((10, 12))(img)
    assert (np.asarray(out) == np.asarray(img)[i : i + 10, j : j + 12]).all()


def test_random_crop_padding():
    img = ember.ones(1, 4, 4)
    out = T.RandomCrop(6, pad_if_needed=True)(img)
    assert tuple(out.shape) == (1, 6, 6) and out.numpy().sum() == 16
    out = T.RandomCrop(4, padding=2, fill=0)(img)
    assert tuple(out.shape) == (1, 4, 4)
    with pytest.raises(ValueError, match="larger than the image"):
        T.RandomCrop(8)(img)


def test_flips_probability():
    img = ember.arange(6, dtype=ember.float32).reshape(1, 2, 3)
    assert (T.RandomHorizontalFlip(1.0)(img).numpy() == img.numpy()[..., ::-1]).all()
    assert (T.RandomVerticalFlip(1.0)(img).numpy() == img.numpy()[..., ::-1, :]).all()
    assert T.RandomHorizontalFlip(0.0)(img) is img
    ember.manual_seed(0)
    flips = sum(T.RandomHorizontalFlip(0.5)(img) is not img for _ in range(400))
    assert 160 < flips < 240


def test_random_resized_crop():
    img = _img(40, 60)
    ember.manual_seed(1)
    for _ in range(50):
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.2, 0.5), (0.75, 1.333))
        assert 0 <= i and i + h <= 40 and 0 <= j and j + w <= 60
        assert 0.15 <= h * w / 2400 <= 0.55 and 0.6 <= w / h <= 1.6
    # Impossible scale: falls back to a central crop of the allowed ratio.
    assert T.RandomResizedCrop.get_params(img, (5.0, 6.0), (1.0, 1.0)) == (0, 10, 40, 40)
    out = T.RandomResizedCrop(16)(img)
    assert out.size == (16, 16)
    ember.manual_seed(7)
    i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
    ember.manual_seed(7)
    tout = T.RandomResizedCrop(16)(F.pil_to_tensor(img))
    ref = F.resized_crop(F.pil_to_tensor(img), i, j, h, w, [16, 16])
    assert (tout.numpy() == ref.numpy()).all()


def test_rotation_and_affine_params():
    img = _img(16, 16)
    out = T.RandomRotation((90, 90))(img)
    assert (np.asarray(out) == np.rot90(np.asarray(img))).all()
    ember.manual_seed(0)
    for _ in range(50):
        angle, (tx, ty), scale, (sx, sy) = T.RandomAffine.get_params(
            (-10, 10), (0.1, 0.2), (0.9, 1.1), (-5, 5, -3, 3), [30, 20]
        )
        assert -10 <= angle <= 10 and abs(tx) <= 3 and abs(ty) <= 4 and 0.9 <= scale <= 1.1
        assert -5 <= sx <= 5 and -3 <= sy <= 3
    shifted = T.RandomAffine(0, translate=(0, 0))(img)
    assert (np.asarray(shifted) == np.asarray(img)).all()
    with pytest.raises(ValueError, match="translate"):
        T.RandomAffine(0, translate=(2, 0))


def test_color_transforms_equal_functional():
    img = F.pil_to_tensor(_img())
    out = T.ColorJitter(brightness=(0.5, 0.5))(img)
    assert (out.numpy() == F.adjust_brightness(img, 0.5).numpy()).all()
    out = T.ColorJitter(saturation=(0.0, 0.0))(img)
    assert (out.numpy() == F.rgb_to_grayscale(img, 3).numpy()).all()
    assert T.ColorJitter(hue=0).hue is None
    with pytest.raises(ValueError, match="hue"):
        T.ColorJitter(hue=0.7)
    blur = T.GaussianBlur(5, sigma=1.5)(img)
    assert (blur.numpy() == F.gaussian_blur(img, 5, 1.5).numpy()).all()
    gray = T.Grayscale(3)(_img())
    assert gray.mode == "RGB"
    assert T.RandomGrayscale(1.0)(_img()).mode == "RGB"
    assert T.RandomGrayscale(0.0)(img) is img


def test_random_erasing():
    x = ember.ones(3, 20, 20)
    ember.manual_seed(2)
    out = T.RandomErasing(p=1.0, value=0)(x)
    zero = out.numpy() == 0
    assert zero.any() and x.numpy().min() == 1.0
    rows, cols = np.nonzero(zero[0])
    box = zero[:, rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    assert box.all() and zero.sum() == box.size  # exactly one full rectangle
    noisy = T.RandomErasing(p=1.0, value="random")(x)
    assert (noisy.numpy() != 1).any()
    with pytest.raises(TypeError, match="ToTensor first"):
        T.RandomErasing(p=1.0)(_img())


def test_random_apply_choice_order():
    add1, times2 = T.Lambda(lambda v: v + 1), T.Lambda(lambda v: v * 2)
    assert T.RandomApply([add1, times2], p=1.0)(3) == 8
    assert T.RandomApply([add1], p=0.0)(3) == 3
    assert T.RandomChoice([add1, times2], p=[0.0, 1.0])(3) == 6
    ember.manual_seed(0)
    results = {T.RandomOrder([add1, times2])(3) for _ in range(50)}
    assert results == {8, 7}
    with pytest.raises(TypeError, match="callables"):
        T.Compose([1])


def test_tensor_and_conversion_classes():
    img = _img()
    t = T.PILToTensor()(img)
    assert t.dtype == ember.uint8
    f = T.ConvertImageDtype(ember.float32)(t)
    np.testing.assert_allclose(f.numpy(), T.ToTensor()(img).numpy(), rtol=1e-6)
    assert (np.asarray(T.ToPILImage()(t)) == np.asarray(img)).all()
    crops = T.TenCrop(8)(img)
    assert len(crops) == 10 and crops[0].size == (8, 8)
    assert T.Pad(3)(img).size == (38, 30)
    assert tuple(T.Resize((5, 7))(t).shape) == (3, 5, 7)


class _Crops(Dataset):
    def __init__(self):
        self.base = ember.arange(400, dtype=ember.float32).reshape(1, 20, 20)
        self.t = T.Compose([T.RandomCrop(6), T.RandomHorizontalFlip()])

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return self.t(self.base)


def test_dataloader_workers_make_augmentation_reproducible():
    def run(seed):
        g = ember.Generator().manual_seed(seed)
        loader = DataLoader(_Crops(), batch_size=4, num_workers=2, generator=g)
        return np.concatenate([b.numpy() for b in loader])

    a, b, c = run(0), run(0), run(1)
    assert (a == b).all() and not (a == c).all()
    # The two workers (batches 0 and 1) draw different crops.
    assert not (a[:4] == a[4:8]).all()


def test_random_perspective():
    ember.manual_seed(4)
    for _ in range(30):
        start, end = T.RandomPerspective.get_params(40, 30, 0.5)
        assert start == [[0, 0], [39, 0], [39, 29], [0, 29]]
        (tlx, tly), (trx, try_), (brx, bry), (blx, bly) = end
        assert 0 <= tlx <= 10 and 0 <= tly <= 7 and 29 <= trx <= 39 and 0 <= try_ <= 7
        assert 29 <= brx <= 39 and 22 <= bry <= 29 and 0 <= blx <= 10 and 22 <= bly <= 29
    img = _img(30, 40)
    assert T.RandomPerspective(p=0.0)(img) is img
    ember.manual_seed(9)
    ember.rand(1)  # the coin is drawn first
    start, end = T.RandomPerspective.get_params(40, 30, 0.3)
    ember.manual_seed(9)
    out = T.RandomPerspective(0.3, p=1.0)(img)
    assert (np.asarray(out) == np.asarray(F.perspective(img, start, end))).all()
