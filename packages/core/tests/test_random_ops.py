"""ember's random tensor functions: statistics with fixed seeds, PyTorch signatures,
in-place fills, and the errors bad arguments raise (ValueError and RuntimeError alike)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import pytest

import ember.random as R
from ember import _dtype
from ember._C import ffi, lib
from ember._ops import random_ops as O
from ember._tensor import Tensor, _view_of, _wrap

O._install(Tensor)
N = 1_000_000


def chi2_crit(df, z=4.75):
    """Upper chi-square quantile by Wilson-Hilferty; z=4.75 is a ~1e-6 false-alarm rate."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


def chi2(observed, expected):
    observed, expected = np.asarray(observed, float), np.asarray(expected, float)
    return float(((observed - expected) ** 2 / expected).sum())


def normal_cdf(x):
    return 0.5 * (1 + np.vectorize(math.erf)(np.asarray(x) / math.sqrt(2)))


# ---- statistics (5-sigma tolerances from the known standard errors) ------------------


@pytest.mark.parametrize("dtype", [_dtype.float32, _dtype.float64])
def test_uniform_moments(dtype):
    x = O.rand(N, generator=R.Generator().manual_seed(1), dtype=dtype)._a.astype(np.float64)
    assert x.min() >= 0.0 and x.max() < 1.0
    assert abs(x.mean() - 0.5) < 5 * math.sqrt(1 / 12 / N)
    assert abs(x.var() - 1 / 12) < 5 * math.sqrt((1 / 80 - 1 / 144) / N)
    counts = np.histogram(x, bins=100, range=(0, 1))[0]
    assert chi2(counts, np.full(100, N / 100)) < chi2_crit(99)


@pytest.mark.parametrize("dtype", [_dtype.float32, _dtype.float64])
def test_normal_moments_and_shape(dtype):
    z = O.randn(N, generator=R.Generator().manual_seed(2), dtype=dtype)._a.astype(np.float64)
    assert abs(z.mean()) < 5 / math.sqrt(N)
    assert abs(z.var() - 1) < 5 * math.sqrt(2 / N)
    edges = np.concatenate([[-np.inf], np.linspace(-4, 4, 41), [np.inf]])
    expected = np.diff(normal_cdf(np.clip(edges, -40, 40))) * N
    assert chi2(np.histogram(z, bins=edges)[0], expected) < chi2_crit(41)
    # Each pair is (r cos t, r sin t): the angle must be uniform in every quadrant.
    angle = np.arctan2(z[1::2], z[0::2])
    counts = np.histogram(angle, bins=64, range=(-np.pi, np.pi))[0]
    assert chi2(counts, np.full(64, N / 2 / 64)) < chi2_crit(63)


def test_randint_chi_square():
    x = O.randint(3, 10, (N,), generator=R.Generator().manual_seed(3))._a
    assert x.dtype == np.int64 and x.min() == 3 and x.max() == 9
    assert chi2(np.bincount(x - 3, minlength=7), np.full(7, N / 7)) < chi2_crit(6)


def test_multinomial_with_replacement_frequencies():
    w = np.array([0.1, 0.0, 0.2, 0.3, 0.4])
    s = O.multinomial(_wrap(w * 3), N, True, generator=R.Generator().manual_seed(4))._a
    assert s.shape == (N,) and s.dtype == np.int64
    counts = np.bincount(s, minlength=5)
    assert counts[1] == 0  # a zero weight is never drawn
    keep = w > 0
    assert chi2(counts[keep], N * w[keep]) < chi2_crit(3)


def test_multinomial_without_replacement_matches_sequential_sampling():
    w = np.array([1.0, 2.0, 0.0, 3.0, 4.0])
    rows = 200_000
    s = O.multinomial(_wrap(np.tile(w, (rows, 1))), 2, generator=R.Generator().manual_seed(5))
    s = s._a
    assert s.shape == (rows, 2) and np.all(s[:, 0] != s[:, 1]) and not np.any(s == 2)
    p = w / w.sum()
    # P(second = j) = sum_{i != j} p_i * p_j / (1 - p_i)
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(5) if i != j) for j in range(5)])
    keep = w > 0
    for col, prob in ((0, p), (1, second)):
        counts = np.bincount(s[:, col], minlength=5)
        assert chi2(counts[keep], rows * prob[keep]) < chi2_crit(3)
    full = O.multinomial(_wrap(w), 4, generator=R.Generator().manual_seed(6))._a
    assert sorted(full.tolist()) == [0, 1, 3, 4]


def test_randperm_is_a_uniform_permutation():
    g = R.Generator().manual_seed(7)
    p = O.randperm(100_003, generator=g)._a
    assert p.dtype == np.int64
    np.testing.assert_array_equal(np.sort(p), np.arange(100_003))
    firsts = np.array([O.randperm(6, generator=g)._a[0] for _ in range(30_000)])
    assert chi2(np.bincount(firsts, minlength=6), np.full(6, 5000)) < chi2_crit(5)
    assert O.randperm(0)._a.shape == (0,)
    assert O.randperm(5, dtype=_dtype.int8)._a.dtype == np.int8


def test_bernoulli_rates():
    g = R.Generator().manual_seed(8)
    x = O.bernoulli(_wrap(np.full(N, 0.3, np.float32)), generator=g)._a
    assert x.dtype == np.float32 and set(np.unique(x)) <= {0.0, 1.0}
    assert abs(x.mean() - 0.3) < 5 * math.sqrt(0.21 / N)
    edge = O.bernoulli(_wrap(np.array([0.0, 1.0] * 5000)), generator=g)._a
    np.testing.assert_array_equal(edge, np.array([0.0, 1.0] * 5000))
    y = O.bernoulli(_wrap(np.zeros(N)), 0.9, generator=g)._a  # the scalar-p overload
    assert abs(y.mean() - 0.9) < 5 * math.sqrt(0.09 / N)
    t = _wrap(np.zeros((1000, 3), np.int32)).bernoulli_(_wrap(np.array([0.0, 0.5, 1.0])))
    assert t._a[:, 0].sum() == 0 and t._a[:, 2].sum() == 1000 and 400 < t._a[:, 1].sum() < 600


def test_continuous_fills():
    g = R.Generator().manual_seed(9)
    e = _wrap(np.empty(N, np.float64)).exponential_(4.0, generator=g)._a
    assert e.min() > 0 and abs(e.mean() - 0.25) < 5 * 0.25 / math.sqrt(N)
    assert abs(e.var() - 1 / 16) < 5 * math.sqrt(8 / 4**4 / N)  # Var(X^2)-based SE
    e32 = _wrap(np.empty(N, np.float32)).exponential_(generator=g)._a
    assert abs(e32.mean() - 1) < 5 / math.sqrt(N) and np.isfinite(e32).all()
    geo = _wrap(np.empty(N, np.int64)).geometric_(0.25, generator=g)._a
    assert geo.min() >= 1 and abs(geo.mean() - 4) < 5 * math.sqrt(0.75 / 0.0625 / N)
    assert abs(np.mean(geo == 1) - 0.25) < 5 * math.sqrt(0.1875 / N)
    c = _wrap(np.empty(N, np.float64)).cauchy_(2.0, 3.0, generator=g)._a
    # Quartiles of Cauchy(m, s) are m -+ s.
    q1, med, q3 = np.quantile(c, [0.25, 0.5, 0.75])
    assert abs(med - 2) < 0.02 and abs(q1 + 1) < 0.03 and abs(q3 - 5) < 0.03
    ln = _wrap(np.empty(N, np.float32)).log_normal_(0.5, 0.25, generator=g)._a
    assert abs(np.log(ln).mean() - 0.5) < 5 * 0.25 / math.sqrt(N)
    u = _wrap(np.empty(N, np.float64)).uniform_(-2.0, 6.0, generator=g)._a
    assert u.min() >= -2 and u.max() < 6 and abs(u.mean() - 2) < 5 * 8 / math.sqrt(12 * N)
    nm = _wrap(np.empty(N, np.float32)).normal_(3.0, 0.5, generator=g)._a
    assert abs(nm.mean() - 3) < 5 * 0.5 / math.sqrt(N) and abs(nm.std() - 0.5) < 0.003


# ---- half-open intervals -------------------------------------------------------------


@pytest.mark.parametrize("np_dtype", [np.float16, ml_dtypes.bfloat16, np.float32, np.float64])
def test_uniform_never_reaches_high(np_dtype):
    g = R.Generator().manual_seed(10)
    x = g._uniform((N,), np_dtype).astype(np.float64)
    assert x.min() >= 0 and x.max() < 1
    # Ranges whose top would round up to `high` in the target dtype.
    y = g._uniform((N,), np_dtype, 1000.0, 1001.0).astype(np.float64)
    assert y.min() >= 1000 and y.max() < 1001
    hi = float(np.nextafter(np.float32(1), np.float32(2)))
    z = g._uniform((1000,), np.float32, 1.0, hi)
    assert np.all(z == 1.0)


def test_float32_uniform_top_value_is_below_one():
    # The largest possible float32 output comes from an all-ones lane.
    assert np.float32((2**24 - 1) * 2.0**-24) < 1.0
    out = np.empty(1, np.float32)
    # low=0, high=1 with the coarsest grid: 1 bit gives {0, 0.5}.
    assert lib.em_philox_uniform_f32(0, 0, ffi.from_buffer("float[]", out), 1, 0, 1, 1) == 0
    assert out[0] in (0.0, 0.5)


# ---- API -------------------------------------------------------------------------------


def test_shapes_dtypes_and_signatures():
    assert O.rand(2, 3).shape == (2, 3) and O.rand((2, 3)).shape == (2, 3)
    assert O.rand([4]).dtype is _dtype.float32 and O.rand(0, 3).shape == (0, 3)
    assert O.randn(2, dtype=_dtype.float64).dtype is _dtype.float64
    assert O.randn(5, dtype=_dtype.float16).dtype is _dtype.float16
    c = O.randn(N, dtype=_dtype.complex64)._a
    assert c.dtype == np.complex64 and abs(np.mean(np.abs(c) ** 2) - 1) < 0.01
    assert O.rand(3, dtype=_dtype.complex64)._a.real.max() < 1
    assert O.randint(5, (3,)).dtype is _dtype.int64
    assert O.randint(2, 5, size=(3,)).shape == (3,)
    assert O.randint(low=1, high=3, size=(4,))._a.min() >= 1
    assert O.randint(0, 3, (2,), dtype=_dtype.float32).dtype is _dtype.float32
    x = O.randint(0, 2, (1000,), dtype=_dtype.bool)._a
    assert x.dtype == np.bool_ and x.any() and not x.all()
    base = O.rand(3, 4, dtype=_dtype.float64)
    assert O.rand_like(base).dtype is _dtype.float64 and O.randn_like(base).shape == (3, 4)
    r = O.randint_like(base, 5)._a
    assert r.dtype == np.float64 and r.min() >= 0 and r.max() <= 4
    assert O.randint_like(base, 10, 12)._a.min() >= 10
    assert O.normal(2.0, 3.0, (4, 5)).shape == (4, 5)
    m = O.normal(_wrap(np.array([0.0, 100.0], np.float32)), 0.001)
    assert m.dtype is _dtype.float32 and abs(m._a[1] - 100) < 0.1
    s = O.normal(5.0, _wrap(np.zeros((2, 2))))
    np.testing.assert_array_equal(s._a, np.full((2, 2), 5.0))
    out = _wrap(np.zeros(6, np.float64))
    assert O.rand(6, out=out) is out and out._a.min() > 0 or out._a.max() > 0
    assert set(O.__all__) >= {
        "rand",
        "randn",
        "randint",
        "randperm",
        "rand_like",
        "randn_like",
        "randint_like",
        "bernoulli",
        "normal",
        "multinomial",
    }


def test_random_fill_ranges():
    g = R.Generator().manual_seed(11)
    t = _wrap(np.empty(10_000, np.float32))
    assert t.random_(5, generator=g)._a.max() == 4  # random_(to)
    assert t.random_(3, 6, generator=g)._a.min() == 3 and t._a.max() == 5
    t.random_(**{"from": 10}, generator=g)
    assert t._a.min() >= 10 and t._a.max() <= 2**24
    assert np.all(t._a == np.round(t._a))
    i8 = _wrap(np.empty(10_000, np.int8)).random_(generator=g)._a
    assert i8.min() == 0 and i8.max() == 127
    b = _wrap(np.empty(1000, np.bool_)).random_(generator=g)._a
    assert b.any() and not b.all()
    u = _wrap(np.empty(100, np.float32)).uniform_(**{"from": 2, "to": 3})._a
    assert u.min() >= 2 and u.max() < 3


def test_inplace_writes_views_and_bumps_version():
    base = _wrap(np.zeros((4, 6), np.float32))
    view = _view_of(base, base._a.T)  # non-contiguous
    before = view._version
    view.uniform_(5, 6, generator=R.Generator().manual_seed(12))
    assert view._version == before + 1 == base._version
    assert base._a.min() >= 5
    # Values follow the view's own row-major order.
    np.testing.assert_array_equal(
        view._a, R.Generator().manual_seed(12)._uniform((6, 4), np.float32, 5, 6)
    )


# ---- errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: O.rand(-1), "negative dimension"),
        (lambda: O.randn(2, -3), "negative dimension"),
        (lambda: O.randint(5, 3, (2,)), "'from' < 'to'"),
        (lambda: O.randint(3, 3, (2,)), "'from' < 'to'"),
        (lambda: O.randint(0, 300, (2,), dtype=_dtype.int8), "does not fit"),
        (lambda: O.randperm(-1), "non-negative"),
        (lambda: O.randperm(300, dtype=_dtype.int8), "too large"),
        (lambda: O.multinomial(_wrap(np.array([0.5, -0.1])), 1), "element < 0"),
        (lambda: O.multinomial(_wrap(np.array([[1.0, 1], [0, 0]])), 1), "sums to 0"),
        (lambda: O.multinomial(_wrap(np.array([[1.0, 1], [0, 0]])), 3, True), "sums to 0"),
        (lambda: O.multinomial(_wrap(np.array([[1.0, 1], [1, -1]])), 3, True), "element < 0"),
        (lambda: O.multinomial(_wrap(np.array([1.0, 1, 1])), 4), "without replacement"),
        (lambda: O.multinomial(_wrap(np.array([1.0, 0, 0])), 2), "fewer non-zero"),
        (lambda: O.multinomial(_wrap(np.array([1.0, np.nan])), 1, True), "nan"),
        (lambda: O.multinomial(_wrap(np.ones(3)), 0), "num_samples=0"),
        (lambda: O.multinomial(_wrap(np.ones((2, 2, 2))), 1), "1-D or 2-D"),
        (lambda: O.bernoulli(_wrap(np.array([1.5]))), "0 <= p <= 1"),
        (lambda: O.normal(0.0, -1.0, (2,)), "std >= 0"),
        (lambda: O.normal(_wrap(np.zeros(2)), _wrap(-np.ones(2))), "std >= 0"),
        (lambda: _wrap(np.empty(2, np.float32)).uniform_(2, 1), "from <= to"),
        (lambda: _wrap(np.empty(2, np.float32)).uniform_(-3e38, 3e38), "overflows"),
        (lambda: _wrap(np.empty(2)).exponential_(0.0), "lambd > 0"),
        (lambda: _wrap(np.empty(2)).geometric_(1.0), r"\(0, 1\)"),
        (lambda: _wrap(np.empty(2)).cauchy_(0.0, -1.0), "sigma > 0"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert isinstance(info.value, RuntimeError)  # what PyTorch raises, too


def test_bad_types():
    with pytest.raises(TypeError, match="floating point"):
        O.rand(2, dtype=_dtype.int64)
    with pytest.raises(TypeError, match="tuple of ints"):
        O.rand(2.5)
    with pytest.raises(TypeError, match="size"):
        O.rand()
    with pytest.raises(TypeError, match="needs a size"):
        O.normal(0.0, 1.0)
    with pytest.raises(TypeError, match="unexpected keyword"):
        _wrap(np.empty(2)).uniform_(**{"start": 1})


def test_c_entry_points_reject_bad_input():
    f = np.empty(8, np.float32)
    d = np.empty(8, np.float64)
    i = np.empty(8, np.int64)
    fp, dp, ip = (
        ffi.from_buffer(t, a) for t, a in (("float[]", f), ("double[]", d), ("int64_t[]", i))
    )
    null = ffi.NULL
    assert lib.em_philox4x32_10(null, [0, 0], ffi.new("uint32_t[4]")) == lib.EM_RNG_ENULL
    assert lib.em_philox_u32(0, 0, null, 4) == lib.EM_RNG_ENULL
    assert lib.em_philox_u32(0, 0, null, 0) == lib.EM_RNG_OK
    assert lib.em_philox_u64(0, 0, null, -1) == lib.EM_RNG_ESIZE
    assert lib.em_philox_uniform_f32(0, 0, fp, 8, 0, 1, 0) == lib.EM_RNG_EARG
    assert lib.em_philox_uniform_f32(0, 0, fp, 8, 0, 1, 25) == lib.EM_RNG_EARG
    assert lib.em_philox_uniform_f32(0, 0, fp, 8, 1, 0, 24) == lib.EM_RNG_EARG
    assert lib.em_philox_uniform_f64(0, 0, dp, 8, 0, math.inf) == lib.EM_RNG_EARG
    assert lib.em_philox_normal_f32(0, 0, fp, 8, 0, -1) == lib.EM_RNG_EARG
    assert lib.em_philox_normal_f64(0, 0, dp, 8, math.nan, 1) == lib.EM_RNG_EARG
    assert lib.em_philox_exponential_f32(0, 0, fp, 8, 0) == lib.EM_RNG_EARG
    assert lib.em_philox_exponential_f64(0, 0, null, 8, 1) == lib.EM_RNG_ENULL
    assert lib.em_philox_randint_i64(0, 0, ip, 8, 0, 0) == lib.EM_RNG_EARG
    assert lib.em_philox_randint_i64(0, 0, ip, 8, 2**62, 2**62 + 1) == lib.EM_RNG_EARG
    assert lib.em_philox_randint_i64(0, 0, ip, 8, -(2**63), 2**64 - 1) == lib.EM_RNG_OK
    assert lib.em_philox_bernoulli(0, 0, dp, 3, ffi.new("uint8_t[8]"), 8) == lib.EM_RNG_ESIZE
    cdf = ffi.new("double[4]", [0.0, 0.0, 0.0, 0.0])
    assert lib.em_philox_multinomial(0, 0, cdf, 2, 2, 1, ip) == lib.EM_RNG_EARG
    assert lib.em_philox_multinomial(0, 0, cdf, 2, 0, 1, ip) == lib.EM_RNG_ESIZE
    assert lib.em_philox_multinomial(0, 0, cdf, 2**62, 2, 2**62, ip) == lib.EM_RNG_ESIZE
