"""SVHN (Street View House Numbers), cropped digits, from the original ``.mat`` files."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np

from ._files import DatasetNotFoundError, check_integrity, download_from_mirrors
from ._matlab import loadmat
from .mnist import _to_pil
from .vision import VisionDataset

__all__ = ["SVHN"]


class SVHN(VisionDataset):
    """SVHN cropped digits (Netzer et al., 2011): 32x32 colour images of house-number digits.

    Args:
        root: directory holding ``{split}_32x32.mat`` (``None``: the ember cache).
        split: ``"train"`` (73,257 digits), ``"test"`` (26,032) or ``"extra"``
            (531,131 easier digits).
        transform: applied to the ``PIL.Image`` (RGB).
        target_transform: applied to the integer label.
        download: fetch the split's ``.mat`` file, MD5-checked before it is kept.

    The files are MATLAB level-5 MAT-files holding ``X`` (uint8, 32x32x3xN) and
    ``y`` (Nx1, digits 1..10 where 10 means "0"); they are read with scipy when
    it is installed and with ember's own reader otherwise. ``data`` is uint8
    ``(N, 3, 32, 32)`` and ``labels`` int64 ``(N,)`` in 0..9, as in torchvision.

    Raises:
        DatasetNotFoundError: the file is missing and ``download`` is False.
        ValueError: the file fails the MD5 check or does not hold ``X``/``y``.
    """

    #: split -> (URL, file name, MD5 of the published file)
    split_list: dict[str, tuple[str, str, str]] = {
        "train": (
            "http://ufldl.stanford.edu/housenumbers/train_32x32.mat",
            "train_32x32.mat",
            "e26dedcc434d2e4c54c9b2d4a06d8373",
        ),
        "test": (
            "http://ufldl.stanford.edu/housenumbers/test_32x32.mat",
            "test_32x32.mat",
            "eb5a983be6a315427106f1b164d9cef3",
        ),
        "extra": (
            "http://ufldl.stanford.edu/housenumbers/extra_32x32.mat",
            "extra_32x32.mat",
            "a93ce644f1a588dc4d68dda5feec44a7",
        ),
    }

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        if split not in self.split_list:
            raise ValueError(f"SVHN split must be one of {tuple(self.split_list)}, got {split!r}")
        self.split = split
        self.url, self.filename, self.file_md5 = self.split_list[split]
        if download:
            self.download()
        path = os.path.join(self.root, self.filename)
        if not os.path.isfile(path):
            raise DatasetNotFoundError(
                f"SVHN: {self.filename} not found in {self.root}; pass download=True to fetch it"
            )
        if not check_integrity(path, self.file_md5):
            raise ValueError(
                f"SVHN: {path} failed the MD5 check (corrupt or modified); delete it and "
                "download again"
            )
        self.data, self.labels = self._read(path)

    @staticmethod
    def _read(path: str) -> tuple[np.ndarray, np.ndarray]:
        mat = loadmat(path)
        missing = [k for k in ("X", "y") if k not in mat]
        if missing:
            raise ValueError(f"{path}: no variable {' or '.join(missing)} (found {sorted(mat)})")
        x, y = np.asarray(mat["X"]), np.asarray(mat["y"])
        if x.ndim != 4 or x.shape[2] != 3:
            raise ValueError(f"{path}: X should be (H, W, 3, N), got shape {x.shape}")
        if y.size != x.shape[3]:
            raise ValueError(f"{path}: y has {y.size} labels for {x.shape[3]} images")
        # MATLAB keeps X as (H, W, C, N); the dataset stores (N, C, H, W) like torchvision.
        data = np.ascontiguousarray(x.transpose(3, 2, 0, 1), dtype=np.uint8)
        labels = y.reshape(-1).astype(np.int64)
        labels[labels == 10] = 0  # SVHN writes the digit 0 as class 10
        return data, labels

    def download(self) -> None:
        """Fetch the split's ``.mat`` file (MD5-checked) unless an intact copy is present."""
        download_from_mirrors([self.url], self.filename, self.root, md5=self.file_md5)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(PIL RGB image, int label)`` after the transforms."""
        img = _to_pil(np.ascontiguousarray(self.data[index].transpose(1, 2, 0)))
        return self._apply(img, int(self.labels[index]))

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
