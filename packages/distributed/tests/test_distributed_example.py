"""examples/ddp_mnist.py runs a few data-parallel steps on 2 processes and its
replicas stay identical (the example checks that itself at the end)."""

import importlib.util
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "ddp_mnist.py"


@pytest.mark.skipif(importlib.util.find_spec("ember.optim") is None, reason="needs ember-optim")
def test_ddp_mnist_example_runs(launch):
    job = launch(2, str(EXAMPLE), "--epochs", "1", "--steps", "3", timeout=300)
    assert job.returncode == 0, job.explain()
    assert "epoch 1: loss" in job.stdout, job.explain()
    assert "all 2 replicas hold identical parameters" in job.stdout, job.explain()
