"""Timing helpers the benchmark scripts share (benchmarks/ is each script's own folder):

    from _timing import median_times, threads_from_argv

Imports nothing heavy, so a script can read ``--threads`` and set the BLAS thread
variables before numpy is first imported.
"""

from __future__ import annotations

import statistics
import sys
import time


def threads_from_argv(default: str) -> str:
    """The value of ``--threads N`` / ``--threads=N`` on the command line, read before
    argparse runs (numpy reads its thread variables once, at import)."""
    for i, a in enumerate(sys.argv):
        if a == "--threads" and i + 1 < len(sys.argv):
            return sys.argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return default


def median_times(fns: dict, repeats: int, warmup: bool = True) -> dict:
    """Median seconds per call of each function, the calls interleaved round-robin so
    that machine noise hits every contender alike; ``warmup`` calls each once first
    (page faults, thread pools)."""
    if warmup:
        for f in fns.values():
            f()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t0 = time.perf_counter()
            f()
            times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}
