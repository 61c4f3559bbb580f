"""The Adam family: Adam, AdamW, Adamax, NAdam, RAdam.

Each follows PyTorch's single-tensor update operation by operation (lerp for the first
moment, mul + addcmul for the second, Python-float bias corrections), so trajectories
match PyTorch's. Adam and AdamW on float32/float64 contiguous tensors take one fused C
pass per group (``ember._optim_kernels.adam_step_multi``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ember import _optim_kernels as _k
from ember.optim.optimizer import (
    Optimizer,
    check_betas,
    check_nonneg,
    param_and_grad,
    real_view,
    scalar_tensor,
    zeros_state,
)

__all__ = ["Adam", "AdamW", "Adamax", "NAdam", "RAdam"]


def lerp_(m: np.ndarray, g: np.ndarray, w: float) -> None:
    """``m.lerp_(g, w)`` with PyTorch's two-sided formula (it matters in the last ulp)."""
    if abs(w) < 0.5:
        m += w * (g - m)
    else:
        m[...] = g - (g - m) * (1 - w)


def _step(state: dict, p, tensors: tuple[str, ...], **scalars: float) -> float:
    """Counts a step of parameter ``p`` and returns the new count. The first step creates
    the state: ``step``, then the 0-d float32 ``scalars``, then zero ``tensors`` shaped
    like ``p`` (PyTorch's key order)."""
    if len(state) == 0:
        state["step"] = scalar_tensor(0.0)
        for k, v in scalars.items():
            state[k] = scalar_tensor(v)
        for k in tensors:
            state[k] = zeros_state(p)
    st = state["step"]
    st._a += 1
    return float(st._a)


def _moments_(m: np.ndarray, v: np.ndarray, g: np.ndarray, beta1: float, beta2: float) -> None:
    """The first- and second-moment updates the Adam variants share, as PyTorch does them
    (``lerp_``, then ``mul_`` + ``addcmul_``)."""
    lerp_(m, g, 1 - beta1)
    v *= beta2
    v += (1 - beta2) * g * g


class _AdamBase(Optimizer):
    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        check_nonneg(group, "eps")
        if "betas" in group:
            check_betas(group["betas"])
        check_nonneg(group, "weight_decay")


class Adam(_AdamBase):
    """Adam (Kingma & Ba), with AMSGrad, maximize and L2 (or, with
    ``decoupled_weight_decay=True``, AdamW's decoupled) weight decay.

    State per parameter: ``step`` (0-d float32), ``exp_avg``, ``exp_avg_sq`` and, with
    amsgrad, ``max_exp_avg_sq``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        eps, wd, amsgrad = group["eps"], group["weight_decay"], group["amsgrad"]
        maximize, decoupled = group["maximize"], group["decoupled_weight_decay"]
        fp, fg, fm, fv, fx, fs, ft = [], [], [], [], [], [], []
        keys = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if amsgrad else ())
        for p, g in self._with_grads(group):
            state = self.state[p]
            step = _step(state, p, keys)
            m, v = real_view(state["exp_avg"]._a), real_view(state["exp_avg_sq"]._a)
            vmax = real_view(state["max_exp_avg_sq"]._a) if amsgrad else None
            a, gr = real_view(p._a), real_view(g)
            if _k.fusable(a, gr, m, v, vmax):
                for lst, x in zip((fp, fg, fm, fv, fx, fs, ft), (a, gr, m, v, vmax, step, p)):
                    lst.append(x)
                continue
            a, gr = param_and_grad(p, g, maximize, wd, decoupled, lr)
            _moments_(m, v, gr, beta1, beta2)
            bc1 = 1 - beta1**step
            bc2_sqrt = (1 - beta2**step) ** 0.5
            if amsgrad:
                np.maximum(vmax, v, out=vmax)
                v = vmax
            denom = np.sqrt(v) / bc2_sqrt
            denom += eps
            a += (-(lr / bc1)) * m / denom
            p._bump()
        if fp:
            _k.adam_step_multi(
                fp,
                fg,
                fm,
                fv,
                fx if amsgrad else None,
                fs,
                lr=lr,
                beta1=beta1,
                beta2=beta2,
                eps=eps,
                weight_decay=wd,
                amsgrad=amsgrad,
                maximize=maximize,
                decoupled=decoupled,
            )
            for p in ft:
                p._bump()


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): ``p *= 1 - lr * wd``
    before the Adam update. Default ``weight_decay=1e-2``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            foreach=foreach,
            maximize=maximize,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )


class Adamax(_AdamBase):
    """Adamax (Adam with the infinity norm). State: ``step``, ``exp_avg``, ``exp_inf``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        eps, wd = group["eps"], group["weight_decay"]
        for p, g in self._with_grads(group):
            state = self.state[p]
            step = _step(state, p, ("exp_avg", "exp_inf"))
            a, g = param_and_grad(p, g, group["maximize"], wd, False, lr)
            m, u = real_view(state["exp_avg"]._a), real_view(state["exp_inf"]._a)
            lerp_(m, g, 1 - beta1)
            u *= beta2
            np.maximum(u, np.abs(g) + eps, out=u)
            clr = lr / (1 - beta1**step)
            a += (-clr) * m / u
            p._bump()


class NAdam(_AdamBase):
    """NAdam (Adam with Nesterov momentum, Dozat), with ``momentum_decay`` and optional
    decoupled weight decay. State: ``step``, ``mu_product`` (0-d float32), ``exp_avg``,
    ``exp_avg_sq``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 2e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum_decay: float = 4e-3,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            momentum_decay=momentum_decay,
            decoupled_weight_decay=decoupled_weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        check_nonneg(group, "momentum_decay")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        eps, wd, md = group["eps"], group["weight_decay"], group["momentum_decay"]
        for p, g in self._with_grads(group):
            state = self.state[p]
            step = _step(state, p, ("exp_avg", "exp_avg_sq"), mu_product=1.0)
            bc2 = 1 - beta2**step
            a, g = param_and_grad(p, g, group["maximize"], wd, group["decoupled_weight_decay"], lr)
            mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * md)))
            mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * md)))
            # mu_product is a float32 tensor in PyTorch: keep its rounding
            mp = state["mu_product"]._a
            mp *= mu
            mu_product = float(mp)
            m, v = real_view(state["exp_avg"]._a), real_view(state["exp_avg_sq"]._a)
            _moments_(m, v, g, beta1, beta2)
            denom = np.sqrt(v / bc2)
            denom += eps
            a += (-lr * (1.0 - mu) / (1.0 - mu_product)) * g / denom
            a += ((-lr * mu_next) / (1.0 - mu_product * mu_next)) * m / denom
            p._bump()


class RAdam(_AdamBase):
    """RAdam (rectified Adam, Liu et al.): plain momentum SGD while the variance estimate
    is unreliable (rho_t <= 5), rectified Adam after. State: ``step``, ``exp_avg``,
    ``exp_avg_sq``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        decoupled_weight_decay: bool = False,
        *,
        foreach: bool | None = None,
        maximize: bool = False,
        capturable: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            betas=tuple(betas),
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            decoupled_weight_decay=decoupled_weight_decay,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        lr = float(group["lr"])
        beta1, beta2 = group["betas"]
        eps, wd = group["eps"], group["weight_decay"]
        rho_inf = 2 / (1 - beta2) - 1
        for p, g in self._with_grads(group):
            state = self.state[p]
            step = _step(state, p, ("exp_avg", "exp_avg_sq"))
            a, g = param_and_grad(p, g, group["maximize"], wd, group["decoupled_weight_decay"], lr)
            m, v = real_view(state["exp_avg"]._a), real_view(state["exp_avg_sq"]._a)
            _moments_(m, v, g, beta1, beta2)
            bc1 = 1 - beta1**step
            bc2 = 1 - beta2**step
            corrected = m / bc1
            rho_t = rho_inf - 2 * step * (beta2**step) / bc2
            if rho_t > 5.0:
                rect = (
                    (rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)
                ) ** 0.5
                root = np.sqrt(v)
                root += eps
                adaptive = (bc2**0.5) / root
                a -= corrected * lr * adaptive * rect
            else:
                a -= corrected * lr
            p._bump()
