"""Property tests: ember._kernels equals numpy over random shapes, strides and dtypes.

Views are carved out of larger buffers with random steps (negative included),
transposes and broadcasting, so every path of the strided iterator is exercised. The
default budget keeps the file to well under a minute; EMBER_FUZZ_EXAMPLES raises it
(sanitize.py runs it under ASan/UBSan).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ember import _kernels as K

EXAMPLES = int(os.environ.get("EMBER_FUZZ_EXAMPLES", "250"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DTYPES = ["bool", "uint8", "int8", "int16", "int32", "int64", "float32", "float64"]


@st.composite
def views(draw, shape, dtype, allow_broadcast=True):
    """A view of logical `shape` with random steps, offsets, axis order and broadcasting."""
    nd = len(shape)
    perm = draw(st.permutations(range(nd))) if nd else []
    steps = [draw(st.sampled_from([1, 1, 2, -1, -2, 3])) for _ in range(nd)]
    bcast = [allow_broadcast and s > 0 and draw(st.integers(0, 4)) == 0 for s in shape]
    base_shape = [
        1 if b else abs(k) * s + draw(st.integers(0, 2)) for s, k, b in zip(shape, steps, bcast)
    ]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    stored = [base_shape[p] for p in perm]
    if dt == np.bool_:
        buf = rng.random(stored) < 0.5
    elif dt.kind in "iu":
        buf = rng.integers(-20 if dt.kind == "i" else 0, 21, stored).astype(dt)
    else:
        buf = (rng.standard_normal(stored) * 4).astype(dt)
        if buf.size and draw(st.booleans()):
            flat = buf.reshape(-1)
            flat[rng.integers(0, flat.size, 3)] = [np.nan, np.inf, -np.inf]
    a = buf.transpose(np.argsort(perm)) if nd else buf
    index = []
    for s, k, b, bs in zip(shape, steps, bcast, base_shape):
        if b:
            index.append(slice(None))
        elif k > 0:
            index.append(slice(0, k * s, k) if s else slice(0, 0))
        else:
            index.append(slice(bs - 1, bs - 1 + k * s if bs - 1 + k * s >= 0 else None, k))
    v = a[tuple(index)] if nd else a[...]
    return np.broadcast_to(v, shape) if any(bcast) else v


shapes = st.lists(st.integers(0, 6), min_size=0, max_size=5).map(tuple)
big_shapes = st.sampled_from([(70000,), (300, 257), (2, 40000), (65, 33, 40)])


def _assert_same(out, ref):
    if out.dtype.kind == "f":
        tol = 2e-6 if out.dtype == np.float32 else 1e-12
        np.testing.assert_allclose(out, ref, rtol=tol, atol=tol, equal_nan=True)
    else:
        np.testing.assert_array_equal(out, ref)


BIN = {
    "add": np.add,
    "mul": np.multiply,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "lt": np.less,
    "eq": np.equal,
    "logical_xor": np.logical_xor,
    "sub": np.subtract,
    "bitwise_and": np.bitwise_and,
    "div": np.true_divide,
}


@SETTINGS
@given(
    data=st.data(),
    shape=st.one_of(shapes, big_shapes),
    dtype=st.sampled_from(DTYPES),
    op=st.sampled_from(sorted(BIN)),
)
def test_fuzz_binary(data, shape, dtype, op):
    if not K.supports(op, dtype):
        return
    x = data.draw(views(shape, dtype))
    y = data.draw(views(shape[data.draw(st.integers(0, len(shape))) :], dtype))
    with np.errstate(all="ignore"):
        ref = BIN[op](x, y)
    out = np.empty(shape, ref.dtype)
    if data.draw(st.booleans()) and len(shape) > 1:
        out = np.empty(shape[::-1], ref.dtype).T  # transposed output
    with np.errstate(all="ignore"):
        _assert_same(K.binary(op, x, y, out), ref)


UN = {
    "neg": np.negative,
    "abs": np.abs,
    "exp": np.exp,
    "tanh": np.tanh,
    "sqrt": np.sqrt,
    "floor": np.floor,
    "isnan": np.isnan,
    "logical_not": np.logical_not,
    "sigmoid": lambda x: 1 / (1 + np.exp(-x.astype(np.float64))),
}


@SETTINGS
@given(
    data=st.data(),
    shape=st.one_of(shapes, big_shapes),
    dtype=st.sampled_from(DTYPES),
    op=st.sampled_from(sorted(UN)),
)
def test_fuzz_unary_and_cast(data, shape, dtype, op):
    x = data.draw(views(shape, dtype))
    if K.supports(op, dtype):
        with np.errstate(all="ignore"):
            ref = np.asarray(UN[op](x))
        odt = bool if ref.dtype == np.bool_ else x.dtype
        with np.errstate(all="ignore"):
            _assert_same(K.unary(op, x, np.empty(shape, odt)), ref.astype(odt))
    dst = data.draw(st.sampled_from(DTYPES + ["float16", "complex64"]))
    with np.errstate(all="ignore"):
        ref = x.astype(dst)
        out = K.cast(x, np.empty(shape, dst))
    if x.dtype.kind == "f" and np.dtype(dst).kind in "iu":
        keep = np.isfinite(x) & (np.abs(x) < 100)  # out-of-range float->int is undefined
        out, ref = out[keep], ref[keep]
    np.testing.assert_array_equal(out, ref)


RED = {
    "sum": np.sum,
    "amax": np.max,
    "amin": np.min,
    "any": np.any,
    "all": np.all,
    "mean": np.mean,
    "prod": np.prod,
}


@SETTINGS
@given(
    data=st.data(),
    shape=st.one_of(shapes, big_shapes),
    dtype=st.sampled_from(DTYPES),
    op=st.sampled_from(sorted(RED)),
    keepdim=st.booleans(),
)
def test_fuzz_reduce(data, shape, dtype, op, keepdim):
    x = data.draw(views(shape, dtype))
    if op == "prod":
        x = x[tuple(slice(0, 3) for _ in shape) + (...,)]  # keep products representable
    nd = x.ndim
    dims = data.draw(st.sets(st.integers(0, max(nd - 1, 0)), max_size=nd)) if nd else set()
    dims = tuple(sorted(dims)) or None
    empty = any(x.shape[d] == 0 for d in (dims or range(nd)))
    if op in ("amax", "amin") and empty:
        with pytest.raises(ValueError):
            K.reduce(op, x, dims, keepdim)
        return
    xr = x.astype(np.float64) if x.dtype.kind == "f" else x
    with np.errstate(all="ignore"):
        ref = RED[op](xr, axis=dims, keepdims=keepdim)
        out = K.reduce(op, x, dims, keepdim)
    assert out.shape == np.shape(ref)
    with np.errstate(all="ignore"):
        ref = np.asarray(ref).astype(out.dtype)  # a float32 product may overflow to inf
    if x.dtype.kind == "f" or op == "mean":
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5, equal_nan=True)
    else:
        np.testing.assert_array_equal(out, ref)


@SETTINGS
@given(
    data=st.data(),
    shape=st.one_of(shapes, big_shapes).filter(lambda s: len(s) > 0),
    dtype=st.sampled_from(DTYPES),
)
def test_fuzz_arg_and_cumulative(data, shape, dtype):
    x = data.draw(views(shape, dtype))
    dim = data.draw(st.integers(-x.ndim, x.ndim - 1))
    if x.shape[dim] > 0:
        v, i = K.argreduce("max", x, dim)
        np.testing.assert_array_equal(i, np.argmax(x, axis=dim))
    out = K.cumulative("cumsum", x, dim)
    if x.dtype.kind == "f":
        np.testing.assert_allclose(
            out, np.cumsum(x, axis=dim, dtype=np.float64), rtol=1e-5, atol=1e-4, equal_nan=True
        )
    else:
        np.testing.assert_array_equal(out, np.cumsum(x, axis=dim, dtype=np.int64))


@SETTINGS
@given(data=st.data(), shape=shapes, dtype=st.sampled_from(DTYPES))
def test_fuzz_where_clamp(data, shape, dtype):
    cond = data.draw(views(shape, "bool"))
    x, y = data.draw(views(shape, dtype)), data.draw(views(shape, dtype))
    np.testing.assert_array_equal(K.where(cond, x, y, np.empty(shape, dtype)), np.where(cond, x, y))
    if K.supports("clamp", dtype):
        out = K.clamp(x, -3, 5, np.empty(shape, dtype))
        lo = 0 if np.dtype(dtype).kind == "u" else -3
        np.testing.assert_array_equal(
            out, np.minimum(np.maximum(x, np.asarray(lo, dtype)), np.asarray(5, dtype))
        )
