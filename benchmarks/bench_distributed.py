"""ember.distributed: all_reduce bandwidth vs raw mpi4py, and DDP scaling of a LeNet step.

1. all_reduce of 1 MB to 256 MB float32 on 2 processes: ember's
   ``dist.all_reduce(tensor)`` (header check + nonblocking request polled with a
   deadline) against mpi4py's ``comm.Allreduce(MPI.IN_PLACE, buffer)`` on the same
   numpy buffer, interleaved in the same run (the order alternates per repeat);
   median times, and the median over repeats of ember's time / raw time in the same
   repeat (the host is shared: paired ratios cancel most of the load swings), also
   without the header exchange (a group with ``check = False``). The buffer is
   refilled between calls, so each call starts with cold caches, as in training.
2. DDP scaling: a LeNet-5 training step (batch 64 per process, SGD) on 1 and on 2
   processes (one BLAS/OpenMP thread each); efficiency = time(1) / time(2) with the
   same per-process batch (weak scaling; 100% means the second process came free).

    python benchmarks/bench_distributed.py              # needs ember-distributed[mpi]
    python benchmarks/bench_distributed.py --sizes 1 16 --steps 10

The parent starts the workers through ``python -m ember.distributed.run``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.abspath(__file__)


def _launch(n: int, *args: str) -> list[dict]:
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "ember.distributed.run", "-n", str(n), HERE, "--worker", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    if out.returncode != 0:
        raise SystemExit(f"worker failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


# ----- workers (run under the launcher) -----
def worker_allreduce(sizes_mb: list[int]) -> None:
    from mpi4py import MPI

    import ember
    import ember.distributed as dist

    dist.init_process_group("mpi")
    comm = MPI.COMM_WORLD
    unchecked = dist.new_group(list(range(dist.get_world_size())))
    unchecked.check = False  # no header exchange: the engine's cost alone
    for mb in sizes_mb:
        n = mb * (1 << 20) // 4
        buf = np.ones(n, np.float32)
        t = ember.from_numpy(buf)  # the same memory: both sides move the same buffer
        times = {"raw": [], "ember": [], "unchecked": []}
        reps = max(9, min(300, 1024 // mb))
        for rep in range(reps + 1):
            kinds = ("raw", "ember", "unchecked")
            for kind in kinds if rep % 2 else kinds[::-1]:
                comm.Barrier()
                start = time.perf_counter()
                if kind == "raw":
                    comm.Allreduce(MPI.IN_PLACE, buf, MPI.SUM)
                elif kind == "ember":
                    dist.all_reduce(t)
                else:
                    dist.all_reduce(t, group=unchecked)
                if rep:  # the first round warms up
                    times[kind].append(time.perf_counter() - start)
                buf.fill(1.0)
        if dist.get_rank() == 0:
            row = {k: statistics.median(v) for k, v in times.items()}
            for k in ("ember", "unchecked"):
                row[k + "/raw"] = statistics.median(x / r for x, r in zip(times[k], times["raw"]))
            print(json.dumps({"mb": mb, **row}), flush=True)


def worker_ddp(steps: int, batch: int) -> None:
    import ember
    import ember.distributed as dist
    import ember.nn as nn
    import ember.nn.functional as F
    import ember.optim as optim

    try:
        from ember.vision.models import LeNet
    except ImportError:  # ember-vision absent: the same network, written out
        LeNet = _lenet_class(nn, F)
    dist.init_process_group("mpi")
    ember.manual_seed(0)
    model = LeNet()
    ddp = dist.DistributedDataParallel(model) if dist.get_world_size() > 1 else model
    opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(dist.get_rank())
    x = ember.from_numpy(rng.standard_normal((batch, 1, 32, 32)).astype(np.float32))
    y = ember.from_numpy(rng.integers(0, 10, batch))
    times = []
    for step in range(steps + 3):
        dist.barrier()
        start = time.perf_counter()
        opt.zero_grad()
        F.cross_entropy(ddp(x), y).backward()
        opt.step()
        if step >= 3:
            times.append(time.perf_counter() - start)
    if dist.get_rank() == 0:
        print(json.dumps({"world": dist.get_world_size(), "step": statistics.median(times)}))


def _lenet_class(nn, F):
    class LeNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = (
                nn.Linear(400, 120),
                nn.Linear(120, 84),
                nn.Linear(84, 10),
            )

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = F.relu(self.fc1(x.reshape(x.shape[0], -1)))
            return self.fc3(F.relu(self.fc2(x)))

    return LeNet


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--worker", nargs="*", help=argparse.SUPPRESS)
    p.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64, 256], help="MB")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--batch", type=int, default=64)
    ns = p.parse_args()
    if ns.worker is not None:
        kind, *rest = ns.worker
        if kind == "allreduce":
            worker_allreduce([int(s) for s in rest])
        else:
            worker_ddp(int(rest[0]), int(rest[1]))
        return

    import importlib.util

    if importlib.util.find_spec("mpi4py") is None:
        print("bench_distributed: skipped, needs pip install 'ember-distributed[mpi]'")
        return
    print("all_reduce, float32, 2 processes (median; GB/s = buffer size / time)")
    head = ("size", "mpi4py", "ember", "GB/s mpi4py", "GB/s ember", "ember/raw", "unchecked/raw")
    print("{:>8} {:>10} {:>10} {:>12} {:>11} {:>10} {:>14}".format(*head))
    for row in _launch(2, "allreduce", *map(str, ns.sizes)):
        gb = row["mb"] / 1024
        print(
            f"{row['mb']:>6}MB {row['raw'] * 1e3:>8.2f}ms {row['ember'] * 1e3:>8.2f}ms "
            f"{gb / row['raw']:>12.2f} {gb / row['ember']:>11.2f} "
            f"{row['ember/raw']:>10.3f} {row['unchecked/raw']:>14.3f}"
        )
    one = _launch(1, "ddp", str(ns.steps), str(ns.batch))[0]["step"]
    two = _launch(2, "ddp", str(ns.steps), str(ns.batch))[0]["step"]
    print(f"\nDDP LeNet-5 step, batch {ns.batch} per process, SGD (median of {ns.steps} steps)")
    print(f"  1 process : {one * 1e3:.2f} ms/step  ({ns.batch / one:.0f} samples/s)")
    print(f"  2 processes: {two * 1e3:.2f} ms/step  ({2 * ns.batch / two:.0f} samples/s)")
    print(f"  scaling efficiency 1 -> 2: {one / two * 100:.0f}%")


if __name__ == "__main__":
    main()
