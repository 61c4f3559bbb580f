"""Every op with a CUDA path, run on the GPU and compared with its CPU result.

Differentiable ops reuse ember-autograd's gradcheck cases (every differentiable core op
has one): outputs and input gradients on CUDA must match the CPU's. The other ops run from
the table below (values, dtypes, shapes; random ops bit for bit, since both devices run
the same Philox). ``test_every_op_with_a_cuda_path_is_exercised`` keeps the two lists
complete against the registry and ``ember._cuda.support``.

Needs a GPU (``@pytest.mark.cuda``, skipped with the reason otherwise).
``EMBER_CUDA_DRYRUN=1`` runs the harness on the CPU with stand-in device storage
(``ember._cuda.standin``), to debug the tables without a GPU; it proves nothing about CUDA.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

import ember
from ember._cuda import standin, support
from ember._registry import OPS
from ember._tensor import Tensor, _wrap

DRYRUN = os.environ.get("EMBER_CUDA_DRYRUN") == "1"
pytestmark = [
    pytest.mark.cuda,
    pytest.mark.skipif(
        not (ember.cuda.is_available() or DRYRUN), reason="no CUDA device (needs a GPU)"
    ),
]
AUTOGRAD_CASES = (
    Path(__file__).resolve().parents[2] / "autograd" / "tests" / "test_autograd_formulas.py"
)
RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True)
def _dryrun_device(monkeypatch):
    """In the dry run, device allocations make stand-in arrays instead of calling CuPy."""
    if DRYRUN:
        standin.activate(monkeypatch)


def to_dev(t):
    """A tensor (or nested tuple/list of them) moved to the device, keeping requires_grad."""
    if isinstance(t, (list, tuple)):
        return type(t)(to_dev(x) for x in t)
    if not isinstance(t, Tensor):
        return t
    if DRYRUN:
        d = _wrap(standin.to_standin(np.array(t._a)))
    else:
        d = t.detach().cuda()
    return d.requires_grad_() if t.requires_grad else d


def to_cpu(x):
    if isinstance(x, (list, tuple)):
        return [to_cpu(v) for v in x]
    if isinstance(x, Tensor):
        if not DRYRUN:
            assert x.is_cuda, "the result left the device"
        return np.array(x.detach()._a if DRYRUN else x.detach().cpu()._a)
    return x


def assert_close(got, want, rtol, atol, what):
    if isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), what
        for g, w in zip(got, want):
            assert_close(g, w, rtol, atol, what)
        return
    if isinstance(want, np.ndarray):
        assert got.shape == want.shape and got.dtype == want.dtype, (
            f"{what}: {got.dtype}{got.shape} vs CPU {want.dtype}{want.shape}"
        )
        if want.dtype.kind in "fc":
            np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)
        else:
            np.testing.assert_array_equal(got, want, err_msg=what)
        return
    assert got == want or (got != got and want != want), f"{what}: {got} vs CPU {want}"


def _tol(dt) -> tuple[float, float]:
    return {np.float64: (1e-9, 1e-10), np.float32: (1e-5, 1e-6)}.get(
        np.dtype(dt).type, (1e-2, 1e-3)
    )


class _OnDevice:
    """Stands in for the ``ember`` module inside autograd's case file while the device half
    runs: the index/mask tensors its lambdas build (``ember.tensor([...])``) go to the
    device, everything else is ember itself. Only the cases see it, so an ember or
    ember-autograd function that builds a CPU tensor for CUDA work still fails here."""

    def __getattr__(self, name):
        attr = getattr(ember, name)
        if name in ("tensor", "zeros", "ones"):
            return lambda *a, **k: to_dev(attr(*a, **k))
        return attr


# ----- differentiable ops: autograd's cases, values and gradients ---------------------------
def _autograd_module():
    if not AUTOGRAD_CASES.exists():
        return None
    spec = importlib.util.spec_from_file_location("_ag_cases_for_cuda", AUTOGRAD_CASES)
    mod = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(mod)
    except ImportError:  # ember-autograd not installed
        return None
    return mod


AG = _autograd_module()


def _grad_names():
    if AG is None:
        return []
    return sorted(
        n
        for n, o in OPS.items()
        if o.differentiable and n not in AG.NOT_HERE and AG._cases(n) is not None
    )


def _run_grad_case(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (list, tuple)) else (out,)
    loss = None
    for o in outs:
        if isinstance(o, Tensor) and o.requires_grad:
            w = ember.from_numpy(np.linspace(0.5, 1.5, o.numel()).reshape(o.shape)).to(o.dtype)
            on_dev = type(o._a) is not np.ndarray
            term = (o * to_dev(w) if on_dev else o * w).sum()
            loss = term if loss is None else loss + term
    if loss is not None:
        loss.backward()
    return to_cpu(list(outs)), [to_cpu(x.grad) if x.grad is not None else None for x in inputs]


@pytest.mark.skipif(AG is None, reason="ember-autograd is not installed")
@pytest.mark.parametrize("name", _grad_names())
def test_differentiable_op_matches_cpu_with_gradients(name, monkeypatch):
    for k, (fn, inputs) in enumerate(AG._cases(name)):
        cpu_in = [x.detach().requires_grad_() if isinstance(x, Tensor) else x for x in inputs]
        dev_in = to_dev(cpu_in)
        want, want_g = _run_grad_case(fn, cpu_in)
        with monkeypatch.context() as mp:
            mp.setattr(AG, "ember", _OnDevice())
            got, got_g = _run_grad_case(fn, dev_in)
        rtol, atol = (1e-2, 1e-3) if name == "to" else (1e-7, 1e-9)
        assert_close(got, want, rtol, atol, f"{name} case {k}: value")
        for i, (g, w) in enumerate(zip(got_g, want_g)):
            if w is None:
                assert g is None, f"{name} case {k}: input {i} got a gradient on CUDA only"
            else:
                assert_close(g, w, rtol, atol, f"{name} case {k}: gradient of input {i}")


# ----- the other ops: a table of calls on CPU-or-device inputs -------------------------------
def _f(*shape, low=None):
    a = RNG.standard_normal(shape)
    return np.abs(a) + low if low is not None else a


_X = _f(3, 4).astype(np.float32)
_Y = _f(3, 4).astype(np.float32)
_P = RNG.uniform(0.1, 0.9, (3, 4)).astype(np.float32)  # (0, 1): logit, probabilities
_I = RNG.integers(-5, 6, (3, 4)).astype(np.int64)
_J = RNG.integers(1, 4, (3, 4)).astype(np.int64)
_B = _X > 0
_S = (lambda m: m @ m.T + 4 * np.eye(4))(_f(4, 4))  # symmetric positive definite (float64)
_V = np.sort(_f(6)).astype(np.float32)
_NAN = np.array([1.0, np.nan, -2.0, np.inf, -np.inf, 0.5], np.float32)

# name -> calls (T: numpy -> tensor on the device under test; D: that device for creation)
TABLE = {
    "all": [lambda T, D: ember.all(T(_B)), lambda T, D: ember.all(T(_B), 1)],
    "any": [lambda T, D: ember.any(T(_B), 0)],
    "allclose": [lambda T, D: ember.allclose(T(_X), T(_X + 1e-9))],
    "equal": [lambda T, D: ember.equal(T(_X), T(_X))],
    "isclose": [lambda T, D: ember.isclose(T(_X), T(_Y))],
    "argmax": [lambda T, D: ember.argmax(T(_X)), lambda T, D: ember.argmax(T(_X), 1)],
    "argmin": [lambda T, D: ember.argmin(T(_X), 0, keepdim=True)],
    "argsort": [lambda T, D: ember.argsort(T(_X), 1, stable=True)],
    "sort": [lambda T, D: ember.sort(T(_X), 0, descending=True)],
    "msort": [lambda T, D: ember.msort(T(_X))],
    "topk": [lambda T, D: ember.topk(T(_X), 2, 1), lambda T, D: ember.topk(T(_X), 3, 0, False)],
    "kthvalue": [lambda T, D: ember.kthvalue(T(_X), 2, 1)],
    "median": [lambda T, D: ember.median(T(_X)), lambda T, D: ember.median(T(_X), 1)],
    "nanmedian": [lambda T, D: ember.nanmedian(T(_NAN))],
    "mode": [lambda T, D: ember.mode(T(_J), 1)],
    "unique": [lambda T, D: ember.unique(T(_I), return_counts=True)],
    "unique_consecutive": [lambda T, D: ember.unique_consecutive(T(np.sort(_I, None)))],
    "count_nonzero": [lambda T, D: ember.count_nonzero(T(_I), 1)],
    "nanmean": [lambda T, D: ember.nanmean(T(_NAN))],
    "argwhere": [lambda T, D: ember.argwhere(T(_I))],
    "nonzero": [
        lambda T, D: ember.nonzero(T(_I)),
        lambda T, D: ember.nonzero(T(_I), as_tuple=True),
    ],
    "bincount": [lambda T, D: ember.bincount(T(_J.reshape(-1)))],
    "histc": [lambda T, D: ember.histc(T(_X), 5, -2, 2)],
    "bucketize": [lambda T, D: ember.bucketize(T(_X), T(_V))],
    "searchsorted": [lambda T, D: ember.searchsorted(T(_V), T(_X))],
    "put_": [
        lambda T, D: T(_X.copy()).put_(T(np.array([0, 5])), T(np.array([9.0, 8.0], np.float32)))
    ],
    "floor_divide": [lambda T, D: ember.floor_divide(T(_I), T(_J))],
    "heaviside": [lambda T, D: ember.heaviside(T(_X), T(_Y))],
    "logaddexp": [lambda T, D: ember.logaddexp(T(_X), T(_Y))],
    "logaddexp2": [lambda T, D: ember.logaddexp2(T(_X), T(_Y))],
    "nextafter": [lambda T, D: ember.nextafter(T(_X), T(_Y))],
    "xlogy": [lambda T, D: ember.xlogy(T(_P), T(_P))],
    "gcd": [lambda T, D: ember.gcd(T(_I), T(_J))],
    "lcm": [lambda T, D: ember.lcm(T(_I), T(_J))],
    "ldexp": [lambda T, D: ember.ldexp(T(_X), T(_J))],
    "frexp": [lambda T, D: ember.frexp(T(_X))],
    "clamp_max": [lambda T, D: ember.clamp_max(T(_X), 0.3)],
    "clamp_min": [lambda T, D: ember.clamp_min(T(_X), T(_Y))],
    "nan_to_num": [lambda T, D: ember.nan_to_num(T(_NAN), 0.0, 9.0, -9.0)],
    "logit": [lambda T, D: ember.logit(T(_P))],
    "erfinv": [lambda T, D: ember.erfinv(T(_P))],
    "lgamma": [lambda T, D: ember.lgamma(T(_P * 5))],
    "digamma": [lambda T, D: ember.digamma(T(_P * 5))],
    "polygamma": [lambda T, D: ember.polygamma(1, T(_P * 5))],
    "mvlgamma": [lambda T, D: ember.mvlgamma(T(_P * 5 + 2), 2)],
    "i0": [lambda T, D: ember.i0(T(_X))],
    "sinc": [lambda T, D: ember.sinc(T(_X))],
    "sgn": [lambda T, D: ember.sgn(T(_X))],
    "positive": [lambda T, D: ember.positive(T(_X))],
    "fix": [lambda T, D: ember.fix(T(_X * 3))],
    "deg2rad": [lambda T, D: ember.deg2rad(T(_X))],
    "rad2deg": [lambda T, D: ember.rad2deg(T(_X))],
    "softmax": [lambda T, D: ember.softmax(T(_X), 1)],
    "log_softmax": [lambda T, D: ember.log_softmax(T(_X), 0)],
    "cdist": [lambda T, D: ember.cdist(T(_X), T(_Y))],
    "cov": [lambda T, D: ember.cov(T(_X))],
    "corrcoef": [lambda T, D: ember.corrcoef(T(_X))],
    "cross": [lambda T, D: ember.cross(T(_X[:, :3]), T(_Y[:, :3]), dim=1)],
    "linalg.cross": [lambda T, D: ember.linalg.cross(T(_X[:, :3]), T(_Y[:, :3]))],
    "einsum": [lambda T, D: ember.einsum("ij,kj->ik", T(_X), T(_Y))],
    "kron": [lambda T, D: ember.kron(T(_X[:2, :2]), T(_Y[:2, :2]))],
    "tensordot": [lambda T, D: ember.tensordot(T(_X), T(_Y), ([1], [1]))],
    "chain_matmul": [lambda T, D: ember.chain_matmul(T(_X), T(_Y.T), T(_X))],
    "linalg.multi_dot": [lambda T, D: ember.linalg.multi_dot([T(_X), T(_Y.T), T(_X)])],
    "linalg.vecdot": [lambda T, D: ember.linalg.vecdot(T(_X), T(_Y))],
    "vdot": [lambda T, D: ember.vdot(T(_X[0]), T(_Y[0]))],
    "trace": [lambda T, D: ember.trace(T(_X))],
    "tril": [lambda T, D: ember.tril(T(_X), -1)],
    "triu": [lambda T, D: ember.triu(T(_X), 1)],
    "diag": [lambda T, D: ember.diag(T(_X)), lambda T, D: ember.diag(T(_V))],
    "diag_embed": [lambda T, D: ember.diag_embed(T(_X))],
    "diagflat": [lambda T, D: ember.diagflat(T(_V))],
    "diagonal": [lambda T, D: ember.diagonal(T(_X), 1)],
    "linalg.diagonal": [lambda T, D: ember.linalg.diagonal(T(_X))],
    "diagonal_scatter": [lambda T, D: ember.diagonal_scatter(T(_X), T(_V[:3]))],
    "block_diag": [lambda T, D: ember.block_diag(T(_X), T(_Y[:2]))],
    "atleast_1d": [lambda T, D: ember.atleast_1d(T(np.float32(2.0)))],
    "atleast_2d": [lambda T, D: ember.atleast_2d(T(_V))],
    "atleast_3d": [lambda T, D: ember.atleast_3d(T(_X))],
    "cartesian_prod": [lambda T, D: ember.cartesian_prod(T(_V[:2]), T(_V[2:5]))],
    "combinations": [lambda T, D: ember.combinations(T(_V[:4]), 2)],
    "meshgrid": [lambda T, D: ember.meshgrid(T(_V[:2]), T(_V[:3]), indexing="ij")],
    "diff": [lambda T, D: ember.diff(T(_X), dim=1)],
    "flip": [lambda T, D: ember.flip(T(_X), (0, 1))],
    "fliplr": [lambda T, D: ember.fliplr(T(_X))],
    "flipud": [lambda T, D: ember.flipud(T(_X))],
    "roll": [lambda T, D: ember.roll(T(_X), 1, 1)],
    "rot90": [lambda T, D: ember.rot90(T(_X))],
    "repeat": [lambda T, D: T(_X).repeat(2, 1)],
    "repeat_interleave": [lambda T, D: ember.repeat_interleave(T(_X), 2, 0)],
    "tile": [lambda T, D: ember.tile(T(_X), (2, 1))],
    "pad": [
        lambda T, D: ember.pad(T(_X), (1, 2)),
        lambda T, D: ember.pad(T(_X), (1, 1), "reflect"),
    ],
    "take_along_dim": [lambda T, D: ember.take_along_dim(T(_X), T(np.argsort(_X, 1)), 1)],
    "trapezoid": [lambda T, D: ember.trapezoid(T(_X))],
    "trapz": [lambda T, D: ember.trapz(T(_X))],
    "cumulative_trapezoid": [lambda T, D: ember.cumulative_trapezoid(T(_X))],
    "cholesky": [lambda T, D: ember.cholesky(T(_S))],
    "linalg.cholesky": [lambda T, D: ember.linalg.cholesky(T(_S))],
    "det": [lambda T, D: ember.det(T(_S))],
    "linalg.det": [lambda T, D: ember.linalg.det(T(_S))],
    "logdet": [lambda T, D: ember.logdet(T(_S))],
    "slogdet": [lambda T, D: ember.slogdet(T(_S))],
    "linalg.slogdet": [lambda T, D: ember.linalg.slogdet(T(_S))],
    "inverse": [lambda T, D: ember.inverse(T(_S))],
    "linalg.inv": [lambda T, D: ember.linalg.inv(T(_S))],
    "solve": [lambda T, D: ember.solve(T(_S), T(_S[:, :2]))],
    "linalg.solve": [lambda T, D: ember.linalg.solve(T(_S), T(_S[:, :2]))],
    "eigvalsh": [lambda T, D: ember.eigvalsh(T(_S))],
    "linalg.eigvalsh": [lambda T, D: ember.linalg.eigvalsh(T(_S))],
    "eigh": [lambda T, D: ember.eigh(T(_S))[0]],
    "linalg.eigh": [lambda T, D: ember.linalg.eigh(T(_S))[0]],
    "svdvals": [lambda T, D: ember.svdvals(T(_S))],
    "linalg.svdvals": [lambda T, D: ember.linalg.svdvals(T(_S))],
    "svd": [lambda T, D: ember.svd(T(_S))[1]],
    "linalg.svd": [lambda T, D: ember.linalg.svd(T(_S))[1]],
    "qr": [lambda T, D: (lambda q, r: q @ r)(*ember.qr(T(_S)))],
    "linalg.qr": [lambda T, D: (lambda q, r: q @ r)(*ember.linalg.qr(T(_S)))],
    "lstsq": [lambda T, D: ember.lstsq(T(_S[:, :2]), T(_S))[0]],
    "linalg.lstsq": [lambda T, D: ember.linalg.lstsq(T(_S), T(_S[:, :2]))[0]],
    "pinverse": [lambda T, D: ember.pinverse(T(_S))],
    "linalg.pinv": [lambda T, D: ember.linalg.pinv(T(_S))],
    "matrix_rank": [lambda T, D: ember.matrix_rank(T(_S))],
    "linalg.matrix_rank": [lambda T, D: ember.linalg.matrix_rank(T(_S))],
    "matrix_power": [lambda T, D: ember.matrix_power(T(_S), 3)],
    "linalg.matrix_power": [lambda T, D: ember.linalg.matrix_power(T(_S), 0)],
    "matrix_norm": [lambda T, D: ember.matrix_norm(T(_S))],
    "linalg.matrix_norm": [lambda T, D: ember.linalg.matrix_norm(T(_S), "nuc")],
    "vector_norm": [lambda T, D: ember.vector_norm(T(_X), 3)],
    "linalg.vector_norm": [lambda T, D: ember.linalg.vector_norm(T(_X), dim=1)],
    "linalg.norm": [lambda T, D: ember.linalg.norm(T(_X))],
    # creation on the device (values where defined; shape and dtype for empty ones)
    "arange": [lambda T, D: ember.arange(1, 7, 2, device=D)],
    "eye": [lambda T, D: ember.eye(3, 4, device=D)],
    "full": [lambda T, D: ember.full((2, 3), 1.5, device=D)],
    "full_like": [lambda T, D: ember.full_like(T(_X), 7)],
    "ones": [lambda T, D: ember.ones(2, 3, dtype=ember.int32, device=D)],
    "ones_like": [lambda T, D: ember.ones_like(T(_I))],
    "zeros": [lambda T, D: ember.zeros(4, device=D)],
    "zeros_like": [lambda T, D: ember.zeros_like(T(_X), dtype=ember.float64)],
    "empty": [lambda T, D: ember.empty(2, 3, device=D).shape],
    "empty_like": [lambda T, D: ember.empty_like(T(_X)).dtype],
    "empty_strided": [lambda T, D: tuple(ember.empty_strided((2, 3), (3, 1), device=D).shape)],
    "linspace": [lambda T, D: ember.linspace(0, 1, 5, device=D)],
    "logspace": [lambda T, D: ember.logspace(0, 2, 3, device=D)],
    "scalar_tensor": [lambda T, D: ember.scalar_tensor(3.5, device=D)],
    "tensor": [lambda T, D: ember.tensor([[1, 2], [3, 4]], device=D)],
    "as_tensor": [lambda T, D: ember.as_tensor([1.0, 2.0], device=D)],
    "tril_indices": [lambda T, D: ember.tril_indices(3, 3, device=D)],
    "triu_indices": [lambda T, D: ember.triu_indices(3, 4, 1, device=D)],
    "from_dlpack": [lambda T, D: ember.from_dlpack(T(_X))],
}
# elementwise ops with no gradient: one or two arrays of a fitting dtype
for _n in (
    "ceil",
    "floor",
    "round",
    "trunc",
    "sign",
    "signbit",
    "isfinite",
    "isinf",
    "isnan",
    "isneginf",
    "isposinf",
    "logical_not",
):
    TABLE[_n] = [lambda T, D, n=_n: getattr(ember, n)(T(_NAN))]
for _n in ("eq", "ne", "lt", "le", "gt", "ge", "logical_and", "logical_or", "logical_xor"):
    TABLE[_n] = [
        lambda T, D, n=_n: getattr(ember, n)(T(_X), T(_Y)),
        lambda T, D, n=_n: getattr(ember, n)(T(_X), 0.5),
    ]
for _n in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift"):
    TABLE[_n] = [lambda T, D, n=_n: getattr(ember, n)(T(_I), T(_J))]
TABLE["bitwise_not"] = [lambda T, D: ember.bitwise_not(T(_I)), lambda T, D: ~T(_B)]

# random ops: the same seed gives the same numbers on both devices, exactly
RANDOM = {
    "rand": lambda T, D: ember.rand(1001, device=D),
    "randn": lambda T, D: ember.randn(7, 9, dtype=ember.float64, device=D),
    "randint": lambda T, D: ember.randint(-5, 2**40, (333,), device=D),
    "randperm": lambda T, D: ember.randperm(1000, device=D),
    "rand_like": lambda T, D: ember.rand_like(T(_X.astype(np.float16))),
    "randn_like": lambda T, D: ember.randn_like(T(_X)),
    "randint_like": lambda T, D: ember.randint_like(T(_I), 10),
    "bernoulli": lambda T, D: ember.bernoulli(T(_P)),
    "normal": lambda T, D: ember.normal(2.0, 3.0, (5, 5), device=D),
    "uniform_": lambda T, D: T(_X.copy()).uniform_(-2, 3),
    "normal_": lambda T, D: T(_X.astype(np.float64)).normal_(1, 2),
    "random_": lambda T, D: T(_I.copy()).random_(0, 100),
    "bernoulli_": lambda T, D: T(_X.copy()).bernoulli_(0.3),
    "exponential_": lambda T, D: T(_X.copy()).exponential_(2.0),
    "cauchy_": lambda T, D: T(_X.astype(np.float64)).cauchy_(),
    "log_normal_": lambda T, D: T(_X.astype(np.float64)).log_normal_(),
    "geometric_": lambda T, D: T(_X.astype(np.float64)).geometric_(0.3),
}


def _T_cpu(a):
    return ember.from_numpy(np.array(a))


def _T_dev(a):
    return to_dev(ember.from_numpy(np.array(a)))


_D = None if DRYRUN else "cuda"


@pytest.mark.parametrize("name", sorted(TABLE))
def test_op_matches_cpu(name):
    for k, call in enumerate(TABLE[name]):
        want = to_cpu(call(_T_cpu, None))
        got = to_cpu(call(_T_dev, _D))
        want, got = (
            (want if isinstance(want, list) else [want]),
            (got if isinstance(got, list) else [got]),
        )
        for w, g in zip(want, got):
            dt = w.dtype if isinstance(w, np.ndarray) else np.float64
            rtol, atol = _tol(dt)
            if name in ("i0", "lgamma", "digamma", "polygamma", "mvlgamma", "erfinv", "sinc"):
                rtol, atol = 1e-4, 1e-5  # device libm vs host libm/series
            assert_close(g, w, max(rtol, 1e-5), max(atol, 1e-6), f"{name} call {k}")


@pytest.mark.skipif(DRYRUN, reason="the Philox kernels need a GPU")
@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_op_gives_the_cpu_numbers(name):
    ember.manual_seed(1234)
    want = to_cpu(RANDOM[name](_T_cpu, None))
    ember.manual_seed(1234)
    got = to_cpu(RANDOM[name](_T_dev, _D))
    if name in ("cauchy_", "log_normal_"):  # tan/exp of identical uniforms: libm differs
        np.testing.assert_allclose(got, want, rtol=1e-12)
    else:
        np.testing.assert_array_equal(got, want, err_msg=name)


def test_every_op_with_a_cuda_path_is_exercised():
    exercised = set(TABLE) | set(RANDOM) | set(_grad_names())
    missing = sorted(
        n for n in OPS if support.status(n) in ("kernel", "cupy") and n not in exercised
    )
    assert not missing, f"ops claimed to run on CUDA that no CUDA test runs: {missing}"


@pytest.mark.parametrize("name", sorted(support.UNSUPPORTED))
def test_unsupported_ops_say_so_on_the_device(name):
    x = _T_dev(np.full((2, 2), 0.25, np.float32))
    fn = {
        "multinomial": lambda: ember.multinomial(x, 2),
        "linalg.inv_ex": lambda: ember.linalg.inv_ex(x),
        "linalg.cholesky_ex": lambda: ember.linalg.cholesky_ex(x),
    }[name]
    with pytest.raises(NotImplementedError, match="not implemented for device cuda"):
        fn()
