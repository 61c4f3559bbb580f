"""ember's breadth ops against numpy and (when installed) PyTorch on the same inputs:
advanced-indexing gather/scatter, sort, cumsum, softmax/logsumexp along a dim,
batched matmul.

Each contender does the same work through its public API (ember ops, the plain
numpy way, torch ops). Times are medians of interleaved repeats (contenders
alternate, so machine noise hits all alike); ratios > 1 mean ember is slower.

    python benchmarks/bench_ops.py [--repeats 15] [--quick]
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import median_times

import ember

try:
    import torch
except ImportError:  # torch is an optional reference peer
    torch = None


def _np_softmax(a, d):
    e = np.exp(a - a.max(d, keepdims=True))
    return e / e.sum(d, keepdims=True)


def _np_logsumexp(a, d):
    m = a.max(d, keepdims=True)
    return (np.log(np.exp(a - m).sum(d, keepdims=True)) + m).squeeze(d)


def _cases(scale: int):
    rng = np.random.default_rng(0)
    rows, cols = 1024 * scale, 1024
    x = rng.standard_normal((rows, cols), dtype=np.float32)
    gidx = rng.integers(0, cols, (rows, 256))
    sidx = np.argsort(rng.random((rows, cols)), 1)[:, :256]  # unique per row
    src = rng.standard_normal((rows, 256), dtype=np.float32)
    rows_idx = rng.integers(0, rows, rows // 2)
    mask = x > 0.5
    v = rng.standard_normal(1 << 20 if scale > 1 else 1 << 18, dtype=np.float32)
    ba = rng.standard_normal((64, 128, 128), dtype=np.float32)
    bb = rng.standard_normal((64, 128, 128), dtype=np.float32)

    E = ember.from_numpy
    ex, eg, es, esrc, er, em = E(x), E(gidx), E(sidx), E(src), E(rows_idx), E(mask)
    ev, eba, ebb = E(v), E(ba), E(bb)
    cases = {
        "gather dim=1 (rows x 256)": {
            "ember": lambda: ember.gather(ex, 1, eg),
            "numpy": lambda: np.take_along_axis(x, gidx, 1),
        },
        "scatter dim=1 (rows x 256)": {
            "ember": lambda: ember.scatter(ex, 1, es, esrc),
            "numpy": lambda: _np_scatter(x, sidx, src),
        },
        "scatter_add dim=1": {
            "ember": lambda: ember.scatter_add(ex, 1, eg, esrc),
            "numpy": lambda: _np_scatter_add(x, gidx, src),
        },
        "x[int tensor] (rows/2 rows)": {
            "ember": lambda: ex[er],
            "numpy": lambda: x[rows_idx],
        },
        "x[bool mask]": {"ember": lambda: ex[em], "numpy": lambda: x[mask]},
        "x[idx] = 0 (setitem)": {
            "ember": lambda: ex.__setitem__(er, 0.0),
            "numpy": lambda: x.__setitem__(rows_idx, 0.0),
        },
        "sort 1-D": {"ember": lambda: ember.sort(ev), "numpy": lambda: _np_sort(v, 0, None)},
        "sort 1-D stable": {
            "ember": lambda: ember.sort(ev, stable=True),
            "numpy": lambda: _np_sort(v, 0, "stable"),
        },
        "sort dim=1": {"ember": lambda: ember.sort(ex, 1), "numpy": lambda: _np_sort(x, 1, None)},
        "topk k=10 dim=1": {
            "ember": lambda: ember.topk(ex, 10, 1),
            "numpy": lambda: _np_topk(x, 10),
        },
        "cumsum dim=1": {"ember": lambda: ember.cumsum(ex, 1), "numpy": lambda: x.cumsum(1)},
        "cumsum dim=0": {"ember": lambda: ember.cumsum(ex, 0), "numpy": lambda: x.cumsum(0)},
        "softmax dim=1": {
            "ember": lambda: ember.softmax(ex, 1),
            "numpy": lambda: _np_softmax(x, 1),
        },
        "log_softmax dim=1": {
            "ember": lambda: ember.log_softmax(ex, 1),
            "numpy": lambda: _np_softmax_log(x, 1),
        },
        "logsumexp dim=1": {
            "ember": lambda: ember.logsumexp(ex, 1),
            "numpy": lambda: _np_logsumexp(x, 1),
        },
        "bmm 64x128x128": {"ember": lambda: ember.bmm(eba, ebb), "numpy": lambda: ba @ bb},
    }
    if torch is not None:
        T = torch.from_numpy
        tx, tg, ts, tsrc, tr, tm = T(x), T(gidx), T(sidx), T(src), T(rows_idx), T(mask)
        tv, tba, tbb = T(v), T(ba), T(bb)
        torch_fns = {
            "gather dim=1 (rows x 256)": lambda: torch.gather(tx, 1, tg),
            "scatter dim=1 (rows x 256)": lambda: torch.scatter(tx, 1, ts, tsrc),
            "scatter_add dim=1": lambda: torch.scatter_add(tx, 1, tg, tsrc),
            "x[int tensor] (rows/2 rows)": lambda: tx[tr],
            "x[bool mask]": lambda: tx[tm],
            "x[idx] = 0 (setitem)": lambda: tx.__setitem__(tr, 0.0),
            "sort 1-D": lambda: torch.sort(tv),
            "sort 1-D stable": lambda: torch.sort(tv, stable=True),
            "sort dim=1": lambda: torch.sort(tx, dim=1),
            "topk k=10 dim=1": lambda: torch.topk(tx, 10, 1),
            "cumsum dim=1": lambda: torch.cumsum(tx, 1),
            "cumsum dim=0": lambda: torch.cumsum(tx, 0),
            "softmax dim=1": lambda: torch.softmax(tx, 1),
            "log_softmax dim=1": lambda: torch.log_softmax(tx, 1),
            "logsumexp dim=1": lambda: torch.logsumexp(tx, 1),
            "bmm 64x128x128": lambda: torch.bmm(tba, tbb),
        }
        for k, f in torch_fns.items():
            cases[k]["torch"] = f
    return cases


def _np_scatter(x, idx, src):
    out = x.copy()
    np.put_along_axis(out, idx, src, 1)
    return out


def _np_scatter_add(x, idx, src):
    out = x.copy()
    np.add.at(out, (np.arange(x.shape[0])[:, None], idx), src)
    return out


def _np_sort(x, d, kind):
    i = np.argsort(x, d, kind=kind)
    return np.take_along_axis(x, i, d), i


def _np_topk(x, k):
    part = np.argpartition(x, x.shape[1] - k, 1)[:, -k:]
    vals = np.take_along_axis(x, part, 1)
    order = np.argsort(-vals, 1)
    return np.take_along_axis(vals, order, 1), np.take_along_axis(part, order, 1)


def _np_softmax_log(a, d):
    s = a - a.max(d, keepdims=True)
    return s - np.log(np.exp(s).sum(d, keepdims=True))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="small inputs, few repeats")
    args = ap.parse_args(argv)
    scale = 1 if args.quick else 4
    repeats = 3 if args.quick else args.repeats
    cols = ("ember ms", "numpy ms", "torch ms", "e/np", "e/torch")
    header = f"{'op':30s} " + " ".join(f"{c:>9s}" for c in cols)
    print(
        f"ember {ember.__version__}, numpy {np.__version__}, "
        f"torch {torch.__version__ if torch else 'not installed'}; medians of {repeats}"
    )
    print(header)
    for name, fns in _cases(scale).items():
        t = median_times(fns, repeats)
        te, tn, tt = t["ember"], t["numpy"], t.get("torch")
        tt_s = f"{tt * 1e3:9.3f}" if tt else f"{'-':>9s}"
        rt = f"{te / tt:9.2f}" if tt else f"{'-':>9s}"
        print(f"{name:30s} {te * 1e3:9.3f} {tn * 1e3:9.3f} {tt_s} {te / tn:9.2f} {rt}")


if __name__ == "__main__":
    main()
