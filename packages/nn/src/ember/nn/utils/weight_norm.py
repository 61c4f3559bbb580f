"""Weight normalization (Salimans & Kingma, 2016): ``w = g * v / ||v||``.

:func:`weight_norm` replaces a module's parameter ``name`` by two parameters,
``name_g`` (the magnitude, one per slice along ``dim``) and ``name_v`` (the
direction), and recomputes ``name`` from them before every forward call.
"""

from __future__ import annotations

import ember as E
from ember._tensor import Tensor
from ember.nn.parameter import Parameter

__all__ = ["weight_norm", "remove_weight_norm", "norm_except_dim"]


def norm_except_dim(v: Tensor, pow: int = 2, dim: int | None = 0) -> Tensor:
    """The ``pow``-norm of ``v`` over every dim but ``dim``, shaped to broadcast against
    ``v`` (over all of ``v`` when ``dim`` is None)."""
    if dim is None:
        return (
            E.vector_norm(v, pow)
            if hasattr(E, "vector_norm")
            else (v.abs() ** pow).sum() ** (1 / pow)
        )
    d = dim % v.dim()
    axes = [i for i in range(v.dim()) if i != d]
    if not axes:
        return v.abs()
    return ((v.abs() ** pow).sum(axes, keepdim=True)) ** (1.0 / pow)


class WeightNorm:
    """The forward pre-hook that recomputes ``name`` from ``name_g`` and ``name_v``."""

    def __init__(self, name: str, dim: int | None) -> None:
        self.name = name
        self.dim = dim

    def compute_weight(self, module) -> Tensor:
        """``g * v / ||v||`` from the module's current parameters."""
        g = getattr(module, self.name + "_g")
        v = getattr(module, self.name + "_v")
        return v * (g / norm_except_dim(v, 2, self.dim))

    def __call__(self, module, inputs) -> None:
        object.__setattr__(module, self.name, self.compute_weight(module))


def weight_norm(module, name: str = "weight", dim: int | None = 0):
    """Reparameterize ``module.<name>`` as ``name_g * name_v / ||name_v||`` (norm over
    every dim but ``dim``; over all of it when ``dim`` is None). Returns ``module``."""
    hooks = module.__dict__.setdefault("_weight_norm_hooks", {})
    if name in hooks:
        raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter {name}")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"weight_norm: {type(module).__name__} has no parameter named {name!r}")
    if dim is not None and not -weight.dim() <= dim < weight.dim():
        raise IndexError(
            f"weight_norm: dim {dim} is out of range for {name} of shape {tuple(weight.shape)}"
        )
    fn = WeightNorm(name, dim)
    del module._parameters[name]
    w = weight.detach()
    module.register_parameter(name + "_g", Parameter(norm_except_dim(w, 2, dim).clone()))
    module.register_parameter(name + "_v", Parameter(w.clone()))
    object.__setattr__(module, name, fn.compute_weight(module))
    handle = module.register_forward_pre_hook(fn)
    hooks[name] = (fn, handle)
    return module


def remove_weight_norm(module, name: str = "weight"):
    """Undo :func:`weight_norm`: ``name`` becomes one parameter again (its current
    value). Returns ``module``."""
    hooks = module.__dict__.get("_weight_norm_hooks", {})
    if name not in hooks:
        raise ValueError(f"weight_norm of '{name}' not found in {module}")
    fn, handle = hooks.pop(name)
    handle.remove()
    with E.no_grad():
        w = fn.compute_weight(module)
    del module._parameters[name + "_g"]
    del module._parameters[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(w.detach()))
    return module
