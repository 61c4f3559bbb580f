"""The MPI engine through mpi4py: CPU tensors, any MPI (MPICH's PyPI wheel by default).

Every call is nonblocking (``I...`` methods) and returns a request the caller polls
with a deadline (see ``_work.poll``); buffers are numpy arrays passed straight to
mpi4py's buffer methods, so contiguous tensors travel without a copy. Reductions
use MPI's own types for the dtypes MPI reduces natively; float16/bfloat16 are
reduced in float32 by the caller (MPI has no portable 16-bit float type).
"""

from __future__ import annotations

import functools
import os
import sys
import time
import traceback

import numpy as np

from .. import _work
from .._bootstrap import ABORT_GRACE_S

__all__ = ["MPIBackend", "available", "world"]


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise RuntimeError(
            "backend 'mpi' needs mpi4py and an MPI library: pip install 'ember-distributed[mpi]' "
            f"(import failed: {e})"
        ) from None
    return MPI


def available() -> bool:
    """True when mpi4py imports (it brings up MPI on first import)."""
    try:
        _mpi()
    except RuntimeError:
        return False
    return True


class _Request:
    """An MPI request; ``test()`` is mpi4py's own method (no Python frame per poll)."""

    __slots__ = ("r", "test")

    def __init__(self, r) -> None:
        self.r = r
        self.test = r.Test


class _RecvRequest:
    """A receive; remembers who sent (for ``recv(src=None)``)."""

    __slots__ = ("r", "status", "test")

    def __init__(self, r, status) -> None:
        self.r, self.status = r, status
        self.test = functools.partial(r.Test, status)

    @property
    def source(self) -> int:
        return self.status.Get_source()


def _bytes(a: np.ndarray) -> np.ndarray:
    """A contiguous array as flat bytes: data movement needs no MPI type, and this
    covers dtypes mpi4py cannot name (float16, bfloat16)."""
    return a.reshape(-1).view(np.uint8)


class MPIBackend:
    """Collectives and point-to-point transfers on one MPI communicator."""

    name = "mpi"
    device_type = "cpu"

    def __init__(self, comm) -> None:
        self.MPI = _mpi()
        self.comm = comm
        # Metadata (shapes, dtypes) travels on its own communicator, so a receive of
        # metadata can never match a data message and vice versa.
        self.meta_comm = comm.Dup()
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        m = self.MPI
        self._in_place = m.IN_PLACE
        self._ops = {"SUM": m.SUM, "PRODUCT": m.PROD, "MIN": m.MIN, "MAX": m.MAX}
        self._ops.update({"BAND": m.BAND, "BOR": m.BOR, "BXOR": m.BXOR})
        # MPI reduces C bools only with logical operations.
        self._bool_ops = {"SUM": m.LOR, "MAX": m.LOR, "BOR": m.LOR, "PRODUCT": m.LAND}
        self._bool_ops.update({"MIN": m.LAND, "BAND": m.LAND, "BXOR": m.LXOR})

    def _op(self, op: str, dtype: np.dtype):
        return (self._bool_ops if dtype.kind == "b" else self._ops)[op]

    # ----- collectives: each returns a request -----
    def allreduce(self, a: np.ndarray, op: str):
        mop = (self._bool_ops if a.dtype.kind == "b" else self._ops)[op]
        return _Request(self.comm.Iallreduce(self._in_place, a, mop))

    def broadcast(self, a: np.ndarray, root: int):
        return _Request(self.comm.Ibcast(_bytes(a), root))

    def reduce(self, a: np.ndarray, op: str, root: int):
        mop = self._op(op, a.dtype)
        if self.rank == root:
            return _Request(self.comm.Ireduce(self.MPI.IN_PLACE, a, mop, root))
        return _Request(self.comm.Ireduce(a, None, mop, root))

    def allgather(self, send: np.ndarray, recv: np.ndarray):
        return _Request(self.comm.Iallgather(_bytes(send), _bytes(recv)))

    def gather(self, send: np.ndarray, recv: np.ndarray | None, root: int):
        out = _bytes(recv) if recv is not None else None
        return _Request(self.comm.Igather(_bytes(send), out, root))

    def scatter(self, send: np.ndarray | None, recv: np.ndarray, root: int):
        src = _bytes(send) if send is not None else None
        return _Request(self.comm.Iscatter(src, _bytes(recv), root))

    def reduce_scatter(self, send: np.ndarray, recv: np.ndarray, op: str):
        mop = self._op(op, send.dtype)
        return _Request(self.comm.Ireduce_scatter_block(send, recv, mop))

    def all_to_all(self, send: np.ndarray, send_counts, recv: np.ndarray, recv_counts):
        """Byte counts per peer; blocks are laid out in rank order in both buffers."""
        sb, rb = _bytes(send), _bytes(recv)
        sd = np.concatenate([[0], np.cumsum(send_counts)[:-1]]).astype(int)
        rd = np.concatenate([[0], np.cumsum(recv_counts)[:-1]]).astype(int)
        byte = self.MPI.BYTE
        return _Request(
            self.comm.Ialltoallv([sb, (list(send_counts), list(sd)), byte],
                                 [rb, (list(recv_counts), list(rd)), byte])
        )  # fmt: skip

    def barrier(self):
        return _Request(self.comm.Ibarrier())

    # ----- point to point -----
    def send(self, a: np.ndarray, dst: int, tag: int, meta: bool = False):
        comm = self.meta_comm if meta else self.comm
        return _Request(comm.Isend(_bytes(a), dst, tag))

    def recv(self, a: np.ndarray, src: int | None, tag: int, meta: bool = False):
        comm = self.meta_comm if meta else self.comm
        source = self.MPI.ANY_SOURCE if src is None else src
        return _RecvRequest(comm.Irecv(_bytes(a), source, tag), self.MPI.Status())

    # ----- metadata and groups -----
    def meta_allgather(self, header: np.ndarray, out: np.ndarray):
        """All ranks' int64 headers into ``out`` (size x len(header))."""
        return _Request(self.meta_comm.Iallgather(header, out))

    def subgroup(self, ranks: list[int]):
        """A backend over ``ranks`` (ranks of this communicator, sorted); every rank of
        this communicator must call it. None on ranks outside ``ranks``."""
        group = self.comm.Get_group().Incl(ranks)
        comm = self.comm.Create(group)
        group.Free()
        if comm == self.MPI.COMM_NULL:
            return None
        return MPIBackend(comm)

    def destroy(self) -> None:
        """Free the communicators (not MPI itself: mpi4py finalizes at exit)."""
        for c in (self.meta_comm, self.comm):
            if c != self.MPI.COMM_WORLD and not self.MPI.Is_finalized():
                c.Free()


def world() -> tuple[MPIBackend, int, int]:
    """The backend over every process of the job, with its rank and size; installs the
    hook that turns an uncaught exception on one rank into ending the whole job."""
    MPI = _mpi()
    backend = MPIBackend(MPI.COMM_WORLD)
    local = MPI.COMM_WORLD.Split_type(MPI.COMM_TYPE_SHARED)
    oversubscribed = local.Get_size() > (os.cpu_count() or 1)
    local.Free()
    if oversubscribed:
        _work.set_spin(0.0, 0.0)  # yield after every poll: a peer may need this core
    else:
        _work.set_spin(1e-3, 2e-4)
    if backend.size > 1:
        _abort_on_uncaught_exception(MPI, backend.rank)
    return backend, backend.rank, backend.size


def abort_job(code: int = 1) -> None:
    """End every process of the job (MPI_Abort)."""
    MPI = _mpi()
    if MPI.Is_initialized() and not MPI.Is_finalized():
        MPI.COMM_WORLD.Abort(code)


def _abort_on_uncaught_exception(MPI, rank: int) -> None:
    """Without this, a rank that raises would finalize MPI and exit while its peers
    wait in a collective for ever; with it, the traceback is printed and the job ends."""
    previous = sys.excepthook
    if getattr(previous, "_ember_distributed", False):
        return

    def hook(exc_type, exc, tb):
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(f"[ember.distributed rank {rank}] uncaught exception, ending the job:\n")
        sys.stderr.write(text)
        sys.stderr.flush()
        time.sleep(ABORT_GRACE_S)  # let the launcher forward the traceback first
        MPI.COMM_WORLD.Abort(1)

    hook._ember_distributed = True
    sys.excepthook = hook
