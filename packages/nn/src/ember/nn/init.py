"""Parameter initializers (``ember.nn.init``), in place and without recording
gradients, drawing from ember's generator (``ember.manual_seed``). Formulas and
defaults follow PyTorch's, so default layer initializations have the same
distributions."""

from __future__ import annotations

import math

import numpy as np

import ember as E
from ember._tensor import Tensor, _wrap

__all__ = [
    "calculate_gain",
    "uniform_",
    "normal_",
    "constant_",
    "ones_",
    "zeros_",
    "eye_",
    "dirac_",
    "xavier_uniform_",
    "xavier_normal_",
    "kaiming_uniform_",
    "kaiming_normal_",
    "orthogonal_",
    "trunc_normal_",
    "sparse_",
]


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``'relu'`` -> sqrt(2), ...)."""
    linear = (
        "linear",
        "conv1d",
        "conv2d",
        "conv3d",
        "conv_transpose1d",
        "conv_transpose2d",
        "conv_transpose3d",
        "sigmoid",
    )
    if nonlinearity in linear:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, int | float) and not isinstance(param, bool):
            slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _fans(t: Tensor) -> tuple[int, int]:
    if t.dim() < 2:
        raise ValueError(
            f"Fan in and fan out can not be computed for tensor with fewer than 2 dimensions "
            f"(got shape {tuple(t.shape)})"
        )
    rf = 1
    for s in t.shape[2:]:
        rf *= s
    return t.shape[1] * rf, t.shape[0] * rf


def _fan(t: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fi, fo = _fans(t)
    return fi if mode == "fan_in" else fo


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b)."""
    # fill through a detached view (same storage and version counter)
    with E.no_grad():
        tensor.detach().uniform_(a, b, generator=generator)
    return tensor


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2)."""
    with E.no_grad():
        tensor.detach().normal_(mean, std, generator=generator)
    return tensor


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    with E.no_grad():
        return tensor.fill_(val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones."""
    return constant_(tensor, 1.0)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros."""
    return constant_(tensor, 0.0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix."""
    if tensor.dim() != 2:
        raise ValueError(f"eye_: only 2-D tensors are supported, got shape {tuple(tensor.shape)}")
    with E.no_grad():
        return tensor.copy_(E.eye(*tensor.shape, dtype=tensor.dtype))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3/4/5-D conv weight so the convolution is the identity (per group)."""
    if tensor.dim() not in (3, 4, 5):
        raise ValueError("dirac_: only 3, 4 and 5-D tensors are supported")
    out = tensor.shape[0]
    if out % groups:
        raise ValueError("dirac_: dim 0 must be divisible by groups")
    per = out // groups
    a = np.zeros(tuple(tensor.shape), tensor.numpy(force=True).dtype)
    centre = tuple(s // 2 for s in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per, tensor.shape[1])):
            a[(g * per + d, d) + centre] = 1
    with E.no_grad():
        return tensor.copy_(_wrap(a))


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)) (Glorot)."""
    fi, fo = _fans(tensor)
    a = gain * math.sqrt(6.0 / float(fi + fo))
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fi, fo = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fi + fo)), generator)


def kaiming_uniform_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """U(-b, b) with b = gain * sqrt(3 / fan) (He). Linear and conv layers use
    ``a=sqrt(5)`` by default, which gives b = 1 / sqrt(fan_in)."""
    if 0 in tuple(tensor.shape):
        return tensor
    fan = _fan(tensor, mode)
    bound = calculate_gain(nonlinearity, a) * math.sqrt(3.0 / fan)
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(
    tensor: Tensor,
    a: float = 0.0,
    mode: str = "fan_in",
    nonlinearity: str = "leaky_relu",
    generator=None,
) -> Tensor:
    """N(0, std^2) with std = gain / sqrt(fan) (He)."""
    if 0 in tuple(tensor.shape):
        return tensor
    fan = _fan(tensor, mode)
    return normal_(tensor, 0.0, calculate_gain(nonlinearity, a) / math.sqrt(fan), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix from the QR decomposition of a Gaussian one, with
    trailing dims flattened, scaled by ``gain``."""
    if tensor.dim() < 2:
        raise ValueError("orthogonal_: only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = E.randn(rows, cols, dtype=E.float64, generator=generator).numpy()
    if rows < cols:
        flat = flat.T
    q, r = np.linalg.qr(flat)
    q *= np.sign(np.diag(r))  # make the decomposition unique
    if rows < cols:
        q = q.T
    with E.no_grad():
        return tensor.copy_(_wrap((gain * q).reshape(tuple(tensor.shape))))


def trunc_normal_(
    tensor: Tensor,
    mean: float = 0.0,
    std: float = 1.0,
    a: float = -2.0,
    b: float = 2.0,
    generator=None,
) -> Tensor:
    """N(mean, std^2) truncated to [a, b].

    When most of the normal's mass lies in [a, b] (the usual ``std=0.02, a=-2, b=2``
    cases accept ~100%), normal draws outside the interval are redrawn until none
    are left: an exact sample at the cost of ~one normal draw per element. Narrow or
    far-off intervals use inverse-CDF sampling (uniform draws through erfinv), which
    needs no loop but costs ~20 times more per element."""
    if std <= 0 or a >= b:
        raise ValueError(f"trunc_normal_: need std > 0 and a < b, got std={std}, [{a}, {b}]")

    def cdf(x):
        return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0

    lo, hi = cdf((a - mean) / std), cdf((b - mean) / std)
    if hi - lo >= 0.5:
        with E.no_grad():
            return tensor.copy_(_trunc_normal_by_rejection(tensor, mean, std, a, b, generator))
    with E.no_grad():
        u = E.empty(tuple(tensor.shape), dtype=E.float64).uniform_(
            2 * lo - 1, 2 * hi - 1, generator=generator
        )
        x = E.erfinv(u) if hasattr(E, "erfinv") else _wrap(_erfinv(u.numpy()))
        x = x * (std * math.sqrt(2.0)) + mean
        x = E.clamp(x, a, b)
        return tensor.copy_(x)


def _trunc_normal_by_rejection(tensor: Tensor, mean, std, a, b, generator) -> Tensor:
    x = E.empty(tuple(tensor.shape), dtype=E.float64, device=tensor.device)
    x.normal_(mean, std, generator=generator)
    flat = x.reshape(-1)
    bad = ((flat < a) | (flat > b)).nonzero().reshape(-1)
    while bad.numel():  # acceptance >= 1/2: the expected number of rounds is small
        redraw = E.empty((bad.numel(),), dtype=E.float64, device=tensor.device)
        redraw.normal_(mean, std, generator=generator)
        flat[bad] = redraw
        bad = bad[(redraw < a) | (redraw > b)]
    return x


def _erfinv(y: np.ndarray) -> np.ndarray:
    # Giles' single-precision approximation, refined by two Newton steps on erf
    w = -np.log((1.0 - y) * (1.0 + y))
    small = w < 5.0
    ws = w - 2.5
    wl = np.sqrt(np.where(small, 5.0, w)) - 3.0
    p_s = np.polyval(
        [
            2.81022636e-08,
            3.43273939e-07,
            -3.5233877e-06,
            -4.39150654e-06,
            0.00021858087,
            -0.00125372503,
            -0.00417768164,
            0.246640727,
            1.50140941,
        ],
        ws,
    )
    p_l = np.polyval(
        [
            -0.000200214257,
            0.000100950558,
            0.00134934322,
            -0.00367342844,
            0.00573950773,
            -0.0076224613,
            0.00943887047,
            1.00167406,
            2.83297682,
        ],
        wl,
    )
    x = np.where(small, p_s, p_l) * y
    from math import erf as _erf

    verf = np.vectorize(_erf)
    for _ in range(2):
        x = x - (verf(x) - y) / (2.0 / math.sqrt(math.pi) * np.exp(-x * x))
    return x


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """A 2-D tensor with N(0, std^2) entries and a ``sparsity`` fraction of each column zero."""
    if tensor.dim() != 2:
        raise ValueError("sparse_: only 2-D tensors are supported")
    rows, cols = tensor.shape
    zeros = int(math.ceil(sparsity * rows))
    normal_(tensor, 0.0, std, generator)
    with E.no_grad():
        a = tensor.numpy(force=True)
        for c in range(cols):
            perm = E.randperm(rows, generator=generator).numpy()
            a[perm[:zeros], c] = 0
        tensor._bump()
    return tensor
