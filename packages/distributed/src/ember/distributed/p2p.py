"""Point-to-point transfers: ``send``/``recv`` and their nonblocking ``isend``/``irecv``.

A small header (dtype and shape) goes ahead of the data on a separate channel;
the receiver checks it against its own tensor and raises a ``DistError`` naming
both ranks and both shapes (the receive buffer's contents are then unspecified).

Both sends, and a receive's data request when its source is known, are posted
during the call: the engine matches messages of one source and tag in posting
order, so posting a data request only once its header had arrived let two
receives from one rank, waited for in reverse order, swap their data. A receive
from any source must learn the sender from the header first; two outstanding
``irecv(src=None)`` with the same tag should be waited for in the order posted.
"""

from __future__ import annotations

import numpy as np

from ember import Tensor

from . import _meta
from ._work import DistError, Work
from .collectives import _array, _contiguous, _member, _store
from .process_group import ProcessGroup

__all__ = ["irecv", "isend", "recv", "send"]

_TAG_LIMIT = 32767  # the smallest MPI_TAG_UB the MPI standard allows


def _tag(tag: int) -> int:
    if not isinstance(tag, int) or isinstance(tag, bool) or not 0 <= tag <= _TAG_LIMIT:
        raise ValueError(f"tag must be an int in [0, {_TAG_LIMIT}], got {tag!r}")
    return tag


def _send_steps(g: ProcessGroup, tensor: Tensor, a, peer: int, tag: int):
    header = _meta.header("send", a.shape, a.dtype)
    buf = a if a.flags.c_contiguous else a.copy(order="C")
    sent_header = g.backend.send(header, peer, tag, meta=True)
    sent_data = g.backend.send(buf, peer, tag)  # now, not after the header: see above
    yield sent_header
    yield sent_data


def _recv_steps(g: ProcessGroup, tensor: Tensor, a, peer: int | None, tag: int):
    mine = _meta.header("send", a.shape, a.dtype)
    theirs = np.empty(_meta.HEADER_LEN, np.int64)
    req = g.backend.recv(theirs, peer, tag, meta=True)
    buf = _contiguous(a)
    data = None if peer is None else g.backend.recv(buf, peer, tag)  # posted in order
    yield req
    source = req.source if peer is None else peer
    if not np.array_equal(mine, theirs):
        if data is not None:
            _drain(data)  # the sender's data message is consumed, not left to a later recv
        raise DistError(
            f"recv: rank {g.ranks[source]} sent {_meta.describe(theirs)[5:-1]} but rank "
            f"{g.global_rank} receives into {_meta.describe(mine)[5:-1]} (tag {tag})"
        )
    yield data if data is not None else g.backend.recv(buf, source, tag)
    _store(tensor, a, buf)
    return g.ranks[source]


def _drain(request) -> None:
    """Complete a data receive whose header did not match; a larger message than the
    buffer is an engine error (truncation) that the mismatch report replaces."""
    try:
        while not request.test():
            pass
    except Exception:  # noqa: BLE001 - MPI's truncation error; the DistError follows
        pass


def _what(g: ProcessGroup, name: str, a, peer):
    def describe() -> str:
        who = "any rank" if peer is None else f"rank {g.ranks[peer]}"
        side = "to" if name in ("send", "isend") else "from"
        return f"{name} of shape {tuple(a.shape)} ({a.dtype}) {side} {who} on rank {g.global_rank}"

    return describe


def isend(tensor: Tensor, dst: int, group=None, tag: int = 0) -> Work:
    """Start sending ``tensor`` to global rank ``dst``; returns a Work. Do not modify
    ``tensor`` until ``wait()`` returns."""
    g = _member(group, "isend")
    a = _array(g, tensor, "isend")
    peer = g.to_group_rank(dst, "dst")
    steps = _send_steps(g, tensor, a, peer, _tag(tag))
    return Work(steps, g.timeout_s, _what(g, "isend", a, peer))


def send(tensor: Tensor, dst: int, group=None, tag: int = 0) -> None:
    """Send ``tensor`` to global rank ``dst`` (returns once the data has left)."""
    isend(tensor, dst, group, tag).wait()


def irecv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0) -> Work:
    """Start receiving into ``tensor`` from global rank ``src`` (any rank when None);
    ``wait()`` then ``result()`` gives the sender's global rank."""
    g = _member(group, "irecv")
    a = _array(g, tensor, "irecv")
    peer = None if src is None else g.to_group_rank(src, "src")
    steps = _recv_steps(g, tensor, a, peer, _tag(tag))
    return Work(steps, g.timeout_s, _what(g, "irecv", a, peer))


def recv(tensor: Tensor, src: int | None = None, group=None, tag: int = 0) -> int:
    """Receive into ``tensor`` from global rank ``src`` (any rank when None); returns
    the sender's global rank."""
    work = irecv(tensor, src, group, tag)
    return work.result()
