"""Process groups: the default (world) group, subgroups, ranks and the reduce ops.

Processes are started by an MPI launcher (``python -m ember.distributed.run`` or
``mpiexec``); ``init_process_group`` connects to the job it was started in. Ranks
given to the API (``src``, ``dst``, ``new_group(ranks)``) are global ranks, as in
PyTorch; a group translates them to its own.
"""

from __future__ import annotations

import datetime
import enum

import numpy as np

from . import _config, _meta, backends

__all__ = [
    "ProcessGroup",
    "ReduceOp",
    "destroy_process_group",
    "get_backend",
    "get_rank",
    "get_world_size",
    "init_process_group",
    "is_available",
    "is_initialized",
    "is_mpi_available",
    "is_nccl_available",
    "new_group",
]


class ReduceOp(enum.Enum):
    """How ``all_reduce``/``reduce``/``reduce_scatter`` combine the ranks' values.

    AVG is SUM divided by the group size (floating-point tensors only); BAND, BOR
    and BXOR are bitwise, for integer and bool tensors.
    """

    SUM = "SUM"
    PRODUCT = "PRODUCT"
    MIN = "MIN"
    MAX = "MAX"
    AVG = "AVG"
    BAND = "BAND"
    BOR = "BOR"
    BXOR = "BXOR"


class ProcessGroup:
    """A set of processes that run collectives together.

    ``ranks`` are the members' global ranks in group-rank order; ``backend`` is the
    engine object (None on processes that are not members). ``check`` (default: True
    unless ``EMBER_DIST_CHECK=0``) makes collectives exchange headers first so that
    mismatched calls raise; set it False on every member to skip that round trip.
    """

    def __init__(self, backend, ranks: list[int], global_rank: int, timeout_s: float) -> None:
        self.backend = backend
        self.ranks = list(ranks)
        self.timeout_s = float(timeout_s)
        self._index = {g: i for i, g in enumerate(self.ranks)}
        self.group_rank = self._index.get(global_rank, -1)
        self.global_rank = global_rank
        self.check = _config.check_headers()  # exchange headers before each collective
        self._table = None

    def header_table(self):
        """The receive buffer of a synchronous call's header exchange (one in flight at a
        time per group; asynchronous calls allocate their own)."""
        if self._table is None:
            self._table = np.empty((self.size(), _meta.HEADER_LEN), np.int64)
        return self._table

    def rank(self) -> int:
        """This process's rank in the group (-1 when it is not a member)."""
        return self.group_rank

    def size(self) -> int:
        """The number of processes in the group."""
        return len(self.ranks)

    @property
    def backend_name(self) -> str:
        """``'mpi'`` or ``'nccl'``."""
        return _state.backend_name

    def to_group_rank(self, global_rank: int, what: str) -> int:
        """The group rank of ``global_rank``; ValueError when it is not a member."""
        if not isinstance(global_rank, int) or isinstance(global_rank, bool):
            raise TypeError(f"{what} must be an int rank, got {type(global_rank).__name__}")
        if global_rank not in self._index:
            raise ValueError(
                f"{what}={global_rank} is not a member of this group (global ranks {self.ranks})"
            )
        return self._index[global_rank]

    def to_global_rank(self, group_rank: int) -> int:
        """The global rank of the member with ``group_rank``."""
        return self.ranks[group_rank]

    def __repr__(self) -> str:
        return f"ProcessGroup(backend={self.backend_name!r}, ranks={self.ranks})"


class _State:
    """The process-wide state: the default group and every group made from it."""

    def __init__(self) -> None:
        self.world: ProcessGroup | None = None
        self.backend_name = ""
        self.groups: list[ProcessGroup] = []


_state = _State()


def _timeout_seconds(timeout) -> float:
    if timeout is None:
        return _config.default_timeout_s()
    if isinstance(timeout, datetime.timedelta):
        timeout = timeout.total_seconds()
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        raise ValueError(
            f"timeout must be a positive number of seconds or a datetime.timedelta, got {timeout!r}"
        )
    return float(timeout)


def is_available() -> bool:
    """True: ember.distributed is part of this installation."""
    return True


def is_mpi_available() -> bool:
    """True when the MPI backend can start (mpi4py and an MPI library are installed)."""
    from .backends import mpi

    return mpi.available()


def is_nccl_available() -> bool:
    """True when CuPy with NCCL support imports and a CUDA device is visible."""
    from .backends import nccl

    return nccl.available()


def is_initialized() -> bool:
    """True between ``init_process_group`` and ``destroy_process_group``."""
    return _state.world is not None


def init_process_group(
    backend: str | None = None,
    init_method: str | None = None,
    timeout: float | datetime.timedelta | None = None,
    world_size: int = -1,
    rank: int = -1,
    **_unused,
) -> None:
    """Join the job this process was launched in and create the default group.

    ``backend`` is ``'mpi'`` (CPU tensors; the default) or ``'nccl'`` (CUDA tensors,
    through CuPy; rank ``r`` uses CUDA device ``r % device_count``). The launcher
    (``python -m ember.distributed.run`` or ``mpiexec``) decides ranks and size;
    ``world_size``/``rank``, when given, are checked against it. ``timeout`` (seconds
    or a timedelta; default ``EMBER_DIST_TIMEOUT`` or 30 minutes) bounds every
    operation: one that does not complete in time raises ``DistTimeoutError``.
    ``init_method`` may be None or ``'env://'`` (MPI does its own rendezvous).
    """
    if _state.world is not None:
        raise RuntimeError("trying to initialize the default process group twice")
    name = (backend or "mpi").lower()
    if name not in backends.BACKENDS:
        raise ValueError(
            f"unknown backend {backend!r}: expected one of {', '.join(backends.BACKENDS)}"
        )
    if init_method not in (None, "env://"):
        raise ValueError(
            f"init_method {init_method!r} is not supported: processes find each other through "
            "the MPI launcher (python -m ember.distributed.run -n N script.py)"
        )
    timeout_s = _timeout_seconds(timeout)
    engine, my_rank, size = backends.load(name).world()
    if world_size not in (-1, None) and world_size != size:
        raise ValueError(f"world_size={world_size} but the launcher started {size} processes")
    if rank not in (-1, None) and rank != my_rank:
        raise ValueError(f"rank={rank} but the launcher gave this process rank {my_rank}")
    _state.backend_name = name
    _state.world = ProcessGroup(engine, list(range(size)), my_rank, timeout_s)
    _state.groups = [_state.world]


def _world() -> ProcessGroup:
    if _state.world is None:
        raise RuntimeError(
            "the default process group has not been initialized: call "
            "ember.distributed.init_process_group() first"
        )
    return _state.world


def _resolve(group: ProcessGroup | None) -> ProcessGroup:
    """``group`` or the default group, checked to be usable."""
    world = _world()
    if group is None:
        return world
    if not isinstance(group, ProcessGroup):
        raise TypeError(f"group must be a ProcessGroup or None, got {type(group).__name__}")
    if group not in _state.groups:
        raise RuntimeError("this process group was destroyed")
    return group


def new_group(
    ranks: list[int] | None = None,
    timeout: float | datetime.timedelta | None = None,
    backend: str | None = None,
    **_unused,
) -> ProcessGroup:
    """A group of the given global ``ranks`` (all ranks when None).

    Every process of the default group must call it, members or not, with the same
    ranks. Processes outside the group get a group whose ``rank()`` is -1; using it
    for an operation raises.
    """
    world = _world()
    if backend is not None and backend.lower() != _state.backend_name:
        raise ValueError(
            f"new_group(backend={backend!r}): groups use the default group's backend "
            f"({_state.backend_name!r})"
        )
    size = world.size()
    members = list(range(size)) if ranks is None else sorted(set(ranks))
    for r in members:
        if not isinstance(r, int) or not 0 <= r < size:
            raise ValueError(f"new_group: rank {r!r} is not in range [0, {size})")
    if not members:
        raise ValueError("new_group: ranks must not be empty")
    timeout_s = world.timeout_s if timeout is None else _timeout_seconds(timeout)
    engine = world.backend.subgroup(members)
    group = ProcessGroup(engine, members, world.global_rank, timeout_s)
    _state.groups.append(group)
    return group


def destroy_process_group(group: ProcessGroup | None = None) -> None:
    """Release ``group``, or every group (and the default one) when None."""
    if group is None:
        for g in reversed(_state.groups):
            if g.backend is not None:
                g.backend.destroy()
        _state.groups, _state.world, _state.backend_name = [], None, ""
        return
    g = _resolve(group)
    if g is _state.world:
        destroy_process_group(None)
        return
    if g.backend is not None:
        g.backend.destroy()
    _state.groups.remove(g)


def get_rank(group: ProcessGroup | None = None) -> int:
    """This process's rank in ``group`` (default: the world); -1 if not a member."""
    return _resolve(group).rank()


def get_world_size(group: ProcessGroup | None = None) -> int:
    """The number of processes in ``group`` (default: the world)."""
    return _resolve(group).size()


def get_backend(group: ProcessGroup | None = None) -> str:
    """The backend's name: ``'mpi'`` or ``'nccl'``."""
    _resolve(group)
    return _state.backend_name
