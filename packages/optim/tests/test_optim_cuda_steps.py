"""Every optimizer on CUDA against the same optimizer on the CPU.

Each case of the trajectory fixtures (tests/fixtures, every optimizer and option set)
runs a few steps on both devices from the same start; the parameters must agree to
rounding. The state must live on the parameters' device (per-step scalars on the CPU, as
PyTorch keeps ``step``), and a state dict saved from CUDA must resume on either device.

Needs a GPU (skipped with the reason otherwise). ``EMBER_CUDA_DRYRUN=1`` runs the same
tests on the CPU with stand-in device storage (``ember._cuda.standin``): that catches
host arrays in device code paths, not CUDA bugs.
"""

from __future__ import annotations

import numpy as np
import pytest
from _optim_fixtures import LOSSES, META, PARAMS, data, optimizer_kwargs

import ember
from ember import optim
from ember._cuda import standin
from ember.optim.optimizer import HOST_STATE

pytestmark = standin.device_test_marks()
CASES = [(i, name, kw) for i, (name, kw) in enumerate(META["optimizers"])]
STEPS = 8


@pytest.fixture(autouse=True)
def _device(monkeypatch):
    standin.activate_for_dryrun(monkeypatch)


def host(t: ember.Tensor) -> np.ndarray:
    return np.array(t.detach().cpu().numpy(), dtype=np.float64).reshape(-1)


def run(problem, dtype, name, kwargs, device, steps=STEPS, opt_out=None):
    d = {k: v.to(device) for k, v in data(dtype).items()}
    params = [d[k].clone().requires_grad_(True) for k in PARAMS[problem]]
    opt = getattr(optim, name)(params, **optimizer_kwargs(kwargs))
    sign = -1.0 if kwargs.get("maximize") else 1.0
    for _ in range(steps):
        opt.zero_grad()
        loss = LOSSES[problem](d, *params) * sign
        loss.backward()
        opt.step()
    if opt_out is not None:
        opt_out.append(opt)
    return params, opt


def flat(params) -> np.ndarray:
    return np.concatenate([host(p) for p in params])


def check_close(got, want, dtype, what):
    rtol, atol = (1e-9, 1e-11) if dtype is ember.float64 else (2e-4, 2e-5)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("dtype", [ember.float32, ember.float64], ids=["f32", "f64"])
@pytest.mark.parametrize(
    ("index", "name", "kwargs"), CASES, ids=[f"{i}-{n}-{'-'.join(kw)}" for i, n, kw in CASES]
)
def test_step_on_cuda_matches_cpu(index, name, kwargs, dtype):
    want_p, _ = run("net", dtype, name, kwargs, "cpu")
    got_p, opt = run("net", dtype, name, kwargs, "cuda")
    assert all(p.is_cuda for p in got_p), "a parameter left the device"
    start = flat([data(dtype)[k] for k in PARAMS["net"]])
    assert np.abs(flat(want_p) - start).max() > 1e-4, "the CPU run did not move"
    check_close(flat(got_p), flat(want_p), dtype, f"{name} {kwargs}")
    for p in got_p:
        for key, v in opt.state[p].items():
            if isinstance(v, ember.Tensor):
                on = "cpu" if key in HOST_STATE else "cuda"
                assert v.device.type == on, f"{name}: state {key!r} is on {v.device}, not {on}"
                if on == "cuda":
                    assert v.dtype == p.dtype and tuple(v.shape) == tuple(p.shape)


@pytest.mark.parametrize("line_search", [None, "strong_wolfe"])
def test_lbfgs_on_cuda_matches_cpu(line_search):
    kw = {"lr": 0.5, "max_iter": 6, "history_size": 4, "line_search_fn": line_search}

    def solve(device):
        d = {k: v.to(device) for k, v in data(ember.float64).items()}
        params = [d[k].clone().requires_grad_(True) for k in PARAMS["quad"]]
        opt = optim.LBFGS(params, **kw)

        def closure():
            opt.zero_grad()
            loss = LOSSES["quad"](d, *params)
            loss.backward()
            return loss

        losses = [float(opt.step(closure)) for _ in range(3)]
        return params, opt, losses

    want_p, _, want_l = solve("cpu")
    got_p, opt, got_l = solve("cuda")
    check_close(flat(got_p), flat(want_p), ember.float64, f"LBFGS {line_search}")
    np.testing.assert_allclose(got_l, want_l, rtol=1e-9)
    assert want_l[-1] < want_l[0]
    state = opt.state[got_p[0]]
    assert state["d"].is_cuda and all(v.is_cuda for v in state["old_dirs"])


@pytest.mark.parametrize("name", ["Adam", "SGD", "RMSprop", "ASGD", "NAdam"])
def test_state_dict_saved_on_cuda_resumes_on_either_device(name, tmp_path):
    kwargs = {"Adam": {"lr": 0.05, "amsgrad": True}, "SGD": {"lr": 0.05, "momentum": 0.9}}.get(
        name, {"lr": 0.05}
    )
    # reference: 2 * STEPS uninterrupted steps on the CPU
    want_p, _ = run("net", ember.float64, name, kwargs, "cpu", steps=2 * STEPS)
    params, opt = run("net", ember.float64, name, kwargs, "cuda")
    path = tmp_path / "ckpt.ember"
    ember.save({"params": params, "opt": opt.state_dict()}, path)
    saved = ember.load(path)
    resumed = []
    for device in ("cpu", "cuda"):
        d = {k: v.to(device) for k, v in data(ember.float64).items()}
        ps = [p.to(device).detach().clone().requires_grad_(True) for p in saved["params"]]
        o = getattr(optim, name)(ps, **kwargs)
        o.load_state_dict(saved["opt"])
        for key, v in o.state[ps[0]].items():
            if isinstance(v, ember.Tensor):
                want_dev = "cpu" if key in HOST_STATE else device
                assert v.device.type == want_dev, f"{key} loaded onto {v.device}"
        for _ in range(STEPS):
            o.zero_grad()
            LOSSES["net"](d, *ps).backward()
            o.step()
        resumed.append(flat(ps))
    check_close(resumed[1], resumed[0], ember.float64, f"{name}: resumed on CUDA vs on CPU")
    # ASGD's eta/mu come back in the parameter's dtype (PyTorch's loading rule), so the
    # resumed run drifts from the uninterrupted one by float32 rounding of eta
    np.testing.assert_allclose(resumed[0], flat(want_p), rtol=1e-6, atol=1e-9)


def test_fused_adam_and_sgd_take_the_cuda_kernel(monkeypatch):
    """Adam/SGD on contiguous float CUDA parameters go through one fused launch per group
    (ember._cuda.optim), not the generic path."""
    from ember._cuda import optim as cuda_optim

    calls = []
    for fn in ("adam_step_multi", "sgd_step_multi"):
        real = getattr(cuda_optim, fn)

        def spy(*a, _real=real, _fn=fn, **k):
            calls.append((_fn, len(a[0])))
            return _real(*a, **k)

        monkeypatch.setattr(cuda_optim, fn, spy)
    run("net", ember.float32, "Adam", {"lr": 0.05}, "cuda", steps=2)
    run("net", ember.float32, "SGD", {"lr": 0.05, "momentum": 0.9}, "cuda", steps=2)
    assert calls == [("adam_step_multi", 4)] * 2 + [("sgd_step_multi", 4)] * 2


def test_gradient_on_another_device_is_refused():
    p = ember.zeros(3).to("cuda").requires_grad_(True)
    opt = optim.SGD([p], lr=0.1)
    p._ag.grad = ember.ones(3)  # a CPU gradient for a CUDA parameter
    with pytest.raises(RuntimeError, match="same device"):
        opt.step()
