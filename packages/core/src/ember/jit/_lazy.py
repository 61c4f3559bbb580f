"""Lazy tensors and forcing them: graph -> canonical graph -> compiled plan -> arrays.

Design: :class:`LazyTensor` subclasses ``Tensor`` and redefines ``_a`` as a
property. The property shadows the base class's slot, so every eager op, method
and protocol that reads ``x._a`` (all of them do) transparently forces a lazy
input first; nothing on the eager path changes or pays for this. The computed
array is then stored in the base class's slot (``Tensor._a.__set__``), and the
tensor behaves like any other from then on (``_node`` is None).

Which nodes are computed when one tensor is forced: everything pending below it
that is still referenced, i.e. the forced tensor, every other live LazyTensor
whose node is in the same graph (written out by the same kernels, so it is never
recomputed), and buffers autograd saved. A node whose tensor was dropped is dead:
it is inlined into its users, never stored (dead-code elimination by liveness).
"""

from __future__ import annotations

import sys
import threading
import weakref

import numpy as np

from ember._tensor import Size, Tensor
from ember.jit import _build, _codegen, _pool
from ember.jit._ir import Node

_slot = Tensor.__dict__["_a"]
_slot_get, _slot_set, _slot_del = _slot.__get__, _slot.__set__, _slot.__delete__
_new = object.__new__


class _State:
    suspend = False  # while autograd records: ``_a`` returns placeholders instead of forcing
    live: list = []  # weak references to LazyTensors that were pending when made
    pinned: list = []  # pending nodes whose buffer autograd holds
    plans: dict = {}  # (graph signature, outputs) -> _Plan
    trace = None  # {'nodes': [...], 'forces': [...]} while explain() watches


def _force_self(t: LazyTensor) -> None:
    force([t._node])


class LazyTensor(Tensor):
    """A Tensor whose value is computed on first access (see :func:`ember.jit.lazy`)."""

    __slots__ = ("_node",)

    @property
    def _a(self):
        if self._node is not None:
            if _State.suspend:
                return _slot_get(self, LazyTensor)
            _force_self(self)
        return _slot_get(self, LazyTensor)

    @_a.setter
    def _a(self, value) -> None:
        _slot_set(self, value)
        self._node = None

    # metadata without forcing
    @property
    def shape(self) -> Size:
        """The shape, known without computing the tensor."""
        n = self._node
        return Size(n.shape if n is not None else self._a.shape)

    def size(self, dim: int | None = None):
        """The shape, or the length of ``dim``."""
        n = self._node
        if n is None:
            return Tensor.size(self, dim)
        if dim is None:
            return Size(n.shape)
        from ember._tensor import _wrap_dim

        return n.shape[_wrap_dim(dim, len(n.shape))]

    @property
    def dtype(self):
        """The dtype, known without computing the tensor."""
        from ember._dtype import _FROM_NP

        n = self._node
        return _FROM_NP[n.dtype if n is not None else self._a.dtype]

    @property
    def ndim(self) -> int:
        """The number of dimensions, known without computing the tensor."""
        n = self._node
        return len(n.shape) if n is not None else self._a.ndim

    def dim(self) -> int:
        """The number of dimensions."""
        return self.ndim

    def numel(self) -> int:
        """The number of elements."""
        n = self._node
        return int(np.prod(n.shape)) if n is not None else self._a.size

    @property
    def device(self):
        """The device, known without computing the tensor."""
        n = self._node
        if n is None:
            return Tensor.device.fget(self)
        from ember._device import CPU, device

        return CPU if n.dev is None else device("cuda", n.dev)

    @property
    def is_cuda(self) -> bool:
        """Whether the tensor is on a CUDA device, known without computing it."""
        n = self._node
        return Tensor.is_cuda.fget(self) if n is None else n.dev is not None

    @property
    def is_cpu(self) -> bool:
        """Whether the tensor is on the CPU, known without computing it."""
        n = self._node
        return Tensor.is_cpu.fget(self) if n is None else n.dev is None

    def is_floating_point(self) -> bool:
        """True for floating dtypes."""
        n = self._node
        return n.dtype.kind == "f" if n is not None else Tensor.is_floating_point(self)

    def is_complex(self) -> bool:
        """True for complex dtypes (never for a pending lazy tensor)."""
        return False if self._node is not None else Tensor.is_complex(self)

    def __len__(self) -> int:
        n = self._node
        if n is None:
            return Tensor.__len__(self)
        if not n.shape:
            raise TypeError("len() of a 0-d tensor")
        return n.shape[0]


def new_lazy(node: Node) -> LazyTensor:
    t = _new(LazyTensor)
    t._ag = None
    t._ver = None
    t._base = None
    t._node = node
    node.ref = r = weakref.ref(t)
    live = _State.live
    live.append(r)
    if len(live) > 8192:  # long lazy sessions: forget tensors already dead or computed
        _State.live = [r for r in live if (x := r()) is not None and x._node is not None]
    if _State.trace is not None:
        _State.trace["nodes"].append(node)
    return t


def record(name: str, out: LazyTensor, inputs: tuple, params) -> None:
    """Record ``out`` on the autograd tape as eager op ``name`` would. Autograd reads
    ``_a`` of the output and inputs (dtype, shape, and for some ops it keeps the
    output array for backward): pending tensors get an empty buffer of their shape
    for that, and a buffer autograd kept pins its node: it is always written out."""
    from ember import _tensor as _T

    placed = []
    _State.suspend = True
    try:
        for t in (out, *inputs):
            if type(t) is LazyTensor and t._node is not None and t._node.buf is None:
                n = t._node
                if n.dev is None:
                    n.buf = np.empty(n.shape, n.dtype)
                else:
                    n.buf = _gpu().empty(n.shape, n.dtype, n.dev)
                _slot_set(t, n.buf)
                placed.append((t, n, sys.getrefcount(n.buf)))
        _T._engine.record(name, out, inputs, params)
    finally:
        _State.suspend = False
    for t, n, refs in placed:
        if sys.getrefcount(n.buf) > refs:
            _State.pinned.append(n)
        else:  # autograd only looked at it
            n.buf = None
            _slot_del(t)


class _Plan:
    # device: None for a CPU plan (``run`` takes a ``char *[]``), else the CUDA device
    # index (``run`` takes the device arrays); launches: a CUDA plan's (kernel, grid, block)
    # scratch: a CUDA plan's (shape, dtype) per ``("scratch", i)`` slot
    __slots__ = ("run", "slots", "source", "groups", "key", "device", "launches", "scratch")


def _gpu():
    from ember.jit import _gpu

    return _gpu


def _compile(outs, canon, nodes, key) -> _Plan:
    prog = _codegen.generate(outs, canon, nodes)
    lib = _build.library(prog.source, "void run(char **P);")
    index = {id(n): i for i, n in enumerate(nodes)}
    plan = _Plan()
    plan.run = lib.lib.run
    plan.slots = [(kind, index[id(n)]) for kind, n in prog.slots]
    plan.source = prog.source
    plan.groups = [(name, space, [index[id(n)] for n in g]) for name, space, g in prog.groups]
    plan.key = key
    plan.device = None
    plan.launches = None
    plan.scratch = None
    return plan


_ffi = None


def _ptrs(arrays):
    """A ``char *[]`` of the arrays' first-element addresses for the plan's ``run``.
    ``from_buffer`` (0.2 µs) serves contiguous arrays; strided views, which the buffer
    protocol refuses, go through ``ctypes.data`` (2.5 µs)."""
    global _ffi
    if _ffi is None:
        import cffi

        _ffi = cffi.FFI()
    ffi = _ffi
    ptrs = []
    for a in arrays:
        if a.flags.c_contiguous:
            ptrs.append(ffi.from_buffer(a))
        else:
            ptrs.append(ffi.cast("char *", a.ctypes.data))
    return ffi.new("char *[]", ptrs)


def _pending_roots() -> list[Node]:
    """Nodes of every pending LazyTensor still referenced, and of pinned buffers; forgets
    the rest."""
    roots, live = [], []
    for r in _State.live:
        t = r()
        if t is not None and t._node is not None:
            roots.append(t._node)
            live.append(r)
    _State.live = live
    _State.pinned = [n for n in _State.pinned if n.value is None]
    return roots + _State.pinned


_force_lock = threading.RLock()


def force(roots: list[Node]):
    """Compute ``roots`` (pending nodes) together with everything else still pending and
    referenced: one data access runs all the work queued so far, in as few kernels as
    the graphs allow (gradients of several leaves share most of their graph)."""
    with _force_lock:  # graphs are shared state: one evaluation at a time
        return _force(roots)


def _force(roots: list[Node]):
    pending = _pending_roots()
    devs = {n.dev for n in roots} if roots else {n.dev for n in pending}
    if len(devs) <= 1 and all(n.dev in devs for n in pending):
        return _force_on(roots, pending, next(iter(devs), None))
    # graphs never span devices: each device's pending work is one graph of its own.
    # Forcing a tensor computes what is pending on its device only (a CPU read does not
    # launch GPU work); flush() (no roots) computes everything.
    result = None
    first = roots[0].dev if roots else None
    for d in sorted(devs, key=lambda d: -1 if d is None else d):
        r = _force_on([n for n in roots if n.dev == d], [n for n in pending if n.dev == d], d)
        if d == first:
            result = r
    return result


def _force_on(roots: list[Node], pending: list[Node], dev):
    order = _codegen.topo(list(roots) + pending)
    if not order:
        return None
    outs, seen = [], set()
    for n in roots:
        if n.value is None and id(n) not in seen:
            seen.add(id(n))
            outs.append(n)
    for n in order:
        if n.is_leaf or id(n) in seen:
            continue
        t = n.ref() if n.ref is not None else None
        if n.buf is not None or (t is not None and t._node is n):
            seen.add(id(n))
            outs.append(n)
    if not outs:  # everything asked for was computed already
        return None
    canon, nodes, sig = _codegen.canonicalize(order)
    index = {id(n): i for i, n in enumerate(nodes)}
    key = (sig, tuple(index[id(canon[id(n)])] for n in outs))
    if dev is not None:  # the same graph on another device is another plan
        key = ("cuda", dev, *key)
    _build.STATS["forces"] += 1
    plan = _State.plans.get(key)
    if plan is None:
        if dev is None:
            plan = _compile(outs, canon, nodes, key)
        else:
            plan = _gpu().compile_plan(outs, canon, nodes, key, dev)
        _State.plans[key] = plan
        _build.STATS["misses"] += 1
    else:
        _build.STATS["hits"] += 1
    if _State.trace is not None:  # explain(): keep the arguments, which running drops
        _State.trace["forces"].append(
            {
                "plan": plan,
                "nodes": nodes,
                "args": [[canon[id(a)] for a in n.args] if not n.is_leaf else None for n in nodes],
                "computed": sum(1 for n in order if not n.is_leaf),
            }
        )
    run_plan(plan, nodes, outs, canon)
    return plan, nodes, outs, canon, order


def run_plan(plan: _Plan, nodes: list[Node], outs: list[Node], canon: dict) -> None:
    arrays = []
    dev = plan.device
    for kind, i in plan.slots:
        if kind == "scratch":  # CUDA plans only
            arrays.append(_gpu().empty(*plan.scratch[i], dev))
            continue
        n = nodes[i]
        if kind == "in":
            a = n.value
        elif kind == "out" and n.buf is not None:
            a = n.buf
        elif dev is None:
            a = _pool.empty(n.shape, n.dtype)
        else:  # CuPy's memory pool
            a = _gpu().empty(n.shape, n.dtype, dev)
        arrays.append(a)
    plan.run(_ptrs(arrays) if dev is None else arrays)
    _build.STATS["kernels_run"] += len(plan.groups)
    by_node = {}
    for (kind, i), a in zip(plan.slots, arrays, strict=True):
        if kind == "out" or kind == "tmp":
            by_node[id(nodes[i])] = a
    for n in nodes:  # reductions read by later kernels are kept while their node lives
        a = by_node.get(id(n))
        if a is not None and n.value is None and n.op in ("sum", "mean", "amax", "amin"):
            n.value = a
    used = set()
    for n in outs:
        c = canon[id(n)]
        a = by_node[id(c)]
        if id(a) in used:  # merged by CSE with another requested node: its own copy
            a = a.copy() if n.buf is None else _into(n.buf, a)
        elif n.buf is not None and a is not n.buf:
            a = _into(n.buf, a)
        used.add(id(a))
        _finish(n, a)


def _into(buf, a):
    buf[...] = a
    return buf


def _finish(n: Node, a) -> None:
    n.value = a
    n.args = ()
    n.buf = None
    t = n.ref() if n.ref is not None else None
    if t is not None and t._node is n:
        _slot_set(t, a)
        t._node = None


def flush() -> None:
    """Force every pending lazy tensor still referenced (and every pinned node)."""
    force([])
