"""Shape extras against numpy: flip/fliplr/flipud, roll, rot90, repeat, tile,
repeat_interleave, pad, meshgrid, cartesian_prod, combinations, take_along_dim,
atleast_*d, diff, histc, bincount, trapezoid/trapz, cumulative_trapezoid."""

import itertools

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(5)


def layouts(shape, dt=np.float32):
    a = RNG.standard_normal(shape).astype(dt)
    yield a
    if a.ndim >= 2:
        yield np.ascontiguousarray(np.swapaxes(a, 0, 1)).swapaxes(0, 1)  # non-contiguous
    if a.ndim >= 1 and a.shape[0] > 0:
        yield a[::-1]  # negative step


def T(a):
    return ember.from_numpy(a)


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 0, 3), (2, 3, 4)])
@pytest.mark.parametrize("dt", [np.float32, np.int64, np.bool_, np.float16])
def test_flip(shape, dt):
    for a in layouts(shape, dt):
        for k in range(a.ndim + 1):
            for dims in itertools.combinations(range(a.ndim), k):
                r = ember.flip(T(a), dims)
                np.testing.assert_array_equal(r.numpy(), np.flip(a, dims))
                assert r.dtype == T(a).dtype
        if a.ndim >= 2:
            np.testing.assert_array_equal(ember.fliplr(T(a)).numpy(), np.fliplr(a))
        if a.ndim >= 1:
            np.testing.assert_array_equal(T(a).flipud().numpy(), np.flipud(a))


def test_flip_copies_and_errors():
    x = ember.arange(4)
    y = x.flip(0)
    y[0] = 100
    assert x.tolist() == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="duplicates"):
        ember.flip(ember.zeros(2, 2), (0, 0))
    with pytest.raises(IndexError):
        ember.flip(ember.zeros(2), (1,))
    with pytest.raises(RuntimeError, match=">= 2-d"):
        ember.fliplr(ember.zeros(3))


@pytest.mark.parametrize("shape", [(6,), (3, 4), (2, 3, 4)])
def test_roll(shape):
    for a in layouts(shape):
        for s in (-7, -1, 0, 2, 5):
            np.testing.assert_array_equal(ember.roll(T(a), s).numpy(), np.roll(a, s))
            np.testing.assert_array_equal(
                ember.roll(T(a), s, a.ndim - 1).numpy(), np.roll(a, s, a.ndim - 1)
            )
        if a.ndim >= 2:
            r = T(a).roll((1, -2), (0, -1))
            np.testing.assert_array_equal(r.numpy(), np.roll(a, (1, -2), (0, -1)))
    with pytest.raises(RuntimeError, match="align"):
        ember.roll(ember.zeros(2, 2), (1, 2), 0)


@pytest.mark.parametrize("k", [-5, -1, 0, 1, 2, 3, 4, 7])
@pytest.mark.parametrize("dims", [(0, 1), (1, 0), (0, 2), (-1, -2)])
def test_rot90(k, dims):
    for a in layouts((2, 3, 4)):
        np.testing.assert_array_equal(ember.rot90(T(a), k, dims).numpy(), np.rot90(a, k, dims))


def test_rot90_errors():
    with pytest.raises(RuntimeError, match="total dims >= 2"):
        ember.rot90(ember.zeros(3))
    with pytest.raises(RuntimeError, match="different"):
        ember.rot90(ember.zeros(2, 2), 1, (0, 0))


@pytest.mark.parametrize(
    "shape,reps",
    [((3,), (2,)), ((2, 3), (2, 1, 3)), ((2, 3), (0, 2)), ((), (3, 2)), ((2, 0), (2, 2))],
)
def test_repeat_and_tile(shape, reps):
    for a in layouts(shape):
        np.testing.assert_array_equal(T(a).repeat(*reps).numpy(), np.tile(a, reps))
        np.testing.assert_array_equal(T(a).repeat(reps).numpy(), np.tile(a, reps))
        np.testing.assert_array_equal(ember.tile(T(a), reps).numpy(), np.tile(a, reps))
    with pytest.raises(RuntimeError, match="can not be smaller"):
        ember.zeros(2, 3).repeat(2)
    np.testing.assert_array_equal(ember.tile(ember.ones(2, 3), (2,)).numpy(), np.ones((2, 6)))


def test_repeat_interleave():
    a = RNG.standard_normal((3, 4))
    np.testing.assert_array_equal(ember.repeat_interleave(T(a), 2).numpy(), np.repeat(a, 2))
    np.testing.assert_array_equal(T(a).repeat_interleave(3, 1).numpy(), np.repeat(a, 3, 1))
    reps = np.array([1, 0, 2])
    np.testing.assert_array_equal(
        ember.repeat_interleave(T(a), T(reps), 0).numpy(), np.repeat(a, reps, 0)
    )
    assert ember.repeat_interleave(ember.tensor([2, 0, 1])).tolist() == [0, 0, 2]
    with pytest.raises(RuntimeError, match="same size"):
        ember.repeat_interleave(T(a), ember.tensor([1, 2]), 0)
    with pytest.raises(RuntimeError, match="negative"):
        ember.repeat_interleave(T(a), ember.tensor([1, -1, 2]), 0)
    with pytest.raises(RuntimeError, match="output_size"):
        ember.repeat_interleave(T(a), 2, 0, output_size=5)


@pytest.mark.parametrize("pad", [(1, 2), (0, 0, 2, 1), (1, 1, 1, 1, 1, 1), (-1, 2), (2, -1, -1, 0)])
@pytest.mark.parametrize("dt", [np.float32, np.int32])
def test_pad_constant(pad, dt):
    for a in layouts((3, 4, 5), dt):
        n = len(pad) // 2
        pairs = [(0, 0)] * (a.ndim - n) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(n))]
        pos = [(max(lo, 0), max(hi, 0)) for lo, hi in pairs]
        ref = np.pad(a, pos, constant_values=7)
        crop = tuple(
            slice(max(-lo, 0), ref.shape[d] - max(-hi, 0)) for d, (lo, hi) in enumerate(pairs)
        )
        r = ember.pad(T(a), pad, value=7)
        np.testing.assert_array_equal(r.numpy(), ref[crop])
        assert r.dtype == T(a).dtype


@pytest.mark.parametrize(
    "mode,np_mode", [("reflect", "reflect"), ("replicate", "edge"), ("circular", "wrap")]
)
@pytest.mark.parametrize("pad", [(1, 2), (2, 0, 1, 3), (0, 1, 1, 0, 2, 2)])
def test_pad_modes(mode, np_mode, pad):
    for a in layouts((3, 4, 5)):
        n = len(pad) // 2
        pairs = [(0, 0)] * (a.ndim - n) + [(pad[2 * i], pad[2 * i + 1]) for i in reversed(range(n))]
        np.testing.assert_array_equal(ember.pad(T(a), pad, mode).numpy(), np.pad(a, pairs, np_mode))


def test_pad_errors():
    x = ember.zeros(2, 3)
    with pytest.raises(RuntimeError, match="divisible by 2"):
        ember.pad(x, (1,))
    with pytest.raises(RuntimeError, match="too large"):
        ember.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(RuntimeError, match="less than the corresponding"):
        ember.pad(x, (3, 0), "reflect")
    with pytest.raises(NotImplementedError, match="mode"):
        ember.pad(x, (1, 1), "mirror")
    with pytest.raises(RuntimeError, match="negative output size"):
        ember.pad(x, (-2, -2))
    with pytest.raises(RuntimeError, match="only supported in constant"):
        ember.pad(x, (-1, 0), "replicate")


@pytest.mark.parametrize("indexing", ["ij", "xy"])
def test_meshgrid(indexing):
    a, b, c = (RNG.standard_normal(n) for n in (2, 3, 4))
    got = ember.meshgrid(T(a), T(b), T(c), indexing=indexing)
    ref = np.meshgrid(a, b, c, indexing=indexing)
    for g, e in zip(got, ref, strict=True):
        np.testing.assert_array_equal(g.numpy(), e)
    assert len(ember.meshgrid([T(a)])) == 1
    with pytest.raises(RuntimeError, match="indexing"):
        ember.meshgrid(T(a), indexing="yx")


def test_cartesian_prod_and_combinations():
    a, b = np.array([1, 2]), np.array([3, 4, 5])
    ref = np.array(list(itertools.product(a, b)))
    np.testing.assert_array_equal(ember.cartesian_prod(T(a), T(b)).numpy(), ref)
    np.testing.assert_array_equal(ember.cartesian_prod(T(a)).numpy(), a)
    x = np.array([10, 20, 30, 40])
    for r in (1, 2, 3):
        for rep in (False, True):
            make = itertools.combinations_with_replacement if rep else itertools.combinations
            ref = np.array(list(make(x, r)))
            got = ember.combinations(T(x), r, with_replacement=rep)
            np.testing.assert_array_equal(got.numpy(), ref)
    assert ember.combinations(T(x), 5).shape == (0, 5)


def test_take_along_dim():
    a = RNG.standard_normal((3, 4))
    i = np.argsort(a, 1)
    np.testing.assert_array_equal(
        ember.take_along_dim(T(a), T(i), 1).numpy(), np.take_along_axis(a, i, 1)
    )
    flat = np.array([0, 5, 11])
    np.testing.assert_array_equal(ember.take_along_dim(T(a), T(flat)).numpy(), a.ravel()[flat])
    # Broadcasting outside ``dim``.
    j = np.array([[0], [3], [1]])
    b = RNG.standard_normal((1, 4))
    got = ember.take_along_dim(T(b), T(j), 1)
    np.testing.assert_array_equal(got.numpy(), np.take_along_axis(np.broadcast_to(b, (3, 4)), j, 1))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        ember.take_along_dim(T(a), T(flat), 1)


def test_atleast():
    s, v, m = ember.tensor(1.0), ember.ones(3), ember.ones(2, 3)
    for fn, nfn in (
        (ember.atleast_1d, np.atleast_1d),
        (ember.atleast_2d, np.atleast_2d),
        (ember.atleast_3d, np.atleast_3d),
    ):
        for t in (s, v, m):
            assert fn(t).shape == nfn(t.numpy()).shape
        assert len(fn(s, v)) == 2


@pytest.mark.parametrize("n", [1, 2, 3])
def test_diff(n):
    for a in layouts((4, 6)):
        for d in (0, 1, -1):
            np.testing.assert_array_equal(ember.diff(T(a), n, d).numpy(), np.diff(a, n, d))
    pre, app = RNG.standard_normal((4, 2)), RNG.standard_normal((4, 1))
    a = RNG.standard_normal((4, 3))
    got = ember.diff(T(a), n, 1, prepend=T(pre), append=T(app))
    np.testing.assert_allclose(got.numpy(), np.diff(a, n, 1, prepend=pre, append=app))
    b = np.array([True, False, False, True])
    np.testing.assert_array_equal(ember.diff(T(b)).numpy(), np.diff(b))
    with pytest.raises(RuntimeError, match="1-d"):
        ember.diff(ember.tensor(1.0))


def test_histc():
    a = RNG.standard_normal(1000).astype(np.float32)
    h = ember.histc(T(a), bins=10, min=-2, max=2)
    inside = a[(a >= -2) & (a <= 2)]
    ref, _ = np.histogram(inside, bins=10, range=(-2, 2))
    np.testing.assert_array_equal(h.numpy(), ref)
    assert h.dtype == ember.float32
    auto = ember.histc(T(a), bins=7)
    ref, _ = np.histogram(a, bins=7, range=(float(a.min()), float(a.max())))
    np.testing.assert_array_equal(auto.numpy(), ref)
    with pytest.raises(RuntimeError, match="max must be larger"):
        ember.histc(T(a), 5, 1, 0)
    with pytest.raises(RuntimeError, match="floating"):
        ember.histc(ember.tensor([1, 2]))


def test_bincount():
    x = np.array([0, 1, 1, 3, 7])
    np.testing.assert_array_equal(ember.bincount(T(x)).numpy(), np.bincount(x))
    np.testing.assert_array_equal(
        ember.bincount(T(x), minlength=10).numpy(), np.bincount(x, None, 10)
    )
    w = RNG.standard_normal(5)
    np.testing.assert_allclose(ember.bincount(T(x), T(w)).numpy(), np.bincount(x, w))
    assert ember.bincount(T(x), T(w.astype(np.float32))).dtype == ember.float32
    with pytest.raises(RuntimeError, match="non-negative"):
        ember.bincount(ember.tensor([-1, 2]))
    with pytest.raises(RuntimeError, match="1-d integer"):
        ember.bincount(ember.ones(3))
    with pytest.raises(RuntimeError, match="same shape"):
        ember.bincount(T(x), ember.ones(2))


def test_trapezoid_family():
    y = RNG.standard_normal((3, 6))
    x = np.sort(RNG.standard_normal(6))
    np.testing.assert_allclose(ember.trapezoid(T(y)).numpy(), np.trapezoid(y))
    np.testing.assert_allclose(ember.trapezoid(T(y), dx=0.3).numpy(), np.trapezoid(y, dx=0.3))
    np.testing.assert_allclose(ember.trapezoid(T(y), T(x)).numpy(), np.trapezoid(y, x))
    np.testing.assert_allclose(ember.trapz(T(y), dim=0).numpy(), np.trapezoid(y, axis=0))
    cum = ember.cumulative_trapezoid(T(y), T(x)).numpy()
    ref = np.cumsum((y[:, 1:] + y[:, :-1]) / 2 * np.diff(x), 1)
    np.testing.assert_allclose(cum, ref)
    xs = np.sort(RNG.standard_normal((3, 6)), 1)
    np.testing.assert_allclose(ember.trapezoid(T(y), T(xs)).numpy(), np.trapezoid(y, xs))
    with pytest.raises(RuntimeError, match="one `x` value"):
        ember.trapezoid(T(y), ember.ones(4))
