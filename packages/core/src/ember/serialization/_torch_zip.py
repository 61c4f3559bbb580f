"""PyTorch's zip checkpoint format (``torch.save`` since 1.6).

Layout: ``<prefix>/data.pkl`` (the object pickle, tensors as rebuild calls over
persistent storage ids), ``<prefix>/data/<key>`` (each storage's raw bytes),
``<prefix>/byteorder`` (``little`` or ``big``; absent means little), plus
version records ember does not need. ``<prefix>`` is ``archive`` in current
PyTorch and the file's stem in older ones.
"""

from __future__ import annotations

import zipfile
from typing import BinaryIO

from . import _zip
from ._dtypes import BY_NAME
from ._errors import CheckpointError
from ._torch_pickle import Storage, TorchUnpickler
from ._views import swap_to_native

__all__ = ["is_torch_zip", "read"]

_WHAT = "PyTorch checkpoint"


def _prefix(zf: zipfile.ZipFile) -> str | None:
    pkls = [n for n in zf.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    return pkls[0][: -len("data.pkl")] if len(pkls) == 1 else None


def is_torch_zip(zf: zipfile.ZipFile) -> bool:
    """True when ``zf`` looks like a ``torch.save`` zip archive."""
    return _prefix(zf) is not None


def read(zf: zipfile.ZipFile, f: BinaryIO, map_location):
    """Load the object in PyTorch zip checkpoint ``zf`` (opened on ``f``)."""
    prefix = _prefix(zf)
    if prefix is None:
        raise CheckpointError(f"{_WHAT}: expected exactly one '<name>/data.pkl' entry")
    if prefix + "constants.pkl" in zf.namelist():
        raise CheckpointError(
            f"{_WHAT}: this is a TorchScript archive (torch.jit.save); ember loads only "
            "torch.save checkpoints, which hold data, not code"
        )
    little = True
    if prefix + "byteorder" in zf.namelist():
        order = _zip.read_small(zf, prefix + "byteorder", _WHAT)
        if order not in (b"little", b"big"):
            raise CheckpointError(f"{_WHAT}: unknown byteorder record {order[:20]!r}")
        little = order == b"little"
    data = _zip.read_small(zf, prefix + "data.pkl", _WHAT)
    names = set(zf.namelist())
    seen: dict[str, str] = {}  # key -> dtype, checked before any storage is read
    loaded: dict[str, Storage] = {}

    def entry(key: str) -> str:
        name = f"{prefix}data/{key}"
        if not key or "/" in key or name not in names:
            raise CheckpointError(f"{_WHAT}: storage {key!r} has no zip entry {name!r}")
        return name

    def check(fields) -> None:
        stype, key, _location, numel, view = fields
        if view is not None:
            raise CheckpointError(f"{_WHAT}: storage views do not exist in the zip format")
        entry(key)
        if seen.setdefault(key, stype.dtype) != stype.dtype:
            raise CheckpointError(f"{_WHAT}: storage {key!r} is referenced with two dtypes")

    def load(fields) -> Storage:
        stype, key, location, numel, _view = fields
        s = loaded.get(key)
        if s is None:
            raw = _zip.read_buffer(zf, f, entry(key), _WHAT)
            expected = numel * BY_NAME[stype.dtype].itemsize
            if len(raw) != expected:
                raise CheckpointError(
                    f"{_WHAT}: storage {key!r} holds {len(raw)} bytes but {numel} "
                    f"{stype.dtype} elements need {expected}"
                )
            swap_to_native(raw, stype.dtype, little)
            s = loaded[key] = Storage(raw, stype.dtype, location)
        return s

    unpickler = TorchUnpickler(
        data,
        0,
        what=f"{_WHAT} {prefix}data.pkl",
        load_storage=load,
        check_storage=check,
        map_location=map_location,
    )
    return unpickler.load()[0]
