"""Elementwise math and reductions against numpy, over dtypes and layouts
(0-d, empty, broadcast, non-contiguous, negative-step), including sizes large
enough to take the threaded C kernels."""

import math

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(0)
FLOATS = [np.float32, np.float64]
INTS = [np.int8, np.int16, np.int32, np.int64, np.uint8]


def _data(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.standard_normal(shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return RNG.random(shape) > 0.5
    lo = 0 if np.dtype(dtype).kind == "u" else -9
    return RNG.integers(lo, 10, shape).astype(dtype)


def _layouts(dtype):
    """(name, array) pairs: different memory layouts of arbitrary data."""
    base = _data((6, 8), dtype)
    return [
        ("contiguous", base),
        ("0-d", _data((), dtype)),
        ("empty", _data((0, 3), dtype)),
        ("transposed", base.T),
        ("negative-step", base[::-1, ::-2]),
        ("large", _data((300, 700), dtype)),  # past the C-kernel threshold
        ("large-strided", _data((700, 600), dtype)[::2, ::-1]),
    ]


def _tol(dtype):
    return dict(rtol=2e-6, atol=1e-6) if np.dtype(dtype) == np.float32 else dict(rtol=1e-12)


UNARY = {
    "exp": np.exp,
    "log": lambda a: np.log(np.abs(a) + 0.5),
    "sqrt": lambda a: np.sqrt(np.abs(a)),
    "sin": np.sin,
    "cos": np.cos,
    "tanh": np.tanh,
    "abs": np.abs,
    "neg": np.negative,
    "sigmoid": lambda a: 1 / (1 + np.exp(-a)),
    "floor": np.floor,
    "ceil": np.ceil,
    "relu": lambda a: np.maximum(a, 0),
    "square": np.square,
    "expm1": np.expm1,
    "log1p": lambda a: np.log1p(np.abs(a)),
    "atan": np.arctan,
    "trunc": np.trunc,
    "erf": np.vectorize(math.erf, otypes=[np.float64]),
    "sign": np.sign,
}
_PREPROCESS = {"log": lambda a: np.abs(a) + 0.5, "sqrt": np.abs, "log1p": np.abs}


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_numpy(name, dtype):
    for layout, a in _layouts(dtype):
        a = _PREPROCESS.get(name, lambda v: v)(a)
        x = ember.from_numpy(np.asarray(a))
        expected = (
            UNARY[name](a.astype(np.float64))
            if name not in _PREPROCESS
            else getattr(np, {"log": "log", "sqrt": "sqrt", "log1p": "log1p"}[name])(
                a.astype(np.float64)
            )
        )
        got = getattr(ember, name)(x)
        assert got.dtype.np == np.dtype(dtype), (name, layout)
        assert got.shape == np.shape(a), (name, layout)
        tol = dict(rtol=3e-6, atol=3e-6) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(got.numpy(), expected, **tol, err_msg=f"{name} {layout}")


def test_unary_integer_inputs_compute_in_default_float():
    x = ember.tensor([1, 2, 3])
    assert ember.exp(x).dtype is ember.float32
    assert ember.abs(ember.tensor([-1, 2])).dtype is ember.int64
    with pytest.raises(RuntimeError, match="Negation.*bool"):
        -ember.tensor([True])


BINARY = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "maximum": np.maximum,
    "minimum": np.minimum,
    "eq": np.equal,
    "lt": np.less,
    "ge": np.greater_equal,
    "remainder": np.remainder,
}


@pytest.mark.parametrize("dtype", FLOATS + INTS)
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_matches_numpy(name, dtype):
    for layout, a in _layouts(dtype):
        b = _data(a.shape, dtype)
        if name == "remainder":
            b = np.where(b == 0, 3, b).astype(dtype)
        got = getattr(ember, name)(ember.from_numpy(np.asarray(a)), ember.from_numpy(b))
        expected = BINARY[name](a, b)
        np.testing.assert_allclose(
            got.numpy(),
            expected,
            err_msg=f"{name} {layout}",
            **(_tol(dtype) if np.dtype(dtype).kind == "f" else {}),
        )
        assert got.numpy().dtype == expected.dtype


@pytest.mark.parametrize("dtype", FLOATS)
def test_division_and_power(dtype):
    a = _data((5, 7), dtype)
    b = np.abs(_data((5, 7), dtype)) + 0.5
    x, y = ember.from_numpy(a), ember.from_numpy(b)
    np.testing.assert_allclose((x / y).numpy(), a / b, **_tol(dtype))
    np.testing.assert_allclose((y**2.5).numpy(), b**2.5, **_tol(dtype))
    np.testing.assert_allclose((2**x).numpy(), 2.0**a, **_tol(dtype))
    np.testing.assert_allclose((1 - x).numpy(), 1 - a, **_tol(dtype))
    np.testing.assert_allclose((3 / y).numpy(), 3 / b, **_tol(dtype))
    np.testing.assert_allclose(ember.atan2(x, y).numpy(), np.arctan2(a, b), **_tol(dtype))


def test_broadcasting_and_scalars():
    a = _data((4, 1, 3), np.float32)
    b = _data((5, 1), np.float32)
    got = ember.from_numpy(a) * ember.from_numpy(b)
    assert got.shape == (4, 5, 3)
    np.testing.assert_allclose(got.numpy(), a * b, rtol=1e-6)
    np.testing.assert_allclose((ember.from_numpy(a) + 1).numpy(), a + 1, rtol=1e-6)


def test_broadcast_mismatch_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"\(2, 3\).*\(4,\)"):
        ember.ones(2, 3) + ember.ones(4)


def test_unsupported_operand_is_type_error():
    with pytest.raises(TypeError):
        ember.add(ember.ones(2), "x")


def test_int_division_gives_float():
    r = ember.tensor([1, 2, 3]) / ember.tensor([2, 2, 2])
    assert r.dtype is ember.float32
    np.testing.assert_allclose(r.numpy(), [0.5, 1.0, 1.5])
    assert (ember.tensor([7, -7]) // 2).tolist() == [3, -4]


def test_in_place_ops_write_through():
    a = _data((6, 6), np.float64)
    x = ember.from_numpy(a.copy())
    v = x[::2, 1:]
    v.mul_(2).add_(1).clamp_(min=-1.0, max=1.0)
    expected = a.copy()
    expected[::2, 1:] = np.clip(expected[::2, 1:] * 2 + 1, -1, 1)
    np.testing.assert_allclose(x.numpy(), expected)
    x.exp_()
    np.testing.assert_allclose(x.numpy(), np.exp(expected))


def test_operators_and_comparisons():
    x = ember.tensor([1.0, -2.0, 3.0])
    assert (-x).tolist() == [-1.0, 2.0, -3.0]
    assert abs(x).tolist() == [1.0, 2.0, 3.0]
    assert (x > 0).tolist() == [True, False, True]
    assert (x == 3.0).dtype is ember.bool
    assert (~(x > 0)).tolist() == [False, True, False]
    i = ember.tensor([6, 3])
    assert (i & 2).tolist() == [2, 2] and (i | 1).tolist() == [7, 3] and (i ^ 1).tolist() == [7, 2]
    assert (i % 4).tolist() == [2, 3] and (i << 1).tolist() == [12, 6]
    x += 1
    x *= 2
    assert x.tolist() == [4.0, -2.0, 8.0]


def test_clamp_variants():
    x = ember.tensor([-2.0, 0.5, 3.0])
    assert ember.clamp(x, min=0).tolist() == [0.0, 0.5, 3.0]
    assert ember.clamp(x, max=1).tolist() == [-2.0, 0.5, 1.0]
    assert x.clamp(-1, 1).tolist() == [-1.0, 0.5, 1.0]
    with pytest.raises(RuntimeError, match="at least one"):
        ember.clamp(x)


# ----- reductions -----
REDUCE_DIMS = [None, 0, 1, (0, 1), -1]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("dim", REDUCE_DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_mean_match_numpy(dtype, dim, keepdim):
    for layout, a in _layouts(dtype):
        if a.ndim < 2 and dim is not None:
            continue
        x = ember.from_numpy(np.asarray(a))
        tol = dict(rtol=1e-5, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-10)
        ref = a.astype(np.float64)
        np.testing.assert_allclose(
            x.sum(dim, keepdim).numpy(), ref.sum(axis=dim, keepdims=keepdim), **tol, err_msg=layout
        )
        if a.size:
            np.testing.assert_allclose(
                x.mean(dim, keepdim).numpy(),
                ref.mean(axis=dim, keepdims=keepdim),
                **tol,
                err_msg=layout,
            )


def test_sum_of_large_float32_is_accurate():
    a = RNG.random(1 << 22, dtype=np.float32)
    got = ember.from_numpy(a).sum().item()
    assert abs(got - a.astype(np.float64).sum()) / a.size < 1e-6


def test_reduction_dtypes_follow_pytorch():
    assert ember.tensor([1, 2], dtype=ember.int32).sum().dtype is ember.int64
    assert ember.tensor([True, True]).sum().item() == 2
    with pytest.raises(RuntimeError, match="mean\\(\\): could not infer output dtype"):
        ember.tensor([1, 2]).mean()
    h = ember.ones(1000, dtype=ember.float16)
    assert h.sum().dtype is ember.float16 and h.sum().item() == 1000


@pytest.mark.parametrize("dtype", FLOATS + [np.int32])
def test_max_min_argmax(dtype):
    a = _data((5, 7), dtype)
    x = ember.from_numpy(a)
    assert x.max().item() == a.max() and x.min().item() == a.min()
    v, i = x.max(1)
    np.testing.assert_array_equal(v.numpy(), a.max(1))
    np.testing.assert_array_equal(i.numpy(), a.argmax(1))
    assert i.dtype is ember.int64
    v, i = x.min(0, keepdim=True)
    assert v.shape == (1, 7)
    np.testing.assert_array_equal(i.numpy(), a.argmin(0)[None])
    assert x.argmax().item() == a.argmax()
    np.testing.assert_array_equal(ember.amax(x, (0, 1)).numpy(), a.max())
    r = ember.max(x, x + 1)  # elementwise form
    np.testing.assert_array_equal(r.numpy(), a + 1)


def test_max_of_empty_raises():
    with pytest.raises(IndexError, match="numel\\(\\) == 0"):
        ember.zeros(0).max()
    with pytest.raises(IndexError, match="reduced dim to be non-empty"):
        ember.zeros(3, 0).amax(1)
    assert ember.amax(ember.zeros(0, 3), 1).shape == (0,)  # nothing reduced over an empty dim


def test_var_std_norm_logsumexp_prod_any_all():
    a = _data((4, 6), np.float64)
    x = ember.from_numpy(a)
    np.testing.assert_allclose(x.var().numpy(), a.var(ddof=1))
    np.testing.assert_allclose(x.var(1, unbiased=False).numpy(), a.var(1))
    np.testing.assert_allclose(x.std(0, correction=0).numpy(), a.std(0))
    np.testing.assert_allclose(x.norm().numpy(), np.linalg.norm(a))
    np.testing.assert_allclose(x.norm(1, dim=1).numpy(), np.abs(a).sum(1))
    ref = np.log(np.exp(a).sum(1))
    np.testing.assert_allclose(ember.logsumexp(x, 1).numpy(), ref)
    big = ember.tensor([1000.0, 1000.0], dtype=ember.float64)
    assert abs(ember.logsumexp(big, 0).item() - (1000 + math.log(2))) < 1e-9
    np.testing.assert_allclose(x.prod(1).numpy(), a.prod(1))
    assert ember.tensor([0, 1]).any().item() and not ember.tensor([0, 1]).all().item()


def test_cumulative_ops():
    a = _data((3, 5), np.float64)
    x = ember.from_numpy(a)
    np.testing.assert_allclose(x.cumsum(1).numpy(), a.cumsum(1))
    np.testing.assert_allclose(x.cumprod(0).numpy(), a.cumprod(0))
    v, i = ember.cummax(x, 1)
    np.testing.assert_allclose(v.numpy(), np.maximum.accumulate(a, 1))
    for r in range(3):
        for c in range(5):
            assert a[r, i.numpy()[r, c]] == v.numpy()[r, c]
    np.testing.assert_allclose(ember.logcumsumexp(x, 1).numpy(), np.log(np.cumsum(np.exp(a), 1)))
    assert ember.tensor([1, 2, 3]).cumsum(0).dtype is ember.int64


# ----- linear algebra used by the seed -----
@pytest.mark.parametrize("dtype", FLOATS)
def test_mm_matmul_bmm(dtype):
    a, b = _data((7, 5), dtype), _data((5, 3), dtype)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12)
    np.testing.assert_allclose(ember.from_numpy(a).mm(ember.from_numpy(b)).numpy(), a @ b, **tol)
    np.testing.assert_allclose((ember.from_numpy(a) @ ember.from_numpy(b)).numpy(), a @ b, **tol)
    ba, bb = _data((4, 7, 5), dtype), _data((4, 5, 3), dtype)
    np.testing.assert_allclose(
        ember.bmm(ember.from_numpy(ba), ember.from_numpy(bb)).numpy(), ba @ bb, **tol
    )
    v = _data((5,), dtype)
    np.testing.assert_allclose(
        ember.mv(ember.from_numpy(a), ember.from_numpy(v)).numpy(), a @ v, **tol
    )
    np.testing.assert_allclose(
        ember.dot(ember.from_numpy(v), ember.from_numpy(v)).numpy(), v @ v, **tol
    )
    # transposed operands (non-contiguous) work too
    np.testing.assert_allclose(
        ember.from_numpy(a.T.copy()).t().mm(ember.from_numpy(b)).numpy(), a @ b, **tol
    )


def test_matmul_errors_name_shapes():
    with pytest.raises(RuntimeError, match=r"\(64x1000 and 100x10\)"):
        ember.zeros(64, 1000).mm(ember.zeros(100, 10))
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.zeros(2, 2).mm(ember.zeros(2, 2, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="2-D"):
        ember.zeros(2).mm(ember.zeros(2, 2))


def test_bool_mask_indexing_like_the_seed():
    h = _data((8, 5), np.float32)
    g = _data((8, 5), np.float32)
    grad_h = ember.from_numpy(g).clone()
    grad_h[ember.from_numpy(h) < 0] = 0
    expected = g.copy()
    expected[h < 0] = 0
    np.testing.assert_array_equal(grad_h.numpy(), expected)
    np.testing.assert_array_equal(ember.from_numpy(g)[ember.from_numpy(h) > 0].numpy(), g[h > 0])


def test_basic_indexing_and_errors():
    a = np.arange(24.0).reshape(2, 3, 4)
    x = ember.from_numpy(a)
    for key in [
        0,
        -1,
        (1, 2),
        (slice(None), 1),
        (Ellipsis, 2),
        (None, 0, slice(1, 3)),
        (slice(None, None, -1), slice(0, 3, 2)),
    ]:
        np.testing.assert_array_equal(x[key].numpy(), a[key])
    assert x[0, 1, 2].dim() == 0
    with pytest.raises(IndexError, match="out of bounds"):
        x[5]
    with pytest.raises(IndexError, match="valid indices"):
        x["a"]
    x[1, :, 0] = ember.tensor([7.0, 8.0, 9.0])
    assert x[1, :, 0].tolist() == [7.0, 8.0, 9.0]


def test_clamp_bounds_that_do_not_broadcast_name_both_shapes():
    with pytest.raises(RuntimeError, match=r"input's shape \(3, 4\); got min \(5,\)"):
        ember.clamp(ember.ones(3, 4), ember.zeros(5), None)
    with pytest.raises(RuntimeError, match=r"got min \(4,\) and max \(2, 1, 5\)"):
        ember.clamp(ember.ones(3, 4), ember.zeros(4), ember.ones(2, 1, 5))


def test_rounding_ops_keep_bool_and_integer_dtypes():
    b = np.array([True, False, True])
    i = np.array([-3, 0, 7], np.int32)
    for name in ("round", "floor", "ceil", "trunc"):
        fn = getattr(ember, name)
        rb, ri = fn(ember.from_numpy(b)), fn(ember.from_numpy(i))
        assert rb.dtype is ember.bool and ri.dtype is ember.int32
        np.testing.assert_array_equal(rb.numpy(), b)
        np.testing.assert_array_equal(ri.numpy(), i)
