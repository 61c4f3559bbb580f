"""The demo (examples/mnist_lenet.py), shortened: it learns and its checkpoint round-trips."""

from __future__ import annotations

import importlib.util
import pathlib
import sys

import numpy as np
import pytest
from PIL import Image

import ember

DEMO = pathlib.Path(__file__).resolve().parents[3] / "examples" / "mnist_lenet.py"


@pytest.fixture(scope="module")
def demo():
    if not DEMO.is_file():
        pytest.skip(f"{DEMO} is not in this checkout")
    pytest.importorskip("ember.optim", reason="the demo trains with ember-optim")
    spec = importlib.util.spec_from_file_location("mnist_lenet_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_demo_short_run_learns_and_checkpoint_roundtrips(demo, tmp_path):
    lines = []
    result = demo.run(epochs=3, out=str(tmp_path), progress=False, log=lines.append)
    # 3 epochs on 4,000 digits: a working LeNet is far above chance (10%); the full
    # 12-epoch demo reaches >= 97%.
    assert result.accuracies[-1] >= 0.95, result.accuracies
    assert result.losses[-1] < result.losses[0] < 2.3
    assert result.reloaded_accuracy == result.accuracies[-1]
    sd = ember.load(result.checkpoint)
    assert sorted(sd) == sorted(
        f"{m}.{p}" for m in ("conv1", "conv2", "fc1", "fc2", "fc3") for p in ("weight", "bias")
    )
    grid = Image.open(result.grid)
    assert grid.format == "PNG" and grid.size == (8 * 58 + 2, 8 * 72 + 2)
    # Each tile's caption strip holds drawn text (not blank white).
    strip = np.asarray(grid.convert("L"))[2 + 56 : 2 + 70, 2 : 2 + 56]
    assert (strip < 200).any()
    assert any("held-out accuracy" in line for line in lines) and "identical" in lines[-3]


def test_demo_command_line_rejects_bad_options(demo):
    with pytest.raises(SystemExit):
        demo.main(["--data", "fashion-mnist"])  # needs --root
    with pytest.raises(SystemExit):
        demo.main(["--epochs", "0"])
