"""Turning a list of samples into a batch (``default_collate``) and arrays into tensors.

Samples may nest tuples, lists, dicts and namedtuples around tensors, numpy
arrays, numbers and strings; the batch has the same structure with every leaf
stacked along a new first dimension. Inside a DataLoader worker the stacked
arrays are allocated straight in shared memory (see ``_shm``), so a batch
reaches the main process without being copied again.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ._tensor import is_tensor, to_numpy, wrap

__all__ = ["default_collate", "default_convert"]

# Where stacked batches are allocated: np.empty in the main process, a
# shared-memory allocator inside DataLoader workers (set by worker.py).
_allocate: Callable[[tuple[int, ...], np.dtype], np.ndarray] = np.empty


def _is_namedtuple(x: Any) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _numeric_array(a: np.ndarray) -> bool:
    # String and object arrays have no tensor dtype; PyTorch passes them through.
    return a.dtype.kind not in "USOV"


def default_convert(data: Any) -> Any:
    """Convert numpy arrays (and numpy scalars) in a nested structure to tensors.

    This is what the DataLoader applies when automatic batching is off
    (``batch_size=None``). Containers keep their type; other leaves are returned as is.
    """
    if isinstance(data, np.ndarray):
        return wrap(data) if _numeric_array(data) else data
    if isinstance(data, np.generic):
        return wrap(np.asarray(data)) if _numeric_array(np.asarray(data)) else data
    if is_tensor(data) or isinstance(data, str | bytes):
        return data
    if isinstance(data, Mapping):
        try:
            return type(data)({k: default_convert(v) for k, v in data.items()})
        except TypeError:
            return {k: default_convert(v) for k, v in data.items()}
    if _is_namedtuple(data):
        return type(data)(*(default_convert(x) for x in data))
    if isinstance(data, tuple):
        return [default_convert(x) for x in data]
    if isinstance(data, Sequence):
        try:
            return type(data)([default_convert(x) for x in data])
        except TypeError:
            return [default_convert(x) for x in data]
    return data


def _stack(arrays: list[np.ndarray], path: str) -> np.ndarray:
    first = arrays[0]
    for i, a in enumerate(arrays):
        if a.shape != first.shape:
            raise RuntimeError(
                f"default_collate: shapes differ at {path}: sample 0 has shape "
                f"{tuple(first.shape)} but sample {i} has shape {tuple(a.shape)}; "
                "pad or resize the samples, or pass a collate_fn"
            )
    dtype = np.result_type(*{a.dtype for a in arrays}) if len(arrays) > 1 else first.dtype
    out = _allocate((len(arrays), *first.shape), dtype)
    # Writing row by row skips np.stack's temporary list of expanded views.
    for i, a in enumerate(arrays):
        out[i] = a
    return out


def _collate_numbers(batch: Sequence[Any], path: str) -> Any:
    elem = batch[0]
    if isinstance(elem, bool):
        dtype: Any = np.bool_
    elif isinstance(elem, int):
        dtype = np.int64
    elif isinstance(elem, float):
        dtype = np.float64
    else:
        dtype = np.complex64
    try:
        a = np.asarray(batch, dtype=dtype)
    except (TypeError, ValueError, OverflowError) as e:
        raise TypeError(f"default_collate: cannot batch the numbers at {path}: {e}") from None
    out = _allocate(a.shape, a.dtype)
    out[...] = a
    return wrap(out)


def _collate(batch: Sequence[Any], path: str) -> Any:
    elem = batch[0]
    if is_tensor(elem) or isinstance(elem, np.ndarray | np.generic):
        if isinstance(elem, np.ndarray | np.generic) and not _numeric_array(np.asarray(elem)):
            return list(batch)
        try:
            arrays = [to_numpy(x) if is_tensor(x) else np.asarray(x) for x in batch]
        except AttributeError:
            raise TypeError(
                f"default_collate: {path} mixes tensors/arrays with "
                f"{sorted({type(x).__name__ for x in batch})}"
            ) from None
        return wrap(_stack(arrays, path))
    if isinstance(elem, bool | int | float | complex):
        return _collate_numbers(batch, path)
    if isinstance(elem, str | bytes) or elem is None:
        return list(batch)
    if isinstance(elem, Mapping):
        for i, d in enumerate(batch):
            if not isinstance(d, Mapping) or d.keys() != elem.keys():
                raise RuntimeError(
                    f"default_collate: sample {i} at {path} has keys "
                    f"{sorted(map(str, d.keys())) if isinstance(d, Mapping) else type(d).__name__}"
                    f" but sample 0 has {sorted(map(str, elem.keys()))}"
                )
        out = {k: _collate([d[k] for d in batch], f"{path}[{k!r}]") for k in elem}
        try:
            return type(elem)(out)
        except TypeError:
            return out
    if isinstance(elem, Sequence):
        for i, s in enumerate(batch):
            if len(s) != len(elem):
                raise RuntimeError(
                    f"default_collate: each element of the batch must have the same length: "
                    f"at {path} sample 0 has {len(elem)} fields but sample {i} has {len(s)}"
                )
        columns = [_collate([s[j] for s in batch], f"{path}[{j}]") for j in range(len(elem))]
        if _is_namedtuple(elem):
            return type(elem)(*columns)
        if isinstance(elem, tuple):
            return columns  # a list, as in PyTorch
        try:
            return type(elem)(columns)
        except TypeError:
            return columns
    raise TypeError(
        f"default_collate: batch must contain tensors, numpy arrays, numbers, strings, dicts "
        f"or lists; found {type(elem).__name__} at {path}"
    )


def default_collate(batch: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, recursively.

    - tensors and numeric numpy arrays -> a tensor of shape ``(len(batch), *shape)``
      (``RuntimeError`` naming the field, e.g. ``sample[0]['image']``, when shapes differ);
    - ``int`` -> int64 tensor, ``float`` -> float64 tensor, ``bool`` -> bool tensor;
    - ``str``/``bytes``/``None`` -> a list;
    - dicts -> dicts of batches, namedtuples -> namedtuples of batches,
      tuples and lists -> lists of batches (fields must have equal lengths).
    """
    if not isinstance(batch, Sequence) or isinstance(batch, str | bytes):
        raise TypeError(f"default_collate expects a list of samples, got {type(batch).__name__}")
    if len(batch) == 0:
        raise ValueError("default_collate: cannot collate an empty batch")
    return _collate(batch, "sample")
