"""More elementwise math, numpy-like: special functions (lgamma, digamma, polygamma,
erfinv, i0, sinc), log-space helpers, integer helpers (gcd, lcm), comparisons
with tolerance, and softmax/log_softmax along a dim.

numpy has no vectorized gamma family, so lgamma/digamma/polygamma are computed
here with classical series (Lanczos, recurrence plus asymptotic expansion),
vectorized, accurate to a few ulps in float64. Integer inputs compute in the
default float dtype; half precision computes in float32 and rounds back.
"""

from __future__ import annotations

import math as _math
from collections import namedtuple

import numpy as np

from ember import _dtype
from ember._ops import math as _m
from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import result
from ember._registry import register
from ember._tensor import Tensor, _wrap, _wrap_dim

__all__ = [
    "lgamma",
    "digamma",
    "polygamma",
    "mvlgamma",
    "erfinv",
    "i0",
    "sinc",
    "logit",
    "xlogy",
    "logaddexp",
    "logaddexp2",
    "deg2rad",
    "rad2deg",
    "nan_to_num",
    "heaviside",
    "gcd",
    "lcm",
    "ldexp",
    "frexp",
    "nextafter",
    "isclose",
    "allclose",
    "equal",
    "clamp_min",
    "clamp_max",
    "sgn",
    "positive",
    "fix",
    "softmax",
    "log_softmax",
    "cov",
    "corrcoef",
]

_frexp_t = namedtuple("frexp", ["mantissa", "exponent"])
_HALF = (np.dtype(np.float16), _dtype.bfloat16.np)


def _float_in(a):
    """``(array to compute in, dtype of the result)`` for a float-valued unary op."""
    if a.dtype.kind in "biu":
        dt = _dtype._default_float.np
        return a.astype(dt), dt
    if a.dtype in _HALF:
        return a.astype(np.float32), a.dtype
    if a.dtype.kind == "c":
        raise RuntimeError(f"this function is not implemented for complex tensors ({a.dtype})")
    return a, a.dtype


def _out(r, dt):
    return _asarray(r).astype(dt, copy=False)


# ----- gamma family -----
_LANCZOS_G = 7.0
_LANCZOS = (
    0.99999999999980993,
    676.5203681218851,
    -1259.1392167224028,
    771.32342877765313,
    -176.61502916214059,
    12.507343278686905,
    -0.13857109526572012,
    9.9843695780195716e-6,
    1.5056327351493116e-7,
)


def _lgamma_np(x):
    x = _asarray(x, np.float64)
    with np.errstate(all="ignore"):
        refl = x < 0.5
        z = np.where(refl, 1.0 - x, x) - 1.0
        s = np.full_like(z, _LANCZOS[0])
        for i in range(1, 9):
            s = s + _LANCZOS[i] / (z + i)
        t = z + _LANCZOS_G + 0.5
        lg = 0.5 * _math.log(2 * _math.pi) + (z + 0.5) * np.log(t) - t + np.log(s)
        # Reflection for x < 0.5: lgamma(x) = log(pi / |sin(pi x)|) - lgamma(1 - x).
        sinpx = np.abs(np.sin(_math.pi * (x - 2 * np.floor(x / 2))))
        r = np.where(refl, np.log(_math.pi / sinpx) - lg, lg)
        r = np.where((x <= 0) & (x == np.floor(x)), np.inf, r)
        r = np.where((x == 1) | (x == 2), 0.0, r)
        return np.where(np.isinf(x), np.inf, r)


# Bernoulli numbers B_2k for the asymptotic expansions.
_B2K = (1 / 6, -1 / 30, 1 / 42, -1 / 30, 5 / 66, -691 / 2730, 7 / 6, -3617 / 510)


def _digamma_np(x):
    x = _asarray(x, np.float64)
    with np.errstate(all="ignore"):
        refl = x < 0.5
        # Reflection: psi(x) = psi(1 - x) - pi / tan(pi x).
        cot = _math.pi / np.tan(_math.pi * (x - np.floor(x)))
        z = np.where(refl, 1.0 - x, x)
        acc = np.zeros_like(z)
        for _ in range(10):  # recurrence psi(z) = psi(z + 1) - 1/z until z >= 10
            small = z < 10
            acc = acc - np.where(small, 1.0 / z, 0.0)
            z = np.where(small, z + 1, z)
        z2 = 1.0 / (z * z)
        series = 0.0
        for k in range(len(_B2K) - 1, -1, -1):
            series = series * z2 + _B2K[k] / (2 * (k + 1))
        r = acc + np.log(z) - 0.5 / z - z2 * series
        r = np.where(refl, r - cot, r)
        r = np.where((x <= 0) & (x == np.floor(x)), np.nan, r)
        r = np.where(x == 0, -np.inf, r)
        return np.where(x == np.inf, np.inf, r)


def _polygamma_np(n: int, x):
    """``psi^(n)(x) = (-1)^(n+1) n! * zeta(n + 1, x)`` (Hurwitz zeta), n >= 1."""
    x = _asarray(x, np.float64)
    s = n + 1
    with np.errstate(all="ignore"):
        z = x.copy()
        acc = np.zeros_like(z)
        finite = np.isfinite(z)
        low = float(np.min(z[finite])) if finite.any() else 20.0
        for _ in range(max(0, int(np.ceil(20 - low)))):  # shift until z >= 20
            small = z < 20
            acc = acc + np.where(small, z ** (-s), 0.0)
            z = np.where(small, z + 1, z)
        # Euler-Maclaurin tail of sum_{k>=0} (z + k)^-s.
        tail = z ** (1 - s) / (s - 1) + 0.5 * z ** (-s)
        rising = float(s)  # (s)_(2j-1), the rising factorial
        fact = 2.0  # (2j)!
        for j, b in enumerate(_B2K, start=1):
            tail = tail + b / fact * rising * z ** (-s - 2 * j + 1)
            rising *= (s + 2 * j - 1) * (s + 2 * j)
            fact *= (2 * j + 1) * (2 * j + 2)
        zeta = acc + tail
        r = (-1.0) ** (n + 1) * _math.factorial(n) * zeta
        r = np.where((x <= 0) & (x == np.floor(x)), np.nan if n % 2 == 0 else np.inf, r)
        return np.where(x == np.inf, 0.0, r)


def lgamma(input: Tensor) -> Tensor:
    """Elementwise ``log(|Gamma(x)|)``."""
    a, dt = _float_in(input._a)
    return result(_out(_lgamma_np(a), dt), (input,), "lgamma")


def digamma(input: Tensor) -> Tensor:
    """Elementwise ``psi(x) = d/dx lgamma(x)``; ``-inf`` at 0, NaN at negative integers."""
    a, dt = _float_in(input._a)
    return result(_out(_digamma_np(a), dt), (input,), "digamma")


def polygamma(n: int, input: Tensor) -> Tensor:
    """Elementwise ``n``-th derivative of :func:`digamma` (``n = 0`` is digamma)."""
    if not isinstance(n, int | np.integer) or n < 0:
        raise RuntimeError(f"polygamma(n, x) does not support negative or non-integer n (got {n})")
    a, dt = _float_in(input._a)
    r = _digamma_np(a) if n == 0 else _polygamma_np(int(n), a)
    return result(_out(r, dt), (input,), "polygamma", int(n))


def mvlgamma(input: Tensor, p: int) -> Tensor:
    """Multivariate log-gamma of dimension ``p``; every element must exceed ``(p - 1) / 2``."""
    if p < 1:
        raise RuntimeError(f"mvlgamma(): p has to be greater than or equal to 1, got {p}")
    if bool(np.any(input._a <= (p - 1) / 2)):
        raise RuntimeError(f"mvlgamma(): all elements must be greater than (p-1)/2 = {(p - 1) / 2}")
    from ember._ops.reduce import sum as _sum
    from ember._ops.shape import unsqueeze

    x = input if input.is_floating_point() else input.to(_dtype._default_float)
    offs = _wrap(-np.arange(p, dtype=x._a.dtype, like=x._a) / 2)
    return _sum(lgamma(unsqueeze(x, -1) + offs), -1) + p * (p - 1) / 4 * _math.log(_math.pi)


def erfinv(input: Tensor) -> Tensor:
    """Elementwise inverse error function on ``[-1, 1]`` (NaN outside, +-inf at +-1)."""
    a, dt = _float_in(input._a)
    y = a.astype(np.float64)
    with np.errstate(all="ignore"):
        # Winitzki's closed form as the start (rel. error ~2e-3), then Halley steps.
        w = np.log1p(-y * y)
        c = 2 / (_math.pi * 0.147) + w / 2
        x = np.sign(y) * np.sqrt(np.sqrt(c * c - w / 0.147) - c)
        ok = np.abs(y) < 1
        x = np.where(ok, x, 0.0)
        for _ in range(3):
            f = _m._erf_any(x) - y
            step = f / (2 / _math.sqrt(_math.pi) * np.exp(-x * x))
            x = np.where(ok, x - step / (1 + x * step), x)
        x = np.where(np.abs(y) == 1, np.sign(y) * np.inf, x)
        x = np.where((np.abs(y) > 1) | np.isnan(y), np.nan, x)
    return result(_out(x, dt), (input,), "erfinv")


def i0(input: Tensor) -> Tensor:
    """Elementwise modified Bessel function of the first kind, order 0."""
    a, dt = _float_in(input._a)
    return result(_out(np.i0(a), dt), (input,), "i0")


def sinc(input: Tensor) -> Tensor:
    """Elementwise normalized sinc ``sin(pi x) / (pi x)`` (1 at 0)."""
    a, dt = _float_in(input._a)
    return result(_out(np.sinc(a), dt), (input,), "sinc")


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """Elementwise ``log(x / (1 - x))``, with ``x`` first clamped to ``[eps, 1 - eps]``."""
    x = input if input.is_floating_point() else input.to(_dtype._default_float)
    if eps is not None:
        x = _m.clamp(x, eps, 1 - eps)
    return _m.log(_m.div(x, _m.rsub(x, 1)))


def _binary_float(input, other, name):
    """Arrays of two operands promoted to one float dtype (numbers allowed on one side)."""
    x = input if isinstance(input, Tensor) else _m._scalar_like(input)
    y = other if isinstance(other, Tensor) else _m._scalar_like(other)
    dt = _dtype.result_type(x, y)
    if not dt.is_floating_point:
        dt = _dtype._default_float
    try:
        np.broadcast_shapes(x._a.shape, y._a.shape)
    except ValueError:
        raise RuntimeError(
            f"{name}: the size of tensor a {tuple(x.shape)} must match the size of tensor b "
            f"{tuple(y.shape)} at each non-singleton dimension"
        ) from None
    cd = np.float32 if dt.np in _HALF else dt.np
    return x._a.astype(cd, copy=False), y._a.astype(cd, copy=False), dt.np


def xlogy(input, other) -> Tensor:
    """Elementwise ``input * log(other)``, 0 where ``input == 0`` (unless ``other`` is NaN)."""
    xa, ya, dt = _binary_float(input, other, "xlogy")
    with np.errstate(all="ignore"):
        r = np.where((xa == 0) & ~np.isnan(ya), 0.0, xa * np.log(ya))
    return result(_out(r, dt), (input, other), "xlogy")


def logaddexp(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``log(exp(input) + exp(other))``, computed stably."""
    xa, ya, dt = _binary_float(input, other, "logaddexp")
    return result(_out(np.logaddexp(xa, ya), dt), (input, other), "logaddexp")


def logaddexp2(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``log2(2**input + 2**other)``, computed stably."""
    xa, ya, dt = _binary_float(input, other, "logaddexp2")
    return result(_out(np.logaddexp2(xa, ya), dt), (input, other), "logaddexp2")


def deg2rad(input: Tensor) -> Tensor:
    """Degrees to radians."""
    x = input if input.is_floating_point() else input.to(_dtype._default_float)
    return _m.mul(x, _math.pi / 180)


def rad2deg(input: Tensor) -> Tensor:
    """Radians to degrees."""
    x = input if input.is_floating_point() else input.to(_dtype._default_float)
    return _m.mul(x, 180 / _math.pi)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """NaN, +inf and -inf replaced by ``nan``, ``posinf`` and ``neginf`` (defaults: 0 and
    the dtype's largest and lowest finite values)."""
    a = input._a
    if a.dtype.kind not in "fc" and a.dtype not in _HALF:
        return result(a.copy(), (input,), "nan_to_num")
    hi = float(_dtype.finfo(input.dtype).max) if posinf is None else posinf
    lo = float(_dtype.finfo(input.dtype).min) if neginf is None else neginf
    r = np.where(np.isnan(a), _asarray(nan, a.dtype), a)
    r = np.where(np.isposinf(r), _asarray(hi, a.dtype), r)
    r = np.where(np.isneginf(r), _asarray(lo, a.dtype), r)
    return result(r.astype(a.dtype, copy=False), (input,), "nan_to_num")


def nan_to_num_(input: Tensor, nan: float = 0.0, posinf=None, neginf=None) -> Tensor:
    """In-place :func:`nan_to_num`."""
    input._a[...] = nan_to_num(input.detach(), nan, posinf, neginf)._a
    input._bump()
    return input


def heaviside(input: Tensor, values: Tensor) -> Tensor:
    """Step function: 0 where ``input < 0``, 1 where ``> 0``, ``values`` where ``== 0``."""
    if input.dtype != values.dtype:
        raise RuntimeError(
            f"heaviside is not yet implemented for tensors with different dtypes "
            f"({input.dtype} and {values.dtype})"
        )
    try:
        r = np.heaviside(input._a, values._a)
    except (TypeError, ValueError) as exc:
        raise RuntimeError(f"heaviside: {exc}") from None
    return _wrap(_asarray(r).astype(input._a.dtype, copy=False))


def _int_pair(input, other, name):
    x = input if isinstance(input, Tensor) else _m._scalar_like(input)
    y = other if isinstance(other, Tensor) else _m._scalar_like(other)
    if x._a.dtype.kind not in "iub" or y._a.dtype.kind not in "iub":
        raise RuntimeError(f"{name}: expected integer tensors, got {x.dtype} and {y.dtype}")
    dt = _dtype.result_type(x, y).np
    return x._a.astype(dt, copy=False), y._a.astype(dt, copy=False)


def gcd(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise greatest common divisor (non-negative) of integer tensors."""
    return _wrap(_asarray(np.gcd(*_int_pair(input, other, "gcd"))))


def lcm(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise least common multiple (non-negative) of integer tensors."""
    return _wrap(_asarray(np.lcm(*_int_pair(input, other, "lcm"))))


def ldexp(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise ``input * 2 ** other``."""
    x = input if input.is_floating_point() else input.to(_dtype._default_float)
    e = other if isinstance(other, Tensor) else _m._scalar_like(other)
    return _m.mul(x, _m.pow(_wrap(_asarray(2.0, x._a.dtype)), e.to(x.dtype)))


def frexp(input: Tensor):
    """Split into ``(mantissa, exponent)`` with ``input == mantissa * 2 ** exponent`` and
    ``0.5 <= |mantissa| < 1`` (int32 exponent)."""
    a = input._a
    if a.dtype.kind != "f":
        raise RuntimeError(f"frexp() only supports floating-point dtypes, got {input.dtype}")
    mant, ex = np.frexp(a)
    return _frexp_t(_wrap(_asarray(mant)), _wrap(_asarray(ex, np.int32)))


def nextafter(input: Tensor, other: Tensor) -> Tensor:
    """The next representable float after ``input`` towards ``other``."""
    if input.dtype != other.dtype:
        raise RuntimeError(
            f"nextafter: expected the same dtype, got {input.dtype} and {other.dtype}"
        )
    return _wrap(_asarray(np.nextafter(input._a, other._a)))


def isclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (infinities equal themselves)."""
    if input.dtype != other.dtype:
        raise RuntimeError(f"{input.dtype} did not match {other.dtype}")
    xa, ya = input._a, other._a
    if xa.dtype in _HALF:
        xa, ya = xa.astype(np.float32), ya.astype(np.float32)
    if xa.dtype.kind == "b":
        return _wrap(_asarray(xa == ya))
    return _wrap(_asarray(np.isclose(xa, ya, rtol=rtol, atol=atol, equal_nan=equal_nan)))


def allclose(
    input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False
) -> bool:
    """True when :func:`isclose` holds everywhere (a Python bool)."""
    return bool(isclose(input, other, rtol, atol, equal_nan)._a.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both have the same shape and elements (a Python bool)."""
    if input.shape != other.shape:
        return False
    return bool(np.array_equal(input._a, other._a))


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``."""
    return _m.clamp(input, min=min)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``."""
    return _m.clamp(input, max=max)


def clamp_min_(input: Tensor, min) -> Tensor:  # noqa: A002
    """In-place :func:`clamp_min`."""
    return _m.clamp_(input, min=min)


def clamp_max_(input: Tensor, max) -> Tensor:  # noqa: A002
    """In-place :func:`clamp_max`."""
    return _m.clamp_(input, max=max)


def sgn(input: Tensor) -> Tensor:
    """:func:`sign` for real tensors; ``z / |z|`` (0 at 0) for complex ones."""
    a = input._a
    if a.dtype.kind != "c":
        return _m.sign(input)
    mag = np.abs(a)
    with np.errstate(all="ignore"):
        r = np.where(mag == 0, 0, a / np.where(mag == 0, 1, mag))
    return _wrap(r.astype(a.dtype))


def positive(input: Tensor) -> Tensor:
    """``input`` itself (``+x``); bool tensors are refused, as in PyTorch."""
    if input._a.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def fix(input: Tensor) -> Tensor:
    """Alias of :func:`trunc`: round toward zero."""
    return _m.trunc(input)


def _softmax_dtype(input: Tensor, dtype):
    x = input if dtype is None else input.to(dtype)
    a = x._a
    if a.dtype.kind not in "fc" and a.dtype not in _HALF:
        raise RuntimeError(f"softmax: expected a floating point tensor, got {x.dtype}")
    return x, a


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x))`` along ``dim``, computed stably (max subtracted first)."""
    x, a = _softmax_dtype(input, dtype)
    d = _wrap_dim(dim, a.ndim)
    ca = a.astype(np.float32) if a.dtype in _HALF else a
    if ca.size == 0:
        return result(ca.astype(a.dtype), (x,), "softmax", d)
    m = np.max(ca, axis=d, keepdims=True) if ca.ndim else ca
    e = np.exp(ca - np.where(np.isfinite(m), m, 0))
    e /= e.sum(axis=d, keepdims=True)
    return result(e.astype(a.dtype, copy=False), (x,), "softmax", d)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``x - logsumexp(x)`` along ``dim``, computed stably."""
    x, a = _softmax_dtype(input, dtype)
    d = _wrap_dim(dim, a.ndim)
    ca = a.astype(np.float32) if a.dtype in _HALF else a
    if ca.size == 0:
        return result(ca.astype(a.dtype), (x,), "log_softmax", d)
    m = np.max(ca, axis=d, keepdims=True) if ca.ndim else ca
    s = ca - np.where(np.isfinite(m), m, 0)
    r = s - np.log(np.exp(s).sum(axis=d, keepdims=True))
    return result(r.astype(a.dtype, copy=False), (x,), "log_softmax", d)


def cov(input: Tensor, *, correction: int = 1, fweights=None, aweights=None) -> Tensor:
    """Covariance matrix of the variables in the rows of ``input`` (observations in columns)."""
    from ember._ops.linalg import matmul
    from ember._ops.reduce import mean as _mean

    if fweights is not None or aweights is not None:
        raise NotImplementedError("cov(): fweights and aweights are not supported yet")
    if input.dim() > 2:
        raise RuntimeError(
            f"cov(): expected input to have two or fewer dimensions, got {input.dim()}"
        )
    x = input if input.dim() == 2 else input.reshape(1, -1)
    if not x.is_floating_point():
        x = x.to(_dtype._default_float)
    n = x.shape[1]
    xc = x - _mean(x, 1, keepdim=True)
    c = matmul(xc, xc.transpose(0, 1)) / max(n - correction, 0)
    return c.reshape(()) if input.dim() < 2 else c


def corrcoef(input: Tensor) -> Tensor:
    """Pearson correlation coefficients of the variables in the rows of ``input``."""
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = _m.sqrt(c.diagonal())
    return _m.clamp(c / d.unsqueeze(1) / d.unsqueeze(0), -1, 1)


_DIFF = {
    "lgamma",
    "digamma",
    "polygamma",
    "mvlgamma",
    "erfinv",
    "sinc",
    "logit",
    "xlogy",
    "logaddexp",
    "logaddexp2",
    "deg2rad",
    "rad2deg",
    "nan_to_num",
    "ldexp",
    "clamp_min",
    "clamp_max",
    "sgn",
    "positive",
    "fix",
    "softmax",
    "log_softmax",
    "cov",
    "corrcoef",
}
_INPLACE = {"nan_to_num": "nan_to_num_", "clamp_min": "clamp_min_", "clamp_max": "clamp_max_"}
__all__ += ["nan_to_num_", "clamp_min_", "clamp_max_"]
for _name in __all__:
    if not _name.endswith("_"):
        register(
            _name,
            globals()[_name],
            "math",
            differentiable=_name in _DIFF,
            methods=(_name,),
            inplace=_INPLACE.get(_name),
        )
# The registry binds ``methods`` to the op's own function; the in-place forms are separate
# functions, so they are attached here.
for _name in _INPLACE.values():
    setattr(Tensor, _name, globals()[_name])
