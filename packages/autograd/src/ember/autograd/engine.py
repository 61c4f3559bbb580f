"""Running backward: a dependency count per node, then nodes in reverse creation
order (a heap keyed on sequence number), gradients summed per output slot.
"""

from __future__ import annotations

import heapq

import numpy as np

from ember._tensor import Tensor, _wrap
from ember.autograd import formulas
from ember.autograd.grad_mode import state
from ember.autograd.graph import Node, _anomaly


def _ones_like(t: Tensor) -> Tensor:
    a = t._a
    xp = np if type(a) is np.ndarray else __import__("cupy")
    return _wrap(xp.ones(a.shape, a.dtype))


def _make_root_grads(outputs, grad_outputs):
    roots = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"outputs[{i}] must be a Tensor, got {type(out).__name__}")
        if not out.requires_grad:
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
    """Dependency counts of every node reachable from ``root_nodes``."""
    deps: dict[Node, int] = {}
    seen = set()
    stack = list(root_nodes)
    for n in root_nodes:
        seen.add(n)
    while stack:
        node = stack.pop()
        for e in node.edges:
            if e is None or isinstance(e, Tensor):
                continue
            child = e[0]
            deps[child] = deps.get(child, 0) + 1
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return deps


def _accumulate(buf, key, g):
    prev = buf.get(key)
    buf[key] = g if prev is None else prev + g


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
    # Gradient buffers: node -> {output_nr: grad}; leaves: id(tensor) -> grad
    node_grads: dict[Node, list] = {}
    leaf_grads: dict[int, list] = {}
    leaf_objs: dict[int, Tensor] = {}
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

    root_nodes = []
    for out, g in roots:
        fn = out._ag.grad_fn
        if fn is None:  # a leaf output: its gradient is the given one
            leaf_objs[id(out)] = out
            leaf_grads.setdefault(id(out), []).append(g)
        else:
            node_grads.setdefault(fn, [None] * fn.n_outputs)
            slot = node_grads[fn]
            nr = out._ag.output_nr
            slot[nr] = g if slot[nr] is None else slot[nr] + g
            root_nodes.append(fn)

    deps = _collect(root_nodes)
    heap = [(-n.seq, n) for n in set(root_nodes) if deps.get(n, 0) == 0]
    heapq.heapify(heap)
    prev_mode = state.enabled
    state.enabled = create_graph
    try:
        heappop, heappush = heapq.heappop, heapq.heappush
        Ctx = formulas.Ctx
        while heap:
            node = heappop(heap)[1]
            gys = node_grads.pop(node, None)
            if gys is None:
                gys = [None] * node.n_outputs
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
            edges = node.edges
            n_edges = len(edges)
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
        given = {id(g._a) for _, g in roots}
        _deliver_leaves(
            leaf_objs,
            leaf_grads,
            wanted_leaves,
            results,
            accumulate and results is None,
            create_graph,
            given,
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
    if g._a.dtype != t._a.dtype:
        g = g.to(t.dtype)
    if tuple(g.shape) != tuple(t.shape):
        g = formulas.sum_to(g, tuple(t.shape))
    if ag.grad is None:
        ag.grad = g if create_graph else _owned(g, set() if given is None else given)
    elif create_graph or ag.grad._ag is not None:
        ag.grad = ag.grad + g
    else:
        a = ag.grad._a
        a += g._a
        ag.grad._bump()
