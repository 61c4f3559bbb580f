"""Running backward: nodes in reverse creation order (a heap keyed on sequence number),
gradients summed per output slot, leaves' gradients delivered at the end.

Two walks share that order. A backward that records nothing (the common case) runs
:func:`_walk_arrays`: gradients are backend arrays and the commonest ops take their
derivative on arrays (``_array_formulas``). ``create_graph`` and anomaly mode run
:func:`_walk`, where every formula works on Tensors, so the backward is itself recorded.
"""

from __future__ import annotations

import heapq

import numpy as np

from ember._tensor import Tensor, _wrap
from ember.autograd import _array_formulas, formulas
from ember.autograd.grad_mode import state
from ember.autograd.graph import Node, _anomaly

_ndarray = np.ndarray
_generic = np.generic
_empty = np.empty


def _ones_like(t: Tensor) -> Tensor:
    a = t._a
    if type(a) is _ndarray:
        g = _empty(a.shape, a.dtype)  # (np.ones is Python code around these two calls)
        g.fill(1)
        return _wrap(g)
    return _wrap(__import__("cupy").ones(a.shape, a.dtype))


def _make_root_grads(outputs, grad_outputs):
    roots = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"outputs[{i}] must be a Tensor, got {type(out).__name__}")
        ag = out._ag
        if ag is None or not ag.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn"
            )
        if g is None:
            if out._a.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs (output {i} has "
                    f"shape {tuple(out.shape)}); pass a gradient of that shape"
                )
            g = _ones_like(out)
        elif not isinstance(g, Tensor):
            raise TypeError(f"grad_outputs[{i}] must be a Tensor or None")
        elif tuple(g.shape) != tuple(out.shape):
            if g.numel() == out.numel():
                # Legacy PyTorch (the seed's RNN example) accepted any gradient with the
                # output's number of elements; keep that, reading it in row-major order.
                roots.append((out, g.reshape(out.shape)))
                continue
            raise RuntimeError(
                f"Mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                f"output[{i}] has a shape of {tuple(out.shape)}."
            )
        roots.append((out, g))
    return roots


def _collect(root_nodes):
    """Dependency counts of every node reachable from ``root_nodes`` (roots count the
    edges from other roots only)."""
    deps: dict[Node, int] = dict.fromkeys(root_nodes, 0)
    stack = list(deps)
    while stack:
        node = stack.pop()
        for e in node.edges:
            if type(e) is tuple:
                child = e[0]
                d = deps.get(child)
                if d is None:
                    deps[child] = 1
                    stack.append(child)
                else:
                    deps[child] = d + 1
    return deps


def run_backward(
    outputs,
    grad_outputs,
    retain_graph: bool,
    create_graph: bool,
    inputs=None,
    accumulate: bool = True,
    allow_unused: bool = False,
):
    """The engine. With ``accumulate`` the leaves' ``.grad`` grow; otherwise the
    gradients of ``inputs`` are returned (``ember.autograd.grad``)."""
    roots = _make_root_grads(outputs, grad_outputs)
    wanted_nodes: dict[tuple, int] = {}
    wanted_leaves: dict[int, int] = {}
    results = None
    if inputs is not None:
        results = [None] * len(inputs)
        for i, x in enumerate(inputs):
            if not isinstance(x, Tensor) or not x.requires_grad:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}) does not require grad"
                )
            fn = x._ag.grad_fn
            if fn is None:
                wanted_leaves[id(x)] = i
            else:
                wanted_nodes[(fn, x._ag.output_nr)] = i

    prev_mode = state.enabled
    state.enabled = create_graph
    try:
        # (deps None: each walk orders the nodes its own way)
        if not create_graph and not _anomaly.enabled:
            walk = _walk_arrays(roots, None, retain_graph, wanted_nodes, results)
        else:
            walk = _walk(roots, None, retain_graph, create_graph, wanted_nodes, results)
        _deliver_leaves(
            *walk,
            wanted_leaves,
            results,
            accumulate and results is None,
            create_graph,
            {id(g._a) for _, g in roots},
        )
        if results is not None and accumulate:
            _deliver_selected(inputs, results, create_graph)
    finally:
        state.enabled = prev_mode
    if results is not None and not allow_unused and not accumulate:
        for i, r in enumerate(results):
            if r is None:
                raise RuntimeError(
                    f"One of the differentiated Tensors (input {i}) appears to not have been "
                    "used in the graph. Set allow_unused=True if this is the desired behavior."
                )
    return results


def _walk(roots, deps, retain_graph, create_graph, wanted_nodes, results):
    """The Tensor-level walk: hooks, retained gradients, anomaly checks and recorded
    (``create_graph``) backward passes. Returns the leaves and their gradients."""
    node_grads: dict[Node, list] = {}  # node -> one gradient per output slot
    leaf_grads: dict[int, list] = {}  # id(leaf) -> its gradients, summed on delivery
    leaf_objs: dict[int, Tensor] = {}
    for out, g in roots:
        fn = out._ag.grad_fn
        if fn is None:  # a leaf output: its gradient is the given one
            leaf_objs[id(out)] = out
            leaf_grads.setdefault(id(out), []).append(g)
        else:
            slot = node_grads.setdefault(fn, [None] * fn.n_outputs)
            nr = out._ag.output_nr
            slot[nr] = g if slot[nr] is None else slot[nr] + g
    if deps is None:
        deps = _collect(list(node_grads))
    heap = [(-n.seq, n) for n in node_grads if deps[n] == 0]
    heapq.heapify(heap)
    heappop, heappush = heapq.heappop, heapq.heappush
    while heap:
        node = heappop(heap)[1]
        gys = node_grads.pop(node, None)
        if gys is None:
            gys = [None] * node.n_outputs
        gxs = _tensor_step(node, gys, create_graph, retain_graph, wanted_nodes, results)
        edges = node.edges
        i = 0
        for e in edges:
            gx = gxs[i]
            i += 1
            if e is None:
                continue
            if type(e) is not tuple:
                if gx is not None:
                    leaf_objs[id(e)] = e
                    leaf_grads.setdefault(id(e), []).append(gx)
                continue
            child, nr = e
            slot = node_grads.get(child)
            if slot is None:
                slot = node_grads[child] = [None] * child.n_outputs
            if gx is not None:
                prev = slot[nr]
                slot[nr] = gx if prev is None else prev + gx
            d = deps[child] - 1
            deps[child] = d
            if d == 0:
                heappush(heap, (-child.seq, child))
    return leaf_objs, leaf_grads


def _tensor_step(node, gys, create_graph, retain_graph, wanted_nodes, results):
    """One node of the Tensor-level walk: its hooks, retained gradients and formula.
    Returns one gradient (or None) per edge."""
    extra = node.extra
    if extra is not None and extra.get("pre_hooks"):
        gys = _run_pre_hooks(node, gys)
    if results is not None:
        for nr, g in enumerate(gys):
            idx = wanted_nodes.get((node, nr))
            if idx is not None:
                results[idx] = g
    if extra is not None and extra.get("retained"):
        _deliver_retained(node, gys, create_graph)
    if node.freed:
        _raise_freed()
    n_edges = len(node.edges)
    Ctx = formulas.Ctx
    if node.n_outputs == 1:
        gy = gys[0]
        gxs = None if gy is None else node.formula(Ctx(node, create_graph), gy)
    elif any(g is not None for g in gys):
        gxs = node.formula(Ctx(node, create_graph), tuple(gys))
    else:
        gxs = None
    if gxs is None:
        gxs = (None,) * n_edges
    else:
        if type(gxs) is not tuple:
            gxs = (gxs,)
        if len(gxs) < n_edges:
            gxs = gxs + (None,) * (n_edges - len(gxs))
        if _anomaly.enabled:
            _check_nan(node, gxs)
    if not retain_graph:
        node.saved_inputs = node.saved_output = None
        node.freed = True
    if extra is not None and extra.get("post_hooks"):
        for h in extra["post_hooks"]:
            r = h(gxs, tuple(gys))
            if r is not None:
                gxs = tuple(r)
    return gxs


def _walk_arrays(roots, deps, retain_graph, wanted_nodes, results):
    """The walk for a backward that records nothing: gradients travel as backend arrays,
    the commonest ops take their derivative on arrays directly (``_array_formulas``),
    the rest (and nodes with hooks) run as in :func:`_walk` on Tensors wrapped around
    the arrays.

    No dependency counts (``deps`` is unused): nodes run in decreasing sequence number
    among those discovered so far. A consumer is always created after its inputs, so
    every consumer of the node with the largest number has already run; the order is
    the one :func:`_walk` takes. When a node discovers one new input that comes next
    anyway, the heap is skipped (the common case: a chain).
    """
    fast = _array_fns()
    grads = {}  # node -> gradient array (one output) or list of them (several)
    leaf_grads: dict[int, list] = {}
    leaf_objs: dict[int, Tensor] = {}
    for out, g in roots:
        ag = out._ag
        fn = ag.grad_fn
        if fn is None:
            leaf_objs[id(out)] = out
            leaf_grads.setdefault(id(out), []).append(g._a)
        else:
            _add_slot(grads, fn, ag.output_nr, g._a)
    seen = set(grads)
    heap = [(-n.seq, n) for n in seen]
    heapq.heapify(heap)
    heappop, heappush, heappushpop = heapq.heappop, heapq.heappush, heapq.heappushpop
    node = heappop(heap)[1] if heap else None
    while node is not None:
        if node.extra is not None:
            gxs = _hooked_step(node, grads.pop(node, None), retain_graph, wanted_nodes, results)
        elif node.n_outputs == 1:
            if node.freed:
                _raise_freed()
            gy = grads.pop(node, None)
            if gy is None:
                gxs = None
            else:
                if results is not None:
                    idx = wanted_nodes.get((node, 0))
                    if idx is not None:
                        results[idx] = _tensor(gy)
                f = fast.get(node.formula)
                gxs = None if f is None else f(node, gy)
                if gxs is None:
                    gxs = _unwrap(node.formula(formulas.Ctx(node, False), _tensor(gy)), node)
            if not retain_graph:
                node.saved_inputs = node.saved_output = None
                node.freed = True
        else:
            gxs = _hooked_step(node, grads.pop(node, None), retain_graph, wanted_nodes, results)
        new = None
        i = -1
        for e in node.edges:
            i += 1
            if e is None:
                continue
            gx = None if gxs is None else gxs[i]
            if type(e) is not tuple:
                if gx is not None:
                    leaf_objs[id(e)] = e
                    leaf_grads.setdefault(id(e), []).append(gx)
                continue
            child = e[0]
            if gx is not None:
                if child.n_outputs == 1:
                    prev = grads.get(child)
                    grads[child] = gx if prev is None else prev + gx
                else:
                    _add_slot(grads, child, e[1], gx)
            if child not in seen:
                seen.add(child)
                if new is None:
                    new = child
                else:
                    heappush(heap, (-child.seq, child))
        if new is not None:
            node = heappushpop(heap, (-new.seq, new))[1] if heap else new
        else:
            node = heappop(heap)[1] if heap else None
    for key, gs in leaf_grads.items():
        g = gs[0]
        for extra in gs[1:]:
            g = g + extra
        leaf_grads[key] = [_tensor(g)]
    return leaf_objs, leaf_grads


def _hooked_step(node, gys, retain_graph, wanted_nodes, results):
    """A node with hooks or several outputs in the array walk: :func:`_tensor_step` on
    Tensors over the gradient arrays; its gradients come back as arrays."""
    n = node.n_outputs
    if gys is None:
        gys = [None] * n
    elif n == 1:
        gys = [gys]
    gys = [None if g is None else _tensor(g) for g in gys]
    gxs = _tensor_step(node, gys, False, retain_graph, wanted_nodes, results)
    return [g._a if isinstance(g, Tensor) else g for g in gxs]


def _add_slot(grads, node, nr, g):
    if node.n_outputs == 1:
        prev = grads.get(node)
        grads[node] = g if prev is None else prev + g
        return
    slot = grads.get(node)
    if slot is None:
        slot = grads[node] = [None] * node.n_outputs
    prev = slot[nr]
    slot[nr] = g if prev is None else prev + g


def _tensor(a) -> Tensor:
    """A Tensor over gradient array ``a`` (numpy gives 0-d results as scalars)."""
    if type(a) is not _ndarray and isinstance(a, _generic):
        a = np.asarray(a)
    return _wrap(a)


def _unwrap(gxs, node):
    """A formula's Tensor gradients as arrays, one per edge of ``node``."""
    n = len(node.edges)
    if gxs is None:
        return None
    if type(gxs) is not tuple:
        gxs = (gxs,)
    out = [g._a if isinstance(g, Tensor) else g for g in gxs]
    if len(out) < n:
        out += [None] * (n - len(out))
    return out


_ARRAY_FNS = None


def _array_fns() -> dict:
    # Built at the first backward, once every formula module has registered.
    global _ARRAY_FNS
    if _ARRAY_FNS is None:
        _ARRAY_FNS = _array_formulas.by_formula()
    return _ARRAY_FNS


def _run_pre_hooks(node: Node, gys):
    if not node.pre_hooks:
        return gys
    gys = list(gys)
    for nr, fn in node.pre_hooks:
        if nr is None:
            r = fn(tuple(gys))
            if r is not None:
                gys = list(r)
        elif gys[nr] is not None:
            r = fn(gys[nr])
            if r is not None:
                gys[nr] = r
    return gys


def _raise_freed():
    raise RuntimeError(
        "Trying to backward through the graph a second time (or directly access saved "
        "tensors after they have already been freed). Saved intermediate values of the graph "
        "are freed when you call .backward() or autograd.grad(). Specify retain_graph=True if "
        "you need to backward through the graph a second time or if you need to access saved "
        "tensors after calling backward."
    )


def _deliver_retained(node, gys, create_graph):
    for nr, ref in node.retained.items():
        t = ref()
        if t is not None and gys[nr] is not None:
            g = gys[nr] if create_graph else gys[nr].detach()
            t._ag.grad = g if t._ag.grad is None else t._ag.grad + g


def _check_nan(node, gxs):
    for i, g in enumerate(gxs):
        if isinstance(g, Tensor) and g._a.dtype.kind in "fc" and bool(np.isnan(g._a).any()):
            raise RuntimeError(
                f"Function '{node.name()}' returned nan values in its {i}th output.\n"
                f"The forward call that created it:\n{node.trace or '(no trace recorded)'}"
            )


def _deliver_leaves(leaf_objs, leaf_grads, wanted_leaves, results, accumulate, create_graph, given):
    for key, grads in leaf_grads.items():
        t = leaf_objs[key]
        g = grads[0]
        for extra in grads[1:]:
            g = g + extra
        if results is not None and key in wanted_leaves:
            results[wanted_leaves[key]] = g
        if not accumulate:
            continue
        ag = t._ag
        if ag.hooks:
            for h in ag.hooks:
                r = h(g)
                if r is not None:
                    g = r
        _accumulate_into(t, g, create_graph, given)


def _deliver_selected(inputs, results, create_graph):
    for t, g in zip(inputs, results):
        if g is not None and t._ag.grad_fn is None:
            _accumulate_into(t, g, create_graph)
        elif g is not None:
            t._ag.grad = g if t._ag.grad is None else t._ag.grad + g


def _owned(g: Tensor, given: set) -> Tensor:
    """``g`` when it owns a fresh writable buffer no other leaf got, else a copy (``.grad``
    is updated in place by optimizers, so it must not alias anything else)."""
    a = g._a
    if a.base is None and a.flags.writeable and a.flags.c_contiguous and id(a) not in given:
        given.add(id(a))
        return _wrap(a)
    return _wrap(a.copy())


def _accumulate_into(t: Tensor, g: Tensor, create_graph: bool, given: set = None) -> None:
    ag = t._ag
    ga, ta = g._a, t._a
    if ga.dtype != ta.dtype:
        g = g.to(t.dtype)
    if ga.shape != ta.shape:
        g = formulas.sum_to(g, ta.shape)
    if ag.grad is None:
        ag.grad = g if create_graph else _owned(g, set() if given is None else given)
    elif create_graph or ag.grad._ag is not None:
        ag.grad = ag.grad + g
    else:
        a = ag.grad._a
        a += g._a
        ag.grad._bump()
