"""Bilinear, pixel (un)shuffle, interpolate/Upsample, padding layers, EmbeddingBag:
PyTorch 2.13 parity (fixtures/b), numpy references, gradients, bad input."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ember as E
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "b")


def load(name, module=None):
    if module is not None:
        module.load_state_dict(E.load(os.path.join(FIX, name + ".pt")))
    return dict(np.load(os.path.join(FIX, name + ".npz")))


def arr(x):
    return x.detach().numpy()


def close(x, ref, tol=1e-12):
    np.testing.assert_allclose(arr(x), ref, rtol=tol, atol=tol)


@pytest.fixture(scope="module")
def samp():
    return load("sampling")


# ----- interpolate -----
@pytest.mark.parametrize(
    "key,kw",
    [
        ("nearest", {"size": (7, 9)}),
        ("nearest_sf", {"scale_factor": 1.7}),
        ("nearest_exact", {"size": (3, 7), "mode": "nearest-exact"}),
        ("bil", {"size": (8, 6), "mode": "bilinear"}),
        ("bil_ac", {"size": (3, 7), "mode": "bilinear", "align_corners": True}),
        ("bil_sf", {"scale_factor": 2, "mode": "bilinear"}),
    ],
)
def test_interpolate_2d_matches_torch(samp, key, kw):
    close(F.interpolate(E.tensor(samp["x"]), **kw), samp[key])


def test_interpolate_linear_1d_and_numpy_reference(samp):
    x1 = samp["x1d"]
    close(F.interpolate(E.tensor(x1), size=11, mode="linear"), samp["lin"])
    # align_corners=True: output j sits at input position j * (n_in - 1) / (n_out - 1)
    pos = np.arange(11) * 6 / 10
    ref = np.stack([[np.interp(pos, np.arange(7), row) for row in b] for b in x1])
    got = F.interpolate(E.tensor(x1), size=11, mode="linear", align_corners=True)
    close(got, ref)


def test_upsample_modules_and_gradcheck():
    E.manual_seed(0)
    x = E.randn(1, 2, 3, 4, dtype=E.float64, requires_grad=True)
    up = nn.Upsample(scale_factor=2, mode="bilinear")
    assert tuple(up(x).shape) == (1, 2, 6, 8)
    assert gradcheck(up, (x,))
    assert gradcheck(nn.UpsamplingNearest2d(size=(5, 7)), (x,))
    a = nn.UpsamplingBilinear2d(scale_factor=2)(x)
    close(a, arr(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=True)), 0)


def test_interpolate_bad_arguments():
    x = E.randn(1, 2, 3, 4)
    with pytest.raises(ValueError, match="exactly one of size and scale_factor"):
        F.interpolate(x)
    with pytest.raises(NotImplementedError, match=r"'bilinear' needs 4-D input.*\(2, 3, 4\)"):
        F.interpolate(x[0], size=5, mode="bilinear")
    with pytest.raises(ValueError, match="align_corners"):
        F.interpolate(x, size=(4, 4), align_corners=True)
    with pytest.raises(ValueError, match=r"2 spatial dims, but size \(4, 4, 4\)"):
        F.interpolate(x, size=(4, 4, 4))


# ----- pixel shuffle -----
def test_pixel_shuffle_matches_torch_and_round_trips(samp):
    x = E.arange(96.0, dtype=E.float64).reshape(2, 8, 3, 2)
    y = nn.PixelShuffle(2)(x)
    close(y, samp["ps"])
    close(nn.PixelUnshuffle(2)(y), arr(x), 0)
    close(F.pixel_unshuffle(E.tensor(samp["x"])[:, :, :4, :4], 2), samp["pu"])
    with pytest.raises(RuntimeError, match=r"divisible by 4, got shape \(2, 6, 3, 2\)"):
        F.pixel_shuffle(E.zeros(2, 6, 3, 2), 2)


# ----- padding -----
@pytest.mark.parametrize(
    "cls,key",
    [
        (nn.ReflectionPad2d, "reflect"),
        (nn.ReplicationPad2d, "replicate"),
        (nn.CircularPad2d, "circular"),
    ],
)
def test_padding_layers_match_torch(samp, cls, key):
    close(cls((2, 1, 3, 2))(E.tensor(samp["x"])), samp[key])


def test_constant_and_zero_pads_against_numpy(samp):
    x = samp["x"]
    close(nn.ZeroPad2d(2)(E.tensor(x)), np.pad(x, ((0, 0), (0, 0), (2, 2), (2, 2))))
    got = nn.ConstantPad2d((1, 0, 2, 3), 3.5)(E.tensor(x))
    close(got, np.pad(x, ((0, 0), (0, 0), (2, 3), (1, 0)), constant_values=3.5))
    close(
        nn.ConstantPad1d(2, -1.0)(E.tensor(samp["x1d"])),
        np.pad(samp["x1d"], ((0, 0), (0, 0), (2, 2)), constant_values=-1.0),
    )
    close(nn.ReflectionPad1d((3, 2))(E.tensor(samp["x1d"])), samp["reflect1d"])
    close(
        nn.ReplicationPad1d(2)(E.tensor(samp["x1d"])),
        np.pad(samp["x1d"], ((0, 0), (0, 0), (2, 2)), mode="edge"),
    )


def test_padding_gradcheck_and_errors():
    E.manual_seed(1)
    x = E.randn(1, 2, 4, 3, dtype=E.float64, requires_grad=True)
    assert gradcheck(nn.ReflectionPad2d(2), (x,))
    assert gradcheck(nn.ReplicationPad2d((1, 2, 0, 3)), (x,))
    with pytest.raises(ValueError, match=r"ReflectionPad2d.*3-D or 4-D input, got shape \(4,\)"):
        nn.ReflectionPad2d(1)(E.zeros(4))
    with pytest.raises(RuntimeError, match="less than the corresponding input dimension"):
        nn.ReflectionPad2d(3)(x)
    with pytest.raises(ValueError, match="4-tuple"):
        nn.ZeroPad2d((1, 2))


# ----- Bilinear -----
def test_bilinear_matches_torch_and_einsum():
    m = nn.Bilinear(3, 4, 5, dtype=E.float64)
    f = load("bilinear", m)
    y = m(E.tensor(f["x1"]), E.tensor(f["x2"]))
    close(y, f["y"])
    w, b = arr(m.weight), arr(m.bias)
    close(y, np.einsum("ni,oij,nj->no", f["x1"], w, f["x2"]) + b)


def test_bilinear_gradcheck_and_bad_input():
    E.manual_seed(2)
    m = nn.Bilinear(2, 3, 2, dtype=E.float64)
    x1 = E.randn(4, 2, dtype=E.float64, requires_grad=True)
    x2 = E.randn(4, 3, dtype=E.float64, requires_grad=True)
    assert gradcheck(m, (x1, x2))
    assert gradcheck(lambda *p: m(x1, x2), tuple(m.parameters()))
    with pytest.raises(RuntimeError, match=r"Bilinear.*\(\*, 2\) and \(\*, 3\).*\(4, 3\) and"):
        m(x2, x2)


# ----- EmbeddingBag -----
def test_embedding_bag_modes_match_torch():
    m = nn.EmbeddingBag(10, 4, mode="sum", dtype=E.float64)
    f = load("embbag", m)
    inp, off = E.tensor(f["inp"]), E.tensor(f["offsets"])
    for mode in ("sum", "mean", "max"):
        close(F.embedding_bag(inp, m.weight, off, mode=mode), f[mode])
    close(m(inp, off, per_sample_weights=E.tensor(f["psw"])), f["wsum"])
    close(F.embedding_bag(inp[:8].reshape(2, 4), m.weight, mode="mean"), f["bag2d"])
    last = E.tensor(np.append(f["offsets"], 9))
    close(F.embedding_bag(inp, m.weight, last, mode="sum", include_last_offset=True), f["sum"])


def test_embedding_bag_padding_idx_against_numpy_and_gradcheck():
    E.manual_seed(3)
    m = nn.EmbeddingBag(6, 3, mode="mean", padding_idx=0, dtype=E.float64)
    idx = np.array([[1, 0, 2], [0, 0, 0], [5, 5, 4]])
    y = m(E.tensor(idx))
    w = arr(m.weight)
    ref = np.stack(
        [w[[i for i in row if i != 0]].mean(0) if (row != 0).any() else np.zeros(3) for row in idx]
    )
    close(y, ref)
    for mode in ("sum", "mean", "max"):
        bag = nn.EmbeddingBag(6, 3, mode=mode, dtype=E.float64)
        assert gradcheck(lambda *p, bag=bag: bag(E.tensor(idx)), (bag.weight,))


def test_embedding_bag_bad_input():
    m = nn.EmbeddingBag(5, 2)
    with pytest.raises(ValueError, match="offsets has to be a 1-D tensor"):
        m(E.tensor([1, 2, 3]))
    with pytest.raises(IndexError, match="out of range for 5 embeddings"):
        m(E.tensor([[1, 7]]))
    with pytest.raises(NotImplementedError, match="per_sample_weights"):
        m(E.tensor([[1, 2]]), per_sample_weights=E.ones(1, 2))
    with pytest.raises(ValueError, match="non-decreasing"):
        m(E.tensor([1, 2, 3]), E.tensor([0, 2, 1]))
