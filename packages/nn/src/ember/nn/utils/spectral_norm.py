"""Spectral normalization through a forward pre-hook (Miyato et al., 2018), the
older spelling of :func:`ember.nn.utils.parametrizations.spectral_norm`.

:func:`spectral_norm` replaces parameter ``name`` by ``name_orig`` and buffers
``name_u``, ``name_v`` (PyTorch's names, so its checkpoints load) and sets
``module.<name> = name_orig / sigma`` before every forward call, ``sigma`` the
largest singular value estimated by power iteration (updated in training mode only).
"""

from __future__ import annotations

import ember as E
from ember._tensor import Tensor
from ember.nn.functional import normalize
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = ["spectral_norm", "remove_spectral_norm", "SpectralNorm"]


class SpectralNorm:
    """The forward pre-hook that recomputes ``name`` from ``name_orig``, ``name_u``
    and ``name_v``."""

    def __init__(self, name: str, n_power_iterations: int, dim: int, eps: float) -> None:
        if n_power_iterations <= 0:
            raise ValueError(
                "spectral_norm: expected n_power_iterations to be positive, got "
                f"{n_power_iterations}"
            )
        self.name, self.n_power_iterations, self.dim, self.eps = (
            name,
            n_power_iterations,
            dim,
            eps,
        )

    def reshape_weight_to_matrix(self, weight: Tensor) -> Tensor:
        """``weight`` as a matrix with ``dim`` as its rows."""
        if self.dim:
            weight = weight.permute(self.dim, *[d for d in range(weight.dim()) if d != self.dim])
        return weight.reshape(weight.shape[0], -1)

    def compute_weight(self, module: Module, do_power_iteration: bool) -> Tensor:
        """``weight_orig / sigma``; with ``do_power_iteration`` the buffers ``u`` and
        ``v`` first take ``n_power_iterations`` steps (v then u), in place."""
        weight = getattr(module, self.name + "_orig")
        u = getattr(module, self.name + "_u")
        v = getattr(module, self.name + "_v")
        mat = self.reshape_weight_to_matrix(weight)
        if do_power_iteration:
            with E.no_grad():
                m = mat.detach()
                for _ in range(self.n_power_iterations):
                    v.copy_(normalize(E.mv(m.t(), u), dim=0, eps=self.eps))
                    u.copy_(normalize(E.mv(m, v), dim=0, eps=self.eps))
            # clones: the in-place updates of the next call must not touch saved values
            u, v = u.clone(), v.clone()
        sigma = E.dot(u, E.mv(mat, v))
        return weight / sigma

    def __call__(self, module: Module, inputs) -> None:
        value = self.compute_weight(module, do_power_iteration=module.training)
        object.__setattr__(module, self.name, value)


def spectral_norm(
    module: Module,
    name: str = "weight",
    n_power_iterations: int = 1,
    eps: float = 1e-12,
    dim: int | None = None,
) -> Module:
    """Spectral-normalize ``module.<name>`` (see the module docstring): ``dim`` is the
    weight dim taken as the matrix rows (default 0; 1 for ConvTranspose). ``u`` and
    ``v`` start as normalized N(0, 1) draws. Returns ``module``."""
    hooks = module.__dict__.setdefault("_spectral_norm_hooks", {})
    if name in hooks:
        raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter {name}")
    weight = module._parameters.get(name)
    if weight is None:
        raise ValueError(f"spectral_norm: {type(module).__name__} has no parameter named {name!r}")
    if dim is None:
        from ember.nn.utils.parametrizations import _default_dim

        dim = _default_dim(module)
    if not -weight.dim() <= dim < weight.dim():
        raise IndexError(
            f"spectral_norm: dim {dim} is out of range for {name} of shape {tuple(weight.shape)}"
        )
    fn = SpectralNorm(name, n_power_iterations, dim % weight.dim(), eps)
    with E.no_grad():
        h, w = fn.reshape_weight_to_matrix(weight).shape
        kw = {"dtype": weight.dtype, "device": weight.device}
        u = normalize(E.randn(h, **kw), dim=0, eps=eps)
        v = normalize(E.randn(w, **kw), dim=0, eps=eps)
    del module._parameters[name]
    module.register_parameter(name + "_orig", weight)
    object.__setattr__(module, name, weight.detach() * 1.0)
    module.register_buffer(name + "_u", u)
    module.register_buffer(name + "_v", v)
    hooks[name] = (fn, module.register_forward_pre_hook(fn))
    return module


def remove_spectral_norm(module: Module, name: str = "weight") -> Module:
    """Undo :func:`spectral_norm`: ``name`` becomes one parameter again, holding the
    current normalized weight (no power iteration). Returns ``module``."""
    hooks = module.__dict__.get("_spectral_norm_hooks", {})
    if name not in hooks:
        raise ValueError(f"spectral_norm of '{name}' not found in {type(module).__name__}")
    fn, handle = hooks.pop(name)
    handle.remove()
    with E.no_grad():
        weight = fn.compute_weight(module, do_power_iteration=False)
    del module._parameters[name + "_orig"]
    del module._buffers[name + "_u"]
    del module._buffers[name + "_v"]
    module.__dict__.pop(name, None)
    module.register_parameter(name, Parameter(weight.detach()))
    return module
