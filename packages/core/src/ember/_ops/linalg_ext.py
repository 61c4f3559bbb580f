"""Linear algebra beyond products: inverse, determinants, solvers, decompositions
(Cholesky, QR, SVD, symmetric eigendecomposition) and norms. LAPACK work goes to
``numpy.linalg`` (batched over leading dims). Bad input raises
:class:`LinAlgError` (a ``RuntimeError``, as in PyTorch): singular or
non-positive-definite matrices, non-square input. Results are never silent NaNs.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember import _dtype
from ember._ops import math as _m
from ember._ops import reduce as _r
from ember._ops import shape as _s
from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import record_if_needed, result
from ember._registry import register
from ember._tensor import Tensor, _wrap, _wrap_dim

__all__ = [
    "LinAlgError",
    "inverse",
    "det",
    "logdet",
    "slogdet",
    "solve",
    "cholesky",
    "qr",
    "svd",
    "pinverse",
    "matrix_power",
    "vector_norm",
    "matrix_norm",
    "svdvals",
    "eigh",
    "eigvalsh",
    "matrix_rank",
    "lstsq",
]

_slogdet_t = namedtuple("slogdet", ["sign", "logabsdet"])
_qr_t = namedtuple("qr", ["Q", "R"])
_svd_t = namedtuple("svd", ["U", "S", "V"])
_linalg_svd_t = namedtuple("svd", ["U", "S", "Vh"])
_eigh_t = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
_lstsq_t = namedtuple("lstsq", ["solution", "residuals", "rank", "singular_values"])


class LinAlgError(RuntimeError):
    """A linear-algebra routine got input it cannot handle (singular, not positive
    definite, not square). Subclasses ``RuntimeError``, like ``torch.linalg.LinAlgError``."""


def _float_matrix(A: Tensor, name: str, square: bool = True):
    """``A``'s array, checked: a floating (or complex) batch of (square) matrices."""
    a = A._a
    if a.dtype.kind not in "fc" or a.dtype == np.float16:
        raise RuntimeError(
            f"{name}: Expected a floating point or complex tensor as input. Got {A.dtype}"
        )
    if a.ndim < 2:
        raise RuntimeError(
            f"{name}: The input tensor A must have at least 2 dimensions, got {a.ndim}-d "
            f"of shape {list(a.shape)}"
        )
    if square and a.shape[-1] != a.shape[-2]:
        raise LinAlgError(
            f"{name}: A must be batches of square matrices, but they are {a.shape[-2]} by "
            f"{a.shape[-1]} matrices"
        )
    return a


def _singular(name: str, what: str = "singular") -> LinAlgError:
    return LinAlgError(
        f"{name}: The input matrix is {what}; the operation could not be completed "
        "(check for linearly dependent rows or columns)"
    )


def inverse(input: Tensor) -> Tensor:
    """The inverse of each square matrix in the batch; LinAlgError when one is singular."""
    a = _float_matrix(input, "linalg.inv")
    try:
        r = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        raise _singular("linalg.inv") from None
    if not np.all(np.isfinite(r)) and np.all(np.isfinite(a)):
        raise _singular("linalg.inv")
    return result(r, (input,), "inverse")


def det(input: Tensor) -> Tensor:
    """The determinant of each square matrix in the batch (0 for singular ones)."""
    a = _float_matrix(input, "linalg.det")
    return result(_asarray(np.linalg.det(a)), (input,), "det")


def slogdet(input: Tensor):
    """``(sign, log|det|)`` of each square matrix, computed without overflow."""
    a = _float_matrix(input, "linalg.slogdet")
    sign, lad = np.linalg.slogdet(a)
    outs = (_wrap(_asarray(sign)), _wrap(_asarray(lad)))
    record_if_needed(outs, (input,), "slogdet", None)
    return _slogdet_t(*outs)


def logdet(input: Tensor) -> Tensor:
    """``log(det(A))``: NaN where the determinant is negative, -inf where it is 0."""
    from ember._ops.index import where

    sign, lad = slogdet(input)
    return where(sign < 0, float("nan"), lad)


def solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """The solution ``X`` of ``A X = B`` (``X A = B`` with ``left=False``), batched with
    broadcasting; ``B`` is a vector when 1-D or when its shape is ``A.shape[:-1]``."""
    a = _float_matrix(A, "linalg.solve")
    if not left:
        return _s.transpose(solve(_s.transpose(A, -2, -1), _s.transpose(B, -2, -1)), -2, -1)
    b = B._a
    if b.dtype != a.dtype:
        raise RuntimeError(
            f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
            f"{A.dtype} and B of type {B.dtype} instead"
        )
    vector = b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])
    if vector:
        return _s.squeeze(solve(A, _s.unsqueeze(B, -1)), -1)
    if b.ndim < 2 or b.shape[-2] != a.shape[-1]:
        raise RuntimeError(
            f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
            f"({'x'.join(map(str, a.shape[-2:]))} and {'x'.join(map(str, b.shape[-2:]))})"
        )
    try:
        np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        r = np.linalg.solve(a, b)
    except np.linalg.LinAlgError:
        raise _singular("linalg.solve") from None
    except ValueError:
        raise RuntimeError(
            f"linalg.solve: batch dims of A {list(a.shape)} and B {list(b.shape)} do not broadcast"
        ) from None
    return result(r, (A, B), "solve")


def _cholesky_lower(input: Tensor, name: str) -> Tensor:
    a = _float_matrix(input, name)
    try:
        r = np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        raise LinAlgError(
            f"{name}: The factorization could not be completed because the input is not "
            "positive-definite"
        ) from None
    return result(r, (input,), "cholesky")


def cholesky(input: Tensor, upper: bool = False) -> Tensor:
    """The Cholesky factor ``L`` (``A = L L^H``; ``U = L^H`` with ``upper``) of each
    symmetric positive-definite matrix; LinAlgError when one is not."""
    L = _cholesky_lower(input, "linalg.cholesky")
    return _s.transpose(L, -2, -1) if upper else L


def qr(input: Tensor, some: bool = True):
    """``(Q, R)`` with ``A = Q R``, ``Q`` orthonormal columns, ``R`` upper triangular
    (reduced when ``some``, complete otherwise)."""
    a = _float_matrix(input, "linalg.qr", square=False)
    q, r = np.linalg.qr(a, mode="reduced" if some else "complete")
    outs = (_wrap(q), _wrap(r))
    m, n = a.shape[-2:]
    if some and m >= n:  # the case with a well-defined derivative (as in PyTorch)
        record_if_needed(outs, (input,), "qr", None)
    elif input._ag is not None:
        outs = tuple(o.detach() for o in outs)
    return _qr_t(*outs)


def _svd_arrays(input: Tensor, full_matrices: bool, name: str):
    a = _float_matrix(input, name, square=False)
    try:
        return np.linalg.svd(a, full_matrices=full_matrices)
    except np.linalg.LinAlgError:
        raise LinAlgError(f"{name}: the SVD did not converge (is the input finite?)") from None


def _svd_reduced(input: Tensor, full_matrices: bool, name: str):
    u, s, vh = _svd_arrays(input, full_matrices, name)
    outs = (_wrap(u), _wrap(s), _wrap(vh))
    if not full_matrices or input._a.shape[-1] == input._a.shape[-2]:
        record_if_needed(outs, (input,), "svd", None)
    elif input._ag is not None:
        outs = tuple(o.detach() for o in outs)  # full U/V: PyTorch has no gradient either
    return outs


def svd(input: Tensor, some: bool = True, compute_uv: bool = True):
    """``(U, S, V)`` with ``A = U diag(S) V^H`` (note ``V``, not ``V^H``, as in
    ``torch.svd``); see :func:`ember.linalg.svd` for the ``Vh`` form."""
    u, s, vh = _svd_reduced(input, not some, "svd")
    return _svd_t(
        u, s, _s.transpose(vh, -2, -1).conj() if vh.is_complex() else _s.transpose(vh, -2, -1)
    )


def svdvals(input: Tensor) -> Tensor:
    """The singular values of each matrix, in descending order."""
    a = _float_matrix(input, "linalg.svdvals", square=False)
    try:
        s = np.linalg.svd(a, compute_uv=False)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.svdvals: the SVD did not converge") from None
    if input._ag is not None:
        return _svd_reduced(input, False, "linalg.svdvals")[1]
    return _wrap(s)


def eigh(input: Tensor, UPLO: str = "L"):
    """Eigenvalues (ascending) and orthonormal eigenvectors of symmetric (Hermitian)
    matrices, using the ``UPLO`` triangle."""
    a = _float_matrix(input, "linalg.eigh")
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    try:
        w, v = np.linalg.eigh(a, UPLO=UPLO)
    except np.linalg.LinAlgError:
        raise LinAlgError("linalg.eigh: the eigendecomposition did not converge") from None
    outs = (_wrap(w), _wrap(v))
    record_if_needed(outs, (input,), "eigh", None)
    return _eigh_t(*outs)


def eigvalsh(input: Tensor, UPLO: str = "L") -> Tensor:
    """The eigenvalues (ascending) of symmetric (Hermitian) matrices."""
    return eigh(input, UPLO)[0]


def pinverse(
    input: Tensor, rcond: float = 1e-15, *, atol=None, rtol=None, hermitian: bool = False
) -> Tensor:
    """The Moore-Penrose pseudo-inverse, from the SVD; singular values at or below
    ``max(atol, rtol * largest)`` count as zero."""
    from ember._ops.index import where
    from ember._ops.linalg import matmul

    u, s, vh = _svd_reduced(input, False, "linalg.pinv")
    smax = _r.amax(s, -1, keepdim=True) if s.shape[-1] else s
    if atol is None and rtol is None:
        rtol = rcond
    tol = _m.maximum(smax * (rtol or 0.0), _wrap(_asarray(atol or 0.0, s._a.dtype)))
    keep = s > tol
    sinv = where(keep, 1.0 / where(keep, s, 1.0), 0.0)
    vs = _s.transpose(vh, -2, -1) * _s.unsqueeze(sinv, -2)
    return matmul(vs, _s.transpose(u, -2, -1))


def matrix_power(input: Tensor, n: int) -> Tensor:
    """``A`` multiplied by itself ``n`` times (``n < 0`` uses the inverse; ``n = 0`` the
    identity), by repeated squaring."""
    from ember._ops.linalg import matmul

    a = input._a
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise LinAlgError(
            f"linalg.matrix_power: A must be batches of square matrices, got shape {list(a.shape)}"
        )
    if n == 0:
        return _wrap(np.broadcast_to(np.eye(a.shape[-1], dtype=a.dtype), a.shape).copy())
    x = inverse(input) if n < 0 else input
    n = abs(n)
    acc = None
    while n:
        if n & 1:
            acc = x if acc is None else matmul(acc, x)
        n >>= 1
        if n:
            x = matmul(x, x)
    return acc


def _norm_dims(dim, ndim):
    if dim is None:
        return None
    ds = (dim,) if isinstance(dim, int | np.integer) else tuple(dim)
    return tuple(sorted(_wrap_dim(int(d), ndim) for d in ds))


def vector_norm(x: Tensor, ord=2, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """The vector ``ord``-norm over ``dim`` (all elements when None): ``sum(|x|^ord)^(1/ord)``,
    ``max|x|`` for inf, ``min|x|`` for -inf, the count of nonzeros for 0."""
    if dtype is not None:
        x = x.to(dtype)
    a = x._a
    if a.dtype.kind not in "fc" and a.dtype != _dtype.bfloat16.np:
        raise RuntimeError(
            f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {x.dtype}"
        )
    dims = _norm_dims(dim, a.ndim)
    ord = float(ord)  # noqa: A001
    ab = np.abs(a)
    if ab.size == 0 and ord in (float("inf"), float("-inf")):
        raise RuntimeError(f"linalg.vector_norm: cannot compute the {ord} norm on an empty tensor")
    if ord == float("inf"):
        r = ab.max(axis=dims, keepdims=keepdim)
    elif ord == float("-inf"):
        r = ab.min(axis=dims, keepdims=keepdim)
    elif ord == 0:
        r = (ab != 0).sum(axis=dims, keepdims=keepdim).astype(ab.dtype)
    elif ord == 1:
        r = ab.sum(axis=dims, keepdims=keepdim)
    elif ord == 2:
        r = np.sqrt((ab * ab).sum(axis=dims, keepdims=keepdim))
    else:
        r = (ab**ord).sum(axis=dims, keepdims=keepdim) ** (1.0 / ord)
    return result(_asarray(r, ab.dtype), (x,), "vector_norm", (ord, dims, keepdim))


def matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *, dtype=None) -> Tensor:
    """Matrix norm over the two dims ``dim``: ``'fro'``, ``'nuc'``, ``inf``/``-inf`` (max/min
    row sum of ``|A|``), ``1``/``-1`` (max/min column sum), ``2``/``-2`` (largest/smallest
    singular value)."""
    if dtype is not None:
        A = A.to(dtype)
    if A.dim() < 2:
        raise RuntimeError(
            f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got {A.dim()}"
        )
    d0, d1 = (_wrap_dim(d, A.dim()) for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different, got {list(dim)}")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord == "nuc" or ord in (2, -2):
        x = _s.movedim(A, (d0, d1), (-2, -1))
        s = svdvals(x)
        r = _r.sum(s, -1) if ord == "nuc" else (_r.amax(s, -1) if ord == 2 else _r.amin(s, -1))
        if keepdim:
            r = _s.unsqueeze(_s.unsqueeze(r, min(d0, d1)), max(d0, d1))
        return r
    if ord not in (1, -1, float("inf"), float("-inf")):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    ab = _m.abs(A)
    sum_dim, red_dim = (d0, d1) if ord in (1, -1) else (d1, d0)
    sums = _r.sum(ab, sum_dim, keepdim=True)
    pick = _r.amax if ord > 0 else _r.amin
    r = pick(sums, red_dim, keepdim=True)
    return r if keepdim else _s.squeeze(r, (d0, d1))


def matrix_rank(A: Tensor, tol=None, hermitian: bool = False, *, atol=None, rtol=None) -> Tensor:
    """The number of singular values above ``max(atol, rtol * largest)`` (default rtol:
    eps of the dtype times the larger matrix dim)."""
    a = _float_matrix(A, "linalg.matrix_rank", square=False)
    s = np.abs(np.linalg.eigvalsh(a)) if hermitian else np.linalg.svd(a, compute_uv=False)
    if tol is not None:
        atol, rtol = tol, 0.0
    if rtol is None:
        rtol = 0.0 if atol else np.finfo(a.dtype).eps * max(a.shape[-2:])
    smax = s.max(axis=-1, keepdims=True) if s.shape[-1] else np.zeros(s.shape[:-1] + (1,))
    thr = np.maximum(atol or 0.0, rtol * smax)
    return _wrap(_asarray((s > thr).sum(axis=-1), np.int64))


def lstsq(A: Tensor, B: Tensor, rcond=None, *, driver=None):
    """The least-squares solution ``X`` minimizing ``||A X - B||`` per batch, with
    residuals (empty unless tall and full rank), rank and singular values."""
    a = _float_matrix(A, "linalg.lstsq", square=False)
    b = B._a
    vec = b.ndim == a.ndim - 1
    if vec:
        b = b[..., None]
    if b.shape[-2] != a.shape[-2]:
        raise RuntimeError(
            f"linalg.lstsq: input.size(-2) should match other.size(-2), got {a.shape[-2]} "
            f"and {b.shape[-2]}"
        )
    batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    ab = np.broadcast_to(a, batch + a.shape[-2:]).reshape((-1,) + a.shape[-2:])
    bb = np.broadcast_to(b, batch + b.shape[-2:]).reshape((-1,) + b.shape[-2:])
    xs, res, ranks, svs = [], [], [], []
    for i in range(ab.shape[0]):
        x, r, k, sv = np.linalg.lstsq(ab[i], bb[i], rcond=rcond)
        xs.append(x)
        res.append(r)
        ranks.append(k)
        svs.append(sv)
    n, k = a.shape[-1], b.shape[-1]
    X = np.stack(xs).reshape(batch + (n, k)) if xs else np.zeros(batch + (n, k), a.dtype)
    if vec:
        X = X[..., 0]
    full = bool(res) and all(r.size for r in res)
    R = np.stack(res).reshape(batch + (k,)) if full else np.zeros((0,), a.dtype)
    return _lstsq_t(
        _wrap(X),
        _wrap(R.astype(a.dtype)),
        _wrap(_asarray(ranks, np.int64).reshape(batch)),
        _wrap(
            np.stack(svs).reshape(batch + (-1,)).astype(a.dtype)
            if svs
            else np.zeros(batch + (0,), a.dtype)
        ),
    )


_NON_DIFF = {"LinAlgError", "qr", "matrix_rank", "lstsq"}
for _name in __all__:
    if _name == "LinAlgError":
        continue
    register(
        _name,
        globals()[_name],
        "linalg",
        differentiable=_name not in _NON_DIFF,
        methods=(_name,) if _name not in ("vector_norm", "matrix_norm", "lstsq") else (),
    )
__all__.remove("LinAlgError")
