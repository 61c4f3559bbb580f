"""ember.nn.utils.parametrize and parametrizations.weight_norm / orthogonal: names,
right_inverse, chaining, caching, removal, state dicts (PyTorch's key names), numpy
references written here and PyTorch 2.13 fixtures (fixtures/c; spectral norm's too)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

import ember as E
import ember.nn as nn
from ember.autograd import gradcheck, gradgradcheck
from ember.nn.utils import parametrizations as PZ
from ember.nn.utils import parametrize as P
from ember.nn.utils import spectral_norm

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "c")


class Symmetric(nn.Module):
    def forward(self, x):
        return x.triu() + x.triu(1).mT


class Scale(nn.Module):
    def __init__(self, k):
        super().__init__()
        self.k = k

    def forward(self, x):
        return x * self.k

    def right_inverse(self, x):
        return x / self.k


class Product(nn.Module):
    """Two originals: forward(a, b) = a * b."""

    def forward(self, a, b):
        return a * b

    def right_inverse(self, z):
        return z, E.ones_like(z)


class Counting(nn.Module):
    def __init__(self):
        super().__init__()
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        return x + 0.0


class SGD:
    """Plain gradient descent on the module's parameters: what the tests need of an
    optimizer (it holds the Parameter objects), without ember-optim, which ember-nn
    does not depend on."""

    def __init__(self, params, lr: float) -> None:
        self.params, self.lr = list(params), lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        with E.no_grad():
            for p in self.params:
                if p.grad is not None:
                    p.sub_(self.lr * p.grad)


def arr(t):
    return t.detach().numpy()


def lin(n_in=3, n_out=3):
    E.manual_seed(0)
    return nn.Linear(n_in, n_out).double()


# ----- parametrize -----
def test_register_names_class_and_gradient():
    m = lin()
    w0 = arr(m.weight).copy()
    P.register_parametrization(m, "weight", Symmetric())
    assert type(m).__name__ == "ParametrizedLinear" and isinstance(m, nn.Linear)
    assert P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias")
    assert P.type_before_parametrizations(m) is nn.Linear
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]
    w = arr(m.weight)
    np.testing.assert_array_equal(w, np.triu(w0) + np.triu(w0, 1).T)
    proj = np.random.default_rng(1).standard_normal((3, 3))
    (m.weight * E.tensor(proj)).sum().backward()
    ref = np.triu(proj) + np.triu(proj.T, 1)
    np.testing.assert_allclose(arr(m.parametrizations.weight.original.grad), ref)
    assert "ParametrizationList" in repr(m) and "Symmetric" in repr(m)


def test_right_inverse_on_registration_and_assignment():
    m = lin()
    w0 = arr(m.weight).copy()
    original_obj = m.weight
    P.register_parametrization(m, "weight", Scale(2.0))
    assert m.parametrizations.weight.original is original_obj  # optimizers keep working
    np.testing.assert_allclose(arr(m.parametrizations.weight.original), w0 / 2)
    np.testing.assert_allclose(arr(m.weight), w0)
    target = np.arange(9.0).reshape(3, 3)
    m.weight = E.tensor(target)
    np.testing.assert_allclose(arr(m.parametrizations.weight.original), target / 2)
    np.testing.assert_allclose(arr(m.weight), target)
    m.weight = nn.Parameter(E.tensor(-target))  # a Parameter goes through right_inverse too
    np.testing.assert_allclose(arr(m.weight), -target)
    assert "weight" not in m._parameters


def test_sequence_right_inverse_gives_original0_original1():
    m = lin()
    w0 = arr(m.weight).copy()
    P.register_parametrization(m, "weight", Product())
    keys = list(m.state_dict())
    assert keys == [
        "bias",
        "parametrizations.weight.original0",
        "parametrizations.weight.original1",
    ]
    np.testing.assert_allclose(arr(m.weight), w0)
    assert m.parametrizations.weight.original1.requires_grad
    with pytest.raises(ValueError, match="sequence of tensors"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)


def test_chain_runs_in_registration_order_and_state_dict_round_trip():
    m = lin()
    w0 = arr(m.weight).copy()
    P.register_parametrization(m, "weight", Symmetric())
    P.register_parametrization(m, "weight", Scale(3.0))
    assert len(m.parametrizations.weight) == 2
    np.testing.assert_allclose(arr(m.weight), 3 * (np.triu(w0) + np.triu(w0, 1).T))
    other = nn.Linear(3, 3).double()
    P.register_parametrization(other, "weight", Symmetric())
    P.register_parametrization(other, "weight", Scale(3.0))
    other.load_state_dict(m.state_dict())
    x = E.tensor(np.random.default_rng(2).standard_normal((4, 3)))
    np.testing.assert_array_equal(arr(other(x)), arr(m(x)))
    plain = nn.Linear(3, 3).double()
    with pytest.raises(RuntimeError, match="parametrizations.weight.original"):
        plain.load_state_dict(m.state_dict())


def test_cached_computes_once_inside_the_context():
    m = lin()
    c = Counting()
    P.register_parametrization(m, "weight", c)
    base = c.calls
    m.weight, m.weight  # noqa: B018 - each access computes
    assert c.calls == base + 2
    with P.cached():
        a, b = m.weight, m.weight
        with P.cached():
            m.weight  # noqa: B018
    assert a is b and c.calls == base + 3
    m.weight  # noqa: B018 - the cache is gone
    assert c.calls == base + 4


@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations(leave):
    m = lin()
    w0 = arr(m.weight).copy()
    P.register_parametrization(m, "weight", Scale(2.0))
    orig = m.parametrizations.weight.original
    P.remove_parametrizations(m, "weight", leave_parametrized=leave)
    assert type(m) is nn.Linear and not P.is_parametrized(m)
    assert list(m.state_dict()) == ["bias", "weight"]  # re-registered last, as PyTorch
    assert m.weight is orig and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(arr(m.weight), w0 if leave else w0 / 2)
    with pytest.raises(ValueError, match="no parametrization on weight"):
        P.remove_parametrizations(m, "weight")


def test_parametrized_buffer_stays_a_buffer():
    m = nn.BatchNorm1d(3).double()
    P.register_parametrization(m, "running_var", Scale(2.0))
    assert "parametrizations.running_var.original" in m.state_dict()
    assert all("running_var" not in n for n, _ in m.named_parameters())
    np.testing.assert_allclose(arr(m.running_var), np.ones(3))


def test_optimizer_step_keeps_the_constraint():
    m = lin()
    P.register_parametrization(m, "weight", Symmetric())
    opt = SGD(m.parameters(), lr=0.1)
    x = E.tensor(np.random.default_rng(3).standard_normal((5, 3)))
    for _ in range(3):
        opt.zero_grad()
        (m(x) ** 2).sum().backward()
        opt.step()
    w = arr(m.weight)
    np.testing.assert_array_equal(w, w.T)


def test_bad_registrations():
    m = lin()
    with pytest.raises(ValueError, match="no parameter or buffer named 'nope'"):
        P.register_parametrization(m, "nope", Symmetric())
    with pytest.raises(TypeError, match="ember.nn.Module"):
        P.register_parametrization(m, "weight", lambda x: x)

    class Shrink(nn.Module):
        def forward(self, x):
            return x[:2]

    with pytest.raises(ValueError, match=r"\(3, 3\).*\(2, 3\)"):
        P.register_parametrization(m, "weight", Shrink())
    assert type(m) is nn.Linear and "weight" in m._parameters  # left untouched
    P.register_parametrization(m, "weight", Shrink(), unsafe=True)
    assert tuple(m.weight.shape) == (2, 3)


# ----- weight_norm -----
def wn_ref(v, g, dim):
    if dim is None:
        return g * v / np.sqrt((v * v).sum())
    axes = tuple(i for i in range(v.ndim) if i != dim)
    return g * v / np.sqrt((v * v).sum(axes, keepdims=True))


@pytest.mark.parametrize("dim", [0, 1, None])
def test_weight_norm_numpy_reference(dim):
    E.manual_seed(4)
    m = PZ.weight_norm(nn.Conv2d(2, 3, 2).double(), dim=dim)
    v = arr(m.parametrizations.weight.original1)
    g = np.random.default_rng(5).standard_normal(arr(m.parametrizations.weight.original0).shape)
    with E.no_grad():
        m.parametrizations.weight.original0.copy_(E.tensor(g))
    np.testing.assert_allclose(arr(m.weight), wn_ref(v, g, dim), rtol=1e-13)
    assert arr(m.parametrizations.weight.original0).size == (1 if dim is None else v.shape[dim])


def test_weight_norm_gradcheck_and_gradgradcheck():
    wn = PZ._WeightNorm(0)
    rng = np.random.default_rng(6)
    g = E.tensor(rng.standard_normal((3, 1)), requires_grad=True)
    v = E.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    assert gradcheck(wn, (g, v))
    assert gradgradcheck(wn, (g, v))


FIXTURE_CASES = {
    "wn_linear": lambda: PZ.weight_norm(nn.Linear(5, 4)),
    "wn_conv_dim1": lambda: PZ.weight_norm(nn.Conv2d(2, 3, 2), dim=1),
    "wn_none": lambda: PZ.weight_norm(nn.Linear(5, 4), dim=None),
    "orth_hh": lambda: PZ.orthogonal(nn.Linear(4, 6)),
    "orth_exp": lambda: PZ.orthogonal(nn.Linear(4, 4)),
    "orth_cayley_wide": lambda: PZ.orthogonal(nn.Linear(6, 3), orthogonal_map="cayley"),
    # spectral norm, both the parametrization and the legacy hook (the rest of its tests
    # are in test_nn_spectral_norm.py)
    "sn_linear": lambda: PZ.spectral_norm(nn.Linear(5, 4), n_power_iterations=2),
    "sn_convT": lambda: PZ.spectral_norm(nn.ConvTranspose2d(3, 2, 2)),
    "legacy_sn": lambda: spectral_norm(nn.Linear(5, 4), n_power_iterations=3),
    "legacy_sn_conv": lambda: spectral_norm(nn.Conv2d(2, 3, 2), dim=1),
}


def check_fixture(name, make):
    """Load the torch state dict by name, compare outputs, gradients and state."""
    fx = dict(np.load(os.path.join(FIX, name + ".npz")))
    E.set_default_dtype(E.float64)
    try:
        E.manual_seed(0)
        m = make()
    finally:
        E.set_default_dtype(E.float32)
    sd = E.load(os.path.join(FIX, name + ".pt"))
    assert sorted(sd) == sorted(m.state_dict())
    m.load_state_dict(sd)
    x = E.tensor(fx["x"])
    y = m(x)
    np.testing.assert_allclose(arr(y), fx["y_train"], rtol=1e-10, atol=1e-12)
    originals = [p for n, p in m.named_parameters() if "weight" in n]
    y.sum().backward()
    for i, p in enumerate(originals):
        np.testing.assert_allclose(arr(p.grad), fx[f"grad{i}"], rtol=1e-9, atol=1e-12)
    for k, v in m.state_dict().items():
        np.testing.assert_allclose(arr(v), fx["after_" + k.replace(".", "__")], atol=1e-12)
    m.eval()
    np.testing.assert_allclose(arr(m(x)), fx["y_eval"], rtol=1e-10, atol=1e-12)
    return m


@pytest.mark.parametrize("name", sorted(FIXTURE_CASES))
def test_matches_torch_fixture(name):
    check_fixture(name, FIXTURE_CASES[name])


# ----- orthogonal -----
@pytest.mark.parametrize("shape", [(5, 3), (4, 4), (2, 6)])
@pytest.mark.parametrize("omap", ["matrix_exp", "cayley", "householder"])
@pytest.mark.parametrize("triv", [True, False])
def test_orthogonal_stays_orthogonal_through_training(shape, omap, triv):
    E.manual_seed(7)
    m = PZ.orthogonal(
        nn.Linear(shape[1], shape[0]).double(), orthogonal_map=omap, use_trivialization=triv
    )
    opt = SGD(m.parameters(), lr=0.1)
    x = E.tensor(np.random.default_rng(8).standard_normal((6, shape[1])))
    for _ in range(3):
        opt.zero_grad()
        (m(x) ** 2 * E.arange(float(shape[0]))).sum().backward()
        opt.step()
    w = arr(m.weight)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-12)
    assert ("parametrizations.weight.0.base" in m.state_dict()) == triv


def test_orthogonal_assignment_and_householder_right_inverse():
    q, _ = np.linalg.qr(np.random.default_rng(9).standard_normal((5, 3)))
    m = PZ.orthogonal(nn.Linear(3, 5).double())
    m.weight = E.tensor(q)
    np.testing.assert_allclose(arr(m.weight), q, atol=1e-13)
    lin5 = nn.Linear(3, 5).double()
    with E.no_grad():
        lin5.weight.copy_(E.tensor(q))
    h = PZ.orthogonal(lin5, orthogonal_map="householder", use_trivialization=False)
    np.testing.assert_allclose(arr(h.weight), q, atol=1e-13)
    e = PZ.orthogonal(nn.Linear(3, 3).double(), use_trivialization=False)
    with pytest.raises(NotImplementedError, match="use_trivialization=False"):
        e.weight = E.eye(3, dtype=E.float64)


def test_matrix_exp_of_rotation_generator_by_hand():
    t = 7.3  # large enough for several squarings
    a = E.tensor(np.array([[0.0, -t], [t, 0.0]]))
    ref = np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])
    np.testing.assert_allclose(arr(PZ._matrix_exp(a)), ref, atol=1e-13)
    x = E.tensor(np.random.default_rng(10).standard_normal((3, 3)), requires_grad=True)
    assert gradcheck(lambda z: PZ._matrix_exp(z - z.mT), (x,))


def test_orthogonal_bad_input():
    with pytest.raises(ValueError, match="matrix or batch of matrices"):
        PZ.orthogonal(nn.Linear(3, 3), name="bias")
    with pytest.raises(ValueError, match="orthogonal_map must be one of"):
        PZ.orthogonal(nn.Linear(3, 3), orthogonal_map="qr")


def test_deepcopy_gets_its_own_class_and_pickle_says_use_state_dict():
    import copy
    import pickle

    m = lin()
    P.register_parametrization(m, "weight", Scale(2.0))
    twin = copy.deepcopy(m)
    assert type(twin) is not type(m) and type(twin).__name__ == "ParametrizedLinear"
    assert twin.parametrizations.weight.original is not m.parametrizations.weight.original
    np.testing.assert_array_equal(arr(twin.weight), arr(m.weight))
    P.remove_parametrizations(twin, "weight")
    assert type(twin) is nn.Linear and P.is_parametrized(m, "weight")
    np.testing.assert_array_equal(arr(m.weight), arr(twin.weight))  # m still works
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)


def test_dtype_conversion_reaches_originals_and_buffers():
    E.manual_seed(11)
    m = PZ.spectral_norm(nn.Linear(3, 2))
    m.double()
    assert m.parametrizations.weight.original.dtype == E.float64
    assert m.parametrizations.weight[0]._u.dtype == E.float64
    assert m(E.ones(1, 3, dtype=E.float64)).dtype == E.float64


def test_weight_norm_loads_checkpoints_of_the_older_hook():
    from ember.nn.utils import weight_norm as legacy_weight_norm

    E.manual_seed(12)
    old = nn.Sequential(nn.Linear(3, 4), legacy_weight_norm(nn.Linear(4, 2).double()))
    sd = old.state_dict()
    assert sorted(sd) == ["0.bias", "0.weight", "1.bias", "1.weight_g", "1.weight_v"]
    new = nn.Sequential(nn.Linear(3, 4), PZ.weight_norm(nn.Linear(4, 2).double()))
    result = new.load_state_dict(sd)  # strict: nothing missing, nothing unexpected
    assert list(result.missing_keys) == [] and list(result.unexpected_keys) == []
    assert sorted(sd) == ["0.bias", "0.weight", "1.bias", "1.weight_g", "1.weight_v"]
    np.testing.assert_array_equal(
        arr(new[1].parametrizations.weight.original1), arr(sd["1.weight_v"])
    )
    x = E.tensor(np.random.default_rng(13).standard_normal((2, 4)))
    np.testing.assert_allclose(arr(new[1](x)), arr(old[1](x)), rtol=1e-13)
    del sd["1.weight_v"]  # half a legacy pair is not loaded: the originals are missing
    with pytest.raises(
        RuntimeError, match=r"(?s)Missing key\(s\).*original0.*Unexpected.*weight_g"
    ):
        PZ.weight_norm(nn.Linear(4, 2)).load_state_dict(
            {k[2:]: v for k, v in sd.items() if k.startswith("1.")}
        )
