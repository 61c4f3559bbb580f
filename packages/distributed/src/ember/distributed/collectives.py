"""Collectives on tensors, in place, with ``async_op=True`` returning a :class:`Work`.

Every operation first all-gathers a small header (see ``_meta``) so that ranks
passing different shapes, dtypes, roots or operations all raise the same
``DistError`` naming each rank's call. Contiguous tensors are handed to the
engine without a copy; a non-contiguous one is copied into a contiguous buffer
and the result copied back. float16/bfloat16 reductions run in float32 and are
rounded back once at the end (MPI has no portable 16-bit float type; this is
also more accurate than reducing in 16 bits). Ranks (``src``, ``dst``) are global.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from ember import Tensor

from . import _meta, _work
from ._work import DistError, Work
from .process_group import ProcessGroup, ReduceOp, _resolve, _state

__all__ = [
    "all_gather",
    "all_gather_into_tensor",
    "all_reduce",
    "all_to_all",
    "barrier",
    "broadcast",
    "gather",
    "reduce",
    "reduce_scatter",
    "reduce_scatter_tensor",
    "scatter",
]

_HALF = ("float16", "bfloat16")
_AVG = ReduceOp.AVG
_clock = time.monotonic


# ----- shared helpers -----
def _member(group: ProcessGroup | None, name: str) -> ProcessGroup:
    g = _resolve(group)
    if g.group_rank < 0:
        raise DistError(f"{name}: this process (rank {g.global_rank}) is not a member of {g!r}")
    return g


def _array(g: ProcessGroup, t, name: str, what: str = "tensor"):
    """The storage of tensor ``t``, checked against the backend's device."""
    if not isinstance(t, Tensor):
        raise TypeError(f"{name}: {what} must be an ember.Tensor, got {type(t).__name__}")
    a = t._a
    on_cpu = type(a) is np.ndarray
    want_cpu = g.backend.device_type == "cpu"
    if on_cpu != want_cpu:
        raise DistError(
            f"{name}: {what} is on {t.device} but backend {g.backend_name!r} moves "
            f"{'CPU' if want_cpu else 'CUDA'} tensors (use backend='nccl' for CUDA tensors, "
            "'mpi' for CPU ones)"
        )
    return a


def _tensors(g: ProcessGroup, ts, name: str, what: str, like) -> list:
    """Check a list of ``size`` tensors shaped and typed like array ``like``."""
    if not isinstance(ts, list | tuple):
        raise TypeError(f"{name}: {what} must be a list of tensors, got {type(ts).__name__}")
    if len(ts) != g.size():
        raise ValueError(
            f"{name}: {what} must hold one tensor per rank ({g.size()}), got {len(ts)}"
        )
    arrays = [_array(g, t, name, f"{what}[{i}]") for i, t in enumerate(ts)]
    for i, a in enumerate(arrays):
        if a.shape != like.shape or a.dtype != like.dtype:
            raise ValueError(
                f"{name}: {what}[{i}] has shape {tuple(a.shape)} and dtype {a.dtype}, expected "
                f"shape {tuple(like.shape)} and dtype {like.dtype} (like the input tensor)"
            )
    return arrays


def _contiguous(a):
    """``a`` itself when the engine can use it in place, else a contiguous copy."""
    if a.flags.c_contiguous and getattr(a.flags, "writeable", True):
        return a
    return a.copy(order="C")


def _store(t: Tensor, a, src) -> None:
    """Write ``src`` into tensor ``t`` (storage ``a``) unless it already is that storage."""
    if src is not a:
        a[...] = src
    t._bump()


# (op value, dtype) pairs already found valid: validating costs microseconds (numpy's
# dtype.name), a few percent of a 1 MB all-reduce.
_VALID_OPS: set = set()


def _op(op, name: str, dtype) -> ReduceOp:
    if not isinstance(op, ReduceOp):
        raise TypeError(f"{name}: op must be an ember.distributed.ReduceOp, got {op!r}")
    if (op._value_, dtype) in _VALID_OPS:
        return op
    dname = _meta.dtype_name(dtype)
    kind = np.dtype(dtype).kind if dname not in _HALF else "f"
    if op is ReduceOp.AVG and kind not in "fc":
        raise TypeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {dtype}")
    if op in (ReduceOp.BAND, ReduceOp.BOR, ReduceOp.BXOR) and kind not in "biu":
        raise TypeError(f"{name}: ReduceOp.{op.name} needs an integer or bool tensor, got {dtype}")
    if op in (ReduceOp.MIN, ReduceOp.MAX) and kind == "c":
        raise TypeError(f"{name}: ReduceOp.{op.name} is undefined for complex tensors ({dtype})")
    if len(_VALID_OPS) < 1024:
        _VALID_OPS.add((op._value_, dtype))  # the enum's own hash runs in Python
    return op


def _reduction_buffer(a):
    """The buffer to reduce in: ``a`` itself, or a float32 copy for 16-bit floats."""
    if _meta.dtype_name(a.dtype) in _HALF:
        return a.astype(np.float32)
    return a


def _engine_op(op: ReduceOp) -> str:
    return "SUM" if op is ReduceOp.AVG else op.value


def _finish_reduction(buf, op: ReduceOp, size: int) -> None:
    if op is ReduceOp.AVG:
        buf /= size


def _agree(g: ProcessGroup, name: str, header: np.ndarray) -> None:
    """Exchange headers, waited for here even for ``async_op=True``; raise the same
    DistError on every rank when they differ.

    Waiting here makes every collective post its data request during the call, so the
    engine sees the ranks' collectives in program order. Posting it later, when the
    Work is next polled, let ranks that polled at different moments post two
    operations' data in different orders: MPI then paired one rank's first all-reduce
    with the other's second and summed the wrong tensors, silently.
    """
    if g.size() == 1 or not g.check:
        return
    table = np.empty((g.size(), _meta.HEADER_LEN), np.int64)
    _wait(g, g.backend.meta_allgather(header, table), name)
    message = _meta.mismatch(name, table, g.ranks)
    if message is not None:
        raise DistError(message)


def _wait(g: ProcessGroup, request, name: str) -> None:
    """Poll ``request`` to completion within the group's timeout."""
    limit = g.timeout_s
    _work.wait_for(request, _clock() + limit, _what(g, name), limit)


def _describe(g: ProcessGroup, name: str, a=None) -> str:
    on = f" of shape {tuple(a.shape)} ({a.dtype})" if a is not None else ""
    return f"{name}{on} on rank {g.global_rank} (group ranks {g.ranks})"


def _what(g: ProcessGroup, name: str, a=None):
    return functools.partial(_describe, g, name, a)


def _run(g: ProcessGroup, steps, name: str, a, async_op: bool):
    return _work.run(steps, g.timeout_s, _what(g, name, a), async_op)


# ----- collectives -----
def broadcast(tensor: Tensor, src: int, group=None, async_op: bool = False) -> Work | None:
    """Copy ``tensor`` from rank ``src`` into ``tensor`` on every rank of the group."""
    g = _member(group, "broadcast")
    a = _array(g, tensor, "broadcast")
    root = g.to_group_rank(src, "src")
    header = _meta.header("broadcast", a.shape, a.dtype, root)

    def steps():
        _agree(g, "broadcast", header)
        buf = _contiguous(a)
        yield g.backend.broadcast(buf, root)
        _store(tensor, a, buf)

    return _run(g, steps(), "broadcast", a, async_op)


def all_reduce(
    tensor: Tensor, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False
) -> Work | None:
    """Combine ``tensor`` across the group with ``op``; every rank gets the result."""
    g = _state.world if group is None else None
    if g is None or g.group_rank < 0:
        g = _member(group, "all_reduce")
    a = _array(g, tensor, "all_reduce")
    dtype = a.dtype
    if op.__class__ is not ReduceOp or (op._value_, dtype) not in _VALID_OPS:
        op = _op(op, "all_reduce", dtype)
    header = _meta.header("all_reduce", a.shape, dtype, -1, op._value_)
    size = len(g.ranks)
    flags = a.flags
    in_place = flags.c_contiguous and getattr(flags, "writeable", True)
    if async_op or size == 1 or not in_place or _meta.dtype_name(dtype) in _HALF:
        steps = _all_reduce_steps(g, tensor, a, op, header)
        return _run(g, steps, "all_reduce", a, async_op)
    # The synchronous call on a tensor the engine reduces in place, written out: each
    # Python step here runs on caches the data just flushed and costs several times
    # what it does warm (the generator path spent 30 us before the request went out,
    # 15% of a 1 MB reduce), so this path is one function with few calls.
    backend, limit = g.backend, g.timeout_s
    now = _clock()
    deadline, first = now + limit, _work._first_spin_s
    if g.check:
        # Before any data moves: ranks passing different counts to one MPI collective
        # is undefined behaviour, so a mismatch must stop the call here.
        table = g._table if g._table is not None else g.header_table()
        test = backend.meta_allgather(header, table).test
        while not test():  # poll's first phase, inline (a call costs ~1% here)
            if _clock() > now + first:
                _work.poll(_Test(test), deadline, _what(g, "all_reduce", a), limit, first)
                break
        if table.tobytes() != header.tobytes() * size:
            raise DistError(_meta.mismatch("all_reduce", table, g.ranks))
    test = backend.allreduce(a, "SUM" if op is _AVG else op._value_).test
    now = _clock()
    while not test():
        if _clock() > now + first:
            _work.poll(_Test(test), deadline, _what(g, "all_reduce", a), limit, first)
            break
    if op is _AVG:
        a /= size
    tensor._bump()


class _Test:
    """A test function as the request ``poll`` takes."""

    __slots__ = ("test",)

    def __init__(self, test) -> None:
        self.test = test


def _all_reduce_steps(g: ProcessGroup, tensor: Tensor, a, op: ReduceOp, header):
    _agree(g, "all_reduce", header)
    buf = _reduction_buffer(_contiguous(a))
    yield g.backend.allreduce(buf, _engine_op(op))
    _finish_reduction(buf, op, g.size())
    _store(tensor, a, buf)


def reduce(
    tensor: Tensor, dst: int, op: ReduceOp = ReduceOp.SUM, group=None, async_op: bool = False
) -> Work | None:
    """Combine ``tensor`` across the group into ``tensor`` on rank ``dst`` (the other
    ranks' tensors are left unchanged)."""
    g = _member(group, "reduce")
    a = _array(g, tensor, "reduce")
    op = _op(op, "reduce", a.dtype)
    root = g.to_group_rank(dst, "dst")
    header = _meta.header("reduce", a.shape, a.dtype, root, op.value)

    def steps():
        _agree(g, "reduce", header)
        buf = _reduction_buffer(_contiguous(a))
        yield g.backend.reduce(buf, _engine_op(op), root)
        if g.group_rank == root:
            _finish_reduction(buf, op, g.size())
            _store(tensor, a, buf)

    return _run(g, steps(), "reduce", a, async_op)


def all_gather(tensor_list: list[Tensor], tensor: Tensor, group=None, async_op: bool = False):
    """Every rank's ``tensor`` into ``tensor_list[r]`` on every rank (one copy out of a
    contiguous receive buffer; ``all_gather_into_tensor`` avoids it)."""
    g = _member(group, "all_gather")
    a = _array(g, tensor, "all_gather")
    outs = _tensors(g, tensor_list, "all_gather", "tensor_list", a)
    header = _meta.header("all_gather", a.shape, a.dtype)

    def steps():
        _agree(g, "all_gather", header)
        recv = _xp(a).empty((g.size(), *a.shape), a.dtype)
        yield g.backend.allgather(_contiguous(a), recv)
        for t, o, r in zip(tensor_list, outs, recv):
            _store(t, o, r)

    return _run(g, steps(), "all_gather", a, async_op)


def all_gather_into_tensor(
    output_tensor: Tensor, input_tensor: Tensor, group=None, async_op: bool = False
):
    """Every rank's ``input_tensor`` stacked along dim 0 of ``output_tensor`` (shape
    ``(size * n, ...)`` or ``(size, n, ...)``); zero-copy when both are contiguous."""
    g = _member(group, "all_gather_into_tensor")
    a = _array(g, input_tensor, "all_gather_into_tensor", "input_tensor")
    o = _array(g, output_tensor, "all_gather_into_tensor", "output_tensor")
    if o.size != a.size * g.size() or o.dtype != a.dtype:
        raise ValueError(
            f"all_gather_into_tensor: output_tensor must hold {g.size()} x {a.size} elements "
            f"of {a.dtype}, got shape {tuple(o.shape)} of {o.dtype}"
        )
    header = _meta.header("all_gather_into_tensor", a.shape, a.dtype)

    def steps():
        _agree(g, "all_gather_into_tensor", header)
        recv = _contiguous(o)
        yield g.backend.allgather(_contiguous(a), recv)
        _store(output_tensor, o, recv)

    return _run(g, steps(), "all_gather_into_tensor", a, async_op)


def gather(
    tensor: Tensor, gather_list: list[Tensor] | None = None, dst: int = 0, group=None,
    async_op: bool = False,
):  # fmt: skip
    """Every rank's ``tensor`` into ``gather_list`` on rank ``dst`` (None elsewhere)."""
    g = _member(group, "gather")
    a = _array(g, tensor, "gather")
    root = g.to_group_rank(dst, "dst")
    if g.group_rank == root:
        outs = _tensors(g, gather_list, "gather", "gather_list", a)
    elif gather_list:
        raise ValueError(f"gather: gather_list must be None on ranks other than dst={dst}")
    header = _meta.header("gather", a.shape, a.dtype, root)

    def steps():
        _agree(g, "gather", header)
        recv = _xp(a).empty((g.size(), *a.shape), a.dtype) if g.group_rank == root else None
        yield g.backend.gather(_contiguous(a), recv, root)
        if recv is not None:
            for t, o, r in zip(gather_list, outs, recv):
                _store(t, o, r)

    return _run(g, steps(), "gather", a, async_op)


def scatter(
    tensor: Tensor, scatter_list: list[Tensor] | None = None, src: int = 0, group=None,
    async_op: bool = False,
):  # fmt: skip
    """``scatter_list[r]`` on rank ``src`` into ``tensor`` on rank ``r``."""
    g = _member(group, "scatter")
    a = _array(g, tensor, "scatter")
    root = g.to_group_rank(src, "src")
    if g.group_rank == root:
        ins = _tensors(g, scatter_list, "scatter", "scatter_list", a)
    elif scatter_list:
        raise ValueError(f"scatter: scatter_list must be None on ranks other than src={src}")
    header = _meta.header("scatter", a.shape, a.dtype, root)

    def steps():
        _agree(g, "scatter", header)
        send = _xp(a).stack(ins) if g.group_rank == root else None
        buf = _contiguous(a)
        yield g.backend.scatter(send, buf, root)
        _store(tensor, a, buf)

    return _run(g, steps(), "scatter", a, async_op)


def reduce_scatter(
    output: Tensor, input_list: list[Tensor], op: ReduceOp = ReduceOp.SUM, group=None,
    async_op: bool = False,
):  # fmt: skip
    """Rank ``r`` gets ``op`` over all ranks of their ``input_list[r]``, in ``output``."""
    g = _member(group, "reduce_scatter")
    a = _array(g, output, "reduce_scatter", "output")
    ins = _tensors(g, input_list, "reduce_scatter", "input_list", a)
    op = _op(op, "reduce_scatter", a.dtype)
    header = _meta.header("reduce_scatter", a.shape, a.dtype, redop=op.value)

    def steps():
        _agree(g, "reduce_scatter", header)
        send = _reduction_buffer(_xp(a).stack(ins))
        recv = _reduction_buffer(_contiguous(a))
        yield g.backend.reduce_scatter(send, recv, _engine_op(op))
        _finish_reduction(recv, op, g.size())
        _store(output, a, recv)

    return _run(g, steps(), "reduce_scatter", a, async_op)


def reduce_scatter_tensor(
    output: Tensor, input: Tensor, op: ReduceOp = ReduceOp.SUM, group=None,
    async_op: bool = False,
):  # fmt: skip
    """Like ``reduce_scatter`` with the inputs stacked along dim 0 of ``input``
    (``size`` times ``output``'s elements); zero-copy for contiguous 32/64-bit tensors."""
    g = _member(group, "reduce_scatter_tensor")
    a = _array(g, output, "reduce_scatter_tensor", "output")
    i = _array(g, input, "reduce_scatter_tensor", "input")
    if i.size != a.size * g.size() or i.dtype != a.dtype:
        raise ValueError(
            f"reduce_scatter_tensor: input must hold {g.size()} x {a.size} elements of "
            f"{a.dtype}, got shape {tuple(i.shape)} of {i.dtype}"
        )
    op = _op(op, "reduce_scatter_tensor", a.dtype)
    header = _meta.header("reduce_scatter_tensor", a.shape, a.dtype, redop=op.value)

    def steps():
        _agree(g, "reduce_scatter_tensor", header)
        send = _reduction_buffer(_contiguous(i))
        recv = _reduction_buffer(_contiguous(a))
        yield g.backend.reduce_scatter(send, recv, _engine_op(op))
        _finish_reduction(recv, op, g.size())
        _store(output, a, recv)

    return _run(g, steps(), "reduce_scatter_tensor", a, async_op)


def all_to_all(
    output_tensor_list: list[Tensor], input_tensor_list: list[Tensor], group=None,
    async_op: bool = False,
):  # fmt: skip
    """Rank ``r``'s ``input_tensor_list[j]`` lands in rank ``j``'s
    ``output_tensor_list[r]``; sizes may differ per pair but must match across ranks."""
    g = _member(group, "all_to_all")
    n = g.size()
    for what, ts in (("output_tensor_list", output_tensor_list), ("input", input_tensor_list)):
        if not isinstance(ts, list | tuple) or len(ts) != n:
            raise ValueError(f"all_to_all: {what} must be a list of {n} tensors (one per rank)")
    outs = [
        _array(g, t, "all_to_all", f"output_tensor_list[{i}]")
        for i, t in enumerate(output_tensor_list)
    ]  # noqa: E501
    ins = [
        _array(g, t, "all_to_all", f"input_tensor_list[{i}]")
        for i, t in enumerate(input_tensor_list)
    ]  # noqa: E501
    dtype = outs[0].dtype
    for i, x in enumerate(outs + ins):
        if x.dtype != dtype:
            raise ValueError(f"all_to_all: every tensor must be {dtype}, tensor #{i} is {x.dtype}")
    header = _meta.header("all_to_all", (), dtype)
    counts = np.array([x.nbytes for x in ins] + [x.nbytes for x in outs], np.int64)

    def steps():
        _agree(g, "all_to_all", header)
        if g.check:
            table = np.empty((n, 2 * n), np.int64)
            _wait(g, g.backend.meta_allgather(counts, table), "all_to_all")
            _check_pairs(g, table, dtype.itemsize)
        xp = _xp(outs[0])
        send = xp.concatenate([x.reshape(-1) for x in ins])
        recv = xp.empty(sum(x.size for x in outs), dtype)
        yield g.backend.all_to_all(send, counts[:n], recv, counts[n:])
        offset = 0
        for t, o in zip(output_tensor_list, outs):
            _store(t, o, recv[offset : offset + o.size].reshape(o.shape))
            offset += o.size

    return _run(g, steps(), "all_to_all", None, async_op)


def _check_pairs(g: ProcessGroup, table: np.ndarray, itemsize: int) -> None:
    n = g.size()
    for i in range(n):
        for j in range(n):
            sent, expected = table[i, j], table[j, n + i]
            if sent != expected:
                raise DistError(
                    f"all_to_all: rank {g.ranks[i]} sends {sent // itemsize} elements to rank "
                    f"{g.ranks[j]}, which expects {expected // itemsize}"
                )


def barrier(group=None, async_op: bool = False) -> Work | None:
    """Return once every rank of the group has entered the barrier."""
    g = _member(group, "barrier")
    header = _meta.header("barrier")

    def steps():
        if g.size() == 1:
            return
        if not g.check:
            yield g.backend.barrier()
            return
        # the header exchange is an all-gather: nobody leaves it before all arrived (its
        # one request, posted during the call like every collective's data)
        table = np.empty((g.size(), _meta.HEADER_LEN), np.int64)
        yield g.backend.meta_allgather(header, table)
        message = _meta.mismatch("barrier", table, g.ranks)
        if message is not None:
            raise DistError(message)

    return _run(g, steps(), "barrier", None, async_op)


def _xp(a):
    """numpy for numpy arrays, cupy for device arrays (imported only then)."""
    if isinstance(a, np.ndarray):
        return np
    import cupy

    return cupy
