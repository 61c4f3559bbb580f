"""download_url_to_file: the one function in ember that fetches bytes from the network.

The bytes stream into ``dst + ".partial"`` beside the destination (same
filesystem, so the final ``os.replace`` is atomic), are hashed as they arrive,
and only a verified file is renamed to ``dst``: a reader never sees a torn or
wrong file there. A ``.partial`` left by a dropped connection, a timeout or a
killed process is resumed with an HTTP ``Range`` request next time; one whose
hash turns out wrong is deleted. Concurrent callers for the same ``dst`` take
turns through a lock on ``dst + ".lock"``.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import requests

from ember.hub._lock import FileLock
from ember.hub._progress import make_bar

logger = logging.getLogger(__name__)

_CHUNK = 1 << 16
_USER_AGENT = "ember-hub/0.1"
# Seconds before the first retry, doubled after each failure that brought no bytes.
_BACKOFF_BASE = 0.5
_BACKOFF_MAX = 30.0
# Statuses worth retrying: the server or something in front of it is busy or broken.
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_HEX = re.compile(r"^[0-9a-fA-F]+$")


class DownloadError(OSError):
    """A download failed: an HTTP error status, or the network kept failing after retries.

    ``status`` is the HTTP status of the failing response, or None for a
    network failure.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class HashMismatchError(RuntimeError):
    """The downloaded bytes do not have the expected hash; nothing was kept."""


class _Transient(Exception):
    """A failure worth retrying (5xx, short body); never escapes this module."""


@dataclass
class _Expected:
    """The hashes a download must match, and the hashers computing them."""

    hash_prefix: str | None = None
    sha256: str | None = None
    md5: str | None = None
    hashers: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value, length in (
            ("hash_prefix", self.hash_prefix, None),
            ("sha256", self.sha256, 64),
            ("md5", self.md5, 32),
        ):
            if value is None:
                continue
            if not isinstance(value, str) or not _HEX.match(value):
                raise ValueError(f"{name} must be a hexadecimal string, got {value!r}")
            if length is not None and len(value) != length:
                raise ValueError(f"{name} must have {length} hex digits, got {len(value)}")
            if length is None and len(value) > 64:
                raise ValueError(f"hash_prefix is a sha256 prefix (<= 64 digits), got {value!r}")
        self.reset()

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.hash_prefix, self.sha256, self.md5))

    def reset(self) -> None:
        """Start hashing from byte 0."""
        self.hashers = {}
        if self.hash_prefix is not None or self.sha256 is not None:
            self.hashers["sha256"] = hashlib.sha256()
        if self.md5 is not None:
            self.hashers["md5"] = hashlib.md5()

    def update(self, chunk: bytes) -> None:
        for h in self.hashers.values():
            h.update(chunk)

    def feed_file(self, path: str) -> None:
        """Hash the bytes already in ``path`` (a partial download being resumed)."""
        with open(path, "rb") as f:
            while chunk := f.read(1 << 20):
                self.update(chunk)

    def mismatch(self) -> str | None:
        """Describe how the hashed bytes differ from what was expected, or None."""
        got = {name: h.hexdigest() for name, h in self.hashers.items()}
        prefix_len = len(self.hash_prefix or "")
        checks = [
            ("sha256 prefix", self.hash_prefix, got.get("sha256", "")[:prefix_len]),
            ("sha256", self.sha256, got.get("sha256")),
            ("md5", self.md5, got.get("md5")),
        ]
        for name, want, have in checks:
            if want is not None and want.lower() != have:
                return f"expected {name} {want.lower()}, got {have}"
        return None


def _stat_key(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _file_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


def download_url_to_file(
    url: str,
    dst: str | os.PathLike[str],
    hash_prefix: str | None = None,
    progress: bool = True,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    timeout: float = 30.0,
    retries: int = 5,
) -> str:
    """Download ``url`` to the file ``dst``, resumably, verified and atomically.

    Args:
        url: an ``http://`` or ``https://`` URL. The standard proxy variables
            (``HTTPS_PROXY``, ``HTTP_PROXY``, ``NO_PROXY``) are honoured.
        dst: the destination file; its directory is created if needed.
        hash_prefix: a prefix of the expected SHA-256 hex digest (PyTorch's
            convention for ``name-<prefix>.pth`` files).
        progress: draw a progress bar on stderr (only when it is a terminal).
        sha256: the full expected SHA-256 hex digest.
        md5: the expected MD5 hex digest (for datasets that publish only MD5).
        timeout: seconds to wait for the connection and between received bytes.
        retries: how many consecutive failed attempts (connection errors,
            timeouts, HTTP 408/429/5xx, a connection closed early) are retried,
            with exponential backoff. An attempt that received bytes resets
            the count, since the next one resumes where it stopped.

    Returns:
        ``dst`` as an absolute path.

    If ``dst`` already exists and a hash is given, a matching file is kept
    without downloading. Without a hash an existing ``dst`` is replaced,
    unless another process finished downloading it while this call waited
    for the lock.

    Raises:
        HashMismatchError: the bytes do not match a given hash (the partial
            file is deleted; nothing is written to ``dst``).
        DownloadError: an HTTP error status such as 404, or failures beyond
            ``retries``. ``dst`` is untouched; a partial file is kept to be resumed.
        ValueError: a URL that is not http(s), or a malformed hash.
    """
    if not isinstance(url, str) or urlparse(url).scheme not in ("http", "https"):
        raise ValueError(f"download_url_to_file needs an http:// or https:// URL, got {url!r}")
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    expected = _Expected(hash_prefix, sha256, md5)
    dst = os.path.abspath(os.fspath(dst))
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    before = _stat_key(dst)
    with FileLock(dst + ".lock"):
        if _stat_key(dst) is not None:
            if expected.any:
                expected.feed_file(dst)
                if expected.mismatch() is None:
                    return dst
                logger.info("%s exists but does not match its hash; downloading again", dst)
                expected.reset()
            elif _stat_key(dst) != before:
                # Another process finished it while we waited on the lock.
                return dst
        _download_verified(url, dst, expected, progress, timeout, retries)
    return dst


def _download_verified(
    url: str, dst: str, expected: _Expected, progress: bool, timeout: float, retries: int
) -> None:
    """Fetch into the partial file, verify, and rename onto ``dst``. Caller holds the lock."""
    part = dst + ".partial"
    for _ in range(2):
        fetch = _Fetch(url, part, expected, progress, timeout)
        fetch.run(retries)
        problem = expected.mismatch()
        if problem is None:
            os.replace(part, dst)
            return
        os.remove(part)
        expected.reset()
        if not fetch.stale:
            break
        # The partial came from an earlier call; the file on the server may have
        # changed since. One fresh download settles it.
        logger.info("resumed partial file for %s was wrong; downloading from scratch", url)
    raise HashMismatchError(f"downloaded {url}: {problem}; the file was deleted")


class _Fetch:
    """Make ``part`` hold all of ``url``'s bytes, hashing them into ``expected``.

    ``stale`` tells whether the bytes include some left in ``part`` by an
    earlier call (whose server-side file may since have changed).
    """

    def __init__(
        self, url: str, part: str, expected: _Expected, progress: bool, timeout: float
    ) -> None:
        self.url, self.part, self.expected = url, part, expected
        self.progress, self.timeout = progress, timeout
        self.stale = _file_size(part) > 0
        # ETag or Last-Modified of the file as first seen by this call, for If-Range.
        self.validator: str | None = None
        if self.stale:
            expected.feed_file(part)

    def run(self, retries: int) -> None:
        failures = 0
        with requests.Session() as session:
            # identity: Range offsets must be offsets into the file itself.
            session.headers.update({"User-Agent": _USER_AGENT, "Accept-Encoding": "identity"})
            while True:
                offset = _file_size(self.part)
                try:
                    if self._attempt(session, offset):
                        return
                    continue
                except (
                    requests.ConnectionError,
                    requests.Timeout,
                    requests.exceptions.ChunkedEncodingError,
                    _Transient,
                ) as e:
                    error = e
                if _file_size(self.part) > offset:
                    failures = 0  # it made progress: resume right away
                    logger.info("download of %s interrupted (%s); resuming", self.url, error)
                    continue
                failures += 1
                if failures > retries:
                    raise DownloadError(
                        f"downloading {self.url} failed after {retries} retries: {error}"
                    ) from error
                delay = min(_BACKOFF_BASE * 2 ** (failures - 1), _BACKOFF_MAX)
                logger.info("download of %s failed (%s); retry in %.2f s", self.url, error, delay)
                time.sleep(delay)

    def _attempt(self, session: requests.Session, offset: int) -> bool:
        """One HTTP request; True when ``part`` is complete, False to go again at once."""
        headers = {}
        if offset:
            headers["Range"] = f"bytes={offset}-"
            if self.validator:
                # If the file changed since our first response, the server sends all of it.
                headers["If-Range"] = self.validator
        with session.get(self.url, headers=headers, stream=True, timeout=self.timeout) as r:
            status = r.status_code
            if status == 416 and offset:
                # Our offset is at or past the end: complete if the sizes agree.
                total = r.headers.get("Content-Range", "").rpartition("/")[2]
                if total.isdigit() and int(total) == offset:
                    return True
                self._restart()
                return False
            if status in _RETRY_STATUS:
                raise _Transient(f"HTTP {status} {r.reason}")
            if status >= 400:
                raise DownloadError(
                    f"downloading {self.url} failed: HTTP {status} {r.reason}", status
                )
            if status == 206 and _range_start(r) != offset:
                if not offset:  # a range we never asked for: retrying won't help
                    raise DownloadError(f"{self.url}: HTTP 206 for a request without Range")
                self._restart()  # the wrong range: start over from byte 0
                return False
            if status != 206:
                if offset:
                    logger.info("server ignored the Range request for %s; restarting", self.url)
                self._restart()
                offset = 0
            if self.validator is None:
                etag = r.headers.get("ETag")
                strong = etag if etag and not etag.startswith("W/") else None
                self.validator = strong or r.headers.get("Last-Modified")
            length = r.headers.get("Content-Length")
            total = offset + int(length) if length and length.isdigit() else None
            self._stream(r, offset, total)
        got = _file_size(self.part)
        if total is not None and got < total:
            raise _Transient(f"connection closed after {got} of {total} bytes")
        return True

    def _stream(self, r: requests.Response, offset: int, total: int | None) -> None:
        name = os.path.basename(self.part).removesuffix(".partial")
        bar = make_bar(total, name, offset, self.progress)
        # Keep the bytes of a body cut short (urllib3 would raise and drop the
        # last chunk); the caller compares the size with Content-Length instead.
        if hasattr(r.raw, "enforce_content_length"):
            r.raw.enforce_content_length = False
        try:
            with open(self.part, "ab") as f:
                for chunk in r.iter_content(_CHUNK):
                    f.write(chunk)
                    self.expected.update(chunk)
                    bar.update(len(chunk))
        finally:
            bar.close()

    def _restart(self) -> None:
        """Throw away the partial file and the hash state, to download from byte 0."""
        if os.path.exists(self.part):
            os.remove(self.part)
        self.expected.reset()
        self.stale = False


def _range_start(r: requests.Response) -> int | None:
    """The first byte of a 206 response, from ``Content-Range: bytes a-b/n``."""
    m = re.match(r"bytes (\d+)-\d+/(\d+|\*)", r.headers.get("Content-Range", ""))
    return int(m.group(1)) if m else None
