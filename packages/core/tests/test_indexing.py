"""Indexing against numpy on randomly generated index expressions (ints, negative
ints, slices with steps, None, Ellipsis, bool masks, integer tensors and lists, and
mixtures), for get and set; the errors PyTorch raises; and the gather/scatter
family (gather, scatter, scatter_add, index_select, index_add, index_copy,
index_fill, masked_fill, masked_select, where, nonzero, argwhere, take, put_,
index_put)."""

import numpy as np
import pytest

import ember

T = ember.from_numpy


def _component(rng, size):
    """One index for a dim of ``size``: (ember form, numpy form, dims consumed)."""
    kind = rng.choice(
        ["int", "slice", "slice", "list", "tensor", "mask"] if size else ["slice", "slice", "mask"]
    )
    if kind == "int":
        i = int(rng.integers(-size, size))
        return i, i, 1
    if kind == "slice":
        step = rng.choice([None, 1, 2, 3, -1, -2])
        lo = rng.choice([None, int(rng.integers(-size - 1, size + 2))])
        hi = rng.choice([None, int(rng.integers(-size - 1, size + 2))])
        s = slice(lo, hi, step)
        return s, s, 1
    if kind == "list":
        v = rng.integers(-size, size, int(rng.integers(1, 4))).tolist()
        return v, np.array(v), 1
    if kind == "tensor":
        v = rng.integers(-size, size, tuple(rng.integers(1, 3, int(rng.integers(1, 3)))))
        dt = rng.choice([np.int64, np.int32])
        return T(v.astype(dt)), v, 1
    m = rng.random(size) < 0.5
    return T(m), m, 1


def random_key(rng, shape):
    """A random index expression for ``shape``: (ember key, numpy key)."""
    ek, nk = [], []
    dims = list(shape)
    pos = 0
    use_ellipsis = rng.random() < 0.3
    n_adv = 0
    while pos < len(dims):
        r = rng.random()
        if r < 0.15:
            ek.append(None)
            nk.append(None)
            continue
        if use_ellipsis and r < 0.35:
            skip = int(rng.integers(0, len(dims) - pos + 1))
            ek.append(Ellipsis)
            nk.append(Ellipsis)
            pos += skip
            use_ellipsis = False
            continue
        if rng.random() < 0.2:
            break  # fewer indices than dims
        e, n, used = _component(rng, dims[pos])
        if not isinstance(e, int | slice):
            n_adv += 1
            if n_adv > 1 and not isinstance(n, np.ndarray) or (n_adv > 1 and n.dtype == bool):
                e, n, used = slice(None, None, 2), slice(None, None, 2), 1
        ek.append(e)
        nk.append(n)
        pos += used
    if len(ek) == 1 and rng.random() < 0.5:
        return ek[0], nk[0]
    return tuple(ek), tuple(nk)


def _np_or_error(a, key):
    try:
        return a[key], None
    except IndexError as exc:
        return None, exc


@pytest.mark.parametrize("seed", range(40))
def test_getitem_matches_numpy_on_random_keys(seed):
    rng = np.random.default_rng(seed)
    for _ in range(25):
        shape = tuple(int(s) for s in rng.integers(0, 5, int(rng.integers(1, 5))))
        a = rng.standard_normal(shape).astype(np.float32)
        base = [a, a[..., ::-1] if a.ndim else a]
        if a.ndim >= 2:
            base.append(np.ascontiguousarray(np.swapaxes(a, 0, 1)).swapaxes(0, 1))
        for arr in base:
            ek, nk = random_key(rng, arr.shape)
            ref, err = _np_or_error(arr, nk)
            if err is not None:
                with pytest.raises(IndexError):
                    T(arr)[ek]
                continue
            got = T(arr)[ek]
            assert tuple(got.shape) == np.shape(ref), (shape, nk)
            np.testing.assert_array_equal(got.numpy(), ref)


@pytest.mark.parametrize("seed", range(40))
def test_setitem_matches_numpy_on_random_keys(seed):
    rng = np.random.default_rng(1000 + seed)
    for _ in range(25):
        shape = tuple(int(s) for s in rng.integers(1, 5, int(rng.integers(1, 4))))
        a = rng.standard_normal(shape)
        ek, nk = random_key(rng, shape)
        ref_view, err = _np_or_error(a, nk)
        if err is not None:
            continue
        target = np.shape(ref_view)
        if rng.random() < 0.3:
            value, evalue = 7.5, 7.5
        else:
            vshape = target[int(rng.integers(0, len(target) + 1)) :] if target else ()
            value = rng.standard_normal(vshape)
            evalue = T(value)
        ref = a.copy()
        ref[nk] = value
        t = T(a.copy())
        t[ek] = evalue
        np.testing.assert_array_equal(t.numpy(), ref)


def test_basic_indexing_gives_views_and_advanced_gives_copies():
    t = ember.arange(12).reshape(3, 4)
    v = t[1:, ::2]
    v[0, 0] = 100
    assert t[1, 0].item() == 100
    c = t[ember.tensor([0, 1])]
    c[0, 0] = -1
    assert t[0, 0].item() == 0
    assert t[1, 2]._base is not None and t[1, 2].shape == ()
    s = t[None, ..., 1]
    assert s.shape == (1, 3)
    assert t[True].shape == (1, 3, 4) and t[False].shape == (0, 3, 4)


def test_index_errors_name_dim_index_and_size():
    t = ember.zeros(2, 3)
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 3"):
        t[0, 5]
    with pytest.raises(IndexError, match="index -3 is out of bounds for dimension 0 with size 2"):
        t[-3]
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 2"):
        t[ember.tensor([0, 2])]
    with pytest.raises(IndexError, match="too many indices"):
        t[0, 0, 0]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        t[ember.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match="shape mismatch"):
        t[ember.tensor([0, 1]), ember.tensor([0, 1, 2])]
    with pytest.raises(IndexError, match="boolean index did not match"):
        t[ember.tensor([True, False, True])]
    with pytest.raises(IndexError, match="valid indices"):
        t[1.5]
    with pytest.raises(IndexError, match="integers or bools"):
        t[[0.5, 1.0]]
    with pytest.raises(IndexError, match="out of bounds"):
        t[0, 5] = 1.0
    with pytest.raises(RuntimeError, match="shape mismatch"):
        t[0] = ember.ones(4)
    with pytest.raises(TypeError, match="can't assign"):
        t[0] = "x"


def test_uint8_index_is_a_mask():
    t = ember.arange(4)
    assert t[ember.tensor([1, 0, 1, 0], dtype=ember.uint8)].tolist() == [0, 2]


RNG = np.random.default_rng(21)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_gather_scatter_family(dim):
    a = RNG.standard_normal((4, 5))
    d = dim % 2
    idx = RNG.integers(0, a.shape[d], (3, 5) if d == 0 else (4, 3))
    np.testing.assert_array_equal(
        ember.gather(T(a), dim, T(idx)).numpy(), np.take_along_axis(a, idx, d)
    )
    src = RNG.standard_normal(idx.shape)
    ref = a.copy()
    np.put_along_axis(ref, idx, src, d)  # repeats: numpy keeps the last write
    uniq = np.argsort(RNG.random(a.shape), axis=d)
    uniq = np.take(uniq, np.arange(3), axis=d)
    ref_u = a.copy()
    np.put_along_axis(ref_u, uniq, src, d)
    np.testing.assert_array_equal(ember.scatter(T(a), dim, T(uniq), T(src)).numpy(), ref_u)
    t = T(a.copy())
    t.scatter_(dim, T(uniq), T(src))
    np.testing.assert_array_equal(t.numpy(), ref_u)
    sv = ember.scatter(T(a), dim, T(uniq), value=2.0).numpy()
    ref_v = a.copy()
    np.put_along_axis(ref_v, uniq, 2.0, d)
    np.testing.assert_array_equal(sv, ref_v)
    acc = a.copy()
    grids = np.indices(idx.shape, sparse=True)
    key = tuple(idx if k == d else g for k, g in enumerate(grids))
    np.add.at(acc, key, src)
    np.testing.assert_allclose(ember.scatter_add(T(a), dim, T(idx), T(src)).numpy(), acc)
    t = T(a.copy())
    t.scatter_add_(dim, T(idx), T(src))
    np.testing.assert_allclose(t.numpy(), acc)
    np.testing.assert_allclose(ember.scatter(T(a), dim, T(idx), T(src), reduce="add").numpy(), acc)


def test_gather_errors():
    x = ember.zeros(3, 4)
    with pytest.raises(IndexError, match="index 4 is out of bounds for dimension 1 with size 4"):
        ember.gather(x, 1, ember.tensor([[4]]))
    with pytest.raises(RuntimeError, match="same number of dimensions"):
        ember.gather(x, 1, ember.tensor([1]))
    with pytest.raises(RuntimeError, match="int64"):
        ember.gather(x, 1, ember.tensor([[1.0]]))
    with pytest.raises(IndexError, match="out of bounds"):
        ember.scatter(x, 0, ember.tensor([[3]]), 1.0)


def test_index_select_add_copy_fill():
    a = RNG.standard_normal((4, 3))
    idx = np.array([2, 0, 2])
    np.testing.assert_array_equal(ember.index_select(T(a), 0, T(idx)).numpy(), a[idx])
    np.testing.assert_array_equal(T(a).index_select(1, T(idx)).numpy(), a[:, idx])
    src = RNG.standard_normal((3, 3))
    ref = a.copy()
    np.add.at(ref, idx, 2 * src)
    np.testing.assert_allclose(ember.index_add(T(a), 0, T(idx), T(src), alpha=2).numpy(), ref)
    t = T(a.copy())
    t.index_add_(0, T(idx), T(src), alpha=2)
    np.testing.assert_allclose(t.numpy(), ref)
    u = np.array([3, 1, 0])
    ref = a.copy()
    ref[u] = src
    np.testing.assert_array_equal(ember.index_copy(T(a), 0, T(u), T(src)).numpy(), ref)
    t = T(a.copy())
    t.index_copy_(0, T(u), T(src))
    np.testing.assert_array_equal(t.numpy(), ref)
    ref = a.copy()
    ref[:, [0, 2]] = -1
    np.testing.assert_array_equal(ember.index_fill(T(a), 1, ember.tensor([0, 2]), -1).numpy(), ref)
    t = T(a.copy())
    t.index_fill_(1, ember.tensor([0, 2]), -1)
    np.testing.assert_array_equal(t.numpy(), ref)
    with pytest.raises(IndexError, match="out of bounds for dimension 0 with size 4"):
        ember.index_select(T(a), 0, ember.tensor([4]))


def test_masks_where_nonzero_take_put():
    a = RNG.standard_normal((3, 4)).astype(np.float32)
    m = a > 0
    np.testing.assert_array_equal(
        ember.masked_fill(T(a), T(m), 0.5).numpy(), np.where(m, np.float32(0.5), a)
    )
    t = T(a.copy())
    t.masked_fill_(T(m[0]), 9.0)  # broadcast row mask
    np.testing.assert_array_equal(t.numpy(), np.where(m[0], 9.0, a).astype(np.float32))
    np.testing.assert_array_equal(ember.masked_select(T(a), T(m)).numpy(), a[m])
    np.testing.assert_array_equal(
        ember.masked_select(T(a), T(m[0])).numpy(), a[np.broadcast_to(m[0], a.shape)]
    )
    with pytest.raises(RuntimeError, match="bool mask"):
        ember.masked_fill(T(a), T(m.astype(np.int64)), 0.0)
    with pytest.raises(RuntimeError, match="does not broadcast"):
        ember.masked_select(T(a), ember.ones(5, dtype=ember.bool))
    b = RNG.standard_normal((1, 4)).astype(np.float32)
    np.testing.assert_array_equal(ember.where(T(m), T(a), T(b)).numpy(), np.where(m, a, b))
    np.testing.assert_array_equal(ember.where(T(m), T(a), 0.0).numpy(), np.where(m, a, 0))
    for got, ref in zip(ember.where(T(m)), np.nonzero(m), strict=True):
        np.testing.assert_array_equal(got.numpy(), ref)
    np.testing.assert_array_equal(ember.nonzero(T(m)).numpy(), np.argwhere(m))
    np.testing.assert_array_equal(ember.argwhere(T(m)).numpy(), np.argwhere(m))
    for got, ref in zip(ember.nonzero(T(m), as_tuple=True), np.nonzero(m), strict=True):
        np.testing.assert_array_equal(got.numpy(), ref)
    assert ember.nonzero(ember.tensor(3)).shape == (1, 0)
    with pytest.raises(RuntimeError, match="boolean"):
        ember.where(T(a), T(a), T(a))
    i = np.array([[0, 11], [5, 5]])
    np.testing.assert_array_equal(ember.take(T(a), T(i)).numpy(), a.ravel()[i])
    with pytest.raises(IndexError, match="out of bounds"):
        ember.take(T(a), ember.tensor([12]))
    t = T(a.copy())
    t.put_(ember.tensor([0, 11]), ember.tensor([5.0, 6.0]))
    ref = a.copy().ravel()
    ref[[0, 11]] = [5, 6]
    np.testing.assert_array_equal(t.numpy().ravel(), ref)
    t.put_(ember.tensor([0, 0]), ember.tensor([1.0, 1.0]), accumulate=True)
    assert t.numpy().ravel()[0] == 7.0
    key = (ember.tensor([0, 2]), ember.tensor([1, 3]))
    r = ember.index_put(T(a), key, ember.tensor(0.0))
    ref = a.copy()
    ref[[0, 2], [1, 3]] = 0
    np.testing.assert_array_equal(r.numpy(), ref)
    t = T(a.copy())
    t.index_put_(key, ember.tensor([1.0, 1.0]), accumulate=True)
    ref = a.copy()
    ref[[0, 2], [1, 3]] += 1
    np.testing.assert_allclose(t.numpy(), ref)
