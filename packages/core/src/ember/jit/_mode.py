"""``lazy()``: swap the fusible ops for their lazy versions while the block runs.

Swapping (rather than a flag tested by every eager op) keeps eager per-op overhead
exactly what it was: the eager functions are untouched, and while no lazy block is
active nothing in ember refers to this module. The swap replaces, by identity, the
eager function objects wherever ember binds them: the ``ember`` namespace, the op
modules (so composites such as ``lerp`` or ``true_divide`` build lazy graphs too),
and ``Tensor``'s methods and operators. It is process-wide: other threads calling
ember ops while a lazy block is open get lazy results too (which stay correct, as
every access forces them). Nested blocks are fine; the outermost exit restores the
eager functions and forces every lazy tensor still referenced.

In-place methods (``add_``, ``__setitem__``, ``__iadd__``, ...) first force every
pending lazy tensor, so a graph never reads an array mutated after it was built.
(Writing through ``.numpy()`` views while graphs are pending is not tracked.)
"""

from __future__ import annotations

import sys
import threading

from ember._tensor import Tensor
from ember.jit import _ops
from ember.jit._ir import BINARY, UNARY_FLOAT, UNARY_PRED, UNARY_SAME
from ember.jit._lazy import flush

_lock = threading.RLock()
_depth = 0
_saved: list = []
_TABLE: dict | None = None


def _named(fn, like):
    fn.__name__ = fn.__qualname__ = like.__name__
    fn.__doc__ = like.__doc__
    return fn


def _unary(name, eager):
    def op(input, *rest, **kw):
        if not rest and not kw:
            r = _ops.unary(name, input)
            if r is not None:
                return r
        return eager(input, *rest, **kw)

    return _named(op, eager)


def _binary(name, eager):
    def op(input, other, *rest, **kw):
        if not rest and not kw:
            r = _ops.binary(name, input, other)
            if r is not None:
                return r
        return eager(input, other, *rest, **kw)

    return _named(op, eager)


def _alpha(name, eager):
    def op(input, other, *, alpha=1, out=None):
        if alpha == 1 and out is None:
            r = _ops.binary(name, input, other)
            if r is not None:
                return r
        return eager(input, other, alpha=alpha, out=out)

    return _named(op, eager)


def _reflected(name, eager):
    def rop(self, other):
        if isinstance(other, Tensor):
            r = _ops.binary(name, other, self)
        else:
            r = _ops.binary(name, self, other, reflected=True)
        return eager(self, other) if r is None else r

    return _named(rop, eager)


def _where(eager):
    def where(condition, input=None, other=None):
        if input is not None and other is not None:
            r = _ops.where(condition, input, other)
            if r is not None:
                return r
        return eager(condition, input, other)

    return _named(where, eager)


def _clamp(eager):
    def clamp(input, min=None, max=None):  # noqa: A002 - PyTorch's names
        r = _ops.clamp(input, min, max)
        return eager(input, min, max) if r is None else r

    return _named(clamp, eager)


def _to(eager):
    from ember import _dtype

    def to(
        input, *args, dtype=None, device=None, non_blocking=False, copy=False, memory_format=None
    ):
        target = None
        if device is None and not copy and memory_format is None:
            if len(args) == 1 and dtype is None and isinstance(args[0], _dtype.dtype):
                target = args[0]
            elif not args and isinstance(dtype, _dtype.dtype):
                target = dtype
        if target is not None:
            r = _ops.cast(input, target)
            if r is not None:
                return r
        return eager(
            input,
            *args,
            dtype=dtype,
            device=device,
            non_blocking=non_blocking,
            copy=copy,
            memory_format=memory_format,
        )

    return _named(to, eager)


def _reduce(name, eager, default_dim):
    def op(input, dim=default_dim, keepdim=False, **kw):
        if not kw:
            r = _ops.reduction(name, input, dim, keepdim)
            if r is not None:
                return r
        return eager(input, dim, keepdim, **kw)

    return _named(op, eager)


def _softmax(eager, log):
    def softmax(input, dim, dtype=None):
        r = _ops.softmax(input, dim, dtype, log)
        return eager(input, dim, dtype) if r is None else r

    return _named(softmax, eager)


def _inplace(eager):
    def op(self, *args, **kw):
        flush()
        return eager(self, *args, **kw)

    return _named(op, eager)


def table() -> dict:
    """id(eager function) -> (eager function, lazy function), built once."""
    global _TABLE
    if _TABLE is not None:
        return _TABLE
    from ember._ops import convert, index, math, math_ext, reduce

    t = {}

    def put(eager, lazy):
        t[id(eager)] = (eager, lazy)

    for name in (*UNARY_FLOAT, *UNARY_SAME, *UNARY_PRED):
        put(getattr(math, name), _unary(name, getattr(math, name)))
    for name in BINARY:
        put(math._TABLE[name], _binary(name, math._TABLE[name]))
        put(math._REFLECTED[name], _reflected(name, math._REFLECTED[name]))
    put(math.add, _alpha("add", math.add))
    put(math.sub, _alpha("sub", math.sub))
    put(index.where, _where(index.where))
    put(math.clamp, _clamp(math.clamp))
    put(convert.to, _to(convert.to))
    put(math_ext.softmax, _softmax(math_ext.softmax, False))
    put(math_ext.log_softmax, _softmax(math_ext.log_softmax, True))
    for name, default in (("sum", None), ("mean", None), ("amax", ()), ("amin", ())):
        put(getattr(reduce, name), _reduce(name, getattr(reduce, name), default))
    _TABLE = t
    return t


def _namespaces():
    import ember
    from ember._ops import convert, index, math, math_ext, reduce

    return [vars(m) for m in (ember, math, reduce, index, convert, math_ext)]


def _sum_to(eager):
    def sum_to(g, shape):
        r = _ops.sum_to(g, shape)
        return eager(g, shape) if r is None else r

    return _named(sum_to, eager)


def _unreduce(eager):
    def unreduce(gy, shape, dims, keepdim):
        r = _ops.unreduce(gy, shape, dims, keepdim)
        return eager(gy, shape, dims, keepdim) if r is None else r

    return _named(unreduce, eager)


def _tensor_walk(eager_walk_arrays):
    engine = sys.modules["ember.autograd.engine"]

    def walk(roots, deps, retain_graph, wanted_nodes, results):
        # ember-autograd's array walk computes plain backward passes with numpy directly;
        # under lazy mode the Tensor-level walk runs instead, so the formulas' ops build
        # a graph that fuses.
        return engine._walk(roots, deps, retain_graph, False, wanted_nodes, results)

    return _named(walk, eager_walk_arrays)


# (module, attribute, maker of its lazy version): ember-autograd internals that would
# bypass or force lazy tensors. Each is swapped only when present, so a change in
# autograd degrades fusion of backward passes, never correctness.
_AUTOGRAD_SWAPS = (
    ("ember.autograd.formulas", "sum_to", _sum_to),
    ("ember.autograd.formulas", "_unreduce", _unreduce),
    ("ember.autograd.engine", "_walk_arrays", _tensor_walk),
)


def _autograd_namespaces():
    """ember-autograd's modules, when loaded. Two formula helpers read ``g._a.shape``
    and reshape/expand, which would force every gradient, and the engine computes plain
    backward passes on raw arrays: lazy mode swaps in versions that stay lazy (core never
    imports autograd; it looks in sys.modules)."""
    out = []
    for modname, helper, make in _AUTOGRAD_SWAPS:
        mod = sys.modules.get(modname)
        eager = getattr(mod, helper, None)
        if eager is None or (helper == "_walk_arrays" and not hasattr(mod, "_walk")):
            continue
        lazy_fn = make(eager)
        for name, m in list(sys.modules.items()):
            if name.startswith("ember.autograd") and getattr(m, helper, None) is eager:
                out.append((vars(m), helper, eager, lazy_fn))
    return out


_INPLACE_DUNDERS = frozenset(
    f"__i{op}__"
    for op in (
        "add",
        "sub",
        "mul",
        "truediv",
        "floordiv",
        "mod",
        "pow",
        "and",
        "or",
        "xor",
        "lshift",
        "rshift",
        "matmul",
    )
) | {"__setitem__"}
_PLAN: list | None = None  # (namespace, name, eager, lazy), computed on first use
_PLAN_AUTOGRAD: object = None  # the formulas module the plan's autograd part was built for


def _plan() -> list:
    """Every swap to make, found once by scanning the namespaces (then each entry is
    re-checked by identity when applied, so a rebinding in between is respected)."""
    global _PLAN, _PLAN_AUTOGRAD
    fm = sys.modules.get("ember.autograd.formulas")
    if _PLAN is not None and _PLAN_AUTOGRAD is fm:
        return _PLAN
    plan = [(ns, helper, eager, lazy_fn) for ns, helper, eager, lazy_fn in _autograd_namespaces()]
    t = table()
    for ns in _namespaces():
        for name, obj in list(ns.items()):
            hit = t.get(id(obj))
            if hit is not None and hit[0] is obj:
                plan.append((ns, name, obj, hit[1]))
    for name, obj in list(vars(Tensor).items()):
        hit = t.get(id(obj))
        if hit is not None and hit[0] is obj:
            lazy_fn = hit[1]
        elif callable(obj) and (
            (name.endswith("_") and not name.startswith("_")) or name in _INPLACE_DUNDERS
        ):
            lazy_fn = _inplace(obj)
        else:
            continue
        plan.append((Tensor, name, obj, lazy_fn))
    _PLAN, _PLAN_AUTOGRAD = plan, fm
    return plan


def _groups() -> list:
    """The plan grouped by namespace: [(namespace, [(name, eager, lazy), ...]), ...]."""
    plan = _plan()
    if _GROUPS[0] is not plan:
        by_ns: dict[int, tuple] = {}
        for ns, name, eager, lazy_fn in plan:
            by_ns.setdefault(id(ns), (ns, []))[1].append((name, eager, lazy_fn))
        _GROUPS[:] = [plan, list(by_ns.values())]
    return _GROUPS[1]


_GROUPS: list = [None, None]


def _patch() -> None:
    # the swap runs at every block entry and exit: tight loops, one saved list per namespace
    for ns, items in _groups():
        done = []
        if ns is Tensor:
            get = Tensor.__dict__.get
            for name, eager, lazy_fn in items:
                if get(name) is eager:
                    setattr(Tensor, name, lazy_fn)
                    done.append((name, eager))
        else:
            get = ns.get
            for name, eager, lazy_fn in items:
                if get(name) is eager:
                    ns[name] = lazy_fn
                    done.append((name, eager))
        _saved.append((ns, done))


def _unpatch() -> None:
    while _saved:
        ns, done = _saved.pop()
        if ns is Tensor:
            for name, eager in done:
                setattr(Tensor, name, eager)
        else:
            ns.update(done)


class lazy:  # noqa: N801 - used like a function, as torch.no_grad is
    """Context manager: inside, fusible ops build a graph instead of computing.

    Elementwise math (unary, binary with broadcasting and Python numbers, ``where``,
    ``clamp``, dtype casts, comparisons) and the reductions ``sum``, ``mean``,
    ``amax``, ``amin`` return lazy tensors. Reading data (``.numpy()``, ``.item()``,
    ``print``, ``bool()``, ``.tolist()``, any other op) computes them, fusing the
    pending graph into a few generated C (for CUDA tensors, CUDA) kernels; leaving
    the block computes every lazy tensor still referenced. Values, dtypes and errors
    are those of eager mode. The swap of ops is process-wide (see the module notes);
    blocks nest.

    Example::

        with ember.jit.lazy():
            y = (x * 0.5 * (1 + ember.tanh(0.79788456 * (x + 0.044715 * x ** 3))))
        # y is computed by one kernel
    """

    def __enter__(self):
        global _depth
        with _lock:
            _depth += 1
            if _depth == 1:
                try:
                    _patch()
                except BaseException:  # never leave ember half-swapped
                    _unpatch()
                    _depth -= 1
                    raise
        return self

    def __exit__(self, *exc):
        global _depth
        with _lock:
            _depth -= 1
            if _depth == 0:
                try:
                    flush()
                finally:
                    _unpatch()
        return False


def active() -> bool:
    """True while a lazy block is open."""
    return _depth > 0
