"""Fixtures for the ember-vision tests: a real HTTP server on 127.0.0.1 and IDX writers."""

from __future__ import annotations

import gzip
import hashlib
import lzma
import struct

import numpy as np
import pytest

from ember.hub._testing import FileServer

# The IDX type codes, written here from the format's specification (independent
# of ember's reader).
_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D}
_CODES["float64"] = 0x0E


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of ``array``: magic, big-endian dims, big-endian values."""
    array = np.asarray(array)
    head = bytes([0, 0, _CODES[array.dtype.name], array.ndim])
    head += b"".join(struct.pack(">I", d) for d in array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


def gz(data: bytes) -> bytes:
    """gzip ``data``."""
    return gzip.compress(data, mtime=0)


def xz(data: bytes) -> bytes:
    """xz-compress ``data``."""
    return lzma.compress(data)


def md5(data: bytes) -> str:
    """MD5 hex digest of ``data``."""
    return hashlib.md5(data).hexdigest()


@pytest.fixture
def server():
    """A FileServer on 127.0.0.1, shut down after the test."""
    s = FileServer()
    yield s
    s.close()


@pytest.fixture
def fmt():
    """The file-format helpers above, for tests (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(idx_bytes=idx_bytes, gz=gz, xz=xz, md5=md5)
