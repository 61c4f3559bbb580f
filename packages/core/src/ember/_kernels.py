"""numpy-facing wrappers over ember's threaded CPU kernels (``ember._C``).

Every function takes numpy arrays with any strides (negative, zero from broadcasting,
transposed), 0-d and empty arrays, up to 16 dims, and writes into ``out``. The core calls
these above ``MIN_PARALLEL_NUMEL`` elements, where they beat numpy; below it numpy's
lower call overhead wins. ``supports(op, dtype)`` says which (op, dtype) pairs the C
library implements; anything else raises ``TypeError`` naming the op and dtype, and the
caller falls back to numpy.

Semantics are numpy's (NaN propagation, integer wrap-around, Python-style remainder,
unsafe casts) except argmax/argmin and cummax/cummin, which follow PyTorch.
"""

from __future__ import annotations

import numpy as np

from ember._C import ffi, lib

__all__ = [
    "BINARY_OPS",
    "CUMULATIVE_OPS",
    "MIN_PARALLEL_NUMEL",
    "REDUCE_OPS",
    "UNARY_OPS",
    "argreduce",
    "binary",
    "binary_scalar",
    "cast",
    "clamp",
    "cumulative",
    "get_num_threads",
    "reduce",
    "set_num_threads",
    "std",
    "supports",
    "unary",
    "var",
    "where",
]

# Element count from which the C kernels beat numpy on this class of machine (measured
# with benchmarks/bench_kernels.py: float32 add, sum and exp, 2 threads, on a loaded
# 2-core machine; OpenMP wake-up costs ~10 us, so below this numpy wins).
MIN_PARALLEL_NUMEL = 1 << 18

# Orders are the ABI with the C enums (kernel_common.inc, elementwise.c, reduce.c, ...).
_DTYPE_NAMES = (
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
)
BINARY_OPS = (
    "add",
    "sub",
    "mul",
    "div",
    "maximum",
    "minimum",
    "pow",
    "fmod",
    "remainder",
    "atan2",
    "hypot",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "logical_and",
    "logical_or",
    "logical_xor",
    "bitwise_and",
    "bitwise_or",
    "bitwise_xor",
)
UNARY_OPS = (
    "neg",
    "abs",
    "exp",
    "exp2",
    "expm1",
    "log",
    "log2",
    "log10",
    "log1p",
    "sqrt",
    "rsqrt",
    "reciprocal",
    "square",
    "sin",
    "cos",
    "tan",
    "asin",
    "acos",
    "atan",
    "sinh",
    "cosh",
    "tanh",
    "asinh",
    "acosh",
    "atanh",
    "sigmoid",
    "relu",
    "silu",
    "gelu",
    "erf",
    "erfc",
    "floor",
    "ceil",
    "round",
    "trunc",
    "sign",
    "logical_not",
    "bitwise_not",
    "isnan",
    "isinf",
    "isfinite",
)
REDUCE_OPS = ("sum", "prod", "mean", "amax", "amin", "any", "all", "norm2", "logsumexp")
_C_REDUCE = {name: i for i, name in enumerate(REDUCE_OPS)}
_C_REDUCE.update(logsumexp=8, _var=9)
CUMULATIVE_OPS = ("cumsum", "cumprod", "cummax", "cummin", "logcumsumexp")
_BIN = {n: i for i, n in enumerate(BINARY_OPS)}
_UN = {n: i for i, n in enumerate(UNARY_OPS)}
_CUM = {n: i for i, n in enumerate(CUMULATIVE_OPS)}
_BOOL_OUT_BIN = frozenset(BINARY_OPS[11:20])
_BOOL_OUT_UN = frozenset(("logical_not", "isnan", "isinf", "isfinite"))
_MAXDIM = 16

_ERRORS = {
    -1: (ValueError, "the number of dims must be between 0 and 16"),
    -2: (ValueError, "a size is negative or the element count overflows int64"),
    -3: (ValueError, "an operand's strides address memory outside its buffer"),
    -4: (ValueError, "unknown op code"),
    -5: (TypeError, "this op is not implemented for this dtype"),
    -6: (ValueError, "a data pointer or stride is not aligned to the dtype"),
    -7: (ValueError, "invalid argument"),
    -8: (ValueError, "the output has a zero stride (it is a broadcast view)"),
}


def _dtype_codes() -> dict:
    codes = {}
    for i, name in enumerate(_DTYPE_NAMES):
        if name == "bfloat16":
            try:
                import ml_dtypes

                codes[np.dtype(ml_dtypes.bfloat16)] = i
            except ImportError:  # pragma: no cover - ml_dtypes is a core dependency
                pass
        else:
            codes[np.dtype(name)] = i
    return codes


_CODES = _dtype_codes()


def _code(dtype, op: str) -> int:
    code = _CODES.get(np.dtype(dtype))
    if code is None:
        raise TypeError(f"ember kernel {op!r}: dtype {np.dtype(dtype)} is not supported")
    return code


def _check(rc: int, op: str, dtype) -> None:
    if rc:
        exc, msg = _ERRORS.get(rc, (RuntimeError, f"kernel error {rc}"))
        raise exc(f"ember kernel {op!r} ({np.dtype(dtype)}): {msg}")


def supports(op: str, dtype) -> bool:
    """Whether the C library implements ``op`` for arrays of ``dtype``.

    ``op`` is any name in BINARY_OPS, UNARY_OPS, REDUCE_OPS, CUMULATIVE_OPS, or
    ``cast``, ``where``, ``clamp``, ``var``, ``std``, ``argmax``, ``argmin``. Supported:
    binary/unary/clamp/reductions/arg/cumulative for bool, uint8, int8, int16, int32,
    int64, float32 and float64 wherever numpy defines the op (``div``, ``atan2``,
    ``hypot`` and the transcendental unary ops for floats only, ``sub``/``neg`` not for
    bool); ``cast`` and ``where`` for every ember dtype (incl. float16, bfloat16,
    complex64).
    """
    code = _CODES.get(np.dtype(dtype))
    if code is None:
        return False
    if op in ("cast", "where"):
        return True
    if op in _BIN:
        return bool(lib.em_binary_supported(_BIN[op], code))
    if op in _UN:
        return bool(lib.em_unary_supported(_UN[op], code))
    if op == "clamp":
        return 1 <= code <= 5 or code in (8, 9)
    if op in _C_REDUCE or op in ("var", "std"):
        c_op = _C_REDUCE.get(op, 9)
        return bool(lib.em_reduce_supported(c_op, code, 9))
    if op in ("argmax", "argmin") or op in ("cummax", "cummin"):
        return code <= 5 or code in (8, 9)
    if op in ("cumsum", "cumprod"):
        return code <= 5 or code in (8, 9)
    if op == "logcumsumexp":
        return code in (8, 9)
    return False


# ---------------------------------------------------------------- operand plumbing


def _root(a: np.ndarray) -> np.ndarray:
    """The array that owns ``a``'s memory (following views and as_strided wrappers)."""
    root = a
    while True:
        b = root.base
        if isinstance(b, np.ndarray):
            root = b
        elif b is not None and isinstance(getattr(b, "base", None), np.ndarray):
            root = b.base
        else:
            return root


def _extent(a: np.ndarray, ptr: int) -> tuple[int, int]:
    """Byte range [lo, hi) of ``a``'s underlying buffer, relative to ``ptr``."""
    root = _root(a)
    lo, hi = np.lib.array_utils.byte_bounds(root)
    return lo - ptr, hi - ptr


def _bstrides(a: np.ndarray, shape: tuple, name: str) -> list:
    """Strides of ``a`` broadcast to ``shape`` (numpy's rules), zero where broadcast."""
    nd, ad = len(shape), a.ndim
    if ad > nd:
        raise ValueError(f"{name} with shape {a.shape} cannot broadcast to {shape}")
    st = [0] * (nd - ad)
    for size, asize, s in zip(shape[nd - ad :], a.shape, a.strides):
        if asize == size:
            st.append(s if size != 1 else 0)
        elif asize == 1:
            st.append(0)
        else:
            raise ValueError(f"{name} with shape {a.shape} cannot broadcast to {shape}")
    return st


class _Ops:
    """C argument arrays for one call: pointers, strides (operand-major), extents."""

    __slots__ = ("ptrs", "strides", "extents", "keep")

    def __init__(self, shape: tuple, arrays: list, names: list):
        ptrs, strides, extents = [], [], []
        for a, name in zip(arrays, names):
            ptr = a.ctypes.data
            ptrs.append(ffi.cast("char *", ptr))
            strides += _bstrides(a, shape, name)
            extents += _extent(a, ptr)
        self.keep = arrays
        self.ptrs = ffi.new("char *[]", ptrs)
        self.strides = ffi.new("int64_t[]", strides or [0])
        self.extents = ffi.new("int64_t[]", extents)


def _check_out(out, shape: tuple, dtype, op: str) -> None:
    if not isinstance(out, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: out must be a numpy array, got {type(out)}")
    if out.shape != tuple(shape):
        raise ValueError(f"ember kernel {op!r}: out has shape {out.shape}, expected {shape}")
    if out.dtype != dtype:
        raise TypeError(f"ember kernel {op!r}: out has dtype {out.dtype}, expected {dtype}")
    if not out.flags.writeable:
        raise ValueError(f"ember kernel {op!r}: out is read-only")
    if out.ndim > _MAXDIM:
        raise ValueError(f"ember kernel {op!r}: at most {_MAXDIM} dims, got {out.ndim}")


def _input(x, out: np.ndarray, name: str, op: str) -> np.ndarray:
    """Validate an input; copy it when it overlaps ``out`` other than element for element."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: {name} must be a numpy array, got {type(x)}")
    if x.ndim > _MAXDIM:
        raise ValueError(f"ember kernel {op!r}: at most {_MAXDIM} dims, got {x.ndim}")
    if out.size and x.size and np.may_share_memory(x, out):
        same = (
            x.ctypes.data == out.ctypes.data
            and x.itemsize == out.itemsize
            and _bstrides(x, out.shape, name) == list(out.strides)
        )
        if not same:
            return x.copy()
    return x


# ---------------------------------------------------------------- elementwise


def binary(op: str, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = x op y`` with numpy broadcasting; x and y share one dtype.

    ``out`` has the broadcast shape, x's dtype (bool for comparisons and logical ops).
    """
    code = _BIN.get(op)
    if code is None:
        raise ValueError(f"unknown binary op {op!r}; expected one of {BINARY_OPS}")
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: x and y must be numpy arrays")
    if x.dtype != y.dtype:
        raise TypeError(f"ember kernel {op!r}: x is {x.dtype} but y is {y.dtype}")
    dt = _code(x.dtype, op)
    if not lib.em_binary_supported(code, dt):
        raise TypeError(f"ember kernel {op!r} does not support dtype {x.dtype}")
    odt = np.dtype(np.bool_) if op in _BOOL_OUT_BIN else x.dtype
    _check_out(out, out.shape, odt, op)
    x = _input(x, out, "x", op)
    y = _input(y, out, "y", op)
    o = _Ops(out.shape, [out, x, y], ["out", "x", "y"])
    _check(lib.em_binary(code, dt, out.ndim, out.shape, o.ptrs, o.strides, o.extents), op, x.dtype)
    return out


def _scalar_array(scalar, dtype: np.dtype, op: str) -> np.ndarray:
    """A 0-d array of x's dtype holding ``scalar``: rounded for float x, exact otherwise."""
    s = np.asarray(scalar)
    if s.ndim != 0 or s.dtype.kind not in "biuf":
        raise TypeError(f"ember kernel {op!r}: scalar must be a real number, got {scalar!r}")
    if dtype.kind == "f":
        return s.astype(dtype)
    if s.dtype.kind == "f" or (dtype.kind == "b" and s.dtype.kind != "b"):
        raise TypeError(f"ember kernel {op!r}: scalar {scalar!r} is not a {dtype} value")
    v = s.astype(dtype)
    if v != s:
        raise TypeError(f"ember kernel {op!r}: scalar {scalar!r} does not fit {dtype}")
    return v


def binary_scalar(
    op: str, x: np.ndarray, scalar, out: np.ndarray, reverse: bool = False
) -> np.ndarray:
    """``out[...] = x op scalar`` (``scalar op x`` when ``reverse``); no temporary array.

    The scalar must be exactly representable in x's dtype (else TypeError: the caller
    promotes, as PyTorch does for ``int_tensor + 2.5``).
    """
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: x must be a numpy array, got {type(x)}")
    s = _scalar_array(scalar, x.dtype, op)
    return binary(op, s, x, out) if reverse else binary(op, x, s, out)


def unary(op: str, x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = op(x)``; out has x's shape and dtype (bool for isnan/isinf/isfinite/
    logical_not). ``round`` rounds half to even; ``gelu`` is the exact (erf) form."""
    code = _UN.get(op)
    if code is None:
        raise ValueError(f"unknown unary op {op!r}; expected one of {UNARY_OPS}")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: x must be a numpy array, got {type(x)}")
    dt = _code(x.dtype, op)
    if not lib.em_unary_supported(code, dt):
        raise TypeError(f"ember kernel {op!r} does not support dtype {x.dtype}")
    odt = np.dtype(np.bool_) if op in _BOOL_OUT_UN else x.dtype
    _check_out(out, x.shape, odt, op)
    x = _input(x, out, "x", op)
    o = _Ops(out.shape, [out, x], ["out", "x"])
    _check(lib.em_unary(code, dt, out.ndim, out.shape, o.ptrs, o.strides, o.extents), op, x.dtype)
    return out


def clamp(x: np.ndarray, lo: float | None, hi: float | None, out: np.ndarray) -> np.ndarray:
    """``out = min(max(x, lo), hi)`` as PyTorch's clamp (NaN stays NaN; lo > hi gives hi).
    For integer x, lo rounds up and hi rounds down."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel 'clamp': x must be a numpy array, got {type(x)}")
    dt = _code(x.dtype, "clamp")
    _check_out(out, x.shape, x.dtype, "clamp")
    x = _input(x, out, "x", "clamp")
    o = _Ops(out.shape, [out, x], ["out", "x"])
    rc = lib.em_clamp(
        dt,
        out.ndim,
        out.shape,
        o.ptrs,
        o.strides,
        o.extents,
        lo is not None,
        0.0 if lo is None else float(lo),
        hi is not None,
        0.0 if hi is None else float(hi),
    )
    _check(rc, "clamp", x.dtype)
    return out


def where(cond: np.ndarray, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out = cond ? x : y`` with broadcasting; cond is bool, x and y share out's dtype."""
    for name, a in (("cond", cond), ("x", x), ("y", y)):
        if not isinstance(a, np.ndarray):
            raise TypeError(f"ember kernel 'where': {name} must be a numpy array")
    if cond.dtype != np.bool_:
        raise TypeError(f"ember kernel 'where': cond must be bool, got {cond.dtype}")
    if x.dtype != out.dtype or y.dtype != out.dtype:
        raise TypeError(
            f"ember kernel 'where': x ({x.dtype}), y ({y.dtype}) and out "
            f"({out.dtype}) must share one dtype"
        )
    dt = _code(out.dtype, "where")
    _check_out(out, out.shape, out.dtype, "where")
    arrs = [out] + [_input(a, out, n, "where") for n, a in (("cond", cond), ("x", x), ("y", y))]
    o = _Ops(out.shape, arrs, ["out", "cond", "x", "y"])
    _check(lib.em_where(dt, out.ndim, out.shape, o.ptrs, o.strides, o.extents), "where", out.dtype)
    return out


def cast(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = x.astype(out.dtype)`` (numpy's unsafe casting), x broadcast to out."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel 'cast': x must be a numpy array, got {type(x)}")
    sdt, ddt = _code(x.dtype, "cast"), _code(out.dtype, "cast")
    _check_out(out, out.shape, out.dtype, "cast")
    x = _input(x, out, "x", "cast")
    o = _Ops(out.shape, [out, x], ["out", "x"])
    _check(
        lib.em_cast(sdt, ddt, out.ndim, out.shape, o.ptrs, o.strides, o.extents), "cast", x.dtype
    )
    return out


def get_num_threads() -> int:
    """Number of OpenMP threads the kernels use."""
    return int(lib.em_get_num_threads())


def set_num_threads(n: int) -> None:
    """Set the number of OpenMP threads the kernels use (n >= 1)."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"set_num_threads expects an int >= 1, got {n!r}")
    lib.em_set_num_threads(n)


from ember._kernels_reduce import argreduce, cumulative, reduce, std, var  # noqa: E402
