"""Operation headers: what each rank is about to do, exchanged before the data.

Before a collective moves any data, the ranks all-gather a 16-number header
(operation, dtype, shape, root, reduce op). When the rows differ, every rank
sees the same table and raises the same error naming the ranks and what each
one passed, instead of exchanging mismatched buffers (garbage or a hang). The
exchange is one small all-gather: microseconds against the data transfer.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

__all__ = ["HEADER_LEN", "OPS", "describe", "dtype_name", "header", "mismatch"]

OPS = (
    "broadcast",
    "all_reduce",
    "reduce",
    "all_gather",
    "gather",
    "scatter",
    "reduce_scatter",
    "all_to_all",
    "barrier",
    "send",
    "all_gather_into_tensor",
    "reduce_scatter_tensor",
)
DTYPES = (
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "uint16",
    "uint32",
    "uint64",
)
_OP_CODE = {name: i for i, name in enumerate(OPS)}
_DTYPE_CODE = {name: i for i, name in enumerate(DTYPES)}
REDOPS = ("SUM", "PRODUCT", "MIN", "MAX", "AVG", "BAND", "BOR", "BXOR")
_MAX_DIMS = 8
HEADER_LEN = 16
# layout: op, dtype, root, redop, ndim, dims[0:8], numel, overflow hash, spare


# Built headers, by call signature: a training loop repeats a few signatures, and
# building one costs several microseconds (numpy computes ``dtype.name`` in Python),
# which is a few percent of a 1 MB all-reduce. Cleared when it grows past _CACHE_MAX.
_HEADERS: dict = {}
_NAMES: dict = {}
_CACHE_MAX = 4096


def dtype_name(dtype) -> str:
    """``np.dtype(dtype).name``, memoized (numpy recomputes it on every access)."""
    name = _NAMES.get(dtype)
    if name is None:
        name = np.dtype(dtype).name
        if len(_NAMES) < _CACHE_MAX:
            _NAMES[dtype] = name
    return name


def header(op: str, shape=(), dtype=None, root: int = -1, redop: str | None = None) -> np.ndarray:
    """The int64 header of one rank's call (read-only: it is shared between calls)."""
    if type(shape) is not tuple:
        shape = tuple(shape)
    key = (op, shape, dtype, root, redop)
    h = _HEADERS.get(key)
    if h is None:
        h = _build(op, shape, dtype, root, redop)
        h.flags.writeable = False
        if len(_HEADERS) >= _CACHE_MAX:
            _HEADERS.clear()
        _HEADERS[key] = h
    return h


def _build(op: str, shape: tuple, dtype, root: int, redop: str | None) -> np.ndarray:
    code = -1
    if dtype is not None:
        name = dtype_name(dtype)
        code = _DTYPE_CODE.get(name)
        if code is None:
            code = 100 + zlib.crc32(name.encode()) % 1000
    shape = tuple(int(s) for s in shape)
    dims = list(shape[:_MAX_DIMS]) + [-1] * (_MAX_DIMS - min(len(shape), _MAX_DIMS))
    # dims past the eighth still count: fold them into one number (same on every rank)
    extra = zlib.crc32(repr(shape[_MAX_DIMS:]).encode()) if len(shape) > _MAX_DIMS else 0
    redop_code = REDOPS.index(redop) if redop is not None else -1
    row = [_OP_CODE[op], code, root, redop_code, len(shape), *dims, math.prod(shape), extra, -1]
    return np.array(row, np.int64)


def describe(h: np.ndarray) -> str:
    """``op(shape (3, 4), float32, root 0, SUM)`` for one header row."""
    op = OPS[h[0]] if 0 <= h[0] < len(OPS) else f"op#{h[0]}"
    parts = []
    if h[4] >= 0 and h[1] >= 0:
        dims = [int(d) for d in h[5 : 5 + min(int(h[4]), _MAX_DIMS)]]
        more = ", ..." if h[4] > _MAX_DIMS else ""
        shape = "(" + ", ".join(map(str, dims)) + ("," if len(dims) == 1 else "") + more + ")"
        parts.append(f"shape {shape}")
        parts.append(DTYPES[h[1]] if h[1] < len(DTYPES) else "an unsupported dtype")
    if h[2] >= 0:
        parts.append(f"root {int(h[2])}")
    if h[3] >= 0:
        parts.append(REDOPS[h[3]])
    return f"{op}({', '.join(parts)})"


def mismatch(name: str, table: np.ndarray, ranks: list[int]) -> str | None:
    """None when every row of ``table`` agrees; else the error text naming the ranks
    (global ranks, from ``ranks``) and what each called."""
    if table.tobytes() == table[0].tobytes() * len(table):
        return None  # the usual case, in a fraction of numpy's elementwise compare
    same = table == table[0]
    if same.all():
        return None
    differ = np.nonzero(~same.all(axis=1))[0]
    fields = table[differ[0]] != table[0]
    what = "operations" if fields[0] else "arguments"
    if not fields[0] and (fields[4:15].any()):
        what = "tensor shapes" if not fields[1] else "tensor shapes or dtypes"
    elif not fields[0] and fields[1]:
        what = "dtypes"
    shown = [0, *[int(i) for i in differ[:7]]]
    lines = [f"  rank {ranks[i]}: {describe(table[i])}" for i in shown]
    more = f"\n  ... and {differ.size - 7} more ranks differ" if differ.size > 7 else ""
    return f"{name}: the ranks' {what} do not match:\n" + "\n".join(lines) + more
