"""Shared machinery of op implementations: wrapping results, promotion, errors.

Everything here sits on the per-op hot path, so it is written for speed:
no ``*args`` plumbing, results made with ``_wrap``, and the autograd hook
reached only when an input carries autograd metadata (``t._ag is not None``).
"""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember import _tensor as _T
from ember._tensor import Tensor, _wrap

_ndarray = np.ndarray
_generic = np.generic
_NUMBER_TYPES = (bool, int, float, complex)


def result(r, inputs: tuple, name: str, params=None) -> Tensor:
    """Wrap array ``r`` and record op ``name`` when an input needs a gradient."""
    if type(r) is not _ndarray and isinstance(r, _generic):
        r = np.asarray(r)
    out = _wrap(r)
    for x in inputs:
        if isinstance(x, Tensor) and x._ag is not None:
            _T._engine.record(name, out, inputs, params)
            break
    return out


def asarray(r, dtype=None):
    """``np.asarray(r, dtype)`` that lets a CUDA (CuPy) array through, cast when ``dtype``
    says so: ops write this where numpy would turn a 0-d result into an array, and CuPy
    refuses implicit conversion to numpy (it would be a silent copy to the host)."""
    if type(r) is _ndarray or isinstance(r, _generic) or not hasattr(r, "__cuda_array_interface__"):
        return np.asarray(r, dtype)
    return r if dtype is None or r.dtype == dtype else r.astype(dtype)


def strided_view(src, shape, strides, like=None):
    """A view of ``src`` with ``shape`` and byte ``strides``, writeable when ``like`` (default
    ``src``) is: numpy's as_strided, or CuPy's for a CUDA array (numpy's would try to turn
    the device array into a host one)."""
    like = src if like is None else like
    if type(src) is _ndarray:
        return np.lib.stride_tricks.as_strided(src, shape, strides, writeable=like.flags.writeable)
    from cupy.lib.stride_tricks import as_strided

    return as_strided(src, shape, strides)


def record_if_needed(out, inputs: tuple, name: str, params=None):
    """Record an op whose outputs (a Tensor or a tuple of them) are already wrapped."""
    for x in inputs:
        if isinstance(x, Tensor) and x._ag is not None:
            _T._engine.record(name, out, inputs, params)
            break
    return out


def as_scalar(x, name: str):
    """A Python number from a number-like argument; TypeError for anything else."""
    if type(x) in _NUMBER_TYPES:
        return x
    if isinstance(x, _generic):
        return x.item()
    if isinstance(x, Tensor):
        return x
    raise TypeError(f"{name}(): expected a Tensor or a number as argument, got {type(x).__name__}")


def promote_arrays(x: Tensor, y: Tensor):
    """``x`` and ``y``'s arrays cast to the dtype PyTorch's promotion gives them."""
    xa, ya = x._a, y._a
    if type(xa) is not type(ya):
        raise_device_mismatch(x, y)
    dt = _dtype.result_type(x, y).np
    if xa.dtype != dt:
        xa = xa.astype(dt)
    if ya.dtype != dt:
        ya = ya.astype(dt)
    return xa, ya


def mixed_device_arrays(x: Tensor, y: Tensor):
    """Arrays for operands on different devices. PyTorch's rule: a 0-d CPU tensor joins a
    CUDA operand as a scalar (a numpy scalar, which CuPy accepts, promoted as tensors
    are); any other mix raises the device-mismatch RuntimeError."""
    xa, ya = x._a, y._a
    if type(xa) is _ndarray and xa.ndim == 0:
        xa = xa[()]
    elif type(ya) is _ndarray and ya.ndim == 0:
        ya = ya[()]
    else:
        raise_device_mismatch(x, y)
    dt = _dtype.result_type(x, y).np
    return (xa if xa.dtype == dt else xa.astype(dt)), (ya if ya.dtype == dt else ya.astype(dt))


def scalar_compute_dtype(xa, s):
    """The numpy dtype to compute ``array op scalar`` in when numpy's rule differs."""
    k = xa.dtype.kind
    if k in "biu" and isinstance(s, float):
        return _dtype._default_float.np
    if k in "biuf" and isinstance(s, complex):
        return np.complex128 if xa.dtype == np.float64 else np.complex64
    if xa.dtype == _dtype.bfloat16.np and not isinstance(s, bool):
        return xa.dtype  # ml_dtypes would otherwise promote bfloat16 with a Python float
    return None


def cpu_only(name: str, *tensors) -> None:
    """NotImplementedError naming op ``name`` and the device when a tensor is not on the
    CPU: what an op without a CUDA path says (never a silent copy to the host)."""
    for t in tensors:
        if isinstance(t, Tensor) and type(t._a) is not _ndarray:
            raise NotImplementedError(f"{name} is not implemented for device {t.device}")


def raise_device_mismatch(x: Tensor, y: Tensor):
    raise RuntimeError(
        "Expected all tensors to be on the same device, but found at least two devices, "
        f"{x.device} and {y.device}!"
    )


def raise_binary(name: str, x, y, exc: Exception):
    """Turn numpy's error for a binary op into PyTorch's exception type and message."""
    if isinstance(x, Tensor) and isinstance(y, Tensor):
        if type(x._a) is not type(y._a):
            raise_device_mismatch(x, y)
        xs, ys = tuple(x.shape), tuple(y.shape)
        if "broadcast" in str(exc):
            raise RuntimeError(
                f"{name}: the size of tensor a {xs} must match the size of tensor b {ys} "
                "(or be 1) at each non-singleton dimension, counting from the last "
                f"(broadcasting rule); got shapes {xs} and {ys}"
            ) from None
    if isinstance(exc, TypeError) and "cast" in str(exc):
        raise RuntimeError(f"{name}: {exc}") from None
    if isinstance(exc, TypeError):
        raise TypeError(f"{name}: {exc}") from None
    raise RuntimeError(f"{name}: {exc}") from None


def raise_inplace(name: str, x: Tensor, y, exc: Exception):
    """PyTorch's errors for a failed in-place op (shape or dtype of the output)."""
    msg = str(exc)
    if "broadcast" in msg or "non-broadcastable" in msg:
        ys = tuple(y.shape) if isinstance(y, Tensor) else ()
        raise RuntimeError(
            f"{name}: output with shape {tuple(x.shape)} doesn't match the broadcast shape "
            f"of the inputs {tuple(x.shape)} and {ys}"
        ) from None
    if "read-only" in msg:
        raise RuntimeError(
            f"{name}: unsupported operation: the written-to tensor is an expanded view or "
            "otherwise read-only (more than one element refers to a single memory "
            "location); call .clone() first"
        ) from None
    if isinstance(exc, TypeError) or "cast" in msg:
        rt = _dtype.result_type(x, y) if isinstance(y, Tensor | int | float | complex) else "?"
        raise RuntimeError(
            f"{name}: result type {rt} can't be cast to the desired output type {x.dtype}"
        ) from None
    raise RuntimeError(f"{name}: {exc}") from None
