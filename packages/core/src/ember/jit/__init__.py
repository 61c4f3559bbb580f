"""ember.jit: lazy evaluation, kernel fusion and a cache of compiled kernels.

``with ember.jit.lazy():`` makes the fusible ops build a graph instead of computing;
reading data computes it, fusing chains of elementwise ops and their trailing
reductions into generated C kernels compiled once (cffi) and cached on disk
(``EMBER_JIT_CACHE``, else ``~/.cache/ember/jit``) and in memory by graph signature.
``ember.jit.compile(fn)`` runs ``fn`` lazily and remembers its fused plan per input
signature; ``stats()`` and ``explain()`` show what happened.
"""

from __future__ import annotations

from ember.jit._build import cache_dir
from ember.jit._lazy import LazyTensor
from ember.jit._mode import lazy

__all__ = ["lazy", "LazyTensor", "cache_dir"]
