"""LSTM forward and forward+backward: ember vs PyTorch CPU, interleaved in one process.

Shape (the issue's): 2 layers, input 256, hidden 256, seq 35, batch 20, float32.
Both frameworks get the same weights and input. Prints the median time of each and
the ember/torch ratio (lower is better).

Run: python benchmarks/bench_lstm.py [--threads N] [--repeat R]
(the thread count is set before numpy loads, for BLAS, OpenMP and torch alike)
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def _args():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--seq", type=int, default=35)
    p.add_argument("--batch", type=int, default=20)
    p.add_argument("--hidden", type=int, default=256)
    return p.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None and ARGS.threads:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(ARGS.threads)

import numpy as np

import ember
import ember.nn as enn

try:
    import torch
except ImportError:
    torch = None


def _time(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    a = ARGS
    if torch is not None and a.threads:
        torch.set_num_threads(a.threads)
    layers, inp, hid, seq, batch = 2, 256, a.hidden, a.seq, a.batch
    rng = np.random.default_rng(0)
    x_np = rng.standard_normal((seq, batch, inp)).astype(np.float32)
    em = enn.LSTM(inp, hid, num_layers=layers)
    xe = ember.from_numpy(x_np)

    def e_fwd():
        with ember.no_grad():
            em(xe)

    def e_fb():
        x = xe.detach().requires_grad_()
        y, (h, c) = em(x)
        y.sum().backward()

    cases = [("forward", e_fwd, None), ("forward+backward", e_fb, None)]
    if torch is not None:
        tm = torch.nn.LSTM(inp, hid, num_layers=layers)
        with torch.no_grad():
            for name, p in tm.named_parameters():
                p.copy_(torch.from_numpy(getattr(em, name).detach().numpy()))
        xt = torch.from_numpy(x_np)

        def t_fwd():
            with torch.no_grad():
                tm(xt)

        def t_fb():
            x = xt.detach().requires_grad_()
            y, (h, c) = tm(x)
            y.sum().backward()

        # same weights, same input: the outputs must agree before timing means anything
        with torch.no_grad():
            ref = tm(xt)[0].numpy()
        with ember.no_grad():
            got = em(xe)[0].numpy()
        err = float(np.abs(ref - got).max())
        assert err < 1e-4, f"ember and torch LSTM outputs differ by {err}"
        cases = [("forward", e_fwd, t_fwd), ("forward+backward", e_fb, t_fb)]

    threads = a.threads or "default"
    print(
        f"LSTM layers={layers} input={inp} hidden={hid} seq={seq} batch={batch} "
        f"float32, threads={threads}, median of {a.repeat}"
    )
    for name, ef, tf in cases:
        for _ in range(2):  # warm up
            ef()
            if tf:
                tf()
        te, tt = [], []
        for _ in range(a.repeat):  # interleaved, so drift hits both alike
            te.append(_time(ef))
            if tf:
                tt.append(_time(tf))
        me = statistics.median(te) * 1e3
        if tf:
            mt = statistics.median(tt) * 1e3
            print(f"  {name:17s} ember {me:8.2f} ms   torch {mt:8.2f} ms   ratio {me / mt:5.2f}")
        else:
            print(f"  {name:17s} ember {me:8.2f} ms   (torch not installed)")


if __name__ == "__main__":
    main()
