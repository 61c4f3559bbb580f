"""The chunked C-im2col convolution path: several chunks per batch, 1x1 and strided,
dilated and 1-D/3-D convs, against a direct numpy convolution and its hand derivatives."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import _nn_kernels as NK
from ember.nn.functional import _conv


def _ref_conv(x, w, stride, pad, dil):
    """Direct 2-D convolution by summing over kernel offsets (float64)."""
    x = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    oh = (h - dil * (kh - 1) - 1) // stride + 1
    ow = (wd - dil * (kw - 1) - 1) // stride + 1
    y = np.zeros((n, o, oh, ow))
    for i in range(kh):
        for j in range(kw):
            win = x[
                :,
                :,
                i * dil : i * dil + (oh - 1) * stride + 1 : stride,
                j * dil : j * dil + (ow - 1) * stride + 1 : stride,
            ]
            y += np.einsum("nchw,oc->nohw", win, w[:, :, i, j].astype(np.float64))
    return y


CASES = [  # x shape, w shape, stride, pad, dilation
    ((5, 3, 9, 8), (4, 3, 3, 3), 1, 1, 1),
    ((4, 2, 11, 10), (3, 2, 3, 2), 2, 0, 1),
    ((3, 2, 12, 12), (2, 2, 3, 3), 1, 2, 2),
    ((6, 4, 5, 5), (3, 4, 1, 1), 1, 0, 1),
]


@pytest.mark.parametrize("chunk", [1, 4000, 1 << 20])
@pytest.mark.parametrize("xs,ws,stride,pad,dil", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_conv_chunks_match_direct(monkeypatch, chunk, xs, ws, stride, pad, dil, dtype):
    monkeypatch.setattr(_conv, "_CHUNK_ELEMS", chunk)
    rng = np.random.default_rng(7)
    x = rng.standard_normal(xs).astype(dtype)
    w = rng.standard_normal(ws).astype(dtype)
    b = rng.standard_normal(ws[0]).astype(dtype)
    ex = ember.tensor(x, requires_grad=True)
    ew = ember.tensor(w, requires_grad=True)
    eb = ember.tensor(b, requires_grad=True)
    y = F.conv2d(ex, ew, eb, stride=stride, padding=pad, dilation=dil)
    ref = _ref_conv(x, w, stride, pad, dil) + b[None, :, None, None]
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(y.detach().numpy(), ref, rtol=tol, atol=tol)
    # loss = sum(y * g): dL/dw[o,c,i,j] = sum g * window, dL/dx by the adjoint identity
    g = rng.standard_normal(y.shape).astype(dtype)
    (y * ember.tensor(g)).sum().backward()
    gw = np.zeros(ws)
    for idx in np.ndindex(*ws):
        e = np.zeros(ws)
        e[idx] = 1
        gw[idx] = (_ref_conv(x, e, stride, pad, dil) * g).sum()
    np.testing.assert_allclose(ew.grad.numpy(), gw, rtol=tol * 10, atol=tol * 10)
    np.testing.assert_allclose(eb.grad.numpy(), g.sum((0, 2, 3)), rtol=tol, atol=tol * 10)
    # <conv(dx), g> = <dx, grad_x> for a random direction dx
    dx = rng.standard_normal(xs)
    lhs = (_ref_conv(dx, w, stride, pad, dil) * g).sum()
    rhs = (ex.grad.numpy().astype(np.float64) * dx).sum()
    np.testing.assert_allclose(rhs, lhs, rtol=tol * 10)


def test_im2col_col2im_out_buffers():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 6, 5)).astype(np.float32)
    buf = np.full((2, 27, 30), np.nan, np.float32)
    cols = NK.im2col(x, 3, 1, 1, 1, out=buf)
    assert cols is buf
    np.testing.assert_array_equal(cols, NK.im2col(x, 3, 1, 1, 1))
    gx = np.full(x.shape, np.nan, np.float32)
    assert NK.col2im(cols, x.shape, 3, 1, 1, 1, out=gx) is gx
    np.testing.assert_array_equal(gx, NK.col2im(cols, x.shape, 3, 1, 1, 1))
    with pytest.raises(ValueError, match="shape"):
        NK.im2col(x, 3, 1, 1, 1, out=np.empty((2, 27, 29), np.float32))
    with pytest.raises(TypeError, match="float32"):
        NK.im2col(x, 3, 1, 1, 1, out=np.empty((2, 27, 30), np.float64))
    with pytest.raises(TypeError, match="C-contiguous"):
        NK.col2im(cols, x.shape, 3, 1, 1, 1, out=np.empty((2, 3, 5, 6), np.float32).swapaxes(2, 3))


def test_im2col_kernel_offset_past_the_input_writes_nothing_outside_its_row():
    # width 1, pad 2, dilation 2: offset 2 reads past the input; it must give a zero row
    # and leave the row before it alone (it once wrote one element before its row)
    x = np.arange(1, 9, dtype=np.float32).reshape(4, 2, 1)
    cols = NK.im2col(x, 3, 1, 2, 2)
    want = np.zeros((4, 6, 1), np.float32)
    want[:, 1, 0] = x[:, 0, 0]
    want[:, 4, 0] = x[:, 1, 0]
    np.testing.assert_array_equal(cols, want)
