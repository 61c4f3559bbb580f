"""The :class:`Optimizer` base: parameter groups, per-parameter state, state dicts.

Semantics are PyTorch's: groups are dicts whose missing options come from the
optimizer's defaults; ``state`` maps a parameter tensor to a dict of tensors
(``step``, ``exp_avg``, ``momentum_buffer``, ...); ``state_dict()`` refers to parameters
by integer position over all groups in order. Two deliberate differences: a parameter
listed twice in one group is an error (PyTorch only warns), and an option that the
optimizer does not know is an error (PyTorch keeps it silently) so typos do not pass.

Updates work on the storage (``p._a``) of parameters and state, with no autograd
recording, and bump each parameter's version counter. The storage is a numpy array on the
CPU and a CuPy array on CUDA; the update code is the same for both (numpy's ufuncs and
``np.*_like`` dispatch to CuPy through NEP 13/18), and state tensors live where their
parameter lives. Per-step scalars (``step``, ASGD's ``eta``/``mu``, NAdam's
``mu_product``) stay 0-d CPU tensors, as PyTorch keeps ``step`` on the CPU: reading them
each step costs no device synchronization.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ember._tensor import Tensor, _wrap
from ember.autograd import enable_grad

__all__ = ["Optimizer", "required"]

# Keys that learning-rate schedulers store in param groups (PyTorch does the same).
_SCHEDULER_KEYS = frozenset(("initial_lr", "max_lr", "min_lr", "max_momentum", "base_momentum"))


class _RequiredParameter:
    """Marks an option that every parameter group must give (no default)."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(x) -> str:
    if isinstance(x, Tensor):
        return f"ember.Tensor[{x.dtype}]"
    return type(x).__module__ + "." + type(x).__qualname__


def scalar_tensor(value: float, dtype=np.float32) -> Tensor:
    """A 0-d tensor holding ``value``: how ``step`` and friends are stored, as in PyTorch
    (float32), so state dicts move between ember and PyTorch unchanged."""
    return _wrap(np.array(value, dtype=dtype))


def zeros_state(p: Tensor) -> Tensor:
    """A zero tensor shaped and typed like parameter ``p``, on its device (fresh,
    contiguous)."""
    return _wrap(np.zeros_like(p._a, order="C"))


def full_state(p: Tensor, value: float) -> Tensor:
    """A tensor filled with ``value``, shaped and typed like parameter ``p``, on its device."""
    return _wrap(np.full_like(p._a, value, order="C"))


# State entries that are per-step scalars read on the host: they stay 0-d CPU tensors
# whatever the parameter's device (LBFGS's scalars included), so a step never waits on
# the device to read them.
HOST_STATE = frozenset(("step", "eta", "mu", "mu_product", "t", "H_diag", "ro", "al"))


def _is_host(a) -> bool:
    return type(a) is np.ndarray or isinstance(a, np.generic)


def state_array_like(a, param_a, dtype=None):
    """A fresh copy of array ``a`` (numpy or CUDA) on ``param_a``'s device, cast to
    ``dtype`` when given: how a loaded state tensor joins its parameter."""
    dtype = a.dtype if dtype is None else dtype
    if _is_host(param_a):
        if not _is_host(a):
            a = a.get()  # a CUDA checkpoint loaded for a CPU model
        return np.array(a, dtype=dtype, copy=True)
    from ember import cuda

    d = cuda._to_device_array(a, _wrap(param_a).device)
    return d.astype(dtype, copy=True)


def contiguous(a):
    """``a`` itself when C-contiguous, else a C-contiguous copy on the same device
    (``np.ascontiguousarray`` would pull a CUDA array to the host, or fail)."""
    return a if a.flags.c_contiguous else a.copy()


def real_view(a: np.ndarray) -> np.ndarray:
    """Complex arrays as interleaved (real, imag) floats, as PyTorch's view_as_real: the
    optimizers treat the two parts as independent coordinates."""
    if a.dtype.kind == "c":
        return a.view(a.real.dtype)
    return a


def param_and_grad(
    p: Tensor, g, maximize: bool, weight_decay: float, decoupled: bool = False, lr: float = 0.0
):
    """The start every update shares: ``p``'s array and the gradient as real views, the
    gradient negated for ``maximize``, then weight decay, L2 (``g + wd * p``) or, with
    ``decoupled``, AdamW's ``p *= 1 - lr * wd``. Returns ``(array, gradient)``."""
    a = real_view(p._a)
    g = real_view(g)
    if maximize:
        g = -g
    if weight_decay != 0:
        if decoupled:
            a *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * a
    return a, g


class Optimizer:
    """Base class of every optimizer.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts with a
            ``"params"`` entry and per-group options.
        defaults: the options (and their defaults) this optimizer takes.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._check_options(defaults)
        self.state: defaultdict[Tensor, dict[str, Any]] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError(
                "params argument given to the optimizer should be an iterable of Tensors "
                f"or dicts, but got {_typename(params)}"
            )
        if isinstance(params, (set, frozenset)):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a "
                "list instead."
            )
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ options
    def _check_options(self, group: dict[str, Any]) -> None:
        """Validate a group's hyper-parameters (subclasses extend); raise ValueError."""
        lr = group.get("lr")
        if lr is not None and lr is not required and not 0.0 <= float(lr):
            raise ValueError(f"Invalid learning rate: {lr}")
        if group.get("differentiable"):
            raise NotImplementedError(
                f"{type(self).__name__}: differentiable=True is not supported by ember"
            )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own options) to :attr:`param_groups`."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        if "params" not in param_group:
            raise ValueError("a parameter group needs a 'params' entry")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(
                "optimizer parameters need to be organized in ordered collections, but "
                "the ordering of tensors in sets will change between runs. Please use a "
                "list instead."
            )
        else:
            params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        param_group["params"] = params
        if names:
            if len(names) != len(params):
                raise ValueError(
                    "all optimizer params should be with/without names. Some param names "
                    "are missing"
                )
            param_group["param_names"] = names
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"optimizer can only optimize Tensors, but one of the params is {_typename(p)}"
                )
            if not (p.is_leaf or p.retains_grad):
                raise ValueError(
                    "can't optimize a non-leaf Tensor (it is the result of an op; optimize "
                    "the leaf tensors it was computed from, or .detach().requires_grad_())"
                )
        unknown = [
            k
            for k in param_group
            if k not in self.defaults
            and k not in ("params", "param_names")
            and k not in _SCHEDULER_KEYS
        ]
        if unknown:
            raise ValueError(
                f"{type(self).__name__} got unknown option(s) {unknown} in a parameter group; "
                f"known options: {sorted(self.defaults)}"
            )
        for name, default in self.defaults.items():
            if default is required and name not in param_group:
                raise ValueError(
                    "parameter group didn't specify a value of required optimization "
                    f"parameter {name}"
                )
            param_group.setdefault(name, default)
        self._check_options(param_group)
        ids = [id(p) for p in params]
        if len(ids) != len(set(ids)):
            raise ValueError(
                "a parameter group lists the same parameter more than once; give each "
                "parameter once"
            )
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        for g in self.param_groups:
            if ("param_names" in g) != ("param_names" in param_group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(
                    "all optimizer param groups should be with/without names. "
                    f"cannot add param group {which} to the optimizer"
                )
        self.param_groups.append(param_group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (default) or to zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                ag = p._ag
                if ag is None or ag.grad is None:
                    continue
                if set_to_none:
                    ag.grad = None
                else:
                    g = ag.grad
                    if g._ag is not None:
                        g._ag = None  # detach: a zeroed grad must not keep a graph alive
                    g._a[...] = 0
                    g._bump()

    def step(self, closure: Callable[[], Any] | None = None):
        """Update every parameter that has a gradient; return ``closure()``'s loss.

        ``closure`` (optional) re-evaluates the model and returns the loss; it runs with
        gradients enabled before the update.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
        self._opt_called = True
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _with_grads(group: dict[str, Any]) -> list[tuple[Tensor, Any]]:
        """(param, grad array) for the group's parameters that have a gradient; the grad
        array is numpy or CuPy, on the parameter's device (RuntimeError otherwise)."""
        out = []
        for p in group["params"]:
            ag = p._ag
            if ag is not None and ag.grad is not None:
                g = ag.grad._a
                if type(g) is not type(p._a) or (
                    type(g) is not np.ndarray and g.device.id != p._a.device.id
                ):
                    raise RuntimeError(
                        f"a parameter on {p.device} has its gradient on {ag.grad.device}; "
                        "the optimizer updates a parameter with a gradient on the same device"
                    )
                out.append((p, g))
        return out

    # ------------------------------------------------------------------ state dicts
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state: ``{"state": {id: {...}}, "param_groups": [...]}`` with
        parameters replaced by their integer position over all groups (PyTorch's format)."""
        mapping: dict[int, int] = {}
        groups = []
        start = 0
        for g in self.param_groups:
            packed = {k: v for k, v in g.items() if k != "params"}
            for i, p in enumerate(g["params"], start):
                mapping.setdefault(id(p), i)
            packed["params"] = [mapping[id(p)] for p in g["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(mapping[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (ours, or PyTorch's loaded by ``ember.load``).

        State tensors are copied, cast to their parameter's dtype (``step`` keeps its
        own) and moved to their parameter's device (per-step scalars, see ``HOST_STATE``,
        to the CPU), so the loaded optimizer owns its state and resumes exactly, also from
        a checkpoint saved on another device.
        """
        if not isinstance(state_dict, dict) or not {"state", "param_groups"} <= set(state_dict):
            raise ValueError("an optimizer state dict needs 'state' and 'param_groups' entries")
        groups = self.param_groups
        saved_groups = copy.deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, s in zip(groups, saved_groups):
            if len(g["params"]) != len(s["params"]):
                raise ValueError(
                    "loaded state dict contains a parameter group that doesn't match the "
                    "size of optimizer's group"
                )
        id_map = {
            sid: p for g, s in zip(groups, saved_groups) for sid, p in zip(s["params"], g["params"])
        }

        def cast(param: Tensor, value: Any, key: Any = None) -> Any:
            if isinstance(value, Tensor):
                a = value._a
                dtype = param._a.dtype if key != "step" and param._a.dtype.kind in "fc" else None
                if key in HOST_STATE:  # per-step scalars stay on the CPU (see HOST_STATE)
                    return _wrap(state_array_like(a, np.empty(0), dtype))
                return _wrap(state_array_like(a, param._a, dtype))
            if isinstance(value, dict):
                return {k: cast(param, v, k) for k, v in value.items()}
            if isinstance(value, (list, tuple)):
                return type(value)(cast(param, v, key) for v in value)
            return value

        state: defaultdict[Any, dict[str, Any]] = defaultdict(dict)
        for k, v in state_dict["state"].items():
            if k in id_map:
                state[id_map[k]] = cast(id_map[k], v)
            else:
                state[k] = v
        new_groups = []
        for g, s in zip(groups, saved_groups):
            s["params"] = g["params"]
            if "param_names" in g and "param_names" not in s:
                s["param_names"] = g["param_names"]
            new_groups.append(s)
        self.state = state
        self.param_groups = new_groups

    def __repr__(self) -> str:
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(group):
                if key not in ("params", "param_names"):
                    lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)

    def __getstate__(self) -> dict[str, Any]:
        return {"defaults": self.defaults, "state": self.state, "param_groups": self.param_groups}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)


def check_betas(betas) -> None:
    """Validate an Adam-style ``betas`` pair (each in [0, 1))."""
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair of floats, got {betas!r}") from None
    if not 0.0 <= b1 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {b1}")
    if not 0.0 <= b2 < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {b2}")


def check_nonneg(group: dict[str, Any], *names: str) -> None:
    """Raise ValueError naming the first of ``names`` whose value is negative."""
    labels = {"eps": "epsilon", "weight_decay": "weight_decay"}
    for n in names:
        if n in group and not 0.0 <= group[n]:
            raise ValueError(f"Invalid {labels.get(n, n)} value: {group[n]}")


def bump(p: Tensor) -> None:
    """Record an in-place update of ``p`` (autograd checks saved tensors against it)."""
    p._bump()
