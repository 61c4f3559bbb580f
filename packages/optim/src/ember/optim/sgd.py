"""Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ember import _optim_kernels as _k
from ember.optim.optimizer import Optimizer, check_nonneg, real_view, zeros_state

__all__ = ["SGD"]


class SGD(Optimizer):
    """SGD as in PyTorch: with ``g`` the gradient (negated when ``maximize``),
    ``g += weight_decay * p``; with momentum ``buf = momentum * buf + (1 - dampening) * g``
    (``buf = g`` on the first step) and ``g = g + momentum * buf`` (Nesterov) or
    ``g = buf``; then ``p -= lr * g``. State: ``momentum_buffer`` (only when momentum != 0).

    float32/float64 contiguous parameters go through one fused pass per group (a C pass
    on the CPU, one CUDA launch on a GPU: ``ember._optim_kernels.sgd_step_multi``);
    anything else through numpy's ufuncs (CuPy's on CUDA).
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        super().__init__(params, defaults)

    def _check_options(self, group: dict[str, Any]) -> None:
        super()._check_options(group)
        check_nonneg(group, "momentum", "weight_decay")
        if group.get("nesterov") and (
            group.get("momentum", 0) <= 0 or group.get("dampening", 0) != 0
        ):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, momentum = float(group["lr"]), group["momentum"]
        dampening, wd = group["dampening"], group["weight_decay"]
        nesterov, maximize = group["nesterov"], group["maximize"]
        fused_p, fused_g, fused_b, fused_init, fused_t = [], [], [], [], []
        for p, g in self._with_grads(group):
            a = real_view(p._a)
            g = real_view(g)
            buf = None
            if momentum != 0:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                init = buf is None
                if init:
                    buf = state["momentum_buffer"] = zeros_state(p)
                barr = real_view(buf._a)
            else:
                init, barr = False, None
            if _k.fusable(a, g, barr):
                fused_p.append(a)
                fused_g.append(g)
                fused_b.append(barr)
                fused_init.append(init)
                fused_t.append(p)
            else:
                _sgd_numpy(a, g, barr, init, lr, momentum, dampening, wd, nesterov, maximize)
                p._bump()
        if fused_p:
            mom = momentum != 0
            _k.sgd_step_multi(
                fused_p,
                fused_g,
                fused_b if mom else None,
                fused_init if mom else None,
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=wd,
                nesterov=nesterov,
                maximize=maximize,
            )
            for p in fused_t:
                p._bump()


def _sgd_numpy(p, g, buf, init, lr, momentum, dampening, wd, nesterov, maximize) -> None:
    """The same update as the fused kernel, as a chain of numpy ops (any float dtype)."""
    if maximize:
        g = -g
    if wd != 0:
        g = g + wd * p
    if momentum != 0:
        if init:
            buf[...] = g
        else:
            buf *= momentum
            buf += (1 - dampening) * g
        g = g + momentum * buf if nesterov else buf
    p += (-lr) * g
