"""ember's nn C kernels (ember._nn_kernels) against plain numpy and, if installed, PyTorch.

For each kernel: median milliseconds of interleaved repeats (the contenders alternate, so
machine noise hits them alike) at 1 thread and at 2 threads (ember and torch; numpy is
single-threaded here), and the ratios numpy/ember and torch/ember (> 1: ember faster).
The numpy contender is the plain way to do the same with numpy (as_strided windows and
copies, slice-adds, exp/sum, mean/var, np.add.at); torch's is its own op
(torch.nn.functional, unfold/fold, aten backward ops). float32 throughout.

    python benchmarks/bench_nn_kernels.py [--repeats 7] [--only softmax,im2col]
"""

from __future__ import annotations

import argparse

import numpy as np
from _timing import median_times
from numpy.lib.stride_tricks import sliding_window_view

from ember import _kernels
from ember import _nn_kernels as K

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # torch is an optional reference peer
    torch = None


def _np_im2col(x, k, p):
    xp = np.pad(x, [(0, 0), (0, 0), (p, p), (p, p)])
    w = sliding_window_view(xp, (k, k), axis=(2, 3))  # N, C, OH, OW, k, k
    n, c, oh, ow = w.shape[:4]
    return np.ascontiguousarray(w.transpose(0, 1, 4, 5, 2, 3)).reshape(n, c * k * k, oh * ow)


def _np_col2im(cols, shape, k, p):
    n, c, h, w = shape
    oh, ow = h + 2 * p - k + 1, w + 2 * p - k + 1
    cv = cols.reshape(n, c, k, k, oh, ow)
    xp = np.zeros((n, c, h + 2 * p, w + 2 * p), cols.dtype)
    for a in range(k):
        for b in range(k):
            xp[:, :, a : a + oh, b : b + ow] += cv[:, :, a, b]
    return xp[:, :, p : p + h, p : p + w]


def _np_maxpool(x, k, s):
    w = sliding_window_view(x, (k, k), axis=(2, 3))[:, :, ::s, ::s]
    flat = w.reshape(w.shape[:4] + (k * k,))
    return flat.max(-1), flat.argmax(-1)


def _np_avgpool3(x):  # 3x3, stride 2, padding 1, count_include_pad
    xp = np.pad(x, [(0, 0), (0, 0), (1, 1), (1, 1)])
    w = sliding_window_view(xp, (3, 3), axis=(2, 3))[:, :, ::2, ::2]
    return w.mean(axis=(-2, -1))


def _np_avgpool3_bwd(gy, shape):  # adjoint of _np_avgpool3: 9 strided slice-adds
    n, c, h, w = shape
    oh, ow = gy.shape[2:]
    gp = np.zeros((n, c, h + 2, w + 2), gy.dtype)
    g9 = gy / 9
    for a in range(3):
        for b in range(3):
            gp[:, :, a : a + 2 * oh - 1 : 2, b : b + 2 * ow - 1 : 2] += g9
    return gp[:, :, 1 : h + 1, 1 : w + 1]


def _np_log_softmax(x):
    m = x.max(-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(-1, keepdims=True))


def _np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def _np_ce_fwd_bwd(x, t):
    lp = _np_log_softmax(x)
    loss = -lp[np.arange(len(t)), t].mean()
    g = np.exp(lp)
    g[np.arange(len(t)), t] -= 1
    return loss, g / len(t)


def _np_bn(x, eps=1e-5):
    m = x.mean(axis=(0, 2, 3), keepdims=True)
    v = x.var(axis=(0, 2, 3), keepdims=True)
    return (x - m) / np.sqrt(v + eps), m, v


def _np_bn_bwd(gy, x, m, v, eps=1e-5):
    inv = 1 / np.sqrt(v + eps)
    xhat = (x - m) * inv
    gb = gy.sum(axis=(0, 2, 3), keepdims=True)
    gw = (gy * xhat).sum(axis=(0, 2, 3), keepdims=True)
    cnt = x.size // x.shape[1]
    return inv / cnt * (cnt * gy - gb - xhat * gw)


def _np_ln(x, eps=1e-5):
    m = x.mean(-1, keepdims=True)
    return (x - m) / np.sqrt(x.var(-1, keepdims=True) + eps)


def _np_ln_bwd(gy, x, eps=1e-5):  # no affine weight: gx only, rows of x normalized
    m = x.mean(-1, keepdims=True)
    inv = 1 / np.sqrt(x.var(-1, keepdims=True) + eps)
    xhat = (x - m) * inv
    d = x.shape[-1]
    return (
        inv / d * (d * gy - gy.sum(-1, keepdims=True) - xhat * (gy * xhat).sum(-1, keepdims=True))
    )


def _np_gn(x, g, eps=1e-5):
    xg = x.reshape(x.shape[0], g, -1)
    m, v = xg.mean(-1, keepdims=True), xg.var(-1, keepdims=True)
    return ((xg - m) / np.sqrt(v + eps)).reshape(x.shape)


def _np_embed_bwd(gy, idx, num):
    gw = np.zeros((num, gy.shape[-1]), gy.dtype)
    np.add.at(gw, idx.reshape(-1), gy.reshape(-1, gy.shape[-1]))
    return gw


def cases():
    rng = np.random.default_rng(0)
    f32 = np.float32
    T = torch is not None
    tt = (lambda a: torch.from_numpy(a)) if T else None
    aten = torch.ops.aten if T else None
    out = []

    x = rng.standard_normal((16, 32, 32, 32), dtype=f32)
    cols = K.im2col(x, 3, 1, 1, 1)
    tx, tcols = (tt(x), tt(cols)) if T else (None, None)
    out.append(
        (
            "im2col 16x32x32x32 k3 p1",
            {
                "ember": lambda: K.im2col(x, 3, 1, 1, 1),
                "numpy": lambda: _np_im2col(x, 3, 1),
                "torch": T and (lambda: F.unfold(tx, 3, padding=1)),
            },
        )
    )
    out.append(
        (
            "col2im (same)",
            {
                "ember": lambda: K.col2im(cols, x.shape, 3, 1, 1, 1),
                "numpy": lambda: _np_col2im(cols, x.shape, 3, 1),
                "torch": T and (lambda: F.fold(tcols, (32, 32), 3, padding=1)),
            },
        )
    )

    xp = rng.standard_normal((32, 64, 56, 56), dtype=f32)
    y, idx = K.maxpool2d_forward(xp, 2, 2)
    gy = rng.standard_normal(y.shape, dtype=f32)
    txp, tidx, tgy = (tt(xp), tt(idx), tt(gy)) if T else (None, None, None)
    out.append(
        (
            "maxpool2d 32x64x56x56 k2 s2 (+indices)",
            {
                "ember": lambda: K.maxpool2d_forward(xp, 2, 2),
                "numpy": lambda: _np_maxpool(xp, 2, 2),
                "torch": T and (lambda: F.max_pool2d(txp, 2, 2, return_indices=True)),
            },
        )
    )

    def np_max_bwd():
        gx = np.zeros((32 * 64, 56 * 56), f32)
        np.put_along_axis(gx, idx.reshape(32 * 64, -1), gy.reshape(32 * 64, -1), 1)
        return gx  # non-overlapping windows: a put is enough

    out.append(
        (
            "maxpool2d backward",
            {
                "ember": lambda: K.maxpool2d_backward(gy, idx, xp.shape),
                "numpy": np_max_bwd,
                "torch": T
                and (
                    lambda: aten.max_pool2d_with_indices_backward(
                        tgy, txp, [2, 2], [2, 2], [0, 0], [1, 1], False, tidx
                    )
                ),
            },
        )
    )
    ya = K.avgpool2d_forward(xp, 3, 2, 1)
    gya = rng.standard_normal(ya.shape, dtype=f32)
    tgya = tt(gya) if T else None
    out.append(
        (
            "avgpool2d k3 s2 p1",
            {
                "ember": lambda: K.avgpool2d_forward(xp, 3, 2, 1),
                "numpy": lambda: _np_avgpool3(xp),
                "torch": T and (lambda: F.avg_pool2d(txp, 3, 2, 1)),
            },
        )
    )
    out.append(
        (
            "avgpool2d backward",
            {
                "ember": lambda: K.avgpool2d_backward(gya, xp.shape, 3, 2, 1),
                "numpy": lambda: _np_avgpool3_bwd(gya, xp.shape),
                "torch": T
                and (
                    lambda: aten.avg_pool2d_backward(
                        tgya, txp, [3, 3], [2, 2], [1, 1], False, True, None
                    )
                ),
            },
        )
    )
    xg = rng.standard_normal((64, 512, 7, 7), dtype=f32)
    txg = tt(xg) if T else None
    out.append(
        (
            "adaptive_avgpool2d 64x512x7x7 -> 1x1",
            {
                "ember": lambda: K.adaptive_avgpool2d_forward(xg, 1),
                "numpy": lambda: xg.mean(axis=(2, 3), keepdims=True),
                "torch": T and (lambda: F.adaptive_avg_pool2d(txg, 1)),
            },
        )
    )

    xs = rng.standard_normal((4096, 1000), dtype=f32)
    ys = K.softmax(xs)
    gs = rng.standard_normal(xs.shape, dtype=f32)
    txs, tys, tgs = (tt(xs), tt(ys), tt(gs)) if T else (None, None, None)
    out.append(
        (
            "softmax 4096x1000",
            {
                "ember": lambda: K.softmax(xs),
                "numpy": lambda: _np_softmax(xs),
                "torch": T and (lambda: torch.softmax(txs, -1)),
            },
        )
    )
    out.append(
        (
            "log_softmax 4096x1000",
            {
                "ember": lambda: K.log_softmax(xs),
                "numpy": lambda: _np_log_softmax(xs),
                "torch": T and (lambda: torch.log_softmax(txs, -1)),
            },
        )
    )
    out.append(
        (
            "softmax backward",
            {
                "ember": lambda: K.softmax_backward(gs, ys),
                "numpy": lambda: ys * (gs - (gs * ys).sum(-1, keepdims=True)),
                "torch": T and (lambda: aten._softmax_backward_data(tgs, tys, -1, torch.float32)),
            },
        )
    )
    t = rng.integers(0, 1000, 4096)
    tt_t = tt(t) if T else None

    def ember_ce():
        loss, lse, tw = K.cross_entropy_forward(xs, t)
        return K.cross_entropy_backward(np.ones((), f32), xs, t, lse, total_weight=tw)

    def torch_ce():
        a = txs.detach().requires_grad_()
        F.cross_entropy(a, tt_t).backward()
        return a.grad

    out.append(
        (
            "cross_entropy fwd+bwd 4096x1000",
            {"ember": ember_ce, "numpy": lambda: _np_ce_fwd_bwd(xs, t), "torch": T and torch_ce},
        )
    )

    xb = rng.standard_normal((32, 64, 28, 28), dtype=f32)
    gb = rng.standard_normal(xb.shape, dtype=f32)
    w64, b64 = np.ones(64, f32), np.zeros(64, f32)
    rm, rv = np.zeros(64, f32), np.ones(64, f32)
    _, sm, si = K.batchnorm_forward(xb, w64, b64, None, None, True)
    _, m_np, v_np = _np_bn(xb)
    txb, tgb, tw64, tb64 = (tt(a) for a in (xb, gb, w64, b64)) if T else (None,) * 4
    tsm, tsi = (tt(sm), tt(si)) if T else (None, None)
    out.append(
        (
            "batchnorm train 32x64x28x28",
            {
                "ember": lambda: K.batchnorm_forward(xb, w64, b64, rm, rv, True),
                "numpy": lambda: _np_bn(xb),
                "torch": T and (lambda: F.batch_norm(txb, None, None, tw64, tb64, True)),
            },
        )
    )
    out.append(
        (
            "batchnorm backward",
            {
                "ember": lambda: K.batchnorm_backward(gb, xb, w64, sm, si, True),
                "numpy": lambda: _np_bn_bwd(gb, xb, m_np, v_np),
                "torch": T
                and (
                    lambda: aten.native_batch_norm_backward(
                        tgb, txb, tw64, None, None, tsm, tsi, True, 1e-5, [True, True, True]
                    )
                ),
            },
        )
    )
    out.append(
        (
            "groupnorm G=8 32x64x28x28",
            {
                "ember": lambda: K.groupnorm_forward(xb, 8, w64, b64),
                "numpy": lambda: _np_gn(xb, 8),
                "torch": T and (lambda: F.group_norm(txb, 8, tw64, tb64)),
            },
        )
    )
    _, gm, gr = K.groupnorm_forward(xb, 8, w64, b64)
    tgm, tgr = (tt(gm), tt(gr)) if T else (None, None)
    out.append(
        (
            "groupnorm backward",
            {
                "ember": lambda: K.groupnorm_backward(gb, xb, 8, w64, gm, gr),
                "numpy": lambda: _np_bn_bwd(
                    gb.reshape(32 * 8, -1, 1, 1).transpose(1, 0, 2, 3),
                    xb.reshape(32 * 8, -1, 1, 1).transpose(1, 0, 2, 3),
                    *_np_bn(xb.reshape(32 * 8, -1, 1, 1).transpose(1, 0, 2, 3))[1:],
                ),
                "torch": T
                and (
                    lambda: aten.native_group_norm_backward(
                        tgb, txb, tgm, tgr, tw64, 32, 64, 784, 8, [True, True, True]
                    )
                ),
            },
        )
    )
    xl = rng.standard_normal((4096, 1024), dtype=f32)
    gl = rng.standard_normal(xl.shape, dtype=f32)
    wl, bl = np.ones(1024, f32), np.zeros(1024, f32)
    _, lm, lr = K.layernorm_forward(xl, 1, wl, bl)
    txl, tgl, twl, tbl, tlm, tlr = (tt(a) for a in (xl, gl, wl, bl, lm, lr)) if T else (None,) * 6
    out.append(
        (
            "layernorm 4096x1024",
            {
                "ember": lambda: K.layernorm_forward(xl, 1, wl, bl),
                "numpy": lambda: _np_ln(xl),
                "torch": T and (lambda: F.layer_norm(txl, (1024,), twl, tbl)),
            },
        )
    )
    out.append(
        (
            "layernorm backward",
            {
                "ember": lambda: K.layernorm_backward(gl, xl, 1, wl, lm, lr),
                "numpy": lambda: _np_ln_bwd(gl, xl),
                "torch": T
                and (
                    lambda: aten.native_layer_norm_backward(
                        tgl, txl, [1024], tlm, tlr, twl, tbl, [True, True, True]
                    )
                ),
            },
        )
    )
    ie = rng.integers(0, 30000, (64, 128))
    ge = rng.standard_normal((64, 128, 256), dtype=f32)
    tie, tge = (tt(ie), tt(ge)) if T else (None, None)
    out.append(
        (
            "embedding backward 8192 rows x 256 -> 30000",
            {
                "ember": lambda: K.embedding_backward(ge, ie, 30000),
                "numpy": lambda: _np_embed_bwd(ge, ie, 30000),
                "torch": T and (lambda: aten.embedding_dense_backward(tge, tie, 30000, -1, False)),
            },
        )
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--only", default="", help="comma-separated substrings of case names")
    args = ap.parse_args()
    only = [s for s in args.only.split(",") if s]
    print(f"float32; medians of {args.repeats} interleaved repeats; ratio > 1: ember faster")
    head = (
        f"{'kernel':44s} thr {'ember ms':>9s} {'numpy ms':>9s} {'torch ms':>9s} "
        f"{'np/ember':>8s} {'torch/em':>8s}"
    )
    print(head)
    for name, fns in cases():
        if only and not any(s in name for s in only):
            continue
        fns = {k: f for k, f in fns.items() if f}
        for threads in (1, 2):
            _kernels.set_num_threads(threads)
            if torch is not None:
                torch.set_num_threads(threads)
            ms = {k: 1e3 * v for k, v in median_times(fns, args.repeats).items()}
            tms = ms.get("torch", float("nan"))
            print(
                f"{name:44s} {threads:3d} {ms['ember']:9.2f} {ms['numpy']:9.2f} {tms:9.2f} "
                f"{ms['numpy'] / ms['ember']:8.2f} {tms / ms['ember']:8.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
