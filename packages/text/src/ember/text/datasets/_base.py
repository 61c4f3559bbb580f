"""Shared machinery of the text datasets: hash-checked downloads through ember.hub,
streaming reads out of archives, and sharding across DataLoader workers.

Each dataset is an ``IterableDataset`` that reads its original files lazily (a
member of a ``.tar.gz`` or ``.zip`` is streamed, never extracted whole), so a
large corpus never sits in memory. A file already present with the right hash is
used as is; a download whose hash differs is refused by ember.hub and deleted.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import os
import tarfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from ember.data import IterableDataset, get_worker_info

__all__ = [
    "DatasetNotFoundError",
    "Resource",
    "TextIterableDataset",
    "default_root",
    "fetch",
    "open_member",
]


class DatasetNotFoundError(FileNotFoundError):
    """The files are not under ``root`` and ``download=False``."""


@dataclass(frozen=True)
class Resource:
    """One published file: where it is served from and the hash it must have."""

    filename: str
    urls: tuple[str, ...]
    md5: str | None = None
    sha256: str | None = None


def default_root() -> str:
    """``<ember hub dir>/datasets`` (``EMBER_HOME`` etc., see ember.hub.get_dir)."""
    from ember.hub import get_dir

    return os.path.join(get_dir(), "datasets")


def _file_hash(path: str, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _intact(path: str, res: Resource) -> bool:
    if not os.path.isfile(path):
        return False
    if res.sha256 and _file_hash(path, "sha256") != res.sha256.lower():
        return False
    return not (res.md5 and _file_hash(path, "md5") != res.md5.lower())


def fetch(res: Resource, folder: str, download: bool, progress: bool = True) -> str:
    """The local path of ``res`` in ``folder``, downloading it (trying each URL in
    order) when ``download``. A present file with a wrong hash is re-downloaded,
    never trusted.

    Raises DatasetNotFoundError (missing, ``download=False``), ember.hub's
    HashMismatchError (every URL served wrong bytes) or DownloadError."""
    from ember.hub import DownloadError, HashMismatchError, download_url_to_file

    path = os.path.join(folder, res.filename)
    if _intact(path, res):
        return path
    if not download:
        state = "has the wrong checksum" if os.path.isfile(path) else "is missing"
        raise DatasetNotFoundError(f"{path} {state}; pass download=True to fetch it")
    os.makedirs(folder, exist_ok=True)
    if os.path.isfile(path):
        os.remove(path)  # a stale or damaged copy: fetch a fresh one
    errors: list[str] = []
    mismatches = 0
    for url in res.urls:
        try:
            return download_url_to_file(
                url, path, progress=progress, md5=res.md5, sha256=res.sha256
            )
        except HashMismatchError as e:
            mismatches += 1
            errors.append(f"{url}: {e}")
        except DownloadError as e:
            errors.append(f"{url}: {e}")
    detail = "; ".join(errors)
    if mismatches == len(res.urls):
        raise HashMismatchError(f"{res.filename}: every URL served a corrupt file ({detail})")
    raise DownloadError(f"could not download {res.filename} ({detail})")


def open_member(archive: str, member: str) -> io.TextIOBase:
    """A text stream (UTF-8) of one file inside a ``.zip``/``.tar*`` archive, or of a
    plain/``.gz``/``.bz2`` file when ``member`` is None."""
    if member is None:
        if archive.endswith(".gz"):
            return gzip.open(archive, "rt", encoding="utf-8", newline="")
        if archive.endswith(".bz2"):
            return bz2.open(archive, "rt", encoding="utf-8", newline="")
        return open(archive, encoding="utf-8", newline="")
    if zipfile.is_zipfile(archive):
        zf = zipfile.ZipFile(archive)
        try:
            raw = zf.open(member)
        except KeyError:
            zf.close()
            raise FileNotFoundError(f"{archive} has no member {member!r}") from None
        return io.TextIOWrapper(raw, encoding="utf-8", newline="")
    tf = tarfile.open(archive, "r:*")
    try:
        info = tf.getmember(member)
    except KeyError:
        tf.close()
        raise FileNotFoundError(f"{archive} has no member {member!r}") from None
    raw = tf.extractfile(info)
    if raw is None:
        raise FileNotFoundError(f"{archive}: {member!r} is not a regular file")
    return io.TextIOWrapper(raw, encoding="utf-8", newline="")


def iter_tar_members(archive: str, select: Callable[[str], bool]) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of the selected regular files of a tar archive, streamed in
    archive order (one pass, one member in memory at a time)."""
    with tarfile.open(archive, "r|*") as tf:
        for info in tf:
            if info.isfile() and select(info.name):
                f = tf.extractfile(info)
                yield info.name, f.read() if f is not None else b""


class TextIterableDataset(IterableDataset):
    """Base class: subclasses implement ``_records()``, a generator over examples.

    Iterating in DataLoader workers hands each worker every ``num_workers``-th
    example, so together they see each example once."""

    splits: Sequence[str] = ()

    def __init__(self, split: str) -> None:
        if split not in self.splits:
            raise ValueError(
                f"{type(self).__name__}: unknown split {split!r}; "
                f"expected one of {list(self.splits)}"
            )
        self.split = split

    def _records(self) -> Iterator:
        raise NotImplementedError

    def __iter__(self) -> Iterator:
        info = get_worker_info()
        if info is None or info.num_workers == 1:
            yield from self._records()
            return
        for i, item in enumerate(self._records()):
            if i % info.num_workers == info.id:
                yield item

    def __repr__(self) -> str:
        return f"{type(self).__name__}(split={self.split!r})"
