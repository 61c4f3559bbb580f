"""The NCCL engine through CuPy (``cupy.cuda.nccl``): CUDA tensors, one GPU per process.

MPI (mpi4py) still starts the job: rank 0 creates the NCCL unique id and broadcasts
it over MPI, and the small operation headers travel over MPI too, so a shape
mismatch is caught before any GPU work is queued. Data operations are queued on
the current CuPy stream; each returns a request that records a CUDA event after
the operation and polls it, so the same deadline logic as the MPI backend
applies. NCCL has no scatter, gather or all-to-all: those are grouped
point-to-point calls (``groupStart``/``groupEnd``), as NCCL's guide describes.
CuPy is imported only here, on first use.

Not exercised by the CPU test suite (no GPU there): written against CuPy's
documented ``NcclCommunicator`` signatures.
"""

from __future__ import annotations

import functools

import numpy as np

from . import mpi as _mpi_backend

__all__ = ["NCCLBackend", "available", "world"]


@functools.cache
def _cupy():
    """``(cupy, cupy.cuda.nccl)``, or a RuntimeError saying what is missing."""
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as e:
        raise RuntimeError(
            "backend 'nccl' needs CuPy built with NCCL (pip install cupy-cuda12x; "
            f"python -m cupyx.tools.install_library --library nccl): {e}"
        ) from None
    if not getattr(nccl, "available", True):
        raise RuntimeError("backend 'nccl': CuPy was built without NCCL support")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # no driver or no device: report it as unavailable
        raise RuntimeError(f"backend 'nccl' needs a CUDA GPU: {e}") from None
    if count == 0:
        raise RuntimeError("backend 'nccl' needs a CUDA GPU, and none is visible")
    return cupy, nccl


def available() -> bool:
    """True when CuPy with NCCL imports and a GPU is visible."""
    try:
        _cupy()
    except RuntimeError:
        return False
    return True


def _nccl_dtype(nccl, dtype: np.dtype) -> int:
    names = {
        "int8": "NCCL_INT8",
        "uint8": "NCCL_UINT8",
        "bool": "NCCL_UINT8",
        "int32": "NCCL_INT32",
        "uint32": "NCCL_UINT32",
        "int64": "NCCL_INT64",
        "uint64": "NCCL_UINT64",
        "float16": "NCCL_FLOAT16",
        "float32": "NCCL_FLOAT32",
        "float64": "NCCL_FLOAT64",
        "bfloat16": "NCCL_BFLOAT16",
    }
    name = names.get(np.dtype(dtype).name)
    if name is None or not hasattr(nccl, name):
        raise TypeError(f"backend 'nccl' cannot move {dtype} tensors")
    return getattr(nccl, name)


class _EventRequest:
    """Complete when the CUDA event recorded after the queued operation has fired."""

    __slots__ = ("event", "source")

    def __init__(self, cupy, source: int | None = None) -> None:
        self.event = cupy.cuda.Event(block=False, disable_timing=True)
        self.event.record(cupy.cuda.get_current_stream())
        self.source = source

    def test(self) -> bool:
        return self.event.done


class NCCLBackend:
    """Collectives and point-to-point transfers on one NCCL communicator."""

    name = "nccl"
    device_type = "cuda"

    def __init__(self, mpi_backend: _mpi_backend.MPIBackend) -> None:
        self.cupy, self.nccl = _cupy()
        self.mpi = mpi_backend  # bootstrap and headers
        self.rank, self.size = mpi_backend.rank, mpi_backend.size
        uid = self.nccl.get_unique_id() if self.rank == 0 else None
        uid = mpi_backend.comm.bcast(uid, root=0)
        self.comm = self.nccl.NcclCommunicator(self.size, uid, self.rank)
        n = self.nccl
        self._ops = {"SUM": n.NCCL_SUM, "PRODUCT": n.NCCL_PROD, "MIN": n.NCCL_MIN}
        self._ops["MAX"] = n.NCCL_MAX

    def _stream(self) -> int:
        return self.cupy.cuda.get_current_stream().ptr

    def _op(self, op: str, dtype) -> int:
        if op not in self._ops or np.dtype(dtype) == np.bool_:
            raise TypeError(f"backend 'nccl' has no {op} reduction for {dtype} tensors")
        return self._ops[op]

    def _done(self, source: int | None = None) -> _EventRequest:
        return _EventRequest(self.cupy, source)

    # ----- collectives -----
    def allreduce(self, a, op: str):
        dt = _nccl_dtype(self.nccl, a.dtype)
        p = a.data.ptr
        self.comm.allReduce(p, p, a.size, dt, self._op(op, a.dtype), self._stream())
        return self._done()

    def broadcast(self, a, root: int):
        b = _as_bytes(a)
        p = b.data.ptr
        self.comm.broadcast(p, p, b.size, self.nccl.NCCL_UINT8, root, self._stream())
        return self._done()

    def reduce(self, a, op: str, root: int):
        dt = _nccl_dtype(self.nccl, a.dtype)
        p = a.data.ptr
        self.comm.reduce(p, p, a.size, dt, self._op(op, a.dtype), root, self._stream())
        return self._done()

    def allgather(self, send, recv):
        s, r = _as_bytes(send), _as_bytes(recv)
        self.comm.allGather(s.data.ptr, r.data.ptr, s.size, self.nccl.NCCL_UINT8, self._stream())
        return self._done()

    def reduce_scatter(self, send, recv, op: str):
        dt = _nccl_dtype(self.nccl, recv.dtype)
        self.comm.reduceScatter(
            send.data.ptr, recv.data.ptr, recv.size, dt, self._op(op, recv.dtype), self._stream()
        )
        return self._done()

    def gather(self, send, recv, root: int):
        calls = [(_as_bytes(send), root, "send")]
        if recv is not None:
            parts = _as_bytes(recv).reshape(self.size, -1)
            calls += [(parts[j], j, "recv") for j in range(self.size)]
        self._grouped(calls)
        return self._done()

    def scatter(self, send, recv, root: int):
        r = _as_bytes(recv)
        parts = _as_bytes(send).reshape(self.size, -1) if send is not None else None
        calls = [(parts[j], j, "send") for j in range(self.size)] if parts is not None else []
        self._grouped(calls + [(r, root, "recv")])
        return self._done()

    def all_to_all(self, send, send_counts, recv, recv_counts):
        s, r = _as_bytes(send), _as_bytes(recv)
        calls, so, ro = [], 0, 0
        for j in range(self.size):
            calls.append((s[so : so + int(send_counts[j])], j, "send"))
            calls.append((r[ro : ro + int(recv_counts[j])], j, "recv"))
            so, ro = so + int(send_counts[j]), ro + int(recv_counts[j])
        self._grouped(calls)
        return self._done()

    def _grouped(self, calls) -> None:
        """Queue point-to-point calls as one NCCL group (they may pair up in any order)."""
        stream = self._stream()
        u8 = self.nccl.NCCL_UINT8
        self.nccl.groupStart()
        try:
            for buf, peer, kind in calls:
                if buf.size == 0:
                    continue
                if kind == "send":
                    self.comm.send(buf.data.ptr, buf.size, u8, peer, stream)
                else:
                    self.comm.recv(buf.data.ptr, buf.size, u8, peer, stream)
        finally:
            self.nccl.groupEnd()

    def barrier(self):
        return self.mpi.barrier()

    # ----- point to point (headers over MPI; NCCL has no tags or wildcard source) -----
    def send(self, a, dst: int, tag: int, meta: bool = False):
        if meta:
            return self.mpi.send(a, dst, tag, meta=True)
        self._grouped([(_as_bytes(a), dst, "send")])
        return self._done()

    def recv(self, a, src: int | None, tag: int, meta: bool = False):
        if meta:
            return self.mpi.recv(a, src, tag, meta=True)
        self._grouped([(_as_bytes(a), src, "recv")])
        return self._done(src)

    def meta_allgather(self, header: np.ndarray, out: np.ndarray):
        return self.mpi.meta_allgather(header, out)

    def subgroup(self, ranks: list[int]):
        sub = self.mpi.subgroup(ranks)
        return None if sub is None else NCCLBackend(sub)

    def destroy(self) -> None:
        self.comm.destroy()
        self.mpi.destroy()


def _as_bytes(a):
    """A contiguous CuPy array as flat uint8 (data movement needs no NCCL type)."""
    return a.reshape(-1).view("uint8")


def world() -> tuple[NCCLBackend, int, int]:
    """The NCCL backend over the whole job; the k-th rank on a host takes GPU
    ``k % count`` (ranks on one host are found with an MPI shared-memory split)."""
    cupy, _ = _cupy()  # fail before touching MPI when CUDA is missing
    base, rank, size = _mpi_backend.world()
    local = base.comm.Split_type(base.MPI.COMM_TYPE_SHARED)
    cupy.cuda.Device(local.Get_rank() % cupy.cuda.runtime.getDeviceCount()).use()
    local.Free()
    return NCCLBackend(base), rank, size
