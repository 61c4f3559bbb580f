"""Reading IDX files, the format of MNIST and its relatives.

An IDX file is two zero bytes, a type code, the number of dimensions, one
big-endian uint32 per dimension, then the values, big-endian, row-major.
Files may be gzip (``.gz``) or xz (``.xz``) compressed, as the datasets ship.
"""

from __future__ import annotations

import gzip
import lzma
import os
import struct

import numpy as np

__all__ = ["open_maybe_compressed", "read_idx"]

#: IDX type code -> big-endian numpy dtype.
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def open_maybe_compressed(path: str | os.PathLike[str]):
    """Open ``path`` for binary reading, decompressing ``.gz`` and ``.xz`` files."""
    path = os.fspath(path)
    if path.endswith(".gz"):
        return gzip.open(path, "rb")
    if path.endswith(".xz"):
        return lzma.open(path, "rb")
    return open(path, "rb")


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read the IDX file ``path`` into a native-endian numpy array.

    Returns:
        an array with the file's shape and dtype (uint8, int8, int16, int32,
        float32 or float64).

    Raises:
        ValueError: the file is not IDX, or is truncated or too long, naming
            the file and what was wrong. A broken gzip/xz stream raises the
            same ``ValueError``.
    """
    path = os.fspath(path)
    try:
        with open_maybe_compressed(path) as f:
            raw = f.read()
    except (OSError, EOFError, lzma.LZMAError) as e:
        raise ValueError(f"{path}: cannot decompress ({e}); the file is corrupt") from e
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (expected two zero bytes at the start)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in IDX_TYPES:
        raise ValueError(
            f"{path}: unknown IDX type code 0x{type_code:02X}; "
            f"expected one of {', '.join(f'0x{c:02X}' for c in IDX_TYPES)}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({len(raw)} bytes, {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_TYPES[type_code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{path}: IDX shape {tuple(shape)} of {dtype.name} needs {expected} bytes, "
            f"the file has {len(raw)}; it is truncated or corrupt"
        )
    array = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)
