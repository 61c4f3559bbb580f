"""EMNIST (letters and digits from NIST SD19) and QMNIST (MNIST's reconstructed test set)."""

from __future__ import annotations

import os
import string
from collections.abc import Callable
from typing import Any

import numpy as np

import ember

from ._files import download_from_mirrors, extract_archive
from .mnist import MNIST, _to_pil

__all__ = ["EMNIST", "QMNIST"]

_MERGED = set("cijklmopsuvwxyz")  # lowercase letters EMNIST merges into their uppercase
_ALL = list(string.digits + string.ascii_uppercase + string.ascii_lowercase)


class EMNIST(MNIST):
    """EMNIST: handwritten characters in MNIST's format, in six splits.

    Args:
        root: directory holding ``EMNIST/raw/`` (or the ``emnist-*`` IDX files).
        split: ``"byclass"`` (62 classes), ``"bymerge"`` and ``"balanced"`` (47),
            ``"letters"`` (26 letters, labels 1..26; class 0 is ``"N/A"``),
            ``"digits"`` or ``"mnist"`` (10).
        train, transform, target_transform: as for :class:`MNIST`.
        download: fetch NIST's ``gzip.zip`` (MD5-checked before extraction).

    The published images are stored transposed; they are returned upright.
    """

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    classes_split_dict = {
        "byclass": _ALL,
        "bymerge": [c for c in _ALL if c not in _MERGED],
        "balanced": [c for c in _ALL if c not in _MERGED],
        "letters": ["N/A", *string.ascii_lowercase],
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        split: str = "balanced",
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        if split not in self.splits:
            raise ValueError(f"EMNIST split must be one of {self.splits}, got {split!r}")
        self.split = split
        self.classes = self.classes_split_dict[split]
        super().__init__(root, train, transform, target_transform, download)

    def _search_dirs(self) -> list[str]:
        return [self.raw_folder, os.path.join(self.raw_folder, "gzip"), self.root]

    def _split_files(self) -> tuple[str, str]:
        part = "train" if self.train else "test"
        stem = f"emnist-{self.split}-{part}"
        return f"{stem}-images-idx3-ubyte.gz", f"{stem}-labels-idx1-ubyte.gz"

    def download(self) -> None:
        """Download ``gzip.zip`` (MD5-checked), extract it, then delete the archive."""
        if all(self._find(n) is not None for n in self._split_files()):
            return
        archive = download_from_mirrors([self.url], "gzip.zip", self.raw_folder, md5=self.md5)
        extract_archive(archive, self.raw_folder)
        os.remove(archive)

    def _load_data(self) -> tuple[np.ndarray, np.ndarray]:
        images, labels = super()._load_data()
        return np.ascontiguousarray(images.transpose(0, 2, 1)), labels

    def extra_repr(self) -> str:
        return f"Split: {self.split} {'train' if self.train else 'test'}"


class QMNIST(MNIST):
    """QMNIST: MNIST's test set reconstructed from NIST SD19, with 50,000 extra test digits.

    Args:
        root: directory holding ``QMNIST/raw/`` (or the files themselves).
        what: ``"train"``, ``"test"`` (60,000), ``"test10k"`` (MNIST's 10,000),
            ``"test50k"`` (the 50,000 new ones) or ``"nist"`` (all 402,953 SD19
            digits); default ``"train"`` if ``train`` else ``"test"``.
        compat: targets are the class label (True) or the full 8-column label
            row as an int64 tensor (class, NIST HSF series, writer id, digit
            index, NIST class, global index, duplicate, unused).
        train, transform, target_transform, download: as for :class:`MNIST`.
    """

    mirrors = ["https://raw.githubusercontent.com/facebookresearch/qmnist/master/"]
    subsets = {"train": "train", "test": "test", "test10k": "test", "test50k": "test"}
    subsets["nist"] = "nist"
    resources_by_subset = {
        "train": [
            ("qmnist-train-images-idx3-ubyte.gz", "ed72d4157d28c017586c42bc6afe6370"),
            ("qmnist-train-labels-idx2-int.gz", "0058f8dd561b90ffdd0f734c6a30e5e4"),
        ],
        "test": [
            ("qmnist-test-images-idx3-ubyte.gz", "1394631089c404de565df7b7aeaf9412"),
            ("qmnist-test-labels-idx2-int.gz", "5b5b05890a5e13444e108efe57b788aa"),
        ],
        "nist": [
            ("xnist-images-idx3-ubyte.xz", "7f124b3b8ab81486c9d8c2749c17f834"),
            ("xnist-labels-idx2-int.xz", "5ed0e788978e45d4a8bd4b7caec3d79d"),
        ],
    }

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        what: str | None = None,
        compat: bool = True,
        train: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        what = what if what is not None else ("train" if train else "test")
        if what not in self.subsets:
            raise ValueError(f"QMNIST what must be one of {tuple(self.subsets)}, got {what!r}")
        self.what, self.compat = what, bool(compat)
        self.resources = self.resources_by_subset[self.subsets[what]]
        super().__init__(root, what == "train", transform, target_transform, download)

    def _split_files(self) -> tuple[str, str]:
        return self.resources[0][0], self.resources[1][0]

    def _load_data(self) -> tuple[np.ndarray, np.ndarray]:
        images, labels = super()._load_data()
        if labels.ndim != 2 or labels.shape[1] != 8:
            raise ValueError(f"QMNIST labels must have 8 columns per image, got {labels.shape}")
        part = {"test10k": slice(0, 10000), "test50k": slice(10000, None)}.get(self.what)
        if part is not None:
            images, labels = images[part], labels[part]
        return images, labels

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(PIL image, label)``: an int (``compat``) or an int64 tensor of 8 values."""
        row = self._labels[index]
        target = int(row[0]) if self.compat else ember.from_numpy(row.copy())
        return self._apply(_to_pil(self._images[index]), target)

    def extra_repr(self) -> str:
        return f"Split: {self.what}"
