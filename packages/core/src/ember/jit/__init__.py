"""ember.jit: lazy evaluation, kernel fusion and a cache of compiled kernels.

``with ember.jit.lazy():`` makes the fusible ops build a graph instead of computing;
reading data computes it, fusing chains of elementwise ops and their trailing
reductions into generated C kernels compiled once (cffi) and cached on disk
(``EMBER_JIT_CACHE``, else ``~/.cache/ember/jit``) and in memory by graph signature.
``ember.jit.compile(fn)`` runs ``fn`` lazily and remembers its fused plan per input
signature; ``stats()`` and ``explain()`` show what happened.

CUDA tensors fuse the same way: their graph's generated CUDA source is compiled by
NVRTC through CuPy (cached per source, GPU architecture and CUDA/CuPy versions) and
launched on CuPy's current stream. A graph never mixes devices (eager's error is
raised); ``EMBER_JIT_CUDA=0`` keeps CUDA tensors eager inside ``lazy()``.
"""

from __future__ import annotations

from ember.jit._build import STATS as _STATS
from ember.jit._build import cache_dir
from ember.jit._compile import compile  # noqa: A004 - torch.compile's name
from ember.jit._explain import Explanation, explain
from ember.jit._lazy import LazyTensor, _State
from ember.jit._mode import active, lazy

__all__ = [
    "lazy",
    "compile",
    "explain",
    "Explanation",
    "stats",
    "reset_stats",
    "LazyTensor",
    "cache_dir",
    "active",
]


def stats() -> dict:
    """Counters since start (or :func:`reset_stats`): ``hits`` (graphs whose plan was in
    memory), ``misses`` (plans generated), ``disk_hits`` (libraries loaded from the disk
    cache), ``compiles`` and ``compile_seconds`` (C compilations), ``forces`` (graph
    evaluations), ``kernels_run``, ``replays`` (``compile`` calls that skipped graph
    building), ``plans`` (plans held in memory)."""
    return {**_STATS, "plans": len(_State.plans)}


def reset_stats() -> None:
    """Zero the counters of :func:`stats` (the caches are kept)."""
    for k in _STATS:
        _STATS[k] = 0.0 if isinstance(_STATS[k], float) else 0
