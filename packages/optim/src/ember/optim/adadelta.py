"""Adadelta: step sizes from running averages of squared gradients and squared updates."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ember.optim.optimizer import (
    Optimizer,
    check_nonneg,
    param_and_grad,
    real_view,
    scalar_tensor,
    zeros_state,
)

__all__ = ["Adadelta"]


class Adadelta(Optimizer):
    """Adadelta (Zeiler) as in PyTorch: ``square_avg = rho sa + (1 - rho) g^2``,
    ``delta = sqrt(acc_delta + eps) / sqrt(square_avg + eps) * g``,
    ``acc_delta = rho ad + (1 - rho) delta^2``, ``p -= lr * delta``.

    State: ``step``, ``square_avg``, ``acc_delta``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1.0,
        rho: float = 0.9,
        eps: float = 1e-6,
        weight_decay: float = 0,
        foreach: bool | None = None,
        *,
        capturable: bool = False,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            rho=rho,
            eps=eps,
            weight_decay=weight_decay,
            maximize=maximize,
            capturable=capturable,
            foreach=foreach,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        if "rho" in group and not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Invalid rho value: {group['rho']}")
        check_nonneg(group, "eps", "weight_decay")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, rho, eps, wd = float(group["lr"]), group["rho"], group["eps"], group["weight_decay"]
        for p, g in self._with_grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = scalar_tensor(0.0)
                state["square_avg"] = zeros_state(p)
                state["acc_delta"] = zeros_state(p)
            state["step"]._a += 1
            a, g = param_and_grad(p, g, group["maximize"], wd)
            sq, acc = real_view(state["square_avg"]._a), real_view(state["acc_delta"]._a)
            sq *= rho
            sq += (1 - rho) * g * g
            std = np.sqrt(sq + eps)
            delta = np.sqrt(acc + eps)
            delta /= std
            delta *= g
            acc *= rho
            acc += (1 - rho) * delta * delta
            a += (-lr) * delta
            p._bump()
