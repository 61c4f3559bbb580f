"""Moving batches from worker processes to the main process through shared memory.

A worker stacks each array of a batch straight into its own POSIX shared-memory
segment and sends only ``(name, dtype, shape)`` through a pipe. The main process
maps the segment, wraps it as an array (zero-copy) and unlinks the name at once:
the mapping lives on, owned by the array (``ndarray.base`` is the ``mmap``), and
the memory returns to the system when the last tensor viewing it is freed.
Nothing is left in ``/dev/shm`` once a batch has been received.

``_posixshmem`` is the module ``multiprocessing.shared_memory`` itself uses. We
call it directly because on Python < 3.13 ``SharedMemory`` registers every
segment it opens, created or attached, with the resource tracker, which would
then unlink or warn about segments whose lifetime this module already manages
(3.13's ``track=False`` is the public spelling of what is done here).
"""

from __future__ import annotations

import mmap
import os
import secrets
from typing import Any

import numpy as np

from ._tensor import is_tensor, to_numpy, wrap

try:
    import _posixshmem
except ImportError:  # pragma: no cover - Windows
    _posixshmem = None

_SHM_DIR = "/dev/shm"
# Pre-faulting the pages in one call is cheaper than taking a fault per page
# when the batch is first written (worker) or read (main process).
_MAP_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)


def available() -> bool:
    """Whether this platform has POSIX shared memory."""
    return _posixshmem is not None


def new_prefix(worker_id: int, token: str) -> str:
    """Segment name prefix for one worker of one loader iterator (no leading slash)."""
    return f"em{os.getpid()}_{token}_{worker_id}_"


def new_token() -> str:
    """A random token that keeps concurrent loaders' segment names apart."""
    return secrets.token_hex(3)


class ShmRef:
    """A leaf of a packed batch: the array lives in shared-memory segment ``name``."""

    __slots__ = ("name", "dtype", "shape", "tensor")

    def __init__(self, name: str, dtype: np.dtype, shape: tuple, tensor: bool) -> None:
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.tensor = tensor

    def __reduce__(self) -> tuple:
        return (ShmRef, (self.name, self.dtype, self.shape, self.tensor))


class Inline:
    """A leaf of a packed batch too small (empty) for a segment: the array is pickled."""

    __slots__ = ("array", "tensor")

    def __init__(self, array: np.ndarray, tensor: bool) -> None:
        self.array = array
        self.tensor = tensor

    def __reduce__(self) -> tuple:
        return (Inline, (self.array, self.tensor))


def _create(name: str, nbytes: int) -> mmap.mmap:
    fd = _posixshmem.shm_open("/" + name, os.O_CREAT | os.O_EXCL | os.O_RDWR, mode=0o600)
    try:
        os.ftruncate(fd, nbytes)
        return mmap.mmap(fd, nbytes, flags=_MAP_FLAGS)
    except BaseException:
        _posixshmem.shm_unlink("/" + name)
        raise
    finally:
        os.close(fd)


def unlink(name: str) -> bool:
    """Remove segment ``name``; False if it was already gone."""
    try:
        _posixshmem.shm_unlink("/" + name)
        return True
    except FileNotFoundError:
        return False


def sweep(prefix: str) -> list[str]:
    """Unlink every segment whose name starts with ``prefix``; returns their names.

    Used at shutdown for segments a worker created but never handed over (a
    killed worker, results still in flight). Linux lists segments in /dev/shm;
    elsewhere the names sent by workers are drained instead.
    """
    try:
        names = [n for n in os.listdir(_SHM_DIR) if n.startswith(prefix)]
    except OSError:
        return []
    return [n for n in names if unlink(n)]


class Writer:
    """Worker side: allocates batch arrays in shared memory and packs batches."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._seq = 0
        # id(mmap) -> (segment name, mmap) for the current batch; holding the
        # mmap keeps its id from being reused by another object meanwhile.
        self._made: dict[int, tuple[str, mmap.mmap]] = {}

    def allocate(self, shape: tuple[int, ...], dtype: Any) -> np.ndarray:
        """An uninitialized array of ``shape`` and ``dtype`` in a fresh segment."""
        dtype = np.dtype(dtype)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if nbytes == 0 or dtype.hasobject:
            return np.empty(shape, dtype)
        name = f"{self.prefix}{self._seq}"
        self._seq += 1
        mm = _create(name, nbytes)
        self._made[id(mm)] = (name, mm)
        return np.ndarray(shape, dtype, buffer=mm)

    def _leaf(self, a: np.ndarray, tensor: bool) -> Any:
        base = a.base
        made = self._made.get(id(base))
        if (
            made is None
            or made[1] is not base
            or not a.flags.c_contiguous
            or (a.nbytes != len(base))
        ):
            if a.size == 0 or a.dtype.hasobject:
                return Inline(a, tensor)
            out = self.allocate(a.shape, a.dtype)
            out[...] = a
            made = self._made[id(out.base)]
        return ShmRef(made[0], a.dtype, a.shape, tensor)

    def pack(self, obj: Any) -> Any:
        """``obj`` with every tensor and numeric array replaced by a :class:`ShmRef`."""
        if is_tensor(obj):
            return self._leaf(to_numpy(obj), True)
        if isinstance(obj, np.ndarray):
            return obj if obj.dtype.hasobject else self._leaf(obj, False)
        if isinstance(obj, list):
            return [self.pack(x) for x in obj]
        if isinstance(obj, tuple):
            items = [self.pack(x) for x in obj]
            return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
        if isinstance(obj, dict):
            packed = {k: self.pack(v) for k, v in obj.items()}
            return _same_mapping(obj, packed)
        return obj

    def sent(self) -> None:
        """The packed batch is in the main process's hands: stop tracking its segments."""
        self._made.clear()

    def discard(self) -> None:
        """Unlink the segments of a batch that will never be sent (it failed midway)."""
        for name, _mm in self._made.values():
            unlink(name)
        self._made.clear()


def _same_mapping(like: dict, items: dict) -> dict:
    if type(like) is dict:
        return items
    try:
        return type(like)(items)
    except TypeError:
        return items


def _attach(ref: ShmRef) -> Any:
    nbytes = int(np.prod(ref.shape, dtype=np.int64)) * ref.dtype.itemsize
    name = "/" + ref.name
    try:
        fd = _posixshmem.shm_open(name, os.O_RDWR, mode=0o600)
    except FileNotFoundError:
        raise RuntimeError(
            f"DataLoader: shared-memory segment {name} of a batch vanished before it was read"
        ) from None
    try:
        mm = mmap.mmap(fd, nbytes, flags=_MAP_FLAGS)
    finally:
        os.close(fd)
        # The mapping outlives the name: unlinking now means no segment can leak
        # however the program ends from here on.
        _posixshmem.shm_unlink(name)
    a = np.ndarray(ref.shape, ref.dtype, buffer=mm)
    return wrap(a) if ref.tensor else a


def unpack(obj: Any) -> Any:
    """Main-process side of :meth:`Writer.pack`: map every segment and unlink it."""
    if isinstance(obj, ShmRef):
        return _attach(obj)
    if isinstance(obj, Inline):
        return wrap(obj.array) if obj.tensor else obj.array
    if isinstance(obj, list):
        return [unpack(x) for x in obj]
    if isinstance(obj, tuple):
        items = [unpack(x) for x in obj]
        return type(obj)(*items) if hasattr(obj, "_fields") else tuple(items)
    if isinstance(obj, dict):
        return _same_mapping(obj, {k: unpack(v) for k, v in obj.items()})
    return obj


def release(obj: Any) -> None:
    """Unlink the segments of a packed batch that will not be used (shutdown, stale epoch)."""
    if isinstance(obj, ShmRef):
        unlink(obj.name)
    elif isinstance(obj, list | tuple):
        for x in obj:
            release(x)
    elif isinstance(obj, dict):
        for x in obj.values():
            release(x)
