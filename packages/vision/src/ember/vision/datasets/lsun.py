"""LSUN scene categories, read from their LMDB databases (the optional ``lmdb`` package).

``pip install 'ember-vision[lsun]'`` installs the ``lmdb`` binding; without it,
creating an LSUN dataset raises an ImportError that says so. Nothing else in
ember-vision needs it.
"""

from __future__ import annotations

import bisect
import io
import os
import zipfile
import zlib
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image

from ._files import DatasetNotFoundError, extract_archive
from .vision import VisionDataset

__all__ = ["LSUN", "LSUNClass"]

CATEGORIES = (
    "bedroom",
    "bridge",
    "church_outdoor",
    "classroom",
    "conference_room",
    "dining_room",
    "kitchen",
    "living_room",
    "restaurant",
    "tower",
)


def _lmdb():
    try:
        import lmdb
    except ImportError:
        raise ImportError(
            "LSUN is stored in LMDB databases, which need the 'lmdb' package: install it with "
            "pip install 'ember-vision[lsun]'"
        ) from None
    return lmdb


# realpath -> (pid, environment). LMDB allows one open environment per database
# and process, so datasets over the same folder share it; a forked DataLoader
# worker inherits the parent's handle, which it must not use: it closes that
# (read-only, lock-free, so closing touches nothing the parent relies on) and
# opens its own.
_ENVS: dict[str, tuple[int, Any]] = {}


def _open_env(path: str) -> Any:
    key = os.path.realpath(path)
    pid, env = _ENVS.get(key, (None, None))
    if env is not None and pid == os.getpid():
        return env
    if env is not None:
        env.close()
    env = _lmdb().open(key, readonly=True, lock=False, readahead=False, meminit=False)
    _ENVS[key] = (os.getpid(), env)
    return env


class LSUNClass(VisionDataset):
    """The images of one LSUN LMDB database (``<category>_<set>_lmdb/``), target ``None``.

    The database maps image keys to encoded images (WebP in the official
    release). It is opened read-only, once per process, so the dataset can be
    sent to DataLoader workers.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        _lmdb()
        if not os.path.isfile(os.path.join(self.root, "data.mdb")):
            raise DatasetNotFoundError(f"LSUN: no LMDB database (data.mdb) in {self.root}")
        with self.env.begin(write=False) as txn:
            self.keys = list(txn.cursor().iternext(keys=True, values=False))

    @property
    def env(self) -> Any:
        """The read-only LMDB environment of this process (opened on first use)."""
        return _open_env(self.root)

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(PIL RGB image, None)`` after the transforms."""
        with self.env.begin(write=False) as txn:
            data = txn.get(self.keys[index])
        if data is None:
            raise KeyError(f"LSUN: key {self.keys[index]!r} vanished from {self.root}")
        img = Image.open(io.BytesIO(data)).convert("RGB")
        return self._apply(img, None)


class LSUN(VisionDataset):
    """LSUN (Yu et al., 2015) scene categories: bedrooms, churches, towers...

    Args:
        root: directory holding ``<category>_<set>_lmdb/`` folders (``data.mdb``
            and ``lock.mdb``), as the official zips extract.
        classes: ``"train"`` or ``"val"`` (all ten categories of that set),
            ``"test"``, or a list such as ``["bedroom_train", "tower_val"]``.
        transform: applied to the ``PIL.Image`` (RGB).
        target_transform: applied to the class index (the position in ``classes``).
        download: fetch the missing ``<name>_lmdb.zip`` files from the official
            server and extract them. LSUN publishes no checksums, so each zip
            is checked against its own CRC-32s before anything is extracted:
            that catches truncated and corrupted downloads, not substituted files.

    Raises:
        ImportError: the ``lmdb`` package is missing (``pip install 'ember-vision[lsun]'``).
        DatasetNotFoundError: a database is missing and ``download`` is False.
    """

    url = "http://dl.yf.io/lsun/scenes/"

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        classes: str | Sequence[str] = "train",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        _lmdb()
        self.classes = self._verify_classes(classes)
        if download:
            self.download()
        missing = [c for c in self.classes if not os.path.isdir(self._folder(c))]
        if missing:
            raise DatasetNotFoundError(
                f"LSUN: {', '.join(c + '_lmdb' for c in missing)} not found in {self.root}; "
                "pass download=True to fetch them"
            )
        self.dbs = [LSUNClass(self._folder(c), transform=transform) for c in self.classes]
        self.offsets = [0]
        for db in self.dbs:
            self.offsets.append(self.offsets[-1] + len(db))

    @staticmethod
    def _verify_classes(classes: str | Sequence[str]) -> list[str]:
        if classes == "test":
            return ["test"]
        if classes in ("train", "val"):
            return [f"{c}_{classes}" for c in CATEGORIES]
        if isinstance(classes, str):
            raise ValueError(
                f"LSUN classes must be 'train', 'val', 'test' or a list of '<category>_<set>', "
                f"got {classes!r}"
            )
        out = []
        for c in classes:
            category, _, split = str(c).rpartition("_")
            if category not in CATEGORIES or split not in ("train", "val"):
                raise ValueError(
                    f"LSUN class {c!r} is not '<category>_train' or '<category>_val' with a "
                    f"category among {CATEGORIES}"
                )
            out.append(str(c))
        return out

    def _folder(self, name: str) -> str:
        return os.path.join(self.root, f"{name}_lmdb")

    def download(self) -> None:
        """Fetch and extract each missing database's zip, refusing one whose CRCs fail."""
        from ember.hub import download_url_to_file

        for name in self.classes:
            if os.path.isdir(self._folder(name)):
                continue
            url = self.url + ("test_lmdb.zip" if name == "test" else f"{name}_lmdb.zip")
            path = download_url_to_file(url, os.path.join(self.root, f"{name}_lmdb.zip"))
            problem = _zip_problem(path)
            if problem is not None:
                os.remove(path)
                raise ValueError(f"LSUN: {url} is corrupt ({problem}); nothing was extracted")
            extract_archive(path, self.root)
            os.remove(path)  # tens of GB; the extracted folder is what later uses look for

    def __len__(self) -> int:
        return self.offsets[-1]

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """``(PIL RGB image, class index)`` after the transforms."""
        if not -len(self) <= index < len(self):
            raise IndexError(f"LSUN index {index} out of range for {len(self)} images")
        index %= len(self)
        which = bisect.bisect_right(self.offsets, index) - 1
        img, _ = self.dbs[which][index - self.offsets[which]]
        target = self.target_transform(which) if self.target_transform is not None else which
        return img, target

    def extra_repr(self) -> str:
        return f"Classes: {self.classes}"


def _zip_problem(path: str) -> str | None:
    """Why the zip at ``path`` is unusable (bad structure or a member failing its CRC), or None."""
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as e:
        return str(e)
    return None if bad is None else f"member {bad} fails its CRC-32"
