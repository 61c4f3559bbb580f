"""Embedding / EmbeddingBag ``scale_grad_by_freq`` and ``sparse=True`` (a dense
gradient), and ctc_loss's differentiable-once gradient: numpy references written
here, PyTorch 2.13 fixtures (fixtures/c/embedding.npz), gradcheck/gradgradcheck."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ember as E
import ember.nn as nn
import ember.nn.functional as F
from ember.autograd import grad, gradcheck, gradgradcheck

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "c", "embedding.npz")


@pytest.fixture(scope="module")
def fx():
    return dict(np.load(FIX))


def freq_grad_ref(idx, gy, num, padding_idx=None):
    """Weight gradient of an embedding lookup, each row divided by its index count."""
    flat = idx.reshape(-1)
    counts = np.bincount(flat, minlength=num)
    g = np.zeros((num, gy.shape[-1]))
    for i, row in zip(flat, gy.reshape(-1, gy.shape[-1])):
        g[i] += row / counts[i]
    if padding_idx is not None:
        g[padding_idx] = 0.0
    return g


@pytest.mark.parametrize("pad", [None, 1])
def test_embedding_scale_grad_by_freq_numpy_and_torch(fx, pad):
    w = E.tensor(fx["w"], requires_grad=True)
    y = F.embedding(E.tensor(fx["idx"]), w, padding_idx=pad, scale_grad_by_freq=True)
    np.testing.assert_array_equal(y.detach().numpy(), fx["w"][fx["idx"]])
    (y * E.tensor(fx["proj"])).sum().backward()
    ref = freq_grad_ref(fx["idx"], fx["proj"], 7, pad)
    np.testing.assert_allclose(w.grad.numpy(), ref, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(w.grad.numpy(), fx["g_nopad" if pad is None else "g_pad1"])


def test_embedding_without_scaling_is_unchanged():
    idx = np.array([3, 3, 0, 3])
    w = E.ones(4, 2, dtype=E.float64, requires_grad=True)
    F.embedding(E.tensor(idx), w).sum().backward()
    np.testing.assert_array_equal(w.grad.numpy()[:, 0], [1, 0, 0, 3])


def test_embedding_scale_grad_by_freq_double_backward_numpy():
    # scaled gradients are not the derivative of the lookup, so finite differences
    # do not apply; the second derivative is checked against numpy instead
    idx_np = np.array([[0, 2, 2], [1, 2, 0]])
    rng = np.random.default_rng(0)
    w_np, proj = rng.standard_normal((4, 3)), rng.standard_normal((2, 3, 3))
    w = E.tensor(w_np, requires_grad=True)
    y = F.embedding(E.tensor(idx_np), w, scale_grad_by_freq=True)
    (g,) = grad((y * y * E.tensor(proj)).sum(), w, create_graph=True)
    np.testing.assert_allclose(
        g.detach().numpy(), freq_grad_ref(idx_np, 2 * w_np[idx_np] * proj, 4), rtol=1e-13
    )
    (h,) = grad((g * g).sum(), w)
    # g[r] = 2 w[r] c[r] with c[r] = sum_p proj[p] / count[r], so d(g.g)/dw = 8 w c^2:
    # the finite-difference derivative of g (and PyTorch's double backward)
    c = freq_grad_ref(idx_np, proj, 4)
    np.testing.assert_allclose(h.numpy(), 8 * w_np * c * c, rtol=1e-12, atol=1e-13)


def test_embedding_plain_gradcheck_and_gradgradcheck_still_hold():
    idx = E.tensor(np.array([[0, 2, 2], [1, 2, 0]]))
    w = E.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda t: F.embedding(idx, t) ** 2, (w,))
    assert gradgradcheck(lambda t: F.embedding(idx, t, padding_idx=1) ** 2, (w,))


def test_embedding_module_sparse_gives_dense_gradient():
    rng = np.random.default_rng(1)
    w0 = rng.standard_normal((6, 3))
    idx = E.tensor(np.array([4, 1, 4]))
    dense = nn.Embedding.from_pretrained(E.tensor(w0), freeze=False)
    sparse = nn.Embedding.from_pretrained(E.tensor(w0), freeze=False, sparse=True)
    for m in (dense, sparse):
        m(idx).sum().backward()
    g = sparse.weight.grad
    assert tuple(g.shape) == (6, 3) and g.dtype == E.float64
    np.testing.assert_array_equal(g.numpy(), dense.weight.grad.numpy())
    np.testing.assert_array_equal(g.numpy()[:, 0], [0, 1, 0, 0, 2, 0])


def test_sparse_embedding_gradient_steps_an_optimizer():
    # ember-optim is not a dependency of ember-nn: this runs where both are installed
    optim = pytest.importorskip("ember.optim", reason="needs ember-optim")
    w0 = np.random.default_rng(1).standard_normal((6, 3))
    sparse = nn.Embedding.from_pretrained(E.tensor(w0), freeze=False, sparse=True)
    sparse(E.tensor(np.array([4, 1, 4]))).sum().backward()
    g = sparse.weight.grad.numpy().copy()
    optim.SGD(sparse.parameters(), lr=0.5).step()
    np.testing.assert_allclose(sparse.weight.detach().numpy(), w0 - 0.5 * g)


def test_embedding_module_scale_grad_by_freq():
    m = nn.Embedding(5, 2, scale_grad_by_freq=True, padding_idx=0)
    m(E.tensor(np.array([[2, 2, 0], [3, 2, 0]]))).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy()[:, 1], [0, 0, 1, 1, 0])
    assert repr(m) == "Embedding(5, 2, padding_idx=0, scale_grad_by_freq=True)"
    assert repr(nn.Embedding(3, 2, sparse=True)) == "Embedding(3, 2, sparse=True)"


@pytest.mark.parametrize("mode", ["sum", "mean"])
def test_embedding_bag_scale_grad_by_freq_matches_torch_equal_counts(fx, mode):
    w = E.tensor(fx["w"], requires_grad=True)
    y = F.embedding_bag(
        E.tensor(fx["bag_idx"]), w, E.tensor(fx["offsets"]), mode=mode, scale_grad_by_freq=True
    )
    (y * E.tensor(fx["bproj"])).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), fx["gbag_" + mode], rtol=1e-13, atol=1e-13)


def test_embedding_bag_scale_grad_by_freq_mixed_counts_by_hand():
    # bags [2], [5, 1, 1]: index 1 twice, 2 and 5 once. PyTorch 2.13's CPU kernel
    # divides row 2 by 2 here (pytorch/pytorch#190063); the documented rule is below.
    w = E.ones(6, 1, dtype=E.float64, requires_grad=True)
    idx, off = E.tensor(np.array([2, 5, 1, 1])), E.tensor(np.array([0, 1]))
    F.embedding_bag(idx, w, off, mode="sum", scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(w.grad.numpy()[:, 0], [0, 1, 1, 0, 0, 1])
    w.grad = None
    F.embedding_bag(idx, w, off, mode="mean", scale_grad_by_freq=True).sum().backward()
    np.testing.assert_allclose(w.grad.numpy()[:, 0], [0, 1 / 3, 1, 0, 0, 1 / 3])


def test_embedding_bag_module_sparse_and_freq_with_padding():
    m = nn.EmbeddingBag(4, 2, mode="sum", scale_grad_by_freq=True, sparse=True, padding_idx=3)
    m(E.tensor(np.array([[1, 1, 3], [3, 2, 1]]))).sum().backward()
    np.testing.assert_allclose(m.weight.grad.numpy()[:, 0], [0, 1, 1, 0])


def test_embedding_bag_freq_max_mode_error():
    w = E.tensor(np.random.default_rng(2).standard_normal((4, 2)), requires_grad=True)
    idx, off = E.tensor(np.array([0, 2, 2, 3, 2])), E.tensor(np.array([0, 2]))
    with pytest.raises(ValueError, match="scale_grad_by_freq.*mode='max'"):
        F.embedding_bag(idx, w, off, mode="max", scale_grad_by_freq=True)


# ----- ctc_loss: differentiable once -----
def _ctc_setup():
    x = E.tensor(np.random.default_rng(4).standard_normal((6, 2, 4)), requires_grad=True)
    tg, il, tl = E.tensor(np.array([[1, 2], [3, 3]])), [6, 5], [2, 2]
    return x, (lambda t: F.ctc_loss(F.log_softmax(t, 2), tg, il, tl))


def test_ctc_first_order_gradient_under_create_graph_equals_plain():
    x, loss = _ctc_setup()
    (g_plain,) = grad(loss(x), x)
    (g_graph,) = grad(loss(x), x, create_graph=True)
    assert g_graph.requires_grad
    np.testing.assert_allclose(g_graph.detach().numpy(), g_plain.numpy(), rtol=0, atol=0)
    assert gradcheck(loss, (x,))


def test_ctc_double_backward_raises_naming_ctc_loss():
    x, loss = _ctc_setup()
    (g,) = grad(loss(x), x, create_graph=True)
    with pytest.raises(RuntimeError, match="ctc_loss: double backward is not implemented"):
        grad((g * g).sum(), x)
    with pytest.raises(RuntimeError, match="ctc_loss"):
        gradgradcheck(loss, (x,))
