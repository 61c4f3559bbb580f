"""Recording the graph: nodes, edges, saved tensors and version checks.

Core calls :func:`record` after an op whose input carries autograd metadata.
A :class:`Node` keeps what its derivative formula needs (declared by the
formula) and one edge per input: the producing node and output slot, a leaf
tensor (gradient accumulates into its ``.grad``), or ``None``.

Saved outputs are stored detached (no reference from a node to its own output
tensor, so graphs are freed by reference counting alone) and re-attached to the
node when a ``create_graph`` backward unpacks them.
"""

from __future__ import annotations

import itertools

from ember import _tensor as _T
from ember._tensor import AutogradMeta, Tensor, _view_of
from ember.autograd import formulas
from ember.autograd.formulas import check_version
from ember.autograd.grad_mode import state

_seq = itertools.count()


_FLOAT_DTYPES = frozenset(d.np for d in _T._dtype.ALL if d.category >= 2)


def _is_float(t: Tensor) -> bool:
    return t._a.dtype in _FLOAT_DTYPES


class SavedTensor:
    """A tensor kept for backward plus its version at save time (used by custom Functions;
    built-in ops store the same information in flat tuples, see :func:`record`)."""

    __slots__ = ("tensor", "version", "is_output", "output_nr")

    def __init__(self, t: Tensor, is_output: bool, output_nr: int = 0):
        v = t._ver
        if v is None:
            v = t._ver = [0]
        self.version = v[0]
        self.is_output = is_output
        self.output_nr = output_nr
        self.tensor = _view_of(t, t._a) if is_output else t

    def unpack(self, node, create_graph: bool) -> Tensor:
        t = self.tensor
        check_version(t._ver, self.version, t, node, self.output_nr)
        if self.is_output and create_graph:
            alias = _view_of(t, t._a)
            alias._ag = AutogradMeta(True, node, self.output_nr)
            return alias
        return t


class Node(AutogradMeta):
    """One recorded op: its derivative formula, edges to its inputs, saved values.

    A node is also the autograd metadata of its op's output when there is one output
    (one object per recorded op instead of two): as metadata it reads as a non-leaf
    that requires grad, with ``grad_fn`` itself and ``output_nr`` 0. Its ``grad`` and
    ``retains_grad`` slots serve a retained (non-leaf) gradient. Outputs of ops with
    several results get an :class:`AutogradMeta` each, pointing here.
    """

    __slots__ = (
        "op",
        "formula",
        "edges",
        "saved_inputs",
        "versions",
        "saved_output",
        "params",
        "meta",
        "n_outputs",
        "seq",
        "extra",
        "freed",
        "__weakref__",
    )

    # AutogradMeta's view of a node (class attributes shadow the base's slots; a
    # grad_fn slot holding the node itself would be a reference cycle)
    requires_grad = True
    output_nr = 0
    hooks = None

    @property
    def grad_fn(self):
        """The node itself (a node is its single output's metadata)."""
        return self

    def __init__(self, op: str, formula, edges, n_outputs: int = 1):
        self.op = op
        self.formula = formula
        self.edges = edges
        self.n_outputs = n_outputs
        self.seq = next(_seq)
        self.saved_inputs = None
        self.versions = None
        self.saved_output = None
        self.params = None
        self.meta = None
        self.extra = None  # rarely used: {"retained", "pre_hooks", "post_hooks", "trace"}
        self.freed = False
        self.grad = None
        self.retains_grad = False

    def _extra(self) -> dict:
        if self.extra is None:
            self.extra = {}
        return self.extra

    @property
    def retained(self):
        return None if self.extra is None else self.extra.get("retained")

    @property
    def pre_hooks(self):
        return None if self.extra is None else self.extra.get("pre_hooks")

    @property
    def post_hooks(self):
        return None if self.extra is None else self.extra.get("post_hooks")

    @property
    def trace(self):
        return None if self.extra is None else self.extra.get("trace")

    def name(self) -> str:
        return formulas.node_name(self.op)

    @property
    def next_functions(self):
        out = []
        for e in self.edges:
            if e is None:
                out.append((None, 0))
            elif isinstance(e, Tensor):
                out.append((AccumulateGrad(e), 0))
            else:
                out.append(e)
        return tuple(out)

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` runs after this node's backward."""
        hooks = self._extra().setdefault("post_hooks", [])
        hooks.append(fn)
        return _RemovableHandle(hooks, fn)

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` runs before this node's backward."""
        return self._add_output_hook(None, fn)

    def _add_output_hook(self, nr, fn):
        hooks = self._extra().setdefault("pre_hooks", [])
        entry = (nr, fn)
        hooks.append(entry)
        return _RemovableHandle(hooks, entry)

    def __repr__(self) -> str:
        return f"<{self.name()} object>"


class AccumulateGrad:
    """The ``next_functions`` view of a leaf: gradient accumulates into ``variable.grad``."""

    __slots__ = ("variable",)

    def __init__(self, variable: Tensor):
        self.variable = variable

    def name(self) -> str:
        return "AccumulateGrad"

    next_functions = ()

    def __repr__(self) -> str:
        return "<AccumulateGrad object>"


class _RemovableHandle:
    def __init__(self, container: list, item):
        self._container, self._item = container, item

    def remove(self) -> None:
        try:
            self._container.remove(self._item)
        except ValueError:
            pass


_SPECS = formulas.SPECS
_NON_DIFF = formulas.NON_DIFFERENTIABLE
_new = object.__new__
_next_seq = _seq.__next__


def _edge(x):
    """The edge pointing at tensor ``x``'s gradient slot, or None if it needs none."""
    if isinstance(x, Tensor):
        ag = x._ag
        if ag is not None and ag.requires_grad:
            fn = ag.grad_fn
            return x if fn is None else (fn, ag.output_nr)
    return None


edge_of = _edge  # the public name (record() inlines the same test for 1-2 inputs)


def record(op: str, out, inputs: tuple, params) -> None:
    """Called by core after computing ``op``; attach a node to ``out`` when needed.

    This runs once per recorded op, so it is written flat: no generators, no
    helper objects beyond the node (which is also a single output's metadata).
    """
    if not state.enabled:
        return
    n_in = len(inputs)
    if n_in <= 2:  # the hot cases, inlined (one call of _edge costs as much as its body)
        x0 = inputs[0]
        e0 = None
        if isinstance(x0, Tensor):
            ag = x0._ag
            if ag is not None:
                if type(ag) is Node:
                    e0 = (ag, 0)
                elif ag.requires_grad:
                    fn = ag.grad_fn
                    e0 = x0 if fn is None else (fn, ag.output_nr)
        if n_in == 1:
            if e0 is None:
                return
            edges = (e0,)
        else:
            x1 = inputs[1]
            e1 = None
            if isinstance(x1, Tensor):
                ag = x1._ag
                if ag is not None:
                    if type(ag) is Node:
                        e1 = (ag, 0)
                    elif ag.requires_grad:
                        fn = ag.grad_fn
                        e1 = x1 if fn is None else (fn, ag.output_nr)
            if e0 is None and e1 is None:
                return
            edges = (e0, e1)
    else:
        edges = tuple([_edge(x) for x in inputs])
        for e in edges:  # (not edges.count(None): that compares tensors with ==)
            if e is not None:
                break
        else:
            return
    spec = _SPECS.get(op)
    if spec is None:
        if op in _NON_DIFF:
            return
        raise RuntimeError(f"the derivative for '{op}' is not implemented")
    node = _new(Node)
    node.op = op
    node.formula = spec.fn
    node.edges = edges
    node.seq = _next_seq()
    node.params = params
    node.extra = None
    node.freed = False
    node.grad = None
    node.retains_grad = False
    if spec.save_inputs:
        node.saved_inputs = inputs
        node.meta = None
        if n_in == 1:
            v = x0._ver
            node.versions = (0 if v is None else v[0],)
        elif n_in == 2:
            v0 = v1 = None
            if isinstance(x0, Tensor):
                v = x0._ver
                v0 = 0 if v is None else v[0]
            if isinstance(x1, Tensor):
                v = x1._ver
                v1 = 0 if v is None else v[0]
            node.versions = (v0, v1)
        else:
            node.versions = tuple([_version_of(x) for x in inputs])
    else:
        node.saved_inputs = node.versions = None
        if n_in == 1:
            a = x0._a
            node.meta = ((a.shape, a.dtype),)
        elif n_in == 2:
            if isinstance(x0, Tensor):
                a = x0._a
                m0 = (a.shape, a.dtype)
            else:
                m0 = None
            if isinstance(x1, Tensor):
                a = x1._a
                m1 = (a.shape, a.dtype)
            else:
                m1 = None
            node.meta = (m0, m1)
        else:
            node.meta = tuple([_meta_of(x) for x in inputs])
    if _anomaly.enabled:
        node.extra = {"trace": _anomaly.capture()}
    if type(out) is tuple:
        node.n_outputs = len(out)
        if spec.save_output:
            saved = []
            for o in out:
                v = o._ver
                if v is None:
                    v = o._ver = [0]
                saved.append((o._a, v, v[0], o._base))
            node.saved_output = saved
        else:
            node.saved_output = None
        nr = 0
        for o in out:
            if isinstance(o, Tensor) and o._a.dtype in _FLOAT_DTYPES:
                o._ag = _meta(node, nr)
            nr += 1
        return
    node.n_outputs = 1
    if spec.save_output:
        v = out._ver
        if v is None:
            v = out._ver = [0]
        node.saved_output = ((out._a, v, v[0], out._base),)
    else:
        node.saved_output = None
    if out._a.dtype in _FLOAT_DTYPES:
        out._ag = node


def _version_of(x):
    if isinstance(x, Tensor):
        v = x._ver
        return 0 if v is None else v[0]
    return None


def _meta_of(x):
    if isinstance(x, Tensor):
        a = x._a
        return (a.shape, a.dtype)
    return None


def _meta(node, nr):
    ag = _new(AutogradMeta)
    ag.requires_grad = True
    ag.grad = None
    ag.grad_fn = node
    ag.retains_grad = False
    ag.hooks = None
    ag.output_nr = nr
    return ag


def set_requires_grad(t: Tensor, flag: bool) -> None:
    """``t.requires_grad_(flag)``: a computed (non-leaf) tensor cannot be switched off,
    and only floating-point and complex tensors can require gradients."""
    ag = t._ag
    if ag is not None and ag.grad_fn is not None:
        if not flag:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach()."
            )
        return
    if flag and not _is_float(t):
        raise RuntimeError(
            "only Tensors of floating point and complex dtype can require gradients "
            f"(got {t.dtype})"
        )
    if ag is None:
        t._ag = AutogradMeta(flag)
    else:
        ag.requires_grad = flag


def inplace(self: Tensor, fn, args: tuple, params) -> bool:
    """Run an in-place op under autograd as ``fn`` (its out-of-place form) plus a copy
    into ``self``'s storage, then make ``self`` the output of ``fn``'s node.

    Returns False when grad mode is off or nothing needs a gradient: the caller
    then does the raw in-place update.
    """
    if not state.enabled:
        return False
    if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        return False
    ag = self._ag
    if ag is not None and ag.requires_grad and ag.grad_fn is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation."
        )
    base = self._base
    if base is not None and base.requires_grad and base._ag.grad_fn is None:
        raise RuntimeError(
            "a view of a leaf Variable that requires grad is being used in an in-place operation."
        )
    spec = _SPECS.get(getattr(fn, "__name__", ""))
    if spec is None or spec.save_inputs:
        # The op's derivative needs its inputs, and self's storage is about to be
        # overwritten: compute from a (recorded) copy of self's old value.
        old = self.clone()
        args = tuple(old if a is self else a for a in args)
    r = fn(*args)
    a = self._a
    if r._a.dtype != a.dtype and not _T._dtype.can_cast(r.dtype, self.dtype):
        raise RuntimeError(
            f"result type {r.dtype} can't be cast to the desired output type {self.dtype}"
        )
    old_edge = edge_of(base) if base is not None else None
    a[...] = r._a
    self._bump()
    if r._ag is None:
        return True
    self._ag = AutogradMeta(True, r._ag.grad_fn, r._ag.output_nr)
    if base is not None:
        _rebase_view(base, self, old_edge)
    return True


def _rebase_view(base: Tensor, view: Tensor, old_edge) -> None:
    """After an in-place write through ``view``, ``base`` becomes the output of a
    node that takes the old base everywhere except the view's region."""
    from ember._ops.shape import _root_and_offset

    item = base._a.itemsize
    root_b, off_b = _root_and_offset(base._a)
    root_v, off_v = _root_and_offset(view._a)
    geometry = (
        tuple(view._a.shape),
        tuple(s // item for s in view._a.strides),
        (off_v - off_b) // item,
        tuple(s // item for s in base._a.strides),
    )
    node = Node("copy_slices", formulas.copy_slices_backward, (old_edge, edge_of(view)), 1)
    node.params = geometry
    node.meta = ((tuple(base._a.shape), base._a.dtype), None)
    base._ag = AutogradMeta(True, node, 0)


class _Anomaly:
    enabled = False

    @staticmethod
    def capture():
        import traceback

        return "".join(traceback.format_stack(limit=12)[:-3])


_anomaly = _Anomaly()
