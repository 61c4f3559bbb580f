"""Anomaly detection: record where each node was created, and raise naming that
forward op when its backward produces NaN."""

from __future__ import annotations

from ember.autograd.graph import _anomaly

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled"]


def is_anomaly_enabled() -> bool:
    """True while anomaly detection is on."""
    return _anomaly.enabled


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan

    def __enter__(self):
        self._prev = _anomaly.enabled
        _anomaly.enabled = True
        return self

    def __exit__(self, *exc):
        _anomaly.enabled = self._prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*a, **k):
            with detect_anomaly():
                return fn(*a, **k)

        return wrapper


class set_detect_anomaly(detect_anomaly):
    """Turn anomaly detection on or off (also usable as a context manager)."""

    def __init__(self, mode: bool):
        self._prev = _anomaly.enabled
        _anomaly.enabled = bool(mode)

    def __enter__(self):
        return self
