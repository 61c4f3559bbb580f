"""Every optimizer against PyTorch 2.13's 50-step trajectories (fixtures/)."""

from __future__ import annotations

import numpy as np
import pytest
from _optim_fixtures import LOSSES, META, PARAMS, data, fixture, flat, optimizer_kwargs

import ember
from ember import optim

CASES = [(i, name, kw) for i, (name, kw) in enumerate(META["optimizers"])]


def run(problem: str, dtype, name: str, kwargs: dict) -> np.ndarray:
    d = data(dtype)
    params = [d[k].clone().requires_grad_(True) for k in PARAMS[problem]]
    opt = getattr(optim, name)(params, **optimizer_kwargs(kwargs))
    sign = -1.0 if kwargs.get("maximize") else 1.0
    snaps = set(META["snapshots"])
    out = []
    for step in range(META["steps"] + 1):
        if step in snaps:
            out.append(flat(params))
        if step == META["steps"]:
            break
        opt.zero_grad()
        loss = LOSSES[problem](d, *params) * sign
        loss.backward()
        opt.step()
    return np.stack(out)


@pytest.mark.parametrize("problem", ["quad", "net"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(
    ("index", "name", "kwargs"), CASES, ids=[f"{i}-{n}-{'-'.join(kw)}" for i, n, kw in CASES]
)
def test_trajectory_matches_torch(problem, dtype, index, name, kwargs):
    ours = run(problem, getattr(ember, dtype), name, kwargs)
    ref = fixture(f"traj/{problem}/{dtype}/{index}")
    assert ours.shape == ref.shape
    # 1e-5 relative, with an absolute floor at 1e-6 of the trajectory's scale for
    # coordinates that pass through zero
    atol = np.full((ref.shape[0], 1), 1e-6 * np.abs(ref).max())
    if dtype == "float32":
        # A few configs (sign-like early steps of RMSprop/NAdam on a maximized loss) are
        # chaotic in float32: PyTorch's own float32 run drifts from its float64 run by up
        # to 6%. Rounding noise of that size is allowed (per snapshot); the float64
        # trajectories, where the noise is ~1e-16, hold the strict 1e-5.
        noise = np.abs(ref - fixture(f"traj/{problem}/float64/{index}")).max(axis=1)
        atol = atol + 2 * noise[:, None]
    bad = np.abs(ours - ref) > 1e-5 * np.abs(ref) + atol
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} values differ; worst at snapshot/index "
        f"{np.unravel_index(np.argmax(np.abs(ours - ref) - atol), ref.shape)}"
    )
    # and the run did move the parameters (a no-op optimizer cannot pass)
    assert np.abs(ref[-1] - ref[0]).max() > 1e-3
