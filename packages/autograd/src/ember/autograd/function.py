"""Custom differentiable ops: subclass :class:`Function`, write ``forward`` and
``backward`` as static methods, call ``MyFn.apply(...)``.

``forward`` runs with grad mode off and may use numpy or scipy freely;
``backward`` receives one gradient per output and returns one per input.
"""

from __future__ import annotations

import functools

from ember._tensor import AutogradMeta, Tensor, _view_of
from ember.autograd.grad_mode import no_grad, state
from ember.autograd.graph import Node, SavedTensor, edge_of

__all__ = ["Function", "FunctionCtx", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` passed to ``forward`` and ``backward``."""

    def __init__(self, needs_input_grad: tuple):
        self.needs_input_grad = needs_input_grad
        self._saved = ()
        self._dirty = ()
        self._non_diff = ()
        self.materialize_grads = True
        self._node = None
        self._create_graph = False

    def save_for_backward(self, *tensors) -> None:
        """Keep tensors (or None) for ``backward``; in-place changes to them are caught."""
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(
                    "save_for_backward can only save tensors (or None), got "
                    f"{type(t).__name__}; store other values as ctx attributes"
                )
        self._to_save = tensors

    @property
    def saved_tensors(self) -> tuple:
        if self._saved is None:
            raise RuntimeError(
                "Trying to backward through the graph a second time (saved "
                "tensors were freed); use retain_graph=True"
            )
        return tuple(
            s.unpack(self._node, self._create_graph) if s is not None else None for s in self._saved
        )

    def mark_dirty(self, *tensors) -> None:
        """Declare inputs that ``forward`` modified in place."""
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Declare outputs that get no gradient (e.g. indices)."""
        self._non_diff = tensors

    def set_materialize_grads(self, value: bool) -> None:
        """Whether ``backward`` sees zeros (True, default) or None for unused outputs."""
        self.materialize_grads = value


def once_differentiable(backward):
    """Decorate a ``backward`` that cannot itself be differentiated (e.g. it uses numpy):
    it runs without recording, and a double backward through it raises."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            out = backward(ctx, *grads)
        if ctx._create_graph:
            outs = out if isinstance(out, tuple) else (out,)
            for o in outs:
                if isinstance(o, Tensor):
                    o._ag = AutogradMeta(True, _OnceNode(), 0)
        return out

    return wrapper


class _OnceNode(Node):
    def __init__(self):
        super().__init__("once_differentiable", _once_error, (), 1)


def _once_error(ctx, gy):
    raise RuntimeError(
        "trying to differentiate twice a function that was marked with @once_differentiable"
    )


class Function:
    """Base class of custom autograd ops (see the module docstring)."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("subclasses of Function must implement forward")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("subclasses of Function must implement backward")

    @classmethod
    def apply(cls, *args, **kwargs):
        needs = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        ctx = FunctionCtx(needs)
        with no_grad():
            outputs = cls.forward(ctx, *args, **kwargs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        if not (state.enabled and any(needs)):
            ctx._saved = None
            return outputs
        node = Node(cls.__name__, _custom_backward, tuple(edge_of(a) for a in args), len(outs))
        node.params = (cls, ctx)
        ctx._node = node
        wrapped = []
        for i, o in enumerate(outs):
            if not isinstance(o, Tensor):
                wrapped.append(o)
                continue
            if any(o is a for a in args) and not any(o is d for d in ctx._dirty):
                o = _view_of(o, o._a)  # returning an input unchanged: give it its own node
            if not any(o is n for n in ctx._non_diff) and o._a.dtype.kind in "fc":
                o._ag = AutogradMeta(True, node, i)
            wrapped.append(o)
        to_save = getattr(ctx, "_to_save", ())
        ctx._saved = tuple(
            None
            if t is None
            else SavedTensor(
                t,
                any(t is o for o in wrapped),
                next((i for i, o in enumerate(wrapped) if t is o), 0),
            )
            for t in to_save
        )
        ctx._outputs_meta = [
            (tuple(o.shape), o.dtype) if isinstance(o, Tensor) else None for o in wrapped
        ]
        return wrapped[0] if single else tuple(wrapped)


def _custom_backward(ectx, gys):
    cls, ctx = ectx.params
    ctx._create_graph = ectx.create_graph
    gys = (gys,) if ectx.node.n_outputs == 1 else tuple(gys)
    if ctx.materialize_grads:
        from ember._ops.creation import zeros

        gys = tuple(
            zeros(m[0], dtype=m[1]) if g is None and m is not None else g
            for g, m in zip(gys, ctx._outputs_meta)
        )
    result = cls.backward(ctx, *gys)
    if not isinstance(result, tuple):
        result = (result,)
    if len(result) != len(ectx.node.edges):
        raise RuntimeError(
            f"function {cls.__name__}Backward returned an incorrect number of gradients "
            f"(expected {len(ectx.node.edges)}, got {len(result)})"
        )
    return result
