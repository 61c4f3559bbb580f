"""Random tensors: ``rand``, ``randn``, ``randint``, ``randperm``, ``bernoulli``, ``normal``,
``multinomial``, the ``*_like`` variants, and the in-place fills (``uniform_``, ``normal_``,
``random_``, ``bernoulli_``, ``exponential_``, ``cauchy_``, ``log_normal_``, ``geometric_``).

Signatures follow PyTorch. Every function draws from ``generator=`` when given, else from
``ember.random.default_generator``; the numbers come from Philox (see ``ember.random``), so
element ``i`` (in row-major order) is the same whatever the thread count.
"""

from __future__ import annotations

import math

import numpy as np

from ember import _dtype
from ember import _tensor as _T
from ember._device import device as _device_cls
from ember._ops._dispatch import cpu_only
from ember._registry import register
from ember._tensor import Tensor, _wrap
from ember.random import Generator, _ArgError, default_generator

__all__ = [
    "rand",
    "randn",
    "randint",
    "randperm",
    "rand_like",
    "randn_like",
    "randint_like",
    "bernoulli",
    "normal",
    "multinomial",
    "uniform_",
    "normal_",
    "random_",
    "bernoulli_",
    "exponential_",
    "cauchy_",
    "log_normal_",
    "geometric_",
]

_SEQ = (list, tuple)
_INPLACE = [
    "uniform_",
    "normal_",
    "random_",
    "bernoulli_",
    "exponential_",
    "cauchy_",
    "log_normal_",
    "geometric_",
]


# ---- argument helpers ---------------------------------------------------------------


def _gen(generator) -> Generator:
    if generator is None:
        return default_generator
    if not isinstance(generator, Generator):
        raise TypeError(f"generator must be an ember.Generator, got {type(generator).__name__}")
    return generator


def _shape(size: tuple, name: str) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], _SEQ):
        size = tuple(size[0])
    elif not size:
        raise TypeError(f"{name}() missing its size: pass ints (rand(2, 3)) or a tuple")
    for s in size:
        if type(s) is not int or s < 0:
            return _shape_slow(size, name)
    return size


def _shape_slow(size: tuple, name: str) -> tuple[int, ...]:
    shape = []
    for s in size:
        if isinstance(s, bool) or not hasattr(s, "__index__"):
            raise TypeError(f"{name}(): size must be a tuple of ints, got {type(s).__name__}")
        s = s.__index__()
        if s < 0:
            raise _ArgError(
                f"{name}(): trying to create tensor with negative dimension {s}: {list(size)}"
            )
        shape.append(s)
    return tuple(shape)


def _np(dtype, default) -> np.dtype:
    if dtype is None:
        return default
    return _dtype.to_numpy_dtype(dtype)


def _float_default() -> np.dtype:
    return _dtype.get_default_dtype().np


def _result(a: np.ndarray, out, requires_grad: bool, name: str) -> Tensor:
    """Wrap ``a`` (or copy it into ``out``) and apply ``requires_grad``."""
    if out is not None:
        if not isinstance(out, Tensor):
            raise TypeError(f"{name}(): out must be a Tensor, got {type(out).__name__}")
        if tuple(out.shape) != a.shape:
            raise _ArgError(f"{name}(): out has shape {tuple(out.shape)}, expected {a.shape}")
        _check_writable(out, name)
        out._a[...] = a
        out._bump()
        return out
    t = _wrap(a)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _out_dtype(dtype, out, default) -> np.dtype:
    if dtype is None and out is not None:
        return out._a.dtype
    return _np(dtype, default)


def _check_writable(t: Tensor, name: str) -> None:
    if t._ag is not None and t.requires_grad:
        engine = _T._engine
        if engine is not None and engine.is_grad_enabled():
            raise RuntimeError(
                f"{name}: cannot fill a tensor that requires grad in place while grad mode "
                "is on; wrap it in `with ember.no_grad():` (as nn.init does)"
            )


def _fill(t: Tensor, a: np.ndarray) -> Tensor:
    t._a[...] = a
    t._bump()
    return t


def _array(x) -> np.ndarray:
    return x._a if isinstance(x, Tensor) else np.asarray(x)


def _cuda_of(device, what: str):
    """None for the CPU (``device`` None or 'cpu'), else the CUDA ember.device; anything
    else is an error naming what was expected."""
    if device is None:
        return None
    try:
        dev = _device_cls(device)
    except (TypeError, ValueError, RuntimeError):
        raise RuntimeError(f"{what}: expected device 'cpu' or 'cuda', got {device!r}") from None
    return None if dev.type == "cpu" else dev


def _draw(generator, kind: str, dev, *args):
    """Generator draw ``kind`` ('uniform', 'normal', ...) on the CPU (``dev`` None) or, with
    the same counters and numbers, on CUDA device ``dev`` (ember._cuda.random)."""
    g = _gen(generator)
    if dev is None:
        return getattr(g, "_" + kind)(*args)
    from ember import cuda
    from ember._cuda import random as _cr

    with cuda.device(dev):
        return getattr(_cr, kind)(g, *args)


def _dev_of(t) -> object:
    """The CUDA device of a tensor/array's storage, or None when it is on the CPU."""
    a = t._a if isinstance(t, Tensor) else t
    return (
        None
        if type(a) is np.ndarray or isinstance(a, np.generic)
        else _device_cls("cuda", a.device.id)
    )


# ---- creation -----------------------------------------------------------------------


def rand(
    *size,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """Uniform samples in [0, 1) of shape ``size`` (ints or one tuple); float32 values
    carry 24 random bits and are never 1.0."""
    dev = _cuda_of(device if out is None else out.device, "rand")
    shape = _shape(size, "rand")
    a = _draw(generator, "uniform", dev, shape, _out_dtype(dtype, out, _float_default()))
    return _result(a, out, requires_grad, "rand")


def randn(
    *size,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """Standard normal samples of shape ``size`` (Box-Muller on Philox output)."""
    dev = _cuda_of(device if out is None else out.device, "randn")
    shape = _shape(size, "randn")
    a = _draw(generator, "normal", dev, shape, _out_dtype(dtype, out, _float_default()))
    return _result(a, out, requires_grad, "randn")


def randint(
    *args,
    size=None,
    low=None,
    high=None,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
) -> Tensor:
    """Integers uniform in [low, high): ``randint(high, size)`` or ``randint(low, high,
    size)`` (int64 unless ``dtype`` says otherwise)."""
    dev = _cuda_of(device if out is None else out.device, "randint")
    args = list(args)
    if size is None and args and isinstance(args[-1], list | tuple):
        size = args.pop()
    if len(args) == 2:
        low, high = args
    elif len(args) == 1:
        if high is None:
            high = args[0]
        else:
            low = args[0]
    elif args:
        raise TypeError(
            f"randint() takes (high, size) or (low, high, size), got {len(args)} "
            "positional arguments before size"
        )
    if high is None or size is None:
        raise TypeError("randint() missing required arguments: high and size")
    shape = _shape((size,), "randint")
    a = _draw(
        generator,
        "randint",
        dev,
        0 if low is None else low,
        high,
        shape,
        _out_dtype(dtype, out, np.dtype(np.int64)),
    )
    return _result(a, out, requires_grad, "randint")


def randperm(
    n: int,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """A random permutation of ``0 .. n-1`` (int64 unless ``dtype`` says otherwise)."""
    dev = _cuda_of(device if out is None else out.device, "randperm")
    a = _draw(generator, "randperm", dev, n, _out_dtype(dtype, out, np.dtype(np.int64)))
    return _result(a, out, requires_grad, "randperm")


def _like_dtype(input: Tensor, dtype) -> np.dtype:
    if not isinstance(input, Tensor):
        raise TypeError(f"expected a Tensor as input, got {type(input).__name__}")
    return input._a.dtype if dtype is None else _dtype.to_numpy_dtype(dtype)


def rand_like(
    input: Tensor,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    memory_format=None,
    generator=None,
) -> Tensor:
    """``rand`` with the shape (and, by default, dtype) of ``input``."""
    dev = _cuda_of(input.device if device is None else device, "rand_like")
    a = _draw(generator, "uniform", dev, tuple(input.shape), _like_dtype(input, dtype))
    return _result(a, None, requires_grad, "rand_like")


def randn_like(
    input: Tensor,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    memory_format=None,
    generator=None,
) -> Tensor:
    """``randn`` with the shape (and, by default, dtype) of ``input``."""
    dev = _cuda_of(input.device if device is None else device, "randn_like")
    a = _draw(generator, "normal", dev, tuple(input.shape), _like_dtype(input, dtype))
    return _result(a, None, requires_grad, "randn_like")


def randint_like(
    input: Tensor,
    low: int = 0,
    high: int | None = None,
    *,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    memory_format=None,
    generator=None,
) -> Tensor:
    """``randint`` with the shape and dtype of ``input``: ``randint_like(x, high)`` or
    ``randint_like(x, low, high)``."""
    dev = _cuda_of(input.device if device is None else device, "randint_like")
    if high is None:
        low, high = 0, low
    a = _draw(generator, "randint", dev, low, high, tuple(input.shape), _like_dtype(input, dtype))
    return _result(a, None, requires_grad, "randint_like")


# ---- distributions over tensors -----------------------------------------------------


def bernoulli(input: Tensor, p: float | None = None, *, generator=None, out=None) -> Tensor:
    """0/1 samples shaped and typed like ``input``, 1 with probability ``input[i]`` (or the
    scalar ``p`` when given)."""
    x = _array(input)
    probs = x if p is None else float(p)
    dt = x.dtype if out is None else out._a.dtype
    a = _draw(generator, "bernoulli", _dev_of(x), probs, x.shape, dt)
    return _result(a, out, False, "bernoulli")


def normal(
    mean,
    std=1.0,
    size=None,
    *,
    generator=None,
    out=None,
    dtype=None,
    layout=None,
    device=None,
    requires_grad: bool = False,
    pin_memory: bool = False,
) -> Tensor:
    """Normal samples: ``normal(mean_tensor, std_tensor_or_float)``, ``normal(mean_float,
    std_tensor)`` (broadcast shapes), or ``normal(mean_float, std_float, size)``."""
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        if size is None:
            raise TypeError("normal(mean: float, std: float) needs a size")
        dev = _cuda_of(device if out is None else out.device, "normal")
        shape = _shape((size,), "normal")
        a = _draw(
            generator, "normal", dev, shape, _out_dtype(dtype, out, _float_default()), mean, std
        )
        return _result(a, out, requires_grad, "normal")
    m, s = _array(mean), _array(std)
    dev = _dev_of(mean if isinstance(mean, Tensor) else std)
    if np.any(s < 0):
        raise _ArgError("normal expects all elements of std >= 0.0")
    dt = np.result_type(*(x._a.dtype for x in (mean, std) if isinstance(x, Tensor)))
    dt = _out_dtype(dtype, out, dt if dt.kind in "fc" else _float_default())
    shape = np.broadcast_shapes(m.shape, s.shape)
    a = (_draw(generator, "normal", dev, shape, dt) * s + m).astype(dt, copy=False)
    return _result(a, out, requires_grad, "normal")


def multinomial(
    input: Tensor, num_samples: int, replacement: bool = False, *, generator=None, out=None
) -> Tensor:
    """Category indices (int64) drawn from the weights in each row of ``input`` (1-D:
    shape ``(num_samples,)``; 2-D: ``(rows, num_samples)``). Without replacement each
    row's samples are distinct."""
    w = _array(input)
    cpu_only("multinomial", input)
    if w.ndim not in (1, 2):
        raise _ArgError(f"multinomial: input must be 1-D or 2-D, got {w.ndim}-D")
    a = _gen(generator)._multinomial(
        w.reshape(-1, w.shape[-1]) if w.ndim == 1 else w, num_samples, replacement
    )
    return _result(a.reshape(-1) if w.ndim == 1 else a, out, False, "multinomial")


# ---- in-place fills (Tensor methods) ------------------------------------------------


def _from_kw(kw: dict, default, name: str):
    """``uniform_(**{'from': a})``: Python cannot spell ``from=`` as a parameter."""
    value = kw.pop("from", default)
    if kw:
        raise TypeError(f"{name}() got unexpected keyword arguments {sorted(kw)}")
    return value


def uniform_(self: Tensor, from_: float = 0.0, to: float = 1.0, *, generator=None, **kw) -> Tensor:
    """Fill with uniform samples in [from, to); returns self."""
    from_ = _from_kw(kw, from_, "uniform_")
    _check_writable(self, "uniform_")
    a = _draw(generator, "uniform", _dev_of(self), self._a.shape, self._a.dtype, from_, to)
    return _fill(self, a)


def normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    """Fill with N(mean, std**2) samples; returns self."""
    _check_writable(self, "normal_")
    a = _draw(generator, "normal", _dev_of(self), self._a.shape, self._a.dtype, mean, std)
    return _fill(self, a)


def random_(
    self: Tensor, from_: int | None = None, to: int | None = None, *, generator=None, **kw
) -> Tensor:
    """Fill with integers uniform in [from, to). ``random_(to)`` means [0, to); with no
    ``to`` the range is the dtype's: [0, max] for integers, [0, 2**mantissa_bits] for
    floats (every integer there is exact); returns self."""
    if from_ is not None and to is None:  # random_(to), as in PyTorch
        from_, to = 0, from_
    from_ = _from_kw(kw, 0 if from_ is None else from_, "random_")
    _check_writable(self, "random_")
    dt = self._a.dtype
    if to is None:
        if dt.kind == "b":
            to = 2
        elif dt.kind in "iu":
            to = int(np.iinfo(dt).max) + 1
        elif dt.kind == "f":
            to = 2 ** (np.finfo(dt).nmant + 1) + 1
        else:
            raise TypeError(f"random_: unsupported dtype {dt}")
    return _fill(self, _draw(generator, "randint", _dev_of(self), from_, to, self._a.shape, dt))


def bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    """Fill with 0/1, 1 with probability ``p`` (a float or a broadcastable tensor)."""
    _check_writable(self, "bernoulli_")
    probs = _array(p) if isinstance(p, Tensor) else float(p)
    a = _draw(generator, "bernoulli", _dev_of(self), probs, self._a.shape, self._a.dtype)
    return _fill(self, a)


def exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    """Fill with exponential samples of rate ``lambd`` (density lambd * exp(-lambd x))."""
    _check_writable(self, "exponential_")
    a = _draw(generator, "exponential", _dev_of(self), self._a.shape, self._a.dtype, lambd)
    return _fill(self, a)


def _wide(dt: np.dtype) -> np.dtype:
    return np.dtype(np.float64) if dt == np.float64 else np.dtype(np.float32)


def cauchy_(self: Tensor, median: float = 0.0, sigma: float = 1.0, *, generator=None) -> Tensor:
    """Fill with Cauchy samples: median + sigma * tan(pi * (u - 1/2))."""
    _check_writable(self, "cauchy_")
    if not sigma > 0.0:
        raise _ArgError(f"cauchy_ expects sigma > 0.0, got sigma={sigma}")
    dt = self._a.dtype
    u = _draw(generator, "uniform", _dev_of(self), self._a.shape, np.float64)
    return _fill(self, (median + sigma * np.tan(math.pi * (u - 0.5))).astype(dt))


def log_normal_(self: Tensor, mean: float = 1.0, std: float = 2.0, *, generator=None) -> Tensor:
    """Fill with exp(N(mean, std**2)) samples (``mean``/``std`` of the underlying normal)."""
    _check_writable(self, "log_normal_")
    if not std > 0.0:
        raise _ArgError(f"log_normal_ expects std > 0.0, got std={std}")
    dt = self._a.dtype
    z = _draw(generator, "normal", _dev_of(self), self._a.shape, _wide(dt), mean, std)
    with np.errstate(over="ignore"):
        return _fill(self, np.exp(z).astype(dt))


def geometric_(self: Tensor, p: float, *, generator=None) -> Tensor:
    """Fill with the number of Bernoulli(p) trials up to the first success (>= 1):
    floor(E / -log(1 - p)) + 1 with E ~ Exp(1)."""
    _check_writable(self, "geometric_")
    if not 0.0 < p < 1.0:
        raise _ArgError(f"geometric_ expects p to be in (0, 1), got p={p}")
    e = _draw(generator, "exponential", _dev_of(self), self._a.shape, np.float64)
    return _fill(self, (np.floor(e / -math.log1p(-p)) + 1.0).astype(self._a.dtype))


def _install(cls=Tensor) -> None:
    """Attach the in-place fills and ``bernoulli``/``multinomial`` as Tensor methods."""
    for name in _INPLACE:
        setattr(cls, name, globals()[name])
    cls.bernoulli = bernoulli
    cls.multinomial = multinomial


for _name in [
    "rand",
    "randn",
    "randint",
    "randperm",
    "rand_like",
    "randn_like",
    "randint_like",
    "normal",
]:
    register(_name, globals()[_name], "random", differentiable=False)
register("bernoulli", bernoulli, "random", differentiable=False, methods=("bernoulli",))
register("multinomial", multinomial, "random", differentiable=False, methods=("multinomial",))
for _name in _INPLACE:
    register(_name, globals()[_name], "random", differentiable=False, methods=(_name,))
