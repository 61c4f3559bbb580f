"""``ember.linalg``: PyTorch's ``torch.linalg`` namespace.

Functions follow ``torch.linalg``'s conventions where they differ from the
top-level ones: :func:`svd` returns ``Vh`` (not ``V``), :func:`cholesky` takes
``upper=``, :func:`cross` defaults to the last dim, :func:`norm` dispatches to
vector or matrix norms. Failures raise :class:`LinAlgError`.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ember._ops import linalg as _lin
from ember._ops import linalg_ext as _ext
from ember._ops import linalg_struct as _struct
from ember._ops import shape as _s
from ember._ops._dispatch import cpu_only
from ember._registry import register
from ember._tensor import Tensor, _wrap

__all__ = [
    "LinAlgError",
    "inv",
    "inv_ex",
    "det",
    "slogdet",
    "solve",
    "cholesky",
    "cholesky_ex",
    "qr",
    "svd",
    "svdvals",
    "eigh",
    "eigvalsh",
    "norm",
    "vector_norm",
    "matrix_norm",
    "matrix_rank",
    "pinv",
    "lstsq",
    "matrix_power",
    "cross",
    "diagonal",
    "multi_dot",
    "vecdot",
    "matmul",
]

LinAlgError = _ext.LinAlgError
_inv_ex_t = namedtuple("inv_ex", ["inverse", "info"])
_cholesky_ex_t = namedtuple("cholesky_ex", ["L", "info"])

svdvals = _ext.svdvals
eigh = _ext.eigh
eigvalsh = _ext.eigvalsh
vector_norm = _ext.vector_norm
matrix_norm = _ext.matrix_norm
matrix_rank = _ext.matrix_rank
lstsq = _ext.lstsq
matrix_power = _ext.matrix_power
det = _ext.det
slogdet = _ext.slogdet
solve = _ext.solve
matmul = _lin.matmul


def inv(A: Tensor) -> Tensor:
    """The inverse of each square matrix; :class:`LinAlgError` when one is singular."""
    return _ext.inverse(A)


def inv_ex(A: Tensor, *, check_errors: bool = False):
    """``(inverse, info)`` without raising for singular input: ``info`` is 0 where the
    inversion succeeded and nonzero where the matrix is singular (inverse NaN there)."""
    cpu_only("linalg.inv_ex", A)  # per-matrix error capture: numpy's LinAlgError
    a = _ext._float_matrix(A, "linalg.inv_ex")
    batch = a.reshape((-1,) + a.shape[-2:])
    out = np.full(batch.shape, np.nan, a.dtype)
    info = np.zeros(batch.shape[0], np.int32)
    for i, m in enumerate(batch):
        try:
            out[i] = np.linalg.inv(m)
        except np.linalg.LinAlgError:
            info[i] = 1
    if check_errors and info.any():
        raise _ext._singular("linalg.inv_ex")
    return _inv_ex_t(_wrap(out.reshape(a.shape)), _wrap(info.reshape(a.shape[:-2])))


def cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """The Cholesky factor (lower, or upper with ``upper=True``); LinAlgError when a
    matrix is not positive definite."""
    return _ext.cholesky(A, upper)


def cholesky_ex(A: Tensor, *, upper: bool = False, check_errors: bool = False):
    """``(L, info)`` without raising: ``info`` is nonzero where ``A`` is not positive
    definite (``L`` is NaN there)."""
    cpu_only("linalg.cholesky_ex", A)
    a = _ext._float_matrix(A, "linalg.cholesky_ex")
    batch = a.reshape((-1,) + a.shape[-2:])
    out = np.full(batch.shape, np.nan, a.dtype)
    info = np.zeros(batch.shape[0], np.int32)
    for i, m in enumerate(batch):
        try:
            out[i] = np.linalg.cholesky(m)
        except np.linalg.LinAlgError:
            info[i] = 1
    if check_errors and info.any():
        raise LinAlgError("linalg.cholesky_ex: the input is not positive-definite")
    L = out.reshape(a.shape)
    if upper:
        L = np.swapaxes(L, -1, -2).copy()
    return _cholesky_ex_t(_wrap(L), _wrap(info.reshape(a.shape[:-2])))


def qr(A: Tensor, mode: str = "reduced"):
    """``(Q, R)`` with ``mode`` ``'reduced'`` or ``'complete'`` (``'r'``: Q is empty)."""
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(
            f"qr received unrecognized mode '{mode}' but expected one of "
            "'reduced' (default), 'r', or 'complete'"
        )
    q, r = _ext.qr(A, some=mode != "complete")
    if mode == "r":
        q = _wrap(np.zeros((0,), A._a.dtype, like=A._a))
    return _ext._qr_t(q, r)


def svd(A: Tensor, full_matrices: bool = True, *, driver=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``."""
    return _ext._linalg_svd_t(*_ext._svd_reduced(A, full_matrices, "linalg.svd"))


def norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """A vector norm (1-D ``dim``, or ``ord`` None over the flattened input) or a matrix
    norm (2-D input or a pair of ``dim``), as ``torch.linalg.norm``."""
    if dim is not None and not isinstance(dim, int) and len(dim) == 2:
        return _ext.matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if dim is None and ord is not None and A.dim() == 2:
        return _ext.matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    if dim is None and ord is not None and A.dim() != 1:
        raise RuntimeError(
            f"linalg.norm: If dim is not specified but ord is, the input must "
            f"be 1D or 2D. Got {A.dim()}D."
        )
    return _ext.vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype)


def pinv(A: Tensor, *, atol=None, rtol=None, hermitian: bool = False) -> Tensor:
    """The Moore-Penrose pseudo-inverse (see :func:`ember.pinverse`)."""
    return _ext.pinverse(A, 1e-15, atol=atol, rtol=rtol, hermitian=hermitian)


def cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The 3-D cross product along ``dim`` (default: the last), with broadcasting."""
    return _struct.cross(input, other, dim)


def diagonal(A: Tensor, *, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """A view of the diagonals of the matrices in the last two dims."""
    return _struct.diagonal(A, offset, dim1, dim2)


def multi_dot(tensors) -> Tensor:
    """The product of a chain of matrices (first and last may be 1-D vectors)."""
    ts = list(tensors)
    if len(ts) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(ts)}")
    first_vec, last_vec = ts[0].dim() == 1, ts[-1].dim() == 1
    if first_vec:
        ts[0] = _s.unsqueeze(ts[0], 0)
    if last_vec:
        ts[-1] = _s.unsqueeze(ts[-1], 1)
    for t in ts:
        if t.dim() != 2:
            raise RuntimeError(
                f"multi_dot(): tensors must be 2-D (ends may be 1-D), got {t.dim()}-D"
            )
    r = _struct.chain_matmul(*ts)
    if first_vec:
        r = _s.squeeze(r, 0)
    if last_vec:
        r = _s.squeeze(r, -1)
    return r


def vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """``sum(conj(x) * y)`` along ``dim``, with broadcasting."""
    from ember._ops.reduce import sum as _sum

    xc = x.conj() if x.is_complex() else x
    return _sum(xc * y, dim)


for _name in __all__:
    if _name in ("LinAlgError", "matmul"):
        continue
    register(
        f"linalg.{_name}",
        globals()[_name],
        "linalg",
        differentiable=_name not in ("inv_ex", "cholesky_ex", "qr", "matrix_rank", "lstsq"),
    )
