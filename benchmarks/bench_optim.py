"""Optimizer step time: ember.optim vs PyTorch's torch.optim on the same model size.

A "model" of 10M float32 parameters in 100 tensors (100k each), gradients fixed; one
``optimizer.step()`` is timed. Contenders:
- ember Adam / SGD(momentum) as shipped (one fused C pass per group, OpenMP);
- ember with the fused kernel switched off (the numpy op chain), to show what the kernel buys;
- PyTorch's default Adam (on CPU that is the single-tensor loop), ``foreach=True`` and
  ``fused=True``; SGD default and foreach.

PyTorch runs in its own interpreter (``--torch-python``, a venv with torch and numpy;
ember is never imported there) as a worker that times one step per request, so ember and
torch calls alternate round-robin and machine noise hits both alike. Medians are printed
with ratios ember/torch (below 1 = ember faster), at each thread count asked for.

    python benchmarks/bench_optim.py --torch-python /tmp/venv-torch/bin/python --threads 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time

import numpy as np

import ember
from ember import _kernels, _optim_kernels
from ember import optim as eoptim

TORCH_WORKER = r"""
import json, sys, time
import numpy as np
import torch
n_tensors, numel, threads = (int(a) for a in sys.argv[1:4])
torch.set_num_threads(threads)
rng = np.random.default_rng(0)
opts = {}
def make(kind):
    ps = [torch.tensor(rng.standard_normal(numel).astype(np.float32), requires_grad=True)
          for _ in range(n_tensors)]
    for p in ps:
        p.grad = torch.tensor(rng.standard_normal(numel).astype(np.float32))
    name, kw = kind.split(":", 1)
    kw = json.loads(kw)
    return getattr(torch.optim, name)(ps, **kw)
for line in sys.stdin:
    kind = line.strip()
    if kind not in opts:
        opts[kind] = make(kind)
        opts[kind].step()
    t = time.perf_counter()
    opts[kind].step()
    print(time.perf_counter() - t, flush=True)
"""


def ember_optimizer(name: str, kw: dict, n_tensors: int, numel: int):
    rng = np.random.default_rng(0)
    ps = []
    for _ in range(n_tensors):
        p = ember.tensor(rng.standard_normal(numel).astype(np.float32), requires_grad=True)
        p.grad = ember.tensor(rng.standard_normal(numel).astype(np.float32))
        ps.append(p)
    opt = getattr(eoptim, name)(ps, **kw)
    opt.step()
    return opt


def timed_ember(opt, fused: bool) -> float:
    saved = _optim_kernels.fusable
    if not fused:
        _optim_kernels.fusable = lambda *a: False
    try:
        t = time.perf_counter()
        opt.step()
        return time.perf_counter() - t
    finally:
        _optim_kernels.fusable = saved


def bench(threads: int, args) -> None:
    _kernels.set_num_threads(threads)
    worker = None
    if args.torch_python:
        worker = subprocess.Popen(
            [
                args.torch_python,
                "-c",
                TORCH_WORKER,
                str(args.tensors),
                str(args.numel),
                str(threads),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def torch_time(kind: str) -> float:
        worker.stdin.write(kind + "\n")
        worker.stdin.flush()
        return float(worker.stdout.readline())

    cases = {
        "Adam": ({"lr": 1e-3}, ["Adam:{}", 'Adam:{"foreach": true}', 'Adam:{"fused": true}']),
        "SGD momentum": (
            {"lr": 1e-3, "momentum": 0.9},
            [
                'SGD:{"lr": 0.001, "momentum": 0.9}',
                'SGD:{"lr": 0.001, "momentum": 0.9, "foreach": true}',
            ],
        ),
    }
    total = args.tensors * args.numel
    print(f"\n{threads} thread(s), {total / 1e6:.0f}M float32 params in {args.tensors} tensors")
    for label, (kw, torch_kinds) in cases.items():
        opt = ember_optimizer(label.split()[0], kw, args.tensors, args.numel)
        times: dict[str, list[float]] = {"ember (fused C)": [], "ember (numpy chain)": []}
        if worker:
            for k in torch_kinds:
                times["torch " + k.split(":", 1)[1].replace('"', "")] = []
        for _ in range(args.repeats):  # round-robin: every contender once per round
            times["ember (fused C)"].append(timed_ember(opt, True))
            times["ember (numpy chain)"].append(timed_ember(opt, False))
            if worker:
                for k in torch_kinds:
                    times["torch " + k.split(":", 1)[1].replace('"', "")].append(torch_time(k))
        med = {k: statistics.median(v) for k, v in times.items()}
        ours = med["ember (fused C)"]
        print(f"  {label}")
        for k, t in med.items():
            ratio = f"ember/this = {ours / t:5.2f}" if k != "ember (fused C)" else ""
            print(f"    {k:34s} {t * 1e3:8.2f} ms   {ratio}")
    if worker:
        worker.stdin.close()
        worker.wait()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--torch-python", help="interpreter with torch installed")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--tensors", type=int, default=100)
    ap.add_argument("--numel", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    print(json.dumps({"python": sys.version.split()[0], "numpy": np.__version__}))
    for n in args.threads:
        bench(n, args)


if __name__ == "__main__":
    main()
