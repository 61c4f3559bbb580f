"""Data-parallel training of LeNet-5 on MNIST digits with ember.distributed.

Each process holds a replica of the model, reads its own share of every epoch
through a ``DistributedSampler``, and ``DistributedDataParallel`` averages the
gradients across processes during backward, so all replicas take the same
optimizer steps. Run it through the launcher:

    python -m ember.distributed.run -n 2 examples/ddp_mnist.py
    python -m ember.distributed.run -n 4 examples/ddp_mnist.py --epochs 3 --batch-size 32
    python examples/ddp_mnist.py --steps 5           # one process works too

The digits are the 5,000 that ship inside ember-vision (no network); without
ember-vision installed, a synthetic 10-class problem of the same shape is used.
Rank 0 prints the loss and the held-out accuracy; at the end every rank checks
that its parameters equal rank 0's.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core per process: the ranks share the CPU
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

import ember
import ember.distributed as dist
import ember.nn as nn
import ember.nn.functional as F
import ember.optim as optim

MEAN, STD = 0.1307, 0.3081


def load_data() -> tuple[ember.Tensor, ember.Tensor, ember.Tensor, ember.Tensor, str]:
    """(train images, train labels, test images, test labels, source): images
    ``(N, 1, 32, 32)`` float32, normalized; 28x28 digits padded by 2 for LeNet-5."""
    try:
        from ember.vision.datasets import EmbeddedMNIST
    except ImportError:
        return _synthetic()

    def prep(ds):
        x = ds.data.numpy().astype(np.float32) / 255.0
        x = np.pad((x - MEAN) / STD, ((0, 0), (2, 2), (2, 2)), constant_values=-MEAN / STD)
        return ember.from_numpy(x[:, None]), ember.from_numpy(ds.targets.numpy().astype(np.int64))

    train, test = EmbeddedMNIST(train=True), EmbeddedMNIST(train=False)
    return (*prep(train), *prep(test), "embedded MNIST")


def _synthetic():
    """Ten noisy prototype images: learnable, and the same on every rank (fixed seed)."""
    rng = np.random.default_rng(0)
    protos = rng.standard_normal((10, 1, 32, 32)).astype(np.float32)

    def make(n):
        y = rng.integers(0, 10, n)
        x = protos[y] + 0.8 * rng.standard_normal((n, 1, 32, 32)).astype(np.float32)
        return ember.from_numpy(x), ember.from_numpy(y)

    return (*make(4000), *make(1000), "synthetic")


def make_model() -> nn.Module:
    """LeNet-5 from ember.vision when present, else the same layers written out."""
    try:
        from ember.vision.models import LeNet

        return LeNet()
    except ImportError:
        return nn.Sequential(
            nn.Conv2d(1, 6, 5), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )  # fmt: skip


def accuracy(model: nn.Module, x: ember.Tensor, y: ember.Tensor) -> float:
    with ember.no_grad():
        pred = model(x).argmax(dim=1)
    return float((pred == y).float().mean().item())


def main() -> None:
    p = argparse.ArgumentParser(description="LeNet-5 on MNIST with DistributedDataParallel")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64, help="per process")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--steps", type=int, default=None, help="stop each epoch after this many")
    args = p.parse_args()

    dist.init_process_group("mpi")
    rank, world = dist.get_rank(), dist.get_world_size()
    ember.manual_seed(0)
    x_train, y_train, x_test, y_test, source = load_data()
    model = make_model()
    ddp = dist.DistributedDataParallel(model)
    opt = optim.Adam(ddp.parameters(), lr=args.lr)
    sampler = dist.DistributedSampler(range(len(y_train)), shuffle=True, seed=0, drop_last=True)
    if rank == 0:
        print(f"{world} process(es), {source}: {len(y_train)} training digits, "
              f"{len(sampler)} per process per epoch, batch {args.batch_size} each")  # fmt: skip
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        order = np.fromiter(sampler, np.int64)
        start, total, steps = time.perf_counter(), 0.0, 0
        for i in range(0, len(order) - args.batch_size + 1, args.batch_size):
            idx = ember.from_numpy(order[i : i + args.batch_size])
            opt.zero_grad()
            loss = F.cross_entropy(ddp(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
            total, steps = total + loss.item(), steps + 1
            if args.steps is not None and steps >= args.steps:
                break
        # the mean loss over all ranks' batches
        mean = ember.tensor([total / max(steps, 1)], dtype=ember.float64)
        dist.all_reduce(mean, op=dist.ReduceOp.AVG)
        if rank == 0:
            acc = accuracy(model, x_test, y_test)
            print(f"epoch {epoch + 1}: loss {mean.item():.4f}, held-out accuracy {acc:.1%}, "
                  f"{time.perf_counter() - start:.1f} s")  # fmt: skip
    # the replicas must have stayed identical
    flat = ember.cat([q.detach().reshape(-1) for q in model.parameters()])
    ref = flat.clone()
    dist.broadcast(ref, src=0)
    if not np.array_equal(flat.numpy(), ref.numpy()):
        raise RuntimeError(f"rank {rank}: parameters drifted from rank 0's")
    dist.barrier()
    if rank == 0:
        print(f"all {world} replicas hold identical parameters")
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
