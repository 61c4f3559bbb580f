"""Shared fixture: run a helper script on N processes through ember's launcher."""

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent / "scripts"


def _mpi_ready() -> str | None:
    """Why the MPI tests cannot run here, or None when they can."""
    if importlib.util.find_spec("mpi4py") is None:
        return "mpi4py is not installed (pip install 'ember-distributed[mpi]')"
    from ember.distributed.run import find_mpiexec

    try:
        find_mpiexec()
    except FileNotFoundError as e:
        return str(e)
    return None


class Launched:
    """The finished job: exit status, output, and how long it took."""

    def __init__(self, proc: subprocess.CompletedProcess, seconds: float) -> None:
        self.returncode, self.stdout, self.stderr = proc.returncode, proc.stdout, proc.stderr
        self.seconds = seconds

    def explain(self) -> str:
        out, err = self.stdout[-3000:], self.stderr[-5000:]
        return f"exit {self.returncode}\n--- stdout\n{out}\n--- stderr\n{err}"


@pytest.fixture
def launch():
    """``launch(n, 'script.py', *args, timeout=...)`` runs the script under
    ``python -m ember.distributed.run -n n`` and returns a :class:`Launched`."""
    reason = _mpi_ready()
    if reason:
        pytest.skip(reason)

    def run(n: int, script: str, *args: str, timeout: float = 120) -> Launched:
        cmd = [sys.executable, "-m", "ember.distributed.run", "-n", str(n), str(SCRIPTS / script)]
        env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
        start = time.monotonic()
        proc = subprocess.run(
            [*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=SCRIPTS
        )
        return Launched(proc, time.monotonic() - start)

    return run
