"""ember.nn.utils: packing/padding, gradient clipping, parameter vectors, weight
norm, activation checkpointing (same gradients, lower peak memory)."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest

import ember as E
import ember.nn as nn
from ember.autograd import gradcheck
from ember.nn.utils import (
    checkpoint,
    checkpoint_sequential,
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    remove_weight_norm,
    vector_to_parameters,
    weight_norm,
)
from ember.nn.utils.rnn import (
    PackedSequence,
    pack_padded_sequence,
    pack_sequence,
    pad_packed_sequence,
    pad_sequence,
    unpack_sequence,
    unpad_sequence,
)


def arr(x):
    return x.detach().numpy()


# ----- packing -----
def test_pack_layout_against_hand_computation():
    x = E.arange(12.0).reshape(4, 3)  # (T=4, B=3)
    p = pack_padded_sequence(x, [4, 2, 1])
    np.testing.assert_array_equal(p.batch_sizes.numpy(), [3, 2, 1, 1])
    # step 0 of all three, step 1 of the first two, then the first alone
    np.testing.assert_array_equal(p.data.numpy(), [0, 1, 2, 3, 4, 6, 9])
    assert p.sorted_indices is None


@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_pad_round_trip_unsorted(batch_first):
    E.manual_seed(0)
    lengths = [3, 5, 1, 4]
    x = E.randn(4, 5, 2) if batch_first else E.randn(5, 4, 2)
    p = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    np.testing.assert_array_equal(p.sorted_indices.numpy(), [1, 3, 0, 2])
    y, lens = pad_packed_sequence(p, batch_first=batch_first, padding_value=-9.0)
    np.testing.assert_array_equal(lens.numpy(), lengths)
    xa, ya = arr(x), arr(y)
    for b, n in enumerate(lengths):
        xb = xa[b] if batch_first else xa[:, b]
        yb = ya[b] if batch_first else ya[:, b]
        np.testing.assert_array_equal(yb[:n], xb[:n])
        assert np.all(yb[n:] == -9.0)
    y2, _ = pad_packed_sequence(p, batch_first=batch_first, total_length=7)
    assert y2.shape[1 if batch_first else 0] == 7


def test_pad_sequence_and_pack_sequence_against_numpy():
    seqs = [E.tensor(np.full((n, 2), float(n))) for n in (3, 1, 2)]
    y = pad_sequence(seqs, batch_first=True, padding_value=-1.0)
    ref = np.full((3, 3, 2), -1.0)
    for i, n in enumerate((3, 1, 2)):
        ref[i, :n] = n
    np.testing.assert_array_equal(arr(y), ref)
    left = pad_sequence(seqs, padding_side="left")
    np.testing.assert_array_equal(arr(left)[:, 1, 0], [0, 0, 1])
    packed = pack_sequence(seqs, enforce_sorted=False)
    back = unpack_sequence(packed)
    for a, b in zip(back, seqs):
        np.testing.assert_array_equal(arr(a), arr(b))
    parts = unpad_sequence(y, [3, 1, 2], batch_first=True)
    assert [tuple(p.shape) for p in parts] == [(3, 2), (1, 2), (2, 2)]


def test_packing_is_differentiable():
    E.manual_seed(1)
    x = E.randn(4, 3, 2, dtype=E.float64, requires_grad=True)

    def f(x):
        p = pack_padded_sequence(x, [2, 4, 3], enforce_sorted=False)
        y, _ = pad_packed_sequence(p, padding_value=0.5)
        return y * y

    assert gradcheck(f, (x,))


def test_packing_bad_input():
    x = E.zeros(4, 3)
    with pytest.raises(RuntimeError, match="decreasing order.*enforce_sorted=False"):
        pack_padded_sequence(x, [1, 3, 2])
    with pytest.raises(ValueError, match="got 2 lengths for a batch of 3"):
        pack_padded_sequence(x, [3, 2])
    with pytest.raises(RuntimeError, match="exceeds the 4 time steps"):
        pack_padded_sequence(x, [5, 2, 1])
    with pytest.raises(RuntimeError, match="positive"):
        pack_padded_sequence(x, [3, 2, 0])
    with pytest.raises(
        RuntimeError, match=r"sequence 1 has shape \(2, 3\), expected \(L, \*\(2,\)\)"
    ):
        pad_sequence([E.zeros(3, 2), E.zeros(2, 3)])
    assert isinstance(pack_sequence([E.zeros(2), E.zeros(1)]), PackedSequence)


# ----- gradient clipping -----
def _params_with_grads(seed=0):
    rng = np.random.default_rng(seed)
    ps = [nn.Parameter(E.zeros(*s)) for s in ((3, 4), (5,), (2, 2, 2))]
    for p in ps:
        p.grad = E.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32))
    return ps


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_total_matches_numpy(norm_type):
    ps = _params_with_grads()
    g = np.concatenate([arr(p.grad).ravel().astype(np.float64) for p in ps])
    ref = (
        np.abs(g).max()
        if norm_type == math.inf
        else (np.abs(g) ** norm_type).sum() ** (1 / norm_type)
    )
    total = clip_grad_norm_(ps, max_norm=1.0, norm_type=norm_type)
    np.testing.assert_allclose(float(total), ref, rtol=1e-5)
    after = np.concatenate([arr(p.grad).ravel() for p in ps])
    np.testing.assert_allclose(after, g * (1.0 / (ref + 1e-6)), rtol=1e-5)


def test_clip_grad_norm_leaves_small_gradients_and_flags_nonfinite():
    ps = _params_with_grads(1)
    before = [arr(p.grad).copy() for p in ps]
    clip_grad_norm_(ps, max_norm=1e6)
    for b, p in zip(before, ps):
        np.testing.assert_array_equal(arr(p.grad), b)
    ps[0].grad.numpy()[0, 0] = np.nan
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)


def test_clip_grad_value():
    ps = _params_with_grads(2)
    before = [arr(p.grad).copy() for p in ps]
    clip_grad_value_(ps, 0.5)
    for b, p in zip(before, ps):
        np.testing.assert_array_equal(arr(p.grad), np.clip(b, -0.5, 0.5))
    with pytest.raises(ValueError, match="non-negative"):
        clip_grad_value_(ps, -1.0)


# ----- parameter vectors -----
def test_parameters_to_vector_round_trip():
    m = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    v = parameters_to_vector(m.parameters())
    ref = np.concatenate([arr(p).ravel() for p in m.parameters()])
    np.testing.assert_array_equal(arr(v), ref)
    vector_to_parameters(v * 2, m.parameters())
    np.testing.assert_array_equal(arr(parameters_to_vector(m.parameters())), ref * 2)
    with pytest.raises(ValueError, match="vec has 3 elements, the parameters 26"):
        vector_to_parameters(E.zeros(3), m.parameters())


# ----- weight norm -----
def test_weight_norm_reparameterizes_and_trains():
    E.manual_seed(2)
    lin = nn.Linear(3, 4, dtype=E.float64)
    w0 = arr(lin.weight).copy()
    x = E.randn(5, 3, dtype=E.float64)
    y0 = arr(lin(x))
    weight_norm(lin)
    assert sorted(k for k, _ in lin.named_parameters()) == ["bias", "weight_g", "weight_v"]
    np.testing.assert_allclose(arr(lin.weight_g).ravel(), np.linalg.norm(w0, axis=1))
    np.testing.assert_allclose(arr(lin(x)), y0, rtol=1e-12)
    g, v = lin.weight_g, lin.weight_v
    assert gradcheck(lambda g, v: (lin(x) ** 2).sum(), (g, v))
    with E.no_grad():
        g.mul_(2.0)
    lin(x)  # the pre-hook recomputes weight from g and v
    np.testing.assert_allclose(arr(lin.weight), 2 * w0, rtol=1e-12)
    remove_weight_norm(lin)
    assert sorted(k for k, _ in lin.named_parameters()) == ["bias", "weight"]
    np.testing.assert_allclose(arr(lin.weight), 2 * w0, rtol=1e-12)


def test_weight_norm_dim_none_and_errors():
    lin = nn.Linear(3, 4, dtype=E.float64)
    w0 = arr(lin.weight).copy()
    weight_norm(lin, dim=None)
    np.testing.assert_allclose(float(lin.weight_g), np.linalg.norm(w0))
    with pytest.raises(RuntimeError, match="two weight_norm hooks"):
        weight_norm(lin)
    with pytest.raises(ValueError, match="no parameter named 'kernel'"):
        weight_norm(nn.Linear(2, 2), "kernel")


# ----- checkpoint -----
def _blocks(seed=3, width=64, n=6):
    E.manual_seed(seed)
    return [
        nn.Sequential(nn.Linear(width, width), nn.Tanh(), nn.Dropout(0.25), nn.Linear(width, width))
        for _ in range(n)
    ]


def _run(blocks, x, use_checkpoint):
    for b in blocks:
        b.zero_grad()
    x.grad = None
    E.manual_seed(11)  # the same dropout masks in both runs
    tracemalloc.start()
    h = x
    for b in blocks:
        h = checkpoint(b, h) if use_checkpoint else b(h)
    (h * h).sum().backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    grads = [arr(x.grad).copy()] + [arr(p.grad).copy() for b in blocks for p in b.parameters()]
    return peak, grads


def test_checkpoint_same_gradients_lower_peak_memory():
    blocks = _blocks()
    x = E.randn(2048, 64, requires_grad=True)
    plain_peak, plain = _run(blocks, x, False)
    ck_peak, ck = _run(blocks, x, True)
    for a, b in zip(plain, ck):
        np.testing.assert_array_equal(a, b)  # dropout replayed exactly: bitwise equal
    # activations dominate here: six blocks of four 512 KiB tensors vs one block's
    assert ck_peak < 0.6 * plain_peak, (ck_peak, plain_peak)


def test_checkpoint_sequential_and_no_grad_input():
    blocks = _blocks(4, width=8, n=4)
    seq = nn.Sequential(*blocks)
    x = E.randn(5, 8, requires_grad=True)
    E.manual_seed(1)
    ref = seq(x)
    ref.sum().backward()
    gref = arr(x.grad).copy()
    x.grad = None
    E.manual_seed(1)
    out = checkpoint_sequential(seq, 2, x)
    np.testing.assert_array_equal(arr(out), arr(ref))
    out.sum().backward()
    np.testing.assert_array_equal(arr(x.grad), gref)
    # no input needs a gradient: nothing to recompute through, so it runs plainly and
    # the parameters still get theirs
    seq.zero_grad()
    checkpoint(seq, E.randn(5, 8)).sum().backward()
    assert all(p.grad is not None for p in seq.parameters())
