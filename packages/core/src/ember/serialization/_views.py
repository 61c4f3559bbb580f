"""Building arrays over loaded bytes: every shape, stride and offset read from a
file is checked against the buffer before numpy sees it, so a tampered file is a
clean error and never an out-of-bounds read."""

from __future__ import annotations

import math
import sys

import numpy as np

from ._dtypes import BY_NAME, swap_unit
from ._errors import CheckpointError

__all__ = ["check_ints", "strided_view", "swap_to_native", "contiguous_strides"]


def check_ints(values, what: str, *, minimum: int | None = None) -> tuple[int, ...]:
    """``values`` as a tuple of ints (a list or tuple of real ints, bools refused)."""
    if not isinstance(values, (list, tuple)) or any(type(v) is not int for v in values):
        raise CheckpointError(f"{what} must be a list of integers, got {values!r}")
    if minimum is not None and any(v < minimum for v in values):
        raise CheckpointError(f"{what} must be integers >= {minimum}, got {list(values)}")
    return tuple(values)


def contiguous_strides(shape: tuple[int, ...]) -> tuple[int, ...]:
    """C-order strides, in elements, of an array of ``shape``."""
    strides, step = [], 1
    for n in reversed(shape):
        strides.append(step)
        step *= max(n, 1)
    return tuple(reversed(strides))


def strided_view(buffer: np.ndarray, name: str, shape, strides, offset, what: str) -> np.ndarray:
    """An array of dtype ``name`` over 1-D uint8 ``buffer`` (shared, no copy).

    ``strides`` and ``offset`` count elements of ``name``, as PyTorch does.
    Raises ValueError when the dtype is unknown or the view would reach outside
    the buffer.
    """
    dtype = BY_NAME.get(name) if isinstance(name, str) else None
    if dtype is None:
        raise CheckpointError(
            f"{what}: unknown dtype {name!r}; expected one of {', '.join(BY_NAME)}"
        )
    shape = check_ints(shape, f"{what}: shape", minimum=0)
    strides = check_ints(strides, f"{what}: strides")
    if len(strides) != len(shape):
        raise CheckpointError(f"{what}: {len(strides)} strides for a {len(shape)}-d shape {shape}")
    if type(offset) is not int or offset < 0:
        raise CheckpointError(f"{what}: storage offset must be an integer >= 0, got {offset!r}")
    if math.prod(shape) == 0:
        return np.empty(shape, dtype)
    size = dtype.itemsize
    low = offset + sum(s * (n - 1) for s, n in zip(strides, shape) if s < 0)
    high = offset + sum(s * (n - 1) for s, n in zip(strides, shape) if s > 0) + 1
    if low < 0 or high * size > buffer.nbytes:
        raise CheckpointError(
            f"{what}: shape {list(shape)} with strides {list(strides)} at offset {offset} "
            f"needs elements [{low}, {high}) of {name}, but the storage holds "
            f"{buffer.nbytes // size} ({buffer.nbytes} bytes)"
        )
    try:
        return np.ndarray(
            shape, dtype, buffer=buffer, offset=offset * size, strides=[s * size for s in strides]
        )
    except (ValueError, OverflowError) as exc:
        raise CheckpointError(f"{what}: cannot build a shape {list(shape)} view ({exc})") from exc


def swap_to_native(buffer: np.ndarray, name: str, file_is_little: bool) -> None:
    """Byte-swap ``buffer`` (1-D uint8) in place when the file's byte order is not the
    machine's, so every view of the storage then reads native values."""
    if file_is_little == (sys.byteorder == "little") or name == "bool":
        return
    unit = swap_unit(name)
    if unit == 1 or buffer.nbytes % unit:
        return
    word = buffer.view(f"u{unit}")
    word.byteswap(inplace=True)
