"""The environment variables ember.distributed reads, in one place.

- ``EMBER_DIST_TIMEOUT``: default operation timeout in seconds (30 minutes).
- ``EMBER_DIST_CHECK``: ``0`` skips the header exchange that detects mismatched
  shapes, dtypes, roots and operations across ranks (saves one small all-gather
  per collective; a mismatch then gives garbage or a timeout instead of an error).
- ``EMBER_MPIEXEC``: the mpiexec the launcher runs.
"""

from __future__ import annotations

import os

__all__ = ["check_headers", "default_timeout_s", "mpiexec"]


def default_timeout_s() -> float:
    """``EMBER_DIST_TIMEOUT`` seconds, else 1800 (PyTorch's default)."""
    value = os.environ.get("EMBER_DIST_TIMEOUT", "1800")
    try:
        seconds = float(value)
    except ValueError:
        raise ValueError(f"EMBER_DIST_TIMEOUT must be a number of seconds, got {value!r}") from None
    if seconds <= 0:
        raise ValueError(f"EMBER_DIST_TIMEOUT must be positive, got {value!r}")
    return seconds


def check_headers() -> bool:
    """False when ``EMBER_DIST_CHECK=0``."""
    return os.environ.get("EMBER_DIST_CHECK", "1").strip() not in ("0", "false", "no")


def mpiexec() -> str | None:
    """``EMBER_MPIEXEC`` or None."""
    return os.environ.get("EMBER_MPIEXEC") or None
