"""Random draws for get_params, all from ember's default generator.

Using ember's generator (not Python's ``random`` or numpy's) means
``ember.manual_seed`` repeats an augmentation, and ember.data's DataLoader
workers, which reseed ember per worker and epoch, get distinct streams.
"""

from __future__ import annotations

import ember


def uniform(low: float, high: float) -> float:
    """A float drawn uniformly from ``[low, high)``."""
    return float(low) + (float(high) - float(low)) * float(ember.rand(1).item())


def randint(low: int, high: int) -> int:
    """An int drawn uniformly from ``[low, high)``."""
    return int(ember.randint(int(low), int(high), (1,)).item())


def coin(p: float) -> bool:
    """True with probability ``p``."""
    return float(ember.rand(1).item()) < p
