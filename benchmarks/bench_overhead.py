"""Per-op overhead on tiny tensors: ember vs numpy vs PyTorch (when installed).

Measures, interleaved in one process with medians of repeats:
- ``a + b`` on 1-element float32 tensors (no autograd);
- a chain of 10 small ops, forward + backward, on 1-element tensors (µs per op).

Run: python benchmarks/bench_overhead.py [--threads N]
"""

from __future__ import annotations

import argparse
import statistics
import timeit

import numpy as np

import ember

try:
    import torch
except ImportError:
    torch = None


def _time(fn, number, repeat=7):
    return statistics.median(timeit.repeat(fn, number=number, repeat=repeat)) / number * 1e6


def chain(x):
    y = x * 2.0
    y = y + 1.0
    y = y.tanh()
    y = y * x
    y = y.exp()
    y = y - x
    y = y.sigmoid()
    y = y * y
    y = y + x
    return y.sum()  # 10 ops


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads and torch is not None:
        torch.set_num_threads(args.threads)
    rows = []
    a, b = ember.ones(1), ember.ones(1)
    na, nb = np.ones(1, np.float32), np.ones(1, np.float32)
    add_e, add_n, add_t = [], [], []
    if torch is not None:
        ta, tb = torch.ones(1), torch.ones(1)
    for _ in range(3):  # interleave to share the machine's noise
        add_e.append(_time(lambda: a + b, 100000))
        add_n.append(_time(lambda: na + nb, 100000))
        if torch is not None:
            add_t.append(_time(lambda: ta + tb, 100000))
    rows.append(("a + b, 1-element float32 (µs)", min(add_e), min(add_n),
                 min(add_t) if add_t else None))

    xe = ember.ones(1, requires_grad=True)

    def ember_step():
        chain(xe).backward()

    ce, ct = [], []
    if torch is not None:
        xt = torch.ones(1, requires_grad=True)

        def torch_step():
            chain(xt).backward()

    for _ in range(3):
        ce.append(_time(ember_step, 5000) / 10)
        if torch is not None:
            ct.append(_time(torch_step, 5000) / 10)
    rows.append(("10-op chain fwd+bwd, per op (µs)", min(ce), None, min(ct) if ct else None))

    print(f"{'figure':40s} {'ember':>9s} {'numpy':>9s} {'torch':>9s} {'torch/ember':>12s}")
    for name, e, n, t in rows:
        fmt = lambda v: f"{v:9.3f}" if v is not None else f"{'-':>9s}"  # noqa: E731
        ratio = f"{t / e:12.2f}" if t else f"{'-':>12s}"
        print(f"{name:40s} {fmt(e)} {fmt(n)} {fmt(t)} {ratio}")


if __name__ == "__main__":
    main()
