"""Philox draws on CUDA (``philox.cu``) that give the CPU generator's numbers.

Each function mirrors a numpy-level method of :class:`ember.Generator` (``_uniform``,
``_normal``...): same arguments and checks, same counter reservation (a call of n values
needing L lanes each advances the generator by ceil(n * L / 4) blocks), and the kernels
compute value i from block offset + i / (4 / L) with the CPU's arithmetic
(``philox_math.inc``), so ``manual_seed(s); rand(n, device='cuda')`` equals
``manual_seed(s); rand(n)`` element for element. Results are CuPy arrays on the current
device.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from ember._cuda import loader as L
from ember.random import _F32, _F32_MAX, _F64, _HALF_BITS, _ArgError, _below

L.declare("philox", "QQpq", "ember_philox_u32", "ember_philox_u64")
L.declare("philox", "QQpqfffi", "ember_philox_uniform_f32")
L.declare("philox", "QQpqddd", "ember_philox_uniform_f64")
L.declare("philox", "QQpqff", "ember_philox_normal_f32")
L.declare("philox", "QQpqdd", "ember_philox_normal_f64")
L.declare("philox", "QQpqf", "ember_philox_exponential_f32")
L.declare("philox", "QQpqd", "ember_philox_exponential_f64")
L.declare("philox", "QQpqqQ", "ember_philox_randint_i64")
L.declare("philox", "QQpqpq", "ember_philox_bernoulli")


def _cp():
    import cupy

    return cupy


def _empty(shape, dt):
    try:
        return _cp().empty(shape, dt)
    except ValueError:
        raise _ArgError(f"trying to create tensor with negative dimension: {shape}") from None


def _run(g, name: str, out, lanes: int, *args) -> None:
    """Fill ``out`` with kernel ``name``: claim the counter blocks, launch one thread per
    block (a grid-stride loop covers the rest)."""
    n = out.size
    per = 4 // lanes
    s, off = g._reserve((n * lanes + 3) // 4)
    if n:
        nb = (n + per - 1) // per
        L.launch(name, L.blocks(nb), L.THREADS, (s, off, out, n, *args))


def _dtype(dt) -> np.dtype:
    return dt if isinstance(dt, np.dtype) else np.dtype(dt)


def uniform(g, shape, np_dtype, low: float = 0.0, high: float = 1.0):
    """Uniform values in [low, high), the CPU's ``Generator._uniform`` on CUDA."""
    dt = _dtype(np_dtype)
    if dt.kind == "c":
        part = uniform(g, (*shape, 2), _F32 if dt.itemsize == 8 else _F64, low, high)
        return part.view(dt).reshape(shape)
    low, high = float(low), float(high)
    if not (low <= high) or math.isinf(low) or math.isinf(high):
        raise _ArgError(
            f"uniform expects a [from, to) range with finite from <= to, got from={low}, to={high}"
        )
    if dt == _F64:
        out = _empty(shape, _F64)
        _run(g, "ember_philox_uniform_f64", out, 2, low, high, np.nextafter(high, low))
        return out
    if dt != _F32 and dt not in _HALF_BITS:
        raise TypeError(f"uniform: expected a floating point dtype, got {dt}")
    if high - low > _F32_MAX or max(-low, high) > _F32_MAX:
        raise _ArgError(f"uniform: range [{low}, {high}) overflows float32")
    out = _empty(shape, _F32)
    below = np.nextafter(np.float32(high), np.float32(low))
    _run(g, "ember_philox_uniform_f32", out, 1, low, high, below, _HALF_BITS.get(dt, 24))
    if dt == _F32:
        return out
    res = out.astype(dt)
    if low < high:  # rounding to 16 bits may reach `high`: keep the interval half-open
        lim = max(_below(high, dt), np.asarray(low, dt)[()])
        _cp().minimum(res, res.dtype.type(lim), out=res)
    return res


def normal(g, shape, np_dtype, mean: float = 0.0, std: float = 1.0):
    """N(mean, std**2) values, the CPU's ``Generator._normal`` on CUDA."""
    dt = _dtype(np_dtype)
    mean, std = float(mean), float(std)
    if not (0.0 <= std < math.inf) or not math.isfinite(mean):
        raise _ArgError(f"normal expects finite mean and std >= 0.0, got mean={mean}, std={std}")
    if dt.kind == "c":
        part = normal(g, (*shape, 2), _F32 if dt.itemsize == 8 else _F64, 0.0, std * math.sqrt(0.5))
        res = part.view(dt).reshape(shape)
        res += mean
        return res
    if dt == _F64:
        out = _empty(shape, _F64)
        _run(g, "ember_philox_normal_f64", out, 2, mean, std)
        return out
    if dt != _F32 and dt not in _HALF_BITS:
        raise TypeError(f"normal: expected a floating point dtype, got {dt}")
    out = _empty(shape, _F32)
    _run(g, "ember_philox_normal_f32", out, 1, mean, std)
    return out if dt == _F32 else out.astype(dt)


def exponential(g, shape, np_dtype, lambd: float = 1.0):
    """Exponential values of rate ``lambd``, the CPU's ``Generator._exponential``."""
    dt = _dtype(np_dtype)
    lambd = float(lambd)
    if not (0.0 < lambd < math.inf):
        raise _ArgError(f"exponential expects lambd > 0.0 and finite, got lambd={lambd}")
    if dt == _F64:
        out = _empty(shape, _F64)
        _run(g, "ember_philox_exponential_f64", out, 2, 1.0 / lambd)
        return out
    if dt != _F32 and dt not in _HALF_BITS:
        raise TypeError(f"exponential: expected a floating point dtype, got {dt}")
    out = _empty(shape, _F32)
    _run(g, "ember_philox_exponential_f32", out, 1, 1.0 / lambd)
    return out if dt == _F32 else out.astype(dt)


def randint(g, low: int, high: int, shape, np_dtype):
    """Integers uniform in [low, high), the CPU's ``Generator._randint`` on CUDA."""
    low, high = operator.index(low), operator.index(high)
    dt = _dtype(np_dtype)
    if low >= high:
        raise _ArgError(f"random_ expects 'from' < 'to', got from={low} >= to={high}")
    if dt.kind in "iub":
        info = np.iinfo(np.uint8 if dt.kind == "b" else dt)
        lo_ok, hi_ok = (0, 1) if dt.kind == "b" else (info.min, info.max)
    elif dt.kind == "f":
        lim = 2 ** (np.finfo(dt).nmant + 1)
        lo_ok, hi_ok = -lim, lim
    else:
        raise TypeError(f"randint: unsupported dtype {dt}")
    if low < lo_ok or high - 1 > hi_ok:
        raise _ArgError(
            f"randint: range [{low}, {high}) does not fit dtype {dt} "
            f"(representable: [{lo_ok}, {hi_ok}])"
        )
    rng = high - low
    if low < -(2**63) or high - 1 > 2**63 - 1:
        raise _ArgError(f"randint: range [{low}, {high}) exceeds 64-bit integers")
    out = _empty(shape, np.int64)
    n = out.size
    s, off = g._reserve((n + 1) // 2 if rng <= 2**32 else n)
    if n:
        nb = n if rng > 2**32 else (n + 1) // 2
        L.launch("ember_philox_randint_i64", L.blocks(nb), L.THREADS, (s, off, out, n, low, rng))
    return out if dt == np.int64 else out.astype(dt)


def randperm(g, n: int, np_dtype=np.int64):
    """A random permutation of 0..n-1: the CPU's keys (random high bits, index in the low
    bits), sorted on the device; distinct keys make the order the same as the CPU's."""
    cp = _cp()
    n = operator.index(n)
    dt = _dtype(np_dtype)
    if n < 0:
        raise _ArgError(f"randperm: n must be non-negative, got {n}")
    if dt.kind in "iu":
        if n > 0 and n - 1 > np.iinfo(dt).max:
            raise _ArgError(f"randperm: n={n} is too large for dtype {dt}")
    elif dt.kind == "f":
        if n > 2 ** (np.finfo(dt).nmant + 1):
            raise _ArgError(f"randperm: n={n} is too large for dtype {dt}")
    else:
        raise TypeError(f"randperm: unsupported dtype {dt}")
    keys = cp.empty(n, np.uint64)
    _run(g, "ember_philox_u64", keys, 2)
    low = np.uint64((1 << max(1, (n - 1).bit_length())) - 1)
    keys &= ~low
    keys |= cp.arange(n, dtype=np.uint64)
    keys.sort()
    keys &= low
    return keys.view(np.int64) if dt == np.int64 else keys.astype(dt)


def bernoulli(g, p, shape, np_dtype):
    """0/1 values, 1 with probability ``p`` (a float or an array broadcastable to shape)."""
    cp = _cp()
    out = _empty(shape, np.uint8)
    n = out.size
    pa = cp.asarray(p, dtype=np.float64)
    if pa.size and not bool(((pa >= 0.0) & (pa <= 1.0)).all()):
        raise _ArgError("bernoulli expects all probabilities p to satisfy 0 <= p <= 1")
    if pa.size != 1:
        try:
            pa = cp.broadcast_to(pa, shape)
        except ValueError:
            raise _ArgError(
                f"bernoulli: probabilities of shape {pa.shape} do not broadcast to {tuple(shape)}"
            ) from None
    pa = cp.ascontiguousarray(pa).reshape(-1)
    s, off = g._reserve((n + 3) // 4)
    if n:
        L.launch(
            "ember_philox_bernoulli",
            L.blocks((n + 3) // 4),
            L.THREADS,
            (s, off, pa, pa.size, out, n),
        )
    dt = _dtype(np_dtype)
    return out.view(np.bool_) if dt == np.bool_ else out.astype(dt)
