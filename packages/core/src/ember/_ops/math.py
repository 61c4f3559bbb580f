"""Elementwise math: binary arithmetic and comparisons, unary functions, their
in-place variants, and the Python operators.

Each op is made by a factory from a table row, so the hot path (``a + b``) is a
single specialised Python function: a dtype identity test, one numpy ufunc (or,
above ``_C_MIN`` elements, one threaded C kernel), a new Tensor, and one
attribute test for autograd.
"""

from __future__ import annotations

import numpy as np

from ember import _dtype, _kernels_bridge
from ember import _tensor as _T
from ember._ops._dispatch import (
    as_scalar,
    mixed_device_arrays,
    promote_arrays,
    raise_binary,
    raise_inplace,
    result,
    scalar_compute_dtype,
)
from ember._ops._dispatch import asarray as _asarray
from ember._registry import register
from ember._tensor import Tensor, _wrap

_ndarray = np.ndarray
_np_bool = np.dtype(np.bool_)
_generic = np.generic
_big_binary = _kernels_bridge.binary
_big_unary = _kernels_bridge.unary
_C_MIN = _kernels_bridge.C_MIN


def _in_dtype(r, dt):
    """A computed-in-``dt`` result in ``dt``, except predicates (comparisons, logical
    ops), whose bool result stays bool."""
    return r if r.dtype == _np_bool else r.astype(dt, copy=False)


def _make_binary(name: str, ufunc, int_to_float: bool, doc: str):
    def op(input, other):
        xa = input._a
        if isinstance(other, Tensor):
            ya = other._a
            if type(ya) is not type(xa):  # devices differ: only a 0-d CPU tensor may join
                xa, ya = mixed_device_arrays(input, other)
            if xa.dtype is not ya.dtype:
                xa, ya = promote_arrays(input, other)
            if int_to_float and xa.dtype.kind in "biu":
                xa = xa.astype(_dtype._default_float.np)
                ya = ya.astype(xa.dtype)
            try:
                if xa.size >= _C_MIN:
                    r = _big_binary(name, ufunc, xa, ya)
                else:
                    r = ufunc(xa, ya)
            except (ValueError, TypeError) as exc:
                raise_binary(name, input, other, exc)
            if type(r) is not _ndarray and isinstance(r, _generic):
                r = _asarray(r)
            out = _wrap(r)
            if input._ag is not None or other._ag is not None:
                _T._engine.record(name, out, (input, other), None)
            return out
        if type(other) is not int and type(other) is not float:
            other = as_scalar(other, name)
        dt = scalar_compute_dtype(xa, other)
        if int_to_float and dt is None and xa.dtype.kind in "biu":
            dt = _dtype._default_float.np
        try:
            if dt is not None:
                r = _in_dtype(ufunc(xa.astype(dt), other), dt)
            elif xa.size >= _C_MIN:
                r = _big_binary(name, ufunc, xa, other)
            else:
                r = ufunc(xa, other)
        except (ValueError, TypeError, OverflowError) as exc:
            raise_binary(name, input, other, exc)
        if type(r) is not _ndarray and isinstance(r, _generic):
            r = _asarray(r)
        out = _wrap(r)
        if input._ag is not None:
            _T._engine.record(name, out, (input, other), None)
        return out

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _make_reflected(name: str, ufunc, int_to_float: bool):
    """``other <op> self`` for a Python number ``other``: no 0-d tensor is made, and the
    op records under its own name with the number as first input."""

    def rop(self, other):
        if isinstance(other, Tensor):
            return _TABLE[name](other, self)
        if type(other) is not int and type(other) is not float:
            other = as_scalar(other, name)
        xa = self._a
        dt = scalar_compute_dtype(xa, other)
        if int_to_float and dt is None and xa.dtype.kind in "biu":
            dt = _dtype._default_float.np
        try:
            r = _in_dtype(ufunc(other, xa.astype(dt)), dt) if dt is not None else ufunc(other, xa)
        except (ValueError, TypeError, OverflowError) as exc:
            raise_binary(name, other, self, exc)
        if type(r) is not _ndarray and isinstance(r, _generic):
            r = _asarray(r)
        out = _wrap(r)
        if self._ag is not None:
            _T._engine.record(name, out, (other, self), None)
        return out

    rop.__name__ = rop.__qualname__ = f"r{name}"
    rop.__doc__ = f"Reflected :func:`ember.{name}`: ``other`` op ``self``."
    return rop


def _make_inplace_binary(name: str, ufunc, outofplace):
    def op_(self, other):
        if self._ag is not None or (isinstance(other, Tensor) and other._ag is not None):
            if _T._engine.inplace(self, outofplace, (self, other), None):
                return self
        xa = self._a
        ya = other._a if isinstance(other, Tensor) else as_scalar(other, name + "_")
        if isinstance(other, Tensor) and ya.dtype != xa.dtype:
            rt = _dtype.result_type(self, other)
            if not _dtype.can_cast(rt, self.dtype):
                raise RuntimeError(
                    f"{name}_: result type {rt} can't be cast to the desired output type "
                    f"{self.dtype}"
                )
            ya = ya.astype(xa.dtype)
        elif not isinstance(other, Tensor) and xa.dtype.kind == "b" and type(ya) is not bool:
            raise RuntimeError(
                f"{name}_: result type {type(ya).__name__} can't be cast to the desired output "
                "type ember.bool"
            )
        try:
            ufunc(xa, ya, out=xa)
        except (ValueError, TypeError, OverflowError) as exc:
            raise_inplace(name + "_", self, other, exc)
        v = self._ver
        if v is None:
            self._ver = [1]
        else:
            v[0] += 1
        return self

    op_.__name__ = op_.__qualname__ = name + "_"
    op_.__doc__ = f"In-place version of :func:`ember.{name}`; returns self."
    return op_


def _make_unary(name: str, fn, float_out: bool, doc: str):
    def op(input):
        xa = input._a
        if float_out and xa.dtype.kind in "biu":
            xa = xa.astype(_dtype._default_float.np)
        if xa.size >= _C_MIN:
            r = _big_unary(name, fn, xa)
        else:
            r = fn(xa)
        if type(r) is not _ndarray and isinstance(r, _generic):
            r = _asarray(r)
        out = _wrap(r)
        if input._ag is not None:
            _T._engine.record(name, out, (input,), None)
        return out

    op.__name__ = op.__qualname__ = name
    op.__doc__ = doc
    return op


def _make_inplace_unary(name: str, fn, outofplace):
    def op_(self):
        if self._ag is not None and _T._engine.inplace(self, outofplace, (self,), None):
            return self
        xa = self._a
        r = fn(xa)
        if r.dtype != xa.dtype and not np.can_cast(r.dtype, xa.dtype, "same_kind"):
            raise RuntimeError(
                f"{name}_: result type {_dtype.from_numpy_dtype(r.dtype)} can't be cast to the "
                f"desired output type {self.dtype}"
            )
        xa[...] = r
        self._bump()
        return self

    op_.__name__ = op_.__qualname__ = name + "_"
    op_.__doc__ = f"In-place version of :func:`ember.{name}`; returns self."
    return op_


# ----- numpy has no direct ufunc for these -----
def _sigmoid(a):
    # The C kernel is exact (< 1 ulp) and, at ~2 us, cheaper than the six numpy calls the
    # overflow-free formula needs even for tiny arrays; numpy covers everything else.
    if type(a) is _ndarray and _kernels_bridge._supported("sigmoid", a.dtype):
        return _big_unary("sigmoid", _sigmoid_numpy, a)
    return _sigmoid_numpy(a)


def _sigmoid_numpy(a):
    # exp(-|x|) never overflows; both branches are exact where they are used.
    e = np.exp(-np.abs(a))
    return np.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)


def _relu(a):
    return np.maximum(a, a.dtype.type(0))


def _rsqrt(a):
    return np.reciprocal(np.sqrt(a))


def _erf_any(a):
    if type(a) is not _ndarray and hasattr(a, "__cuda_array_interface__"):
        return _cuda_unary("erf", a)  # numpy and CuPy have no erf ufunc: ember's kernel
    return _kernels_bridge.unary_required("erf", a)


def _erfc_any(a):
    if type(a) is not _ndarray and hasattr(a, "__cuda_array_interface__"):
        return _cuda_unary("erfc", a)
    return _kernels_bridge.unary_required("erfc", a)


def _cuda_unary(name: str, a):
    from ember._cuda.elementwise import unary

    return unary(name, a)


def _frac(a):
    return a - np.trunc(a)


def _silu(a):
    return a * _sigmoid(a)


def _neg(a):
    if a.dtype.kind == "b":
        raise RuntimeError(
            "Negation, the `-` operator, on a bool tensor is not supported. "
            "Use the `~` or `logical_not()` operator instead."
        )
    return np.negative(a)


def _round(a):
    # numpy rounds a bool array into float16; like floor/ceil/trunc, bool stays bool
    return np.round(a) if a.dtype.kind != "b" else a.copy()


def _sign(a):
    return np.sign(a) if a.dtype.kind != "b" else a.copy()


def _abs(a):
    return np.abs(a) if a.dtype.kind != "b" else a.copy()


def _bitwise_not(a):
    if a.dtype.kind not in "biu":
        raise TypeError(f"bitwise_not: expected an integer or bool tensor, got {a.dtype}")
    return np.invert(a)


# name, implementation, float_out (integer inputs compute in the default float), doc
_UNARY = [
    ("exp", np.exp, True, "Elementwise e**x."),
    ("exp2", np.exp2, True, "Elementwise 2**x."),
    ("expm1", np.expm1, True, "Elementwise exp(x) - 1, accurate near 0."),
    ("log", np.log, True, "Elementwise natural logarithm."),
    ("log2", np.log2, True, "Elementwise base-2 logarithm."),
    ("log10", np.log10, True, "Elementwise base-10 logarithm."),
    ("log1p", np.log1p, True, "Elementwise log(1 + x), accurate near 0."),
    ("sqrt", np.sqrt, True, "Elementwise square root."),
    ("rsqrt", _rsqrt, True, "Elementwise 1 / sqrt(x)."),
    ("sin", np.sin, True, "Elementwise sine."),
    ("cos", np.cos, True, "Elementwise cosine."),
    ("tan", np.tan, True, "Elementwise tangent."),
    ("asin", np.arcsin, True, "Elementwise arcsine."),
    ("acos", np.arccos, True, "Elementwise arccosine."),
    ("atan", np.arctan, True, "Elementwise arctangent."),
    ("sinh", np.sinh, True, "Elementwise hyperbolic sine."),
    ("cosh", np.cosh, True, "Elementwise hyperbolic cosine."),
    ("tanh", np.tanh, True, "Elementwise hyperbolic tangent."),
    ("asinh", np.arcsinh, True, "Elementwise inverse hyperbolic sine."),
    ("acosh", np.arccosh, True, "Elementwise inverse hyperbolic cosine."),
    ("atanh", np.arctanh, True, "Elementwise inverse hyperbolic tangent."),
    ("sigmoid", _sigmoid, True, "Elementwise logistic function 1 / (1 + exp(-x))."),
    ("erf", _erf_any, True, "Elementwise Gauss error function."),
    ("erfc", _erfc_any, True, "Elementwise complementary error function 1 - erf(x)."),
    ("reciprocal", np.reciprocal, True, "Elementwise 1 / x."),
    ("neg", _neg, False, "Elementwise -x."),
    ("abs", _abs, False, "Elementwise absolute value."),
    ("sign", _sign, False, "Elementwise sign: -1, 0 or 1."),
    ("square", np.square, False, "Elementwise x * x."),
    ("relu", _relu, False, "Elementwise max(x, 0)."),
    ("silu", _silu, True, "Elementwise x * sigmoid(x)."),
    ("floor", np.floor, False, "Elementwise floor (integers unchanged)."),
    ("ceil", np.ceil, False, "Elementwise ceiling (integers unchanged)."),
    ("round", _round, False, "Elementwise round half to even."),
    ("trunc", np.trunc, False, "Elementwise truncation toward zero."),
    ("frac", _frac, False, "Elementwise fractional part x - trunc(x)."),
    ("bitwise_not", _bitwise_not, False, "Elementwise bitwise NOT (logical NOT for bool)."),
]
_NON_DIFF_UNARY = {"sign", "floor", "ceil", "round", "trunc", "bitwise_not"}
_UNARY_PRED = [
    ("logical_not", np.logical_not, "Elementwise logical NOT, giving a bool tensor."),
    ("isnan", np.isnan, "True where the element is NaN."),
    ("isinf", np.isinf, "True where the element is +inf or -inf."),
    ("isfinite", np.isfinite, "True where the element is neither inf nor NaN."),
    ("isposinf", np.isposinf, "True where the element is +inf."),
    ("isneginf", np.isneginf, "True where the element is -inf."),
    ("signbit", np.signbit, "True where the sign bit is set."),
]

# name, ufunc, integer inputs compute in the default float, differentiable, doc
_BINARY = [
    ("add", np.add, False, True, "Elementwise input + other, with broadcasting."),
    ("sub", np.subtract, False, True, "Elementwise input - other, with broadcasting."),
    ("mul", np.multiply, False, True, "Elementwise input * other, with broadcasting."),
    ("div", np.true_divide, True, True, "Elementwise true division input / other."),
    ("floor_divide", np.floor_divide, False, False, "Elementwise floor(input / other)."),
    (
        "remainder",
        np.remainder,
        False,
        True,
        "Elementwise Python-style modulus (the result has the sign of the divisor).",
    ),
    (
        "fmod",
        np.fmod,
        False,
        True,
        "Elementwise C-style remainder (the result has the sign of the dividend).",
    ),
    ("pow", np.power, False, True, "Elementwise input ** exponent."),
    ("maximum", np.maximum, False, True, "Elementwise maximum (NaN propagates)."),
    ("minimum", np.minimum, False, True, "Elementwise minimum (NaN propagates)."),
    ("fmax", np.fmax, False, True, "Elementwise maximum ignoring NaN."),
    ("fmin", np.fmin, False, True, "Elementwise minimum ignoring NaN."),
    ("atan2", np.arctan2, True, True, "Elementwise arctangent of input / other by quadrant."),
    ("hypot", np.hypot, True, True, "Elementwise sqrt(input**2 + other**2)."),
    ("copysign", np.copysign, True, True, "Elementwise magnitude of input, sign of other."),
    ("eq", np.equal, False, False, "Elementwise input == other, giving a bool tensor."),
    ("ne", np.not_equal, False, False, "Elementwise input != other, giving a bool tensor."),
    ("lt", np.less, False, False, "Elementwise input < other, giving a bool tensor."),
    ("le", np.less_equal, False, False, "Elementwise input <= other, giving a bool tensor."),
    ("gt", np.greater, False, False, "Elementwise input > other, giving a bool tensor."),
    ("ge", np.greater_equal, False, False, "Elementwise input >= other, giving a bool tensor."),
    ("logical_and", np.logical_and, False, False, "Elementwise logical AND (bool result)."),
    ("logical_or", np.logical_or, False, False, "Elementwise logical OR (bool result)."),
    ("logical_xor", np.logical_xor, False, False, "Elementwise logical XOR (bool result)."),
    ("bitwise_and", np.bitwise_and, False, False, "Elementwise bitwise AND."),
    ("bitwise_or", np.bitwise_or, False, False, "Elementwise bitwise OR."),
    ("bitwise_xor", np.bitwise_xor, False, False, "Elementwise bitwise XOR."),
    ("bitwise_left_shift", np.left_shift, False, False, "Elementwise input << other."),
    ("bitwise_right_shift", np.right_shift, False, False, "Elementwise input >> other."),
]
_HAS_INPLACE = {
    "add",
    "sub",
    "mul",
    "div",
    "floor_divide",
    "remainder",
    "fmod",
    "pow",
    "atan2",
    "hypot",
    "copysign",
    "logical_and",
    "logical_or",
    "logical_xor",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
    "bitwise_left_shift",
    "bitwise_right_shift",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
}

_ns = globals()
__all__ = []

for _name, _fn, _float_out, _doc in _UNARY:
    _op = _make_unary(_name, _fn, _float_out, _doc)
    _op_ = _make_inplace_unary(_name, _fn, _op)
    _ns[_name], _ns[_name + "_"] = _op, _op_
    __all__ += [_name, _name + "_"]
    register(
        _name,
        _op,
        "unary",
        differentiable=_name not in _NON_DIFF_UNARY,
        methods=(_name,),
        inplace=_name + "_",
    )
for _name, _fn, _doc in _UNARY_PRED:
    _op = _make_unary(_name, _fn, False, _doc)
    _ns[_name] = _op
    __all__.append(_name)
    register(_name, _op, "unary", differentiable=False, methods=(_name,))

_TABLE = {}
_REFLECTED = {}
for _name, _fn, _i2f, _diff, _doc in _BINARY:
    _op = _make_binary(_name, _fn, _i2f, _doc)
    _ns[_name] = _TABLE[_name] = _op
    _REFLECTED[_name] = _make_reflected(_name, _fn, _i2f)
    __all__.append(_name)
    _inplace = None
    if _name in _HAS_INPLACE:
        _ns[_name + "_"] = _make_inplace_binary(_name, _fn, _op)
        __all__.append(_name + "_")
        _inplace = _name + "_"
    register(_name, _op, "binary", differentiable=_diff, methods=(_name,), inplace=_inplace)

_add_plain, _sub_plain = add, sub  # noqa: F821 - defined by the loop above


def add(input, other, *, alpha=1, out=None):  # noqa: F811 - adds alpha/out to the table op
    """Elementwise ``input + alpha * other``, with broadcasting and type promotion."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha  # noqa: F821
    r = _add_plain(input, other)
    return r if out is None else _write_out(out, r)


def sub(input, other, *, alpha=1, out=None):  # noqa: F811
    """Elementwise ``input - alpha * other``, with broadcasting and type promotion."""
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha  # noqa: F821
    r = _sub_plain(input, other)
    return r if out is None else _write_out(out, r)


def _write_out(out: Tensor, r: Tensor) -> Tensor:
    """Store result ``r`` into ``out`` (resized when empty, as PyTorch's out= does)."""
    if out.shape != r.shape:
        if out.numel() != 0:
            raise RuntimeError(
                f"out= tensor has shape {tuple(out.shape)} but the result has shape "
                f"{tuple(r.shape)}"
            )
        out._a = np.empty(r._a.shape, out._a.dtype, like=out._a)
    out._a[...] = r._a
    out._bump()
    return out


def rsub(input, other, *, alpha=1):
    """``other - alpha * input`` (the reflected subtraction)."""
    return sub(_scalar_like(other), input, alpha=alpha)


def _scalar_like(x):
    """A Python number as a 0-d tensor of PyTorch's scalar dtype (weak in promotion)."""
    if isinstance(x, Tensor):
        return x
    x = as_scalar(x, "operator")
    dt = _dtype._default_for(_dtype._scalar_category(x))
    return _wrap(_asarray(x, dtype=dt.np))


def true_divide(input, other):
    """Alias of :func:`div`."""
    return div(input, other)  # noqa: F821


def clamp(input, min=None, max=None):  # noqa: A002 - PyTorch's names
    """Limit every element to ``[min, max]`` (either bound may be None or a tensor)."""
    if min is None and max is None:
        raise RuntimeError("clamp: at least one of 'min' or 'max' must not be None")
    lo = min._a if isinstance(min, Tensor) else min
    hi = max._a if isinstance(max, Tensor) else max
    xa = input._a
    rt = _dtype.result_type(*(v for v in (input, min, max) if v is not None)).np
    if xa.dtype != rt:
        xa = xa.astype(rt)
    try:
        if lo is None:
            r = np.minimum(xa, hi)
        elif hi is None:
            r = np.maximum(xa, lo)
        else:
            r = np.minimum(np.maximum(xa, lo), hi)
    except ValueError as exc:
        bounds = [f"{n} {tuple(b.shape)}" for n, b in (("min", min), ("max", max))
                  if isinstance(b, Tensor)]  # fmt: skip
        raise RuntimeError(
            f"clamp: the bounds must broadcast to the input's shape {tuple(input.shape)}; "
            f"got {' and '.join(bounds)}"
        ) from exc
    if r.dtype != rt:
        r = r.astype(rt)
    return result(r, (input, min, max), "clamp")


def clamp_(input, min=None, max=None):  # noqa: A002
    """In-place :func:`clamp`; returns self."""
    if input._ag is not None and _T._engine.inplace(input, clamp, (input, min, max), None):
        return input
    lo = min._a if isinstance(min, Tensor) else min
    hi = max._a if isinstance(max, Tensor) else max
    xa = input._a
    if lo is not None:
        np.maximum(xa, lo, out=xa)
    if hi is not None:
        np.minimum(xa, hi, out=xa)
    input._bump()
    return input


def lerp(input, end, weight):
    """``input + weight * (end - input)``."""
    return add(input, mul(sub(end, input), weight))  # noqa: F821


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``."""
    return add(input, mul(mul(tensor1, tensor2), value))  # noqa: F821


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``."""
    return add(input, mul(div(tensor1, tensor2), value))  # noqa: F821


def float_power(input, exponent):
    """``input ** exponent`` computed in float64."""
    x = input.to(_dtype.float64) if isinstance(input, Tensor) else input
    e = exponent.to(_dtype.float64) if isinstance(exponent, Tensor) else float(exponent)
    return pow(x, e)  # noqa: F821


for _name, _fn, _kind in [
    ("clamp", clamp, "ternary"),
    ("lerp", lerp, "composite"),
    ("addcmul", addcmul, "composite"),
    ("addcdiv", addcdiv, "composite"),
    ("rsub", rsub, "composite"),
    ("float_power", float_power, "composite"),
    ("true_divide", true_divide, "composite"),
]:
    register(_name, _fn, _kind, methods=(_name,), inplace="clamp_" if _name == "clamp" else None)
__all__ += [
    "add",
    "sub",
    "rsub",
    "clamp",
    "clamp_",
    "lerp",
    "addcmul",
    "addcdiv",
    "float_power",
    "true_divide",
]
clip = clamp
clip_ = clamp_
multiply, subtract, divide, negative, absolute = mul, sub, div, neg, abs  # noqa: F821
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne  # noqa: F821
arcsin, arccos, arctan, arctan2 = asin, acos, atan, atan2  # noqa: F821
arcsinh, arccosh, arctanh = asinh, acosh, atanh  # noqa: F821
__all__ += [
    "clip",
    "clip_",
    "multiply",
    "subtract",
    "divide",
    "negative",
    "absolute",
    "greater",
    "greater_equal",
    "less",
    "less_equal",
    "not_equal",
    "arcsin",
    "arccos",
    "arctan",
    "arctan2",
    "arcsinh",
    "arccosh",
    "arctanh",
]
