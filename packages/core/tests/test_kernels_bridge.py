"""ember._kernels_bridge: large operands go to the C kernels, everything the kernels do
not support goes to numpy with numpy's own promotion and errors."""

from __future__ import annotations

import numpy as np
import pytest

from ember import _kernels_bridge as B

N = 4096  # the bridge does not look at sizes: the callers compare against C_MIN


def test_int_array_with_float_scalar_goes_to_numpy():
    x = np.arange(N, dtype=np.int32)
    r = B.binary("add", np.add, x, 2.5)
    np.testing.assert_array_equal(r, x + 2.5)
    assert r.dtype == np.float64  # numpy's promotion, not a TypeError from the kernel
    r = B.binary("mul", np.multiply, x.astype(np.int64), -0.5)
    np.testing.assert_array_equal(r, x.astype(np.int64) * -0.5)


def test_unsupported_scalar_combinations_fall_back():
    x8 = (np.arange(N) % 100).astype(np.int8)
    with pytest.raises(OverflowError):  # numpy's error for an out-of-range Python int
        B.binary("add", np.add, x8, 300)
    xb = np.arange(N) % 3 == 0
    np.testing.assert_array_equal(B.binary("add", np.add, xb, 2), xb + 2)
    np.testing.assert_array_equal(B.binary("mul", np.multiply, xb, 1.5), xb * 1.5)
    xi = np.arange(N, dtype=np.int16)
    np.testing.assert_array_equal(B.binary("add", np.add, xi, 7), xi + 7)
    assert B.binary("add", np.add, xi, 7).dtype == np.int16


@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "int64", "uint8"])
def test_scalar_and_array_operands_match_numpy(dtype):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((64, 64)) * 20).astype(dtype)
    y = (rng.standard_normal((64, 64)) * 20).astype(dtype)
    for name, uf in (("add", np.add), ("mul", np.multiply), ("maximum", np.maximum)):
        np.testing.assert_array_equal(B.binary(name, uf, x, y), uf(x, y))
        np.testing.assert_array_equal(B.binary(name, uf, x, 3), uf(x, 3))
        np.testing.assert_array_equal(B.binary(name, uf, x.T, y[0]), uf(x.T, y[0]))
    np.testing.assert_array_equal(B.binary("lt", np.less, x, y), x < y)


def test_results_keep_the_inputs_memory_order():
    x = np.random.default_rng(1).standard_normal((300, 200)).astype(np.float32)
    r = B.binary("add", np.add, x.T, x.T)
    np.testing.assert_array_equal(r, x.T + x.T)
    assert r.flags.f_contiguous and r.strides == (x.T + x.T).strides
    e = B.unary("exp", np.exp, x.T)
    assert e.flags.f_contiguous
    np.testing.assert_allclose(e, np.exp(x.T), rtol=2e-7)
    r = B.binary("sub", np.subtract, x[::-1], x[0])
    np.testing.assert_array_equal(r, x[::-1] - x[0])
