"""Core ops the other test files did not reach, against numpy: fused arithmetic
(addcmul, addcdiv, lerp, rsub, float_power), products (addmm, addmv, addbmm,
baddbmm, outer/ger, vdot), more elementwise (copysign, fmax/fmin, frac, shifts,
floor_divide, isposinf/isneginf/signbit), reductions (aminmax, count_nonzero,
nansum, nanmean, var_mean, std_mean), joins and views (cat, hstack, vstack,
dstack, broadcast_tensors, expand_as, view_as, reshape_as, movedim, swapdims,
tensor_split, unflatten) and creation (as_tensor, scalar_tensor, empty_strided,
logspace, tril_indices, triu_indices)."""

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(17)
T = ember.from_numpy


def r(*shape, dt=np.float64):
    return RNG.standard_normal(shape).astype(dt)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_fused_arithmetic(dt):
    a, b, c = r(3, 4, dt=dt), r(1, 4, dt=dt), r(3, 1, dt=dt) + 3
    tol = dict(rtol=1e-6) if dt == np.float32 else dict(rtol=1e-12)
    np.testing.assert_allclose(
        ember.addcmul(T(a), T(b), T(c), value=0.5).numpy(), a + 0.5 * b * c, **tol
    )
    np.testing.assert_allclose(T(a).addcdiv(T(b), T(c), value=2).numpy(), a + 2 * b / c, **tol)
    np.testing.assert_allclose(ember.lerp(T(a), T(b), 0.25).numpy(), a + 0.25 * (b - a), **tol)
    np.testing.assert_allclose(ember.lerp(T(a), T(b), T(c)).numpy(), a + c * (b - a), **tol)
    np.testing.assert_allclose(ember.rsub(T(a), 2.0).numpy(), 2.0 - a, **tol)
    np.testing.assert_allclose(ember.rsub(T(a), T(b), alpha=3).numpy(), b - 3 * a, **tol)
    fp = ember.float_power(T(np.abs(a)), 1.5)
    assert fp.dtype == ember.float64
    np.testing.assert_allclose(fp.numpy(), np.float_power(np.abs(a), 1.5), rtol=1e-6)
    np.testing.assert_allclose(
        ember.float_power(ember.tensor([2, 3]), ember.tensor([3, 2])).numpy(), [8.0, 9.0]
    )


def test_products():
    m, x, y = r(3, 4), r(4, 2), r(3, 2)
    np.testing.assert_allclose(
        ember.addmm(T(y), T(m), T(x), beta=0.5, alpha=2).numpy(), 0.5 * y + 2 * m @ x
    )
    np.testing.assert_allclose(ember.addmm(T(y), T(m), T(x), beta=0).numpy(), m @ x)
    v = r(4)
    np.testing.assert_allclose(ember.addmv(T(r(3) * 0), T(m), T(v), alpha=3).numpy(), 3 * m @ v)
    b1, b2, inp = r(2, 3, 4), r(2, 4, 5), r(3, 5)
    np.testing.assert_allclose(
        ember.baddbmm(T(inp), T(b1), T(b2), beta=2).numpy(), 2 * inp + b1 @ b2
    )
    np.testing.assert_allclose(ember.addbmm(T(inp), T(b1), T(b2)).numpy(), inp + (b1 @ b2).sum(0))
    p, q = r(3), r(5)
    np.testing.assert_allclose(ember.outer(T(p), T(q)).numpy(), np.outer(p, q))
    np.testing.assert_allclose(ember.ger(T(p), T(q)).numpy(), np.outer(p, q))
    z = (RNG.standard_normal(3) + 1j * RNG.standard_normal(3)).astype(np.complex64)
    w = (RNG.standard_normal(3) + 1j * RNG.standard_normal(3)).astype(np.complex64)
    np.testing.assert_allclose(ember.vdot(T(z), T(w)).numpy(), np.vdot(z, w), rtol=1e-5)
    with pytest.raises(RuntimeError, match="1-D"):
        ember.outer(T(m), T(q))


def test_more_elementwise():
    a, b = r(5), r(5)
    b[0] = -0.0
    np.testing.assert_array_equal(ember.copysign(T(a), T(b)).numpy(), np.copysign(a, b))
    n = a.copy()
    n[1] = np.nan
    np.testing.assert_array_equal(ember.fmax(T(n), T(b)).numpy(), np.fmax(n, b))
    np.testing.assert_array_equal(ember.fmin(T(n), T(b)).numpy(), np.fmin(n, b))
    np.testing.assert_allclose(ember.frac(T(a * 5)).numpy(), a * 5 - np.trunc(a * 5))
    i = RNG.integers(0, 1000, 6)
    s = RNG.integers(0, 5, 6)
    np.testing.assert_array_equal(ember.bitwise_left_shift(T(i), T(s)).numpy(), i << s)
    np.testing.assert_array_equal(ember.bitwise_right_shift(T(i), T(s)).numpy(), i >> s)
    np.testing.assert_array_equal((T(i) << 2).numpy(), i << 2)
    j = RNG.integers(-20, 20, 6)
    k = np.array([3, -3, 7, -7, 2, 5])
    np.testing.assert_array_equal(ember.floor_divide(T(j), T(k)).numpy(), j // k)
    np.testing.assert_array_equal(ember.floor_divide(T(a), 0.5).numpy(), a // 0.5)
    inf = np.array([np.inf, -np.inf, 0.0, -0.0, np.nan])
    np.testing.assert_array_equal(ember.isposinf(T(inf)).numpy(), np.isposinf(inf))
    np.testing.assert_array_equal(ember.isneginf(T(inf)).numpy(), np.isneginf(inf))
    np.testing.assert_array_equal(ember.signbit(T(inf)).numpy(), np.signbit(inf))


def test_more_reductions():
    a = r(3, 4)
    mn, mx = ember.aminmax(T(a))
    assert mn.item() == a.min() and mx.item() == a.max()
    mn, mx = ember.aminmax(T(a), dim=1, keepdim=True)
    np.testing.assert_array_equal(mn.numpy(), a.min(1, keepdims=True))
    np.testing.assert_array_equal(mx.numpy(), a.max(1, keepdims=True))
    z = np.array([[0, 1, 2], [0, 0, 3]])
    assert ember.count_nonzero(T(z)).item() == 3
    np.testing.assert_array_equal(ember.count_nonzero(T(z), 0).numpy(), [0, 1, 2])
    n = a.copy()
    n[0, 1] = n[2, 3] = np.nan
    np.testing.assert_allclose(ember.nansum(T(n)).item(), np.nansum(n))
    np.testing.assert_allclose(ember.nansum(T(n), 1).numpy(), np.nansum(n, 1))
    np.testing.assert_allclose(ember.nanmean(T(n), 0).numpy(), np.nanmean(n, 0))
    v, m = ember.var_mean(T(a), 1)
    np.testing.assert_allclose(v.numpy(), a.var(1, ddof=1))
    np.testing.assert_allclose(m.numpy(), a.mean(1))
    s, m = ember.std_mean(T(a), 0, correction=0)
    np.testing.assert_allclose(s.numpy(), a.std(0))
    np.testing.assert_allclose(m.numpy(), a.mean(0))


def test_joins_and_views():
    a, b = r(2, 3), r(4, 3)
    np.testing.assert_array_equal(ember.cat([T(a), T(b)]).numpy(), np.concatenate([a, b]))
    np.testing.assert_array_equal(ember.cat([T(a), T(a)], 1).numpy(), np.concatenate([a, a], 1))
    with pytest.raises(RuntimeError):
        ember.cat([T(a), T(b)], 1)
    np.testing.assert_array_equal(ember.hstack([T(a), T(a)]).numpy(), np.hstack([a, a]))
    np.testing.assert_array_equal(ember.vstack([T(a), T(b)]).numpy(), np.vstack([a, b]))
    np.testing.assert_array_equal(ember.dstack([T(a), T(a)]).numpy(), np.dstack([a, a]))
    v = r(3)
    np.testing.assert_array_equal(ember.hstack([T(v), T(v)]).numpy(), np.hstack([v, v]))
    x, y = ember.broadcast_tensors(T(r(3, 1)), T(r(1, 4)))
    assert x.shape == y.shape == (3, 4)
    e = T(r(1, 3)).expand_as(T(a))
    assert e.shape == (2, 3)
    c = T(r(6))
    assert c.view_as(T(a)).shape == (2, 3) and c.reshape_as(T(a)).shape == (2, 3)
    t = r(2, 3, 4)
    np.testing.assert_array_equal(ember.movedim(T(t), 0, -1).numpy(), np.moveaxis(t, 0, -1))
    np.testing.assert_array_equal(
        ember.movedim(T(t), (0, 1), (2, 0)).numpy(), np.moveaxis(t, (0, 1), (2, 0))
    )
    np.testing.assert_array_equal(ember.swapdims(T(t), 0, 2).numpy(), np.swapaxes(t, 0, 2))
    for got, ref in zip(ember.tensor_split(T(t), 3, 2), np.array_split(t, 3, 2), strict=True):
        np.testing.assert_array_equal(got.numpy(), ref)
    for got, ref in zip(ember.tensor_split(T(t), [1, 3], 2), np.split(t, [1, 3], 2), strict=True):
        np.testing.assert_array_equal(got.numpy(), ref)
    assert ember.unflatten(T(t), 2, (2, 2)).shape == (2, 3, 2, 2)
    assert ember.unflatten(T(t), 1, (3, -1)).shape == (2, 3, 1, 4)


def test_creation():
    a = np.arange(6.0)
    t = ember.as_tensor(a)
    t[0] = 9.0  # as_tensor shares memory with a numpy array of the same dtype
    assert a[0] == 9.0
    assert ember.as_tensor([1, 2]).dtype == ember.int64
    assert ember.as_tensor(a, dtype=ember.float32).dtype == ember.float32
    s = ember.scalar_tensor(3)
    assert s.shape == () and s.dtype == ember.float32 and s.item() == 3.0
    es = ember.empty_strided((2, 3), (1, 2))
    assert es.shape == (2, 3) and es.stride() == (1, 2)
    np.testing.assert_allclose(ember.logspace(0, 3, 4).numpy(), np.logspace(0, 3, 4), rtol=1e-6)
    np.testing.assert_allclose(ember.logspace(0, 3, 4, base=2.0).numpy(), [1, 2, 4, 8])
    for rr, cc, off in ((3, 3, 0), (4, 3, -1), (3, 5, 2)):
        np.testing.assert_array_equal(
            ember.tril_indices(rr, cc, off).numpy(), np.stack(np.tril_indices(rr, off, cc))
        )
        np.testing.assert_array_equal(
            ember.triu_indices(rr, cc, off).numpy(), np.stack(np.triu_indices(rr, off, cc))
        )
