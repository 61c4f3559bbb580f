"""The gradient reducer behind DistributedDataParallel: buckets, hooks, overlap.

Parameters are grouped into flat buckets (in reverse registration order, which is
roughly the order backward produces their gradients). After each synchronized
forward, :meth:`Reducer.prepare` walks the autograd graph from the outputs and
puts a hook on every node that feeds a parameter. As backward runs, each such
hook copies the parameter's gradient (plus any gradient accumulated under
``no_sync``) into its bucket; a full bucket starts a nonblocking all-reduce at
once, so communication overlaps the rest of backward. Buckets start strictly in
index order, so every rank issues the same collectives in the same order.

When the engine finally delivers a parameter's gradient, the parameter's own
hook (a leaf hook registered once) waits for its bucket and hands the averaged
gradient to the engine instead, which stores it as ``.grad``.
"""

from __future__ import annotations

import numpy as np

from ember import Tensor
from ember._tensor import _wrap

from . import _work
from ._work import DistError
from .collectives import _xp

__all__ = ["Reducer"]

_HALF = ("float16", "bfloat16")


def _sum_to(a: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum a broadcast gradient back to ``shape`` (what the engine does for leaves)."""
    if a.shape == shape:
        return a
    lead = a.ndim - len(shape)
    a = a.sum(axis=tuple(range(lead))) if lead > 0 else a
    axes = tuple(i for i, (n, m) in enumerate(zip(a.shape, shape)) if m == 1 and n != 1)
    return a.sum(axis=axes, keepdims=True) if axes else a


class _Bucket:
    __slots__ = ("index", "members", "flat", "pending", "work")

    def __init__(self, index: int, members: list[int], flat: np.ndarray) -> None:
        self.index, self.members, self.flat = index, members, flat
        self.pending = len(members)
        self.work = None


class Reducer:
    """Averages the gradients of ``params`` over ``group`` during backward."""

    def __init__(self, params: list[Tensor], names: list[str], group, bucket_bytes: int,
                 find_unused: bool) -> None:  # fmt: skip
        self.params, self.names, self.group = params, names, group
        self.find_unused = find_unused
        # buckets live where the parameters do: numpy for CPU, CuPy for CUDA (NCCL)
        self.xp = _xp(params[0]._a)
        self.index = {id(p): i for i, p in enumerate(params)}
        self.where: list[tuple[int, int, int]] = [None] * len(params)
        self.buckets = self._make_buckets(bucket_bytes)
        self.generation = 0
        self.active = False
        self.used_work = None  # the find_unused_parameters all-reduce of a step
        self.handles = [p.register_hook(self._leaf_hook(i)) for i, p in enumerate(params)]

    # ----- layout -----
    def _make_buckets(self, cap: int) -> list[_Bucket]:
        """Fill buckets in reverse parameter order; a new bucket per dtype or per ``cap``
        bytes. 16-bit float gradients are reduced in float32 buckets."""
        groups: list[tuple[np.dtype, list[int]]] = []
        size = 0
        for i in reversed(range(len(self.params))):
            dt = self.params[i]._a.dtype
            dt = np.dtype(np.float32) if dt.name in _HALF else dt
            nbytes = self.params[i]._a.size * dt.itemsize
            if not groups or groups[-1][0] != dt or (size + nbytes > cap and groups[-1][1]):
                groups.append((dt, []))
                size = 0
            groups[-1][1].append(i)
            size += nbytes
        buckets = []
        for b, (dt, members) in enumerate(groups):
            offset = 0
            for i in members:
                n = self.params[i]._a.size
                self.where[i] = (b, offset, n)
                offset += n
            buckets.append(_Bucket(b, members, self.xp.zeros(offset, dt)))
        return buckets

    # ----- per iteration -----
    def prepare(self, outputs: list[Tensor]) -> None:
        """Arm the hooks for the backward of ``outputs`` (called after each synced forward)."""
        self.generation += 1
        gen = self.generation
        for b in self.buckets:
            if b.work is not None:  # left over from a backward that raised: finish it
                b.work.wait()
            b.pending, b.work = len(b.members), None
        if self.used_work is not None:
            self.used_work.wait()
        self.next_launch = 0
        self.partial = [None] * len(self.params)
        self.expected = [0] * len(self.params)
        self.hooks_left = 0
        self.used = self.xp.zeros(len(self.params), np.uint8)
        self.used_work = None
        feeding = self._walk(outputs)
        for node, edges in feeding.items():
            node.register_hook(self._node_hook(gen, edges))
        unused = [i for i in range(len(self.params)) if self.expected[i] == 0]
        if unused and not self.find_unused:
            names = ", ".join(self.names[i] for i in unused[:8])
            raise DistError(
                f"DistributedDataParallel: {len(unused)} parameter(s) were not used to compute "
                f"the forward's outputs ({names}); pass find_unused_parameters=True to "
                "DistributedDataParallel if this is expected"
            )
        self.active = True
        for i in unused:
            self._ready(i, None)

    def _walk(self, outputs: list[Tensor]) -> dict:
        """Nodes of the graph behind ``outputs`` that take a parameter as input, with the
        (edge index, parameter index) pairs; counts each parameter's consumers."""
        feeding: dict = {}
        seen = set()
        stack = []
        for t in outputs:
            ag = t._ag
            if ag is not None and ag.grad_fn is not None and ag.grad_fn not in seen:
                seen.add(ag.grad_fn)
                stack.append(ag.grad_fn)
        while stack:
            node = stack.pop()
            for k, e in enumerate(node.edges):
                if e is None:
                    continue
                if isinstance(e, Tensor):
                    i = self.index.get(id(e))
                    if i is not None:
                        feeding.setdefault(node, []).append((k, i))
                        self.expected[i] += 1
                elif e[0] not in seen:
                    seen.add(e[0])
                    stack.append(e[0])
        return feeding

    def _node_hook(self, gen: int, edges: list[tuple[int, int]]):
        def hook(gxs, gys):
            if gen != self.generation or not self.active:
                return None  # a stale graph (retain_graph) or a no_sync backward
            for k, i in edges:
                g = gxs[k] if k < len(gxs) else None
                if g is not None:
                    a = g._a
                    self.partial[i] = a if self.partial[i] is None else self.partial[i] + a
                self.expected[i] -= 1
                if self.expected[i] == 0:
                    self._ready(i, self.partial[i])
            # give MPI a chance to move the buckets already in flight
            for b in self.buckets[: self.next_launch]:
                b.work.is_completed()
            return None

        return hook

    def _ready(self, i: int, g: np.ndarray | None) -> None:
        """Parameter ``i``'s gradient for this iteration is known: into its bucket."""
        b, off, n = self.where[i]
        bucket = self.buckets[b]
        view = bucket.flat[off : off + n]
        p = self.params[i]
        old = p.grad
        if g is None:
            view[:] = 0
        else:
            view[:] = _sum_to(g, tuple(p.shape)).reshape(-1)
            self.used[i] = 1
            self.hooks_left += 1  # the engine will deliver it: its leaf hook will fire
        if old is not None:
            view += old._a.reshape(-1)  # gradients accumulated under no_sync() count too
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch()

    def _launch(self) -> None:
        """Start every bucket that is full, in index order."""
        backend, timeout = self.group.backend, self.group.timeout_s
        while self.next_launch < len(self.buckets):
            bucket = self.buckets[self.next_launch]
            if bucket.pending:
                return
            bucket.work = _work.Work(_one(backend.allreduce(bucket.flat, "SUM")), timeout,
                                     _describe(self.group, bucket))  # fmt: skip
            self.next_launch += 1
        if self.find_unused:  # which parameters got a gradient on any rank
            what = lambda: "DistributedDataParallel's used-parameter map"  # noqa: E731
            self.used_work = _work.Work(_one(backend.allreduce(self.used, "MAX")), timeout, what)
        if self.hooks_left == 0:
            self._finish()

    def _leaf_hook(self, i: int):
        def hook(g: Tensor):
            if not self.active:
                return None
            b, off, n = self.where[i]
            bucket = self.buckets[b]
            if bucket.work is None:
                raise DistError(
                    "DistributedDataParallel: backward reached parameter "
                    f"{self.names[i]} before every parameter's gradient was computed: some "
                    "outputs of the forward took no part in the loss (use "
                    "find_unused_parameters=True) or the parameter was used outside the "
                    "wrapped module"
                )
            self._check_same(i, g)
            bucket.work.wait()
            p = self.params[i]
            # reshape, then divide: a fresh array the engine adopts as .grad without a copy
            avg = bucket.flat[off : off + n].reshape(p.shape) / self.group.size()
            if avg.dtype != p._a.dtype:
                avg = avg.astype(p._a.dtype)
            p.grad = None  # the bucket already holds the old gradient: replace, not add
            self.hooks_left -= 1
            if self.hooks_left == 0:
                self._finish()
            return _wrap(avg)

        return hook

    def _check_same(self, i: int, g: Tensor) -> None:
        """The engine's gradient must be the one the node hooks saw; anything else means
        the parameter also got gradient from outside the wrapped forward."""
        mine = self.partial[i]
        if mine is g._a or (
            mine is not None and mine.shape == g._a.shape and bool((mine == g._a).all())
        ):
            return
        raise DistError(
            f"DistributedDataParallel: parameter {self.names[i]} received gradient from "
            "outside the wrapped module's forward; its reduced gradient would be wrong. Use "
            "the parameter only inside the module (or wrap the whole computation)."
        )

    def _finish(self) -> None:
        """All buckets are in flight and every delivered gradient is stored: write the
        averaged gradients of parameters the engine does not deliver (unused here)."""
        self.active = False
        if self.used_work is not None:
            self.used_work.wait()
        for i, p in enumerate(self.params):
            if self.partial[i] is not None or (self.find_unused and not self.used[i]):
                continue  # delivered by its leaf hook, or unused on every rank: untouched
            b, off, n = self.where[i]
            self.buckets[b].work.wait()
            avg = self.buckets[b].flat[off : off + n].reshape(p.shape) / self.group.size()
            p.grad = _wrap(avg.astype(p._a.dtype, copy=False))

    def remove(self) -> None:
        """Unregister the leaf hooks."""
        for h in self.handles:
            h.remove()


def _one(request):
    """An operation made of one engine request."""
    yield request


def _describe(group, bucket: _Bucket):
    return lambda: (
        f"DistributedDataParallel gradient bucket {bucket.index} ({bucket.flat.size} "
        f"{bucket.flat.dtype}) on rank {group.global_rank}"
    )
