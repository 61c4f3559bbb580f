"""STL-10: 96x96 colour images in 10 classes, from the original binary files."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._files import DatasetNotFoundError, download_from_mirrors, extract_archive
from .mnist import _to_pil
from .vision import VisionDataset

__all__ = ["STL10"]


class STL10(VisionDataset):
    """STL-10 (Coates et al., 2011): 5,000 labelled training, 8,000 test, 100,000 unlabelled images.

    Args:
        root: directory holding ``stl10_binary/``.
        split: ``"train"``, ``"test"``, ``"unlabeled"`` or ``"train+unlabeled"``
            (unlabelled images have target -1).
        folds: with ``split="train"``, keep only the 1,000 images of fold 0..9
            (from ``fold_indices.txt``).
        download: fetch ``stl10_binary.tar.gz`` (MD5-checked before extraction).

    The binary files store each image channel by channel, column-major; ``data``
    is uint8 ``(N, 3, 96, 96)`` in row-major order.
    """

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    splits = ("train", "train+unlabeled", "unlabeled", "test")
    files = {
        "train": ("train_X.bin", "train_y.bin"),
        "test": ("test_X.bin", "test_y.bin"),
        "unlabeled": ("unlabeled_X.bin", None),
    }

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        folds: int | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        if split not in self.splits:
            raise ValueError(f"STL10 split must be one of {self.splits}, got {split!r}")
        if folds is not None and (split != "train" or not 0 <= folds <= 9):
            raise ValueError(f"folds must be in 0..9 and only with split='train', got {folds!r}")
        self.split, self.folds = split, folds
        if download:
            self.download()
        parts = [p for p in ("train", "unlabeled", "test") if p in split.split("+")]
        loaded = [self._read(p) for p in parts]
        self.data = np.concatenate([d for d, _ in loaded])
        self.labels = np.concatenate([y for _, y in loaded])
        if folds is not None:
            with open(self._path("fold_indices.txt")) as f:
                idx = np.array(f.read().splitlines()[folds].split(), dtype=np.int64)
            self.data, self.labels = self.data[idx], self.labels[idx]
        names = self._path("class_names.txt")
        self.classes = open(names).read().split() if os.path.isfile(names) else []

    def _path(self, name: str) -> str:
        return os.path.join(self.root, self.base_folder, name)

    def _read(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        xname, yname = self.files[part]
        if not os.path.isfile(self._path(xname)):
            raise DatasetNotFoundError(
                f"STL10: {xname} not found in {self._path('')}; pass download=True to fetch it"
            )
        raw = np.fromfile(self._path(xname), dtype=np.uint8)
        if raw.size % (3 * 96 * 96):
            raise ValueError(
                f"{self._path(xname)}: size {raw.size} is not a whole number of images"
            )
        # Stored column-major per channel: swap the last two axes to get rows first.
        images = raw.reshape(-1, 3, 96, 96).transpose(0, 1, 3, 2)
        if yname is None:
            return np.ascontiguousarray(images), np.full(len(images), -1, dtype=np.int64)
        labels = np.fromfile(self._path(yname), dtype=np.uint8).astype(np.int64) - 1
        if len(labels) != len(images):
            raise ValueError(f"{yname} has {len(labels)} labels for {len(images)} images")
        return np.ascontiguousarray(images), labels

    def download(self) -> None:
        """Fetch and extract the archive (MD5-checked) unless the files are present."""
        if all(os.path.isfile(self._path(x)) for x, _ in self.files.values()):
            return
        archive = download_from_mirrors([self.url], self.filename, self.root, md5=self.tgz_md5)
        extract_archive(archive, self.root)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """``(PIL RGB image, label)``; label -1 for unlabelled images."""
        img = _to_pil(np.ascontiguousarray(self.data[index].transpose(1, 2, 0)))
        return self._apply(img, int(self.labels[index]))

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
