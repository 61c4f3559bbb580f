"""CTC loss: PyTorch 2.13 parity (fixtures/b), a brute-force reference that sums
over every alignment, gradients by finite differences, bad input."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

import ember as E
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import gradcheck

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "b")


@pytest.fixture(scope="module")
def fx():
    return dict(np.load(os.path.join(FIX, "ctc.npz")))


def arr(x):
    return x.detach().numpy()


def _collapse(path, blank):
    out = []
    prev = None
    for p in path:
        if p != prev and p != blank:
            out.append(p)
        prev = p
    return out


def brute_force_nll(lp: np.ndarray, target: list, blank: int = 0) -> float:
    """-log of the sum over every path of length T that collapses to ``target``."""
    t, c = lp.shape
    total = 0.0
    for path in itertools.product(range(c), repeat=t):
        if _collapse(path, blank) == list(target):
            total += np.exp(sum(lp[i, k] for i, k in enumerate(path)))
    return -np.log(total)


def test_matches_brute_force_over_all_alignments():
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((5, 3, 3))
    lp = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
    targets = np.array([[1, 1], [2, 0], [1, 2]])
    tl = np.array([2, 1, 2])
    il = np.array([5, 4, 3])
    got = F.ctc_loss(E.tensor(lp), E.tensor(targets), E.tensor(il), E.tensor(tl), reduction="none")
    ref = [brute_force_nll(lp[: il[n], n], list(targets[n, : tl[n]])) for n in range(3)]
    np.testing.assert_allclose(arr(got), ref, rtol=1e-12)


def test_matches_torch_values_and_logit_gradients(fx):
    logits = E.tensor(fx["logits"], requires_grad=True)
    lp = F.log_softmax(logits, 2)
    args = (E.tensor(fx["targets"]), E.tensor(fx["il"]), E.tensor(fx["tl"]))
    np.testing.assert_allclose(arr(F.ctc_loss(lp, *args, reduction="none")), fx["none"], 1e-12)
    mean = nn.CTCLoss()(lp, *args)
    np.testing.assert_allclose(arr(mean), fx["mean"], 1e-12)
    mean.backward()
    np.testing.assert_allclose(arr(logits.grad), fx["glogits"], rtol=1e-10, atol=1e-12)
    t = fx["targets"]
    flat = E.tensor(np.concatenate([t[0, :4], t[1, :2], t[2, :3]]))
    s = F.ctc_loss(lp, flat, args[1], args[2], reduction="sum")
    np.testing.assert_allclose(arr(s), fx["sum"], 1e-12)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_gradcheck_log_probs(reduction):
    rng = np.random.default_rng(1)
    lp = E.tensor(rng.standard_normal((6, 2, 4)) - 1.5, requires_grad=True)
    targets = E.tensor([[1, 3, 3], [2, 2, 0]])
    il, tl = E.tensor([6, 5]), E.tensor([3, 2])
    assert gradcheck(lambda lp: F.ctc_loss(lp, targets, il, tl, reduction=reduction), (lp,))


def test_unbatched_and_float32():
    rng = np.random.default_rng(2)
    lp = rng.standard_normal((7, 2, 5))
    lp -= np.log(np.exp(lp).sum(-1, keepdims=True))
    tg = np.array([[1, 2, 3], [4, 4, 0]])
    batched = F.ctc_loss(E.tensor(lp), E.tensor(tg), [7, 7], [3, 2], reduction="none")
    one = F.ctc_loss(E.tensor(lp[:, 1]), E.tensor(tg[1, :2]), [7], [2], reduction="none")
    np.testing.assert_allclose(arr(one), arr(batched)[1], 1e-12)
    f32 = F.ctc_loss(
        E.tensor(lp.astype(np.float32)), E.tensor(tg), [7, 7], [3, 2], reduction="none"
    )
    assert f32.dtype == E.float32
    np.testing.assert_allclose(arr(f32), arr(batched), rtol=1e-5)


def test_impossible_alignment_and_zero_infinity():
    # 3 frames cannot emit "1 1" (needs a blank between the repeats: 3 symbols min)
    lp = E.tensor(np.log(np.full((2, 1, 3), 1 / 3)), requires_grad=True)
    tg, il, tl = E.tensor([[1, 1]]), E.tensor([2]), E.tensor([2])
    assert np.isinf(arr(F.ctc_loss(lp, tg, il, tl, reduction="sum")))
    z = F.ctc_loss(lp, tg, il, tl, reduction="sum", zero_infinity=True)
    assert float(z) == 0.0
    z.backward()
    assert np.all(arr(lp.grad) == 0)


def test_bad_input():
    lp = E.randn(5, 2, 4)
    with pytest.raises(RuntimeError, match=r"input_lengths must be in \[0, 5\]"):
        F.ctc_loss(lp, E.tensor([[1], [2]]), [6, 5], [1, 1])
    with pytest.raises(ValueError, match="other than blank=0"):
        F.ctc_loss(lp, E.tensor([[1, 0], [2, 1]]), [5, 5], [2, 2])
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        F.ctc_loss(lp, E.tensor([[1, 7], [2, 1]]), [5, 5], [2, 2])
    with pytest.raises(RuntimeError, match=r"shape \(2,\)"):
        F.ctc_loss(lp, E.tensor([[1], [2]]), [5, 5, 5], [1, 1])
    with pytest.raises(RuntimeError, match="sum\\(target_lengths\\)=3"):
        F.ctc_loss(lp, E.tensor([1, 2]), [5, 5], [1, 2])
