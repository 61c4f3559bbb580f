"""Parametrizations built on :mod:`ember.nn.utils.parametrize`: weight normalization,
spectral normalization and orthogonal matrices, with PyTorch's state-dict names
(``parametrizations.weight.original``, ``...original0``/``original1`` for weight
norm, ``...weight.0._u``/``_v`` for spectral norm, ``...weight.0.base`` for
orthogonal with trivialization)."""

from __future__ import annotations

import math

import numpy as np

import ember as E
from ember._tensor import Tensor
from ember.nn.functional import normalize
from ember.nn.modules.module import Module
from ember.nn.utils import parametrize
from ember.nn.utils.weight_norm import norm_except_dim

__all__ = ["weight_norm", "spectral_norm", "orthogonal"]


# ----- weight norm -----
class _WeightNorm(Module):
    """``w = g * v / ||v||``, the norm over every dim but ``dim`` (all when None)."""

    # checkpoints of the older ``weight_norm`` hook hold ``<name>_g`` and ``<name>_v``
    _legacy_suffixes = ("_g", "_v")

    def __init__(self, dim: int | None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, weight_g: Tensor, weight_v: Tensor) -> Tensor:
        return weight_v * (weight_g / norm_except_dim(weight_v, 2, self.dim))

    def right_inverse(self, weight: Tensor) -> tuple[Tensor, Tensor]:
        return norm_except_dim(weight, 2, self.dim), weight


def weight_norm(module: Module, name: str = "weight", dim: int | None = 0) -> Module:
    """Parametrize ``module.<name>`` as ``g * v / ||v||``: ``original0`` is the
    magnitude ``g`` (one per slice along ``dim``; ``dim=None`` or ``-1``: one for the
    whole tensor, as PyTorch), ``original1`` the direction ``v``. State dicts of the
    older :func:`ember.nn.utils.weight_norm` (``<name>_g``, ``<name>_v``) load into
    it too. Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"weight_norm: {type(module).__name__} has no tensor named {name!r}")
    if dim is not None and dim != -1 and not 0 <= dim < weight.dim():
        raise IndexError(
            f"weight_norm: dim {dim} is out of range for {name} of shape {tuple(weight.shape)}"
        )
    parametrize.register_parametrization(
        module, name, _WeightNorm(None if dim in (None, -1) else dim), unsafe=True
    )
    return module


# ----- spectral norm -----
def _as_matrix(weight: Tensor, dim: int) -> Tensor:
    """``weight`` as a matrix with ``dim`` as its rows (PyTorch's layout)."""
    if dim:
        weight = weight.permute(dim, *[d for d in range(weight.dim()) if d != dim])
    return weight.reshape(weight.shape[0], -1)


class _SpectralNorm(Module):
    """``W / sigma(W)``, ``sigma`` estimated by power iteration on buffers ``_u``, ``_v``
    (one or more steps per training-mode call; none in eval mode)."""

    def __init__(
        self, weight: Tensor, n_power_iterations: int = 1, dim: int = 0, eps: float = 1e-12
    ) -> None:
        super().__init__()
        ndim = weight.dim()
        if not -ndim <= dim < max(ndim, 1):
            raise IndexError(
                f"spectral_norm: dim {dim} is out of range for a weight of shape "
                f"{tuple(weight.shape)}"
            )
        if n_power_iterations <= 0:
            raise ValueError(
                "spectral_norm: expected n_power_iterations to be positive, got "
                f"{n_power_iterations}"
            )
        self.dim = dim % ndim if ndim else 0
        self.eps = eps
        self.n_power_iterations = n_power_iterations
        if ndim > 1:
            mat = _as_matrix(weight.detach(), self.dim)
            h, w = mat.shape
            kw = {"dtype": weight.dtype, "device": weight.device}
            self.register_buffer("_u", normalize(E.randn(h, **kw), dim=0, eps=eps))
            self.register_buffer("_v", normalize(E.randn(w, **kw), dim=0, eps=eps))
            self._power_method(mat, 15)

    def _power_method(self, mat: Tensor, n: int) -> None:
        # in place, so the buffers stay the objects a state dict refers to
        with E.no_grad():
            for _ in range(n):
                self._u.copy_(normalize(E.mv(mat, self._v), dim=0, eps=self.eps))
                self._v.copy_(normalize(E.mv(mat.t(), self._u), dim=0, eps=self.eps))

    def forward(self, weight: Tensor) -> Tensor:
        if weight.dim() == 1:
            return normalize(weight, dim=0, eps=self.eps)
        mat = _as_matrix(weight, self.dim)
        if self.training:
            self._power_method(mat.detach(), self.n_power_iterations)
        u, v = self._u.clone(), self._v.clone()
        sigma = E.dot(u, E.mv(mat, v))
        return weight / sigma

    def right_inverse(self, value: Tensor) -> Tensor:
        return value


def _default_dim(module: Module) -> int:
    from ember.nn import modules as M

    transposed = tuple(
        getattr(M, n)
        for n in ("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
        if hasattr(M, n)
    )
    return 1 if isinstance(module, transposed) else 0


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Parametrize ``module.<name>`` as ``W / sigma(W)``, its largest singular value
    estimated by ``n_power_iterations`` power-iteration steps per training-mode
    access (15 at registration). ``W`` is viewed as a matrix with ``dim`` as rows
    (default 0; 1 for ConvTranspose). 1-D weights are divided by their norm.
    Buffers ``parametrizations.<name>.0._u``/``_v`` hold the singular vectors.
    Returns ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"spectral_norm: {type(module).__name__} has no tensor named {name!r}")
    if dim is None:
        dim = _default_dim(module)
    sn = _SpectralNorm(weight, n_power_iterations, dim, eps)
    parametrize.register_parametrization(module, name, sn)
    return module


# ----- orthogonal -----
_MAPS = ("matrix_exp", "cayley", "householder")


def _matrix_exp(a: Tensor) -> Tensor:
    """exp of square ``a`` (..., n, n) in differentiable ember ops: scaling and
    squaring around a degree-18 Taylor polynomial (error below float64's epsilon once
    the scaled norm is at most 1)."""
    n = a.shape[-1]
    norm = float(np.abs(a.detach().numpy()).sum(-2).max()) if a.numel() else 0.0
    s = max(0, math.ceil(math.log2(norm))) if norm > 1 else 0
    x = a / (2.0**s)
    eye = E.eye(n, dtype=a.dtype, device=a.device)
    out, term = eye + x, x
    for k in range(2, 19):
        term = E.matmul(term, x) / k
        out = out + term
    for _ in range(s):
        out = E.matmul(out, out)
    return out


def _householder_product(a: Tensor, tau: Tensor) -> Tensor:
    """``H_0 H_1 ... H_{k-1}`` times the first ``k`` columns of the identity, where
    ``H_i = I - tau_i v_i v_i^T`` and ``v_i`` is column ``i`` of ``a`` below the
    diagonal with a unit diagonal (LAPACK's orgqr), in ember ops."""
    n, k = a.shape[-2], a.shape[-1]
    v = a.tril(-1) + E.eye(n, k, dtype=a.dtype, device=a.device)
    q = E.eye(n, k, dtype=a.dtype, device=a.device).expand(*a.shape[:-2], n, k)
    for i in range(k - 1, -1, -1):
        vi = v[..., :, i : i + 1]
        q = q - (tau[..., i : i + 1].unsqueeze(-1) * vi) * E.matmul(vi.mT, q)
    return q


def _make_orthogonal(a: np.ndarray) -> np.ndarray:
    """The Q of a QR factorization with R's diagonal made positive."""
    q, r = np.linalg.qr(a)
    sign = np.sign(np.diagonal(r, axis1=-2, axis2=-1))
    return q * np.where(sign == 0, 1.0, sign)[..., None, :]


def _geqrf(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """LAPACK's geqrf for one tall matrix (n >= k): R on and above the diagonal,
    reflectors below it, and their ``tau``."""
    a = a.astype(np.float64).copy()
    n, k = a.shape
    tau = np.zeros(k)
    for j in range(k):
        alpha, x = a[j, j], a[j + 1 :, j]
        xnorm = np.linalg.norm(x)
        if xnorm == 0.0:
            continue  # tau 0: no reflection, as LAPACK
        beta = -math.copysign(math.hypot(alpha, xnorm), alpha)
        tau[j] = (beta - alpha) / beta
        a[j + 1 :, j] = x / (alpha - beta)
        a[j, j] = beta
        v = np.concatenate(([1.0], a[j + 1 :, j]))
        a[j:, j + 1 :] -= tau[j] * np.outer(v, v @ a[j:, j + 1 :])
    return a, tau


class _Orthogonal(Module):
    """An orthogonal matrix (columns or rows orthonormal) from an unconstrained one."""

    def __init__(self, weight: Tensor, orthogonal_map: str, use_trivialization: bool) -> None:
        super().__init__()
        self.shape = tuple(weight.shape)
        self.orthogonal_map = orthogonal_map
        if use_trivialization:
            self.register_buffer("base", None)

    def forward(self, x: Tensor) -> Tensor:
        n, k = x.shape[-2], x.shape[-1]
        transposed = n < k
        if transposed:
            x, n, k = x.mT, k, n
        if self.orthogonal_map in ("matrix_exp", "cayley"):
            x = x.tril()
            if n != k:
                x = E.cat([x, E.zeros(*x.shape[:-2], n, n - k, dtype=x.dtype)], -1)
            a = x - x.mT
            if self.orthogonal_map == "matrix_exp":
                q = _matrix_exp(a)
            else:
                eye = E.eye(n, dtype=a.dtype, device=a.device)
                q = E.linalg.solve(eye - 0.5 * a, eye + 0.5 * a)
            q = q[..., :k]
        else:
            a = x.tril(-1)
            tau = 2.0 / (1.0 + (a * a).sum(-2))
            q = _householder_product(a, tau)
            q = q * E.trunc(x.detach().diagonal(dim1=-2, dim2=-1)).unsqueeze(-2)
        if "base" in self._buffers:
            q = E.matmul(self.base, q)
        return q.mT if transposed else q

    def right_inverse(self, q: Tensor) -> Tensor:
        if tuple(q.shape) != self.shape:
            raise ValueError(
                f"orthogonal: expected a matrix of shape {self.shape}, got {tuple(q.shape)}"
            )
        q0 = q
        n, k = q.shape[-2], q.shape[-1]
        transpose = n < k
        if transpose:
            q, n, k = q.mT, k, n
        qa = q.detach().numpy().astype(np.float64)
        dt = E._dtype.to_numpy_dtype(q0.dtype)
        if "base" not in self._buffers:
            if self.orthogonal_map != "householder":
                raise NotImplementedError(
                    "orthogonal: assigning to the matrix_exp or cayley parametrizations is "
                    "not possible with use_trivialization=False"
                )
            flat = qa.reshape(-1, n, k)
            out = np.empty_like(flat)
            for i, m in enumerate(flat):
                r, tau = _geqrf(m)
                d = np.sign(np.diagonal(r)).copy()
                d[tau == 0.0] *= -1  # a skipped reflection flips the stored sign
                np.fill_diagonal(r, d)
                out[i] = r
            a = E.from_numpy(out.reshape(qa.shape).astype(dt))
            return a.mT if transpose else a
        if n == k:
            eye = np.eye(k)
            tol = 10 * n * np.finfo(dt).eps
            ok = np.allclose(np.swapaxes(qa, -1, -2) @ qa, eye, atol=tol)
            base = qa.copy() if ok else _make_orthogonal(qa)
        else:
            extra = E.randn(*qa.shape[:-2], n, n - k, dtype=E.float64).numpy()
            base = _make_orthogonal(np.concatenate([qa, extra], -1))
        self.base = E.from_numpy(base.astype(dt))
        neg_eye = np.zeros(q0.shape, dt)
        idx = np.arange(min(q0.shape[-2:]))
        neg_eye[..., idx, idx] = -1.0
        return E.from_numpy(neg_eye)


def orthogonal(
    module: Module,
    name: str = "weight",
    orthogonal_map: str | None = None,
    *,
    use_trivialization: bool = True,
) -> Module:
    """Parametrize the matrix (or batch of matrices) ``module.<name>`` to stay
    orthogonal: ``Q^T Q = I`` for a tall ``Q``, ``Q Q^T = I`` for a wide one.

    ``orthogonal_map``: 'matrix_exp' (exp of a skew-symmetric matrix; the default
    for square matrices), 'cayley' ((I - A/2)^-1 (I + A/2)) or 'householder' (a
    product of reflectors; the default otherwise). With ``use_trivialization`` the
    map is taken around the orthogonal buffer ``base`` (``...<name>.0.base``),
    which registration and assignment set from the current value. Returns
    ``module``."""
    weight = getattr(module, name, None)
    if not isinstance(weight, Tensor):
        raise ValueError(f"orthogonal: {type(module).__name__} has no tensor named {name!r}")
    if weight.dim() < 2:
        raise ValueError(
            f"orthogonal: expected a matrix or batch of matrices, got a tensor of "
            f"{weight.dim()} dimensions"
        )
    if orthogonal_map is None:
        square = weight.shape[-1] == weight.shape[-2]
        orthogonal_map = "matrix_exp" if square or weight.is_complex() else "householder"
    if orthogonal_map not in _MAPS:
        raise ValueError(
            f"orthogonal: orthogonal_map must be one of {_MAPS}, got {orthogonal_map!r}"
        )
    orth = _Orthogonal(weight, orthogonal_map, use_trivialization)
    parametrize.register_parametrization(module, name, orth, unsafe=True)
    return module
