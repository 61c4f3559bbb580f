"""Shared helpers for ember-optim's tests: the torch-written fixtures and the problems."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

import ember

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "trajectories.npz"
_DATA = np.load(FIXTURE)
META = json.loads(str(_DATA["meta"]))
PARAMS = {"quad": ("quad/x", "quad/W"), "net": ("net/W1", "net/b1", "net/W2", "net/b2")}


def fixture(key: str) -> np.ndarray:
    """One array from the fixture file."""
    return _DATA[key]


def data(dtype) -> dict[str, ember.Tensor]:
    """The problems' fixed data and starting parameters as ember tensors of ``dtype``."""
    return {
        k[5:]: ember.tensor(_DATA[k], dtype=dtype) for k in _DATA.files if k.startswith("init/")
    }


def quad_loss(d, x, W):
    """0.5 x'Ax - b'x + sum(D * (W - C)^2): convex, minimum away from zero."""
    return (
        0.5 * (x @ (d["quad/A"] @ x))
        - d["quad/b"] @ x
        + (d["quad/D"] * (W - d["quad/C"]) ** 2).sum()
    )


def net_loss(d, W1, b1, W2, b2):
    """Mean squared error of a 4-8-2 tanh network written with plain tensor ops."""
    h = ember.tanh(d["net/X"] @ W1 + b1)
    return ((h @ W2 + b2 - d["net/Y"]) ** 2).mean()


LOSSES = {"quad": quad_loss, "net": net_loss}


def optimizer_kwargs(kwargs: dict) -> dict:
    """JSON lists back to the tuples PyTorch's signatures use."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in kwargs.items()}


def flat(params) -> np.ndarray:
    """All parameters as one flat float64 vector."""
    return np.concatenate([p.detach().numpy().reshape(-1).astype(np.float64) for p in params])
