"""Layers, losses and a checkpoint against fixtures written by torch 2.13.0
(see fixtures/make_fixtures.py): outputs, input gradients, parameter gradients,
running statistics, and a torch state dict loaded by name."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.nn as nn

FIX = Path(__file__).resolve().parent / "fixtures"
_spec = importlib.util.spec_from_file_location("_nn_make_fixtures", FIX / "make_fixtures.py")


def _cases():
    # the case tables live in make_fixtures.py; read them without importing torch
    src = (FIX / "make_fixtures.py").read_text()
    ns: dict = {}
    start = src.index("LAYER_CASES = [")
    end = src.index("class SmallCNN")
    exec(src[start:end], ns)  # noqa: S102 - our own file, plain literals
    return ns["LAYER_CASES"], ns["LOSS_CASES"]


LAYER_CASES, LOSS_CASES = _cases()
LAYERS = np.load(FIX / "layers.npz")
LOSSES = np.load(FIX / "losses.npz")


def _t(a):
    return ember.from_numpy(np.array(a))  # a copy; keeps 0-d arrays 0-d


@pytest.mark.parametrize("name,spec,shape", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_layer_matches_torch(name, spec, shape):
    m = eval(spec, {"nn": nn}).double()
    state = {
        k.split("/state/")[1]: _t(LAYERS[k]) for k in LAYERS.files if k.startswith(name + "/state/")
    }
    m.load_state_dict(state)  # strict: the names are PyTorch's
    x = _t(LAYERS[f"{name}/x"]).requires_grad_(True)
    y = m(x)
    np.testing.assert_allclose(y.detach().numpy(), LAYERS[f"{name}/y"], rtol=1e-10, atol=1e-10)
    (y * _t(LAYERS[f"{name}/proj"])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), LAYERS[f"{name}/gx"], rtol=1e-9, atol=1e-9)
    for k, p in m.named_parameters():
        np.testing.assert_allclose(
            p.grad.numpy(), LAYERS[f"{name}/grad/{k}"], rtol=1e-9, atol=1e-9, err_msg=k
        )
    after = m.state_dict()
    for k in LAYERS.files:
        if k.startswith(name + "/after/"):
            key = k.split("/after/")[1]
            np.testing.assert_allclose(after[key].numpy(), LAYERS[k], rtol=1e-10, err_msg=key)


@pytest.mark.parametrize("name,spec,shape,kind", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_loss_matches_torch(name, spec, shape, kind):
    env = {"nn": nn, "W4": _t(LOSSES["const/W4"]), "P4": _t(LOSSES["const/P4"])}
    loss_fn = eval(spec, env)
    x = _t(LOSSES[f"{name}/x"]).requires_grad_(True)
    loss = loss_fn(x, _t(LOSSES[f"{name}/t"]))
    np.testing.assert_allclose(loss.detach().numpy(), LOSSES[f"{name}/loss"], rtol=1e-10)
    (loss * _t(LOSSES[f"{name}/g"])).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), LOSSES[f"{name}/gx"], rtol=1e-9, atol=1e-12)


class SmallCNN(nn.Module):
    """The fixture's model, written against ember.nn."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 4, 3, stride=2),
        )
        self.classifier = nn.Linear(4 * 2 * 2, 5)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def test_torch_state_dict_loads_by_name_and_matches():
    sd = ember.load(FIX / "small_cnn.pt")
    model = SmallCNN()
    assert set(sd) == set(model.state_dict())
    model.load_state_dict(sd)
    model.eval()
    io = np.load(FIX / "small_cnn_io.npz")
    with ember.no_grad():
        y = model(_t(io["x"]))
    np.testing.assert_allclose(y.numpy(), io["y"], rtol=1e-4, atol=1e-5)
    assert int(model.features[1].num_batches_tracked) == 3
