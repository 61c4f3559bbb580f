"""Rprop: per-coordinate step sizes that grow while the gradient keeps its sign."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ember.optim.optimizer import (
    Optimizer,
    full_state,
    param_and_grad,
    real_view,
    scalar_tensor,
    zeros_state,
)

__all__ = ["Rprop"]


class Rprop(Optimizer):
    """Resilient backpropagation as in PyTorch: where ``g * prev > 0`` the step size grows
    by ``etas[1]``, where ``< 0`` it shrinks by ``etas[0]`` and that coordinate's gradient
    is zeroed for the step; sizes are clamped to ``step_sizes``; ``p -= sign(g) * size``.

    State: ``step``, ``prev`` (the last gradient used), ``step_size``.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        etas: tuple[float, float] = (0.5, 1.2),
        step_sizes: tuple[float, float] = (1e-6, 50),
        *,
        capturable: bool = False,
        foreach: bool | None = None,
        maximize: bool = False,
        differentiable: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            etas=tuple(etas),
            step_sizes=tuple(step_sizes),
            foreach=foreach,
            maximize=maximize,
            differentiable=differentiable,
            capturable=capturable,
        )
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        if "etas" in group:
            etaminus, etaplus = group["etas"]
            if not 0.0 < etaminus < 1.0 < etaplus:
                raise ValueError(f"Invalid eta values: {etaminus}, {etaplus}")

    def _update_group(self, group: dict[str, Any]) -> None:
        etaminus, etaplus = group["etas"]
        smin, smax = group["step_sizes"]
        for p, g in self._with_grads(group):
            state = self.state[p]
            if len(state) == 0:
                state["step"] = scalar_tensor(0.0)
                state["prev"] = zeros_state(p)
                state["step_size"] = full_state(p, group["lr"])
            state["step"]._a += 1
            a, g = param_and_grad(p, g, group["maximize"], 0)
            prev, size = real_view(state["prev"]._a), real_view(state["step_size"]._a)
            prod = g * prev
            factor = np.ones_like(size)
            factor[prod > 0] = etaplus
            shrink = prod < 0
            factor[shrink] = etaminus
            size *= factor
            np.clip(size, smin, smax, out=size)
            g = g.copy()
            g[shrink] = 0
            a += (-1) * np.sign(g) * size
            prev[...] = g
            p._bump()
