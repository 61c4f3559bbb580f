"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ember.optim.optimizer import (
    Optimizer,
    check_nonneg,
    full_state,
    param_and_grad,
    real_view,
    scalar_tensor,
)

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.) as in PyTorch: ``clr = lr / (1 + (step - 1) * lr_decay)``,
    ``sum += g * g``, ``p -= clr * g / (sqrt(sum) + eps)``.

    State (created at construction, as PyTorch does): ``step`` (0-d float32) and ``sum``
    (filled with ``initial_accumulator_value``).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0,
        weight_decay: float = 0,
        initial_accumulator_value: float = 0,
        eps: float = 1e-10,
        foreach: bool | None = None,
        *,
        maximize: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            lr_decay=lr_decay,
            eps=eps,
            weight_decay=weight_decay,
            initial_accumulator_value=initial_accumulator_value,
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p, group)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        check_nonneg(group, "lr_decay", "weight_decay", "initial_accumulator_value", "eps")

    def _init_state(self, p, group: dict[str, Any]) -> dict:
        state = self.state[p]
        if len(state) == 0:
            state["step"] = scalar_tensor(0.0)
            init = group["initial_accumulator_value"]
            state["sum"] = full_state(p, init)
        return state

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, lr_decay = float(group["lr"]), group["lr_decay"]
        eps, wd = group["eps"], group["weight_decay"]
        for p, g in self._with_grads(group):
            state = self._init_state(p, group)
            st = state["step"]._a
            st += 1
            step = float(st)
            a, g = param_and_grad(p, g, group["maximize"], wd)
            clr = lr / (1 + (step - 1) * lr_decay)
            s = real_view(state["sum"]._a)
            s += g * g
            std = np.sqrt(s)
            std += eps
            a += (-clr) * g / std
            p._bump()
