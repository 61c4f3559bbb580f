"""Process-wide switches of ember.nn (read on the hot path, so plain module globals)."""

from __future__ import annotations

__all__ = ["set_detect_nonfinite", "is_nonfinite_detection_enabled"]

_detect_nonfinite = [False]


def set_detect_nonfinite(enabled: bool) -> None:
    """When enabled, every loss function checks its result and raises
    ``FloatingPointError`` naming the loss if it is NaN or infinite (off by
    default: the check reads the result, which costs a little time)."""
    _detect_nonfinite[0] = bool(enabled)


def is_nonfinite_detection_enabled() -> bool:
    """Whether :func:`set_detect_nonfinite` is on."""
    return _detect_nonfinite[0]
