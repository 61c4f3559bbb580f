"""Reuse of large result buffers between kernel runs.

A fresh multi-megabyte numpy array is a fresh ``mmap``: the kernel writing it first
takes one page fault per 4 KiB page (with the kernel zeroing each page), which for a
16M-element float32 result costs about as much as the fused kernel itself. Like
PyTorch's CUDA caching allocator, results of ``POOL_MIN`` bytes or more are carved
from blocks this module keeps: a block is handed out again once no array refers to it
any more (every numpy view of a result keeps its owning block alive, so the
reference count of the block says whether anything still uses it). At most
``POOL_MAX`` bytes of idle blocks are kept.
"""

from __future__ import annotations

import sys
import threading

import numpy as np

POOL_MIN = 1 << 18
POOL_MAX = 1 << 30
_blocks: dict[int, list] = {}  # nbytes -> blocks (uint8 arrays owning their memory)
_U8 = np.dtype(np.uint8)
_lock = threading.Lock()  # two threads must never be handed the same idle block


def empty(shape: tuple, dtype: np.dtype) -> np.ndarray:
    """``np.empty(shape, dtype)``, from a reused block when it is large."""
    dtype = np.dtype(dtype)
    n = dtype.itemsize
    for s in shape:
        n *= s
    if n < POOL_MIN:
        return np.empty(shape, dtype)
    with _lock:
        blocks = _blocks.setdefault(n, [])
        for b in blocks:
            if sys.getrefcount(b) == 3:  # the list, this loop's name, getrefcount's argument
                return b.view(dtype).reshape(shape)
        _trim()
        b = np.empty(n, _U8)
        blocks.append(b)
        return b.view(dtype).reshape(shape)


def _trim() -> None:
    """Drop idle blocks (largest first) while more than POOL_MAX bytes sit idle."""
    idle = [(n, b) for n, bs in _blocks.items() for b in bs if sys.getrefcount(b) == 3]
    total = sum(n for n, _ in idle)
    for n, b in sorted(idle, key=lambda nb: -nb[0]):
        if total <= POOL_MAX:
            break
        _blocks[n].remove(next(x for x in _blocks[n] if x is b))
        total -= n


def clear() -> None:
    """Forget every block (those in use stay valid: their arrays own a reference)."""
    _blocks.clear()
