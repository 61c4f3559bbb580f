"""gradcheck (float64) for every differentiable op of the breadth modules (sort,
shape_ext, math_ext, linalg_ext, linalg_struct, ember.linalg), driven by the
registry: a new differentiable op there without a case here fails."""

import numpy as np
import pytest

import ember
from ember._registry import OPS
from ember.autograd import gradcheck, gradgradcheck

RNG = np.random.default_rng(7)
EXT_MODULES = (
    "ember._ops.sort",
    "ember._ops.shape_ext",
    "ember._ops.math_ext",
    "ember._ops.linalg_ext",
    "ember._ops.linalg_struct",
    "ember.linalg",
)


def r(*shape, low=None):
    a = np.asarray(RNG.standard_normal(shape))
    if low is not None:
        a = np.asarray(np.abs(a) + low)
    return ember.from_numpy(a).requires_grad_()


def distinct(*shape):
    """Values far apart, so sorting/selection is stable under finite differences."""
    a = RNG.permutation(int(np.prod(shape))).reshape(shape).astype(np.float64)
    return ember.from_numpy(a + 0.1 * RNG.random(shape)).requires_grad_()


def nc(*shape):
    return ember.from_numpy(RNG.standard_normal(shape[::-1]).T).requires_grad_()


def spd(n, batch=()):
    a = RNG.standard_normal(batch + (n, n))
    return ember.from_numpy(a @ np.swapaxes(a, -1, -2) + n * np.eye(n)).requires_grad_()


def well(n, batch=()):
    return ember.from_numpy(RNG.standard_normal(batch + (n, n)) + 3 * np.eye(n)).requires_grad_()


def sym_distinct(n):
    q, _ = np.linalg.qr(RNG.standard_normal((n, n)))
    a = q @ np.diag(np.arange(1.0, n + 1) * 1.5) @ q.T
    return ember.from_numpy(np.tril(a) + np.tril(a, -1).T).requires_grad_()


def idx(*v):
    return ember.tensor(list(v))


L = ember.linalg
CASES = {
    "sort": [
        (lambda x: ember.sort(x, 1).values, (distinct(3, 4),)),
        (lambda x: ember.sort(x, 0, descending=True)[0], (distinct(4, 2),)),
    ],
    "argsort": None,
    "msort": [(ember.msort, (distinct(4, 3),))],
    "topk": [
        (lambda x: ember.topk(x, 2).values, (distinct(3, 5),)),
        (lambda x: ember.topk(x, 1, 0, largest=False).values, (distinct(40, 2),)),
    ],
    "kthvalue": [(lambda x: ember.kthvalue(x, 2, 1).values, (distinct(3, 4),))],
    "median": [
        (lambda x: ember.median(x), (distinct(5),)),
        (lambda x: ember.median(x, 0, keepdim=True).values, (distinct(5, 2),)),
    ],
    "nanmedian": [(lambda x: ember.nanmedian(x, 1).values, (distinct(2, 5),))],
    "mode": [(lambda x: ember.mode(x[ember.tensor([0, 1, 0, 2])], 0).values, (r(3, 2),))],
    "flip": [(lambda x: ember.flip(x, (0, 1)), (nc(3, 4),))],
    "fliplr": [(ember.fliplr, (r(2, 3),))],
    "flipud": [(ember.flipud, (r(2, 3),))],
    "roll": [
        (lambda x: ember.roll(x, (1, -2), (0, 1)), (r(3, 4),)),
        (lambda x: ember.roll(x, 3), (r(2, 3),)),
    ],
    "rot90": [(lambda x, k=k: ember.rot90(x, k, (0, 1)), (r(2, 3),)) for k in (1, 2, 3)],
    "repeat": [(lambda x: x.repeat(2, 1, 3), (r(2, 3),))],
    "tile": [(lambda x: ember.tile(x, (2,)), (r(2, 3),))],
    "repeat_interleave": [
        (lambda x: ember.repeat_interleave(x, idx(1, 0, 3), 1), (r(2, 3),)),
        (lambda x: ember.repeat_interleave(x, 2), (r(2, 2),)),
    ],
    "pad": [
        (lambda x: ember.pad(x, (1, 2, -1, 1)), (r(3, 4),)),
        (lambda x: ember.pad(x, (2, 1), mode="reflect"), (r(2, 4),)),
        (lambda x: ember.pad(x, (1, 2, 1, 0), mode="replicate"), (r(2, 3),)),
        (lambda x: ember.pad(x, (2, 1), mode="circular"), (r(2, 3),)),
    ],
    "meshgrid": [(lambda x, y: ember.meshgrid(x, y, indexing="xy"), (r(2), r(3)))],
    "cartesian_prod": [(lambda x, y: ember.cartesian_prod(x, y), (r(2), r(3)))],
    "combinations": [(lambda x: ember.combinations(x, 2), (r(4),))],
    "take_along_dim": [(lambda x: ember.take_along_dim(x, idx([0, 2], [1, 1]), 1), (r(2, 3),))],
    "atleast_1d": [(ember.atleast_1d, (r(),))],
    "atleast_2d": [(ember.atleast_2d, (r(3),))],
    "atleast_3d": [(ember.atleast_3d, (r(3),))],
    "diff": [(lambda x, p: ember.diff(x, 2, 0, prepend=p), (r(4, 2), r(1, 2)))],
    "trapezoid": [(lambda y, x: ember.trapezoid(y, x), (r(2, 5), r(5)))],
    "trapz": [(lambda y: ember.trapz(y, dx=0.5), (r(5),))],
    "cumulative_trapezoid": [(lambda y: ember.cumulative_trapezoid(y, dim=0), (r(4, 2),))],
    "lgamma": [(ember.lgamma, (r(5, low=0.3),)), (ember.lgamma, (r(4, low=0.2) * -1 - 0.5,))],
    "digamma": [(ember.digamma, (r(5, low=0.3),))],
    "polygamma": [(lambda x: ember.polygamma(2, x), (r(4, low=0.5),))],
    "mvlgamma": [(lambda x: ember.mvlgamma(x, 3), (r(4, low=1.2),))],
    "erfinv": [(ember.erfinv, (ember.from_numpy(RNG.uniform(-0.9, 0.9, 6)).requires_grad_(),))],
    "sinc": [(ember.sinc, (r(6),))],
    "logit": [
        (
            lambda x: ember.logit(x, 0.05),
            (ember.from_numpy(RNG.uniform(0.1, 0.9, 5)).requires_grad_(),),
        )
    ],
    "xlogy": [
        (ember.xlogy, (r(3, 2), r(2, low=0.5))),
        (lambda y: ember.xlogy(2.0, y), (r(3, low=0.5),)),
    ],
    "logaddexp": [(ember.logaddexp, (r(3, 1), r(4)))],
    "logaddexp2": [(ember.logaddexp2, (r(3), r(3)))],
    "deg2rad": [(ember.deg2rad, (r(3),))],
    "rad2deg": [(ember.rad2deg, (r(3),))],
    "nan_to_num": [(ember.nan_to_num, (r(4),))],
    "ldexp": [(lambda x: ember.ldexp(x, idx(1, -2, 3)), (r(3),))],
    "clamp_min": [(lambda x: ember.clamp_min(x, 0.1), (r(5),))],
    "clamp_max": [(lambda x: ember.clamp_max(x, 0.1), (r(5),))],
    "sgn": [(lambda x: ember.sgn(x) * x, (r(4),))],
    "positive": [(ember.positive, (r(3),))],
    "fix": [(lambda x: ember.fix(x) + x, (r(3),))],
    "softmax": [(lambda x: ember.softmax(x, 1), (nc(3, 4),)), (lambda x: x.softmax(0), (r(3),))],
    "log_softmax": [(lambda x: ember.log_softmax(x, -1), (r(2, 5),))],
    "cov": [(ember.cov, (r(3, 6),))],
    "corrcoef": [(ember.corrcoef, (r(2, 6),))],
    "inverse": [(ember.inverse, (well(3),)), (ember.inverse, (well(2, (2,)),))],
    "det": [(ember.det, (well(3),)), (ember.det, (well(2, (3,)),))],
    "logdet": [(ember.logdet, (spd(3),))],
    "slogdet": [(lambda x: ember.slogdet(x).logabsdet, (well(3),))],
    "solve": [
        (ember.solve, (well(3), r(3, 2))),
        (ember.solve, (well(3, (2,)), r(3))),
        (lambda a, b: ember.solve(a, b, left=False), (well(3), r(2, 3))),
    ],
    "cholesky": [
        (ember.cholesky, (spd(3),)),
        (lambda a: ember.cholesky(a, upper=True), (spd(2, (2,)),)),
    ],
    "svd": [
        (lambda a: ember.svd(a)[1], (r(4, 3),)),
        (
            lambda a: (lambda u, s, v: (u @ ember.diag_embed(s) @ v.T, u * u, v * v))(
                *ember.svd(a)
            ),
            (r(3, 4),),
        ),
    ],
    "pinverse": [(ember.pinverse, (r(4, 3),))],
    "matrix_power": [
        (lambda a: ember.matrix_power(a, 3), (r(3, 3),)),
        (lambda a: ember.matrix_power(a, -2), (well(2),)),
    ],
    "vector_norm": [
        (lambda x, p=p: ember.vector_norm(x, p, 1), (r(3, 4),))
        for p in (2, 1, 3, float("inf"), float("-inf"))
    ],
    "matrix_norm": [
        (lambda x, o=o: ember.matrix_norm(x, o), (r(3, 4),))
        for o in ("fro", "nuc", 2, -2, 1, -1, float("inf"), float("-inf"))
    ],
    "svdvals": [(ember.svdvals, (r(2, 3, 4),))],
    "eigh": [(lambda a: ember.eigh(a), (sym_distinct(3),))],
    "eigvalsh": [(ember.eigvalsh, (sym_distinct(4),))],
    "diagonal": [
        (lambda x: ember.diagonal(x, 1, 0, 2), (r(3, 2, 4),)),
        (lambda x: ember.diagonal(x, -1), (r(3, 3),)),
    ],
    "diagonal_scatter": [(lambda x, s: ember.diagonal_scatter(x, s, 1), (r(3, 4), r(3)))],
    "diag": [(ember.diag, (r(3),)), (lambda x: ember.diag(x, -1), (r(3, 4),))],
    "diag_embed": [(lambda x: ember.diag_embed(x, 1, 0, 2), (r(2, 3),))],
    "diagflat": [(ember.diagflat, (r(2, 2),))],
    "trace": [(ember.trace, (r(3, 4),))],
    "tril": [(lambda x: ember.tril(x, -1), (r(2, 3, 3),))],
    "triu": [(lambda x: ember.triu(x, 1), (r(3, 4),))],
    "einsum": [
        (lambda a, b: ember.einsum("bij,bjk->bik", a, b), (r(2, 3, 4), r(2, 4, 2))),
        (lambda a, b: ember.einsum("i,j", a, b), (r(3), r(2))),
        (lambda a, b: ember.einsum("...ij,jk->...k", a, b), (r(2, 3, 4), r(4, 2))),
    ],
    "tensordot": [(lambda a, b: ember.tensordot(a, b, ([1, 0], [0, 2])), (r(3, 4, 2), r(4, 5, 3)))],
    "kron": [(ember.kron, (r(2, 3), r(3, 2)))],
    "cross": [(lambda a, b: ember.cross(a, b, 1), (r(2, 3), r(1, 3)))],
    "cdist": [
        (ember.cdist, (r(3, 4), r(2, 4))),
        (lambda a, b: ember.cdist(a, b, 1.0), (r(2, 3, 4), r(2, 2, 4))),
    ],
    "chain_matmul": [(ember.chain_matmul, (r(2, 3), r(3, 4), r(4, 2)))],
    "block_diag": [(ember.block_diag, (r(2, 2), r(3), r(1, 2)))],
    "linalg.inv": [(L.inv, (well(3),))],
    "linalg.det": [(L.det, (well(3),))],
    "linalg.slogdet": [(lambda x: L.slogdet(x)[1], (well(3),))],
    "linalg.solve": [(L.solve, (well(3), r(3)))],
    "linalg.cholesky": [(L.cholesky, (spd(3),))],
    "linalg.svd": [(lambda a: L.svd(a, full_matrices=False), (r(3, 3),))],
    "linalg.svdvals": [(L.svdvals, (r(3, 2),))],
    "linalg.eigh": [(L.eigh, (sym_distinct(3),))],
    "linalg.eigvalsh": [(L.eigvalsh, (sym_distinct(3),))],
    "linalg.norm": [(L.norm, (r(3, 4),)), (lambda x: L.norm(x, 3, 0), (r(3, 4),))],
    "linalg.vector_norm": [(L.vector_norm, (r(5),))],
    "linalg.matrix_norm": [(lambda x: L.matrix_norm(x, "nuc"), (r(3, 3),))],
    "linalg.pinv": [(L.pinv, (r(3, 4),))],
    "linalg.matrix_power": [(lambda x: L.matrix_power(x, 2), (r(2, 2),))],
    "linalg.cross": [(L.cross, (r(4, 3), r(4, 3)))],
    "linalg.diagonal": [(L.diagonal, (r(2, 3, 3),))],
    "linalg.multi_dot": [(lambda a, b, c: L.multi_dot([a, b, c]), (r(3), r(3, 4), r(4)))],
    "linalg.vecdot": [(L.vecdot, (r(2, 3), r(3)))],
}


def _ext_differentiable():
    return sorted(
        n
        for n, o in OPS.items()
        if o.differentiable and getattr(o.fn, "__module__", "") in EXT_MODULES
    )


@pytest.mark.parametrize("name", _ext_differentiable())
def test_gradcheck(name):
    cases = CASES.get(name)
    assert cases, f"no gradcheck case for differentiable op '{name}'"
    for fn, inputs in cases:
        assert gradcheck(fn, inputs, atol=1e-6, rtol=1e-5), name


@pytest.mark.parametrize(
    "name",
    [
        "sort",
        "softmax",
        "log_softmax",
        "lgamma",
        "inverse",
        "det",
        "solve",
        "cholesky",
        "einsum",
        "flip",
        "pad",
        "vector_norm",
        "diagonal",
        "tril",
        "eigh",
        "svdvals",
        "xlogy",
        "logaddexp",
    ],
)
def test_gradgradcheck(name):
    fn, inputs = CASES[name][0]
    assert gradgradcheck(fn, inputs, atol=1e-5, rtol=1e-4), name


def test_gradient_of_picked_values_lands_at_the_indices():
    x = ember.tensor([[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]], requires_grad=True)
    v, i = ember.topk(x, 2, 1)
    (v * ember.tensor([[10.0, 1.0], [10.0, 1.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[10.0, 0.0, 1.0], [0.0, 10.0, 1.0]])


def test_vector_norm_gradient_at_zero_is_zero_not_nan():
    x = ember.zeros(3, dtype=ember.float64, requires_grad=True)
    ember.linalg.vector_norm(x).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    a = ember.tensor([[1.0, 2.0]], dtype=ember.float64, requires_grad=True)
    ember.cdist(a, a.detach()).sum().backward()
    assert np.isfinite(a.grad.numpy()).all()


def test_eigh_gradient_only_on_the_lower_triangle():
    a = sym_distinct(3)
    ember.eigvalsh(a).sum().backward()
    g = a.grad.numpy()
    np.testing.assert_array_equal(np.triu(g, 1), 0)
    np.testing.assert_allclose(np.diag(g), 1.0)  # d trace / d A_ii


def test_einsum_repeated_subscript_backward_says_unsupported():
    x = r(3, 3)
    with pytest.raises(NotImplementedError, match="repeated subscripts"):
        ember.einsum("ii->i", x).sum().backward()


def test_qr_gradient_matches_finite_differences():
    """QR's derivative (reduced, m >= n), through both Q and R."""
    import numpy as np

    from ember.autograd import gradcheck, gradgradcheck

    a = ember.from_numpy(np.random.default_rng(5).standard_normal((5, 3))).requires_grad_()
    assert gradcheck(lambda x: ember.linalg.qr(x)[0], (a,))
    assert gradcheck(lambda x: ember.linalg.qr(x)[1], (a,))
    sq = ember.from_numpy(np.random.default_rng(6).standard_normal((3, 3))).requires_grad_()
    assert gradcheck(lambda x: ember.qr(x)[0].sum() + ember.qr(x)[1].sum(), (sq,))
    assert gradgradcheck(lambda x: ember.linalg.qr(x)[1], (a,))
