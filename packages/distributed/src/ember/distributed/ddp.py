"""DistributedDataParallel: one model replica per process, gradients averaged in backward."""

from __future__ import annotations

import contextlib
import zlib
from collections.abc import Iterator

import numpy as np

import ember
from ember import Tensor
from ember._tensor import _wrap
from ember.autograd import is_grad_enabled
from ember.nn import Module

from ._reducer import Reducer
from ._work import DistError
from .collectives import _xp, all_gather_into_tensor, broadcast
from .process_group import ProcessGroup, _resolve

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over a process group.

    At construction every rank checks that the replicas have the same parameter
    shapes and dtypes (a mismatch raises naming the ranks) and copies rank 0's
    parameters and buffers to the others. In each training step, call the wrapper
    like the module, compute the loss on this rank's part of the batch and call
    ``backward()``: the gradients are averaged over the ranks in buckets of about
    ``bucket_cap_mb`` megabytes, each all-reduced as soon as it is full while the
    rest of backward runs. When ``backward()`` returns, ``.grad`` holds the average
    on every rank, so equal optimizer steps keep the replicas identical.

    Inside ``with ddp.no_sync():`` gradients only accumulate locally; the first
    synchronized backward after it averages the accumulated sums.

    Args:
        module: the model (its parameters must be used in ``forward``, unless
            ``find_unused_parameters=True``).
        device_ids, output_device, dim: accepted for PyTorch compatibility (one
            device per process; inputs are not moved).
        broadcast_buffers: copy rank 0's buffers (e.g. batch-norm statistics) to
            the others at every forward.
        process_group: the group to average over (default: the world).
        bucket_cap_mb: bucket size in megabytes.
        find_unused_parameters: allow parameters that take no part in a forward;
            they count as zero gradient on that rank.
    """

    def __init__(
        self,
        module: Module,
        device_ids=None,
        output_device=None,
        dim: int = 0,
        broadcast_buffers: bool = True,
        process_group: ProcessGroup | None = None,
        bucket_cap_mb: float = 25.0,
        find_unused_parameters: bool = False,
        **_unused,
    ) -> None:
        super().__init__()
        if not isinstance(module, Module):
            raise TypeError(f"module must be an ember.nn.Module, got {type(module).__name__}")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be positive, got {bucket_cap_mb!r}")
        self.module = module
        self.process_group = group = _resolve(process_group)
        if group.rank() < 0:
            raise DistError("DistributedDataParallel: this process is not in process_group")
        self.broadcast_buffers = bool(broadcast_buffers)
        self.require_backward_grad_sync = True
        named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
        if not named:
            raise ValueError(
                "DistributedDataParallel: the module has no parameter that requires grad"
            )
        _verify_same_layout(group, module)
        with ember.no_grad():
            _broadcast_coalesced(group, [p for _, p in module.named_parameters()])
            _broadcast_coalesced(group, list(module.buffers()))
        self._reducer = Reducer(
            [p for _, p in named], [n for n, _ in named], group,
            int(bucket_cap_mb * (1 << 20)), bool(find_unused_parameters),
        )  # fmt: skip

    def forward(self, *inputs, **kwargs):
        """Run the module; when gradients will be synchronized, arm the reducer."""
        if self.broadcast_buffers:
            bufs = list(self.module.buffers())
            if bufs and self.process_group.size() > 1:
                with ember.no_grad():
                    _broadcast_coalesced(self.process_group, bufs)
        out = self.module(*inputs, **kwargs)
        if self.require_backward_grad_sync and is_grad_enabled():
            self._reducer.prepare(list(_tensors_in(out)))
        else:
            self._reducer.active = False
        return out

    @contextlib.contextmanager
    def no_sync(self) -> Iterator[None]:
        """Backward passes inside accumulate gradients locally, without communication."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def extra_repr(self) -> str:
        return f"world_size={self.process_group.size()}, buckets={len(self._reducer.buckets)}"


def _tensors_in(out) -> Iterator[Tensor]:
    """Every tensor in a forward's output (nested tuples, lists, dicts)."""
    if isinstance(out, Tensor):
        yield out
    elif isinstance(out, list | tuple):
        for x in out:
            yield from _tensors_in(x)
    elif isinstance(out, dict):
        for x in out.values():
            yield from _tensors_in(x)


def _verify_same_layout(group: ProcessGroup, module: Module) -> None:
    """All ranks must wrap the same architecture: compare a digest of every
    parameter's name, shape and dtype, and report which ranks differ."""
    layout = [(n, tuple(p.shape), str(p.dtype)) for n, p in module.named_parameters()]
    digest = zlib.crc32(repr(layout).encode())
    numel = sum(int(np.prod(s, dtype=np.int64)) for _, s, _ in layout)
    device = "cuda" if group.backend.device_type == "cuda" else "cpu"
    mine = ember.tensor([len(layout), numel, digest], dtype=ember.int64, device=device)
    table = ember.zeros(group.size(), 3, dtype=ember.int64, device=device)
    all_gather_into_tensor(table, mine, group=group)
    rows = np.array(table.tolist())
    bad = [r for r in range(group.size()) if not np.array_equal(rows[r], rows[0])]
    if bad:
        desc = "; ".join(
            f"rank {group.ranks[r]}: {rows[r][0]} parameters, {rows[r][1]} elements"
            for r in [0, *bad[:7]]
        )
        raise DistError(
            "DistributedDataParallel: the replicas' parameters differ in names, shapes or "
            f"dtypes across ranks ({desc})"
        )


def _broadcast_coalesced(group: ProcessGroup, tensors: list[Tensor]) -> None:
    """Copy group rank 0's ``tensors`` to every rank: one broadcast per dtype."""
    by_dtype: dict = {}
    for t in tensors:
        by_dtype.setdefault(t._a.dtype, []).append(t)
    for ts in by_dtype.values():
        flat = _xp(ts[0]._a).concatenate([t._a.reshape(-1) for t in ts])
        holder = _wrap(flat)
        broadcast(holder, src=group.ranks[0], group=group)
        offset = 0
        for t in ts:
            n = t._a.size
            t._a[...] = flat[offset : offset + n].reshape(t._a.shape)
            t._bump()
            offset += n
