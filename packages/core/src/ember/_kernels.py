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

# Element count from which the C kernels are used. Alone, they beat numpy from 65536
# elements (benchmarks/bench_kernels.py's crossover table, float32 add/sum/exp, wrapper
# and fresh result included, 2 threads, 2-core Xeon at load ~2: 0.46/0.58/0.60 of
# numpy's time at 65536; add still loses 1.6x at 32768). But in a workload that mixes
# them with BLAS (bench_core.py's two-layer net: the 1000x100 weight update crosses
# 65536) waking OpenMP workers between GEMMs costs more than they save: 0.5-0.8x numpy
# at 1 << 16 against 0.92x at 1 << 18. Hence 1 << 18.
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
# The plumbing is on every call's path, so it avoids numpy's slow attribute helpers
# (``a.ctypes``, ``byte_bounds``: microseconds each) and cffi's list conversions: dense
# operands go through the 1-d entry points with scalar arguments.

_from_buffer = ffi.from_buffer
_cast = ffi.cast


def _ptr(a: np.ndarray):
    """A ``char *`` cdata to ``a``'s first element; keep ``a`` alive while it is used."""
    if a.flags.c_contiguous:
        return _from_buffer(a)  # ~0.3 us, against ~1 us for a.ctypes.data
    return _cast("char *", a.ctypes.data)


def _bounds(a: np.ndarray) -> tuple[int, int]:
    """Byte range [lo, hi) that ``a`` itself addresses, relative to its first element."""
    if a.flags.c_contiguous:
        return 0, a.nbytes
    if a.size == 0:
        return 0, 0
    lo = hi = 0
    for n, s in zip(a.shape, a.strides):
        if s < 0:
            lo += (n - 1) * s
        else:
            hi += (n - 1) * s
    return lo, hi + a.itemsize


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


def _nd_args(shape: tuple, arrays: list, names: list) -> tuple:
    """(keep, ptrs, strides, extents) C arguments for operands of any layout."""
    ptrs, strides, extents = [], [], []
    for a, name in zip(arrays, names):
        ptrs.append(_ptr(a))
        strides += _bstrides(a, shape, name)
        extents += _bounds(a)
    return (
        ptrs,  # the cdata above keep their arrays alive
        ffi.new("char *[]", ptrs),
        ffi.new("int64_t[]", strides or [0]),
        ffi.new("int64_t[]", extents),
    )


def _step(a: np.ndarray, out: np.ndarray, c_order: bool) -> int:
    """Byte step of ``a`` in a 1-d walk over dense ``out`` (C order when ``c_order``,
    else F order): its item size when it is dense in the same order with out's shape,
    0 for a single broadcast element, -1 when it cannot be walked that way."""
    if a.shape == out.shape:
        f = a.flags
        return a.itemsize if (f.c_contiguous if c_order else f.f_contiguous) else -1
    if a.size == 1 and a.ndim <= out.ndim:
        return 0
    return -1


def _order(out: np.ndarray) -> int:
    """1 when ``out`` is C-contiguous, 2 when F-contiguous, 0 otherwise."""
    f = out.flags
    return 1 if f.c_contiguous else (2 if f.f_contiguous else 0)


def _base_ptr(a: np.ndarray):
    """``char *`` to the lowest-addressed element of a dense (C or F order) array."""
    if a.flags.c_contiguous:
        return _from_buffer(a)
    return _from_buffer(a.T)  # F-contiguous: its transpose is C-contiguous, same memory


def _binary_run(code: int, dt: int, x: np.ndarray, y: np.ndarray, out: np.ndarray, op: str):
    """Run binary op ``code`` on validated operands (no overlap check)."""
    order = _order(out)
    if order and out.size:
        xs, ys = _step(x, out, order == 1), _step(y, out, order == 1)
        if xs >= 0 and ys >= 0:
            # an item-size step means x shares out's dense layout: walk both from their
            # lowest address (F order included); a 0 step is a single element
            rc = lib.em_binary_flat(
                code,
                dt,
                out.size,
                _base_ptr(out),
                _base_ptr(x),
                _base_ptr(y),
                xs,
                ys,
                out.nbytes,
                x.nbytes,
                y.nbytes,
            )
            if rc:
                _check(rc, op, x.dtype)
            return out
    keep, ptrs, strides, extents = _nd_args(out.shape, [out, x, y], ["out", "x", "y"])
    _check(lib.em_binary(code, dt, out.ndim, out.shape, ptrs, strides, extents), op, x.dtype)
    return out


def _unary_run(code: int, dt: int, x: np.ndarray, out: np.ndarray, op: str):
    """Run unary op ``code`` on validated operands (no overlap check)."""
    order = _order(out)
    if order and out.size and _step(x, out, order == 1) > 0:
        rc = lib.em_unary_flat(
            code, dt, out.size, _base_ptr(out), _base_ptr(x), out.nbytes, x.nbytes
        )
        if rc:
            _check(rc, op, x.dtype)
        return out
    keep, ptrs, strides, extents = _nd_args(out.shape, [out, x], ["out", "x"])
    _check(lib.em_unary(code, dt, out.ndim, out.shape, ptrs, strides, extents), op, x.dtype)
    return out


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
    if x is out:
        return x
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


def _bin_table() -> dict:
    """{op: {numpy dtype: dtype code}} for the (op, dtype) pairs the C library has."""
    return {
        op: {d: c for d, c in _CODES.items() if lib.em_binary_supported(i, c)}
        for i, op in enumerate(BINARY_OPS)
    }


def _un_table() -> dict:
    return {
        op: {d: c for d, c in _CODES.items() if lib.em_unary_supported(i, c)}
        for i, op in enumerate(UNARY_OPS)
    }


BIN_DTYPES = _bin_table()
UN_DTYPES = _un_table()


def binary(op: str, x: np.ndarray, y: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = x op y`` with numpy broadcasting; x and y share one dtype.

    ``out`` has the broadcast shape, x's dtype (bool for comparisons and logical ops).
    """
    table = BIN_DTYPES.get(op)
    if table is None:
        raise ValueError(f"unknown binary op {op!r}; expected one of {BINARY_OPS}")
    if not isinstance(x, np.ndarray) or not isinstance(y, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: x and y must be numpy arrays")
    if x.dtype != y.dtype:
        raise TypeError(f"ember kernel {op!r}: x is {x.dtype} but y is {y.dtype}")
    dt = table.get(x.dtype)
    if dt is None:
        raise TypeError(f"ember kernel {op!r} does not support dtype {x.dtype}")
    odt = _BOOL if op in _BOOL_OUT_BIN else x.dtype
    _check_out(out, out.shape, odt, op)
    x = _input(x, out, "x", op)
    y = _input(y, out, "y", op)
    return _binary_run(_BIN[op], dt, x, y, out, op)


_BOOL = np.dtype(np.bool_)
_INT_RANGE = {np.dtype(t): (np.iinfo(t).min, np.iinfo(t).max) for t in _DTYPE_NAMES[1:6]}


def scalar_operand(scalar, dtype: np.dtype):
    """A 0-d array of ``dtype`` holding the Python int/float ``scalar``, or None when
    it is not exactly a ``dtype`` value (an int out of range, a float for an integer
    dtype, anything but bool for bool): the caller then promotes, as numpy does."""
    kind = dtype.kind
    t = type(scalar)
    if kind == "f":
        if t is float or t is int or t is bool:
            try:
                return np.array(scalar, dtype)  # rounds; an out-of-range int overflows
            except OverflowError:
                return None
        return None
    if kind == "b":
        return np.array(scalar, dtype) if t is bool else None
    if t is int or t is bool:
        lo, hi = _INT_RANGE[dtype]
        return np.array(scalar, dtype) if lo <= scalar <= hi else None
    return None


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
    table = UN_DTYPES.get(op)
    if table is None:
        raise ValueError(f"unknown unary op {op!r}; expected one of {UNARY_OPS}")
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel {op!r}: x must be a numpy array, got {type(x)}")
    dt = table.get(x.dtype)
    if dt is None:
        raise TypeError(f"ember kernel {op!r} does not support dtype {x.dtype}")
    odt = _BOOL if op in _BOOL_OUT_UN else x.dtype
    _check_out(out, x.shape, odt, op)
    x = _input(x, out, "x", op)
    return _unary_run(_UN[op], dt, x, out, op)


def clamp(x: np.ndarray, lo: float | None, hi: float | None, out: np.ndarray) -> np.ndarray:
    """``out = min(max(x, lo), hi)`` as PyTorch's clamp (NaN stays NaN; lo > hi gives hi).
    For integer x, lo rounds up and hi rounds down."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel 'clamp': x must be a numpy array, got {type(x)}")
    dt = _code(x.dtype, "clamp")
    _check_out(out, x.shape, x.dtype, "clamp")
    x = _input(x, out, "x", "clamp")
    keep, ptrs, strides, extents = _nd_args(out.shape, [out, x], ["out", "x"])
    rc = lib.em_clamp(
        dt,
        out.ndim,
        out.shape,
        ptrs,
        strides,
        extents,
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
    keep, ptrs, strides, extents = _nd_args(out.shape, arrs, ["out", "cond", "x", "y"])
    _check(lib.em_where(dt, out.ndim, out.shape, ptrs, strides, extents), "where", out.dtype)
    return out


def cast(x: np.ndarray, out: np.ndarray) -> np.ndarray:
    """``out[...] = x.astype(out.dtype)`` (numpy's unsafe casting), x broadcast to out."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"ember kernel 'cast': x must be a numpy array, got {type(x)}")
    sdt, ddt = _code(x.dtype, "cast"), _code(out.dtype, "cast")
    _check_out(out, out.shape, out.dtype, "cast")
    x = _input(x, out, "x", "cast")
    keep, ptrs, strides, extents = _nd_args(out.shape, [out, x], ["out", "x"])
    _check(lib.em_cast(sdt, ddt, out.ndim, out.shape, ptrs, strides, extents), "cast", x.dtype)
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
