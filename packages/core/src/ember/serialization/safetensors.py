"""Reading and writing the safetensors format, without the safetensors package.

A file is an 8-byte little-endian header length ``N``, ``N`` bytes of UTF-8
JSON, then the tensor bytes. The header maps each tensor name to
``{"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}`` (offsets
relative to the end of the header) and may hold ``"__metadata__"``, a
str -> str map. Like the reference implementation, ember writes tensors in
the reference's dtype order (largest first) then by name (so every tensor is
aligned), pads the
header with spaces to a multiple of 8, and on reading insists that the tensors
tile the data area exactly: no gap, no overlap, nothing left over.
"""

from __future__ import annotations

import io
import json
import math
import os
import struct

import numpy as np

from . import _atomic, _bridge, _zip
from ._dtypes import BY_NAME, SAFETENSORS, SAFETENSORS_UNSUPPORTED, name_of
from ._errors import CheckpointError

__all__ = ["save", "save_file", "load", "load_file", "load_metadata"]

_CODES = {name: code for code, name in SAFETENSORS.items()}
# The reference writer orders tensors by its dtype enum, largest first, then by name.
_RANK = {
    c: i
    for i, c in enumerate(
        ["BOOL", "U8", "I8", "I16", "F16", "BF16", "I32", "F32", "C64", "F64", "I64"]
    )
}
_HEADER_LIMIT = 100_000_000  # the reference implementation's cap
_WHAT = "safetensors file"


def _check_tensors(tensors, metadata):
    if not isinstance(tensors, dict):
        raise TypeError(f"tensors must be a dict of name -> Tensor, got {type(tensors).__name__}")
    for name, t in tensors.items():
        if type(name) is not str or name == "__metadata__":
            raise TypeError(f"tensor names must be strings other than '__metadata__', got {name!r}")
        if not _bridge.is_tensor(t):
            raise TypeError(f"tensors[{name!r}] must be an ember Tensor, got {type(t).__name__}")
    if metadata is not None and (
        not isinstance(metadata, dict)
        or any(type(k) is not str or type(v) is not str for k, v in metadata.items())
    ):
        raise TypeError("metadata must be a dict of str -> str")


def _prepare(tensors: dict, metadata: dict | None) -> tuple[bytes, list[np.ndarray]]:
    _check_tensors(tensors, metadata)
    arrays = {}
    for name, t in tensors.items():
        a = _bridge.host_array(t)
        dtype = name_of(a.dtype)
        if dtype not in _CODES:
            raise TypeError(f"safetensors has no dtype code for {dtype} (tensor {name!r})")
        arrays[name] = (dtype, np.asarray(a, BY_NAME[dtype], order="C"))
    order = sorted(arrays, key=lambda n: (-_RANK[_CODES[arrays[n][0]]], n))
    header: dict = {} if not metadata else {"__metadata__": dict(metadata)}
    offset = 0
    for name in order:
        dtype, a = arrays[name]
        header[name] = {
            "dtype": _CODES[dtype],
            "shape": list(a.shape),
            "data_offsets": [offset, offset + a.nbytes],
        }
        offset += a.nbytes
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    buffers = [arrays[n][1].reshape(-1).view(np.uint8) for n in order]
    return struct.pack("<Q", len(text)) + text, buffers


def save(tensors: dict, metadata: dict[str, str] | None = None) -> bytes:
    """The safetensors encoding of ``tensors`` (name -> Tensor) as bytes."""
    head, buffers = _prepare(tensors, metadata)
    return b"".join([head, *(b.tobytes() for b in buffers)])


def save_file(
    tensors: dict, filename: str | os.PathLike, metadata: dict[str, str] | None = None
) -> None:
    """Write ``tensors`` (name -> Tensor) to ``filename`` atomically.

    Non-contiguous tensors are written contiguous; ``metadata`` is a str -> str map
    stored under ``__metadata__``.
    """
    head, buffers = _prepare(tensors, metadata)
    with _atomic.atomic_write(filename) as f:
        f.write(head)
        for b in buffers:
            f.write(b)


def _parse_header(data, size: int) -> tuple[dict, dict, int]:
    """Validate the header at the start of ``data`` (``size`` bytes in all).

    Returns ``(entries, metadata, data_start)`` where entries maps each name to
    ``(dtype, shape, begin, end)``.
    """
    if size < 8:
        raise CheckpointError(f"{_WHAT}: {size} bytes is too short for the 8-byte header size")
    n = int.from_bytes(bytes(data[:8]), "little")
    if n > _HEADER_LIMIT or 8 + n > size:
        raise CheckpointError(
            f"{_WHAT}: header claims {n} bytes but the file has {size - 8} after the size field"
        )

    def no_duplicates(pairs):
        d = dict(pairs)
        if len(d) != len(pairs):
            raise ValueError("duplicate key in header")
        return d

    def no_constant(name):
        raise ValueError(f"non-standard JSON constant {name}")

    try:
        header = json.loads(
            bytes(data[8 : 8 + n]).decode("utf-8"),
            object_pairs_hook=no_duplicates,
            parse_constant=no_constant,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{_WHAT}: header is not valid JSON ({exc})") from None
    if type(header) is not dict:
        raise CheckpointError(f"{_WHAT}: header must be a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if type(metadata) is not dict or any(type(v) is not str for v in metadata.values()):
        raise CheckpointError(f"{_WHAT}: __metadata__ must map strings to strings")
    entries = {name: _parse_entry(name, info) for name, info in header.items()}
    data_size = size - 8 - n
    end = 0
    for name, (_dtype, _shape, begin, stop) in sorted(entries.items(), key=lambda kv: kv[1][2:]):
        if begin != end:
            raise CheckpointError(
                f"{_WHAT}: tensor {name!r} starts at byte {begin} of the data but the previous "
                f"tensor ends at {end} (gap or overlap)"
            )
        end = stop
    if end != data_size:
        raise CheckpointError(
            f"{_WHAT}: tensors cover {end} bytes but the data area holds {data_size} "
            "(truncated or trailing bytes)"
        )
    return entries, metadata, 8 + n


def _parse_entry(name: str, info) -> tuple[str, tuple, int, int]:
    if type(info) is not dict or set(info) != {"dtype", "shape", "data_offsets"}:
        raise CheckpointError(
            f"{_WHAT}: tensor {name!r} needs exactly dtype, shape and data_offsets, got {info!r}"
        )
    code = info["dtype"]
    if code in SAFETENSORS_UNSUPPORTED:
        raise CheckpointError(f"{_WHAT}: tensor {name!r} has dtype {code}, which ember lacks")
    if code not in SAFETENSORS:
        raise CheckpointError(
            f"{_WHAT}: tensor {name!r} has unknown dtype {code!r}; expected one of "
            f"{', '.join(SAFETENSORS)}"
        )
    shape, offsets = info["shape"], info["data_offsets"]
    if type(shape) is not list or any(type(s) is not int or s < 0 for s in shape):
        raise CheckpointError(f"{_WHAT}: tensor {name!r} has a bad shape {shape!r}")
    if (
        type(offsets) is not list
        or len(offsets) != 2
        or any(type(o) is not int or o < 0 for o in offsets)
        or offsets[0] > offsets[1]
    ):
        raise CheckpointError(f"{_WHAT}: tensor {name!r} has bad data_offsets {offsets!r}")
    dtype = SAFETENSORS[code]
    expected = math.prod(shape) * BY_NAME[dtype].itemsize
    if offsets[1] - offsets[0] != expected:
        raise CheckpointError(
            f"{_WHAT}: tensor {name!r} of shape {shape} and dtype {code} needs {expected} bytes "
            f"but data_offsets {offsets} give {offsets[1] - offsets[0]}"
        )
    return dtype, tuple(shape), offsets[0], offsets[1]


def _tensors(buffer, map_location="cpu") -> dict:
    if not isinstance(buffer, np.ndarray):
        buffer = np.frombuffer(buffer, np.uint8)
    entries, _metadata, start = _parse_header(buffer, len(buffer))
    out = {}
    for name, (dtype, shape, begin, _end) in entries.items():
        npdt = BY_NAME[dtype]
        at = start + begin
        count = math.prod(shape)
        a = np.frombuffer(buffer, npdt, count, at) if count else np.empty(0, npdt)
        if at % npdt.alignment:
            a = a.copy()  # keep every tensor aligned for the C kernels
        t = _bridge.make_tensor(a.reshape(shape))
        out[name] = _bridge.place(t, "cpu", map_location)
    return out


def load(data: bytes | bytearray) -> dict:
    """The tensors (name -> Tensor) encoded in safetensors bytes ``data``."""
    return _tensors(np.frombuffer(bytearray(data), np.uint8))


def load_file(filename: str | os.PathLike, device: str = "cpu") -> dict:
    """The tensors (name -> Tensor) in safetensors file ``filename``, on ``device``.

    The file is read once into one buffer; tensors are views into it (no copy).
    """
    with open(filename, "rb") as f:
        return _tensors(read_all(f), device)


def load_metadata(filename: str | os.PathLike) -> dict[str, str]:
    """The ``__metadata__`` map of safetensors file ``filename`` (empty if none)."""
    with open(filename, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(8)
        n = int.from_bytes(head, "little") if len(head) == 8 else 0
        head += f.read(min(n, _HEADER_LIMIT))
    return _parse_header(head, size)[1]


def read_all(f) -> np.ndarray:
    """The rest of binary file ``f`` as one writable 1-D uint8 array."""
    try:
        size = os.fstat(f.fileno()).st_size - f.tell()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return np.frombuffer(bytearray(f.read()), np.uint8)
    buf = np.empty(max(size, 0), np.uint8)
    got = _zip.readinto_exact(f, buf)[0]
    return buf[:got]
