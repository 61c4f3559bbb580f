"""RMSprop: divide the gradient by a running root-mean-square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ember.optim.adam import lerp_
from ember.optim.optimizer import (
    Optimizer,
    check_nonneg,
    param_and_grad,
    real_view,
    scalar_tensor,
    zeros_state,
)

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop (Hinton) as in PyTorch: ``square_avg = alpha * square_avg + (1 - alpha) g^2``;
    centered subtracts the square of a running mean of ``g``; the step is
    ``g / (sqrt(.) + eps)``, through a momentum buffer when ``momentum > 0``.

    State: ``step``, ``square_avg``, ``momentum_buffer`` (momentum > 0), ``grad_avg``
    (centered).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0,
        momentum: float = 0,
        centered: bool = False,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            alpha=alpha,
            eps=eps,
            centered=centered,
            weight_decay=weight_decay,
            capturable=capturable,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
        )
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        check_nonneg(group, "eps", "momentum", "weight_decay", "alpha")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, alpha, eps = float(group["lr"]), group["alpha"], group["eps"]
        wd, momentum, centered = group["weight_decay"], group["momentum"], group["centered"]
        for p, g in self._with_grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = scalar_tensor(0.0)
                state["square_avg"] = zeros_state(p)
                if momentum > 0:
                    state["momentum_buffer"] = zeros_state(p)
                if centered:
                    state["grad_avg"] = zeros_state(p)
            state["step"]._a += 1
            a, g = param_and_grad(p, g, group["maximize"], wd)
            sq = real_view(state["square_avg"]._a)
            sq *= alpha
            sq += (1 - alpha) * g * g
            if centered:
                ga = real_view(state["grad_avg"]._a)
                lerp_(ga, g, 1 - alpha)
                avg = np.sqrt(sq + (-1) * ga * ga)
            else:
                avg = np.sqrt(sq)
            avg += eps
            if momentum > 0:
                buf = real_view(state["momentum_buffer"]._a)
                buf *= momentum
                buf += g / avg
                a += (-lr) * buf
            else:
                a += (-lr) * g / avg
            p._bump()
