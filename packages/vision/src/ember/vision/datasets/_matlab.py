"""A reader for MATLAB level-5 MAT-files: numeric, logical, char, cell and struct arrays.

SVHN ships its images as ``.mat`` files and ImageNet's devkit describes its
classes in ``meta.mat``; both are level-5 MAT-files (MATLAB 5 to 7.2), the
format written by ``save -v7``. :func:`loadmat` uses ``scipy.io.loadmat`` when
scipy is installed and :func:`read_mat` otherwise, so ember-vision does not
depend on scipy. Both return the same structure:

- numeric and logical arrays: numpy arrays with MATLAB's shape (at least 2-D);
- char arrays: a 1-D numpy array of ``str``, one per row (``'abc'`` gives
  ``array(['abc'])``);
- cell arrays: numpy object arrays;
- struct arrays: numpy record arrays with one object field per struct field.

The layout (128-byte header, then tagged data elements, optionally zlib
compressed) is MathWorks' published "MAT-File Format" (Level 5) description.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from typing import Any

import numpy as np

__all__ = ["MatFileError", "loadmat", "read_mat"]

# Data element types (miINT8 ... miUTF32) -> numpy type (byte order added per file).
_MI_TYPES = {1: "i1", 2: "u1", 3: "i2", 4: "u2", 5: "i4", 6: "u4", 7: "f4", 9: "f8"}
_MI_TYPES.update({12: "i8", 13: "u8", 16: "u1", 17: "u2", 18: "u4"})
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MI_UTF8, _MI_UTF16, _MI_UTF32 = 16, 17, 18

# Array classes (mxDOUBLE_CLASS ... mxUINT64_CLASS) -> the dtype MATLAB sees.
_MX_NUMERIC = {6: "f8", 7: "f4", 8: "i1", 9: "u1", 10: "i2", 11: "u2", 12: "i4", 13: "u4"}
_MX_NUMERIC.update({14: "i8", 15: "u8"})
_MX_CELL, _MX_STRUCT, _MX_OBJECT, _MX_CHAR, _MX_SPARSE = 1, 2, 3, 4, 5
_MX_NAMES = {_MX_OBJECT: "object", _MX_SPARSE: "sparse", 16: "function handle", 17: "opaque"}
_COMPLEX, _LOGICAL = 0x08, 0x02


class MatFileError(ValueError):
    """A file is not a level-5 MAT-file, is truncated, or holds an unsupported array kind."""


def _scipy_loadmat():
    """``scipy.io.loadmat`` when scipy is importable, else None."""
    try:
        from scipy.io import loadmat as scipy_loadmat
    except ImportError:
        return None
    return scipy_loadmat


def loadmat(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the variables of the MAT-file ``path`` (scipy when installed, else :func:`read_mat`).

    Returns a dict of variable name -> array in the structure described in the
    module docstring. scipy keeps the stored integer type of numeric arrays
    (MATLAB saves small whole doubles as uint8) while :func:`read_mat` returns
    MATLAB's class (float64); callers cast.
    """
    scipy_loadmat = _scipy_loadmat()
    if scipy_loadmat is None:
        return read_mat(path)
    out = scipy_loadmat(os.fspath(path))
    return {k: v for k, v in out.items() if not k.startswith("__")}


class _Reader:
    """Parses data elements out of one in-memory buffer in the file's byte order."""

    def __init__(self, buf: bytes | bytearray | memoryview, order: str, where: str) -> None:
        self.buf, self.order, self.where = buf, order, where

    def error(self, what: str) -> MatFileError:
        return MatFileError(f"{self.where}: {what}")

    def tag(self, pos: int, end: int) -> tuple[int, int, int, int]:
        """``(type, nbytes, data offset, next element offset)`` of the element at ``pos``."""
        if pos + 8 > end:
            raise self.error(f"truncated: a data element tag at byte {pos} runs past the end")
        first, second = struct.unpack_from(self.order + "II", self.buf, pos)
        if first >> 16:  # small data element: type and size share 4 bytes, data in the next 4
            mtype, nbytes, data, nxt = first & 0xFFFF, first >> 16, pos + 4, pos + 8
            if nbytes > 4:
                raise self.error(f"small data element at byte {pos} claims {nbytes} bytes")
        else:
            mtype, nbytes, data = first, second, pos + 8
            nxt = data + (nbytes + 7) // 8 * 8
        if data + nbytes > end:
            raise self.error(
                f"truncated: element at byte {pos} needs {nbytes} bytes, {end - data} remain"
            )
        return mtype, nbytes, data, min(nxt, end)

    def values(self, pos: int, end: int) -> tuple[np.ndarray, int, int]:
        """The numeric data of the element at ``pos``: ``(array, element type, next offset)``."""
        mtype, nbytes, data, nxt = self.tag(pos, end)
        if mtype not in _MI_TYPES:
            raise self.error(f"expected a numeric data element at byte {pos}, got type {mtype}")
        dtype = np.dtype(_MI_TYPES[mtype]).newbyteorder(self.order)
        if nbytes % dtype.itemsize:
            raise self.error(f"element at byte {pos}: {nbytes} bytes is not a whole number")
        arr = np.frombuffer(self.buf, dtype, nbytes // dtype.itemsize, data)
        return arr, mtype, nxt

    def matrix(self, pos: int, end: int) -> tuple[str, Any, int]:
        """Parse the miMATRIX element at ``pos``: ``(name, value, next offset)``."""
        mtype, nbytes, data, nxt = self.tag(pos, end)
        if mtype != _MI_MATRIX:
            raise self.error(f"expected an array (miMATRIX) at byte {pos}, got type {mtype}")
        if nbytes == 0:  # an empty cell or struct-field entry
            return "", np.empty((0, 0)), nxt
        return (*self._matrix_body(data, data + nbytes), nxt)

    def _matrix_body(self, pos: int, end: int) -> tuple[str, Any]:
        flags, _, pos = self.values(pos, end)
        if flags.size < 1:
            raise self.error("array flags element is empty")
        cls, bits = int(flags[0]) & 0xFF, (int(flags[0]) >> 8) & 0xFF
        dims_arr, _, pos = self.values(pos, end)
        dims = tuple(int(d) for d in dims_arr)
        if len(dims) < 2 or min(dims) < 0:
            raise self.error(f"bad dimensions {dims}")
        name_arr, _, pos = self.values(pos, end)
        name = name_arr.tobytes().decode("latin1")
        if cls in _MX_NUMERIC:
            return name, self._numeric(cls, bits, dims, pos, end, name)
        if cls == _MX_CHAR:
            return name, self._char(dims, pos, end)
        if cls == _MX_CELL:
            return name, self._cell(dims, pos, end)
        if cls == _MX_STRUCT:
            return name, self._struct(dims, pos, end)
        kind = _MX_NAMES.get(cls, f"class {cls}")
        raise self.error(f"variable {name!r} is a {kind} array, which this reader does not support")

    def _numeric(self, cls: int, bits: int, dims: tuple, pos: int, end: int, name: str):
        n = int(np.prod(dims))
        real, _, pos = self.values(pos, end)
        if real.size != n:
            raise self.error(f"{name!r} holds {real.size} values for dimensions {dims}")
        # MATLAB stores whole-valued doubles in the smallest integer type that fits.
        out = real.astype(np.dtype(_MX_NUMERIC[cls]).newbyteorder("="), copy=False)
        if bits & _COMPLEX:
            imag, _, pos = self.values(pos, end)
            if imag.size != n:
                raise self.error(f"{name!r}: {imag.size} imaginary values for dimensions {dims}")
            ctype = np.complex64 if cls == 7 else np.complex128
            out = out.astype(ctype) + 1j * imag.astype(ctype)
        if bits & _LOGICAL:
            out = out.astype(bool)
        return out.reshape(dims, order="F")

    def _char(self, dims: tuple, pos: int, end: int) -> np.ndarray:
        raw, mtype, _ = self.values(pos, end)
        order = "le" if self.order == "<" else "be"
        codec = {_MI_UTF16: f"utf-16-{order}", 4: f"utf-16-{order}", _MI_UTF8: "utf-8"}
        codec[_MI_UTF32] = f"utf-32-{order}"
        try:
            text = raw.tobytes().decode(codec.get(mtype, "latin1"))
        except UnicodeDecodeError as e:
            raise self.error(f"char array is not valid {codec[mtype]} ({e.reason})") from None
        n = int(np.prod(dims))
        if len(text) > n:
            raise self.error(f"char array of dimensions {dims} holds {len(text)} characters")
        text = text.ljust(n)  # some writers leave blank char data out; scipy pads it too
        if len(text) == 0:
            return np.array([], dtype="<U1")
        rows = dims[0]
        # Characters are stored column-major: row r is every rows-th character from r.
        chars = np.array(list(text)).reshape((rows, -1), order="F")
        return np.array(["".join(row) for row in chars])

    def _cell(self, dims: tuple, pos: int, end: int) -> np.ndarray:
        n = int(np.prod(dims))
        out = np.empty(n, dtype=object)
        for i in range(n):
            _, out[i], pos = self.matrix(pos, end)
        return out.reshape(dims, order="F")

    def _struct(self, dims: tuple, pos: int, end: int) -> np.ndarray:
        width, _, pos = self.values(pos, end)
        names_raw, _, pos = self.values(pos, end)
        if width.size != 1 or int(width[0]) <= 0:
            raise self.error("struct field-name length element is malformed")
        w, raw = int(width[0]), names_raw.tobytes()
        fields: list[str] = []
        for i in range(0, len(raw), w):
            name = raw[i : i + w].split(b"\0", 1)[0].decode("latin1")
            # A repeated field name (MATLAB files in the wild have them) gets a
            # prefix, as scipy does: the second "a" is "_1_a".
            seen = sum(
                f == name or re.fullmatch(rf"_\d+_{re.escape(name)}", f) is not None for f in fields
            )
            fields.append(f"_{seen}_{name}" if seen else name)
        n = int(np.prod(dims))
        if not fields:  # a struct without fields: nothing but its shape
            return np.full(dims, None, dtype=object)
        out = np.empty(n, dtype=[(f, object) for f in fields])
        for i in range(n):
            for f in fields:
                _, out[i][f], pos = self.matrix(pos, end)
        return out.reshape(dims, order="F")


def _header_order(head: bytes, path: str) -> str:
    if head.startswith(b"\x89HDF") or head[:19] == b"MATLAB 7.3 MAT-file":
        raise MatFileError(
            f"{path}: a MATLAB 7.3 (HDF5) MAT-file; read it with h5py, this reader handles "
            "level-5 files (MATLAB -v7 and earlier)"
        )
    if 0 in head[:4]:  # level 4 starts with a small binary type code, level 5 with text
        raise MatFileError(f"{path}: a level-4 MAT-file, not supported (expected level 5)")
    if len(head) < 128:
        raise MatFileError(f"{path}: {len(head)} bytes is too short for a MAT-file header")
    indicator = head[126:128]
    if indicator not in (b"IM", b"MI"):
        raise MatFileError(
            f"{path}: not a level-5 MAT-file (endian indicator {indicator!r}, expected b'IM' "
            "or b'MI')"
        )
    order = "<" if indicator == b"IM" else ">"
    version = struct.unpack(order + "H", head[124:126])[0]
    if version != 0x0100:
        raise MatFileError(f"{path}: MAT-file version {version:#06x}, expected 0x0100")
    return order


def read_mat(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read every named variable of the level-5 MAT-file ``path`` with ember's own parser.

    Raises:
        MatFileError: the file is not a level-5 MAT-file (v4 and v7.3/HDF5 files
            are named as such), is truncated, or holds sparse, object or
            function-handle arrays.
    """
    path = os.fspath(path)
    out: dict[str, Any] = {}
    with open(path, "rb") as f:
        order = _header_order(f.read(128), path)
        pos = 128
        while head := f.read(8):
            if len(head) < 8:
                raise MatFileError(f"{path}: truncated data element tag at byte {pos}")
            mtype, nbytes = struct.unpack(order + "II", head)
            if mtype not in (_MI_MATRIX, _MI_COMPRESSED):
                raise MatFileError(f"{path}: unexpected top-level element type {mtype} at {pos}")
            # One buffer holds tag and body so an uncompressed array is never copied.
            body = bytearray(8 + nbytes)
            body[:8] = head
            if f.readinto(memoryview(body)[8:]) != nbytes:
                raise MatFileError(f"{path}: truncated: the element at byte {pos} is cut short")
            where = f"{path} (element at byte {pos})"
            if mtype == _MI_COMPRESSED:
                try:
                    body = bytearray(zlib.decompress(memoryview(body)[8:]))
                except zlib.error as e:
                    raise MatFileError(f"{where}: corrupt compressed data ({e})") from None
                reader = _Reader(body, order, where)
                name, value, _ = reader.matrix(0, len(body))
                pos += 8 + nbytes
            else:
                reader = _Reader(body, order, where)
                name, value, _ = reader.matrix(0, len(body))
                pad = -nbytes % 8  # uncompressed elements are 8-byte aligned
                f.seek(pad, 1)
                pos += 8 + nbytes + pad
            if name:  # MATLAB's unnamed subsystem data is not a variable
                out[name] = value
    return out
