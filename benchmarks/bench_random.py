"""Random number throughput: ember's Philox kernels against numpy's default_rng (PCG64,
one thread) and, if installed, PyTorch's CPU generator.

For each case prints the median time of interleaved repeats (contenders alternate, so
machine noise hits all alike), at one thread and at all threads, with the ratios
numpy/ember and torch/ember (> 1 means ember is faster).

    python benchmarks/bench_random.py [--n 16777216] [--repeats 11]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from _timing import median_times

import ember.random as R
from ember._C import lib
from ember._ops import random_ops as O

try:
    import torch
except ImportError:  # torch is an optional reference peer
    torch = None


def _cases(n: int):
    g = R.Generator().manual_seed(0)
    rng = np.random.default_rng(0)
    tg = torch.Generator().manual_seed(0) if torch else None
    perm_n = n // 16
    probs = np.random.default_rng(1).random((n // 1024, 1000))
    tprobs = torch.from_numpy(probs) if torch else None
    return [
        (
            f"rand {n} f32",
            {
                "ember": lambda: O.rand(n, generator=g),
                "numpy": lambda: rng.random(n, dtype=np.float32),
                "torch": torch and (lambda: torch.rand(n, generator=tg)),
            },
        ),
        (
            f"randn {n} f32",
            {
                "ember": lambda: O.randn(n, generator=g),
                "numpy": lambda: rng.standard_normal(n, dtype=np.float32),
                "torch": torch and (lambda: torch.randn(n, generator=tg)),
            },
        ),
        (
            f"randn {n // 2} f64",
            {
                "ember": lambda: O.randn(n // 2, generator=g, dtype="float64"),
                "numpy": lambda: rng.standard_normal(n // 2),
                "torch": torch and (lambda: torch.randn(n // 2, generator=tg, dtype=torch.float64)),
            },
        ),
        (
            f"randint(0,1000) {n} i64",
            {
                "ember": lambda: O.randint(0, 1000, (n,), generator=g),
                "numpy": lambda: rng.integers(0, 1000, n),
                "torch": torch and (lambda: torch.randint(0, 1000, (n,), generator=tg)),
            },
        ),
        (
            f"randperm {perm_n}",
            {
                "ember": lambda: O.randperm(perm_n, generator=g),
                "numpy": lambda: rng.permutation(perm_n),
                "torch": torch and (lambda: torch.randperm(perm_n, generator=tg)),
            },
        ),
        (
            f"multinomial {probs.shape} x4 repl",
            {
                "ember": lambda: g._multinomial(probs, 4, True),
                "numpy": None,
                "torch": torch and (lambda: torch.multinomial(tprobs, 4, True, generator=tg)),
            },
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--repeats", type=int, default=11)
    args = ap.parse_args()
    all_threads = os.cpu_count() or 1
    print(
        f"# numpy {np.__version__}, torch {torch.__version__ if torch else 'absent'}, "
        f"{all_threads} cores; times are medians in ms; ratio = other / ember"
    )
    for threads in sorted({1, all_threads}):
        lib.em_set_num_threads(threads)
        if torch:
            torch.set_num_threads(threads)
        print(f"\n## {threads} thread(s)")
        print(f"{'case':34s} {'ember':>8s} {'numpy':>8s} {'torch':>8s} {'np/em':>6s} {'th/em':>6s}")
        for name, fns in _cases(args.n):
            t = median_times({k: f for k, f in fns.items() if f}, args.repeats)
            em = t["ember"]

            def cell(k, t=t):
                return f"{t[k] * 1e3:8.1f}" if k in t else f"{'-':>8s}"

            def ratio(k, t=t, em=em):
                return f"{t[k] / em:6.2f}" if k in t else f"{'-':>6s}"

            print(
                f"{name:34s} {cell('ember')} {cell('numpy')} {cell('torch')} "
                f"{ratio('numpy')} {ratio('torch')}"
            )
    lib.em_set_num_threads(all_threads)


if __name__ == "__main__":
    main()
