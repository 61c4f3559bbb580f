"""Module: registration, iteration, modes, conversion, state dicts, hooks, repr,
containers, qualified names in errors, and the seed's LeNet."""

from __future__ import annotations

import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 2)
        self.bn = nn.BatchNorm1d(2)
        self.scale = nn.Parameter(ember.ones(2))
        self.register_buffer("steps", ember.zeros(1))
        self.register_buffer("cache", ember.zeros(2), persistent=False)

    def forward(self, x):
        return self.bn(self.lin(x)) * self.scale


def test_registration_and_names():
    m = nn.Sequential(OrderedDict(a=Block(), b=nn.ReLU()))
    assert [k for k, _ in m.named_parameters()] == [
        "a.scale",
        "a.lin.weight",
        "a.lin.bias",
        "a.bn.weight",
        "a.bn.bias",
    ]
    assert list(m.state_dict()) == [
        "a.scale",
        "a.steps",
        "a.lin.weight",
        "a.lin.bias",
        "a.bn.weight",
        "a.bn.bias",
        "a.bn.running_mean",
        "a.bn.running_var",
        "a.bn.num_batches_tracked",
    ]
    assert "a.cache" in dict(m.named_buffers())
    assert [n for n, _ in m.named_modules()] == ["", "a", "a.lin", "a.bn", "b"]
    assert isinstance(m.a.scale, ember.Tensor) and m.a.scale.is_leaf
    with pytest.raises(TypeError, match="Parameter or None"):
        m.a.scale = ember.ones(2)
    with pytest.raises(KeyError):
        m.a.register_buffer("scale", ember.ones(1))
    shared = nn.Linear(2, 2)
    twice = nn.Sequential(shared, shared)
    assert len(list(twice.parameters())) == 2


def test_state_dict_round_trip_and_errors():
    src, dst = Block(), Block()
    src(ember.randn(4, 3))  # moves running stats
    dst.load_state_dict(src.state_dict())
    for (k, a), b in zip(src.state_dict().items(), dst.state_dict().values()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=k)
    sd = src.state_dict()
    sd["lin.weight"] = ember.zeros(5, 3)
    sd["bn.bias"] = ember.zeros(7)
    sd["extra"] = ember.zeros(1)
    del sd["steps"]
    with pytest.raises(RuntimeError) as e:
        dst.load_state_dict(sd)
    msg = str(e.value)
    assert "(5, 3)" in msg and "(2, 3)" in msg and "(7,)" in msg and "(2,)" in msg
    assert '"steps"' in msg and '"extra"' in msg
    del sd["lin.weight"], sd["bn.bias"]
    res = dst.load_state_dict(sd, strict=False)
    assert sorted(res.missing_keys) == ["bn.bias", "lin.weight", "steps"]
    assert res.unexpected_keys == ["extra"]


def test_train_eval_zero_grad_apply_requires_grad():
    m = Block()
    assert m.training and m.bn.training
    m.eval()
    assert not m.bn.training
    m.train()
    m(ember.randn(4, 3)).sum().backward()
    assert m.lin.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert float(m.lin.weight.grad.abs().sum()) == 0.0
    m.zero_grad()
    assert m.lin.weight.grad is None
    seen = []
    m.apply(lambda mod: seen.append(type(mod).__name__))
    assert seen == ["Linear", "BatchNorm1d", "Block"]
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


def test_to_double_keeps_parameter_objects_and_int_buffers():
    m = Block()
    w = m.lin.weight
    m.double()
    assert m.lin.weight is w and w.dtype == ember.float64 and isinstance(w, nn.Parameter)
    assert m.bn.num_batches_tracked.dtype == ember.int64
    assert m.steps.dtype == ember.float64
    m.to(ember.float32)
    assert w.dtype == ember.float32
    m.half().float()
    with pytest.raises(TypeError):
        m.to(ember.int32)


def test_copy_and_pickle():
    m = Block()
    for c in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(c.lin.weight, nn.Parameter) and c.lin.weight.requires_grad
        np.testing.assert_array_equal(c.lin.weight.detach().numpy(), m.lin.weight.detach().numpy())
        assert c.lin.weight is not m.lin.weight


def test_hooks():
    m = nn.Linear(3, 2)
    log = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
    h2 = m.register_forward_hook(lambda mod, args, out: out + 1)
    grads = {}

    def bw(mod, gin, gout):
        grads["in"], grads["out"] = gin[0], gout[0]

    h3 = m.register_full_backward_hook(bw)
    x = ember.randn(4, 3, requires_grad=True)
    y = m(x)
    ref = (x * 2).detach().numpy() @ m.weight.detach().numpy().T + m.bias.detach().numpy() + 1
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=1e-6)
    (y * 3).sum().backward()
    np.testing.assert_allclose(grads["out"].numpy(), np.full((4, 2), 3.0))
    # grad_input is the gradient at the module's input, i.e. after the pre-hook doubled x
    np.testing.assert_allclose(grads["in"].numpy() * 2, x.grad.numpy(), rtol=1e-6)
    for h in (h1, h2, h3):
        h.remove()
    np.testing.assert_allclose(
        m(x).detach().numpy(), F.linear(x, m.weight, m.bias).detach().numpy()
    )
    log.append(1)


def test_repr_like_pytorch():
    m = nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2, bias=False),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
        nn.Linear(4, 2),
    )
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), bias=False)\n"
        "  (1): ReLU(inplace=True)\n"
        "  (2): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (3): Linear(in_features=4, out_features=2, bias=True)\n"
        ")"
    )


def test_containers():
    ml = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    ml.append(nn.ReLU())
    assert len(ml) == 4 and isinstance(ml[-1], nn.ReLU) and len(list(ml.parameters())) == 6
    md = nn.ModuleDict({"a": nn.Linear(1, 1)})
    md["b"] = nn.Tanh()
    assert list(md.keys()) == ["a", "b"]
    pl = nn.ParameterList([ember.ones(2), nn.Parameter(ember.zeros(3))])
    assert [tuple(p.shape) for p in pl.parameters()] == [(2,), (3,)]
    pd = nn.ParameterDict({"w": ember.ones(2)})
    assert list(dict(pd.named_parameters())) == ["w"]
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(seq[1:], nn.Sequential) and len(seq[1:]) == 2
    x = ember.randn(5, 2)
    np.testing.assert_allclose(seq(x).detach().numpy(), seq[2](seq[1](seq[0](x))).detach().numpy())


def test_errors_name_the_layer_in_the_model():
    model = nn.Sequential(
        OrderedDict(
            features=nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()),
            head=nn.Sequential(nn.Flatten(), nn.Linear(8 * 30 * 30, 10)),
        )
    )
    with pytest.raises(
        RuntimeError,
        match=r"Conv2d 'features.0' expected input with 3 "
        r"channels, got 4 \(input shape \(8, 4, 32, 32\)\)",
    ):
        model(ember.randn(8, 4, 32, 32))
    with pytest.raises(RuntimeError, match=r"Conv2d 'features.0' expected 4-D"):
        model(ember.randn(32, 32))
    with pytest.raises(
        RuntimeError,
        match=r"Linear 'head.1' expected input with last "
        r"dimension 7200",
    ):
        model(ember.randn(2, 3, 31, 31))
    with pytest.raises(ValueError, match=r"BatchNorm2d expected input with 3 channels"):
        nn.BatchNorm2d(3)(ember.randn(2, 4, 5, 5))


class Net(nn.Module):
    """The seed's LeNet, unchanged but for the import."""

    def __init__(self):
        super(Net, self).__init__()  # noqa: UP008 - the seed's spelling
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = x.view(-1, self.num_flat_features(x))
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x

    def num_flat_features(self, x):
        size = x.size()[1:]
        num_features = 1
        for s in size:
            num_features *= s
        return num_features


def test_seed_lenet_runs_and_learns():
    ember.manual_seed(0)
    net = Net()
    out = net(ember.randn(1, 1, 32, 32))
    assert tuple(out.shape) == (1, 10)
    net.zero_grad()
    out.backward(ember.randn(1, 10))
    assert all(p.grad is not None for p in net.parameters())
    x = ember.randn(16, 1, 32, 32)
    target = ember.randint(0, 10, (16,))
    crit = nn.CrossEntropyLoss()
    first = None
    for _ in range(40):  # plain SGD on a fixed batch: the loss must fall
        net.zero_grad()
        loss = crit(net(x), target)
        loss.backward()
        with ember.no_grad():
            for p in net.parameters():
                p -= 0.1 * p.grad
        first = first if first is not None else float(loss)
    assert float(loss) < 0.8 * first
