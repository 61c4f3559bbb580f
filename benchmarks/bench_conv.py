"""conv2d forward and forward+backward: ember vs PyTorch CPU, interleaved in one process.

Shapes: LeNet conv1 (64x1x28x28, 6 filters 5x5) and a ResNet block conv
(32x64x56x56, 64 filters 3x3, padding 1). Prints medians and the ember/torch ratio
(lower is better; the target is <= 1.25).

Run: python benchmarks/bench_conv.py [--threads N] [--repeat R]
(the thread count is set before numpy loads, for BLAS, OpenMP and torch alike)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def _args():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=7)
    return p.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np

import ember
import ember.nn.functional as F

try:
    import torch
except ImportError:
    torch = None

CASES = [
    ("lenet conv1", (64, 1, 28, 28), (6, 1, 5, 5), 0),
    ("resnet 3x3", (32, 64, 56, 56), (64, 64, 3, 3), 1),
]


def _median(fn, repeat, number):
    ts = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        ts.append((time.perf_counter() - t0) / number)
    return statistics.median(ts)


def _case(name, xs, ws, pad, rng, repeat) -> None:
    x = rng.standard_normal(xs, dtype=np.float32)
    w = rng.standard_normal(ws, dtype=np.float32) * 0.1
    b = rng.standard_normal(ws[0], dtype=np.float32)
    ex, ew, eb = (ember.from_numpy(a.copy()) for a in (x, w, b))
    exg = ember.from_numpy(x.copy()).requires_grad_(xs[1] > 1)
    ewg = ember.from_numpy(w.copy()).requires_grad_(True)
    ebg = ember.from_numpy(b.copy()).requires_grad_(True)
    number = 20 if xs[0] * xs[1] * xs[2] < 1e6 else 1

    def e_fwd():
        with ember.no_grad():
            F.conv2d(ex, ew, eb, padding=pad)

    def e_bwd():
        F.conv2d(exg, ewg, ebg, padding=pad).sum().backward()

    fns = {"ember fwd": e_fwd, "ember fwd+bwd": e_bwd}
    if torch is not None:
        tx, tw, tb = (torch.from_numpy(a.copy()) for a in (x, w, b))
        txg = torch.from_numpy(x.copy()).requires_grad_(xs[1] > 1)
        twg = torch.from_numpy(w.copy()).requires_grad_(True)
        tbg = torch.from_numpy(b.copy()).requires_grad_(True)

        def t_fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(tx, tw, tb, padding=pad)

        def t_bwd():
            torch.nn.functional.conv2d(txg, twg, tbg, padding=pad).sum().backward()

        fns.update({"torch fwd": t_fwd, "torch fwd+bwd": t_bwd})
    for fn in fns.values():  # warm up
        fn()
    res = {k: [] for k in fns}
    for _ in range(repeat):  # interleave so load drift hits both alike
        for k, fn in fns.items():
            res[k].append(_median(fn, 1, number))
    med = {k: statistics.median(v) * 1e3 for k, v in res.items()}
    for kind in ("fwd", "fwd+bwd"):
        line = f"{name:12s} {kind:8s} ember {med['ember ' + kind]:8.2f} ms"
        if torch is not None:
            t = med["torch " + kind]
            line += f"  torch {t:8.2f} ms  ratio {med['ember ' + kind] / t:5.2f}"
        print(line, flush=True)


def main() -> None:
    if torch is not None and ARGS.threads:
        torch.set_num_threads(ARGS.threads)
    print(f"threads={ARGS.threads or 'default'}  torch={'yes' if torch else 'no'}")
    rng = np.random.default_rng(0)
    for case in CASES:
        _case(*case, rng, ARGS.repeat)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
