"""The exception ember raises for a pickle it refuses or cannot read."""

from __future__ import annotations

import pickle

__all__ = ["UnpicklingError", "CheckpointError"]


class UnpicklingError(pickle.UnpicklingError):
    """A checkpoint's pickle was refused (a global outside the allowlist, a forbidden
    opcode) or is malformed. Raised before any refused object is called."""


class CheckpointError(ValueError):
    """A checkpoint file is damaged, truncated, tampered with or inconsistent
    (bad magic, sizes or offsets that do not add up, unknown dtype, missing entry)."""
