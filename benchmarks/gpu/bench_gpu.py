"""ember on one NVIDIA GPU, each figure a ratio against a reference measured in the same
run on the same card: CuPy's own copy/matmul, and PyTorch eager.

    python benchmarks/gpu/bench_gpu.py [--out DIR] [--budget SECONDS]

Sections (each guarded: a failure is reported in the table, the rest still runs):
  1. elementwise add and sum over 256M float32: GB/s as a fraction of a device-to-device
     copy (cupy) measured in the same run;
  2. matmul 8192 x 8192, float32 and bfloat16: ember vs CuPy's matmul (TFLOP/s);
  3. conv2d forward+backward at a ResNet block shape (N=32, C=64, 56x56, 3x3): ember.nn
     vs PyTorch, plus ember's own kernel layer (im2col + cuBLAS GEMM + col2im);
  4. a ResNet-18 training step (batch 64, 224x224, SGD): ember vs PyTorch eager;
  5. per-op launch overhead on 1-element tensors (add, mul, sum): ember vs PyTorch;
  6. ember.jit on CUDA: a tanh-GELU over 64M float32 and a row max-subtract-exp-sum over
     8192 x 8192, fused by lazy mode (NVRTC-compiled kernels) vs ember eager and PyTorch
     eager (the first call, which compiles, is in the warm-up).
Timing: CUDA events around many repeats after a warm-up, median of several trials.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

RESULTS: list[dict] = []


def row(section: str, what: str, value, unit: str, ref=None, ref_name: str = "", note: str = ""):
    r = {
        "section": section,
        "what": what,
        "value": value,
        "unit": unit,
        "ref": ref,
        "ref_name": ref_name,
        "note": note,
    }
    if isinstance(value, float) and isinstance(ref, float) and ref:
        r["ratio"] = value / ref
    RESULTS.append(r)
    print(json.dumps(r), flush=True)


def timed(fn, sync, repeats: int = 10, trials: int = 5, warmup: int = 3) -> float:
    """Median seconds per call of ``fn`` (CUDA events around ``repeats`` calls)."""
    import cupy

    for _ in range(warmup):
        fn()
    sync()
    per = []
    for _ in range(trials):
        start, end = cupy.cuda.Event(), cupy.cuda.Event()
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        end.synchronize()
        per.append(cupy.cuda.get_elapsed_time(start, end) / 1e3 / repeats)
    return statistics.median(per)


def wall(fn, sync, repeats: int, trials: int = 5) -> float:
    """Median seconds per call by the host clock (for launch overhead: it is host time)."""
    for _ in range(3):
        fn()
    sync()
    per = []
    for _ in range(trials):
        t0 = time.perf_counter()
        for _ in range(repeats):
            fn()
        sync()
        per.append((time.perf_counter() - t0) / repeats)
    return statistics.median(per)


def bench_bandwidth(ember, cupy):
    n = 256 * 1024 * 1024
    a = cupy.random.standard_normal(n, dtype=cupy.float32)
    b = cupy.random.standard_normal(n, dtype=cupy.float32)
    out = cupy.empty_like(a)
    sync = cupy.cuda.Device().synchronize
    t_copy = timed(lambda: cupy.copyto(out, a), sync)
    copy_gbs = 2 * a.nbytes / t_copy / 1e9
    row("bandwidth", "device-to-device copy (cupy.copyto)", copy_gbs, "GB/s")
    x, y = ember.from_dlpack(a), ember.from_dlpack(b)
    t_add = timed(lambda: x + y, sync)
    row("bandwidth", "ember add 256M f32", 3 * a.nbytes / t_add / 1e9, "GB/s", copy_gbs, "copy")
    t_sum = timed(lambda: x.sum(), sync)
    row("bandwidth", "ember sum 256M f32", a.nbytes / t_sum / 1e9, "GB/s", copy_gbs, "copy")
    from ember._cuda.reduce import reduce

    t_ks = timed(lambda: reduce("sum", a), sync)
    row(
        "bandwidth", "ember sum kernel (reduce.cu)", a.nbytes / t_ks / 1e9, "GB/s", copy_gbs, "copy"
    )
    from ember._cuda.elementwise import binary

    t_ka = timed(lambda: binary("add", a, b, out), sync)
    row(
        "bandwidth",
        "ember add kernel (elementwise.cu)",
        3 * a.nbytes / t_ka / 1e9,
        "GB/s",
        copy_gbs,
        "copy",
    )
    try:
        import torch

        ta, tb = torch.from_dlpack(a), torch.from_dlpack(b)
        tsync = torch.cuda.synchronize
        row(
            "bandwidth",
            "torch add 256M f32",
            3 * a.nbytes / timed(lambda: ta + tb, tsync) / 1e9,
            "GB/s",
            copy_gbs,
            "copy",
        )
        row(
            "bandwidth",
            "torch sum 256M f32",
            a.nbytes / timed(lambda: ta.sum(), tsync) / 1e9,
            "GB/s",
            copy_gbs,
            "copy",
        )
    except ImportError:
        pass


def bench_matmul(ember, cupy):
    import ml_dtypes
    import numpy as np

    n = 8192
    sync = cupy.cuda.Device().synchronize
    for name, dt in (("float32", np.float32), ("bfloat16", ml_dtypes.bfloat16)):
        try:
            a = cupy.random.standard_normal((n, n), dtype=cupy.float32).astype(dt)
            b = cupy.random.standard_normal((n, n), dtype=cupy.float32).astype(dt)
            t_ref = timed(lambda a=a, b=b: a @ b, sync, repeats=5, trials=3)
            x, y = ember.from_dlpack(a), ember.from_dlpack(b)
            t_em = timed(lambda x=x, y=y: ember.matmul(x, y), sync, repeats=5, trials=3)
            flops = 2 * n**3
            row(
                "matmul",
                f"ember matmul {n} {name}",
                flops / t_em / 1e12,
                "TFLOP/s",
                flops / t_ref / 1e12,
                "cupy matmul",
            )
        except Exception as exc:  # bfloat16 needs CuPy support for it
            row("matmul", f"matmul {n} {name}", None, "", note=f"failed: {exc!r}"[:200])


def _conv_kernels(ember, cupy, x, w):
    """ember's kernel layer: im2col + one cuBLAS GEMM forward; GEMMs + col2im backward."""
    from ember import _nn_kernels as K

    n, c, h, wd = x.shape
    o = w.shape[0]
    cols = K.im2col(x, 3, 1, 1, 1)  # (N, C*9, H*W)
    wm = w.reshape(o, -1)
    y = cupy.matmul(wm, cols)  # (N, O, H*W)
    gy = y  # stands in for the incoming gradient (same shape)
    gw = cupy.matmul(gy, cols.transpose(0, 2, 1)).sum(0)
    gcols = cupy.matmul(wm.T, gy)
    gx = K.col2im(gcols, x.shape, 3, 1, 1, 1)
    return y, gw, gx


def bench_conv(ember, cupy):
    shape, wshape = (32, 64, 56, 56), (64, 64, 3, 3)
    xa = cupy.random.standard_normal(shape, dtype=cupy.float32)
    wa = cupy.random.standard_normal(wshape, dtype=cupy.float32) * 0.05
    sync = cupy.cuda.Device().synchronize
    t_ref = None
    try:
        import torch

        tx = torch.from_dlpack(xa).clone().requires_grad_()
        tw = torch.from_dlpack(wa).clone().requires_grad_()

        def tstep():
            torch.nn.functional.conv2d(tx, tw, padding=1).sum().backward()

        t_ref = timed(tstep, torch.cuda.synchronize, repeats=5, trials=3)
        row("conv2d", "torch conv2d fwd+bwd (32,64,56,56) 3x3", t_ref * 1e3, "ms")
    except ImportError:
        pass
    t_k = timed(lambda: _conv_kernels(ember, cupy, xa, wa), sync, repeats=5, trials=3)
    row(
        "conv2d",
        "ember kernels im2col+GEMM+col2im fwd+bwd",
        t_k * 1e3,
        "ms",
        t_ref and t_ref * 1e3,
        "torch (ratio = time / torch's)",
    )
    try:
        import ember.nn.functional as F

        ex = ember.from_dlpack(xa).detach().requires_grad_()
        ew = ember.from_dlpack(wa).detach().requires_grad_()

        def estep():
            F.conv2d(ex, ew, padding=1).sum().backward()
            ex.grad = ew.grad = None

        t_e = timed(estep, sync, repeats=5, trials=3)
        row(
            "conv2d",
            "ember.nn conv2d fwd+bwd",
            t_e * 1e3,
            "ms",
            t_ref and t_ref * 1e3,
            "torch (ratio = time / torch's)",
        )
    except Exception as exc:
        row("conv2d", "ember.nn conv2d fwd+bwd", None, "", note=f"failed: {exc!r}"[:200])


def make_resnet18(nn, num_classes: int = 1000):
    """ResNet-18 from an ``nn`` namespace (torch.nn and ember.nn spell it the same)."""

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU()
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + (x if self.down is None else self.down(x)))

    layers = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, num_classes)]
    return nn.Sequential(*layers)


def bench_resnet(ember, cupy):
    batch = 64
    x_host = cupy.random.standard_normal((batch, 3, 224, 224), dtype=cupy.float32)
    t_host = cupy.random.randint(0, 1000, batch).astype(cupy.int64)
    t_ref = None
    try:
        import torch

        model = make_resnet18(torch.nn).cuda()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, t = torch.from_dlpack(x_host), torch.from_dlpack(t_host)

        def tstep():
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), t).backward()
            opt.step()

        t_ref = timed(tstep, torch.cuda.synchronize, repeats=3, trials=3, warmup=2)
        row("resnet18", "torch eager train step b64 224", t_ref * 1e3, "ms")
        del model, opt
    except ImportError:
        pass
    try:
        import ember.nn as enn
        import ember.optim as eoptim

        try:
            from ember.vision.models import resnet18

            model, src = resnet18(), "ember.vision resnet18"
        except ImportError:
            model, src = make_resnet18(enn), "ResNet-18 written with ember.nn"
        model = model.cuda()
        opt = eoptim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        x, t = ember.from_dlpack(x_host), ember.from_dlpack(t_host)

        def estep():
            opt.zero_grad()
            enn.functional.cross_entropy(model(x), t).backward()
            opt.step()

        t_e = timed(estep, cupy.cuda.Device().synchronize, repeats=3, trials=3, warmup=2)
        row(
            "resnet18",
            f"ember train step b64 224 ({src})",
            t_e * 1e3,
            "ms",
            t_ref and t_ref * 1e3,
            "torch (ratio = time / torch's)",
        )
    except Exception as exc:
        row("resnet18", "ember train step b64 224", None, "", note=f"failed: {exc!r}"[:200])


def bench_overhead(ember, cupy):
    n = 3000
    x, y = ember.ones(1, device="cuda"), ember.ones(1, device="cuda")
    sync = cupy.cuda.Device().synchronize
    ref = {}
    try:
        import torch

        tx, ty = torch.ones(1, device="cuda"), torch.ones(1, device="cuda")
        for name, fn in (
            ("add", lambda: tx + ty),
            ("mul", lambda: tx * ty),
            ("sum", lambda: tx.sum()),
        ):
            ref[name] = wall(fn, torch.cuda.synchronize, n) * 1e6
    except ImportError:
        pass
    ca, cb = cupy.ones(1, cupy.float32), cupy.ones(1, cupy.float32)
    row("overhead", "cupy add (1 element)", wall(lambda: ca + cb, sync, n) * 1e6, "us/op")
    for name, fn in (("add", lambda: x + y), ("mul", lambda: x * y), ("sum", lambda: x.sum())):
        us = wall(fn, sync, n) * 1e6
        row("overhead", f"ember {name} (1 element)", us, "us/op", ref.get(name), "torch")


def _gelu(x):
    return 0.5 * x * (1 + ((x + 0.044715 * x * x * x) * 0.7978845608028654).tanh())


def _rowexp(x):
    return (x - x.amax(1, keepdim=True)).exp().sum(1)


def bench_jit(ember, cupy):
    sync = cupy.cuda.Device().synchronize
    cases = (
        ("tanh-GELU, 64M float32", _gelu, (1 << 26,)),
        ("exp(x - rowmax).sum(1), 8192^2 float32", _rowexp, (8192, 8192)),
    )
    for what, fn, shape in cases:
        x = ember.randn(*shape, device="cuda")
        ref, ref_name = None, ""
        try:
            import torch

            tx = torch.randn(*shape, device="cuda")
            ref, ref_name = (
                timed(lambda fn=fn, tx=tx: fn(tx), torch.cuda.synchronize),
                "torch eager",
            )
            del tx
        except ImportError:
            pass
        eager = timed(lambda fn=fn, x=x: fn(x), sync)
        # compile(): each call builds the graph lazily and forces it (CUDA graphs are
        # not replayed); the plan and the NVRTC module come from the caches after warm-up
        fused = ember.jit.compile(fn)
        lazy = timed(lambda fused=fused, x=x: fused(x), sync)
        row("jit", f"eager {what}", eager * 1e3, "ms", ref * 1e3 if ref else None, ref_name)
        row("jit", f"lazy {what}", lazy * 1e3, "ms", ref * 1e3 if ref else None, ref_name)
        row("jit", f"lazy / eager {what}", lazy / eager, "x", note="ember eager = 1")
        del x


def table(card: str) -> str:
    lines = [
        f"ember GPU benchmarks on {card} (ratio: ember / reference, same run)",
        f"{'section':10} {'measurement':48} {'value':>10} {'unit':8} {'ratio':>7}  reference",
    ]
    for r in RESULTS:
        v = "-" if r["value"] is None else f"{r['value']:.3g}"
        ratio = f"{r['ratio']:.2f}" if "ratio" in r else ""
        ref = r["ref_name"] or r["note"]
        lines.append(
            f"{r['section']:10} {r['what'][:48]:48} {v:>10} {r['unit']:8} {ratio:>7}  {ref}"
        )
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None, help="write results.json here")
    ap.add_argument("--budget", type=float, default=240.0, help="seconds for all sections")
    ap.add_argument("--only", nargs="*", default=None, help="run only these sections")
    args = ap.parse_args()
    import ember

    if not ember.cuda.is_available():
        print("bench_gpu: no CUDA device (or CuPy is missing): nothing to measure", flush=True)
        return 2
    import cupy

    card = ember.cuda.get_device_name()
    print(f"device: {card}; cupy {cupy.__version__}; ember {ember.__version__}", flush=True)
    t0 = time.perf_counter()
    sections = [
        ("bandwidth", bench_bandwidth),
        ("matmul", bench_matmul),
        ("conv2d", bench_conv),
        ("overhead", bench_overhead),
        ("jit", bench_jit),
        ("resnet18", bench_resnet),
    ]
    for name, fn in sections:
        if args.only and name not in args.only:
            continue
        if time.perf_counter() - t0 > args.budget:
            row(name, name, None, "", note="skipped: time budget spent")
            continue
        try:
            fn(ember, cupy)
        except Exception as exc:
            row(name, name, None, "", note=f"failed: {exc!r}"[:200])
        cupy.get_default_memory_pool().free_all_blocks()
    text = table(card)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "bench_gpu.json").write_text(json.dumps({"card": card, "rows": RESULTS}))
        (args.out / "bench_gpu.txt").write_text(text + "\n")
    print("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
