"""Reading zip entries for ember's format and PyTorch's: bounded, checked, and for
stored (uncompressed) entries read straight into one writable buffer."""

from __future__ import annotations

import struct
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

from ._errors import CheckpointError

__all__ = ["open_zip", "read_small", "read_buffer", "readinto_exact"]

_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # the zip spec's local file header
_LOCAL_MAGIC = b"PK\x03\x04"
# Manifests and pickles are metadata; a larger one is corrupt or hostile.
SMALL_LIMIT = 1 << 30


def open_zip(f: BinaryIO, what: str) -> zipfile.ZipFile:
    """Open ``f`` as a zip archive or raise ValueError naming ``what`` was expected."""
    try:
        return zipfile.ZipFile(f, "r")
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"not a valid {what}: the zip container is damaged ({exc})") from exc


def _info(zf: zipfile.ZipFile, name: str, what: str) -> zipfile.ZipInfo:
    try:
        return zf.getinfo(name)
    except KeyError:
        raise CheckpointError(f"{what} is missing the zip entry {name!r}") from None


def read_small(zf: zipfile.ZipFile, name: str, what: str) -> bytes:
    """The whole content of entry ``name`` (metadata: manifest, pickle), CRC-checked."""
    info = _info(zf, name, what)
    if info.file_size > SMALL_LIMIT:
        raise CheckpointError(
            f"{what}: entry {name!r} claims {info.file_size} bytes, over the limit"
        )
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        raise CheckpointError(f"{what}: cannot read zip entry {name!r} ({exc})") from exc


def read_buffer(zf: zipfile.ZipFile, f: BinaryIO, name: str, what: str) -> np.ndarray:
    """Entry ``name`` as a new writable 1-D uint8 array, CRC-checked.

    A stored entry is read from the file directly into the array (one copy from
    disk, no zero-filling, CRC computed on a second thread while reading); a
    compressed one goes through zipfile.
    """
    info = _info(zf, name, what)
    if info.compress_type != zipfile.ZIP_STORED:
        return np.frombuffer(bytearray(read_small(zf, name, what)), np.uint8)
    if info.compress_size != info.file_size:
        raise CheckpointError(
            f"{what}: stored entry {name!r} has compressed size {info.compress_size} "
            f"but size {info.file_size}"
        )
    f.seek(info.header_offset)
    header = f.read(_LOCAL_HEADER.size)
    if len(header) != _LOCAL_HEADER.size or header[:4] != _LOCAL_MAGIC:
        raise CheckpointError(f"{what}: bad local header for zip entry {name!r} (file truncated?)")
    fields = _LOCAL_HEADER.unpack(header)
    name_len, extra_len = fields[-2], fields[-1]
    encoding = "utf-8" if info.flag_bits & 0x800 else "cp437"
    if f.read(name_len) != info.orig_filename.encode(encoding, "replace"):
        raise CheckpointError(f"{what}: local header of zip entry {name!r} names another file")
    f.seek(extra_len, 1)
    buf = np.empty(info.file_size, np.uint8)
    got, crc = readinto_exact(f, buf, crc=True)
    if got != info.file_size:
        raise CheckpointError(
            f"{what}: zip entry {name!r} is truncated: expected {info.file_size} bytes, got {got}"
        )
    if crc != info.CRC:
        raise CheckpointError(f"{what}: zip entry {name!r} fails its CRC check (file corrupted)")
    return buf


_CHUNK = 1 << 24


def readinto_exact(f: BinaryIO, buf: np.ndarray, *, crc: bool = False) -> tuple[int, int]:
    """Fill 1-D uint8 ``buf`` from ``f``; returns ``(bytes read, CRC-32 of them)``
    (the CRC is 0 unless asked for). Fewer bytes are read only at end of file.

    Large reads go in chunks, and the CRC of one chunk is computed on a worker
    thread while the next is read (both release the GIL).
    """
    view = memoryview(buf)
    state = [0]

    def update(part) -> None:
        state[0] = zlib.crc32(part, state[0])

    pool = ThreadPoolExecutor(1) if crc and len(buf) > 2 * _CHUNK else None
    pending = []
    got = 0
    try:
        while got < len(buf):
            n = _read_some(f, view[got : min(got + _CHUNK, len(buf))])
            if n == 0:
                break
            if pool is not None:
                pending.append(pool.submit(update, view[got : got + n]))
            elif crc:
                update(view[got : got + n])
            got += n
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    for p in pending:
        p.result()  # re-raise anything the worker hit
    return got, state[0]


def _read_some(f: BinaryIO, view: memoryview) -> int:
    readinto = getattr(f, "readinto", None)
    if readinto is not None:
        return readinto(view) or 0
    chunk = f.read(len(view))
    view[: len(chunk)] = chunk
    return len(chunk)
