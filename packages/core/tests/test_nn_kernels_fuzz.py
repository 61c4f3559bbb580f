"""Property tests: ember._nn_kernels over random shapes and geometries against vectorized
numpy references (and, under sanitize.py, ASan/UBSan watching every C access).

Random sizes include the parallel paths (above the kernels' work threshold), windows
that hang into the padding, ceil_mode, dilation and out-of-range indices. The default
budget keeps the file near 20 s; EMBER_FUZZ_EXAMPLES raises it.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ember import _nn_kernels as K

EXAMPLES = max(10, int(os.environ.get("EMBER_FUZZ_EXAMPLES", "250")) // 4)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
dtypes = st.sampled_from([np.float32, np.float64])
TOL = {np.float32: 5e-5, np.float64: 1e-10}


def arr(seed, shape, dtype, scale=1.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def close(a, b, dtype, f=1.0):
    np.testing.assert_allclose(a, b, rtol=TOL[dtype] * f, atol=TOL[dtype] * f, equal_nan=True)


def taps(xp, k, s, d, out):
    """Strided views xp[..., i*s0 + a*d0, j*s1 + b*d1] for every kernel tap (a, b)."""
    for a in range(k[0]):
        for b in range(k[1]):
            yield xp[
                ...,
                a * d[0] : a * d[0] + (out[0] - 1) * s[0] + 1 : s[0],
                b * d[1] : b * d[1] + (out[1] - 1) * s[1] + 1 : s[1],
            ]


@st.composite
def conv_geom(draw):
    nsp = draw(st.integers(1, 3))
    k = [draw(st.integers(1, 4)) for _ in range(nsp)]
    d = [draw(st.integers(1, 3)) for _ in range(nsp)]
    p = [draw(st.integers(0, 3)) for _ in range(nsp)]
    s = [draw(st.integers(1, 3)) for _ in range(nsp)]
    size = [
        max(1, d[i] * (k[i] - 1) + 1 - 2 * p[i]) + draw(st.integers(0, 9 if nsp < 3 else 4))
        for i in range(nsp)
    ]
    n, c = draw(st.integers(0, 3)), draw(st.integers(1, 4))
    if draw(st.integers(0, 5)) == 0:  # a large case: the threaded path
        n, c = 4, 16
    return (n, c, *size), k, s, p, d


@SETTINGS
@given(g=conv_geom(), dtype=dtypes, seed=st.integers(0, 2**32 - 1))
def test_im2col_col2im_fuzz(g, dtype, seed):
    shape, k, s, p, d = g
    x = arr(seed, shape, dtype)
    cols = K.im2col(x, k, s, p, d)
    nsp = len(k)
    out = [(shape[2 + i] + 2 * p[i] - d[i] * (k[i] - 1) - 1) // s[i] + 1 for i in range(nsp)]
    xp = np.pad(x, [(0, 0), (0, 0)] + [(q, q) for q in p])
    rows = []
    for off in np.ndindex(*k):
        sl = tuple(
            slice(o * dd, o * dd + (m - 1) * ss + 1, ss) for o, dd, m, ss in zip(off, d, out, s)
        )
        rows.append(
            xp[(slice(None), slice(None)) + sl].reshape(shape[0], shape[1], int(np.prod(out)))
        )
    ref = np.stack(rows, axis=2).reshape(cols.shape)
    np.testing.assert_array_equal(cols, ref)
    c = arr(seed + 1, cols.shape, dtype)
    back = K.col2im(c, shape, k, s, p, d)
    assert abs(np.sum(ref * c, dtype=np.float64) - np.sum(x * back, dtype=np.float64)) <= (
        1e-3 * max(1.0, np.abs(c).sum())
    )


@st.composite
def pool_geom(draw):
    k = [draw(st.integers(1, 4)) for _ in range(2)]
    s = [draw(st.integers(1, 4)) for _ in range(2)]
    p = [draw(st.integers(0, kk // 2)) for kk in k]
    d = [draw(st.integers(1, 3)) for _ in range(2)]
    hw = [d[i] * (k[i] - 1) + 1 + draw(st.integers(0, 8)) for i in range(2)]
    n, c = draw(st.integers(0, 3)), draw(st.integers(1, 3))
    if draw(st.integers(0, 5)) == 0:
        n, c, hw = 8, 16, [hw[0] + 16, hw[1] + 16]
    return (n, c, *hw), k, s, p, d, draw(st.booleans())


@SETTINGS
@given(g=pool_geom(), dtype=dtypes, seed=st.integers(0, 2**32 - 1), nan=st.booleans())
def test_maxpool_fuzz(g, dtype, seed, nan):
    shape, k, s, p, d, ceil = g
    x = arr(seed, shape, dtype)
    if nan and x.size:
        x.reshape(-1)[np.random.default_rng(seed).integers(0, x.size, 3)] = np.nan
    y, idx = K.maxpool2d_forward(x, k, s, p, d, ceil)
    out = y.shape[2:]
    xp = np.pad(
        x,
        [
            (0, 0),
            (0, 0),
            (p[0], p[0] + s[0] * 2 + d[0] * k[0]),
            (p[1], p[1] + s[1] * 2 + d[1] * k[1]),
        ],
        constant_values=-np.inf,
    )
    ref = np.full(y.shape, -np.inf, dtype)
    for t in taps(xp, k, s, d, out):
        ref = np.maximum(ref, t)  # np.maximum propagates NaN, as PyTorch's max pooling
    np.testing.assert_array_equal(y, ref)
    planes = x.reshape(shape[0] * shape[1], shape[2] * shape[3])
    flat_idx = idx.reshape(planes.shape[0], out[0] * out[1])
    got = np.take_along_axis(planes, flat_idx, 1).reshape(y.shape)
    np.testing.assert_array_equal(got, y)
    gy = arr(seed + 2, y.shape, dtype)
    gx = K.maxpool2d_backward(gy, idx, shape)
    ref_gx = np.zeros(planes.shape)
    for q in range(planes.shape[0]):
        np.add.at(ref_gx[q], flat_idx[q], gy.reshape(flat_idx.shape)[q])
    close(gx, ref_gx.reshape(shape), dtype)
    if idx.size:
        idx.reshape(-1)[-1] = shape[2] * shape[3]
        with pytest.raises(IndexError):
            K.maxpool2d_backward(gy, idx, shape)


@SETTINGS
@given(
    g=pool_geom(),
    dtype=dtypes,
    seed=st.integers(0, 2**32 - 1),
    cip=st.booleans(),
    div=st.sampled_from([None, None, 3]),
)
def test_avgpool_fuzz(g, dtype, seed, cip, div):
    shape, k, s, p, _, ceil = g
    x = arr(seed, shape, dtype)
    y = K.avgpool2d_forward(x, k, s, p, ceil, cip, div)
    out = y.shape[2:]
    extra = [p[i] + s[i] * 2 + k[i] for i in range(2)]
    pads = [(0, 0), (0, 0), (p[0], extra[0]), (p[1], extra[1])]
    xp = np.pad(x.astype(np.float64), pads)
    inside = np.pad(np.ones(shape[2:]), pads[2:])  # 1 on real inputs
    padded = np.ones((shape[2] + 2 * p[0], shape[3] + 2 * p[1]))  # 1 on input and padding
    padded = np.pad(padded, [(0, extra[0] - p[0]), (0, extra[1] - p[1])])
    total = sum(taps(xp, k, s, (1, 1), out))
    count = sum(taps(inside, k, s, (1, 1), out))
    pcount = sum(taps(padded, k, s, (1, 1), out))
    ref = total / (div if div else pcount if cip else count)
    close(y, ref, dtype, 4)
    gy = arr(seed + 3, y.shape, np.float64)
    gx = K.avgpool2d_backward(gy, shape, k, s, p, ceil, cip, div)
    v = arr(seed + 4, shape, np.float64)
    lhs = np.sum(gy * K.avgpool2d_forward(v, k, s, p, ceil, cip, div))
    assert abs(lhs - np.sum(gx * v)) <= 1e-9 * max(1.0, abs(lhs))  # backward is the adjoint


@SETTINGS
@given(
    n=st.integers(0, 40),
    c=st.integers(1, 50),
    dtype=dtypes,
    seed=st.integers(0, 2**32 - 1),
    big=st.integers(0, 5),
    red=st.sampled_from(["mean", "sum", "none"]),
    eps=st.sampled_from([0.0, 0.1]),
    weighted=st.booleans(),
)
def test_softmax_and_losses_fuzz(n, c, dtype, seed, big, red, eps, weighted):
    if big == 0:
        n, c = 300, 257  # threaded path
    x = arr(seed, (n, c), dtype, 5)
    x64 = x.astype(np.float64)
    lse = np.log(np.exp(x64 - x64.max(1, keepdims=True)).sum(1)) + x64.max(1) if n else np.zeros(0)
    close(K.log_softmax(x), x64 - lse[:, None], dtype, 8)
    close(K.softmax(x), np.exp(x64 - lse[:, None]), dtype, 2)
    rng = np.random.default_rng(seed)
    t = rng.integers(0, c, n)
    t[rng.random(n) < 0.2] = -100
    w = (rng.random(c) + 0.5).astype(dtype) if weighted else None
    wv = np.ones(c) if w is None else w.astype(np.float64)
    keep = t >= 0
    tt = np.where(keep, t, 0)
    lp = x64 - lse[:, None]
    per = np.where(keep, -wv[tt] * lp[np.arange(n), tt], 0)
    if eps:
        per = (1 - eps) * per + eps / c * np.where(keep, -(lp * wv).sum(1), 0)
    wt = np.where(keep, wv[tt], 0).sum()
    ref = per if red == "none" else per.sum() / (wt if red == "mean" else 1)
    loss, lse_k, tw = K.cross_entropy_forward(x, t, w, -100, red, eps)
    close(loss, ref, dtype, 20)
    gy = arr(seed + 5, np.shape(loss), dtype)
    gx = K.cross_entropy_backward(gy, x, t, lse_k, w, -100, red, eps, tw)
    assert gx.shape == x.shape and (np.isfinite(gx).all() or (red == "mean" and wt == 0))
    if n:
        t[rng.integers(0, n)] = c + rng.integers(0, 5)
        with pytest.raises(IndexError):
            K.cross_entropy_forward(x, t, w, -100, red, eps)


@SETTINGS
@given(
    n=st.integers(1, 6),
    c=st.integers(1, 8),
    sp=st.integers(1, 30),
    dtype=dtypes,
    seed=st.integers(0, 2**32 - 1),
    big=st.integers(0, 5),
)
def test_norms_fuzz(n, c, sp, dtype, seed, big):
    if big == 0:
        n, c, sp = 8, 16, 600
    x = arr(seed, (n, c, sp), dtype, 2) + 3
    w, b = arr(seed + 1, c, dtype), arr(seed + 2, c, dtype)
    x64 = x.astype(np.float64)
    gy = arr(seed + 3, x.shape, dtype)
    if n * sp > 1:
        y, sm, si = K.batchnorm_forward(x, w, b, None, None, True, 0.1, 1e-5)
        m, v = x64.mean((0, 2)), x64.var((0, 2))
        close(
            y, (x64 - m[:, None]) / np.sqrt(v[:, None] + 1e-5) * w[:, None] + b[:, None], dtype, 20
        )
        gx, gw, gb = K.batchnorm_backward(gy, x, w, sm, si, True)
        close(gb, gy.astype(np.float64).sum((0, 2)), dtype, 50)
        close(gx.astype(np.float64).sum((0, 2)), np.zeros(c), dtype, 200)  # sums to 0
    g = [q for q in range(1, c + 1) if c % q == 0][
        seed % len([q for q in range(1, c + 1) if c % q == 0])
    ]
    y, m, r = K.groupnorm_forward(x, g, w, b)
    xg = x64.reshape(n, g, -1)
    ref = (xg - xg.mean(2, keepdims=True)) / np.sqrt(xg.var(2, keepdims=True) + 1e-5)
    close(y, ref.reshape(x.shape) * w[:, None] + b[:, None], dtype, 20)
    K.groupnorm_backward(gy, x, g, w, m, r)
    y, m, r = K.layernorm_forward(x, 1, None, None)
    close(
        y, (x64 - x64.mean(2, keepdims=True)) / np.sqrt(x64.var(2, keepdims=True) + 1e-5), dtype, 20
    )
    gx, gw, gb = K.layernorm_backward(gy, x, 1, None, m, r)
    close(gb, gy.astype(np.float64).sum((0, 1)), dtype, 50)


@SETTINGS
@given(
    nidx=st.integers(0, 300),
    num=st.integers(1, 40),
    dim=st.integers(0, 20),
    dtype=dtypes,
    seed=st.integers(0, 2**32 - 1),
    big=st.integers(0, 5),
    pad=st.booleans(),
)
def test_embedding_backward_fuzz(nidx, num, dim, dtype, seed, big, pad):
    if big == 0:
        nidx, num, dim = 5000, 100, 32
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, num, nidx)
    gy = arr(seed, (nidx, dim), dtype)
    pidx = int(rng.integers(0, num)) if pad else None
    ref = np.zeros((num, dim))
    keep = idx != pidx if pad else np.ones(nidx, bool)
    np.add.at(ref, idx[keep], gy[keep].astype(np.float64))
    close(K.embedding_backward(gy, idx, num, pidx), ref, dtype, 20)
    if nidx:
        idx[rng.integers(0, nidx)] = num + rng.integers(0, 3) if seed % 2 else -1
        with pytest.raises(IndexError):
            K.embedding_backward(gy, idx, num, pidx)
