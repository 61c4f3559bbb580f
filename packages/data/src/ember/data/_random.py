"""Random draws for samplers, splits and worker seeds.

ember's own generator (``ember.Generator``, ``ember.randperm``...) is used when
present. A ``numpy.random.Generator`` is also accepted wherever ``generator=``
is, which keeps ember.data usable (and testable) on a core without random ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import ember

_SEED_HIGH = 2**63 - 1
_fallback_default: np.random.Generator | None = None


def _fallback() -> np.random.Generator:
    # Only reached when ember has no random ops: seed from ember's initial seed
    # when it has one so a run is still reproducible.
    global _fallback_default
    if _fallback_default is None:
        initial = getattr(ember, "initial_seed", None)
        _fallback_default = np.random.default_rng(initial() if initial else None)
    return _fallback_default


def _numpy_gen(generator: Any) -> np.random.Generator | None:
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is None and not hasattr(ember, "randperm"):
        return _fallback()
    return None


def check_generator(generator: Any, who: str) -> None:
    """Raise TypeError unless ``generator`` is None, an ember or a numpy Generator."""
    if generator is None or isinstance(generator, np.random.Generator):
        return
    cls = getattr(ember, "Generator", None)
    if cls is not None and isinstance(generator, cls):
        return
    raise TypeError(
        f"{who}: generator must be an ember.Generator, a numpy.random.Generator or None, "
        f"got {type(generator).__name__}"
    )


def new_generator(seed: int) -> Any:
    """A fresh generator seeded with ``seed`` (ember's when available)."""
    cls = getattr(ember, "Generator", None)
    if cls is not None and hasattr(ember, "randperm"):
        g = cls()
        g.manual_seed(seed)
        return g
    return np.random.default_rng(seed)


def draw_seed(generator: Any = None) -> int:
    """One non-negative 63-bit seed drawn from ``generator`` (or the default one)."""
    rng = _numpy_gen(generator)
    if rng is not None:
        return int(rng.integers(0, _SEED_HIGH, dtype=np.int64))
    t = ember.randint(0, _SEED_HIGH, (1,), dtype=ember.int64, generator=generator)
    return int(t.tolist()[0])


def randperm(n: int, generator: Any = None) -> list[int]:
    """A random permutation of ``range(n)`` as a list of ints."""
    rng = _numpy_gen(generator)
    if rng is not None:
        return rng.permutation(n).tolist()
    return ember.randperm(n, generator=generator).tolist()


def randint(high: int, size: int, generator: Any = None) -> list[int]:
    """``size`` integers drawn uniformly from ``[0, high)``."""
    rng = _numpy_gen(generator)
    if rng is not None:
        return rng.integers(0, high, size, dtype=np.int64).tolist()
    return ember.randint(0, high, (size,), dtype=ember.int64, generator=generator).tolist()


def multinomial(
    weights: np.ndarray, num_samples: int, replacement: bool, generator: Any = None
) -> list[int]:
    """Indices drawn with probability proportional to ``weights`` (float64, 1-D)."""
    rng = _numpy_gen(generator)
    if rng is not None:
        p = weights / weights.sum()
        return rng.choice(len(p), size=num_samples, replace=replacement, p=p).tolist()
    w = ember.from_numpy(weights)
    return ember.multinomial(w, num_samples, replacement, generator=generator).tolist()
