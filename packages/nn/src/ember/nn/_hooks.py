"""Hook plumbing for :class:`~ember.nn.Module`: handles, global hooks, and the
identity autograd functions that let full backward hooks see the gradients
flowing into a module's outputs and out of its inputs."""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable

from ember._tensor import Tensor
from ember.autograd import Function

__all__ = [
    "RemovableHandle",
    "register_module_forward_pre_hook",
    "register_module_forward_hook",
    "register_module_full_backward_hook",
]

_ids = itertools.count()
_global_forward_pre_hooks: OrderedDict = OrderedDict()
_global_forward_hooks: OrderedDict = OrderedDict()
_global_backward_hooks: OrderedDict = OrderedDict()


class RemovableHandle:
    """Returned by ``register_*_hook``: ``handle.remove()`` unregisters the hook.
    Also a context manager that removes it on exit."""

    def __init__(self, registry: OrderedDict, extra: set | None = None) -> None:
        self.id = next(_ids)
        self._registry = registry
        self._extra = extra

    def remove(self) -> None:
        """Unregister the hook (a second call does nothing)."""
        self._registry.pop(self.id, None)
        if self._extra is not None:
            self._extra.discard(self.id)

    def __enter__(self) -> RemovableHandle:
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, args)`` before every module's forward."""
    h = RemovableHandle(_global_forward_pre_hooks)
    _global_forward_pre_hooks[h.id] = hook
    return h


def register_module_forward_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, args, output)`` after every module's forward."""
    h = RemovableHandle(_global_forward_hooks)
    _global_forward_hooks[h.id] = hook
    return h


def register_module_full_backward_hook(hook: Callable) -> RemovableHandle:
    """Run ``hook(module, grad_input, grad_output)`` for every module."""
    h = RemovableHandle(_global_backward_hooks)
    _global_backward_hooks[h.id] = hook
    return h


class _State:
    __slots__ = ("module", "grad_output", "n_inputs", "inputs_hooked")

    def __init__(self, module, n_inputs: int) -> None:
        self.module = module
        self.grad_output = None
        self.n_inputs = n_inputs
        self.inputs_hooked = False


def _run_backward_hooks(state: _State, grad_input: tuple) -> tuple:
    m = state.module
    hooks = list(_global_backward_hooks.values()) + list(m._backward_hooks.values())
    for hook in hooks:
        r = hook(m, grad_input, state.grad_output)
        if r is not None:
            r = tuple(r) if isinstance(r, list | tuple) else (r,)
            if len(r) != len(grad_input):
                raise RuntimeError(
                    f"backward hook {hook!r} returned {len(r)} gradients, expected "
                    f"{len(grad_input)} (one per tensor input)"
                )
            grad_input = r
    return grad_input


class _InputHook(Function):
    """Identity on the module's tensor inputs; its backward holds grad_input."""

    @staticmethod
    def forward(ctx, state, *xs):
        ctx.state = state
        ctx.set_materialize_grads(False)
        return xs if len(xs) != 1 else xs[0]

    @staticmethod
    def backward(ctx, *gxs):
        return (None, *_run_backward_hooks(ctx.state, gxs))


class _OutputHook(Function):
    """Identity on the module's tensor outputs; its backward holds grad_output."""

    @staticmethod
    def forward(ctx, state, *ys):
        ctx.state = state
        ctx.set_materialize_grads(False)
        return ys if len(ys) != 1 else ys[0]

    @staticmethod
    def backward(ctx, *gys):
        state = ctx.state
        m = state.module
        for hook in m._backward_pre_hooks.values():
            r = hook(m, gys)
            if r is not None:
                gys = tuple(r) if isinstance(r, list | tuple) else (r,)
        state.grad_output = gys
        if not state.inputs_hooked and (m._backward_hooks or _global_backward_hooks):
            # no input needs a gradient: the hooks still run, with None grad_input
            _run_backward_hooks(state, (None,) * state.n_inputs)
        return (None, *gys)


def call_with_backward_hooks(module, args: tuple, kwargs: dict):
    """Run ``module.forward`` with its inputs and outputs threaded through identity
    functions whose backward calls the module's backward hooks."""
    pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
    state = _State(module, len(pos))
    if any(args[i].requires_grad for i in pos):
        state.inputs_hooked = True
        new = _InputHook.apply(state, *(args[i] for i in pos))
        new = new if isinstance(new, tuple) else (new,)
        args = list(args)
        for i, t in zip(pos, new):
            args[i] = t
        args = tuple(args)
    out = module.forward(*args, **kwargs)
    if isinstance(out, Tensor):
        return _OutputHook.apply(state, out) if out.requires_grad else out
    if isinstance(out, tuple) and any(isinstance(o, Tensor) and o.requires_grad for o in out):
        opos = [i for i, o in enumerate(out) if isinstance(o, Tensor)]
        new = _OutputHook.apply(state, *(out[i] for i in opos))
        new = new if isinstance(new, tuple) else (new,)
        res = list(out)
        for i, t in zip(opos, new):
            res[i] = t
        return type(out)(res) if type(out) is tuple else type(out)(*res)
    return out
