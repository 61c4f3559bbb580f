"""``ember.save`` and ``ember.load``: checkpoints that never execute code.

``save`` writes ember's own format (see :mod:`._ember_format`): a stored zip with
a JSON manifest and raw little-endian tensor bytes, written atomically.
``load`` reads that format, safetensors files, and PyTorch checkpoints in both
the zip format and the pre-1.6 legacy format. PyTorch's pickles go through a
restricted interpreter (:mod:`._pickle_vm`, :mod:`._torch_pickle`) that can build
only tensors and plain containers; anything else is refused with
:class:`UnpicklingError` before anything runs.
"""

from __future__ import annotations

import contextlib
import io
import os
from typing import Any, BinaryIO

from . import _atomic, _ember_format, _torch_legacy, _torch_zip, _zip, safetensors
from ._errors import CheckpointError, UnpicklingError

__all__ = ["save", "load", "UnpicklingError", "CheckpointError", "safetensors"]

_ZIP_MAGIC = b"PK\x03\x04"


def save(obj: Any, f: str | os.PathLike | BinaryIO) -> None:
    """Save ``obj`` to ``f`` (a path or a writable binary file) in ember's format.

    ``obj`` may nest dicts and OrderedDicts (str, int, float, bool or None keys),
    lists, tuples, None, bool, int, float, str, bytes and Tensors of any dtype and
    shape. Tensors that overlap in memory (views of one tensor, or one tensor
    saved twice) are stored once and load back sharing memory; any other tensor
    is stored as a contiguous copy of its elements. Writing to a path is atomic:
    the file either keeps its old content or gets the complete new one.

    Raises TypeError naming the offending value (e.g. ``obj['opt'][2]``) for
    anything else, before anything is written.
    """
    plan = _ember_format.plan(obj)
    if isinstance(f, (str, os.PathLike)):
        with _atomic.atomic_write(f) as out:
            _ember_format.write(plan, out)
    elif hasattr(f, "write"):
        _ember_format.write(plan, f)
    else:
        raise TypeError(f"save expects a path or a binary file object, got {type(f).__name__}")


def load(
    f: str | os.PathLike | BinaryIO,
    map_location=None,
    weights_only: bool = True,
) -> Any:
    """Load an object saved by :func:`save`, a ``.safetensors`` file, or a PyTorch
    checkpoint (``torch.save`` zip or legacy format), from a path or binary file.

    ``map_location``: ``None`` puts each tensor back on the device it was saved
    from; ``'cpu'``, ``'cuda:0'`` or an ``ember.device`` moves every tensor there;
    a dict maps saved locations to new ones (``{'cuda:0': 'cpu'}``); a callable
    ``fn(tensor, location)`` returns the tensor to use.

    ``weights_only`` is accepted for PyTorch compatibility; ember always loads as
    if it were True (only tensors and plain containers, never arbitrary objects),
    and ``False`` does not change that.

    Zip entries are CRC-checked as they are read (PyTorch skips this), so a
    corrupted file fails here rather than loading wrong weights.

    Raises :class:`CheckpointError` (a ValueError) for damaged, truncated or
    inconsistent files and :class:`UnpicklingError` for pickles that name anything
    outside the allowlist; either way nothing is executed and nothing is returned.
    """
    _check_map_location(map_location)
    if type(weights_only) is not bool:
        raise TypeError(f"weights_only must be a bool, got {weights_only!r}")
    with _opened(f) as fileobj:
        start = fileobj.tell()
        head = fileobj.read(8)
        if not isinstance(head, bytes):
            raise TypeError("load needs a file opened in binary mode ('rb')")
        fileobj.seek(start)
        if head[:4] == _ZIP_MAGIC:
            return _load_zip(fileobj, map_location)
        if head[:1] == b"\x80":
            return _torch_legacy.read(safetensors.read_all(fileobj), map_location)
        if len(head) == 8 and int.from_bytes(head, "little") > 0:
            data = safetensors.read_all(fileobj)
            if bytes(data[8:9]) == b"{":
                return safetensors._tensors(data, map_location)
        raise CheckpointError(
            f"unrecognized checkpoint format (first bytes {bytes(head)!r}): expected an ember "
            "or PyTorch zip archive, a PyTorch legacy pickle, or a safetensors file"
        )


def _load_zip(fileobj: BinaryIO, map_location):
    with _zip.open_zip(fileobj, "checkpoint") as zf:
        names = zf.namelist()
        if _ember_format.MANIFEST in names:
            return _ember_format.read(zf, fileobj, map_location)
        if _torch_zip.is_torch_zip(zf):
            return _torch_zip.read(zf, fileobj, map_location)
        raise CheckpointError(
            f"zip archive is neither an ember checkpoint ({_ember_format.MANIFEST!r} missing) "
            f"nor a PyTorch checkpoint (no '<name>/data.pkl'); entries: {names[:10]}"
        )


@contextlib.contextmanager
def _opened(f):
    if isinstance(f, (str, os.PathLike)):
        with open(f, "rb") as fileobj:
            yield fileobj
    elif hasattr(f, "read"):
        seekable = getattr(f, "seekable", None)
        yield f if seekable is not None and seekable() else io.BytesIO(f.read())
    else:
        raise TypeError(f"load expects a path or a binary file object, got {type(f).__name__}")


def _check_map_location(map_location) -> None:
    from ember._device import device

    if map_location is None or callable(map_location) and not isinstance(map_location, str):
        return
    targets = map_location.values() if isinstance(map_location, dict) else [map_location]
    for target in targets:
        if not isinstance(target, (str, device)):
            raise TypeError(
                "map_location must be None, a device string, an ember.device, a dict of "
                f"location -> device, or a callable; got {target!r}"
            )
        device(target)  # raises on a malformed device string, before the file is read
