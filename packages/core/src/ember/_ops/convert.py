"""dtype and device conversion, fills and copies, and the ``Tensor.new_*`` family."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember import _tensor as _T
from ember._device import device as _device_cls
from ember._ops._dispatch import record_if_needed
from ember._registry import register
from ember._tensor import Tensor, _wrap

__all__ = [
    "to",
    "type_",
    "type_as",
    "fill_",
    "zero_",
    "copy_",
    "cpu",
    "cuda",
    "new",
    "new_tensor",
    "new_zeros",
    "new_ones",
    "new_empty",
    "new_full",
    "float_",
    "double",
    "half",
    "bfloat16",
    "long",
    "int_",
    "short",
    "char",
    "byte",
    "bool_",
    "cfloat",
]


def _cast(x: Tensor, dt: _dtype.dtype, copy: bool) -> Tensor:
    a = x._a
    if a.dtype == dt.np and not copy:
        return x
    out = _wrap(a.astype(dt.np))
    return record_if_needed(out, (x,), "to_dtype", dt) if x._ag is not None else out


def _move(x: Tensor, dev, non_blocking: bool = False) -> Tensor:
    dev = _device_cls(dev)
    a = x._a
    on_cpu = type(a) is np.ndarray
    if dev.type == "cpu":
        if on_cpu:
            return x
        out = _wrap(a.get())
    else:
        from ember import cuda

        if not on_cpu and (dev.index is None or a.device.id == dev.index):
            return x
        # host -> device, or device -> device (a peer copy, never through the host)
        out = _wrap(cuda._to_device_array(a, dev))
    return record_if_needed(out, (x,), "to_device", dev) if x._ag is not None else out


def to(
    input: Tensor,
    *args,
    dtype=None,
    device=None,
    non_blocking=False,
    copy=False,
    memory_format=None,
) -> Tensor:
    """Convert dtype and/or device: ``x.to(ember.float64)``, ``x.to('cuda')``,
    ``x.to(other)`` (other's dtype and device), ``x.to('cpu', ember.float16)``.
    Returns ``input`` itself when nothing changes (unless ``copy=True``)."""
    for a in args:
        if isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif isinstance(a, str | _device_cls) and not (
            isinstance(a, str) and a.removeprefix("ember.") in _dtype._NAMES
        ):
            device = a
        elif isinstance(a, int) and not isinstance(a, bool):
            device = a
        else:
            dtype = a
    x = input
    if device is not None:
        x = _move(x, device, non_blocking)
    if dtype is not None:
        x = _cast(x, _dtype.to_dtype(dtype), copy and x is input)
    elif copy and x is input:
        x = _cast(x, x.dtype, True)
    return x


_LEGACY_NAMES = {d._legacy: d for d in _dtype.ALL if d._legacy}


def type_(input: Tensor, dtype=None, non_blocking=False):
    """Without arguments, the legacy type name (``'ember.FloatTensor'``); with a dtype,
    legacy type or its name, the converted tensor."""
    if dtype is None:
        d = input.dtype
        prefix = "ember.cuda." if input.is_cuda else "ember."
        return prefix + (d._legacy or f"{d.name}Tensor")
    if isinstance(dtype, str):
        name = dtype.removeprefix("ember.").removeprefix("torch.")
        on_cuda = name.startswith("cuda.")
        name = name.removeprefix("cuda.")
        if name in _LEGACY_NAMES:
            return to(input, _LEGACY_NAMES[name], device="cuda" if on_cuda else "cpu")
    if hasattr(dtype, "dtype") and hasattr(dtype, "device") and not isinstance(dtype, Tensor):
        return to(input, dtype.dtype, device=dtype.device)
    return to(input, _dtype.to_dtype(dtype))


def type_as(input: Tensor, other: Tensor) -> Tensor:
    """``input`` converted to ``other``'s dtype (and device)."""
    return to(input, other.dtype, device=other.device)


def fill_(input: Tensor, value) -> Tensor:
    """Set every element to ``value``; returns self."""
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(
                f"fill_ only supports 0-dimension value tensor but got tensor with "
                f"{value.dim()} dimensions."
            )
        if input._ag is not None or value._ag is not None:
            from ember._ops.creation import zeros_like

            if _T._engine.inplace(input, lambda s, v: zeros_like(s) + v, (input, value), None):
                return input
        value = value.item()
    elif input._ag is not None and _T._engine.inplace(input, _filled, (input, value), None):
        return input
    input._a.fill(value)
    input._bump()
    return input


def _filled(input: Tensor, value) -> Tensor:
    out = _wrap(np.full(input._a.shape, value, input._a.dtype))
    return record_if_needed(out, (input,), "fill", value)


def zero_(input: Tensor) -> Tensor:
    """Set every element to zero; returns self."""
    return fill_(input, 0)


def copy_(input: Tensor, src, non_blocking: bool = False) -> Tensor:
    """Copy ``src`` into ``input`` (broadcasting, converting dtype and device); returns self."""
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    if input._ag is not None or src._ag is not None:
        if _T._engine.inplace(input, _copied, (input, src), None):
            return input
    s = src._a
    if type(s) is not type(input._a):
        s = s.get() if type(input._a) is np.ndarray else _move(src, input.device)._a
    try:
        np.copyto(input._a, s, casting="unsafe") if type(
            input._a
        ) is np.ndarray else input._a.__setitem__(Ellipsis, s.astype(input._a.dtype))
    except ValueError as exc:
        if "read-only" in str(exc):
            raise RuntimeError("copy_: the destination is an expanded view or read-only") from None
        raise RuntimeError(
            f"copy_: the size of src {tuple(src.shape)} must be broadcastable to "
            f"the destination's {tuple(input.shape)}"
        ) from None
    input._bump()
    return input


def _copied(input: Tensor, src: Tensor) -> Tensor:
    from ember._ops.shape import expand

    r = to(src, input.dtype, device=input.device)
    if tuple(r.shape) != tuple(input.shape):
        r = expand(r, input.shape)
    from ember._ops.shape import clone

    return clone(r) if r is src else r


def cpu(input: Tensor) -> Tensor:
    """The tensor on the CPU (itself when already there)."""
    return _move(input, "cpu")


def cuda(input: Tensor, device=None, non_blocking: bool = False) -> Tensor:
    """The tensor on a CUDA device (the current one unless ``device`` is given)."""
    dev = "cuda" if device is None else (f"cuda:{device}" if isinstance(device, int) else device)
    return _move(input, dev, non_blocking)


def new(input: Tensor, *args) -> Tensor:
    """Legacy: a tensor of ``input``'s dtype and device from sizes or data."""
    from ember._ops.creation import _legacy_new

    return _legacy_new(args, input.dtype, input.device)


def new_tensor(input: Tensor, data, *, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A new tensor from ``data`` with ``input``'s dtype and device by default."""
    from ember._ops.creation import tensor

    return tensor(
        data, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad
    )


def _new_filled(maker):
    def fn(input: Tensor, *size, dtype=None, device=None, requires_grad=False):
        return maker(
            *size,
            dtype=dtype or input.dtype,
            device=device or input.device,
            requires_grad=requires_grad,
        )

    return fn


def new_full(
    input: Tensor, size, fill_value, *, dtype=None, device=None, requires_grad=False
) -> Tensor:
    """A new tensor of ``size`` filled with ``fill_value``, ``input``'s dtype and device."""
    from ember._ops.creation import full

    return full(
        size,
        fill_value,
        dtype=dtype or input.dtype,
        device=device or input.device,
        requires_grad=requires_grad,
    )


def _make_new():
    from ember._ops import creation as c

    z, o, e = _new_filled(c.zeros), _new_filled(c.ones), _new_filled(c.empty)
    z.__doc__ = "Zeros of ``size`` with ``input``'s dtype and device."
    o.__doc__ = "Ones of ``size`` with ``input``'s dtype and device."
    e.__doc__ = "An uninitialized tensor of ``size`` with ``input``'s dtype and device."
    return z, o, e


new_zeros, new_ones, new_empty = _make_new()


def _caster(d: _dtype.dtype):
    def fn(input: Tensor, memory_format=None) -> Tensor:
        return to(input, d)

    fn.__doc__ = f"``input.to({d})``."
    return fn


float_, double, half, bfloat16 = (
    _caster(d) for d in (_dtype.float32, _dtype.float64, _dtype.float16, _dtype.bfloat16)
)
long, int_, short, char, byte, bool_ = (
    _caster(d)
    for d in (_dtype.int64, _dtype.int32, _dtype.int16, _dtype.int8, _dtype.uint8, _dtype.bool)
)
cfloat = _caster(_dtype.complex64)

_METHODS = {
    "to": to,
    "type": type_,
    "type_as": type_as,
    "fill_": fill_,
    "zero_": zero_,
    "copy_": copy_,
    "cpu": cpu,
    "cuda": cuda,
    "new": new,
    "new_tensor": new_tensor,
    "new_zeros": new_zeros,
    "new_ones": new_ones,
    "new_empty": new_empty,
    "new_full": new_full,
    "float": float_,
    "double": double,
    "half": half,
    "bfloat16": bfloat16,
    "long": long,
    "int": int_,
    "short": short,
    "char": char,
    "byte": byte,
    "bool": bool_,
    "cfloat": cfloat,
}
register("to", to, "conversion", methods=("to",))
register("fill_", fill_, "inplace", differentiable=True, methods=("fill_",))
register("copy_", copy_, "inplace", differentiable=True, methods=("copy_",))
