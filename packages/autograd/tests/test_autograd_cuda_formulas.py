"""Gradients on CUDA against the CPU for the formulas that allocate their own buffers:
order statistics (a zero tensor scattered into), eigh/svd (identity masks and inner
matrices), diagonal, prod and cumprod with zeros in the input (their explicit fallback),
masked_select and take, and one double backward.

The gradient of each must equal the CPU's and stay on the device. Needs a GPU (skipped
with the reason otherwise); ``EMBER_CUDA_DRYRUN=1`` runs the same tests on the CPU with
stand-in device storage (``ember._cuda.standin``), which catches host buffers in these
formulas, not CUDA bugs.
"""

from __future__ import annotations

import numpy as np
import pytest

import ember
from ember._cuda import standin

pytestmark = standin.device_test_marks()
RNG = np.random.default_rng(5)


@pytest.fixture(autouse=True)
def _device(monkeypatch):
    standin.activate_for_dryrun(monkeypatch)


def _with_zeros(shape, where):
    a = RNG.standard_normal(shape)
    a[where] = 0.0
    return a


_SYM = (lambda m: m + m.T)(RNG.standard_normal((4, 4)))
_MASK = RNG.standard_normal((3, 4)) > 0
CASES = {
    "sort": (lambda x: ember.sort(x, 1)[0], RNG.standard_normal((3, 5))),
    "topk": (lambda x: ember.topk(x, 2, 0)[0], RNG.standard_normal((4, 3))),
    "kthvalue": (lambda x: ember.kthvalue(x, 2, 1)[0], RNG.standard_normal((3, 5))),
    "median": (lambda x: ember.median(x, 1)[0], RNG.standard_normal((3, 5))),
    "mode": (lambda x: ember.mode(x, 1)[0], RNG.integers(0, 3, (3, 5)).astype(np.float64)),
    "eigh": (lambda x: ember.linalg.eigh(x)[0].sum() + ember.linalg.eigh(x)[1].abs().sum(), _SYM),
    "svd": (lambda x: ember.linalg.svd(x, full_matrices=False)[1], RNG.standard_normal((4, 3))),
    "diagonal": (lambda x: ember.diagonal(x, 1), RNG.standard_normal((4, 5))),
    "prod_zero_dim": (lambda x: x.prod(1), _with_zeros((3, 4), (1, 2))),
    "prod_zero_all": (lambda x: x.prod(), _with_zeros((3, 4), (2, 1))),
    "cumprod_zero": (lambda x: ember.cumprod(x, 1), _with_zeros((2, 5), (0, 2))),
    "masked_select": (
        lambda x: ember.masked_select(x, ember.from_numpy(_MASK).to(x.device)),
        RNG.standard_normal((3, 4)),
    ),
    "take": (
        lambda x: ember.take(x, ember.from_numpy(np.array([0, 5, 5, 11])).to(x.device)),
        RNG.standard_normal((3, 4)),
    ),
}


def grad_on(device, fn, a):
    x = ember.from_numpy(np.array(a)).to(device).requires_grad_()
    y = fn(x)
    w = ember.from_numpy(np.linspace(0.5, 1.5, y.numel()).reshape(tuple(y.shape))).to(device)
    (y * w).sum().backward()
    assert x.grad.device.type == ember.device(device).type, "the gradient left the device"
    return np.array(y.detach().cpu().numpy()), np.array(x.grad.cpu().numpy())


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_on_cuda_matches_cpu(name):
    fn, a = CASES[name]
    want_y, want_g = grad_on("cpu", fn, a)
    got_y, got_g = grad_on("cuda", fn, a)
    np.testing.assert_allclose(got_y, want_y, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(got_g, want_g, rtol=1e-8, atol=1e-10)
    assert np.abs(want_g).max() > 0, "a zero gradient cannot tell the devices apart"


def test_double_backward_on_cuda_matches_cpu():
    a = RNG.standard_normal((3, 4))

    def second(device):
        x = ember.from_numpy(a).to(device).requires_grad_()
        y = (ember.sort(x, 1)[0] ** 3).sum() + x.prod()
        (g,) = ember.autograd.grad(y, x, create_graph=True)
        (gg,) = ember.autograd.grad(g.sum(), x)
        return np.array(gg.cpu().numpy())

    np.testing.assert_allclose(second("cuda"), second("cpu"), rtol=1e-9, atol=1e-12)
