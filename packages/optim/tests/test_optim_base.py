"""The Optimizer contract: groups, validation, zero_grad, state dicts, resuming."""

from __future__ import annotations

import numpy as np
import pytest
from _optim_fixtures import LOSSES, META, PARAMS, data, optimizer_kwargs

import ember
from ember import optim


def leaf(*shape, seed=0):
    rng = np.random.default_rng(seed)
    return ember.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)


def quad_step(opt, params, d):
    opt.zero_grad()
    loss = LOSSES["quad"](d, *params)
    loss.backward()
    opt.step()
    return loss


# ---------------------------------------------------------------- validation
def test_bad_params_are_rejected_with_clear_errors():
    w = leaf(3)
    with pytest.raises(TypeError, match="iterable of Tensors or dicts"):
        optim.SGD(w, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(3)], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({w}, lr=0.1)


def test_unknown_options_and_invalid_values():
    w = leaf(3)
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['momentm'\]"):
        optim.SGD([{"params": [w], "momentm": 0.9}], lr=0.1)
    with pytest.raises(TypeError, match="momentm"):
        optim.SGD([w], lr=0.1, momentm=0.9)
    with pytest.raises(ValueError, match="Invalid learning rate: -0.1"):
        optim.Adam([w], lr=-0.1)
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([{"params": [w], "lr": -1.0}], lr=0.1)
    with pytest.raises(ValueError, match="Invalid beta parameter at index 0"):
        optim.Adam([w], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="Invalid beta parameter at index 1"):
        optim.AdamW([w], betas=(0.9, -0.1))
    with pytest.raises(ValueError, match="Invalid epsilon"):
        optim.RMSprop([w], eps=-1e-8)
    with pytest.raises(ValueError, match="Invalid weight_decay"):
        optim.Adagrad([w], weight_decay=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Invalid eta values"):
        optim.Rprop([w], etas=(1.2, 0.5))
    with pytest.raises(ValueError, match="Invalid rho"):
        optim.Adadelta([w], rho=1.5)
    with pytest.raises(ValueError, match="didn't specify a value of required"):
        optim.SGD([w], lr=optim.required)
    with pytest.raises(NotImplementedError, match="differentiable"):
        optim.Adam([w], differentiable=True)


# ---------------------------------------------------------------- groups and grads
def test_param_groups_take_their_own_options_and_defaults():
    a, b = leaf(3, seed=1), leaf(2, seed=2)
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5}], lr=0.1, momentum=0.9)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[1]["momentum"] == 0.9
    a0, b0 = a.detach().numpy().copy(), b.detach().numpy().copy()
    a.grad, b.grad = ember.ones(3), ember.ones(2)
    opt.step()
    np.testing.assert_allclose(a.detach().numpy(), a0 - 0.1, rtol=1e-6)
    np.testing.assert_allclose(b.detach().numpy(), b0 - 0.5, rtol=1e-6)


def test_add_param_group_and_named_parameters():
    a, b, c = leaf(3), leaf(2), leaf(1)
    opt = optim.Adam([("w", a), ("b", b)], lr=0.01)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    with pytest.raises(ValueError, match="with/without names"):
        opt.add_param_group({"params": [c]})
    opt.add_param_group({"params": [("c", c)], "lr": 0.5})
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["eps"] == 1e-8
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [("a", a)]})


def test_zero_grad_to_none_or_zeros_and_skips_params_without_grad():
    a, b = leaf(3), leaf(2)
    opt = optim.SGD([a, b], lr=0.1)
    (a * a).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros(3, np.float32))
    assert b.grad is None
    b0 = b.detach().numpy().copy()
    a.grad = ember.ones(3)
    opt.step()  # b has no grad: untouched
    np.testing.assert_array_equal(b.detach().numpy(), b0)
    opt.zero_grad()
    assert a.grad is None


def test_step_bumps_the_version_counter_and_returns_the_closure_loss():
    w = leaf(4)
    y = (w * w).sum()  # saves w for backward
    opt = optim.SGD([w], lr=0.1)
    w.grad = ember.ones(4)
    v0 = w._version
    loss = opt.step(lambda: ember.tensor(3.0))
    assert float(loss) == 3.0
    assert w._version > v0
    with pytest.raises(RuntimeError):
        y.backward()  # w was modified in place after being saved


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW"])
def test_fused_and_numpy_paths_agree(name):
    """A non-contiguous parameter takes the numpy path; results must equal the C path."""
    kw = {"lr": 0.05, "weight_decay": 0.1}
    if name == "SGD":
        kw.update(momentum=0.9, nesterov=True)
    rng = np.random.default_rng(3)
    base = rng.standard_normal((5, 4))
    p_c = ember.tensor(base.T.copy(), requires_grad=True)
    p_t = ember.tensor(base, requires_grad=True).detach().t().requires_grad_(True)
    assert p_c.is_contiguous() and not p_t.is_contiguous()
    opts = [getattr(optim, name)([p], **kw) for p in (p_c, p_t)]
    for _ in range(5):
        g = rng.standard_normal((4, 5))
        for p, o in zip((p_c, p_t), opts):
            p.grad = ember.tensor(g)
            o.step()
    np.testing.assert_allclose(p_t.detach().numpy(), p_c.detach().numpy(), rtol=1e-12)


# ---------------------------------------------------------------- state dicts
CASES = [(i, name, kw) for i, (name, kw) in enumerate(META["optimizers"])]


@pytest.mark.parametrize(("index", "name", "kwargs"), CASES, ids=[f"{i}-{n}" for i, n, _ in CASES])
def test_state_dict_round_trip_resumes_bit_for_bit(index, name, kwargs, tmp_path):
    d = data(ember.float32)
    kw = optimizer_kwargs(kwargs)
    ref_params = [d[k].clone().requires_grad_(True) for k in PARAMS["quad"]]
    ref = getattr(optim, name)(ref_params, **kw)
    params = [d[k].clone().requires_grad_(True) for k in PARAMS["quad"]]
    opt = getattr(optim, name)(params, **kw)
    for _ in range(5):
        quad_step(ref, ref_params, d)
        quad_step(opt, params, d)
    ember.save(
        {"opt": opt.state_dict(), "params": [p.detach() for p in params]}, tmp_path / "ckpt.ember"
    )
    ck = ember.load(tmp_path / "ckpt.ember")
    params2 = [p.clone().requires_grad_(True) for p in ck["params"]]
    opt2 = getattr(optim, name)(params2, **kw)
    opt2.load_state_dict(ck["opt"])
    sd, sd2 = opt.state_dict(), opt2.state_dict()
    assert sd["param_groups"] == sd2["param_groups"]
    assert sd["state"].keys() == sd2["state"].keys()
    for k in sd["state"]:
        for key, v in sd["state"][k].items():
            np.testing.assert_array_equal(sd2["state"][k][key].numpy(), v.numpy())
    for _ in range(5):
        quad_step(ref, ref_params, d)
        quad_step(opt2, params2, d)
    for p, q in zip(ref_params, params2):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_state_dict_format_is_pytorchs():
    a, b = leaf(3), leaf(2)
    opt = optim.Adam([{"params": [a]}, {"params": [b], "lr": 0.5}], amsgrad=True)
    a.grad, b.grad = ember.ones(3), ember.ones(2)
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0] and sd["param_groups"][1]["params"] == [1]
    assert set(sd["state"][1]) == {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"}
    assert sd["state"][0]["step"].dtype == ember.float32 and float(sd["state"][0]["step"]) == 1
    assert sd["param_groups"][1]["lr"] == 0.5
    with pytest.raises(ValueError, match="different number of parameter groups"):
        optim.Adam([a]).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([{"params": [a, b]}, {"params": [leaf(1)]}]).load_state_dict(sd)


def test_sgd_momentum_buffer_only_with_momentum():
    w = leaf(3)
    for momentum, keys in ((0.0, set()), (0.9, {"momentum_buffer"})):
        opt = optim.SGD([w], lr=0.1, momentum=momentum)
        w.grad = ember.ones(3)
        opt.step()
        assert set(opt.state[w]) == keys


# ---------------------------------------------------------------- the seed's loop
def test_seed_training_loop_fits_a_small_model():
    """optimizer.zero_grad(); output = model(input); loss = loss_fn(output, target);
    loss.backward(); optimizer.step() -- with a model made of plain tensors."""
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal((64, 3)).astype(np.float32))
    true_w = np.array([[1.5], [-2.0], [0.5]], np.float32)
    target = ember.tensor(np.tanh(x.numpy() @ true_w) * 2)
    w1, b1 = leaf(3, 16, seed=1), ember.zeros(16, requires_grad=True)
    w2, b2 = leaf(16, 1, seed=2), ember.zeros(1, requires_grad=True)
    with ember.autograd.no_grad():
        w1 *= 0.5
        w2 *= 0.25

    def model(inp):
        return ember.tanh(inp @ w1 + b1) @ w2 + b2

    def loss_fn(out, tgt):
        return ((out - tgt) ** 2).mean()

    optimizer = optim.Adam([w1, b1, w2, b2], lr=0.02)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=100, gamma=0.5)
    first = None
    for _ in range(300):
        optimizer.zero_grad()
        output = model(x)
        loss = loss_fn(output, target)
        loss.backward()
        optimizer.step()
        scheduler.step()
        first = first if first is not None else float(loss)
    assert float(loss) < 0.01 * first
    assert scheduler.get_last_lr() == [0.02 * 0.5**3]
