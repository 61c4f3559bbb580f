"""CUDA support through CuPy. CuPy is imported on first use, never at ``import ember``;
without it (or without a GPU) ``is_available()`` is False and moving a tensor to
``'cuda'`` raises a RuntimeError saying what to install.
"""

from __future__ import annotations

import functools

from ember import _legacy

__all__ = ["is_available", "device_count", "current_device", "set_device", "synchronize"]


@functools.cache
def _cupy():
    try:
        import cupy
    except ImportError:
        return None
    return cupy


def is_available() -> bool:
    """True when CuPy is installed and at least one CUDA device answers."""
    return device_count() > 0


def device_count() -> int:
    """The number of visible CUDA devices (0 without CuPy or a driver)."""
    cp = _cupy()
    if cp is None:
        return 0
    try:
        return cp.cuda.runtime.getDeviceCount()
    except Exception:  # no driver, no device: CUDA is simply unavailable
        return 0


def _require():
    cp = _cupy()
    if cp is None or device_count() == 0:
        raise RuntimeError(
            "CUDA is not available: no NVIDIA GPU was found or CuPy is not installed "
            "(pip install 'ember-core[cuda12]')"
        )
    return cp


def current_device() -> int:
    """The index of the current CUDA device."""
    return _require().cuda.runtime.getDevice()


def set_device(device) -> None:
    """Make ``device`` (an int, ``'cuda:N'`` or an ember.device) current."""
    from ember._device import device as _dev

    idx = device if isinstance(device, int) else (_dev(device).index or 0)
    _require().cuda.Device(idx).use()


def synchronize(device=None) -> None:
    """Wait for all work queued on the current CUDA device."""
    _require().cuda.Device().synchronize()


def _to_device_array(a, dev):
    cp = _require()
    idx = dev.index if dev.index is not None else cp.cuda.runtime.getDevice()
    with cp.cuda.Device(idx):
        return cp.asarray(a)


def _from_dlpack(ext):
    return _require().from_dlpack(ext)


globals().update(_legacy.make("cuda"))
