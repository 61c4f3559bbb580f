"""LeNet-5 training with SGD (28x28 inputs, batch 64): images/s of ember vs PyTorch,
interleaved in one process (medians of rounds), and peak RSS of each framework run
alone in a subprocess.

Run: python benchmarks/bench_lenet.py [--threads N] [--steps S] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time


def _args():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--only", choices=["ember", "torch"], default=None)
    return p.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np

BATCH = 64


def lenet(nn, F):
    """LeNet-5 for 28x28 inputs, written once for either framework."""

    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    return LeNet()


def _data(steps):
    rng = np.random.default_rng(0)
    xs = rng.standard_normal((steps, BATCH, 1, 28, 28), dtype=np.float32)
    ys = rng.integers(0, 10, (steps, BATCH))
    return xs, ys


def make_ember(steps):
    import ember
    import ember.nn as nn
    import ember.nn.functional as F

    model = lenet(nn, F)
    params = list(model.parameters())
    crit = nn.CrossEntropyLoss()
    xs, ys = _data(steps)
    batches = [(ember.from_numpy(x), ember.from_numpy(y)) for x, y in zip(xs, ys)]

    def run():
        for x, y in batches:
            model.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            with ember.no_grad():  # plain SGD, written out: ember-optim is another package
                for p in params:
                    p.sub_(p.grad * 0.01)
        return float(loss)

    return run


def make_torch(steps):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    if ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    model = lenet(nn, F)
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    crit = nn.CrossEntropyLoss()
    xs, ys = _data(steps)
    batches = [(torch.from_numpy(x), torch.from_numpy(y)) for x, y in zip(xs, ys)]

    def run():
        for x, y in batches:
            opt.zero_grad()
            loss = crit(model(x), y)
            loss.backward()
            opt.step()
        return float(loss)

    return run


def _vm_hwm_mb() -> float:
    # VmHWM, not ru_maxrss: Linux keeps ru_maxrss across exec, so a child started from
    # this (large) process would report the parent's peak
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_rss_mb(which: str) -> float | None:
    cmd = [sys.executable, __file__, "--only", which, "--steps", str(ARGS.steps)]
    if ARGS.threads:
        cmd += ["--threads", str(ARGS.threads)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return float(r.stdout.strip().split()[-1]) if r.returncode == 0 else None


def main() -> None:
    if ARGS.only:  # child: one framework alone, print its peak RSS in MB
        run = (make_ember if ARGS.only == "ember" else make_torch)(ARGS.steps)
        run()
        run()
        print(_vm_hwm_mb())
        return
    runs = {"ember": make_ember(ARGS.steps)}
    try:
        runs["torch"] = make_torch(ARGS.steps)
    except ImportError:
        pass
    for fn in runs.values():
        fn()  # warm up
    res = {k: [] for k in runs}
    for _ in range(ARGS.rounds):
        for k, fn in runs.items():
            t0 = time.perf_counter()
            fn()
            res[k].append(ARGS.steps * BATCH / (time.perf_counter() - t0))
    ips = {k: statistics.median(v) for k, v in res.items()}
    print(f"threads={ARGS.threads or 'default'} LeNet-5 SGD batch {BATCH}, 28x28")
    for k, v in ips.items():
        print(f"  {k:6s} {v:9.0f} images/s  peak RSS {_peak_rss_mb(k) or float('nan'):7.1f} MB")
    if "torch" in ips:
        print(f"  ember/torch time ratio {ips['torch'] / ips['ember']:.2f} (target <= 1.25)")


if __name__ == "__main__":
    main()
