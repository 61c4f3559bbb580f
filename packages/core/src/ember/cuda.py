"""CUDA support through CuPy, with PyTorch's ``torch.cuda`` names.

CuPy is imported on first use, never at ``import ember``; without it (or without a GPU)
``is_available()`` is False and anything that needs a device raises a RuntimeError
saying what to install. Tensors on CUDA hold ``cupy.ndarray`` storage; ember's own
kernels (``ember._cuda``) and cuBLAS (through CuPy) run on CuPy's current stream, which
:class:`Stream` and :func:`stream` set.

Memory statistics come from CuPy's memory pool, which every ember allocation goes
through: ``memory_allocated`` is the bytes held by live arrays, ``memory_reserved`` the
bytes the pool holds from the driver. ``max_memory_allocated`` is the peak of the former
since peak tracking started: the first call to ``reset_peak_memory_stats`` or
``max_memory_allocated``. Tracking routes each allocation through a small Python hook, so
it is off until asked for (PyTorch tracks from the start; ember keeps the per-op cost low).
"""

from __future__ import annotations

import contextlib
import functools
import threading

from ember import _legacy

__all__ = [
    "is_available",
    "device_count",
    "current_device",
    "set_device",
    "synchronize",
    "get_device_name",
    "get_device_capability",
    "is_bf16_supported",
    "Stream",
    "Event",
    "current_stream",
    "default_stream",
    "stream",
    "device",
    "memory_allocated",
    "max_memory_allocated",
    "memory_reserved",
    "reset_peak_memory_stats",
    "empty_cache",
    "manual_seed",
    "manual_seed_all",
]


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


@functools.cache
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
            "(pip install 'ember-core[cuda12]', or [cuda13] for a CUDA 13 driver)"
        )
    return cp


def _index(dev) -> int:
    """A device index from an int, 'cuda[:N]', an ember.device or None (the current)."""
    from ember._device import device as _dev

    if dev is None:
        return _require().cuda.runtime.getDevice()
    if isinstance(dev, int):
        idx = dev
    else:
        d = _dev(dev)
        if d.type != "cuda":
            raise ValueError(f"expected a CUDA device, got {d}")
        idx = d.index if d.index is not None else _require().cuda.runtime.getDevice()
    if not 0 <= idx < device_count():
        raise RuntimeError(f"CUDA device {idx} does not exist ({device_count()} visible)")
    return idx


def current_device() -> int:
    """The index of the current CUDA device."""
    return _require().cuda.runtime.getDevice()


def set_device(device) -> None:
    """Make ``device`` (an int, ``'cuda:N'`` or an ember.device) current."""
    _require().cuda.Device(_index(device)).use()


@contextlib.contextmanager
def device(dev):
    """Context manager: ``with ember.cuda.device(1):`` makes device 1 current inside."""
    with _require().cuda.Device(_index(dev)):
        yield


def synchronize(device=None) -> None:
    """Wait for all work queued on ``device`` (default: the current one)."""
    cp = _require()
    with cp.cuda.Device(_index(device)):
        cp.cuda.Device().synchronize()


def get_device_name(device=None) -> str:
    """The device's marketing name, e.g. ``'NVIDIA H100 80GB HBM3'``."""
    cp = _require()
    name = cp.cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_capability(device=None) -> tuple[int, int]:
    """(major, minor) compute capability, e.g. (9, 0) for an H100."""
    props = _require().cuda.runtime.getDeviceProperties(_index(device))
    return int(props["major"]), int(props["minor"])


def is_bf16_supported() -> bool:
    """True on devices with native bfloat16 arithmetic (compute capability 8.0+)."""
    return is_available() and get_device_capability()[0] >= 8


# ----- streams and events ----------------------------------------------------------------
class Stream:
    """A CUDA stream (``torch.cuda.Stream``): work queued while it is current (``with
    stream:`` or :func:`stream`) runs in order on it, concurrently with other streams.

    Args:
        device: the device it belongs to (default: the current one).
        priority: lower numbers are higher priority (CUDA's convention).
    """

    def __init__(self, device=None, priority: int = 0, *, _wrap=None) -> None:
        cp = _require()
        if _wrap is not None:
            self._s, self.device_index = _wrap, cp.cuda.runtime.getDevice()
            return
        self.device_index = _index(device)
        with cp.cuda.Device(self.device_index):
            self._s = cp.cuda.Stream(non_blocking=True, priority=priority)

    @property
    def cuda_stream(self) -> int:
        """The raw ``cudaStream_t`` handle."""
        return self._s.ptr

    def synchronize(self) -> None:
        """Wait until all work queued on this stream has finished."""
        self._s.synchronize()

    def query(self) -> bool:
        """True when all queued work has finished."""
        return self._s.done

    def record_event(self, event: Event | None = None) -> Event:
        """Record ``event`` (a new one if None) at this point of the stream."""
        event = Event() if event is None else event
        event.record(self)
        return event

    def wait_event(self, event: Event) -> None:
        """Make future work on this stream wait for ``event``."""
        self._s.wait_event(event._e)

    def wait_stream(self, stream: Stream) -> None:
        """Make future work on this stream wait for what ``stream`` has queued so far."""
        self.wait_event(stream.record_event())

    def __enter__(self) -> Stream:
        self._ctx = self._s.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._s.__exit__(*exc)

    def __eq__(self, other) -> bool:
        return isinstance(other, Stream) and self.cuda_stream == other.cuda_stream

    def __hash__(self) -> int:
        return hash(self.cuda_stream)

    def __repr__(self) -> str:
        return (
            f"<ember.cuda.Stream device=cuda:{self.device_index} cuda_stream={self.cuda_stream:#x}>"
        )


def current_stream(device=None) -> Stream:
    """The stream ember and CuPy queue work on now."""
    cp = _require()
    with cp.cuda.Device(_index(device)):
        return Stream(_wrap=cp.cuda.get_current_stream())


def default_stream(device=None) -> Stream:
    """The device's legacy default stream."""
    cp = _require()
    with cp.cuda.Device(_index(device)):
        return Stream(_wrap=cp.cuda.Stream.null)


@contextlib.contextmanager
def stream(s: Stream | None):
    """Context manager making ``s`` the current stream (``None``: no change)."""
    if s is None:
        yield
        return
    with s:
        yield


class Event:
    """A CUDA event (``torch.cuda.Event``): a point in a stream to wait for or time.

    Args:
        enable_timing: allow :meth:`elapsed_time` (costs a little; off by default).
        blocking: :meth:`synchronize` blocks the thread instead of spinning.
    """

    def __init__(self, enable_timing: bool = False, blocking: bool = False,
                 interprocess: bool = False) -> None:  # fmt: skip
        cp = _require()
        if interprocess:
            raise NotImplementedError("interprocess events are not supported by ember.cuda")
        self.enable_timing = enable_timing
        self._e = cp.cuda.Event(block=blocking, disable_timing=not enable_timing)
        self._recorded = False

    def record(self, stream: Stream | None = None) -> None:
        """Record the event on ``stream`` (default: the current stream)."""
        self._e.record(None if stream is None else stream._s)
        self._recorded = True

    def wait(self, stream: Stream | None = None) -> None:
        """Make ``stream`` (default: the current one) wait for this event."""
        (current_stream() if stream is None else stream).wait_event(self)

    def query(self) -> bool:
        """True when the work before the recorded point has finished."""
        return self._e.done

    def synchronize(self) -> None:
        """Wait until the recorded point is reached."""
        self._e.synchronize()

    def elapsed_time(self, end_event: Event) -> float:
        """Milliseconds between this event and ``end_event`` (both recorded, both with
        ``enable_timing=True``); waits for ``end_event``."""
        if not (self.enable_timing and end_event.enable_timing):
            raise RuntimeError("elapsed_time needs both events created with enable_timing=True")
        if not (self._recorded and end_event._recorded):
            raise RuntimeError("elapsed_time needs both events recorded first")
        end_event.synchronize()
        return float(_require().cuda.get_elapsed_time(self._e, end_event._e))


# ----- memory ----------------------------------------------------------------------------
_peak: dict[int, int] = {}
_peak_lock = threading.Lock()
_tracker_installed = False


def _install_peak_tracker(cp) -> None:
    """Route CuPy's allocations through the default pool plus a peak counter (once)."""
    global _tracker_installed
    if _tracker_installed:
        return
    with _peak_lock:
        if _tracker_installed:
            return
        pool = cp.get_default_memory_pool()
        get_device = cp.cuda.runtime.getDevice

        def malloc(size: int):
            mem = pool.malloc(size)
            dev = get_device()
            used = pool.used_bytes()
            if used > _peak.get(dev, 0):
                _peak[dev] = used
            return mem

        cp.cuda.set_allocator(malloc)
        _tracker_installed = True


def _pool_bytes(device, what: str) -> int:
    cp = _require()
    with cp.cuda.Device(_index(device)):
        pool = cp.get_default_memory_pool()
        return int(pool.used_bytes() if what == "used" else pool.total_bytes())


def memory_allocated(device=None) -> int:
    """Bytes held by live CUDA arrays on ``device``."""
    return _pool_bytes(device, "used")


def memory_reserved(device=None) -> int:
    """Bytes CuPy's pool holds from the driver on ``device`` (allocated + cached)."""
    return _pool_bytes(device, "total")


def max_memory_allocated(device=None) -> int:
    """The peak of :func:`memory_allocated` since tracking started (the first call of this
    function or of :func:`reset_peak_memory_stats`; see the module docstring)."""
    _install_peak_tracker(_require())
    idx = _index(device)
    return max(_peak.get(idx, 0), memory_allocated(idx))


def reset_peak_memory_stats(device=None) -> None:
    """Start peak tracking afresh from the current allocation."""
    _install_peak_tracker(_require())
    idx = _index(device)
    _peak[idx] = memory_allocated(idx)


def empty_cache() -> None:
    """Give cached, unused blocks of CuPy's pools back to the driver."""
    cp = _require()
    cp.get_default_memory_pool().free_all_blocks()
    cp.get_default_pinned_memory_pool().free_all_blocks()


# ----- random numbers --------------------------------------------------------------------
def manual_seed(seed: int) -> None:
    """Seed the generator CUDA draws use: ember has one Philox stream for both devices,
    so this is ``ember.manual_seed`` (the same seed gives the same numbers on each)."""
    from ember.random import manual_seed as _ms

    _ms(seed)


manual_seed_all = manual_seed


# ----- used by tensors -------------------------------------------------------------------
def _to_device_array(a, dev):
    """``a`` (numpy or CuPy) as a CuPy array on device ``dev`` (copied when needed)."""
    cp = _require()
    idx = _index(dev)
    with cp.cuda.Device(idx):
        if isinstance(a, cp.ndarray):  # asarray would hand back an array on another device
            return a if a.device.id == idx else a.copy()
        return cp.asarray(a)


def _empty(shape, dtype, dev, fill=None):
    """A new CuPy array on ``dev``: uninitialized, or filled with ``fill``."""
    cp = _require()
    with cp.cuda.Device(_index(dev)):
        if fill is None:
            return cp.empty(shape, dtype)
        if fill == 0:
            return cp.zeros(shape, dtype)
        return cp.full(shape, fill, dtype)


def _from_dlpack(ext):
    return _require().from_dlpack(ext)


globals().update(_legacy.make("cuda"))
