"""Communication engines under ember.distributed: ``mpi`` (mpi4py, CPU tensors) and
``nccl`` (CuPy's NCCL binding, CUDA tensors). Each is imported on first use."""

from __future__ import annotations

__all__ = ["BACKENDS", "load"]

BACKENDS = ("mpi", "nccl")


def load(name: str):
    """The backend module for ``name`` (imports its engine; raises if it is missing)."""
    if name == "mpi":
        from . import mpi

        return mpi
    if name == "nccl":
        from . import nccl

        return nccl
    raise ValueError(f"unknown backend {name!r}: expected one of {', '.join(BACKENDS)}")
