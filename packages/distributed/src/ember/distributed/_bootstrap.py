"""What each rank runs under the launcher: the user's script, with failure handling.

An uncaught exception (or ``sys.exit`` with a non-zero status) on one rank prints
that rank's traceback and calls MPI_Abort, which ends every rank of the job at
once; without it the failed rank would finalize MPI and exit while its peers
waited for it in a collective.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
import traceback


def _rank() -> str:
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        if var in os.environ:
            return os.environ[var]
    return "?"


# MPI_Abort has the launcher kill every process at once, its own output forwarders
# included: what this rank just wrote (its traceback) can be lost on the way to the
# user unless they get a moment to pass it on. Seen in 2 of 8 runs of the crash test
# at load 5 on 2 cores; the grace costs nothing but this pause on a failing job.
ABORT_GRACE_S = 0.3


def _end_job(code: int) -> None:
    """Abort the MPI job when MPI is up; otherwise exit (mpiexec sees the failure)."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.Is_initialized() and not mpi.Is_finalized():
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(ABORT_GRACE_S)
        mpi.COMM_WORLD.Abort(code)
    os._exit(code)


def main() -> None:
    """``python -m ember.distributed._bootstrap [-m] target [args...]``."""
    argv = sys.argv[1:]
    as_module = bool(argv) and argv[0] == "-m"
    if as_module:
        argv = argv[1:]
    if not argv:
        sys.exit("usage: python -m ember.distributed._bootstrap [-m] script.py [args...]")
    target = argv[0]
    sys.argv = list(argv)
    try:
        if as_module:
            runpy.run_module(target, run_name="__main__", alter_sys=True)
        else:
            sys.path.insert(0, os.path.dirname(os.path.abspath(target)))
            runpy.run_path(target, run_name="__main__")
    except SystemExit as e:
        code = e.code
        if code in (None, 0):
            return
        if not isinstance(code, int):
            sys.stderr.write(f"{code}\n")
            code = 1
        sys.stderr.write(f"[ember.distributed rank {_rank()}] exited with status {code}\n")
        _end_job(code)
    except BaseException:
        text = traceback.format_exc()
        sys.stderr.write(
            f"[ember.distributed rank {_rank()}] uncaught exception, ending the job:\n"
        )
        sys.stderr.write(text)
        _end_job(1)


if __name__ == "__main__":
    main()
