"""Linear algebra against numpy (and defining identities): top-level ops and the
``ember.linalg`` namespace, batched, non-contiguous, and the errors on singular,
non-square or non-positive-definite input."""

import numpy as np
import pytest

import ember
from ember import linalg as LA

RNG = np.random.default_rng(13)
T = ember.from_numpy


def well(n, batch=(), dt=np.float64):
    return (RNG.standard_normal(batch + (n, n)) + 3 * np.eye(n)).astype(dt)


def spd(n, batch=(), dt=np.float64):
    a = RNG.standard_normal(batch + (n, n))
    return (a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).astype(dt)


def tol(dt):
    return dict(rtol=1e-4, atol=1e-4) if dt == np.float32 else dict(rtol=1e-10, atol=1e-10)


DT = [np.float32, np.float64]
BATCH = [(), (2,), (2, 3)]


@pytest.mark.parametrize("dt", DT)
@pytest.mark.parametrize("batch", BATCH)
def test_inverse_det_slogdet(dt, batch):
    a = well(4, batch, dt)
    for x in (a, np.swapaxes(np.swapaxes(a, -1, -2).copy(), -1, -2)):  # non-contiguous too
        inv = ember.inverse(T(x))
        assert inv.dtype == T(x).dtype
        np.testing.assert_allclose(inv.numpy(), np.linalg.inv(x), **tol(dt))
        np.testing.assert_allclose(LA.inv(T(x)).numpy(), np.linalg.inv(x), **tol(dt))
        np.testing.assert_allclose(ember.det(T(x)).numpy(), np.linalg.det(x), **tol(dt))
        s, lad = ember.slogdet(T(x))
        rs, rlad = np.linalg.slogdet(x)
        np.testing.assert_array_equal(s.numpy(), rs)
        np.testing.assert_allclose(lad.numpy(), rlad, **tol(dt))
    assert T(a).det().shape == batch


def test_logdet():
    a = spd(3)
    np.testing.assert_allclose(ember.logdet(T(a)).item(), np.log(np.linalg.det(a)))
    neg = np.diag([-1.0, 2.0])
    assert np.isnan(ember.logdet(T(neg)).item())
    assert ember.logdet(T(np.zeros((2, 2)))).item() == -np.inf


def test_singular_and_non_square_raise_linalg_error():
    sing = np.array([[1.0, 2.0], [2.0, 4.0]])
    with pytest.raises(LA.LinAlgError, match="singular"):
        ember.inverse(T(sing))
    with pytest.raises(RuntimeError, match="singular"):  # LinAlgError is a RuntimeError
        LA.inv(T(np.stack([np.eye(2), sing])))
    with pytest.raises(LA.LinAlgError, match="singular"):
        ember.solve(T(sing), T(np.ones(2)))
    with pytest.raises(LA.LinAlgError, match="square"):
        ember.det(T(np.ones((2, 3))))
    with pytest.raises(LA.LinAlgError, match="square"):
        LA.inv(T(np.ones((3, 2))))
    with pytest.raises(LA.LinAlgError, match="positive-definite"):
        ember.cholesky(T(np.array([[1.0, 2.0], [2.0, 1.0]])))
    with pytest.raises(RuntimeError, match="floating point"):
        ember.inverse(ember.eye(2, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="at least 2 dimensions"):
        ember.det(ember.ones(3))
    assert ember.det(T(sing)).item() == 0.0  # det of a singular matrix is 0, not an error
    inv, info = LA.inv_ex(T(np.stack([np.eye(2), sing])))
    assert info.tolist() == [0, 1] and np.isnan(inv.numpy()[1]).all()
    np.testing.assert_array_equal(inv.numpy()[0], np.eye(2))
    L, info = LA.cholesky_ex(T(np.array([[1.0, 2.0], [2.0, 1.0]])))
    assert info.item() == 1


@pytest.mark.parametrize("dt", DT)
def test_solve_shapes(dt):
    a = well(3, (2,), dt)
    b = RNG.standard_normal((2, 3, 4)).astype(dt)
    np.testing.assert_allclose(ember.solve(T(a), T(b)).numpy(), np.linalg.solve(a, b), **tol(dt))
    v = RNG.standard_normal((2, 3)).astype(dt)  # batch of vectors: shape == A.shape[:-1]
    ref = np.linalg.solve(a, v[..., None])[..., 0]
    np.testing.assert_allclose(LA.solve(T(a), T(v)).numpy(), ref, **tol(dt))
    v1 = RNG.standard_normal(3).astype(dt)
    np.testing.assert_allclose(
        ember.solve(T(a[0]), T(v1)).numpy(), np.linalg.solve(a[0], v1), **tol(dt)
    )
    bb = RNG.standard_normal((3, 2)).astype(dt)  # broadcast B over A's batch
    np.testing.assert_allclose(ember.solve(T(a), T(bb)).numpy(), np.linalg.solve(a, bb), **tol(dt))
    xr = ember.solve(T(a[0]), T(bb.T.copy()), left=False).numpy()
    np.testing.assert_allclose(xr @ a[0], bb.T, **tol(dt))
    with pytest.raises(RuntimeError, match="Incompatible shapes"):
        ember.solve(T(a), T(np.ones((2, 4, 1), dt)))
    with pytest.raises(RuntimeError, match="same dtype"):
        ember.solve(T(a[0]), T(np.ones(3, np.float32 if dt == np.float64 else np.float64)))


@pytest.mark.parametrize("batch", BATCH)
def test_cholesky(batch):
    a = spd(4, batch)
    L = ember.cholesky(T(a)).numpy()
    np.testing.assert_allclose(L, np.linalg.cholesky(a), rtol=1e-12)
    U = LA.cholesky(T(a), upper=True).numpy()
    np.testing.assert_allclose(np.swapaxes(U, -1, -2) @ U, a, rtol=1e-10)
    np.testing.assert_array_equal(np.tril(U, -1), 0)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 4, 4)])
def test_qr_svd_eigh(shape):
    a = RNG.standard_normal(shape)
    q, r = ember.qr(T(a))
    np.testing.assert_allclose(q.numpy() @ r.numpy(), a, atol=1e-12)
    np.testing.assert_array_equal(np.tril(r.numpy(), -1), 0)
    k = min(shape[-2:])
    np.testing.assert_allclose(
        np.swapaxes(q.numpy(), -1, -2) @ q.numpy(),
        np.broadcast_to(np.eye(k), shape[:-2] + (k, k)),
        atol=1e-12,
    )
    qc, rc = LA.qr(T(a), mode="complete")
    assert qc.shape[-1] == shape[-2]
    np.testing.assert_allclose(qc.numpy() @ rc.numpy(), a, atol=1e-12)
    u, s, v = ember.svd(T(a))
    np.testing.assert_allclose(
        (u.numpy() * s.numpy()[..., None, :]) @ np.swapaxes(v.numpy(), -1, -2), a, atol=1e-12
    )
    np.testing.assert_allclose(s.numpy(), np.linalg.svd(a, compute_uv=False), rtol=1e-12)
    U, S, Vh = LA.svd(T(a))
    assert U.shape[-1] == shape[-2] and Vh.shape[-2] == shape[-1]
    np.testing.assert_allclose(LA.svdvals(T(a)).numpy(), S.numpy(), rtol=1e-12)
    sym = a[..., :k, :k] + np.swapaxes(a[..., :k, :k], -1, -2)
    w, V = LA.eigh(T(sym))
    rw, _ = np.linalg.eigh(sym)
    np.testing.assert_allclose(w.numpy(), rw, atol=1e-12)
    np.testing.assert_allclose(
        V.numpy() @ (w.numpy()[..., None] * np.swapaxes(V.numpy(), -1, -2)), sym, atol=1e-10
    )
    np.testing.assert_allclose(
        ember.eigvalsh(T(sym), "U").numpy(), np.linalg.eigvalsh(sym, "U"), atol=1e-12
    )


def test_pinv_matrix_rank_lstsq_matrix_power():
    a = RNG.standard_normal((5, 3))
    np.testing.assert_allclose(LA.pinv(T(a)).numpy(), np.linalg.pinv(a), atol=1e-12)
    low = a @ RNG.standard_normal((3, 6))  # rank 3
    np.testing.assert_allclose(ember.pinverse(T(low)).numpy(), np.linalg.pinv(low), atol=1e-10)
    assert LA.matrix_rank(T(low)).item() == np.linalg.matrix_rank(low) == 3
    assert LA.matrix_rank(T(np.stack([low, np.eye(5, 6)]))).tolist() == [3, 5]
    b = RNG.standard_normal((5, 2))
    sol = LA.lstsq(T(a), T(b))
    ref = np.linalg.lstsq(a, b, rcond=None)
    np.testing.assert_allclose(sol.solution.numpy(), ref[0], atol=1e-12)
    np.testing.assert_allclose(sol.residuals.numpy(), ref[1], atol=1e-12)
    assert sol.rank.item() == 3
    m = RNG.standard_normal((2, 3, 3))
    for n in (0, 1, 2, 5):
        np.testing.assert_allclose(
            LA.matrix_power(T(m), n).numpy(), np.linalg.matrix_power(m, n), rtol=1e-10
        )
    w = well(3)
    np.testing.assert_allclose(
        ember.matrix_power(T(w), -3).numpy(), np.linalg.matrix_power(w, -3), rtol=1e-10
    )
    ints = np.array([[1, 1], [1, 0]])
    assert ember.matrix_power(T(ints), 10).tolist() == [[89, 55], [55, 34]]
    with pytest.raises(LA.LinAlgError, match="square"):
        ember.matrix_power(T(np.ones((2, 3))), 2)


@pytest.mark.parametrize("ord", [2, 1, 0, 3.5, float("inf"), float("-inf")])
def test_vector_norm(ord):
    a = RNG.standard_normal((3, 4, 5)).astype(np.float32)
    for dim in (None, 1, (0, 2), -1):
        r = LA.vector_norm(T(a), ord, dim)
        ref = (
            np.linalg.norm(
                a.reshape(-1) if dim is None else a, ord, axis=None if dim is None else dim
            )
            if not (isinstance(dim, tuple))
            else np.linalg.norm(a.transpose(1, 0, 2).reshape(4, -1), ord, axis=1)
        )
        np.testing.assert_allclose(r.numpy(), ref, rtol=1e-5)
        assert r.dtype == ember.float32
    assert LA.vector_norm(T(a), ord, 1, keepdim=True).shape == (3, 1, 5)


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf")])
def test_matrix_norm(ord):
    a = RNG.standard_normal((2, 4, 3))
    got = LA.matrix_norm(T(a), ord).numpy()
    np.testing.assert_allclose(got, np.linalg.norm(a, ord, axis=(-2, -1)), rtol=1e-12)
    got_t = LA.matrix_norm(T(a), ord, (-1, -2)).numpy()
    np.testing.assert_allclose(got_t, np.linalg.norm(a, ord, axis=(-1, -2)), rtol=1e-12)
    assert LA.matrix_norm(T(a), ord, keepdim=True).shape == (2, 1, 1)
    np.testing.assert_allclose(LA.norm(T(a[0]), ord).numpy(), np.linalg.norm(a[0], ord), rtol=1e-12)


def test_linalg_norm_dispatch_and_top_level_nuc():
    a = RNG.standard_normal((3, 4))
    np.testing.assert_allclose(LA.norm(T(a)).item(), np.linalg.norm(a))
    np.testing.assert_allclose(LA.norm(T(a), dim=1).numpy(), np.linalg.norm(a, axis=1))
    np.testing.assert_allclose(ember.norm(T(a), "nuc").item(), np.linalg.norm(a, "nuc"))
    with pytest.raises(RuntimeError, match="1D or 2D"):
        LA.norm(T(np.ones((2, 2, 2))), 2)


@pytest.mark.parametrize("offset", [-2, -1, 0, 1, 3, 5])
def test_diagonal_view_and_scatter(offset):
    a = RNG.standard_normal((3, 4, 5))
    for d1, d2 in ((0, 1), (1, 2), (2, 0), (-1, -2)):
        t = T(a.copy())
        dg = ember.diagonal(t, offset, d1, d2)
        np.testing.assert_array_equal(dg.numpy(), np.diagonal(a, offset, d1, d2))
        if dg.numel():
            dg.fill_(7.0)  # a view: writes reach the base
            assert (np.diagonal(t.numpy(), offset, d1, d2) == 7).all()
        src = RNG.standard_normal(np.diagonal(a, offset, d1, d2).shape)
        s = ember.diagonal_scatter(T(a), T(src), offset, d1, d2).numpy()
        np.testing.assert_array_equal(np.diagonal(s, offset, d1, d2), src)
        ref = a.copy()
        idx = np.diagonal(np.arange(a.size).reshape(a.shape), offset, d1, d2).ravel()
        ref.reshape(-1)[idx] = src.ravel()
        np.testing.assert_array_equal(s, ref)
    with pytest.raises(RuntimeError, match="cannot be identical"):
        ember.diagonal(T(a), 0, 1, 1)
    with pytest.raises(RuntimeError, match="src must have shape"):
        ember.diagonal_scatter(T(a), ember.ones(2), offset)


def test_diag_family_and_trace():
    v = RNG.standard_normal(4)
    m = RNG.standard_normal((3, 5))
    for k in (-2, 0, 1):
        np.testing.assert_array_equal(ember.diag(T(v), k).numpy(), np.diag(v, k))
        np.testing.assert_array_equal(ember.diag(T(m), k).numpy(), np.diag(m, k))
    np.testing.assert_array_equal(ember.diagflat(T(m)).numpy(), np.diagflat(m))
    b = RNG.standard_normal((2, 3))
    e = ember.diag_embed(T(b)).numpy()
    np.testing.assert_array_equal(e, np.stack([np.diag(r) for r in b]))
    e2 = ember.diag_embed(T(b), 1, 0, 2).numpy()
    assert e2.shape == (4, 2, 4)
    np.testing.assert_array_equal(np.diagonal(e2, 1, 0, 2), b)
    assert ember.trace(T(m)).item() == pytest.approx(np.trace(m))
    assert ember.trace(ember.arange(9).reshape(3, 3)).item() == 12
    with pytest.raises(RuntimeError, match="matrix"):
        ember.trace(T(v))
    with pytest.raises(RuntimeError, match="1D or 2D"):
        ember.diag(T(np.ones((2, 2, 2))))


@pytest.mark.parametrize("k", [-2, -1, 0, 1, 4])
def test_tril_triu(k):
    a = RNG.standard_normal((2, 3, 4))
    for x in (a, a[:, ::-1], np.swapaxes(a.copy(), 1, 2)):
        np.testing.assert_array_equal(ember.tril(T(x), k).numpy(), np.tril(x, k))
        np.testing.assert_array_equal(T(x).triu(k).numpy(), np.triu(x, k))
        t = T(x.copy())
        t.tril_(k)
        np.testing.assert_array_equal(t.numpy(), np.tril(x, k))
        t = T(x.copy())
        t.triu_(k)
        np.testing.assert_array_equal(t.numpy(), np.triu(x, k))
    with pytest.raises(RuntimeError, match="at least 2"):
        ember.tril(ember.ones(3))


@pytest.mark.parametrize(
    "eq,shapes",
    [
        ("ij,jk->ik", [(3, 4), (4, 5)]),
        ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
        ("ii->i", [(4, 4)]),
        ("ii", [(4, 4)]),
        ("ij->", [(3, 4)]),
        ("i,j", [(3,), (4,)]),
        ("...ij,...jk", [(2, 3, 4), (4, 2)]),
        ("i...->...", [(3, 2, 2)]),
        ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 5)]),
        (" ij , jk ", [(2, 3), (3, 2)]),
    ],
)
def test_einsum(eq, shapes):
    ops = [RNG.standard_normal(s) for s in shapes]
    got = ember.einsum(eq, *[T(o) for o in ops]).numpy()
    np.testing.assert_allclose(got, np.einsum(eq.replace(" ", ""), *ops), rtol=1e-12)
    got_list = ember.einsum(eq, [T(o) for o in ops]).numpy()
    np.testing.assert_allclose(got_list, got)


def test_einsum_errors():
    with pytest.raises(RuntimeError, match="operands"):
        ember.einsum("ij,jk", ember.ones(2, 2))
    with pytest.raises(RuntimeError, match="number of subscripts"):
        ember.einsum("ijk", ember.ones(2, 2))
    with pytest.raises(RuntimeError, match="one dtype"):
        ember.einsum("i,i", ember.ones(2), ember.ones(2, dtype=ember.float64))


def test_tensordot_kron_cross_cdist_chain():
    a, b = RNG.standard_normal((3, 4, 5)), RNG.standard_normal((4, 5, 2))
    np.testing.assert_allclose(ember.tensordot(T(a), T(b)).numpy(), np.tensordot(a, b), rtol=1e-12)
    np.testing.assert_allclose(
        ember.tensordot(T(a), T(b), ([1], [0])).numpy(), np.tensordot(a, b, ([1], [0])), rtol=1e-12
    )
    np.testing.assert_allclose(ember.tensordot(T(a), T(a), 0).numpy(), np.tensordot(a, a, 0))
    with pytest.raises(RuntimeError, match="contracted dimensions need to match"):
        ember.tensordot(T(a), T(a), ([0], [1]))
    for x, y in (((2, 3), (3, 2)), ((3,), (2, 2)), ((2, 1, 2), (3, 2))):
        p, q = RNG.standard_normal(x), RNG.standard_normal(y)
        np.testing.assert_allclose(ember.kron(T(p), T(q)).numpy(), np.kron(p, q), rtol=1e-12)
    u, v = RNG.standard_normal((4, 3)), RNG.standard_normal((1, 3))
    np.testing.assert_allclose(ember.cross(T(u), T(v), 1).numpy(), np.cross(u, v), rtol=1e-12)
    np.testing.assert_allclose(LA.cross(T(u), T(v)).numpy(), np.cross(u, v), rtol=1e-12)
    np.testing.assert_allclose(
        ember.cross(T(u.T.copy()), T(v.T.copy())).numpy(), np.cross(u, v).T, rtol=1e-12
    )  # first dim of size 3
    with pytest.raises(RuntimeError, match="length 3"):
        ember.cross(ember.ones(2, 4), ember.ones(2, 4), 1)
    x1, x2 = RNG.standard_normal((5, 3)), RNG.standard_normal((4, 3))
    for p in (1.0, 2.0, 3.0, 0.0, float("inf")):
        ref = (
            np.linalg.norm(x1[:, None] - x2[None], p if p else 0, axis=-1)
            if p != 0
            else ((x1[:, None] != x2[None]).sum(-1).astype(float))
        )
        np.testing.assert_allclose(ember.cdist(T(x1), T(x2), p).numpy(), ref, rtol=1e-12)
    with pytest.raises(RuntimeError, match="same number of columns"):
        ember.cdist(T(x1), T(x2[:, :2]))
    ms = [RNG.standard_normal(s) for s in ((2, 3), (3, 4), (4, 2))]
    np.testing.assert_allclose(
        ember.chain_matmul(*[T(m) for m in ms]).numpy(), ms[0] @ ms[1] @ ms[2], rtol=1e-12
    )
    np.testing.assert_allclose(
        LA.multi_dot([T(np.ones(2)), T(ms[0]), T(ms[1])]).numpy(),
        np.linalg.multi_dot([np.ones(2), ms[0], ms[1]]),
        rtol=1e-12,
    )
    np.testing.assert_allclose(LA.vecdot(T(x1), T(x1)).numpy(), (x1 * x1).sum(-1))
    bd = ember.block_diag(T(np.ones((2, 2))), T(np.array([3.0, 4.0, 5.0])), T(np.array(6.0)))
    ref = np.zeros((4, 6))
    ref[:2, :2] = 1
    ref[2, 2:5] = [3, 4, 5]
    ref[3, 5] = 6
    np.testing.assert_array_equal(bd.numpy(), ref)
    np.testing.assert_array_equal(
        LA.diagonal(T(a[:, :3, :3])).numpy(), np.diagonal(a[:, :3, :3], 0, -2, -1)
    )
