"""CIFAR-10 and CIFAR-100 from their python pickle batches, read without running any code.

The batches are Python 2 pickles of dicts holding numpy arrays. A general
unpickler would import and call whatever a (tampered) file names; this one
resolves only numpy's array-reconstruction functions and refuses everything
else, so a hostile file raises ``pickle.UnpicklingError`` before doing anything.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from typing import Any

import numpy as np

from ._files import DatasetNotFoundError, check_integrity, download_from_mirrors, extract_archive
from .mnist import _to_pil
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100", "safe_unpickle"]


def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 writes bytes into protocol-2 pickles as _codecs.encode(text, "latin1").
    if not isinstance(text, str) or encoding.replace("-", "").lower() != "latin1":
        raise pickle.UnpicklingError(
            f"unexpected _codecs.encode({type(text).__name__}, {encoding!r})"
        )
    return text.encode("latin1")


# The only callables a CIFAR batch needs: numpy's ndarray/dtype reconstruction.
_ALLOWED = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): np._core.multiarray._reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: a CIFAR batch holds only numpy arrays, "
                "lists, dicts and strings"
            ) from None


def safe_unpickle(path: str | os.PathLike[str]) -> Any:
    """Unpickle ``path`` allowing only plain containers and numpy arrays (latin-1 strings)."""
    with open(path, "rb") as f:
        return _NumpyOnlyUnpickler(f, encoding="latin1").load()


class CIFAR10(VisionDataset):
    """CIFAR-10: 50,000 training and 10,000 test 32x32 colour images in 10 classes.

    Args:
        root: directory holding ``cifar-10-batches-py/`` (``None``: the ember cache).
        train: the five training batches (True) or the test batch (False).
        transform: applied to the ``PIL.Image`` (RGB).
        target_transform: applied to the integer label.
        download: fetch the archive (MD5-checked before extraction) and extract it.

    ``data`` is a uint8 numpy array ``(N, 32, 32, 3)`` (as torchvision), ``targets``
    a list of ints. Each batch's MD5 is checked when loading.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [["test_batch", "40351d587109b95175f43aff81a1287e"]]
    meta = {
        "filename": "batches.meta",
        "key": "label_names",
        "md5": "5ff9c542aee3614f3951f8cda6e48888",
    }
    labels_key = "labels"

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
        self._check_files()
        data, targets = [], []
        for name, _ in self.train_list if self.train else self.test_list:
            entry = self._load(name)
            data.append(np.asarray(entry["data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            targets.extend(int(t) for t in entry[self.labels_key])
        self.data = np.ascontiguousarray(np.concatenate(data).transpose(0, 2, 3, 1))
        self.targets = targets
        if len(self.targets) != len(self.data):
            raise ValueError(
                f"{self.base_folder}: {len(self.targets)} labels for {len(self.data)} images"
            )
        self.classes = list(self._load(self.meta["filename"])[self.meta["key"]])
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}

    def _path(self, name: str) -> str:
        return os.path.join(self.root, self.base_folder, name)

    def _load(self, name: str) -> dict:
        entry = safe_unpickle(self._path(name))
        if not isinstance(entry, dict):
            raise ValueError(f"{self._path(name)}: expected a dict, got {type(entry).__name__}")
        return entry

    def _check_files(self) -> None:
        files = self.train_list + self.test_list + [[self.meta["filename"], self.meta["md5"]]]
        missing = [n for n, _ in files if not os.path.isfile(self._path(n))]
        if missing:
            raise DatasetNotFoundError(
                f"{type(self).__name__}: {', '.join(missing)} not found in "
                f"{os.path.join(self.root, self.base_folder)}; pass download=True to fetch it"
            )
        bad = [n for n, md5 in files if not check_integrity(self._path(n), md5)]
        if bad:
            raise ValueError(
                f"{type(self).__name__}: {', '.join(bad)} in {self.root} failed the MD5 check "
                "(corrupt or modified); delete them and download again"
            )

    def download(self) -> None:
        """Download the archive (MD5-checked) unless the batches are there, then extract it."""
        files = self.train_list + self.test_list
        if all(check_integrity(self._path(n), md5) for n, md5 in files):
            return
        archive = download_from_mirrors([self.url], self.filename, self.root, md5=self.tgz_md5)
        extract_archive(archive, self.root)

    def __len__(self) -> int:
        return len(self.data)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(PIL RGB image, int label)`` after the transforms."""
        return self._apply(_to_pil(self.data[index]), self.targets[index])

    def extra_repr(self) -> str:
        return f"Split: {'Train' if self.train else 'Test'}"


class CIFAR100(CIFAR10):
    """CIFAR-100: like :class:`CIFAR10` with 100 fine classes (``fine_labels``)."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [["train", "16019d7e3df5f24257cddd939b257f8d"]]
    test_list = [["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"]]
    meta = {
        "filename": "meta",
        "key": "fine_label_names",
        "md5": "7973b15100ade9c7d40fb424638fde48",
    }
    labels_key = "fine_labels"
