"""ember.autograd: define-by-run automatic differentiation.

Importing this package (``import ember`` does it when ember-autograd is
installed) plugs the engine into core: every differentiable op then records a
node when an input requires grad and grad mode is on.
"""

from __future__ import annotations

import weakref

from ember import _tensor as _core_tensor
from ember._tensor import Tensor
from ember.autograd import (
    _backward_ops,  # noqa: F401 - registers derivative-only ops
    functional,
    graph,
)
from ember.autograd import engine as _engine_mod
from ember.autograd.anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from ember.autograd.function import Function, FunctionCtx, once_differentiable
from ember.autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from ember.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck

__all__ = [
    "backward",
    "grad",
    "Variable",
    "Function",
    "FunctionCtx",
    "once_differentiable",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
    "gradcheck",
    "gradgradcheck",
    "GradcheckError",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "functional",
    "graph",
]


def _seq(x):
    if x is None:
        return None
    if isinstance(x, Tensor):
        return (x,)
    return tuple(x)


def backward(
    tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None
) -> None:
    """Accumulate gradients of ``tensors`` into the leaves' ``.grad`` (or only ``inputs``')."""
    tensors = _seq(tensors)
    grads = _seq(grad_tensors) or (None,) * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"got {len(grads)} gradients for {len(tensors)} tensors")
    if retain_graph is None:
        retain_graph = create_graph
    ins = _seq(inputs)
    if ins is not None and not ins:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    _engine_mod.run_backward(
        tensors, grads, retain_graph, create_graph, ins, accumulate=True, allow_unused=True
    )


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph: bool = False,
    only_inputs: bool = True,
    allow_unused: bool | None = None,
    is_grads_batched=False,
    materialize_grads: bool = False,
):
    """The gradients of ``outputs`` with respect to ``inputs`` (a tuple), without
    touching any ``.grad``. ``create_graph=True`` makes them differentiable."""
    outputs = _seq(outputs)
    single = isinstance(inputs, Tensor)
    inputs = _seq(inputs)
    gos = _seq(grad_outputs) or (None,) * len(outputs)
    if len(gos) != len(outputs):
        raise RuntimeError(
            f"grad requires one grad_output per output: got {len(gos)} for {len(outputs)}"
        )
    if retain_graph is None:
        retain_graph = create_graph
    res = _engine_mod.run_backward(
        outputs,
        gos,
        retain_graph,
        create_graph,
        inputs,
        accumulate=False,
        allow_unused=bool(allow_unused or materialize_grads),
    )
    if materialize_grads:
        from ember._ops.creation import zeros_like

        res = [zeros_like(x) if g is None else g for g, x in zip(res, inputs)]
    return tuple(res)


class _VariableMeta(type):
    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """The seed's spelling: ``Variable(t, requires_grad=...)`` returns a Tensor sharing
    ``t``'s storage (``.data`` works as in PyTorch)."""

    def __new__(cls, data, requires_grad: bool = False, volatile: bool = False):
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        t = data.detach()
        if requires_grad:
            t.requires_grad_(True)
        return t


# ----- tensor methods whose behaviour lives here -----
def _register_hook(self: Tensor, hook):
    """Run ``hook(grad)`` whenever this tensor's gradient is computed; it may return a
    replacement. Returns a handle with ``remove()``."""
    if not self.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    ag = self._ag
    if ag.grad_fn is None:
        if ag.hooks is None:
            ag.hooks = []
        ag.hooks.append(hook)
        return graph._RemovableHandle(ag.hooks, hook)
    return ag.grad_fn._add_output_hook(ag.output_nr, hook)


def _retain_grad(self: Tensor) -> None:
    """Keep ``.grad`` for this non-leaf tensor after backward."""
    if not self.requires_grad:
        raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
    ag = self._ag
    if ag.grad_fn is None or ag.retains_grad:
        return
    node = ag.grad_fn
    node._extra().setdefault("retained", {})[ag.output_nr] = weakref.ref(self)
    ag.retains_grad = True


class _Engine:
    """What core calls into (``ember._tensor._engine``)."""

    record = staticmethod(graph.record)
    inplace = staticmethod(graph.inplace)
    set_requires_grad = staticmethod(graph.set_requires_grad)
    is_grad_enabled = staticmethod(is_grad_enabled)

    @staticmethod
    def backward(t, gradient, retain_graph, create_graph, inputs):
        if inputs is None:  # the common case, without backward()'s argument juggling
            _engine_mod.run_backward(
                (t,),
                (gradient,),
                bool(create_graph if retain_graph is None else retain_graph),
                create_graph,
                None,
                accumulate=True,
                allow_unused=True,
            )
        else:
            backward(t, gradient, retain_graph, create_graph, inputs)


Tensor.register_hook = _register_hook
Tensor.retain_grad = _retain_grad
Tensor.retains_grad = property(lambda self: self._ag is not None and self._ag.retains_grad)
_core_tensor._engine = _Engine()

# PyTorch spells the grad-mode switches at the top level too (torch.no_grad()).
import ember as _ember  # noqa: E402

for _name in (
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "inference_mode",
    "is_grad_enabled",
    "is_inference_mode_enabled",
):
    setattr(_ember, _name, globals()[_name])
from ember.autograd import (
    formulas_ext,  # noqa: E402,F401 - derivatives of the breadth ops
    formulas_index,  # noqa: E402,F401 - matmul and indexing derivatives
)
