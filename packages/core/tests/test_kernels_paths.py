"""The kernels' faster paths against numpy: tiled walks for disagreeing layouts, the
column reduction, the dense 1-d entry points, and float32 tanh's accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from ember import _kernels as K

RNG = np.random.default_rng(77)


def _f32(shape):
    return RNG.standard_normal(shape).astype(np.float32)


@pytest.mark.parametrize("shape", [(300, 257), (65, 1000), (3, 130, 70), (129, 2, 131)])
def test_tiled_walks_match_numpy(shape):
    x = _f32(shape)
    perm = tuple(reversed(range(len(shape))))
    xt = np.ascontiguousarray(_f32(tuple(shape[p] for p in perm))).transpose(perm)
    row = _f32(shape[-1:])
    out = np.empty(shape, np.float32)
    np.testing.assert_array_equal(K.binary("add", xt, row, out), xt + row)
    np.testing.assert_array_equal(K.binary("mul", x, xt, out), x * xt)
    np.testing.assert_array_equal(K.cast(xt, out), xt)
    tout = np.empty(tuple(shape[p] for p in perm), np.float64).transpose(perm)
    np.testing.assert_array_equal(K.cast(x, tout), x.astype(np.float64))
    np.testing.assert_array_equal(K.unary("neg", xt[..., ::-1], out), -xt[..., ::-1])
    i8 = (x * 10).astype(np.int8)
    np.testing.assert_array_equal(
        K.binary("sub", i8, i8.T.copy().T, np.empty(shape, np.int8)), i8 - i8
    )


@pytest.mark.parametrize(
    "shape,dims",
    [((5000, 3), (0,)), ((40, 4100), (0,)), ((7, 2049, 3), (0,)), ((300, 5, 2100), (0, 1))],
)
@pytest.mark.parametrize("op", ["sum", "amax", "mean", "prod", "any"])
def test_column_reductions_match_numpy(shape, dims, op):
    x = _f32(shape) * 0.5 + 1.0
    ref = {
        "sum": np.sum,
        "amax": np.max,
        "mean": np.mean,
        "prod": np.prod,
        "any": np.any,
    }[op](x.astype(np.float64), axis=dims)
    got = K.reduce(op, x, dims)
    np.testing.assert_allclose(got, ref.astype(got.dtype), rtol=3e-6)


def test_column_reduction_is_independent_of_threads():
    x = _f32((600, 3000))
    before = K.get_num_threads()
    try:
        K.set_num_threads(1)
        one = K.reduce("sum", x, (0,))
        K.set_num_threads(2)
        two = K.reduce("sum", x, (0,))
    finally:
        K.set_num_threads(before)
    np.testing.assert_array_equal(one, two)


def test_dense_paths_f_order_scalars_and_bool_outputs():
    x = np.asfortranarray(_f32((70, 90)))
    y = np.asfortranarray(_f32((70, 90)))
    out = np.empty((70, 90), np.float32, order="F")
    np.testing.assert_array_equal(K.binary("sub", x, y, out), x - y)
    np.testing.assert_array_equal(K.binary("lt", x, y, np.empty((70, 90), np.bool_)), x < y)
    np.testing.assert_array_equal(
        K.binary("lt", x, y, np.empty((70, 90), np.bool_, order="F")), x < y
    )
    np.testing.assert_array_equal(
        K.binary_scalar("mul", x, 3.0, np.empty_like(x), True), np.float32(3.0) * x
    )
    one = np.array([2.0], np.float32)
    np.testing.assert_array_equal(K.binary("add", one, x, np.empty_like(x)), 2.0 + x)
    np.testing.assert_allclose(K.reduce("sum", x), x.astype(np.float64).sum(), rtol=1e-6)
    np.testing.assert_array_equal(K.reduce("amax", x, keepdim=True), x.max(keepdims=True))
    np.testing.assert_allclose(K.reduce("mean", x, (1, 0)), x.astype(np.float64).mean(), 1e-6)
    xi = np.arange(1000, dtype=np.int32)
    assert K.reduce("sum", xi) == xi.sum() and K.reduce("sum", xi).dtype == np.int64


def _ulps(got: np.ndarray, ref: np.ndarray) -> np.ndarray:
    r32 = ref.astype(np.float32)
    ulp = np.spacing(np.abs(r32)).astype(np.float64)
    return np.abs(got.astype(np.float64) - ref) / ulp


def test_tanh_float32_within_two_ulp_and_special_values():
    grid = np.concatenate(
        [
            np.linspace(0, 12, 400_001, dtype=np.float32),
            np.float32(0.75) + np.arange(-2000, 2000, dtype=np.float32) * np.float32(6e-8),
            np.geomspace(1e-38, 1e-2, 20_000).astype(np.float32),
            np.float32([9.49, 9.5, 9.51, 44.0, 89.0, 1e30, 3.4e38, 1e-45]),
        ]
    )
    x = np.concatenate([grid, -grid])
    got = K.unary("tanh", x, np.empty_like(x))
    assert _ulps(got, np.tanh(x.astype(np.float64))).max() <= 2.0
    sp = np.array([0.0, -0.0, np.inf, -np.inf, np.nan], np.float32)
    r = K.unary("tanh", sp, np.empty_like(sp))
    assert r[0] == 0 and not np.signbit(r[0]) and r[1] == 0 and np.signbit(r[1])
    assert r[2] == 1 and r[3] == -1 and np.isnan(r[4])
