"""ember._kernels against numpy: every op and dtype, awkward layouts, NaN/inf, errors."""

from __future__ import annotations

import numpy as np
import pytest

from ember import _kernels as K

INTS = ["uint8", "int8", "int16", "int32", "int64"]
FLOATS = ["float32", "float64"]
ALL = ["bool"] + INTS + FLOATS
RNG = np.random.default_rng(1234)


def make(shape, dtype, lo=-50, hi=50):
    dt = np.dtype(dtype)
    if dt == np.bool_:
        return RNG.random(shape) < 0.5
    if dt.kind in "iu":
        info = np.iinfo(dt)
        return RNG.integers(max(lo, info.min), min(hi, info.max), shape, endpoint=True).astype(dt)
    return (RNG.standard_normal(shape) * 3).astype(dt)


def layouts(shape, dtype):
    """(name, array) views of the same logical shape with awkward strides."""
    base = make(shape, dtype)
    yield "contiguous", base
    big = make((shape[0] * 2,) + shape[1:], dtype)
    yield "strided", big[::2]
    yield "negative", make(shape, dtype)[::-1]
    yield "transposed", np.ascontiguousarray(make(shape[::-1], dtype)).T
    yield "broadcast", np.broadcast_to(make((1,) + shape[1:], dtype), shape)


def float_tols(dtype):
    return dict(rtol=2e-6, atol=1e-6) if dtype == "float32" else dict(rtol=1e-13, atol=1e-14)


# ---------------------------------------------------------------- binary

BIN_REF = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "div": np.true_divide,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "pow": np.power,
    "fmod": np.fmod,
    "remainder": np.remainder,
    "atan2": np.arctan2,
    "hypot": np.hypot,
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "logical_xor": np.logical_xor,
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}


def bin_operands(op, dtype, shape):
    x, y = make(shape, dtype), make(shape, dtype)
    dt = np.dtype(dtype)
    if op == "pow" and dt.kind in "iu":
        y = make(shape, dtype, 0, 5)
        x = make(shape, dtype, -6, 6)
    if op in ("fmod", "remainder") and dt.kind in "iu":
        y[y == 0] = 3
    return x, y


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("op", sorted(BIN_REF))
def test_binary_matches_numpy(op, dtype):
    if not K.supports(op, dtype):
        x = make((4,), dtype)
        with pytest.raises(TypeError, match=op):
            K.binary(op, x, x, np.empty(4, bool if op in K.BINARY_OPS[11:20] else dtype))
        return
    shape = (37, 129)
    x, y = bin_operands(op, dtype, shape)
    with np.errstate(all="ignore"):
        ref = BIN_REF[op](x, y)
        out = K.binary(op, x, y, np.empty(shape, ref.dtype))
        # same op on transposed / reversed / broadcast inputs
        xt = np.ascontiguousarray(x.T).T
        out2 = K.binary(op, xt[::-1], y[::-1], np.empty(shape, ref.dtype))
        ref2 = BIN_REF[op](xt[::-1], y[::-1])
        out3 = K.binary(op, x, y[:1], np.empty(shape, ref.dtype))
        ref3 = BIN_REF[op](x, y[:1])
    if np.dtype(dtype).kind == "f" and ref.dtype.kind == "f":
        for o, r in ((out, ref), (out2, ref2), (out3, ref3)):
            np.testing.assert_allclose(o, r, **float_tols(dtype), equal_nan=True)
    else:
        np.testing.assert_array_equal(out, ref)
        np.testing.assert_array_equal(out2, ref2)
        np.testing.assert_array_equal(out3, ref3)


def test_binary_nan_inf_semantics():
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1.0, -1.0, 1e-40], np.float32)
    x, y = np.meshgrid(specials, specials)
    for op in (
        "add",
        "sub",
        "mul",
        "div",
        "maximum",
        "minimum",
        "fmod",
        "remainder",
        "pow",
        "atan2",
        "hypot",
        "eq",
        "ne",
        "lt",
        "ge",
        "logical_and",
    ):
        with np.errstate(all="ignore"):
            ref = BIN_REF[op](x, y)
        out = K.binary(op, x, y, np.empty(x.shape, ref.dtype))
        # libm vs numpy's SIMD math may differ by an ulp; NaN/inf positions must agree
        np.testing.assert_allclose(out, ref, rtol=2.5e-7, atol=0, err_msg=op)


def test_integer_wraparound_and_zero_division():
    x = np.array([127, -128, 100, -7, 7, -128], np.int8)
    y = np.array([1, -1, 100, 0, -2, -1], np.int8)
    np.testing.assert_array_equal(K.binary("add", x, y, np.empty_like(x)), x + y)
    np.testing.assert_array_equal(K.binary("mul", x, y, np.empty_like(x)), x * y)
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(K.binary("fmod", x, y, np.empty_like(x)), np.fmod(x, y))
        np.testing.assert_array_equal(
            K.binary("remainder", x, y, np.empty_like(x)), np.remainder(x, y)
        )


def test_binary_scalar_and_reverse():
    x = make((1000, 70), "float32")
    np.testing.assert_allclose(K.binary_scalar("sub", x, 2.5, np.empty_like(x)), x - 2.5)
    np.testing.assert_allclose(K.binary_scalar("sub", x, 2.5, np.empty_like(x), True), 2.5 - x)
    xi = make((300,), "int32")
    np.testing.assert_array_equal(K.binary_scalar("mul", xi, 3, np.empty_like(xi)), xi * 3)
    with pytest.raises(TypeError, match="scalar"):
        K.binary_scalar("add", xi, 2.5, np.empty_like(xi))
    with pytest.raises(TypeError, match="fit"):
        K.binary_scalar("add", xi.astype(np.int8), 300, np.empty(300, np.int8))


def test_in_place_and_overlapping_out():
    x = make((1000,), "float64")
    ref = x + 1
    K.binary_scalar("add", x, 1.0, x)  # exact aliasing: in place
    np.testing.assert_array_equal(x, ref)
    y = np.arange(10.0)
    expect = y[:-1] + y[1:]
    K.binary("add", y[:-1], y[1:], y[1:])  # shifted overlap: numpy semantics need a copy
    np.testing.assert_array_equal(y[1:], expect)


# ---------------------------------------------------------------- unary

UN_REF = {
    "neg": np.negative,
    "abs": np.abs,
    "exp": np.exp,
    "exp2": np.exp2,
    "expm1": np.expm1,
    "log": np.log,
    "log2": np.log2,
    "log10": np.log10,
    "log1p": np.log1p,
    "sqrt": np.sqrt,
    "rsqrt": lambda x: 1 / np.sqrt(x),
    "reciprocal": lambda x: 1 / x,
    "square": np.square,
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "asin": np.arcsin,
    "acos": np.arccos,
    "atan": np.arctan,
    "sinh": np.sinh,
    "cosh": np.cosh,
    "tanh": np.tanh,
    "asinh": np.arcsinh,
    "acosh": np.arccosh,
    "atanh": np.arctanh,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "relu": lambda x: np.maximum(x, 0),
    "silu": lambda x: x / (1 + np.exp(-x)),
    "floor": np.floor,
    "ceil": np.ceil,
    "round": np.rint,
    "trunc": np.trunc,
    "sign": np.sign,
    "logical_not": np.logical_not,
    "bitwise_not": np.invert,
    "isnan": np.isnan,
    "isinf": np.isinf,
    "isfinite": np.isfinite,
}


def _erf64(x):
    import math

    return np.vectorize(math.erf, otypes=[np.float64])(x)


def _erfc64(x):
    import math

    return np.vectorize(math.erfc, otypes=[np.float64])(x)


UN_REF["erf"] = _erf64
UN_REF["erfc"] = _erfc64
UN_REF["gelu"] = lambda x: 0.5 * x * _erfc64(-x / np.sqrt(2))

# Ops evaluated through our own polynomials (float32 in double, rounded once) or libm:
# allowed error in float32 ulps relative to the float64 reference.
F32_ULPS = 2


def wide_inputs(dtype):
    """Values over the whole range, incl. inf, nan, +-0, denormals, near overflow."""
    r = np.random.default_rng(7)
    parts = [
        r.standard_normal(4000),
        r.uniform(-100, 100, 4000),
        np.exp(r.uniform(-90, 88, 2000)),
        -np.exp(r.uniform(-90, 88, 2000)),
        [
            np.nan,
            np.inf,
            -np.inf,
            0.0,
            -0.0,
            1e-45,
            -1e-45,
            1e-39,
            88.7,
            89.0,
            -103.0,
            -104.0,
            1.0,
            -1.0,
            0.5,
            1e-8,
            -1e-8,
            709.0,
            710.0,
            -745.0,
            -746.0,
            1e-310,
        ],
    ]
    return np.concatenate([np.asarray(p, np.float64) for p in parts]).astype(dtype)


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("op", sorted(UN_REF))
def test_unary_matches_numpy(op, dtype):
    out_dt = bool if op in ("logical_not", "isnan", "isinf", "isfinite") else dtype
    if not K.supports(op, dtype):
        x = make((4,), dtype)
        with pytest.raises(TypeError, match=op):
            K.unary(op, x, np.empty(4, out_dt))
        return
    if np.dtype(dtype).kind != "f":
        x = make((53, 31), dtype)
        ref = UN_REF[op](x)
        if op in ("floor", "ceil", "round", "trunc"):
            ref = x  # PyTorch: identity on integers
        out = K.unary(op, x.T, np.empty(x.T.shape, out_dt))
        np.testing.assert_array_equal(out, ref.T.astype(out_dt))
        return
    x = wide_inputs(dtype)
    with np.errstate(all="ignore"):
        ref = UN_REF[op](x.astype(np.float64))
    out = K.unary(op, x[::-1], np.empty(x.shape, out_dt))[::-1]
    if np.dtype(out_dt) == np.bool_:
        np.testing.assert_array_equal(out, ref)
        return
    with np.errstate(all="ignore"):
        ref_t = ref.astype(dtype)
    same_class = (np.isnan(out) == np.isnan(ref_t)) & (np.isinf(out) == np.isinf(ref_t))
    assert same_class.all(), (op, x[~same_class][:5], out[~same_class][:5], ref_t[~same_class][:5])
    fin = np.isfinite(ref_t) & np.isfinite(out)
    if dtype == "float32":
        spacing = np.spacing(np.abs(ref_t[fin]).astype(np.float32)).astype(np.float64)
        spacing = np.maximum(spacing, np.float64(np.finfo(np.float32).smallest_subnormal))
        err = np.abs(out[fin].astype(np.float64) - ref[fin]) / spacing
        assert err.max() <= F32_ULPS, (op, err.max(), x[fin][np.argmax(err)])
    else:
        # gelu: erfc's condition number (~2x^2) amplifies the argument's rounding
        rtol = 1e-12 if op == "gelu" else 4e-15
        np.testing.assert_allclose(out[fin], ref[fin], rtol=rtol, atol=1e-300)


def test_round_half_to_even_and_sign():
    x = np.array([0.5, 1.5, 2.5, -0.5, -1.5, 3.5, np.nan, -0.0, 2.0], np.float32)
    np.testing.assert_array_equal(K.unary("round", x, np.empty_like(x)), np.rint(x))
    np.testing.assert_array_equal(K.unary("sign", x, np.empty_like(x)), np.sign(x))


# ---------------------------------------------------------------- clamp / where / cast


@pytest.mark.parametrize("dtype", INTS + FLOATS)
def test_clamp(dtype):
    x = make((200, 33), dtype)
    is_int = np.dtype(dtype).kind in "iu"
    tmin, tmax = (np.iinfo(dtype).min, np.iinfo(dtype).max) if is_int else (-np.inf, np.inf)
    for lo, hi in ((-3, 7), (None, 4), (-2.5, None), (5, -5)):
        ref = x
        # integer bounds round inward and saturate to the dtype's range
        if lo is not None:
            ref = np.maximum(ref, np.clip(np.ceil(lo), tmin, tmax) if is_int else lo)
        if hi is not None:
            ref = np.minimum(ref, np.clip(np.floor(hi), tmin, tmax) if is_int else hi)
        out = K.clamp(x.T, lo, hi, np.empty(x.T.shape, dtype))
        np.testing.assert_array_equal(out, ref.astype(dtype).T)
    xf = np.array([np.nan, 1.0, -9.0])
    np.testing.assert_array_equal(K.clamp(xf, -1, 1, np.empty(3)), [np.nan, 1.0, -1.0])


@pytest.mark.parametrize("dtype", ALL + ["float16", "complex64"])
def test_where(dtype):
    cond = make((40, 1), "bool")
    x, y = make((40, 50), "float64").astype(dtype), make((50,), "float64").astype(dtype)
    out = K.where(cond, x, y, np.empty((40, 50), dtype))
    np.testing.assert_array_equal(out, np.where(cond, x, y))


CAST_DTYPES = ALL + ["float16", "complex64"]


@pytest.mark.parametrize("src", CAST_DTYPES)
@pytest.mark.parametrize("dst", CAST_DTYPES)
def test_cast(src, dst):
    vals = np.array([0, 1, -1, 2.5, -2.5, 100.75, 127, -128, 255, 0.1, 3e4], np.float64)
    if np.dtype(src).kind in "iub":
        vals = np.trunc(vals)
    with np.errstate(all="ignore"):
        x = vals.astype(src)
        x = np.concatenate([x, x])
        ref = x.astype(dst)
        if np.dtype(dst).kind in "iu" and np.dtype(src).kind in "fc":
            keep = np.abs(x.real) < np.iinfo(dst).max  # out-of-range float->int is undefined
            x, ref = x[keep], ref[keep]
    out = K.cast(x[::-1], np.empty(x.shape, dst))
    np.testing.assert_array_equal(out, ref[::-1])


def test_cast_bfloat16_and_half_rounding():
    import ml_dtypes

    x = np.concatenate(
        [make((5000,), "float32"), np.float32([np.nan, np.inf, -np.inf, 65520, 1e-8, 6e-8, 3e38])]
    )
    for dt in (np.float16, ml_dtypes.bfloat16):
        with np.errstate(all="ignore"):
            ref = x.astype(dt)
        out = K.cast(x, np.empty(x.shape, dt))
        same = (out.astype(np.float32) == ref.astype(np.float32)) | (
            np.isnan(out.astype(np.float32)) & np.isnan(ref.astype(np.float32))
        )
        assert same.all(), (dt, x[~same][:5])
        back = K.cast(ref, np.empty(x.shape, np.float32))
        np.testing.assert_array_equal(back, ref.astype(np.float32))


# ---------------------------------------------------------------- reductions


RED_REF = {
    "sum": np.sum,
    "prod": np.prod,
    "mean": np.mean,
    "amax": np.max,
    "amin": np.min,
    "any": np.any,
    "all": np.all,
    "norm2": lambda x, axis, keepdims: np.sqrt(
        np.sum(np.square(x.astype(np.float64)), axis=axis, keepdims=keepdims)
    ),
}


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("op", sorted(RED_REF))
@pytest.mark.parametrize("dims", [None, (0,), (1,), (0, 2), (-1,)])
def test_reduce(op, dtype, dims):
    x = make((17, 130, 9), dtype, -3, 3)
    if op == "prod" and np.dtype(dtype).kind == "f":
        x = (1 + RNG.standard_normal(x.shape) * 0.01).astype(dtype)
    for keepdim in (False, True):
        for xv in (x, x.transpose(2, 0, 1).transpose(1, 2, 0), x[::-1, :, ::-1]):
            out = K.reduce(op, xv, dims, keepdim)
            ref = RED_REF[op](
                xv.astype(np.float64) if np.dtype(dtype).kind == "f" else xv,
                axis=dims,
                keepdims=keepdim,
            )
            assert out.shape == np.shape(ref)
            if np.dtype(dtype).kind == "f" or op in ("mean", "norm2"):
                tol = 1e-5 if dtype == "float32" else 1e-12
                np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
            else:
                np.testing.assert_array_equal(out, ref)


def test_float32_sum_is_accurate_for_large_n():
    n = 1 << 22
    x = RNG.random(n, dtype=np.float32)
    exact = x.astype(np.float64).sum()
    assert abs(K.reduce("sum", x) - exact) <= 1e-6 * exact
    # sum(0) path (row accumulation) and a single huge column
    m = x.reshape(4096, 1024)
    np.testing.assert_allclose(K.reduce("sum", m, (0,)), m.astype(np.float64).sum(0), rtol=1e-6)


def test_reduce_nan_and_empty():
    x = np.array([[1.0, np.nan, 3.0], [1.0, 2.0, 3.0]], np.float32)
    np.testing.assert_array_equal(K.reduce("amax", x, (1,)), [np.nan, 3.0])
    np.testing.assert_array_equal(K.reduce("amin", x, (1,)), [np.nan, 1.0])
    e = np.zeros((0, 4), np.float32)
    np.testing.assert_array_equal(K.reduce("sum", e, (0,)), np.zeros(4))
    np.testing.assert_array_equal(K.reduce("prod", e, (0,)), np.ones(4))
    assert np.isnan(K.reduce("mean", e)).all()
    assert K.reduce("logsumexp", e, (0,)).tolist() == [-np.inf] * 4
    with pytest.raises(ValueError, match="zero-size"):
        K.reduce("amax", e, (0,))
    assert K.reduce("sum", np.array(3.5, np.float32)) == 3.5


@pytest.mark.parametrize("dtype", FLOATS)
def test_logsumexp_var_std(dtype):
    x = make((64, 300), dtype) * 20
    for dims in ((1,), (0,), None):
        m = np.max(x.astype(np.float64), axis=dims, keepdims=True)
        ref = np.squeeze(m + np.log(np.sum(np.exp(x - m), axis=dims, keepdims=True)), axis=dims)
        np.testing.assert_allclose(K.reduce("logsumexp", x, dims), ref, rtol=1e-6)
        for corr in (0, 1):
            np.testing.assert_allclose(
                K.var(x, dims, corr), np.var(x.astype(np.float64), dims, ddof=corr), rtol=1e-5
            )
            np.testing.assert_allclose(
                K.std(x.T, dims, corr, keepdim=True),
                np.std(x.T.astype(np.float64), dims, ddof=corr, keepdims=True),
                rtol=1e-5,
            )
    xi = np.array([[np.inf, 1.0], [-np.inf, -np.inf]], dtype)
    np.testing.assert_array_equal(K.reduce("logsumexp", xi, (1,)), [np.inf, -np.inf])


def test_reduce_into_out_dtype():
    x = make((100, 30), "int32")
    out = np.empty(30, np.float64)
    K.reduce("sum", x, (0,), out=out)
    np.testing.assert_array_equal(out, x.sum(0))
    assert K.reduce("sum", x).dtype == np.int64
    assert K.reduce("mean", x).dtype == np.float64


@pytest.mark.parametrize("dtype", ALL)
@pytest.mark.parametrize("op", ["max", "min"])
def test_argreduce(op, dtype):
    x = make((50, 77), dtype, -4, 4)  # small range: many ties
    for dim in (0, 1, -1):
        for keepdim in (False, True):
            vals, idx = K.argreduce(op, x, dim, keepdim)
            ref_i = (np.argmax if op == "max" else np.argmin)(x, axis=dim, keepdims=keepdim)
            np.testing.assert_array_equal(idx, ref_i)
            np.testing.assert_array_equal(
                vals,
                np.take_along_axis(
                    x,
                    ref_i.reshape(ref_i.shape if keepdim else np.expand_dims(ref_i, dim).shape),
                    dim,
                ).reshape(vals.shape),
            )


def test_argreduce_nan_and_threads():
    x = np.zeros(1 << 20, np.float32)
    x[777_777] = 5
    x[900_000] = 5
    assert K.argreduce("max", x, 0)[1] == 777_777
    x[800_000] = np.nan
    x[950_000] = np.nan
    v, i = K.argreduce("max", x, 0)
    assert np.isnan(v) and i == 800_000
    assert K.argreduce("min", x, 0)[1] == 800_000


# ---------------------------------------------------------------- cumulative


@pytest.mark.parametrize("dtype", ALL)
def test_cumsum_cumprod(dtype):
    x = make((40, 33), dtype, -2, 2)
    for dim in (0, 1):
        # floats accumulate in double: compare with a float64 reference
        ref = np.cumsum(x, axis=dim, dtype=np.int64 if np.dtype(dtype).kind in "biu" else "f8")
        out = K.cumulative("cumsum", x, dim)
        np.testing.assert_allclose(out, ref, rtol=1e-6, atol=1e-6)
        xs = x[:, :8] if np.dtype(dtype).kind in "biu" else (1 + x * 0.01)
        refp = np.cumprod(xs, axis=dim, dtype=np.int64 if np.dtype(dtype).kind in "biu" else None)
        np.testing.assert_allclose(K.cumulative("cumprod", xs, dim), refp, rtol=1e-5)


def _cumarg_ref(x, dim, op):
    """PyTorch cummax/cummin on one axis: ties and NaNs move the index forward."""
    x = np.moveaxis(x, dim, -1)
    vals, idx = np.empty_like(x), np.empty(x.shape, np.int64)
    for line in np.ndindex(x.shape[:-1]):
        best, bi = None, 0
        for i, a in enumerate(x[line]):
            if i == 0 or a != a or (best == best and (a >= best if op == "cummax" else a <= best)):
                best, bi = a, i
            vals[line + (i,)], idx[line + (i,)] = best, bi
    return np.moveaxis(vals, -1, dim), np.moveaxis(idx, -1, dim)


@pytest.mark.parametrize("dtype", ["int16", "float32", "float64", "bool"])
@pytest.mark.parametrize("op", ["cummax", "cummin"])
def test_cummax_cummin(op, dtype):
    x = make((12, 9), dtype, -3, 3)
    if dtype == "float32":
        x[3, 4] = np.nan
    for dim in (0, 1):
        v, i = K.cumulative(op, x, dim)
        rv, ri = _cumarg_ref(x, dim, op)
        np.testing.assert_array_equal(v, rv)
        np.testing.assert_array_equal(i, ri)


def test_logcumsumexp():
    x = make((30, 20), "float64")
    ref = np.logaddexp.accumulate(x, axis=1)
    np.testing.assert_allclose(K.cumulative("logcumsumexp", x, 1), ref, rtol=1e-12)


# ---------------------------------------------------------------- layouts, threads, errors


@pytest.mark.parametrize("name_x", ["contiguous", "strided", "negative", "transposed", "broadcast"])
def test_layouts_binary_and_cast(name_x):
    shape = (64, 48)
    xs = dict(layouts(shape, "float32"))
    x = xs[name_x]
    for _name_y, y in xs.items():
        np.testing.assert_array_equal(K.binary("mul", x, y, np.empty(shape, np.float32)), x * y)
    out = np.empty((48, 64), np.float64).T  # transposed output
    np.testing.assert_array_equal(K.cast(x, out), x.astype(np.float64))


def test_zero_d_empty_and_many_dims():
    a = np.array(3.0, np.float32)
    np.testing.assert_array_equal(K.binary("add", a, a, np.empty((), np.float32)), 6.0)
    e = np.zeros((3, 0, 2), np.float32)
    assert K.unary("exp", e, np.empty_like(e)).shape == (3, 0, 2)
    x = make((2,) * 16, "float32")
    np.testing.assert_allclose(
        K.unary("exp", x.T, np.empty(x.shape, np.float32)), np.exp(x.T), rtol=2e-7
    )
    with pytest.raises(ValueError, match="16"):
        K.unary("neg", np.zeros((1,) * 17), np.zeros((1,) * 17))


def test_threads_give_identical_results():
    x = make((1 << 21,), "float32")
    before = K.get_num_threads()
    try:
        K.set_num_threads(1)
        one = (
            K.unary("tanh", x, np.empty_like(x)),
            K.reduce("sum", x),
            K.reduce("sum", x.reshape(2048, -1), (0,)),
        )
        K.set_num_threads(2)
        two = (
            K.unary("tanh", x, np.empty_like(x)),
            K.reduce("sum", x),
            K.reduce("sum", x.reshape(2048, -1), (0,)),
        )
    finally:
        K.set_num_threads(before)
    np.testing.assert_array_equal(one[0], two[0])
    np.testing.assert_allclose(one[1], two[1], rtol=1e-6)
    np.testing.assert_array_equal(one[2], two[2])
    with pytest.raises(ValueError, match=">= 1"):
        K.set_num_threads(0)


def test_errors_are_python_exceptions():
    x = np.zeros((4, 5), np.float32)
    with pytest.raises(ValueError, match="shape"):
        K.binary("add", x, np.zeros((3,), np.float32), np.empty((4, 5), np.float32))
    with pytest.raises(TypeError, match="int16"):
        K.binary("add", x, x.astype(np.int16), np.empty_like(x))
    with pytest.raises(ValueError, match="unknown"):
        K.unary("nope", x, x)
    with pytest.raises(ValueError, match="read-only"):
        K.unary("exp", x, np.broadcast_to(np.float32(0), x.shape))
    with pytest.raises(TypeError, match="float16"):
        K.unary("exp", x.astype(np.float16), np.empty(x.shape, np.float16))
    with pytest.raises(ValueError, match="dim"):
        K.reduce("sum", x, (0, 0))
    with pytest.raises(ValueError, match="size 0"):
        K.argreduce("max", np.zeros((0, 3)), 0)
    assert not K.supports("exp", np.int32) and K.supports("exp", np.float32)
    assert K.supports("cast", np.complex64) and not K.supports("sum", np.complex64)


def test_c_entry_rejects_out_of_bounds_strides():
    """The C layer checks every addressed byte against the extents it is given."""
    from ember._C import ffi, lib

    buf = np.zeros(16, np.float32)
    p = ffi.cast("char *", buf.ctypes.data)
    ptrs = ffi.new("char *[]", [p, p])
    shape = ffi.new("int64_t[]", [16])
    ok_ext = ffi.new("int64_t[]", [0, 64, 0, 64])
    assert lib.em_unary(0, 8, 1, shape, ptrs, ffi.new("int64_t[]", [4, 4]), ok_ext) == 0
    assert lib.em_unary(0, 8, 1, shape, ptrs, ffi.new("int64_t[]", [4, 8]), ok_ext) == -3
    assert lib.em_unary(0, 8, 1, shape, ptrs, ffi.new("int64_t[]", [-4, 4]), ok_ext) == -3
    assert lib.em_unary(0, 8, 1, shape, ptrs, ffi.new("int64_t[]", [2, 4]), ok_ext) == -6
    assert lib.em_unary(0, 8, 17, shape, ptrs, ffi.new("int64_t[]", [4, 4]), ok_ext) == -1
    assert (
        lib.em_unary(
            0, 8, 1, ffi.new("int64_t[]", [-1]), ptrs, ffi.new("int64_t[]", [4, 4]), ok_ext
        )
        == -2
    )
    assert lib.em_unary(99, 8, 1, shape, ptrs, ffi.new("int64_t[]", [4, 4]), ok_ext) == -4
    assert lib.em_cast(0, 42, 1, shape, ptrs, ffi.new("int64_t[]", [4, 4]), ok_ext) == -5
