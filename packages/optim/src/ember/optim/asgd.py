"""ASGD: SGD with Polyak-Ruppert iterate averaging (Polyak & Juditsky)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember.optim.optimizer import (
    Optimizer,
    check_nonneg,
    param_and_grad,
    real_view,
    scalar_tensor,
    zeros_state,
)

__all__ = ["ASGD"]


class ASGD(Optimizer):
    """Averaged SGD as in PyTorch: ``p *= 1 - lambd * eta; p -= eta * g``; the average
    ``ax`` follows ``p`` (exactly until step ``t0``, then as a running mean with weight
    ``mu``); ``eta = lr / (1 + lambd * lr * step) ** alpha``, ``mu = 1 / max(1, step - t0)``.

    State: ``step``, ``eta`` and ``mu`` (0-d float32, as PyTorch), ``ax``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lambd: float = 1e-4,
        alpha: float = 0.75,
        t0: float = 1e6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
        capturable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            lambd=lambd,
            alpha=alpha,
            t0=t0,
            weight_decay=weight_decay,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        check_nonneg(group, "weight_decay")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lambd, alpha = float(group["lr"]), group["lambd"], group["alpha"]
        t0, wd = group["t0"], group["weight_decay"]
        for p, g in self._with_grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = scalar_tensor(0.0)
                state["eta"] = scalar_tensor(lr)
                state["mu"] = scalar_tensor(1.0)
                state["ax"] = zeros_state(p)
            st = state["step"]._a
            st += 1
            a, g = param_and_grad(p, g, group["maximize"], wd)
            eta = float(state["eta"]._a)  # float32-rounded, as PyTorch reads it
            a *= 1 - lambd * eta
            a += (-eta) * g
            ax, mu = real_view(state["ax"]._a), state["mu"]._a
            if float(mu) != 1:
                ax += (a - ax) * mu[()]  # a scalar: CuPy takes no host array operand
            else:
                ax[...] = a
            step = float(st)
            state["eta"]._a[...] = lr / ((1 + lambd * lr * step) ** alpha)
            state["mu"]._a[...] = 1 / max(1, step - t0)
            p._bump()
