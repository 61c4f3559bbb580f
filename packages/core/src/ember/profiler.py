"""A light op-level profiler: counts, CPU time and output bytes per op, a sorted
table, and a Chrome trace (open it at chrome://tracing or ui.perfetto.dev)::

    with ember.profiler.profile() as prof:
        model(x).sum().backward()
    print(prof.table())
    prof.export_chrome_trace("trace.json")

With ``use_cuda=True`` (the default when a GPU is available) each top-level op is
also bracketed by a pair of CUDA events on the current stream, and the device time
between them is collected when the profile ends (one synchronize at exit, none per
op): ``cuda_time_s`` per op, a CUDA column in the table, and a second trace row.

While active, every registered op reachable as ``ember.<op>`` or a Tensor
method/operator is wrapped with a timer; on exit the originals are restored, so
the profiler costs nothing when it is off. For Python-level hot spots use
cProfile (``python -m cProfile -o out.prof script.py`` then ``snakeviz out.prof``)
or line_profiler's ``@profile``: ember's ops are plain Python functions, so both
see them by name.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field

__all__ = ["profile", "OpStats"]


@dataclass
class OpStats:
    """Totals for one op name."""

    name: str
    count: int = 0
    cpu_time_s: float = 0.0
    cuda_time_s: float = 0.0
    output_bytes: int = 0
    self_events: list = field(default_factory=list, repr=False)


def _nbytes(result) -> int:
    from ember._tensor import Tensor

    if isinstance(result, Tensor):
        return result._a.nbytes
    if isinstance(result, tuple):
        return sum(_nbytes(r) for r in result)
    return 0


class profile:
    """Context manager that records every ember op called inside it."""

    _active = None
    _lock = threading.Lock()

    def __init__(self, record_trace: bool = True, use_cuda: bool | None = None):
        self.record_trace = record_trace
        self.use_cuda = use_cuda
        self._cuda_marks: list = []  # (name, start event, end event)
        self._event = None  # the CUDA event factory while use_cuda is on
        self.stats: dict[str, OpStats] = {}
        self._events: list = []
        self._patched: list = []
        self._depth = threading.local()

    # ----- installation -----
    def __enter__(self) -> profile:
        import ember
        from ember._registry import OPS
        from ember._tensor import Tensor

        self._event = _cuda_event_factory(self.use_cuda)  # may refuse: before claiming
        with profile._lock:
            if profile._active is not None:
                raise RuntimeError("an ember.profiler.profile() is already active")
            profile._active = self
        by_fn = defaultdict(list)
        for info in OPS.values():
            by_fn[id(info.fn)].append(info.name)
        names = {k: v[0] for k, v in by_fn.items()}
        if self._event is not None:
            self._cuda_origin = self._event()
            self._cuda_origin.record()
        self._t0 = time.perf_counter()
        for owner in (ember, Tensor):
            for attr, value in list(vars(owner).items()):
                name = names.get(id(value))
                if name is None and owner is Tensor and callable(value):
                    # in-place methods and operators bound to registered functions
                    base = attr.strip("_").rstrip("_")
                    if base in OPS and attr.endswith("_") and not attr.startswith("__"):
                        name = base + "_"
                if name is not None and callable(value):
                    self._patched.append((owner, attr, value))
                    setattr(owner, attr, self._wrap(value, name))
        return self

    def __exit__(self, *exc) -> bool:
        for owner, attr, value in reversed(self._patched):
            setattr(owner, attr, value)
        self._patched.clear()
        try:
            self._collect_cuda_times()
        finally:
            profile._active = None
        return False

    def _collect_cuda_times(self) -> None:
        """Device time per op from the recorded event pairs; the first elapsed_time
        waits for the device once, the rest are already complete."""
        self._cuda_events = []
        for name, start, end in self._cuda_marks:
            ms = start.elapsed_time(end)
            self.stats[name].cuda_time_s += ms * 1e-3
            if self.record_trace:
                at = self._cuda_origin.elapsed_time(start) * 1e-3
                self._cuda_events.append((name, at, ms * 1e-3))
        self._cuda_marks.clear()

    def _wrap(self, fn, name: str):
        stats = self.stats
        events = self._events
        depth = self._depth
        trace = self.record_trace
        t0 = self._t0
        event = self._event
        marks = self._cuda_marks

        def timed(*args, **kwargs):
            d = getattr(depth, "n", 0)
            depth.n = d + 1
            if event is not None and d == 0:
                before = event()
                before.record()
            start = time.perf_counter()
            try:
                out = fn(*args, **kwargs)
            finally:
                depth.n = d
            end = time.perf_counter()
            if d == 0:  # ops called by ops count toward their caller
                if event is not None:
                    after = event()
                    after.record()
                    marks.append((name, before, after))
                s = stats.get(name)
                if s is None:
                    s = stats[name] = OpStats(name)
                s.count += 1
                s.cpu_time_s += end - start
                s.output_bytes += _nbytes(out)
                if trace:
                    events.append((name, start - t0, end - start, threading.get_ident()))
            return out

        timed.__name__ = getattr(fn, "__name__", name)
        timed.__doc__ = fn.__doc__
        timed.__wrapped__ = fn
        return timed

    # ----- reports -----
    def table(self, sort_by: str = "cpu_time_s", limit: int | None = 30) -> str:
        """A text table of ops, largest first (``sort_by``: cpu_time_s, count, output_bytes)."""
        if sort_by not in ("cpu_time_s", "cuda_time_s", "count", "output_bytes"):
            raise ValueError(
                f"sort_by must be cpu_time_s, cuda_time_s, count or output_bytes, got {sort_by!r}"
            )
        rows = sorted(self.stats.values(), key=lambda s: getattr(s, sort_by), reverse=True)
        total = sum(s.cpu_time_s for s in rows) or 1e-12
        cuda = self._event is not None
        head = f"{'op':24s} {'calls':>8s} {'cpu total':>12s} {'%':>6s} {'per call':>10s}"
        lines = [head + (f" {'cuda total':>12s}" if cuda else "") + f" {'out MB':>9s}"]
        for s in rows[:limit]:
            line = (
                f"{s.name:24s} {s.count:8d} {s.cpu_time_s * 1e3:10.3f}ms "
                f"{100 * s.cpu_time_s / total:6.1f} {s.cpu_time_s / s.count * 1e6:8.1f}us"
            )
            if cuda:
                line += f" {s.cuda_time_s * 1e3:10.3f}ms"
            lines.append(line + f" {s.output_bytes / 2**20:9.2f}")
        return "\n".join(lines)

    def key_averages(self) -> list[OpStats]:
        """The per-op totals, sorted by CPU time."""
        return sorted(self.stats.values(), key=lambda s: s.cpu_time_s, reverse=True)

    def export_chrome_trace(self, path: str) -> None:
        """Write the recorded calls in Chrome's trace-event JSON format."""
        events = [
            {
                "name": n,
                "ph": "X",
                "ts": ts * 1e6,
                "dur": dur * 1e6,
                "pid": 0,
                "tid": tid,
                "cat": "op",
            }
            for n, ts, dur, tid in self._events
        ]
        # device time on its own row; offsets from an event recorded as the profile
        # started, so both rows share an origin (CUDA events give no wall times)
        for n, at, dur in getattr(self, "_cuda_events", ()):
            events.append(
                {"name": n, "ph": "X", "ts": at * 1e6, "dur": dur * 1e6, "pid": 1,
                 "tid": "cuda", "cat": "cuda"}
            )  # fmt: skip
        with open(path, "w") as f:
            json.dump({"traceEvents": events, "displayTimeUnit": "ms"}, f)


def _cuda_event_factory(use_cuda: bool | None):
    """A zero-argument callable making timing events, or None when CUDA time is off.
    ``None`` means: on exactly when a GPU is available."""
    if use_cuda is False:
        return None
    from ember import cuda

    if not cuda.is_available():
        if use_cuda:
            raise RuntimeError(
                "profile(use_cuda=True) needs a CUDA device (ember.cuda.is_available() is "
                "False); install cupy-cuda12x on a machine with a GPU, or leave use_cuda unset"
            )
        return None
    return lambda: cuda.Event(enable_timing=True)
