"""Sorting and order statistics against numpy: sort, argsort, msort, topk, kthvalue,
median, nanmedian, mode, unique, unique_consecutive, searchsorted, bucketize."""

import numpy as np
import pytest

import ember

RNG = np.random.default_rng(3)
DTYPES = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.int8, np.float16]


def arr(shape, dt):
    if np.dtype(dt).kind == "f":
        return RNG.standard_normal(shape).astype(dt)
    return RNG.integers(0, 7, shape).astype(dt)  # repeats, to exercise stability


def views(a):
    """The array itself, a transposed (non-contiguous) view and a negative-step view."""
    yield a
    if a.ndim >= 2:
        yield np.ascontiguousarray(a.T).T
    if a.ndim >= 1:
        yield a[::-1]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 0, 3), (4, 1, 6)])
@pytest.mark.parametrize("descending", [False, True])
def test_sort_matches_numpy_stable(dt, shape, descending):
    for a in views(arr(shape, dt)):
        t = ember.from_numpy(a)
        for dim in range(-a.ndim, a.ndim):
            v, i = ember.sort(t, dim, descending=descending, stable=True)
            if descending:
                # Stable descending: ties keep their original order.
                key = np.flip(np.argsort(np.flip(a, dim), axis=dim, kind="stable"), dim)
                ref_i = a.shape[dim] - 1 - key
            else:
                ref_i = np.argsort(a, axis=dim, kind="stable")
            np.testing.assert_array_equal(i.numpy(), ref_i)
            np.testing.assert_array_equal(v.numpy(), np.take_along_axis(a, ref_i, dim))
            assert v.dtype == t.dtype and i.dtype == ember.int64
            np.testing.assert_array_equal(
                ember.argsort(t, dim, descending, stable=True).numpy(), ref_i
            )
            # Unstable (the default): same values, indices that gather them.
            uv, ui = t.sort(dim, descending)
            np.testing.assert_array_equal(uv.numpy(), v.numpy())
            np.testing.assert_array_equal(np.take_along_axis(a, ui.numpy(), dim), v.numpy())
            ua = ember.argsort(t, dim, descending).numpy()
            np.testing.assert_array_equal(np.take_along_axis(a, ua, dim), v.numpy())


def test_sort_nan_is_largest_and_0d():
    t = ember.tensor([1.0, float("nan"), -1.0, 3.0])
    np.testing.assert_array_equal(t.sort().values.numpy(), [-1.0, 1.0, 3.0, np.nan])
    np.testing.assert_array_equal(t.sort(descending=True).values.numpy(), [np.nan, 3, 1, -1])
    v, i = ember.tensor(2.5).sort()
    assert v.item() == 2.5 and i.item() == 0 and v.shape == ()


def test_msort_is_sort_along_dim0():
    a = arr((4, 3), np.float32)
    np.testing.assert_array_equal(ember.msort(ember.from_numpy(a)).numpy(), np.sort(a, 0))


@pytest.mark.parametrize("dt", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("n,k", [(10, 3), (100, 5), (100, 60), (8, 8), (5, 0)])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_matches_sorted_prefix(dt, n, k, largest):
    a = RNG.permutation(n * 3).reshape(3, n).astype(dt)  # distinct values
    v, i = ember.topk(ember.from_numpy(a), k, 1, largest=largest)
    ref = np.sort(a, 1)[:, ::-1][:, :k] if largest else np.sort(a, 1)[:, :k]
    np.testing.assert_array_equal(v.numpy(), ref)
    np.testing.assert_array_equal(np.take_along_axis(a, i.numpy(), 1), ref)
    assert ember.from_numpy(a).topk(k, 1, largest).values.shape == (3, k)


def test_topk_k_out_of_range():
    with pytest.raises(RuntimeError, match="out of range"):
        ember.topk(ember.ones(3), 4)


@pytest.mark.parametrize("keepdim", [False, True])
def test_kthvalue(keepdim):
    a = RNG.standard_normal((4, 6))
    for k in (1, 3, 6):
        v, i = ember.kthvalue(ember.from_numpy(a), k, 1, keepdim)
        ref = np.sort(a, 1)[:, k - 1]
        np.testing.assert_array_equal(v.numpy().reshape(-1), ref)
        np.testing.assert_array_equal(a[np.arange(4), i.numpy().reshape(-1)], ref)
        assert v.shape == ((4, 1) if keepdim else (4,))
    with pytest.raises(IndexError, match="k=7 out of range"):
        ember.kthvalue(ember.from_numpy(a), 7, 1)


@pytest.mark.parametrize("n", [1, 4, 5])
def test_median_is_lower_median(n):
    a = RNG.standard_normal((3, n))
    v, i = ember.median(ember.from_numpy(a), 1)
    ref = np.sort(a, 1)[:, (n - 1) // 2]
    np.testing.assert_array_equal(v.numpy(), ref)
    np.testing.assert_array_equal(a[np.arange(3), i.numpy()], ref)
    assert ember.median(ember.from_numpy(a)).item() == np.sort(a.reshape(-1))[(a.size - 1) // 2]
    ints = ember.tensor([[5, 1, 3, 2]])
    assert ember.median(ints, 1).values.tolist() == [2]


def test_median_nan_propagates_and_nanmedian_skips():
    t = ember.tensor([[1.0, float("nan"), 3.0, 2.0], [4.0, 1.0, 2.0, 0.0]])
    v, i = ember.median(t, 1)
    assert np.isnan(v[0].item()) and i[0].item() == 1
    assert v[1].item() == 1.0
    nv, _ = ember.nanmedian(t, 1)
    np.testing.assert_array_equal(nv.numpy(), [2.0, 1.0])
    assert np.isnan(ember.median(t).item())
    assert ember.nanmedian(t).item() == 2.0
    assert np.isnan(ember.nanmedian(ember.tensor([float("nan")] * 2)).item())


def test_median_empty():
    assert np.isnan(ember.median(ember.zeros(0)).item())
    with pytest.raises(IndexError):
        ember.median(ember.zeros(2, 0), 1)


def test_mode_most_frequent_smallest_on_ties():
    a = np.array([[1, 2, 2, 3, 3], [5, 4, 4, 5, 0], [7, 7, 7, 1, 1]])
    v, i = ember.mode(ember.from_numpy(a), 1)
    assert v.tolist() == [2, 4, 7]
    np.testing.assert_array_equal(a[np.arange(3), i.numpy()], v.numpy())
    assert i.tolist() == [2, 2, 2]  # the last occurrence
    v0, _ = ember.mode(ember.from_numpy(a.T.copy()), 0, keepdim=True)
    assert v0.shape == (1, 3) and v0.numpy().ravel().tolist() == [2, 4, 7]
    f = RNG.integers(0, 3, (6, 20)).astype(np.float32)
    vf, _ = ember.mode(ember.from_numpy(f))
    for row, m in zip(f, vf.numpy(), strict=True):
        vals, counts = np.unique(row, return_counts=True)
        assert m == vals[np.argmax(counts)]


@pytest.mark.parametrize("dt", [np.int64, np.float32, np.uint8])
def test_unique_flat(dt):
    a = arr((4, 5), dt)
    u, inv, cnt = ember.unique(ember.from_numpy(a), return_inverse=True, return_counts=True)
    ru, rinv, rcnt = np.unique(a, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(u.numpy(), ru)
    np.testing.assert_array_equal(inv.numpy(), rinv.reshape(a.shape))
    np.testing.assert_array_equal(cnt.numpy(), rcnt)
    np.testing.assert_array_equal(ember.from_numpy(a).unique().numpy(), ru)


def test_unique_dim():
    a = np.array([[1, 2], [3, 4], [1, 2], [0, 9]])
    u, inv = ember.unique(ember.from_numpy(a), dim=0, return_inverse=True)
    np.testing.assert_array_equal(u.numpy(), [[0, 9], [1, 2], [3, 4]])
    np.testing.assert_array_equal(u.numpy()[inv.numpy()], a)


def test_unique_consecutive():
    a = np.array([1, 1, 2, 2, 3, 1, 1, 2])
    u, inv, cnt = ember.unique_consecutive(
        ember.from_numpy(a), return_inverse=True, return_counts=True
    )
    assert u.tolist() == [1, 2, 3, 1, 2]
    assert cnt.tolist() == [2, 2, 1, 2, 1]
    np.testing.assert_array_equal(u.numpy()[inv.numpy()], a)
    m = np.array([[1, 1, 2, 2], [0, 0, 5, 6]])
    assert ember.unique_consecutive(ember.from_numpy(m), dim=1).tolist() == [[1, 2, 2], [0, 5, 6]]
    assert ember.unique_consecutive(ember.zeros(0)).shape == (0,)


@pytest.mark.parametrize("right", [False, True])
def test_searchsorted_1d_and_batched(right):
    seq = np.sort(RNG.integers(0, 10, 8)).astype(np.float64)
    vals = RNG.integers(-1, 11, (3, 4)).astype(np.float64)
    side = "right" if right else "left"
    r = ember.searchsorted(ember.from_numpy(seq), ember.from_numpy(vals), right=right)
    np.testing.assert_array_equal(r.numpy(), np.searchsorted(seq, vals, side=side))
    assert r.dtype == ember.int64
    rs = ember.searchsorted(
        ember.from_numpy(seq), ember.from_numpy(vals), side=side, out_int32=True
    )
    assert rs.dtype == ember.int32
    bseq = np.sort(RNG.standard_normal((3, 6)), 1)
    bvals = RNG.standard_normal((3, 4))
    rb = ember.searchsorted(ember.from_numpy(bseq), ember.from_numpy(bvals), right=right)
    for k in range(3):
        np.testing.assert_array_equal(rb.numpy()[k], np.searchsorted(bseq[k], bvals[k], side))
    assert ember.searchsorted(ember.from_numpy(seq), 5.0).item() == np.searchsorted(seq, 5.0)


def test_searchsorted_sorter_and_errors():
    seq = np.array([3.0, 1.0, 2.0])
    sorter = np.argsort(seq)
    r = ember.searchsorted(
        ember.from_numpy(seq), ember.tensor([2.5]), sorter=ember.from_numpy(sorter)
    )
    assert r.tolist() == [2]
    with pytest.raises(RuntimeError, match="first N-1 dimensions"):
        ember.searchsorted(ember.zeros(2, 3), ember.zeros(3, 3))
    with pytest.raises(RuntimeError, match="opposites"):
        ember.searchsorted(ember.zeros(3), ember.zeros(2), right=True, side="left")


def test_bucketize():
    b = ember.tensor([1, 3, 5, 7, 9])
    v = ember.tensor([[3, 6, 9], [3, 6, 9]])
    assert ember.bucketize(v, b).tolist() == [[1, 3, 4], [1, 3, 4]]
    assert ember.bucketize(v, b, right=True).tolist() == [[2, 3, 5], [2, 3, 5]]
    with pytest.raises(RuntimeError, match="1 dimension"):
        ember.bucketize(v, v)


def test_complex_refused():
    with pytest.raises(RuntimeError, match="complex"):
        ember.sort(ember.zeros(3, dtype=ember.complex64))
