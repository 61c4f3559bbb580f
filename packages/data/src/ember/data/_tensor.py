"""The few points where ember.data touches ember's Tensor.

Everything in ember.data works on numpy arrays internally and crosses into
tensors only here, so the loader's hot path is numpy plus one zero-copy wrap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import ember


def _tensor_type() -> type | None:
    return getattr(ember, "Tensor", None)


def is_tensor(x: Any) -> bool:
    """True if ``x`` is an ``ember.Tensor``."""
    cls = _tensor_type()
    return cls is not None and isinstance(x, cls)


def to_numpy(t: Any) -> np.ndarray:
    """The numpy array behind a CPU tensor, without copying.

    The storage slot is read directly because ``Tensor.numpy()`` refuses tensors
    that require grad, and a data pipeline only moves values.
    """
    a = getattr(t, "_a", None)
    if isinstance(a, np.ndarray):
        return a
    if a is not None:
        raise TypeError(
            f"ember.data moves CPU tensors only; got a tensor stored as {type(a).__name__} "
            "(create tensors on the CPU in datasets and move batches to the GPU after loading)"
        )
    return np.asarray(t.numpy())


def wrap(a: np.ndarray) -> Any:
    """Make a tensor that shares memory with ``a`` (zero-copy)."""
    maker = getattr(getattr(ember, "_tensor", None), "_wrap", None)
    if maker is None:
        maker = getattr(ember, "from_numpy", None)
    if maker is None:
        # ember-core without a Tensor yet: batches stay numpy arrays.
        return a
    return maker(a)
