"""Spectral normalization: ``parametrizations.spectral_norm`` and the legacy hook
``utils.spectral_norm`` against a numpy power iteration written here,
``np.linalg.svd``, and PyTorch's names (``weight_orig``/``weight_u``/``weight_v``;
``parametrizations.weight.0._u``). The comparisons with PyTorch 2.13 fixtures
(fixtures/c) run with the other parametrizations' in test_nn_parametrize.py."""

from __future__ import annotations

import os

import numpy as np
import pytest

import ember as E
import ember.nn as nn
from ember.autograd import gradcheck, gradgradcheck
from ember.nn.utils import parametrizations as PZ
from ember.nn.utils import parametrize as P
from ember.nn.utils import remove_spectral_norm, spectral_norm

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "c")


def arr(t):
    return t.detach().numpy()


def unit(x, eps=1e-12):
    return x / max(np.linalg.norm(x), eps)


def as_matrix(w, dim):
    return np.moveaxis(w, dim, 0).reshape(w.shape[dim], -1)


def power_iteration(mat, u, v, n, v_first):
    """(u, v) after ``n`` steps; the legacy hook updates v then u, the
    parametrization u then v."""
    for _ in range(n):
        if v_first:
            v = unit(mat.T @ u)
            u = unit(mat @ v)
        else:
            u = unit(mat @ v)
            v = unit(mat.T @ u)
    return u, v


def make64(fn):
    E.set_default_dtype(E.float64)
    try:
        E.manual_seed(0)
        return fn()
    finally:
        E.set_default_dtype(E.float32)


# ----- parametrizations.spectral_norm -----
def test_parametrization_names_and_numpy_power_iteration():
    m = make64(lambda: PZ.spectral_norm(nn.Linear(5, 4), n_power_iterations=3))
    assert list(m.state_dict()) == [
        "bias",
        "parametrizations.weight.original",
        "parametrizations.weight.0._u",
        "parametrizations.weight.0._v",
    ]
    w = arr(m.parametrizations.weight.original)
    sn = m.parametrizations.weight[0]
    u0, v0 = arr(sn._u).copy(), arr(sn._v).copy()
    got = arr(m.weight)  # training mode: 3 steps, then W / (u . W v)
    u, v = power_iteration(w, u0, v0, 3, v_first=False)
    np.testing.assert_allclose(arr(sn._u), u, rtol=1e-12)
    np.testing.assert_allclose(arr(sn._v), v, rtol=1e-12)
    np.testing.assert_allclose(got, w / (u @ w @ v), rtol=1e-12)
    u_trained = arr(sn._u).copy()
    m.eval()
    arr(m.weight)
    np.testing.assert_array_equal(arr(sn._u), u_trained)  # eval mode: no update


def test_converges_to_the_largest_singular_value():
    m = make64(lambda: PZ.spectral_norm(nn.Conv2d(3, 4, 3), n_power_iterations=50))
    w = arr(m.parametrizations.weight.original)
    sigma = np.linalg.svd(as_matrix(w, 0), compute_uv=False)[0]
    np.testing.assert_allclose(arr(m.weight), w / sigma, rtol=1e-10)
    top = np.linalg.svd(as_matrix(arr(m.weight), 0), compute_uv=False)[0]
    np.testing.assert_allclose(top, 1.0, rtol=1e-10)


def test_conv_transpose_uses_dim_1_and_one_d_weight_is_normalized():
    m = make64(lambda: PZ.spectral_norm(nn.ConvTranspose2d(3, 2, 2)))
    assert tuple(m.parametrizations.weight[0]._u.shape) == (2,)  # out channels: dim 1
    b = make64(lambda: PZ.spectral_norm(nn.Linear(3, 4), name="bias"))
    bias = arr(b.parametrizations.bias.original)
    np.testing.assert_allclose(arr(b.bias), bias / np.linalg.norm(bias), rtol=1e-13)
    assert "parametrizations.bias.0._u" not in b.state_dict()


def test_spectral_norm_module_gradcheck_and_gradgradcheck():
    sn = make64(lambda: PZ._SpectralNorm(E.randn(3, 4), n_power_iterations=2)).eval()
    w = E.tensor(np.random.default_rng(1).standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(sn, (w,))
    assert gradgradcheck(sn, (w,))


def test_parametrization_state_dict_round_trip_and_remove():
    a = make64(lambda: PZ.spectral_norm(nn.Linear(5, 4)))
    b = make64(lambda: PZ.spectral_norm(nn.Linear(5, 4)))
    x = E.tensor(np.random.default_rng(2).standard_normal((2, 5)))
    a(x)
    b.load_state_dict(a.state_dict())
    a.eval(), b.eval()
    np.testing.assert_array_equal(arr(a(x)), arr(b(x)))
    w = arr(a.weight)
    P.remove_parametrizations(a, "weight")
    assert sorted(a.state_dict()) == ["bias", "weight"]
    np.testing.assert_array_equal(arr(a.weight), w)


# ----- legacy hook -----
def test_legacy_names_and_numpy_reference():
    m = make64(lambda: spectral_norm(nn.Linear(5, 4), n_power_iterations=2))
    assert sorted(m.state_dict()) == ["bias", "weight_orig", "weight_u", "weight_v"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "weight_orig"]
    w = arr(m.weight_orig)
    u0, v0 = arr(m.weight_u).copy(), arr(m.weight_v).copy()
    x = np.random.default_rng(3).standard_normal((3, 5))
    y = m(E.tensor(x))
    u, v = power_iteration(w, u0, v0, 2, v_first=True)
    np.testing.assert_allclose(arr(m.weight_u), u, rtol=1e-12)
    np.testing.assert_allclose(arr(m.weight_v), v, rtol=1e-12)
    ref = x @ (w / (u @ w @ v)).T + arr(m.bias)
    np.testing.assert_allclose(arr(y), ref, rtol=1e-12)
    u_trained = arr(m.weight_u).copy()
    m.eval()
    m(E.tensor(x))
    np.testing.assert_array_equal(arr(m.weight_u), u_trained)  # eval mode: no update


def test_legacy_gradient_flows_to_weight_orig_only_through_sigma_and_w():
    m = make64(lambda: spectral_norm(nn.Linear(3, 2)))
    m.eval()
    w = arr(m.weight_orig)
    u, v = arr(m.weight_u), arr(m.weight_v)
    m(E.ones(1, 3, dtype=E.float64)).sum().backward()
    # L = sum_i (W x)_i / s with s = u.W v and x = 1: dL/dW = 1 x^T / s - L * u v^T / s
    s = u @ w @ v
    big_l = (w @ np.ones(3)).sum() / s
    ref = np.ones((2, 3)) / s - big_l * np.outer(u, v) / s
    np.testing.assert_allclose(arr(m.weight_orig.grad), ref, rtol=1e-12)
    assert m.weight_u.grad is None


def test_legacy_remove_and_errors():
    m = make64(lambda: spectral_norm(nn.Linear(5, 4)))
    m.eval()
    m(E.zeros(1, 5, dtype=E.float64))
    w = arr(m.weight).copy()
    remove_spectral_norm(m)
    assert sorted(m.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(arr(m.weight), w, rtol=1e-13)
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        remove_spectral_norm(m)
    m2 = spectral_norm(nn.Linear(2, 2))
    with pytest.raises(RuntimeError, match="two spectral_norm hooks"):
        spectral_norm(m2)
    with pytest.raises(ValueError, match="no parameter named 'kernel'"):
        spectral_norm(nn.Linear(2, 2), name="kernel")
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        spectral_norm(nn.Linear(2, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match=r"dim 2 is out of range.*\(2, 2\)"):
        spectral_norm(nn.Linear(2, 2), dim=2)
