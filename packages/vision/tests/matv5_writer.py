"""A byte-by-byte MATLAB level-5 MAT-file writer for the vision dataset tests.

Written from MathWorks' "MAT-File Format" description, independently of
ember's reader, so the reader is tested against the format and not against
itself. Loaded by path from the tests (pytest's importlib mode has no sibling
imports): ``load_writer()`` in each test module.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import numpy as np

MI = {"i1": 1, "u1": 2, "i2": 3, "u2": 4, "i4": 5, "u4": 6, "f4": 7, "f8": 9, "i8": 12, "u8": 13}
MX = {"f8": 6, "f4": 7, "i1": 8, "u1": 9, "i2": 10, "u2": 11, "i4": 12, "u4": 13, "i8": 14}
MX["u8"] = 15
MI_MATRIX, MI_COMPRESSED, MI_UTF8 = 14, 15, 16


@dataclass
class Cell:
    """A MATLAB cell array: ``items`` in column-major order, ``shape`` MATLAB's dims."""

    items: list
    shape: tuple


@dataclass
class Struct:
    """A MATLAB struct array: ``records`` (dicts with the same keys), column-major."""

    fields: list
    records: list
    shape: tuple


@dataclass
class Stored:
    """A numeric array whose class is ``array``'s dtype but stored as ``as_type`` (MATLAB's
    space saving: whole doubles written as uint8)."""

    array: np.ndarray
    as_type: str


def element(mtype: int, payload: bytes, order: str, small: bool = True) -> bytes:
    """One data element; payloads of 1-4 bytes use the small (packed) format."""
    if small and 0 < len(payload) <= 4:
        return struct.pack(order + "I", (len(payload) << 16) | mtype) + payload.ljust(4, b"\0")
    pad = b"\0" * (-len(payload) % 8)
    return struct.pack(order + "II", mtype, len(payload)) + payload + pad


def _num(arr: np.ndarray, order: str, small: bool = True) -> bytes:
    code = arr.dtype.str[1:]
    data = arr.astype(arr.dtype.newbyteorder(order)).tobytes()
    return element(MI[code], data, order, small)


def _head(cls: int, dims: tuple, name: str, order: str, flags: int = 0) -> bytes:
    out = _num(np.array([cls | (flags << 8), 0], dtype="u4"), order)
    out += _num(np.array(dims, dtype="i4"), order)
    return out + element(1, name.encode(), order)


def matrix(name: str, value, order: str = "<") -> bytes:
    """The miMATRIX element holding ``value`` under ``name``."""
    if isinstance(value, Cell):
        body = _head(1, value.shape, name, order)
        body += b"".join(matrix("", v, order) for v in value.items)
    elif isinstance(value, Struct):
        width = max(len(f) for f in value.fields) + 1
        body = _head(2, value.shape, name, order)
        body += _num(np.array([width], dtype="i4"), order)
        body += element(1, b"".join(f.encode().ljust(width, b"\0") for f in value.fields), order)
        for rec in value.records:
            body += b"".join(matrix("", rec[f], order) for f in value.fields)
    elif isinstance(value, str):  # a 1xN char array in UTF-16 code units (miUINT16)
        units = np.array([ord(c) for c in value], dtype="u2")
        body = _head(4, (1, len(value)), name, order) + _num(units, order)
    elif isinstance(value, Stored):
        arr = np.atleast_2d(value.array)
        body = _head(MX[arr.dtype.str[1:]], arr.shape, name, order)
        body += _num(arr.astype(value.as_type).ravel(order="F"), order)
    else:
        arr = np.atleast_2d(np.asarray(value))
        flags = 0x02 if arr.dtype == bool else 0
        if arr.dtype == bool:
            arr = arr.astype("u1")
        if np.iscomplexobj(arr):
            real = arr.real.ravel(order="F")
            body = _head(MX[real.dtype.str[1:]], arr.shape, name, order, flags | 0x08)
            body += _num(real, order) + _num(arr.imag.ravel(order="F"), order)
        else:
            body = _head(MX[arr.dtype.str[1:]], arr.shape, name, order, flags)
            body += _num(arr.ravel(order="F"), order)
    return struct.pack(order + "II", MI_MATRIX, len(body)) + body


def mat_file(variables: dict, order: str = "<", compress: bool = False) -> bytes:
    """A whole level-5 MAT-file: 128-byte header, then one element per variable."""
    text = b"MATLAB 5.0 MAT-file, Platform: test, Created on: Thu Jan  1 00:00:00 1970"
    head = text.ljust(116, b" ") + b"\0" * 8
    head += struct.pack(order + "H", 0x0100) + (b"IM" if order == "<" else b"MI")
    out = [head]
    for name, value in variables.items():
        el = matrix(name, value, order)
        if compress:
            z = zlib.compress(el)
            el = struct.pack(order + "II", MI_COMPRESSED, len(z)) + z
        out.append(el)
    return b"".join(out)
