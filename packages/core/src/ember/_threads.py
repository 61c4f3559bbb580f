"""Thread counts: ember's OpenMP kernels and numpy's BLAS (OpenBLAS) together.

``ember.set_num_threads(n)`` sets both, as ``torch.set_num_threads`` does for
PyTorch's pools: with two pools sized independently, a 2-core machine runs four
busy threads and every GEMM waits on a descheduled one (LeNet training measured
12x slower that way on a loaded machine). numpy's OpenBLAS is reached through
its own exported setter, found in the loaded libraries, so no extra dependency
is needed; if none is found only ember's pool changes.
"""

from __future__ import annotations

import ctypes
import functools

from ember._C import lib

__all__ = ["set_num_threads", "get_num_threads"]

_SETTERS = (
    "scipy_openblas_set_num_threads64_",
    "scipy_openblas_set_num_threads",
    "openblas_set_num_threads64_",
    "openblas_set_num_threads",
)
_GETTERS = (
    "scipy_openblas_get_num_threads64_",
    "scipy_openblas_get_num_threads",
    "openblas_get_num_threads64_",
    "openblas_get_num_threads",
)


@functools.cache
def _blas() -> list:
    """(setter, getter) pairs of every OpenBLAS loaded in this process."""
    import numpy  # noqa: F401 - make sure numpy's BLAS is loaded

    paths = set()
    try:
        with open("/proc/self/maps") as maps:
            for line in maps:
                path = line.rstrip().rpartition(" ")[2]
                if "openblas" in path.lower() and ".so" in path:
                    paths.add(path)
    except OSError:  # not Linux: leave BLAS alone
        return []
    found = []
    for path in sorted(paths):
        try:
            handle = ctypes.CDLL(path)
        except OSError:
            continue
        setter = next((getattr(handle, s) for s in _SETTERS if hasattr(handle, s)), None)
        getter = next((getattr(handle, g) for g in _GETTERS if hasattr(handle, g)), None)
        if setter is not None:
            setter.argtypes, setter.restype = [ctypes.c_int], None
            if getter is not None:
                getter.argtypes, getter.restype = [], ctypes.c_int
            found.append((setter, getter))
    return found


def set_num_threads(n: int) -> None:
    """Use ``n`` threads for ember's CPU kernels and numpy's BLAS (GEMM)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads expects a positive int, got {n!r}")
    lib.em_set_num_threads(n)
    for setter, _ in _blas():
        setter(n)


def get_num_threads() -> int:
    """The number of threads ember's CPU kernels use."""
    return lib.em_get_num_threads()


def blas_num_threads() -> list[int]:
    """The thread count of each OpenBLAS found (for diagnostics and tests)."""
    return [getter() for _, getter in _blas() if getter is not None]
