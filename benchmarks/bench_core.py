"""Core throughput: large elementwise ops and reductions (GB/s), SGEMM (GFLOP/s),
and the seed's two-layer network (manual backward, and with autograd), ember vs
numpy vs PyTorch (when installed), interleaved in one process, medians.

Run: python benchmarks/bench_core.py [--threads N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import tracemalloc

import numpy as np
from _timing import median_times

import ember

try:
    import torch
except ImportError:
    torch = None


def row(name, unit, values: dict):
    e = values.get("ember")
    cells = "".join(
        f"{values[k]:10.2f}" if values.get(k) is not None else f"{'-':>10s}"
        for k in ("ember", "numpy", "torch")
    )
    ratios = []
    for k in ("numpy", "torch"):
        if values.get(k):
            ratios.append(f"{e / values[k]:6.2f}x {k}")
    print(f"{name:38s} {unit:8s}{cells}   ember/" + ", ember/".join(ratios))


def bench_elementwise(n, repeat):
    a = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    b = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    ea, eb = ember.from_numpy(a), ember.from_numpy(b)
    fns = {"ember": {}, "numpy": {}, "torch": {}}
    fns["ember"] = {"add": lambda: ea + eb, "exp": lambda: ea.exp(), "sum": lambda: ea.sum()}
    fns["numpy"] = {"add": lambda: a + b, "exp": lambda: np.exp(a), "sum": lambda: a.sum()}
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        fns["torch"] = {"add": lambda: ta + tb, "exp": lambda: ta.exp(), "sum": lambda: ta.sum()}
    traffic = {"add": 3 * 4 * n, "exp": 2 * 4 * n, "sum": 4 * n}
    for op in ("add", "exp", "sum"):
        t = median_times({k: v[op] for k, v in fns.items() if v}, repeat)
        row(
            f"{op} {n // (1 << 20)}M float32",
            "GB/s",
            {k: traffic[op] / v / 1e9 for k, v in t.items()},
        )


def bench_gemm(repeat):
    for n in (512, 1024, 2048):
        a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
        b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
        ea, eb = ember.from_numpy(a), ember.from_numpy(b)
        fns = {"ember": lambda: ea.mm(eb), "numpy": lambda: a @ b}
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            fns["torch"] = lambda: ta.mm(tb)
        t = median_times(fns, max(3, repeat // (n // 512)))
        row(f"sgemm {n}", "GFLOP/s", {k: 2 * n**3 / v / 1e9 for k, v in t.items()})


N, D_IN, H, D_OUT = 64, 1000, 100, 10


def two_layer_manual(lib, steps):
    """The seed's loop with a hand-written backward; ``lib`` is ember or torch."""
    lib.manual_seed(0)
    x, y = lib.randn(N, D_IN), lib.randn(N, D_OUT)
    w1, w2 = lib.randn(D_IN, H), lib.randn(H, D_OUT)
    lr = 1e-6
    for _ in range(steps):
        h = x.mm(w1)
        h_relu = h.clamp(min=0)
        y_pred = h_relu.mm(w2)
        loss = (y_pred - y).pow(2).sum()
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.t().mm(grad_y_pred)
        grad_h_relu = grad_y_pred.mm(w2.t())
        grad_h = grad_h_relu.clone()
        grad_h[h < 0] = 0
        grad_w1 = x.t().mm(grad_h)
        w1 -= lr * grad_w1
        w2 -= lr * grad_w2
    return float(loss)


def two_layer_numpy(steps):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, D_IN)).astype(np.float32)
    y = rng.standard_normal((N, D_OUT)).astype(np.float32)
    w1 = rng.standard_normal((D_IN, H)).astype(np.float32)
    w2 = rng.standard_normal((H, D_OUT)).astype(np.float32)
    for _ in range(steps):
        h = x.dot(w1)
        h_relu = np.maximum(h, 0)
        y_pred = h_relu.dot(w2)
        loss = np.square(y_pred - y).sum()
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h_relu.T.dot(grad_y_pred)
        grad_h_relu = grad_y_pred.dot(w2.T)
        grad_h = grad_h_relu.copy()
        grad_h[h < 0] = 0
        grad_w1 = x.T.dot(grad_h)
        w1 -= 1e-6 * grad_w1
        w2 -= 1e-6 * grad_w2
    return float(loss)


def two_layer_autograd(lib, steps):
    """The same network with ``loss.backward()`` instead of the manual backward."""
    lib.manual_seed(0)
    x, y = lib.randn(N, D_IN), lib.randn(N, D_OUT)
    w1 = lib.randn(D_IN, H).requires_grad_()
    w2 = lib.randn(H, D_OUT).requires_grad_()
    for _ in range(steps):
        y_pred = x.mm(w1).clamp(min=0).mm(w2)
        loss = (y_pred - y).pow(2).sum()
        loss.backward()
        with lib.no_grad():
            w1 -= 1e-6 * w1.grad
            w2 -= 1e-6 * w2.grad
            w1.grad = None
            w2.grad = None
    return float(loss.detach()) if hasattr(loss, "detach") else float(loss)


def bench_two_layer(steps, repeat):
    fns = {"ember": lambda: two_layer_manual(ember, steps), "numpy": lambda: two_layer_numpy(steps)}
    if torch is not None:
        fns["torch"] = lambda: two_layer_manual(torch, steps)
    t = median_times(fns, repeat)
    row(f"two-layer net, manual, {steps} steps", "steps/s", {k: steps / v for k, v in t.items()})
    fns = {"ember": lambda: two_layer_autograd(ember, steps)}
    if torch is not None:
        fns["torch"] = lambda: two_layer_autograd(torch, steps)
    t = median_times(fns, repeat)
    row(f"two-layer net, autograd, {steps} steps", "steps/s", {k: steps / v for k, v in t.items()})


def bench_graph_memory(passes=1000, nodes=100):
    """Memory over repeated backward passes of a 100-node graph must stay flat: peak RSS
    and Python-traced memory after 10%, 50% and 100% of the passes (numpy keeps a small
    bounded cache of shape buffers, so traced memory settles within the first passes)."""
    import resource

    x = ember.randn(64, requires_grad=True)

    def one():
        y = x
        for _ in range(nodes // 2):
            y = (y * 1.0001).tanh()
        y.sum().backward()

    tracemalloc.start()
    marks = {passes // 10, passes // 2, passes - 1}
    traced, rss = [], []
    for i in range(passes):
        one()
        if i in marks:
            traced.append(tracemalloc.get_traced_memory()[0])
            rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    tracemalloc.stop()
    print(
        f"{'graph memory, traced bytes at 10/50/100%':38s} {'bytes':8s}"
        + "".join(f"{v:10d}" for v in traced)
    )
    print(
        f"{'graph memory, peak RSS at 10/50/100%':38s} {'KiB':8s}"
        + "".join(f"{v:10d}" for v in rss)
    )


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    if args.threads:
        ember._C.lib.em_set_num_threads(args.threads)
        if torch is not None:
            torch.set_num_threads(args.threads)
    repeat = 5 if args.quick else 11
    print(
        f"ember threads={ember._C.lib.em_get_num_threads()} "
        f"torch={torch.__version__ if torch else 'absent'} "
        f"torch threads={torch.get_num_threads() if torch else '-'} cpus={os.cpu_count()}"
    )
    print(f"{'figure':38s} {'unit':8s}{'ember':>10s}{'numpy':>10s}{'torch':>10s}")
    bench_elementwise(16 << 20, repeat)
    bench_gemm(repeat)
    bench_two_layer(100 if args.quick else 500, 3 if args.quick else 5)
    bench_graph_memory(200 if args.quick else 1000)


if __name__ == "__main__":
    main()
