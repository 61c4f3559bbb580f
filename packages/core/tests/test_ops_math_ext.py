"""The numpy-like math extras against independent references: Python's ``math``
module, numpy, identities of the gamma family, and hand computations."""

import math

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(11)
T = ember.from_numpy


def test_lgamma_matches_math_lgamma():
    x = np.concatenate(
        [RNG.uniform(0.01, 30, 200), RNG.uniform(-20, 0, 200), [0.5, 1.0, 2.0, 1e-8, 170.5, 1e5]]
    )
    x = x[np.abs(x - np.round(x)) > 1e-6]  # poles excluded
    ref = np.array([math.lgamma(v) for v in x])
    np.testing.assert_allclose(ember.lgamma(T(x)).numpy(), ref, rtol=1e-12, atol=1e-12)
    assert ember.lgamma(T(np.array([0.0, -3.0]))).numpy().tolist() == [np.inf, np.inf]
    r32 = ember.lgamma(T(x.astype(np.float32)))
    assert r32.dtype == ember.float32
    ref32 = np.array([math.lgamma(v) for v in x.astype(np.float32).astype(np.float64)])
    np.testing.assert_allclose(r32.numpy(), ref32, rtol=1e-5, atol=1e-5)
    assert ember.lgamma(ember.tensor([1, 2, 5])).dtype == ember.float32  # ints -> default float
    h = ember.lgamma(ember.tensor([2.5, 4.0], dtype=ember.float16))
    assert h.dtype == ember.float16
    np.testing.assert_allclose(
        h.numpy().astype(float), [math.lgamma(2.5), math.lgamma(4)], rtol=2e-3
    )


def test_digamma_is_the_derivative_of_lgamma():
    x = np.concatenate([RNG.uniform(0.05, 40, 100), RNG.uniform(-9.9, -0.1, 100)])
    x = x[np.abs(x - np.round(x)) > 1e-3]
    h = 1e-5
    ref = np.array([(math.lgamma(v + h) - math.lgamma(v - h)) / (2 * h) for v in x])
    np.testing.assert_allclose(ember.digamma(T(x)).numpy(), ref, rtol=1e-6, atol=1e-6)
    euler = 0.5772156649015329
    assert abs(ember.digamma(ember.tensor([1.0], dtype=ember.float64)).item() + euler) < 1e-15
    r = ember.digamma(T(np.array([0.0, -2.0]))).numpy()
    assert r[0] == -np.inf and np.isnan(r[1])


def _hurwitz_brute(s, x, n=200000):
    k = np.arange(n, dtype=np.float64)
    z = x + n
    # Direct sum plus the integral tail and half the first omitted term.
    return np.sum((x + k) ** -s) + z ** (1 - s) / (s - 1) + 0.5 * z**-s


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_polygamma_against_series_and_known_values(n):
    xs = [0.3, 1.0, 2.5, 7.0, 31.0, -0.5, -2.7]
    got = ember.polygamma(n, T(np.array(xs))).numpy()
    ref = [(-1) ** (n + 1) * math.factorial(n) * _hurwitz_brute(n + 1, x) for x in xs]
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    if n == 1:
        assert (
            abs(
                ember.polygamma(1, ember.tensor([1.0], dtype=ember.float64)).item() - math.pi**2 / 6
            )
            < 1e-14
        )
    x = np.array([0.7, 3.2])
    rec = ember.polygamma(n, T(x + 1)).numpy() - ember.polygamma(n, T(x)).numpy()
    np.testing.assert_allclose(rec, (-1) ** n * math.factorial(n) / x ** (n + 1), rtol=1e-11)
    np.testing.assert_allclose(ember.polygamma(0, T(x)).numpy(), ember.digamma(T(x)).numpy())
    with pytest.raises(RuntimeError, match="negative"):
        ember.polygamma(-1, T(x))


def test_mvlgamma():
    x = RNG.uniform(2.0, 6.0, 10)
    for p in (1, 2, 4):
        ref = [
            p * (p - 1) / 4 * math.log(math.pi) + sum(math.lgamma(v - j / 2) for j in range(p))
            for v in x
        ]
        np.testing.assert_allclose(ember.mvlgamma(T(x), p).numpy(), ref, rtol=1e-12)
    with pytest.raises(RuntimeError, match=r"greater than \(p-1\)/2"):
        ember.mvlgamma(ember.tensor([0.4]), 2)


def test_erfinv_inverts_math_erf():
    y = np.concatenate([RNG.uniform(-1, 1, 500), [0.0, 1 - 1e-12, -0.999999, 1e-9]])
    x = ember.erfinv(T(y)).numpy()
    np.testing.assert_allclose([math.erf(v) for v in x], y, rtol=1e-13, atol=1e-15)
    special = ember.erfinv(T(np.array([1.0, -1.0, 1.5, np.nan]))).numpy()
    assert special[0] == np.inf and special[1] == -np.inf and np.isnan(special[2:]).all()
    f32 = ember.erfinv(T(y.astype(np.float32)))
    assert f32.dtype == ember.float32


def test_i0_sinc_logit_xlogy():
    x = RNG.standard_normal(50) * 4
    np.testing.assert_allclose(ember.i0(T(x)).numpy(), np.i0(x))
    np.testing.assert_allclose(ember.sinc(T(x)).numpy(), np.sinc(x))
    assert ember.sinc(ember.tensor([0.0])).item() == 1.0
    p = RNG.uniform(0.01, 0.99, 20)
    np.testing.assert_allclose(ember.logit(T(p)).numpy(), np.log(p / (1 - p)))
    q = np.clip(p, 0.1, 0.9)
    np.testing.assert_allclose(ember.logit(T(p), 0.1).numpy(), np.log(q / (1 - q)))
    a, b = RNG.standard_normal((3, 1)), np.abs(RNG.standard_normal(4))
    a[0, 0] = 0.0
    ref = np.where(a == 0, 0.0, a * np.log(b))
    np.testing.assert_allclose(ember.xlogy(T(a), T(b)).numpy(), ref)
    z = ember.xlogy(ember.tensor([0.0, 0.0]), ember.tensor([0.0, float("nan")])).numpy()
    assert z[0] == 0.0 and np.isnan(z[1])
    np.testing.assert_allclose(ember.xlogy(2.0, T(b)).numpy(), 2 * np.log(b))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_logaddexp_family(dt):
    a = (RNG.standard_normal((3, 1)) * 50).astype(dt)
    b = (RNG.standard_normal(4) * 50).astype(dt)
    r = ember.logaddexp(T(a), T(b))
    assert r.dtype == T(a).dtype
    np.testing.assert_allclose(r.numpy(), np.logaddexp(a, b), rtol=1e-6)
    np.testing.assert_allclose(ember.logaddexp2(T(a), T(b)).numpy(), np.logaddexp2(a, b), rtol=1e-6)
    with pytest.raises(RuntimeError, match="size of tensor a"):
        ember.logaddexp(ember.ones(2), ember.ones(3))


def test_angles_nan_to_num_heaviside():
    d = np.array([0.0, 90.0, 180.0, -45.0])
    np.testing.assert_allclose(ember.deg2rad(T(d)).numpy(), np.deg2rad(d))
    np.testing.assert_allclose(ember.rad2deg(T(np.deg2rad(d))).numpy(), d)
    assert ember.deg2rad(ember.tensor([180])).dtype == ember.float32
    x = np.array([np.nan, np.inf, -np.inf, 1.5], np.float32)
    np.testing.assert_array_equal(ember.nan_to_num(T(x)).numpy(), np.nan_to_num(x))
    np.testing.assert_array_equal(
        ember.nan_to_num(T(x), 1.0, 2.0, -3.0).numpy(), [1.0, 2.0, -3.0, 1.5]
    )
    t = T(x.copy())
    t.nan_to_num_(nan=9.0)
    assert t.numpy()[0] == 9.0 and t.numpy()[1] == np.finfo(np.float32).max
    h = ember.heaviside(ember.tensor([-1.0, 0.0, 2.0]), ember.tensor([0.5]))
    assert h.tolist() == [0.0, 0.5, 1.0]
    with pytest.raises(RuntimeError, match="different dtypes"):
        ember.heaviside(ember.tensor([1.0]), ember.tensor([1]))


def test_integer_helpers():
    a = RNG.integers(-50, 50, 20)
    b = RNG.integers(-50, 50, 20)
    np.testing.assert_array_equal(ember.gcd(T(a), T(b)).numpy(), np.gcd(a, b))
    np.testing.assert_array_equal(ember.lcm(T(a), T(b)).numpy(), np.lcm(a, b))
    with pytest.raises(RuntimeError, match="integer"):
        ember.gcd(ember.ones(2), ember.ones(2))
    m = RNG.standard_normal(6)
    e = RNG.integers(-4, 5, 6)
    np.testing.assert_allclose(ember.ldexp(T(m), T(e)).numpy(), np.ldexp(m, e))
    mant, ex = ember.frexp(T(m))
    rm, rex = np.frexp(m)
    np.testing.assert_array_equal(mant.numpy(), rm)
    np.testing.assert_array_equal(ex.numpy(), rex)
    assert ex.dtype == ember.int32
    with pytest.raises(RuntimeError, match="floating"):
        ember.frexp(ember.tensor([1, 2]))
    n = ember.nextafter(ember.tensor([1.0]), ember.tensor([2.0])).item()
    assert n == np.nextafter(np.float32(1), np.float32(2))


def test_isclose_allclose_equal():
    a = np.array([1.0, 2.0, np.nan, np.inf, 1e-9])
    b = np.array([1.0 + 1e-6, 2.1, np.nan, np.inf, 0.0])
    np.testing.assert_array_equal(ember.isclose(T(a), T(b)).numpy(), np.isclose(a, b))
    np.testing.assert_array_equal(
        ember.isclose(T(a), T(b), equal_nan=True).numpy(), np.isclose(a, b, equal_nan=True)
    )
    assert ember.allclose(T(a[:2]), T(a[:2] + 1e-9)) is True
    assert ember.allclose(T(a), T(b), rtol=0.1, equal_nan=True) is True
    assert ember.allclose(T(a), T(b)) is False
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2])) is True
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([[1, 2]])) is False
    with pytest.raises(RuntimeError, match="did not match"):
        ember.isclose(ember.ones(2), ember.ones(2, dtype=ember.float64))


def test_clamp_min_max_sgn_positive_fix():
    x = RNG.standard_normal(10).astype(np.float32)
    np.testing.assert_array_equal(ember.clamp_min(T(x), 0.2).numpy(), np.maximum(x, 0.2))
    np.testing.assert_array_equal(T(x).clamp_max(0.2).numpy(), np.minimum(x, np.float32(0.2)))
    t = T(x.copy())
    t.clamp_min_(0.0)
    np.testing.assert_array_equal(t.numpy(), np.maximum(x, 0))
    t.clamp_max_(0.5)
    np.testing.assert_array_equal(t.numpy(), np.clip(x, 0, np.float32(0.5)))
    np.testing.assert_array_equal(ember.sgn(T(x)).numpy(), np.sign(x))
    z = np.array([3 + 4j, 0j, -2j], np.complex64)
    np.testing.assert_allclose(ember.sgn(T(z)).numpy(), [0.6 + 0.8j, 0, -1j], rtol=1e-6)
    p = T(x)
    assert ember.positive(p) is p
    with pytest.raises(RuntimeError, match="bool"):
        ember.positive(ember.tensor([True]))
    np.testing.assert_array_equal(ember.fix(T(x * 3)).numpy(), np.fix(x * 3))


def _softmax_ref(a, d):
    if a.size == 0:
        return a.copy()
    e = np.exp(a - a.max(d, keepdims=True))
    return e / e.sum(d, keepdims=True)


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("shape", [(5,), (3, 4), (2, 3, 4), (2, 0)])
def test_softmax_log_softmax(dt, shape):
    a = (RNG.standard_normal(shape) * 20).astype(dt)
    views = [a, np.ascontiguousarray(a.T).T] if a.ndim > 1 else [a, a[::-1]]
    tol = 2e-3 if dt == np.float16 else 1e-5
    for v in views:
        for d in range(v.ndim):
            ref = _softmax_ref(v.astype(np.float64), d)
            s = ember.softmax(T(v), d)
            assert s.dtype == T(v).dtype
            np.testing.assert_allclose(s.numpy().astype(float), ref, rtol=tol, atol=tol)
            np.testing.assert_allclose(
                T(v).softmax(d).numpy().astype(float), ref, rtol=tol, atol=tol
            )
            if v.size:
                ls = T(v).log_softmax(d).numpy().astype(float)
                np.testing.assert_allclose(ls, np.log(ref), rtol=tol, atol=tol * 10)
    s64 = ember.softmax(T(a.astype(np.float32)), -1, dtype=ember.float64)
    assert s64.dtype == ember.float64


def test_softmax_extremes_and_errors():
    x = ember.tensor([[1000.0, 0.0], [-float("inf"), 1.0]])
    s = ember.softmax(x, 1).numpy()
    np.testing.assert_allclose(s, [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(RuntimeError, match="floating point"):
        ember.softmax(ember.tensor([1, 2]), 0)
    with pytest.raises(IndexError):
        ember.softmax(ember.ones(3), 1)


def test_cov_corrcoef():
    x = RNG.standard_normal((3, 10))
    np.testing.assert_allclose(ember.cov(T(x)).numpy(), np.cov(x))
    np.testing.assert_allclose(ember.cov(T(x), correction=0).numpy(), np.cov(x, ddof=0))
    np.testing.assert_allclose(ember.corrcoef(T(x)).numpy(), np.corrcoef(x))
    v = RNG.standard_normal(8)
    np.testing.assert_allclose(ember.cov(T(v)).item(), np.cov(v))
