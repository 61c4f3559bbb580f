"""The launcher: ``python -m ember.distributed.run -n 4 train.py [args...]``.

It runs the installed ``mpiexec`` (MPICH's Hydra from the ``mpich`` wheel, or Open
MPI's) with one copy of the script per process, each started through a small
bootstrap that turns an uncaught exception or a non-zero exit on any rank into
ending the whole job (MPI_Abort) with that rank's traceback, instead of leaving
the other ranks waiting. The exit status is mpiexec's: non-zero if any rank failed.

    python -m ember.distributed.run -n 4 train.py --epochs 3
    python -m ember.distributed.run -n 8 --hostfile hosts.txt train.py
    python -m ember.distributed.run -n 2 -m mypackage.train
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import _config

__all__ = ["build_command", "find_mpiexec", "main"]


def find_mpiexec(explicit: str | None = None) -> str:
    """``explicit``, else ``$EMBER_MPIEXEC``, else the mpiexec next to this Python (the
    ``mpich`` wheel installs it there), else the first on PATH."""
    for candidate in (explicit, _config.mpiexec()):
        if candidate:
            path = shutil.which(candidate)
            if path is None:
                raise FileNotFoundError(f"mpiexec {candidate!r} was not found")
            return path
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec")
    if found is None:
        raise FileNotFoundError(
            "no mpiexec found: pip install 'ember-distributed[mpi]' (installs MPICH), or "
            "pass --mpiexec /path/to/mpiexec"
        )
    return found


def _flavor(mpiexec: str) -> str:
    """``'openmpi'`` or ``'hydra'`` (MPICH, Intel MPI): their host-file flags differ."""
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "hydra"
    text = out.stdout + out.stderr
    return "openmpi" if "Open MPI" in text or "OpenRTE" in text else "hydra"


def build_command(
    nprocs: int,
    target: list[str],
    mpiexec: str,
    hostfile: str | None = None,
    hosts: str | None = None,
    extra: list[str] | None = None,
    module: bool = False,
) -> list[str]:
    """The full mpiexec command line for ``target`` (script and its arguments)."""
    if nprocs < 1:
        raise ValueError(f"-n must be at least 1, got {nprocs}")
    flavor = _flavor(mpiexec)
    cmd = [mpiexec, "-n", str(nprocs)]
    if hostfile:
        if not Path(hostfile).is_file():
            raise FileNotFoundError(f"host file {hostfile!r} does not exist")
        cmd += ["--hostfile", hostfile] if flavor == "openmpi" else ["-f", hostfile]
    if hosts:
        cmd += ["--host" if flavor == "openmpi" else "-hosts", hosts]
    if flavor == "openmpi" and hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd += ["--allow-run-as-root"]
    cmd += list(extra or [])
    boot = [sys.executable, "-m", "ember.distributed._bootstrap"]
    return cmd + boot + (["-m"] if module else []) + target


def main(argv: list[str] | None = None) -> int:
    """Parse the launcher's arguments, run mpiexec, return its exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m ember.distributed.run",
        description="Run a training script on N processes through mpiexec.",
    )
    parser.add_argument("-n", "--nproc", type=int, default=1, help="number of processes")
    parser.add_argument("--hostfile", help="file listing hosts (one per line, 'host:slots')")
    parser.add_argument("--hosts", help="comma-separated host names")
    parser.add_argument("--mpiexec", help="the mpiexec to use (default: the installed one)")
    parser.add_argument(
        "--mpiexec-arg", action="append", default=[], metavar="ARG",
        help="an extra argument for mpiexec (repeatable), e.g. --mpiexec-arg=-genv=X=1",
    )  # fmt: skip
    parser.add_argument("-m", dest="module", action="store_true", help="run a module, not a file")
    parser.add_argument("target", help="the script (or module with -m)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the script's arguments")
    ns = parser.parse_args(argv)
    if not ns.module and not Path(ns.target).is_file():
        parser.error(f"script {ns.target!r} does not exist")
    cmd = build_command(
        ns.nproc, [ns.target, *ns.args], find_mpiexec(ns.mpiexec), ns.hostfile, ns.hosts,
        ns.mpiexec_arg, ns.module,
    )  # fmt: skip
    try:
        return subprocess.call(cmd)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
