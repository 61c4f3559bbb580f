"""Throughput of ember's C kernels (ember._kernels) against numpy and, if installed, PyTorch.

Prints GB/s (bytes read + written) for 16M-element float32 ops at 1 thread and at all
threads, as medians of interleaved repeats (the contenders alternate, so machine noise
hits all of them alike), and the ratios ember/numpy and ember/torch. Also measures the
element count from which the C kernels beat numpy (MIN_PARALLEL_NUMEL).

    python benchmarks/bench_kernels.py [--n 16777216] [--repeats 15] [--quick]
"""

from __future__ import annotations

import argparse
import os

import numpy as np
from _timing import median_times

from ember import _kernels as K
from ember import _kernels_bridge as B

try:
    import torch
except ImportError:  # torch is an optional reference peer
    torch = None


def _cases(n: int):
    """(name, bytes moved, {contender: fn}) for each benchmarked op."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    y = rng.standard_normal(n, dtype=np.float32)
    side = int(np.sqrt(n))
    m = x[: side * side].reshape(side, side)
    row = y[:side]
    tx = torch.from_numpy(x) if torch else None
    ty = torch.from_numpy(y) if torch else None
    tm = torch.from_numpy(m) if torch else None
    trow = torch.from_numpy(row) if torch else None
    oc = np.empty_like(m)
    toc = torch.from_numpy(oc) if torch else None
    b4 = 4
    cases = [
        (
            "add",
            3 * n * b4,
            {
                "ember": lambda: K.binary("add", x, y, np.empty_like(x)),
                "numpy": lambda: np.add(x, y),
                "torch": tx is not None and (lambda: torch.add(tx, ty)),
            },
        ),
        (
            "mul",
            3 * n * b4,
            {
                "ember": lambda: K.binary("mul", x, y, np.empty_like(x)),
                "numpy": lambda: np.multiply(x, y),
                "torch": tx is not None and (lambda: torch.mul(tx, ty)),
            },
        ),
        (
            "exp",
            2 * n * b4,
            {
                "ember": lambda: K.unary("exp", x, np.empty_like(x)),
                "numpy": lambda: np.exp(x),
                "torch": tx is not None and (lambda: torch.exp(tx)),
            },
        ),
        (
            "tanh",
            2 * n * b4,
            {
                "ember": lambda: K.unary("tanh", x, np.empty_like(x)),
                "numpy": lambda: np.tanh(x),
                "torch": tx is not None and (lambda: torch.tanh(tx)),
            },
        ),
        (
            "sum",
            n * b4,
            {
                "ember": lambda: K.reduce("sum", x),
                "numpy": lambda: np.sum(x),
                "torch": tx is not None and (lambda: torch.sum(tx)),
            },
        ),
        (
            "amax",
            n * b4,
            {
                "ember": lambda: K.reduce("amax", x),
                "numpy": lambda: np.max(x),
                "torch": tx is not None and (lambda: torch.amax(tx)),
            },
        ),
        (
            "sum(0) of matrix",
            m.size * b4,
            {
                "ember": lambda: K.reduce("sum", m, (0,)),
                "numpy": lambda: np.sum(m, axis=0),
                "torch": tx is not None and (lambda: torch.sum(tm, 0)),
            },
        ),
        (
            "cumsum",
            2 * n * b4,
            {
                "ember": lambda: K.cumulative("cumsum", x, 0),
                "numpy": lambda: np.cumsum(x),
                "torch": tx is not None and (lambda: torch.cumsum(tx, 0)),
            },
        ),
        (
            # numpy picks the inputs' (F) order for its own result; ember writes the
            # C-order out it is given, so numpy gets the same out here
            "add m.T + row into C out",
            3 * m.size * b4,
            {
                "ember": lambda: K.binary("add", m.T, row, oc),
                "numpy": lambda: np.add(m.T, row, out=oc),
                "torch": tx is not None and (lambda: torch.add(tm.T, trow, out=toc)),
            },
        ),
        (
            "copy m.T into C out",
            2 * m.size * b4,
            {
                "ember": lambda: K.cast(m.T, oc),
                "numpy": lambda: np.copyto(oc, m.T),
                "torch": tx is not None and (lambda: toc.copy_(tm.T)),
            },
        ),
        (
            "sum(1) of matrix",
            m.size * b4,
            {
                "ember": lambda: K.reduce("sum", m, (1,)),
                "numpy": lambda: np.sum(m, axis=1),
                "torch": tx is not None and (lambda: torch.sum(tm, 1)),
            },
        ),
        (
            "cast f32->f16",
            3 * n * 2,
            {
                "ember": lambda: K.cast(x, np.empty(x.shape, np.float16)),
                "numpy": lambda: x.astype(np.float16),
                "torch": tx is not None and (lambda: tx.to(torch.float16)),
            },
        ),
    ]
    return [(name, nbytes, {k: f for k, f in fns.items() if f}) for name, nbytes, fns in cases]


def _set_threads(n: int) -> None:
    K.set_num_threads(n)
    if torch is not None:
        torch.set_num_threads(n)


def run_throughput(n: int, repeats: int, thread_counts: list) -> None:
    cases = _cases(n)
    for nt in thread_counts:
        _set_threads(nt)
        print(f"\n== {n} float32 elements, {nt} thread(s): GB/s (median of {repeats}) ==")
        print(f"{'op':26s} {'ember':>8s} {'numpy':>8s} {'torch':>8s} {'e/np':>6s} {'e/torch':>7s}")
        for name, nbytes, fns in cases:
            t = median_times(fns, repeats)
            gbs = {k: nbytes / v / 1e9 for k, v in t.items()}
            tt = gbs.get("torch")
            print(
                f"{name:26s} {gbs['ember']:8.1f} {gbs['numpy']:8.1f} "
                f"{tt if tt else float('nan'):8.1f} {gbs['ember'] / gbs['numpy']:6.2f} "
                f"{gbs['ember'] / tt if tt else float('nan'):7.2f}"
            )


def _crossover_fns(n: int) -> dict:
    """The choice the core makes at C_MIN: the bridge (fresh result, C kernel) against
    the numpy call it replaces."""
    x = np.random.default_rng(1).standard_normal(n, dtype=np.float32)
    y = x.copy()
    return {
        "e_add": lambda: B.binary("add", np.add, x, y),
        "n_add": lambda: np.add(x, y),
        "e_sum": lambda: K.reduce("sum", x),
        "n_sum": lambda: np.sum(x),
        "e_exp": lambda: B.unary("exp", np.exp, x),
        "n_exp": lambda: np.exp(x),
    }


def run_crossover(repeats: int) -> None:
    """Element counts at which ember's add/sum/exp (wrapper included) beat numpy."""
    print(f"\n== crossover (ember time / numpy time; < 1 means ember wins; C_MIN={B.C_MIN}) ==")
    for k in range(12, 21):
        n = 1 << k
        t = median_times(_crossover_fns(n), repeats * 4)
        print(
            f"n={n:8d}  add {t['e_add'] / t['n_add']:5.2f}  sum {t['e_sum'] / t['n_sum']:5.2f}"
            f"  exp {t['e_exp'] / t['n_exp']:5.2f}"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1 << 24)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="1M elements, 5 repeats")
    args = ap.parse_args()
    if args.quick:
        args.n, args.repeats = 1 << 20, 5
    cores = os.cpu_count() or 1
    print(
        f"numpy {np.__version__}, torch {torch.__version__ if torch else 'not installed'}, "
        f"{cores} cores, OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE')}"
    )
    run_throughput(args.n, args.repeats, sorted({1, cores}))
    _set_threads(cores)
    run_crossover(args.repeats)


if __name__ == "__main__":
    main()
