"""Work handles and the one waiting loop every operation goes through.

An operation is a generator that yields backend requests (objects with a
``test() -> bool`` method) and does its finishing work (copying results back,
casting, dividing for AVG) between and after them. :class:`Work` drives it:
``is_completed()`` advances it without blocking, ``wait()`` polls it with a
deadline. Polling, instead of a blocking MPI wait, is what lets a collective
whose peer crashed or never came raise :class:`DistTimeoutError` instead of
hanging for ever.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator

__all__ = ["DistError", "DistTimeoutError", "Work"]

# Polling spins flat out (as MPI's own waits do) for _first_spin_s, then offers the
# CPU to other runnable processes every _spin_s seconds, so that a spinning rank
# cannot hold a core its peer needs for long. Each offer costs a scheduler slice
# (milliseconds) when other jobs share the host, so none comes before the first
# millisecond: offering every 200 us from the start made a 4 MB all-reduce (0.9 ms)
# take 3.3-3.7 ms at load 5 on 2 cores in 2 of 4 runs. Past it, frequent offers win:
# spinning 1 ms between offers made a 16 MB all-reduce 8-24% slower than 200 us.
# When the ranks on this host outnumber its cores (4 ranks on 2 cores in the tests),
# both are 0: yield after every poll. The MPI backend sets them at start (``set_spin``).
_first_spin_s = 1e-3
_spin_s = 2e-4
# After this long, the peer is probably busy elsewhere: sleep between polls.
_NAP_AFTER_S = 1.0
_NAP_S = 2e-4


def set_spin(first: float, every: float) -> None:
    """``poll`` spins ``first`` seconds before it first yields the CPU, then yields
    every ``every`` seconds."""
    global _first_spin_s, _spin_s
    _first_spin_s, _spin_s = float(first), float(every)


class DistError(RuntimeError):
    """A collective or point-to-point operation failed (mismatch, bad use, peer trouble)."""


class DistTimeoutError(DistError, TimeoutError):
    """An operation did not complete before its group's timeout."""


def poll(request, deadline: float, what, limit: float, spun: float = 0.0) -> None:
    """Return once ``request.test()`` is true; raise DistTimeoutError past ``deadline``
    (a ``time.monotonic()`` value). ``what()`` names the operation for the error, whose
    time limit was ``limit`` seconds. ``spun``: seconds the caller already spun on it."""
    test = request.test
    if test():
        return
    clock = time.monotonic
    start = clock()
    next_yield = start + _first_spin_s - spun
    nap_after = start + _NAP_AFTER_S
    while not test():
        now = clock()
        if now < next_yield:
            continue  # flat out, like MPI's own waits
        if now > deadline:
            raise DistTimeoutError(timeout_message(what, limit))
        if now > nap_after:
            time.sleep(_NAP_S)
        else:
            os.sched_yield()
            next_yield = clock() + _spin_s


class Work:
    """The handle an ``async_op=True`` operation returns.

    ``wait()`` blocks until the operation (and its copy-back) is done and returns
    True; ``is_completed()`` checks without blocking. Call one of them before
    reading the tensors the operation writes.
    """

    __slots__ = ("_gen", "_request", "_done", "_deadline", "_timeout", "_what", "_result")

    def __init__(self, gen: Generator, timeout_s: float, what) -> None:
        self._gen = gen
        self._done = False
        self._timeout = timeout_s
        self._deadline = time.monotonic() + timeout_s
        self._what = what  # a callable returning the description used in errors
        self._result = None
        self._request = None
        self._advance()

    def _advance(self) -> None:
        """Run the operation until it yields a request that is not yet complete."""
        while True:
            try:
                req = self._gen.send(None)
            except StopIteration as stop:
                self._done, self._request, self._result = True, None, stop.value
                return
            if not req.test():
                self._request = req
                return

    def is_completed(self) -> bool:
        """True once the operation has finished (results are in place)."""
        while not self._done and self._request.test():
            self._advance()
        return self._done

    def wait(self, timeout: float | None = None) -> bool:
        """Block until done; raise :class:`DistTimeoutError` after ``timeout`` seconds
        (default: the group's timeout, counted from when the operation started)."""
        if timeout is None:
            deadline, limit = self._deadline, self._timeout
        else:
            deadline, limit = time.monotonic() + float(timeout), float(timeout)
        while not self._done:
            poll(self._request, deadline, self._what, limit)
            self._advance()
        return True

    def result(self):
        """What the operation produced (the source rank for a receive), after ``wait()``."""
        self.wait()
        return self._result


def timeout_message(what, limit: float) -> str:
    """The DistTimeoutError text for operation ``what()`` that ran past ``limit`` s."""
    return (
        f"{what()} did not complete within {limit:g} s: a peer may have crashed, "
        "hung, or called a different operation"
    )


def wait_for(request, deadline: float, what, limit: float) -> None:
    """Poll one request of a synchronous call to completion (see ``poll``)."""
    if not request.test():
        poll(request, deadline, what, limit)


def run(gen: Generator, timeout_s: float, what, async_op: bool):
    """Start ``gen``; return a Work for ``async_op``, else wait and return its result
    (driven here, without a Work: fewer objects and frames on the synchronous path)."""
    if async_op:
        return Work(gen, timeout_s, what)
    deadline = time.monotonic() + timeout_s
    send = gen.send
    try:
        while True:
            wait_for(send(None), deadline, what, timeout_s)
    except StopIteration as stop:
        return stop.value
