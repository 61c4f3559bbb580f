"""ember.jit: a 10-op elementwise chain (GELU, tanh form, scaled) on 16M float32 values,
lazily fused ember vs eager ember vs numpy vs PyTorch eager vs ``torch.compile`` (when
it works here), interleaved in one process, medians, at 1 and 2 threads; then the
compile time of a new signature and the overhead of a cache hit (µs).

Run: python benchmarks/bench_jit.py [--quick] [--no-torch-compile]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from _timing import median_times

import ember

try:
    import torch
except ImportError:
    torch = None

C0, C1, SCALE = 0.7978845608028654, 0.044715, 1.5


def chain(x, tanh):
    """10 elementwise ops: 3 mul, fma-like add, 2 mul, tanh, add, 2 mul (scaled GELU)."""
    inner = C0 * (x + C1 * (x * x * x))
    return (0.5 * x) * (1.0 + tanh(inner)) * SCALE


def _lazy_chain(x):
    with ember.jit.lazy():
        y = chain(x, ember.tanh)
    return y


def _torch_compiled():
    if torch is None:
        return None, "torch is not installed"
    try:
        fn = torch.compile(lambda t: chain(t, torch.tanh))
        t0 = time.perf_counter()
        fn(torch.randn(1024))
        fn(torch.randn(1 << 10))
        return fn, f"compiled in {time.perf_counter() - t0:.1f} s"
    except Exception as exc:  # report why, keep benchmarking the rest
        return None, f"torch.compile failed: {type(exc).__name__}: {str(exc)[:200]}"


def bench_chain(n: int, repeat: int, use_tc: bool) -> None:
    a = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    x = ember.from_numpy(a)
    compiled = ember.jit.compile(lambda t: chain(t, ember.tanh))
    fns = {
        "ember lazy": lambda: _lazy_chain(x),
        "ember.jit.compile": lambda: compiled(x),
        "ember eager": lambda: chain(x, ember.tanh),
        "numpy": lambda: chain(a, np.tanh),
    }
    tc, why = _torch_compiled() if use_tc else (None, "skipped (--no-torch-compile)")
    if torch is not None:
        ta = torch.from_numpy(a)
        fns["torch eager"] = lambda: chain(ta, torch.tanh)
        if tc is not None:
            fns["torch.compile"] = lambda: tc(ta)
    print(f"torch.compile: {why}")
    ref = chain(a.astype(np.float64), np.tanh)
    err = np.abs(_lazy_chain(x).numpy() - ref).max()
    print(f"lazy result vs float64 numpy: max abs error {err:.2e}")
    for threads in (1, 2):
        ember.set_num_threads(threads)
        if torch is not None:
            torch.set_num_threads(threads)
        t = median_times(fns, repeat)
        base = t["ember eager"]
        print(f"\n{n // (1 << 20)}M float32, 10-op chain, {threads} thread(s), median of {repeat}:")
        for k, v in t.items():
            gbs = 8 * n / v / 1e9
            print(f"  {k:20s} {v * 1e3:9.2f} ms  {gbs:6.2f} GB/s  eager/this {base / v:5.2f}x")
        if "torch.compile" in t:
            print(f"  ember lazy vs torch.compile: {t['torch.compile'] / t['ember lazy']:.2f}x")


def bench_compile_and_hits() -> None:
    from ember.jit import _build, _lazy

    x = ember.randn(1000)
    with tempfile.TemporaryDirectory() as d:
        old = os.environ.get("EMBER_JIT_CACHE")
        os.environ["EMBER_JIT_CACHE"] = d
        try:
            _lazy._State.plans.clear()
            _build._loaded.clear()
            t0 = time.perf_counter()
            _lazy_chain(x)
            cold = time.perf_counter() - t0
            _lazy._State.plans.clear()
            _build._loaded.clear()
            t0 = time.perf_counter()
            _lazy_chain(ember.randn(1000) + 0)
            disk = time.perf_counter() - t0
        finally:
            if old is None:
                del os.environ["EMBER_JIT_CACHE"]
            else:
                os.environ["EMBER_JIT_CACHE"] = old
    print(
        f"\nnew signature: codegen + C compile {cold * 1e3:.0f} ms; from the disk cache "
        f"{disk * 1e3:.1f} ms"
    )
    small = ember.randn(16)
    compiled = ember.jit.compile(lambda t: chain(t, ember.tanh))
    compiled(small)
    n = 2000
    t = median_times(
        {
            "compile replay": lambda: [compiled(small) for _ in range(n)],
            "lazy block (graph + plan hit)": lambda: [_lazy_chain(small) for _ in range(n)],
            "eager (10 ops)": lambda: [chain(small, ember.tanh) for _ in range(n)],
        },
        7,
    )
    print("cache-hit overhead on a 16-element input (per call):")
    for k, v in t.items():
        print(f"  {k:32s} {v / n * 1e6:8.1f} µs")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="4M elements, fewer repeats")
    p.add_argument("--no-torch-compile", action="store_true")
    args = p.parse_args()
    n = (1 << 22) if args.quick else (1 << 24)
    bench_chain(n, 5 if args.quick else 9, not args.no_torch_compile)
    bench_compile_and_hits()


if __name__ == "__main__":
    main()
