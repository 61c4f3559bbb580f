"""Finding, verifying, downloading and extracting dataset files.

Every download goes through :func:`ember.hub.download_url_to_file`, which checks
the published hash while streaming and only then moves the file into place, so
a corrupt or tampered archive is never extracted.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import zipfile
from collections.abc import Sequence

__all__ = [
    "DatasetNotFoundError",
    "check_integrity",
    "default_root",
    "download_from_mirrors",
    "extract_archive",
    "file_hash",
]


class DatasetNotFoundError(FileNotFoundError):
    """The dataset's files are not under ``root`` (and ``download`` was not asked for)."""


def default_root() -> str:
    """The directory datasets use when ``root=None``: ``ember.hub.get_dir()/datasets``."""
    from ember.hub import get_dir

    return os.path.join(get_dir(), "datasets")


def file_hash(path: str | os.PathLike[str], algorithm: str = "md5") -> str:
    """The hex digest of the file ``path`` (``md5`` or ``sha256``)."""
    h = hashlib.new(algorithm)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def check_integrity(
    path: str | os.PathLike[str], md5: str | None = None, sha256: str | None = None
) -> bool:
    """True when ``path`` exists and matches the given hashes (all that are given)."""
    if not os.path.isfile(path):
        return False
    if md5 is not None and file_hash(path, "md5") != md5.lower():
        return False
    return sha256 is None or file_hash(path, "sha256") == sha256.lower()


def download_from_mirrors(
    mirrors: Sequence[str],
    filename: str,
    folder: str | os.PathLike[str],
    md5: str | None = None,
    sha256: str | None = None,
    progress: bool = True,
) -> str:
    """Download ``filename`` into ``folder`` from the first mirror that serves it intact.

    Each mirror is a folder URL ending in ``/`` (``filename`` is appended) or
    the file's full URL. A file already present with the right hash is kept.

    Raises:
        ember.hub.HashMismatchError: every mirror served bytes with the wrong hash.
        ember.hub.DownloadError: no mirror could be reached (the messages of all
            attempts are listed).
    """
    from ember.hub import DownloadError, HashMismatchError, download_url_to_file

    dst = os.path.join(os.fspath(folder), filename)
    if (md5 or sha256) and check_integrity(dst, md5, sha256):
        return dst
    if not mirrors:
        raise ValueError(f"no URL to download {filename} from")
    errors: list[tuple[str, Exception]] = []
    for mirror in mirrors:
        url = mirror + filename if mirror.endswith("/") else mirror
        try:
            return download_url_to_file(url, dst, progress=progress, md5=md5, sha256=sha256)
        except (DownloadError, HashMismatchError) as e:
            errors.append((url, e))
    summary = "; ".join(f"{url}: {e}" for url, e in errors)
    if all(isinstance(e, HashMismatchError) for _, e in errors):
        raise HashMismatchError(f"{filename}: every mirror served a corrupt file ({summary})")
    raise DownloadError(f"could not download {filename} from any mirror ({summary})")


def _check_member(root: str, name: str) -> str:
    target = os.path.realpath(os.path.join(root, name))
    if os.path.isabs(name) or os.path.commonpath([root, target]) != root:
        raise ValueError(f"archive member {name!r} would be written outside {root}")
    return target


def extract_archive(archive: str | os.PathLike[str], folder: str | os.PathLike[str]) -> None:
    """Extract a ``.zip`` or tar (``.tar``, ``.tar.gz``, ``.tgz``, ``.tar.xz``) into ``folder``.

    Members that would land outside ``folder`` (absolute paths, ``..``, links
    pointing out) are refused before anything is written.
    """
    archive, folder = os.fspath(archive), os.path.realpath(os.fspath(folder))
    os.makedirs(folder, exist_ok=True)
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                _check_member(folder, name)
            zf.extractall(folder)
        return
    if tarfile.is_tarfile(archive):
        with tarfile.open(archive) as tf:
            members = tf.getmembers()
            for m in members:
                _check_member(folder, m.name)
                if m.issym():  # a symlink's target is relative to its own directory
                    _check_member(folder, os.path.join(os.path.dirname(m.name), m.linkname))
                elif m.islnk():  # a hard link's target is relative to the archive root
                    _check_member(folder, m.linkname)
            # The "data" filter also strips setuid bits and refuses devices.
            tf.extractall(folder, members=members, filter="data")
        return
    raise ValueError(f"{archive}: not a zip or tar archive")
