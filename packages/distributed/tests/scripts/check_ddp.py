"""Run by test_distributed_ddp.py under the launcher: DistributedDataParallel training
matches single-process training on the concatenated batch, and replicas stay equal."""

import copy

import numpy as np

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F

dist.init_process_group("mpi", timeout=60)
R, N = dist.get_rank(), dist.get_world_size()
B, STEPS = 3, 20  # rows per rank per micro-batch


class Net(nn.Module):
    """A small MLP; ``mid`` is applied twice (a parameter with two gradient sources)."""

    def __init__(self, extra: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 8)
        self.mid = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 3)
        self.register_buffer("scale", ember.rand(3))
        if extra:
            self.spare = nn.Linear(2, 2)  # never used in forward

    def forward(self, x):
        h = ember.tanh(self.fc1(x))
        h = ember.tanh(self.mid(h))
        h = ember.tanh(self.mid(h))
        return self.fc2(h) * self.scale


def batch(step: int, micro: int):
    """The full batch of all ranks for a step (every rank can build it)."""
    rng = np.random.default_rng(100 * step + micro)
    x = rng.standard_normal((N * B, 5))
    y = rng.standard_normal((N * B, 3))
    return ember.tensor(x), ember.tensor(y)


def mine(t):
    return t[R * B : (R + 1) * B]


class SGD:
    """SGD with momentum written out (the test needs only core, autograd and nn)."""

    def __init__(self, params, lr: float, momentum: float) -> None:
        self.params, self.lr, self.momentum = list(params), lr, momentum
        self.velocity = [np.zeros(p.shape) for p in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        for p, v in zip(self.params, self.velocity):
            v *= self.momentum
            v += p.grad.numpy()
            p.detach().numpy()[...] -= self.lr * v  # detach shares the storage


def params_of(model):
    return np.concatenate([p.detach().numpy().reshape(-1) for p in model.parameters()])


def main():
    ember.manual_seed(1234 + R)  # different on purpose: DDP must copy rank 0's values
    model = Net().double()
    reference = copy.deepcopy(model)  # rank 0's copy is the single-process reference
    ddp = dist.DistributedDataParallel(model, bucket_cap_mb=300 / 2**20)
    assert len(ddp._reducer.buckets) > 1, "the test wants several buckets"
    # after construction every replica holds rank 0's parameters and buffers
    start = ember.tensor(params_of(model))
    first = start.clone()
    dist.broadcast(first, src=0)
    assert np.array_equal(start.numpy(), first.numpy()), f"rank {R}: parameters not broadcast"
    assert np.array_equal(model.scale.numpy(), reference.scale.numpy()) or R != 0
    scale0 = model.scale.clone()
    dist.broadcast(scale0, src=0)
    assert np.array_equal(model.scale.numpy(), scale0.numpy()), "buffer not broadcast"

    opt = SGD(ddp.parameters(), lr=0.1, momentum=0.9)
    # overlap: record how many buckets still wait for gradients whenever one starts
    reducer, launch, waiting = ddp._reducer, ddp._reducer._launch, []

    def spy():
        waiting.append(sum(1 for b in reducer.buckets if b.pending))
        launch()

    reducer._launch = spy
    for step in range(STEPS):
        opt.zero_grad()
        if step < STEPS // 2:
            x, y = batch(step, 0)
            F.mse_loss(ddp(mine(x)), mine(y)).backward()
        else:  # two micro-batches: the first accumulates locally under no_sync()
            with ddp.no_sync():
                x, y = batch(step, 0)
                F.mse_loss(ddp(mine(x)), mine(y)).backward()
            x, y = batch(step, 1)
            F.mse_loss(ddp(mine(x)), mine(y)).backward()
        opt.step()

    # the first bucket of a step started while backward still owed others their gradients
    assert waiting and max(waiting) > 0, f"no overlap: {waiting}"

    # every replica ends with the same parameters
    flat = ember.tensor(params_of(model))
    table = ember.zeros(N, flat.numel(), dtype=ember.float64)
    dist.all_gather_into_tensor(table, flat)
    rows = table.numpy()
    for r in range(N):
        assert np.array_equal(rows[r], rows[0]), f"rank {r} differs from rank 0"

    if R == 0:  # single-process training on the concatenated batch
        ref_opt = SGD(reference.parameters(), lr=0.1, momentum=0.9)
        for p, q in zip(reference.parameters(), model.parameters()):
            assert p.shape == q.shape
        for step in range(STEPS):
            ref_opt.zero_grad()
            x, y = batch(step, 0)
            loss = F.mse_loss(reference(x), y)
            if step >= STEPS // 2:
                x, y = batch(step, 1)
                loss = loss + F.mse_loss(reference(x), y)
            loss.backward()
            ref_opt.step()
        err = np.abs(params_of(reference) - rows[0]).max()
        moved = np.abs(params_of(reference) - start.numpy()).max()
        assert moved > 1e-2, f"training did not move the parameters ({moved})"
        assert err < 1e-6, f"DDP differs from single-process training by {err}"
        print(f"ddp matches single-process training: max error {err:.2e}", flush=True)
    check_unused()
    print(f"ddp ok rank {R} of {N}", flush=True)


def check_unused():
    ember.manual_seed(7)
    model = Net(extra=True).double()
    ddp = dist.DistributedDataParallel(model)
    x, y = batch(0, 0)
    try:
        ddp(mine(x))
    except dist.DistError as e:
        assert "spare.weight" in str(e) and "find_unused_parameters" in str(e), str(e)
    else:
        raise AssertionError("an unused parameter went unnoticed")
    ddp = dist.DistributedDataParallel(model, find_unused_parameters=True)
    F.mse_loss(ddp(mine(x)), mine(y)).backward()
    assert model.spare.weight.grad is None, "an unused parameter got a gradient"
    # a parameter that also gets gradient from outside the wrapped forward is refused
    ddp.zero_grad()
    loss = F.mse_loss(ddp(mine(x)), mine(y)) + (model.fc1.weight**2).sum()
    try:
        loss.backward()
    except dist.DistError as e:
        assert "fc1.weight" in str(e) and "outside" in str(e), str(e)
    else:
        raise AssertionError("gradient from outside the forward went unnoticed")
    ddp.zero_grad()
    F.mse_loss(ddp(mine(x)), mine(y)).backward()  # the next iteration works
    g = model.fc2.weight.grad.clone()
    dist.all_reduce(g)  # the averaged gradient is the same everywhere: sum == N * own
    assert np.allclose(g.numpy(), N * model.fc2.weight.grad.numpy(), rtol=1e-12, atol=0)


if __name__ == "__main__":
    main()
