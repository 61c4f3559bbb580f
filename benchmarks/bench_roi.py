"""RoIAlign / RoIPool forward + backward: ember.vision.ops against a PyTorch peer.

torchvision is not installed here, so the PyTorch peer computes the same RoIAlign
(aligned=True, a fixed sampling ratio) with ``grid_sample``: every sample point
of every bin, then a mean over each bin's samples; for RoIPool it takes
``adaptive_max_pool2d`` of each cropped region. Both are the plain way of doing
the op in torch without a dedicated kernel (one grid_sample per image; its
border rule differs from RoIAlign's, the work is the same). Times are medians of
interleaved repeats in one process.

    python benchmarks/bench_roi.py --threads 1
    python benchmarks/bench_roi.py --threads 2
"""

from __future__ import annotations

import argparse
import os

from _timing import median_times, threads_from_argv

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, threads_from_argv("1"))

import numpy as np  # noqa: E402

import ember  # noqa: E402
from ember.vision import ops  # noqa: E402


def _case(n, c, hw, k, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
    stride = 16
    xy = rng.uniform(0, hw * stride * 0.8, (k, 2))
    wh = rng.uniform(stride, hw * stride * 0.3, (k, 2))
    rois = np.concatenate([rng.integers(0, n, (k, 1)), xy, xy + wh], 1).astype(np.float32)
    return x, rois, 1.0 / stride


def _ember_align(x, rois, scale, out, ratio):
    xt = ember.from_numpy(x).requires_grad_()
    y = ops.roi_align(xt, ember.from_numpy(rois), out, scale, ratio, aligned=True)
    y.sum().backward()


def _ember_pool(x, rois, scale, out):
    xt = ember.from_numpy(x).requires_grad_()
    y = ops.roi_pool(xt, ember.from_numpy(rois), out, scale)
    y.sum().backward()


def _torch_align(torch, x, rois, scale, out, ratio):
    xt = torch.from_numpy(x).requires_grad_()
    n, c, h, w = x.shape
    r = torch.from_numpy(rois).double()
    x1, y1, x2, y2 = (r[:, j] * scale - 0.5 for j in range(1, 5))
    steps = (torch.arange(out * ratio, dtype=torch.float64) + 0.5) / (out * ratio)
    px = x1[:, None] + (x2 - x1)[:, None] * steps  # (K, out * ratio) pixel coordinates
    py = y1[:, None] + (y2 - y1)[:, None] * steps
    gx = (px + 0.5) / w * 2 - 1  # grid_sample's normalized coordinates (align_corners=False)
    gy = (py + 0.5) / h * 2 - 1
    grid = torch.stack(torch.broadcast_tensors(gx[:, None, :], gy[:, :, None]), -1).float()
    batch = r[:, 0].long()
    total = 0
    for b in range(n):  # one grid_sample per image: its regions' sample grids stacked
        sel = (batch == b).nonzero().ravel()
        g = grid[sel].reshape(1, -1, out * ratio, 2)  # (1, K_b * S, S, 2)
        s = torch.nn.functional.grid_sample(xt[b : b + 1], g, align_corners=False)
        y = s.reshape(c, len(sel), out, ratio, out, ratio).mean((3, 5))
        total = total + y.sum()
    total.backward()


def _torch_pool(torch, x, rois, scale, out):
    xt = torch.from_numpy(x).requires_grad_()
    h, w = x.shape[2:]
    outs = []
    for b, *box in np.round(rois.astype(np.float64) * [1, scale, scale, scale, scale]):
        x1, y1 = int(max(box[0], 0)), int(max(box[1], 0))
        x2, y2 = int(min(max(box[2], x1), w - 1)), int(min(max(box[3], y1), h - 1))
        crop = xt[int(b), :, y1 : y2 + 1, x1 : x2 + 1]
        outs.append(torch.nn.functional.adaptive_max_pool2d(crop, out))
    torch.stack(outs).sum().backward()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", default="1")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    threads = int(args.threads)
    ember.set_num_threads(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        torch = None
    print(f"threads={threads}  (fwd+bwd, median of {args.repeats}; ratio = torch / ember)")
    for n, c, hw, k in ((2, 256, 50, 512), (1, 256, 100, 256)):
        x, rois, scale = _case(n, c, hw, k)
        case = (x, rois, scale, 7)
        fns = {"ember align": lambda a=case: _ember_align(*a, 2)}
        fns["ember pool"] = lambda a=case: _ember_pool(*a)
        if torch is not None:
            fns["torch align"] = lambda a=case: _torch_align(torch, *a, 2)
            fns["torch pool"] = lambda a=case: _torch_pool(torch, *a)
        t = median_times(fns, args.repeats, warmup=False)
        line = f"N={n} C={c} {hw}x{hw} K={k}: "
        for op in ("align", "pool"):
            line += f"{op} ember {t['ember ' + op] * 1e3:.0f} ms"
            if torch is not None:
                ratio = t["torch " + op] / t["ember " + op]
                line += f" torch {t['torch ' + op] * 1e3:.0f} ms ({ratio:.2f}x)"
            line += "; "
        print(line)


if __name__ == "__main__":
    main()
