"""Tensor creation: from data, filled, ranges, identity, ``*_like``, and the
legacy constructors the seed uses (``ember.Tensor(5, 3)``, ``ember.FloatTensor``).
"""

from __future__ import annotations

import math

import numpy as np

from ember import _dtype
from ember._device import device as _device_cls
from ember._registry import register
from ember._tensor import Tensor, _wrap

__all__ = [
    "tensor",
    "as_tensor",
    "from_numpy",
    "asarray",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "range",
    "linspace",
    "logspace",
    "eye",
    "empty_strided",
    "from_dlpack",
    "scalar_tensor",
    "tril_indices",
    "triu_indices",
]


def _finish(a, device, requires_grad: bool) -> Tensor:
    """Wrap a fresh numpy array, move it to ``device`` and set ``requires_grad``."""
    t = _wrap(a)
    if device is not None:
        dev = _device_cls(device)
        if dev.type != "cpu":
            from ember import cuda

            t = _wrap(cuda._to_device_array(a, dev))
    if requires_grad:
        t.requires_grad_(True)
    return t


def _alloc(shape, dt, device, requires_grad: bool, fill=None) -> Tensor:
    """A new tensor of ``shape`` made where it lives: on a CUDA device it is allocated
    (and filled) there, not made on the host and copied over."""
    if device is not None:
        dev = _device_cls(device)
        if dev.type != "cpu":
            from ember import cuda

            if isinstance(fill, Tensor):
                fill = fill.item()
            t = _wrap(cuda._empty(shape, dt, dev, fill))
            if requires_grad:
                t.requires_grad_(True)
            return t
    if fill is None:
        a = np.empty(shape, dt)
    elif fill == 0:
        a = np.zeros(shape, dt)
    else:
        a = np.full(shape, fill, dt)
    return _finish(a, None, requires_grad)


def _infer_dtype(data) -> _dtype.dtype:
    """PyTorch's inference for Python data: bool, int64, the default float or complex."""
    kinds = set()

    def walk(x):
        if isinstance(x, Tensor):
            kinds.add(x.dtype)
        elif isinstance(x, bool | np.bool_):
            kinds.add(_dtype.bool)
        elif isinstance(x, int | np.integer):
            kinds.add(_dtype.int64)
        elif isinstance(x, float | np.floating):
            kinds.add(_dtype.get_default_dtype())
        elif isinstance(x, complex | np.complexfloating):
            kinds.add(_dtype.complex64)
        elif isinstance(x, list | tuple):
            for y in x:
                walk(y)
        else:
            raise TypeError(
                f"Could not infer dtype of {type(x).__name__}: expected numbers, bools, tensors "
                "or (nested) lists/tuples of them"
            )

    walk(data)
    if not kinds:
        return _dtype.get_default_dtype()
    out = None
    for k in kinds:
        out = k if out is None else _dtype.promote_types(out, k)
    return out


def _to_array(data, dtype):
    """A fresh numpy array holding ``data`` (numbers, nested lists, arrays, tensors)."""
    if isinstance(data, Tensor):
        a = data._a if type(data._a) is np.ndarray else data._a.get()
        d = data.dtype if dtype is None else _dtype.to_dtype(dtype)
        return np.array(a, dtype=d.np, copy=True)
    if isinstance(data, np.ndarray):
        d = _dtype.from_numpy_dtype(data.dtype) if dtype is None else _dtype.to_dtype(dtype)
        return np.array(data, dtype=d.np, copy=True)
    if hasattr(data, "__cuda_array_interface__") or hasattr(data, "__dlpack__"):
        return np.array(
            from_dlpack(data)._a, dtype=None if dtype is None else _dtype.to_numpy_dtype(dtype)
        )
    if isinstance(data, list | tuple) and any(isinstance(x, Tensor) for x in _flat_items(data)):
        data = _tensors_to_lists(data)
    d = _infer_dtype(data) if dtype is None else _dtype.to_dtype(dtype)
    try:
        a = np.array(data, dtype=d.np)
    except ValueError as exc:
        raise ValueError(f"tensor(): data is not a rectangular nested sequence ({exc})") from None
    if a.dtype == object:
        raise ValueError("tensor(): data is not a rectangular nested sequence of numbers")
    return a


def _flat_items(data):
    for x in data:
        if isinstance(x, list | tuple):
            yield from _flat_items(x)
        else:
            yield x


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, list | tuple):
        return [_tensors_to_lists(x) for x in data]
    return data


def tensor(
    data, *, dtype=None, device=None, requires_grad: bool = False, pin_memory: bool = False
) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays, tensors).

    The dtype is inferred as PyTorch does: bools -> bool, ints -> int64, floats ->
    the default dtype (float32), numpy arrays keep theirs.
    """
    return _finish(_to_array(data, dtype), device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor`, but shares memory with ``data`` when it already has the
    requested dtype and device (a numpy array or a tensor)."""
    if isinstance(data, Tensor):
        t = data
        if dtype is not None:
            t = t.to(_dtype.to_dtype(dtype))
        if device is not None:
            t = t.to(device)
        return t
    if isinstance(data, np.ndarray) and (device is None or _device_cls(device).type == "cpu"):
        t = from_numpy(data)
        return t if dtype is None else t.to(_dtype.to_dtype(dtype))
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``ndarray``: writes through either show in both."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dt = ndarray.dtype
    if dt not in _dtype._FROM_NP:
        if dt.byteorder not in "=|":
            raise TypeError(
                f"from_numpy: non-native byte order ({dt}) is not supported; convert with "
                "a.astype(a.dtype.newbyteorder('='))"
            )
        _dtype.from_numpy_dtype(dt)  # raises TypeError naming the supported dtypes
    return _wrap(ndarray)


def from_dlpack(ext_tensor) -> Tensor:
    """A tensor sharing memory with any DLPack producer (numpy, CuPy, PyTorch, JAX)."""
    if isinstance(ext_tensor, Tensor):
        return ext_tensor
    dev_type = ext_tensor.__dlpack_device__()[0] if hasattr(ext_tensor, "__dlpack_device__") else 1
    if dev_type == 1:  # kDLCPU
        try:
            a = np.from_dlpack(ext_tensor)
        except (BufferError, TypeError) as exc:
            if "bfloat16" in str(exc).lower() or "dtype" in str(exc).lower():
                raise TypeError(f"from_dlpack: unsupported dtype ({exc})") from None
            raise
        return from_numpy(a)
    from ember import cuda

    return _wrap(cuda._from_dlpack(ext_tensor))


def _size_args(size, name):
    if len(size) == 1 and isinstance(size[0], list | tuple):
        size = tuple(size[0])
    shape = []
    for s in size:
        if not isinstance(s, int | np.integer):
            raise TypeError(f"{name}(): size must be a tuple of ints, got {type(s).__name__}")
        if s < 0:
            raise RuntimeError(
                f"{name}(): trying to create tensor with negative dimension {s}: {list(size)}"
            )
        shape.append(int(s))
    return tuple(shape)


def _np_dtype(dtype):
    return _dtype._default_float.np if dtype is None else _dtype.to_numpy_dtype(dtype)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """A tensor of zeros of shape ``size``."""
    return _alloc(_size_args(size, "zeros"), _np_dtype(dtype), device, requires_grad, 0)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None) -> Tensor:
    """A tensor of ones of shape ``size``."""
    return _alloc(_size_args(size, "ones"), _np_dtype(dtype), device, requires_grad, 1)


def empty(
    *size, dtype=None, device=None, requires_grad=False, pin_memory=False, memory_format=None
) -> Tensor:
    """An uninitialized tensor of shape ``size``."""
    return _alloc(_size_args(size, "empty"), _np_dtype(dtype), device, requires_grad)


def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """An uninitialized tensor with the given strides (in elements)."""
    size, stride = tuple(size), tuple(stride)
    np_dt = _np_dtype(dtype)
    extent = 1 + sum((s - 1) * abs(st) for s, st in zip(size, stride)) if all(size) else 0
    buf = np.empty(extent, np_dt)
    a = np.lib.stride_tricks.as_strided(buf, size, tuple(s * buf.itemsize for s in stride))
    return _finish(a, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of shape ``size`` filled with ``fill_value`` (dtype inferred from it)."""
    if dtype is None:
        dtype = _infer_dtype(fill_value.item() if isinstance(fill_value, Tensor) else fill_value)
    shape = _size_args(tuple(size) if isinstance(size, list | tuple) else (size,), "full")
    return _alloc(shape, _dtype.to_numpy_dtype(dtype), device, requires_grad, fill_value)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A 0-d tensor holding ``s`` (the default float dtype unless given)."""
    return _finish(np.asarray(s, _np_dtype(dtype)), device, requires_grad)


def _like(input: Tensor, dtype, device):
    d = input.dtype if dtype is None else _dtype.to_dtype(dtype)
    dev = input.device if device is None else device
    return input._a.shape, d.np, dev


def zeros_like(
    input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    """Zeros with ``input``'s shape, dtype and device."""
    shape, dt, dev = _like(input, dtype, device)
    return _alloc(shape, dt, dev, requires_grad, 0)


def ones_like(
    input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    """Ones with ``input``'s shape, dtype and device."""
    shape, dt, dev = _like(input, dtype, device)
    return _alloc(shape, dt, dev, requires_grad, 1)


def empty_like(
    input: Tensor, *, dtype=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    """An uninitialized tensor with ``input``'s shape, dtype and device."""
    shape, dt, dev = _like(input, dtype, device)
    return _alloc(shape, dt, dev, requires_grad)


def full_like(
    input: Tensor, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None
) -> Tensor:
    """``fill_value`` everywhere, with ``input``'s shape, dtype and device."""
    shape, dt, dev = _like(input, dtype, device)
    return _alloc(shape, dt, dev, requires_grad, fill_value)


def arange(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` (inclusive) to ``end`` (exclusive) spaced ``step`` apart.

    The dtype is int64 when all arguments are integers, else the default float.
    """
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange: upper bound and larger bound inconsistent with step sign "
            f"(start={start}, end={end}, step={step})"
        )
    if dtype is None:
        dtype = _dtype.int64 if all(isinstance(v, int) for v in vals) else None
    n = max(math.ceil((end - start) / step), 0)
    np_dt = _np_dtype(dtype)
    a = (
        (start + step * np.arange(n, dtype=np.float64)).astype(np_dt)
        if np_dt.kind == "f"
        else np.arange(start, start + n * step, step, dtype=np_dt)[:n]
    )
    return _finish(a, device, requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False) -> Tensor:  # noqa: A001
    """Deprecated PyTorch ``range``: like :func:`arange` but ``end`` is inclusive."""
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    a = start + step * np.arange(n, dtype=np.float64)
    return _finish(a.astype(_np_dtype(dtype)), device, requires_grad)


def linspace(start, end, steps: int, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    a = np.linspace(float(start), float(end), int(steps), dtype=np.float64).astype(_np_dtype(dtype))
    return _finish(a, device, requires_grad)


def logspace(
    start, end, steps: int, base: float = 10.0, *, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """``base ** linspace(start, end, steps)``."""
    if steps < 0:
        raise RuntimeError(f"logspace: number of steps must be non-negative, got {steps}")
    a = np.logspace(float(start), float(end), int(steps), base=base).astype(_np_dtype(dtype))
    return _finish(a, device, requires_grad)


def eye(n: int, m: int | None = None, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """The ``n x m`` identity matrix."""
    if n < 0 or (m is not None and m < 0):
        raise RuntimeError(f"eye: n and m must be non-negative, got n={n}, m={m}")
    return _finish(np.eye(n, m, dtype=_np_dtype(dtype)), device, requires_grad)


def tril_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The 2 x N indices of the lower triangle of a ``row x col`` matrix."""
    a = np.stack(np.tril_indices(row, offset, col)).astype(
        _dtype.to_numpy_dtype(dtype or _dtype.int64)
    )
    return _finish(a, device, False)


def triu_indices(row: int, col: int, offset: int = 0, *, dtype=None, device=None) -> Tensor:
    """The 2 x N indices of the upper triangle of a ``row x col`` matrix."""
    a = np.stack(np.triu_indices(row, offset, col)).astype(
        _dtype.to_numpy_dtype(dtype or _dtype.int64)
    )
    return _finish(a, device, False)


def _legacy_new(args, dtype, device) -> Tensor:
    """``ember.Tensor(...)``/``ember.FloatTensor(...)``: sizes make an uninitialized
    tensor, a sequence or array makes a copy, nothing makes an empty 1-D tensor."""
    dtype = _dtype.to_dtype(dtype)
    if not args:
        return _finish(np.empty((0,), dtype.np), device, False)
    if len(args) == 1 and not isinstance(args[0], int | np.integer):
        return _finish(_to_array(args[0], dtype), device, False)
    return _finish(np.empty(_size_args(args, "Tensor"), dtype.np), device, False)


for _name in [
    "tensor",
    "as_tensor",
    "from_numpy",
    "zeros",
    "ones",
    "full",
    "empty",
    "zeros_like",
    "ones_like",
    "full_like",
    "empty_like",
    "arange",
    "linspace",
    "logspace",
    "eye",
    "empty_strided",
    "from_dlpack",
    "scalar_tensor",
    "tril_indices",
    "triu_indices",
]:
    register(_name, globals()[_name], "creation", differentiable=False)
