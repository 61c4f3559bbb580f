"""Grad mode: whether ops record a graph. Thread-local, as in PyTorch.

``no_grad``, ``enable_grad``, ``set_grad_enabled`` and ``inference_mode`` work as
context managers and as decorators.
"""

from __future__ import annotations

import functools
import threading

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
]


class _State(threading.local):
    enabled = True
    inference = False


state = _State()


def is_grad_enabled() -> bool:
    """True when ops on tensors that require grad record a graph (in this thread)."""
    return state.enabled


def is_inference_mode_enabled() -> bool:
    """True inside ``inference_mode()``."""
    return state.inference


class _Mode:
    """Base of the grad-mode context managers; usable as a decorator."""

    _target = True

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._target
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with (
                self.__class__()
                if type(self) is not set_grad_enabled
                else set_grad_enabled(self._target)
            ):
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_Mode):
    """Disable graph recording: results do not require grad (saves memory in eval)."""

    _target = False


class enable_grad(_Mode):
    """Enable graph recording inside a ``no_grad`` region."""

    _target = True


class set_grad_enabled(_Mode):
    """Enable or disable recording: ``with set_grad_enabled(is_train): ...``.

    Like PyTorch, calling it as a function also sets the mode immediately.
    """

    def __init__(self, mode: bool):
        self._target = bool(mode)
        self._prev = state.enabled
        state.enabled = self._target

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False


class inference_mode(_Mode):
    """Like ``no_grad``, for inference-only code (ember applies the same rules)."""

    def __init__(self, mode: bool = True):
        self._target = not mode
        self._mode = mode

    def __enter__(self):
        self._prev, self._prev_inf = state.enabled, state.inference
        state.enabled, state.inference = self._target, self._mode
        return self

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev, self._prev_inf
        return False

    def __call__(self, fn):
        mode = self._mode

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper
