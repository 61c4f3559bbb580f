"""ember's own checkpoint format.

A zip archive (entries stored, not compressed) holding two entries:

``manifest.json``
    ``{"format": "ember", "version": 1, "byteorder": "little",
    "storages": [{"offset": o, "nbytes": n}, ...],
    "tensors": [{"storage": s, "dtype": "float32", "shape": [...],
    "strides": [...], "offset": e, "device": "cpu", "requires_grad": false}, ...],
    "object": <value>}``; strides and offsets count elements, as in PyTorch.
    A value is ``null``/``true``/``false``/an integer/a finite float/a string, or
    an object ``{"type": T, ...}`` with T one of ``list``, ``tuple``, ``size``
    (``items``), ``dict``, ``ordered_dict`` (``items``: ``[key, value]`` pairs),
    ``float`` (``value``: ``"nan"``, ``"inf"``, ``"-inf"``), ``bytes``
    (``base64``) or ``tensor`` (``index`` into ``tensors``).
``data.bin``
    The storages' raw little-endian bytes, each starting at a multiple of 64.

Tensors whose memory overlaps (views of one array, or one tensor saved twice)
share one storage and come back sharing memory; any other tensor is saved as
a contiguous copy of just its elements.
"""

from __future__ import annotations

import base64
import collections
import ctypes
import json
import math
import sys
import zipfile
from typing import BinaryIO

import numpy as np

from . import _bridge, _zip
from ._dtypes import BY_NAME, name_of
from ._errors import CheckpointError
from ._views import check_ints, contiguous_strides, strided_view

__all__ = ["plan", "write", "read", "MANIFEST", "DATA"]

MANIFEST, DATA = "manifest.json", "data.bin"
VERSION = 1
_ALIGN = 64
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed entry timestamps: equal inputs give equal files
_WHAT = "ember checkpoint"


class _Plan:
    """Everything a write needs, computed before any byte is written."""

    def __init__(self) -> None:
        self.tensor_ids: dict[int, int] = {}  # id(tensor) -> index, so a repeat is stored once
        self.tensors: list = []  # keep the objects alive: ids must stay unique while planning
        self.entries: list[dict] = []
        self.storages: list[np.ndarray] = []  # 1-D uint8 views of the bytes to write
        self.root = None


def plan(obj) -> _Plan:
    """Encode ``obj`` into a manifest and a list of buffers; TypeError or ValueError
    (naming the path inside ``obj``) if it holds something ember cannot save."""
    p = _Plan()
    try:
        p.root = _encode(obj, "obj", p, set())
    except RecursionError:
        raise ValueError("cannot save: the object is nested too deeply") from None
    _layout_storages(p)
    return p


def _encode(obj, path: str, p: _Plan, active: set[int]):
    t = type(obj)
    if obj is None or t is bool or t is int or t is str:
        return obj
    if t is float:
        if math.isfinite(obj):
            return obj
        return {"type": "float", "value": "nan" if obj != obj else ("inf" if obj > 0 else "-inf")}
    if t is bytes:
        return {"type": "bytes", "base64": base64.b64encode(obj).decode("ascii")}
    if _bridge.is_tensor(obj):
        index = p.tensor_ids.get(id(obj))
        if index is None:
            index = p.tensor_ids[id(obj)] = len(p.tensors)
            p.tensors.append(obj)
        return {"type": "tensor", "index": index}
    kind = _CONTAINERS.get(t) or ("size" if isinstance(obj, tuple) and _is_size(obj) else None)
    if kind is None:
        raise TypeError(
            f"ember.save cannot store {path} of type {t.__module__}.{t.__qualname__}; it "
            "stores tensors, dict/OrderedDict (str, int, float, bool or None keys), list, "
            "tuple, str, bytes, int, float, bool and None"
        )
    if id(obj) in active:
        raise ValueError(f"ember.save cannot store {path}: it contains itself")
    active.add(id(obj))
    if kind in ("dict", "ordered_dict"):
        items = []
        for k, v in obj.items():
            if not (k is None or type(k) in (str, int, bool, float)):
                raise TypeError(
                    f"ember.save cannot store {path}: key {k!r} of type {type(k).__name__} "
                    "(keys must be str, int, float, bool or None)"
                )
            items.append([_encode(k, path, p, active), _encode(v, f"{path}[{k!r}]", p, active)])
    else:
        items = [_encode(v, f"{path}[{i}]", p, active) for i, v in enumerate(obj)]
    active.discard(id(obj))
    return {"type": kind, "items": items}


_CONTAINERS = {list: "list", tuple: "tuple", dict: "dict", collections.OrderedDict: "ordered_dict"}


def _is_size(obj) -> bool:
    from ember._tensor import Size

    return type(obj) is Size


def _ptr(a: np.ndarray) -> int:
    """The address of element ``[0, ..., 0]``."""
    return a.__array_interface__["data"][0]


def _bounds(a: np.ndarray) -> tuple[int, int]:
    """The byte range ``[low, high)`` that array ``a`` touches."""
    low = high = _ptr(a)
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            low += s * (n - 1)
        else:
            high += s * (n - 1)
    return low, high + a.itemsize


def _raw(low: int, high: int) -> np.ndarray:
    # The bytes [low, high) lie inside live arrays' allocation (see _layout_storages).
    return np.ctypeslib.as_array((ctypes.c_uint8 * (high - low)).from_address(low))


def _layout_storages(p: _Plan) -> None:
    """Group tensors whose bytes overlap into shared storages; give each other
    tensor a contiguous storage of its own."""
    arrays, shareable = [], []
    for i, t in enumerate(p.tensors):
        a = _bridge.host_array(t)
        name = name_of(a.dtype)
        little = a.dtype.byteorder == "<" or (a.dtype.isnative and sys.byteorder == "little")
        arrays.append((a, name))
        p.entries.append(
            {
                "storage": -1,
                "dtype": name,
                "shape": list(a.shape),
                "device": _bridge.device_of(t),
                "requires_grad": bool(t.requires_grad),
            }
        )
        if little and a.size and type(a) is np.ndarray and _bridge.device_of(t) == "cpu":
            shareable.append((*_bounds(a), i))
    # Intervals that overlap belong to one allocation; merge them transitively.
    groups: list[list] = []
    for low, high, i in sorted(shareable):
        if groups and low < groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], high)
            groups[-1][2].append(i)
        else:
            groups.append([low, high, [i]])
    for low, high, members in groups:
        if len(members) > 1 and _aligned(arrays, members, low):
            s = len(p.storages)
            p.storages.append(_raw(low, high))
            for i in members:
                a = arrays[i][0]
                p.entries[i].update(
                    storage=s,
                    offset=(_ptr(a) - low) // a.itemsize,
                    strides=[st // a.itemsize for st in a.strides],
                )
    for i, (a, name) in enumerate(arrays):
        if p.entries[i]["storage"] == -1:
            c = np.asarray(a, BY_NAME[name], order="C")
            p.entries[i].update(
                storage=len(p.storages), offset=0, strides=list(contiguous_strides(a.shape))
            )
            p.storages.append(c.reshape(-1).view(np.uint8))


def _aligned(arrays, members, low: int) -> bool:
    # Element offsets and strides must be whole elements of each tensor's dtype.
    for i in members:
        a = arrays[i][0]
        if (_ptr(a) - low) % a.itemsize or any(s % a.itemsize for s in a.strides):
            return False
    return True


def write(p: _Plan, f: BinaryIO) -> None:
    """Write planned checkpoint ``p`` to binary file ``f``."""
    offsets, total = [], 0
    for buf in p.storages:
        total = -(-total // _ALIGN) * _ALIGN
        offsets.append(total)
        total += buf.nbytes
    manifest = {
        "format": "ember",
        "version": VERSION,
        "byteorder": "little",
        "storages": [{"offset": o, "nbytes": b.nbytes} for o, b in zip(offsets, p.storages)],
        "tensors": p.entries,
        "object": p.root,
    }
    text = json.dumps(manifest, allow_nan=False, separators=(",", ":")).encode("utf-8")
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        zf.writestr(zipfile.ZipInfo(MANIFEST, _EPOCH), text)
        info = zipfile.ZipInfo(DATA, _EPOCH)
        info.file_size = total
        with zf.open(info, "w", force_zip64=total >= zipfile.ZIP64_LIMIT) as out:
            written = 0
            for o, buf in zip(offsets, p.storages):
                out.write(bytes(o - written))
                out.write(buf)
                written = o + buf.nbytes


def read(zf: zipfile.ZipFile, f: BinaryIO, map_location):
    """Load the object stored in ember-format archive ``zf`` (opened on ``f``)."""
    manifest = _parse_manifest(_zip.read_small(zf, MANIFEST, _WHAT))
    data = _zip.read_buffer(zf, f, DATA, _WHAT)
    storages = []
    for i, s in enumerate(_field(manifest, "storages", list)):
        off = _field(s, "offset", int, f"storage {i}")
        n = _field(s, "nbytes", int, f"storage {i}")
        if off < 0 or n < 0 or off + n > data.nbytes:
            raise CheckpointError(
                f"{_WHAT}: storage {i} spans bytes [{off}, {off + n}) but {DATA} holds "
                f"{data.nbytes} bytes (file truncated or tampered)"
            )
        storages.append(data[off : off + n])
    tensors = []
    for i, e in enumerate(_field(manifest, "tensors", list)):
        what = f"{_WHAT}: tensor {i}"
        s = _field(e, "storage", int, what)
        if not 0 <= s < len(storages):
            raise CheckpointError(f"{what} refers to storage {s}; the file has {len(storages)}")
        a = strided_view(
            storages[s], e.get("dtype"), e.get("shape"), e.get("strides"), e.get("offset"), what
        )
        device = _field(e, "device", str, what)
        t = _bridge.make_tensor(a, _field(e, "requires_grad", bool, what))
        tensors.append((t, device))
    placed = [_bridge.place(t, device, map_location) for t, device in tensors]
    try:
        return _decode(manifest.get("object"), placed)
    except RecursionError:
        raise CheckpointError(f"{_WHAT}: the object is nested too deeply") from None


def _parse_manifest(raw: bytes) -> dict:
    def no_duplicates(pairs):
        d = dict(pairs)
        if len(d) != len(pairs):
            raise CheckpointError("duplicate key in a JSON object")
        return d

    def no_constant(name):
        raise CheckpointError(f"non-standard JSON constant {name}")

    try:
        m = json.loads(
            raw.decode("utf-8"), object_pairs_hook=no_duplicates, parse_constant=no_constant
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{_WHAT}: {MANIFEST} is not valid JSON ({exc})") from None
    if not isinstance(m, dict) or m.get("format") != "ember":
        raise CheckpointError(f"{_WHAT}: {MANIFEST} does not describe an ember checkpoint")
    if m.get("version") != VERSION:
        raise CheckpointError(
            f"{_WHAT}: format version {m.get('version')!r} is not supported (this ember "
            f"reads version {VERSION}); upgrade ember"
        )
    if m.get("byteorder") != "little":
        raise CheckpointError(f"{_WHAT}: byteorder must be 'little', got {m.get('byteorder')!r}")
    return m


def _field(d, key: str, typ: type, what: str = _WHAT):
    if not isinstance(d, dict):
        raise CheckpointError(f"{what}: expected a JSON object, got {d!r}")
    v = d.get(key)
    if type(v) is not typ:
        raise CheckpointError(f"{what}: field {key!r} must be {typ.__name__}, got {v!r}")
    return v


_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_KEYS = {
    "list": {"type", "items"},
    "tuple": {"type", "items"},
    "size": {"type", "items"},
    "dict": {"type", "items"},
    "ordered_dict": {"type", "items"},
    "float": {"type", "value"},
    "bytes": {"type", "base64"},
    "tensor": {"type", "index"},
}


def _decode(node, tensors: list):
    t = type(node)
    if node is None or t in (bool, int, float, str):
        return node
    kind = node.get("type") if t is dict else None
    if kind not in _KEYS or set(node) != _KEYS[kind]:
        raise CheckpointError(f"{_WHAT}: malformed value {json.dumps(node)[:200]} in {MANIFEST}")
    if kind == "tensor":
        i = node["index"]
        if type(i) is not int or not 0 <= i < len(tensors):
            raise CheckpointError(
                f"{_WHAT}: tensor index {i!r} out of range ({len(tensors)} tensors)"
            )
        return tensors[i]
    if kind == "float":
        if node["value"] not in _NONFINITE:
            raise CheckpointError(f"{_WHAT}: bad float value {node['value']!r}")
        return _NONFINITE[node["value"]]
    if kind == "bytes":
        try:
            return base64.b64decode(node["base64"], validate=True)
        except (TypeError, ValueError) as exc:
            raise CheckpointError(f"{_WHAT}: bad base64 bytes value ({exc})") from None
    items = node["items"]
    if type(items) is not list:
        raise CheckpointError(f"{_WHAT}: {kind} items must be a JSON array")
    if kind in ("dict", "ordered_dict"):
        out = {} if kind == "dict" else collections.OrderedDict()
        for pair in items:
            if type(pair) is not list or len(pair) != 2:
                raise CheckpointError(f"{_WHAT}: dict item {pair!r} is not a [key, value] pair")
            key = _decode(pair[0], tensors)
            if not (key is None or type(key) in (str, int, bool, float)):
                raise CheckpointError(f"{_WHAT}: dict key {pair[0]!r} is not a scalar")
            out[key] = _decode(pair[1], tensors)
        return out
    values = [_decode(v, tensors) for v in items]
    if kind == "list":
        return values
    if kind == "size":
        from ember._tensor import Size

        return Size(check_ints(values, f"{_WHAT}: size", minimum=0))
    return tuple(values)
