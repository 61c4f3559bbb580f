"""PyTorch's legacy checkpoint format (``torch.save`` before 1.6, or with
``_use_new_zipfile_serialization=False``).

The file is a run of pickles followed by raw storages:

1. the magic number ``0x1950a86a20f9469cfc6c``;
2. the protocol version ``1001``;
3. ``sys_info``: ``{"protocol_version", "little_endian", "type_sizes"}``;
4. the object, with storages as persistent ids
   ``("storage", storage_type, root_key, location, numel, view_metadata)``;
5. the sorted list of storage keys;

then, per key in that order, an 8-byte little-endian element count and the
storage's elements (PyTorch writes them little-endian on every machine).
"""

from __future__ import annotations

import numpy as np

from ._dtypes import BY_NAME
from ._errors import CheckpointError, UnpicklingError
from ._pickle_vm import RestrictedUnpickler
from ._torch_pickle import Storage, TorchUnpickler
from ._views import swap_to_native

__all__ = ["MAGIC_NUMBER", "read"]

MAGIC_NUMBER = 0x1950A86A20F9469CFC6C
PROTOCOL_VERSION = 1001
_WHAT = "PyTorch legacy checkpoint"


def _plain(data: np.ndarray, pos: int, what: str):
    # The header pickles hold plain data only: no globals, no persistent ids.
    return RestrictedUnpickler(data, pos, what=f"{_WHAT} {what}").load()


def read(data: np.ndarray, map_location):
    """Load the object in legacy checkpoint ``data`` (the whole file, 1-D uint8)."""
    try:
        magic, pos = _plain(data, 0, "magic number")
    except UnpicklingError as exc:
        raise CheckpointError(f"not a PyTorch legacy checkpoint: {exc}") from None
    if magic != MAGIC_NUMBER:
        raise CheckpointError(f"not a PyTorch legacy checkpoint: bad magic number {magic!r}")
    version, pos = _plain(data, pos, "protocol version")
    if version != PROTOCOL_VERSION:
        raise CheckpointError(f"{_WHAT}: protocol version {version!r}, expected 1001")
    sys_info, pos = _plain(data, pos, "sys_info")
    if type(sys_info) is not dict or type(sys_info.get("little_endian")) is not bool:
        raise CheckpointError(f"{_WHAT}: malformed sys_info record {sys_info!r}")

    specs: dict[str, tuple[str, int]] = {}  # root key -> (dtype, numel)

    def check(fields) -> None:
        stype, key, _location, numel, _view = fields
        if specs.setdefault(key, (stype.dtype, numel)) != (stype.dtype, numel):
            raise CheckpointError(f"{_WHAT}: storage {key!r} is described two ways")

    storages: dict[str, np.ndarray] = {}
    views: dict[str, Storage] = {}

    def load(fields) -> Storage:
        stype, key, location, _numel, view = fields
        if view is None:
            return Storage(storages[key], stype.dtype, location)
        view_key, offset, size = view
        s = views.get(view_key)
        if s is None:
            item = BY_NAME[stype.dtype].itemsize
            root = storages[key]
            if (offset + size) * item > root.nbytes:
                raise CheckpointError(
                    f"{_WHAT}: storage view {view_key!r} [{offset}, {offset + size}) lies "
                    f"outside storage {key!r} of {root.nbytes // item} elements"
                )
            s = views[view_key] = Storage(
                root[offset * item : (offset + size) * item], stype.dtype, location
            )
        return s

    unpickler = TorchUnpickler(
        data,
        pos,
        what=f"{_WHAT} object pickle",
        load_storage=load,
        check_storage=check,
        map_location=map_location,
    )
    pos = unpickler.check()
    keys, pos = _plain(data, pos, "storage key list")
    if type(keys) is not list or any(type(k) is not str for k in keys):
        raise CheckpointError(f"{_WHAT}: the storage key list is malformed")
    if set(keys) != set(specs):
        raise CheckpointError(
            f"{_WHAT}: storage keys {sorted(set(keys) ^ set(specs))} are listed but not "
            "used, or used but not stored"
        )
    for key in keys:
        dtype, numel = specs[key]
        if pos + 8 > len(data):
            raise CheckpointError(f"{_WHAT}: truncated before storage {key!r}")
        count = int.from_bytes(bytes(data[pos : pos + 8]), "little", signed=True)
        if count != numel:
            raise CheckpointError(
                f"{_WHAT}: storage {key!r} records {count} elements, its tensors say {numel}"
            )
        nbytes = numel * BY_NAME[dtype].itemsize
        start, pos = pos + 8, pos + 8 + nbytes
        if pos > len(data):
            raise CheckpointError(
                f"{_WHAT}: truncated: storage {key!r} needs {nbytes} bytes, "
                f"{max(len(data) - start, 0)} remain"
            )
        storages[key] = data[start:pos]
        swap_to_native(storages[key], dtype, True)
    return unpickler.load()[0]
