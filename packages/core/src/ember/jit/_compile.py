"""``compile(fn)``: run ``fn`` lazily once per input signature, then replay its plan.

The first call with a signature (each tensor argument's shape, strides and dtype,
every other argument's value) runs ``fn`` under :class:`lazy` and forces its
outputs. When that call was one straight-line graph, the fused plan is kept with
where each of its inputs came from, and later calls with the same signature run
the compiled kernels directly: no Python op calls, no graph, no codegen.

What makes a call unreplayable (it then simply runs lazily every time, still
hitting the in-memory kernel cache): outputs that are not all tensors computed by
the final graph; data read during the call (``.item()``, ``bool()``, a
non-fusible op on a lazy tensor), since Python control flow may depend on it; a
graph input that is neither an argument nor a tensor still alive after the call
(an array computed inside ``fn`` by a non-fusible op); arguments requiring grad
(the tape must be recorded); a graph on a CUDA device. As with ``torch.jit.trace``,
Python-level decisions on non-tensor values are baked into the replay: such values
are in the signature.
Tensors that ``fn`` captures (not arguments) are read at each replay.
"""

from __future__ import annotations

import functools

import numpy as np

from ember._tensor import Tensor, _wrap
from ember.jit import _build, _lazy, _pool
from ember.jit._lazy import LazyTensor, force
from ember.jit._mode import lazy


def _sig(args):
    """The replay key of an argument tuple, or None when an argument cannot be keyed."""
    key = []
    for v in args:
        if isinstance(v, Tensor):
            a = v._a
            if type(v) is LazyTensor or type(a) is not np.ndarray:
                return None
            key.append((a.shape, a.strides, a.dtype, v._ag is not None))
        elif isinstance(v, bool | int | float | str | type(None)):
            key.append((type(v), v))
        elif isinstance(v, tuple | list):
            k = _sig(v)
            if k is None:
                return None
            key.append((type(v), k))
        else:
            return None
    return tuple(key)


def _flatten(out, acc):
    """The tensors of ``out`` (a tensor or nested tuples/lists of them) and its layout."""
    if isinstance(out, Tensor):
        acc.append(out)
        return "T"
    if isinstance(out, tuple | list):
        return (type(out), tuple(_flatten(o, acc) for o in out))
    raise TypeError  # anything else: not replayable


def _unflatten(layout, it):
    if layout == "T":
        return next(it)
    kind, parts = layout
    return kind(_unflatten(p, it) for p in parts)


class _Replay:
    __slots__ = ("plan", "sources", "n_slots", "outs", "layout", "shapes")

    def __call__(self, args):
        arrays = []
        for src in self.sources:
            kind, v, meta = src
            if kind == "arg":
                a = args[v]._a
            elif kind == "captured":
                t = v()
                if t is None:
                    return None
                a = t._a
                if type(a) is not np.ndarray or (a.shape, a.strides, a.dtype) != meta:
                    return None
            else:  # an output or scratch buffer
                a = _pool.empty(*meta)
            arrays.append(a)
        self.plan.run(_lazy._ptrs(arrays))
        res, used = [], set()
        for slot in self.outs:
            a = arrays[slot]
            if slot in used:
                a = a.copy()
            used.add(slot)
            res.append(_wrap(a))
        return _unflatten(self.layout, iter(res))


def _make_replay(result, args, forced, forces_before) -> _Replay | None:
    if forced is None or _build.STATS["forces"] != forces_before + 1:
        return None
    tensors = []
    try:
        layout = _flatten(result, tensors)
    except TypeError:
        return None
    plan, nodes, outs, canon, _ = forced
    if plan.device is not None:  # replays run CPU plans only; CUDA graphs run lazily
        return None
    slot_index = {}
    for i, (kind, ci) in enumerate(plan.slots):
        slot_index[(kind, ci)] = i
    node_index = {id(n): i for i, n in enumerate(nodes)}
    out_slots = []
    for t in tensors:
        n = _node_of(t, outs)
        if n is None:
            return None
        out_slots.append(slot_index[("out", node_index[id(canon[id(n)])])])
    by_array = {id(a._a): k for k, a in enumerate(args) if isinstance(a, Tensor)}
    sources = []
    for kind, ci in plan.slots:
        n = nodes[ci]
        if kind != "in":
            sources.append(("buf", None, (n.shape, n.dtype)))
            continue
        a = n.value
        k = by_array.get(id(a))
        if k is not None:
            sources.append(("arg", k, None))
            continue
        t = n.ref() if n.ref is not None else None
        if n.op != "input" or t is None or t._a is not a:
            return None  # computed inside fn: a replay would reuse a stale array
        sources.append(("captured", n.ref, (a.shape, a.strides, a.dtype)))
    r = _Replay()
    r.plan, r.sources, r.outs, r.layout = plan, sources, out_slots, layout
    return r


def _node_of(t, outs):
    for n in outs:
        if n.value is t._a or (n.ref is not None and n.ref() is t):
            return n
    return None


def compile(fn):  # noqa: A001 - the name the issue asks for (torch.compile's)
    """Decorator: run ``fn`` under :class:`lazy` and cache its fused plan per input
    signature, so later calls with the same signature only run the compiled kernels.

    ``fn`` takes tensors (and plain values) and returns a tensor or a tuple/list of
    them. ``wrapper.cache_info()`` gives the number of replayable signatures.
    """
    replays: dict = {}

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        key = _sig(args) if not kwargs else None
        if key is not None:
            rp = replays.get(key)
            if rp is not None:
                r = rp(args)
                if r is not None:
                    _build.STATS["replays"] += 1
                    return r
        before = _build.STATS["forces"]
        with lazy():
            result = fn(*args, **kwargs)
            tensors = []
            try:
                _flatten(result, tensors)
            except TypeError:
                tensors = []
            roots = [t._node for t in tensors if type(t) is LazyTensor and t._node is not None]
            forced = force(roots) if roots else None
        grad = any(isinstance(a, Tensor) and a._ag is not None for a in args)
        if key is not None and not grad:
            rp = _make_replay(result, args, forced, before)
            if rp is not None:
                replays[key] = rp
        return result

    wrapper.cache_info = lambda: {"signatures": len(replays)}
    return wrapper
