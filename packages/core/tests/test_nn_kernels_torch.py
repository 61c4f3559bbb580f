"""ember._nn_kernels against outputs PyTorch 2.13 wrote (fixtures/make_nn_fixtures.py):
ceil_mode windows starting in padding, NaN in max pooling, count_include_pad and
divisor_override, adaptive windows, unfold/fold, weighted + ignored + label-smoothed
cross-entropy, batch norm running statistics, group/layer norm, embedding with
padding_idx and scale_grad_by_freq."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ember import _nn_kernels as K

FIX = np.load(Path(__file__).parent / "fixtures" / "nn_kernels_torch.npz")


def case(name):
    return {k.split("/", 1)[1]: FIX[k] for k in FIX.files if k.split("/", 1)[0] == name}


def close(a, b, tol=2e-5):
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol, equal_nan=True)


@pytest.mark.parametrize("i", range(4))
def test_maxpool2d_matches_torch(i):
    c = case(f"maxpool{i}")
    a = [int(v) for v in c["args"]]
    y, idx = K.maxpool2d_forward(c["x"], a[0:2], a[2:4], a[4:6], a[6:8], bool(a[8]))
    close(y, c["y"])
    np.testing.assert_array_equal(idx, c["idx"])
    close(K.maxpool2d_backward(c["gy"], idx, c["x"].shape), c["gx"])


@pytest.mark.parametrize("i", range(4))
def test_avgpool2d_matches_torch(i):
    c = case(f"avgpool{i}")
    a = [int(v) for v in c["args"]]
    args = (a[0:2], a[2:4], a[4:6], bool(a[6]), bool(a[7]), a[8] or None)
    close(K.avgpool2d_forward(c["x"], *args), c["y"])
    close(K.avgpool2d_backward(c["gy"], c["x"].shape, *args), c["gx"])


def test_adaptive_and_unfold_match_torch():
    c = case("adaptive")
    close(K.adaptive_avgpool2d_forward(c["x"], (3, 5)), c["avg"])
    close(K.adaptive_avgpool2d_backward(np.ones(c["avg"].shape, np.float32), c["x"].shape), c["gx"])
    y, idx = K.adaptive_maxpool2d_forward(c["x"], (4, 3))
    close(y, c["max"])
    np.testing.assert_array_equal(idx, c["idx"])
    c = case("unfold")
    cols = K.im2col(c["x"], (3, 2), (2, 1), (1, 0), (1, 2))
    close(cols, c["cols"])
    close(K.col2im(cols, c["x"].shape, (3, 2), (2, 1), (1, 0), (1, 2)), c["folded"])


@pytest.mark.parametrize("i", range(4))
def test_cross_entropy_matches_torch(i):
    c = case(f"ce{i}")
    red, ls = str(c["red"]), float(c["ls"])
    loss, lse, tw = K.cross_entropy_forward(c["x"], c["t"], c["w"], 2, red, ls)
    close(loss, c["loss"])
    gx = K.cross_entropy_backward(c["gy"], c["x"], c["t"], lse, c["w"], 2, red, ls, tw)
    close(gx, c["gx"])


def test_nll_loss_weighted_mean_matches_torch():
    c = case("nll")
    loss, _ = K.nll_loss_forward(c["logp"], c["t"], c["w"], 2, "mean")
    close(loss, c["loss"])


def test_norms_and_embedding_match_torch():
    c = case("bn")
    rm, rv = np.zeros(3, np.float32), np.ones(3, np.float32)
    y, sm, si = K.batchnorm_forward(c["x"], c["w"], c["b"], rm, rv, True, 0.2, 1e-5)
    close(y, c["y"], 1e-4)
    close(rm, c["rm"])
    close(rv, c["rv"])
    grads = K.batchnorm_backward(c["gy"], c["x"], c["w"], sm, si, True)
    for g, name in zip(grads, ("gx", "gw", "gb")):
        close(g, c[name], 1e-4)
    c = case("gn")
    y, m, r = K.groupnorm_forward(c["x"], 3, c["w"], c["b"])
    close(y, c["y"], 1e-4)
    for g, name in zip(K.groupnorm_backward(c["gy"], c["x"], 3, c["w"], m, r), ("gx", "gw", "gb")):
        close(g, c[name], 1e-4)
    c = case("ln")
    y, m, r = K.layernorm_forward(c["x"], 2, c["w"], c["b"])
    close(y, c["y"], 1e-4)
    for g, name in zip(K.layernorm_backward(c["gy"], c["x"], 2, c["w"], m, r), ("gx", "gw", "gb")):
        close(g, c[name], 1e-4)
    c = case("emb")
    close(K.embedding_backward(c["gy"], c["idx"], 6, 1, True), c["gw"])
