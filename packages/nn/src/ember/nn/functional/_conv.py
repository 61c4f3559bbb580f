"""Convolutions: im2col (strided windows) + one BLAS matmul, backward as matmuls +
col2im.

Three registered ops carry every convolution, forward and backward, in any
number of spatial dims: ``conv`` (x, weight, bias), ``conv_input_grad``
(gy, weight) and ``conv_weight_grad`` (x, gy). Each one's derivative is another
of the three (see ``ember.autograd.formulas_nn``), so double backward works.
``params`` of every op is ``(stride, pads, dilation, groups)`` with ``pads`` a
``(lo, hi)`` pair per spatial dim.
"""

from __future__ import annotations

import numpy as np

from ember import _nn_kernels_conv as KC
from ember._ops._dispatch import result
from ember._tensor import Tensor
from ember.nn.functional import _kernels as K

__all__ = [
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "conv_input_grad",
    "conv_weight_grad",
]


def _out_shape(spatial, kernel, stride, pads, dilation) -> tuple:
    return tuple(
        (s + lo + hi - d * (k - 1) - 1) // st + 1
        for s, k, st, (lo, hi), d in zip(spatial, kernel, stride, pads, dilation)
    )


def _cols(xa, kernel, stride, pads, dilation):
    """im2col of ``xa``; a 1x1, stride-1, unpadded conv needs no copy."""
    out = _out_shape(xa.shape[2:], kernel, stride, pads, dilation)
    n, c = xa.shape[:2]
    if (
        all(k == 1 for k in kernel)
        and all(s == 1 for s in stride)
        and not any(lo or hi for lo, hi in pads)
    ):
        return K.contiguous(xa).reshape(n, c, -1), out
    return K.im2col_unpadded(xa, kernel, out, stride, pads, dilation), out


def _padded(shape, pads) -> tuple:
    return tuple(shape[:2]) + tuple(s + lo + hi for s, (lo, hi) in zip(shape[2:], pads))


def _crop(gx, shape, pads):
    if not any(lo or hi for lo, hi in pads):
        return K.contiguous(gx)
    crop = tuple(slice(lo, lo + s) for s, (lo, _) in zip(shape[2:], pads))
    return K.contiguous(gx[(slice(None), slice(None)) + crop])


# Below this many column entries a per-sample GEMM (the (N, C*K, P) layout) wins: the
# single-GEMM layout pays for two transposing copies, and BLAS threads gain nothing.
# (Only for inputs core's C im2col does not take: other dtypes, asymmetric padding.)
_ONE_GEMM_MIN = 1 << 22

# Column entries per chunk of samples in the C path (~4 MiB of float32): the chunk's
# columns stay in cache between the im2col that writes them and the GEMM that reads them,
# and one reused buffer costs no page faults. Each sample's GEMM then writes its output
# (O, P) straight into y[n] (the NCHW layout), so no transposing copy is needed anywhere.
_CHUNK_ELEMS = 1 << 20


def _one_gemm(shape, kernel, out) -> bool:
    return shape[0] * shape[1] * int(np.prod(kernel)) * int(np.prod(out)) >= _ONE_GEMM_MIN


def _c_path(a, params) -> bool:
    """Whether the chunked C im2col/col2im path applies (groups 1, float, symmetric pads)."""
    return params[3] == 1 and K.c_ok(a, params[1])


def _pointwise(kernel, stride, pads) -> bool:
    """A 1x1, stride-1, unpadded conv: the input already is its own im2col."""
    return (
        all(k == 1 for k in kernel)
        and all(s == 1 for s in stride)
        and not any(lo or hi for lo, hi in pads)
    )


def _chunks(n: int, per_sample: int):
    """(start, stop) ranges covering ``n`` samples, ~_CHUNK_ELEMS column entries each."""
    nb = max(1, min(n, _CHUNK_ELEMS // max(per_sample, 1)))
    return nb, [(i, min(n, i + nb)) for i in range(0, n, nb)]


def _conv_c(xa, wa, ba, params):
    """Forward through the C im2col, a chunk of samples at a time (see _CHUNK_ELEMS)."""
    stride, pads, dilation, _ = params
    n, c = xa.shape[:2]
    o = wa.shape[0]
    kernel = wa.shape[2:]
    out = _out_shape(xa.shape[2:], kernel, stride, pads, dilation)
    p = int(np.prod(out))
    ck = c * int(np.prod(kernel))
    wm = wa.reshape(o, ck)
    xa = np.ascontiguousarray(xa)
    y = np.empty((n, o, p), xa.dtype)
    bias = None if ba is None else ba.reshape(o, 1)
    if _pointwise(kernel, stride, pads):
        np.matmul(wm, xa.reshape(n, c, p), out=y)
        if bias is not None:
            y += bias
        return y.reshape((n, o) + out)
    nb, chunks = _chunks(n, ck * p)
    buf = np.empty((nb, ck, p), xa.dtype)
    lo = tuple(lo for lo, _ in pads)
    for i, j in chunks:
        cols = K.im2col_into(xa[i:j], kernel, stride, lo, dilation, buf[: j - i])
        yc = y[i:j]
        np.matmul(wm, cols, out=yc)
        if bias is not None:
            yc += bias  # while the chunk is still in cache
    return y.reshape((n, o) + out)


def _input_grad_c(ga, wa, params, x_shape):
    """conv's input gradient: per chunk one GEMM W^T @ gy[n] and the C col2im into gx[n]."""
    stride, pads, dilation, _ = params
    n, o = ga.shape[:2]
    c = x_shape[1]
    kernel = wa.shape[2:]
    p = int(np.prod(ga.shape[2:]))
    ck = c * int(np.prod(kernel))
    wt = wa.reshape(o, ck).T  # a transposed view: BLAS reads it as is
    g3 = np.ascontiguousarray(ga).reshape(n, o, p)
    gx = np.empty(tuple(x_shape), ga.dtype)
    if _pointwise(kernel, stride, pads):
        np.matmul(wt, g3, out=gx.reshape(n, c, p))
        return gx
    nb, chunks = _chunks(n, ck * p)
    buf = np.empty((nb, ck, p), ga.dtype)
    lo = tuple(lo for lo, _ in pads)
    for i, j in chunks:
        gcols = np.matmul(wt, g3[i:j], out=buf[: j - i])
        K.col2im_into(gcols, gx[i:j], kernel, stride, lo, dilation)
    return gx


def _weight_grad_c(xa, ga, params, w_shape):
    """conv's weight gradient: sum over samples of gy[n] (O, P) @ cols[n]^T (P, C*K)."""
    stride, pads, dilation, _ = params
    n, o = ga.shape[:2]
    kernel = tuple(w_shape[2:])
    c = xa.shape[1]
    p = int(np.prod(ga.shape[2:]))
    ck = c * int(np.prod(kernel))
    g3 = np.ascontiguousarray(ga).reshape(n, o, p)
    xa = np.ascontiguousarray(xa)
    if _pointwise(kernel, stride, pads):
        return np.matmul(g3, xa.reshape(n, c, p).transpose(0, 2, 1)).sum(0)
    nb, chunks = _chunks(n, ck * p)
    buf = np.empty((nb, ck, p), xa.dtype)
    lo = tuple(lo for lo, _ in pads)
    gw = np.zeros((o, ck), xa.dtype)
    tmp = np.empty((o, ck), xa.dtype)
    for i, j in chunks:
        cols = K.im2col_into(xa[i:j], kernel, stride, lo, dilation, buf[: j - i])
        if j - i == 1 or o * ck > 4096:
            # big per-sample products: accumulate each, no (nb, O, C*K) temporary
            for s in range(j - i):
                np.matmul(g3[i + s], cols[s].T, out=tmp)
                gw += tmp
        else:
            gw += np.matmul(g3[i:j], cols.transpose(0, 2, 1)).sum(0)
    return gw


def _convw_args(x_shape, kernel, params):
    """(stride, padding, dilation) as 2-D pairs for core's width-unfolded conv, or None
    where it does not apply: 1-D or 2-D, height stride 1, groups 1, symmetric pads and
    nothing empty. A pointwise conv keeps its own path: its input is already its im2col.
    Against the chunked im2col path (measured at 1 thread, fwd+bwd) it ran 1.1x to 2x
    faster from LeNet's 1- and 6-channel convs to ResNet's 64-channel 3x3 ones."""
    stride, pads, dilation, groups = params
    nd = len(kernel)
    if groups != 1 or nd not in (1, 2) or not all(v > 0 for v in x_shape[1:]):
        return None
    if _pointwise(kernel, stride, pads):
        return None
    if nd == 1:
        stride, dilation, pads = (1, *stride), (1, *dilation), ((0, 0), *pads)
    if stride[0] != 1 or any(lo != hi for lo, hi in pads):
        return None
    return stride, tuple(lo for lo, _ in pads), dilation


def _as2d(shape):
    """An (N, C, L) shape as (N, C, 1, L); 2-D shapes stay."""
    return tuple(shape) if len(shape) == 4 else (*shape[:2], 1, shape[2])


def _convw_ok(a, shape, kernel, params):
    return (
        _c_path(a, params)
        and KC.convw_available(a.dtype)
        and _convw_args(shape, kernel, params) is not None
    )


def _conv_array(xa, wa, ba, params):
    kernel = wa.shape[2:]
    if _convw_ok(xa, xa.shape, kernel, params):
        s, p, d = _convw_args(xa.shape, kernel, params)
        y = KC.convw_forward(xa.reshape(_as2d(xa.shape)), wa.reshape(_as2d(wa.shape)), ba, s, p, d)
        return y.reshape(y.shape[:2] + y.shape[4 - len(kernel) :])
    if _c_path(xa, params):
        return _conv_c(xa, wa, ba, params)
    stride, pads, dilation, groups = params
    kernel = wa.shape[2:]
    n = xa.shape[0]
    o = wa.shape[0]
    out = _out_shape(xa.shape[2:], kernel, stride, pads, dilation)
    if groups == 1 and _one_gemm(xa.shape, kernel, out):  # large: the batch in one GEMM
        cols = K.im2col_cn(K.pad_input(xa, pads), kernel, out, stride, dilation)
        y = np.matmul(wa.reshape(o, -1), cols)  # (O, N*P)
        if ba is not None:
            y += ba[:, None]
        y = y.reshape((o, n) + out).swapaxes(0, 1)
        return K.contiguous(y)
    cols, out = _cols(xa, kernel, stride, pads, dilation)
    p = cols.shape[-1]
    y = np.matmul(wa.reshape(groups, o // groups, -1), cols.reshape(n, groups, -1, p))
    y = y.reshape((n, o) + out)
    if ba is not None:
        y += ba.reshape((1, o) + (1,) * len(out))
    return y


def conv(x: Tensor, weight: Tensor, bias: Tensor | None, params) -> Tensor:
    """The ``conv`` op on validated, batched inputs (see the module docstring)."""
    y = _conv_array(x._a, weight._a, None if bias is None else bias._a, params)
    return result(y, (x, weight, bias), "conv", params)


def _gy_on(ga):
    # (N, O, *out) -> (O, N*P), the layout of the GEMMs
    n, o = ga.shape[:2]
    return K.contiguous(ga.reshape(n, o, -1).swapaxes(0, 1)).reshape(o, -1)


def conv_input_grad(gy: Tensor, weight: Tensor, params, x_shape) -> Tensor:
    """The gradient of ``conv`` with respect to its input (a transposed conv)."""
    stride, pads, dilation, groups = params
    ga, wa = gy._a, weight._a
    n, o = ga.shape[:2]
    out = ga.shape[2:]
    kernel = wa.shape[2:]
    padded = _padded(x_shape, pads)
    if _convw_ok(ga, x_shape, kernel, params):
        s, p, d = _convw_args(x_shape, kernel, params)
        g4 = ga.reshape(_as2d(ga.shape))
        gx = KC.convw_input_grad(g4, wa.reshape(_as2d(wa.shape)), _as2d(x_shape), s, p, d)
        gx = gx.reshape(x_shape)
    elif _c_path(ga, params):
        gx = _input_grad_c(ga, wa, params, x_shape)
    elif groups == 1 and _one_gemm(x_shape, kernel, out):
        gcols = np.matmul(wa.reshape(o, -1).T, _gy_on(ga))  # (C*K, N*P)
        gx = K.col2im_cn(gcols, padded, kernel, out, stride, dilation)
        gx = _crop(gx, x_shape, pads)
    else:
        p = int(np.prod(out))
        if groups == 1:
            gcols = np.matmul(wa.reshape(o, -1).T, ga.reshape(n, o, p))
        else:
            wg = wa.reshape(groups, o // groups, -1).transpose(0, 2, 1)
            gcols = np.matmul(wg, ga.reshape(n, groups, o // groups, p)).reshape(n, -1, p)
        gx = K.col2im_unpadded(gcols, tuple(x_shape), kernel, out, stride, pads, dilation)
    return result(gx, (gy, weight), "conv_input_grad", (params, tuple(x_shape)))


def conv_weight_grad(x: Tensor, gy: Tensor, params, w_shape) -> Tensor:
    """The gradient of ``conv`` with respect to its weight."""
    stride, pads, dilation, groups = params
    xa, ga = x._a, gy._a
    kernel = tuple(w_shape[2:])
    n, o = ga.shape[:2]
    if _convw_ok(xa, xa.shape, kernel, params):
        s, p, d = _convw_args(xa.shape, kernel, params)
        x4, g4 = xa.reshape(_as2d(xa.shape)), ga.reshape(_as2d(ga.shape))
        gw = KC.convw_weight_grad(x4, g4, _as2d(w_shape), s, p, d)
    elif _c_path(xa, params):
        gw = _weight_grad_c(xa, ga, params, w_shape)
    elif groups == 1 and _one_gemm(xa.shape, kernel, ga.shape[2:]):
        out = tuple(ga.shape[2:])
        cols = K.im2col_cn(K.pad_input(xa, pads), kernel, out, stride, dilation)
        # (C*K, NP) @ (NP, O): OpenBLAS runs this orientation several times faster
        gw = np.matmul(cols, _gy_on(ga).T).T
    elif groups == 1:
        cols, out = _cols(xa, kernel, stride, pads, dilation)
        gw = np.matmul(ga.reshape(n, o, -1), cols.transpose(0, 2, 1)).sum(0)
    else:
        cols, out = _cols(xa, kernel, stride, pads, dilation)
        p = cols.shape[-1]
        g4 = ga.reshape(n, groups, o // groups, p)
        c4 = cols.reshape(n, groups, -1, p).transpose(0, 1, 3, 2)
        gw = np.matmul(g4, c4).sum(0)
    return result(gw.reshape(w_shape), (x, gy), "conv_weight_grad", (params, tuple(w_shape)))


# ----- argument handling -----
def _tuple(v, nd: int, name: str) -> tuple:
    if isinstance(v, int):
        return (v,) * nd
    v = tuple(int(i) for i in v)
    if len(v) == 1:
        return v * nd
    if len(v) != nd:
        raise ValueError(f"{name} must be an int or a tuple of {nd} ints, got {v}")
    return v


def conv_params(nd, kernel, stride, padding, dilation, groups) -> tuple:
    """Normalize conv arguments to ``(stride, pads, dilation, groups)``."""
    stride = _tuple(stride, nd, "stride")
    dilation = _tuple(dilation, nd, "dilation")
    if any(s <= 0 for s in stride):
        raise ValueError(f"stride must be positive, got {stride}")
    if any(d <= 0 for d in dilation):
        raise ValueError(f"dilation must be positive, got {dilation}")
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
            tot = [d * (k - 1) for d, k in zip(dilation, kernel)]
            pads = tuple((t // 2, t - t // 2) for t in tot)
        else:
            raise ValueError(f"padding must be 'valid', 'same' or ints, got {padding!r}")
    else:
        p = _tuple(padding, nd, "padding")
        if any(i < 0 for i in p):
            raise ValueError(f"padding must be non-negative, got {p}")
        pads = tuple((i, i) for i in p)
    if not isinstance(groups, int) or groups <= 0:
        raise ValueError(f"groups must be a positive integer, got {groups}")
    return stride, pads, dilation, groups


def _check(x, weight, bias, nd, groups, who: str, transposed: bool = False):
    if not isinstance(x, Tensor) or not isinstance(weight, Tensor):
        raise TypeError(f"{who}: input and weight must be Tensors")
    if weight.dim() != nd + 2:
        raise RuntimeError(f"{who}: expected a {nd + 2}-D weight, got shape {tuple(weight.shape)}")
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{who}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
            f"got input of shape {tuple(x.shape)}"
        )
    c = x.shape[-nd - 1]
    want = weight.shape[0] if transposed else weight.shape[1] * groups
    if c != want:
        raise RuntimeError(
            f"{who}: expected input with {want} channels, got {c} "
            f"(input shape {tuple(x.shape)}, weight shape {tuple(weight.shape)}, groups={groups})"
        )
    if x.dtype != weight.dtype or (bias is not None and bias.dtype != x.dtype):
        raise RuntimeError(
            f"{who}: input ({x.dtype}), weight ({weight.dtype}) and bias must have the same dtype"
        )
    if bias is not None:
        n_out = weight.shape[1] * groups if transposed else weight.shape[0]
        if tuple(bias.shape) != (n_out,):
            raise RuntimeError(f"{who}: expected bias of shape ({n_out},), got {tuple(bias.shape)}")


def _convnd(nd, x, weight, bias, stride, padding, dilation, groups) -> Tensor:
    who = f"conv{nd}d"
    _check(x, weight, bias, nd, groups, who)
    params = conv_params(nd, weight.shape[2:], stride, padding, dilation, groups)
    if weight.shape[0] % groups:
        raise RuntimeError(
            f"{who}: out_channels {weight.shape[0]} not divisible by groups {groups}"
        )
    unbatched = x.dim() == nd + 1
    if unbatched:
        x = x.unsqueeze(0)
    sp = x.shape[2:]
    out = _out_shape(sp, weight.shape[2:], params[0], params[1], params[2])
    if any(o <= 0 for o in out):
        raise RuntimeError(
            f"{who}: input spatial size {tuple(sp)} (padded by {params[1]}) is smaller than "
            f"the dilated kernel {tuple(weight.shape[2:])}"
        )
    y = conv(x, weight, bias, params)
    return y.squeeze(0) if unbatched else y


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """1-D convolution. input (N, C_in, L), weight (C_out, C_in/groups, k) -> (N, C_out, L_out).
    ``padding`` may be an int, a tuple, 'valid' or 'same'."""
    return _convnd(1, input, weight, bias, stride, padding, dilation, groups)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """2-D convolution. input (N, C_in, H, W), weight (C_out, C_in/groups, kH, kW)
    -> (N, C_out, H_out, W_out)."""
    return _convnd(2, input, weight, bias, stride, padding, dilation, groups)


def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> Tensor:
    """3-D convolution. input (N, C_in, D, H, W), weight (C_out, C_in/groups, kD, kH, kW)."""
    return _convnd(3, input, weight, bias, stride, padding, dilation, groups)


def _conv_transposend(
    nd, x, weight, bias, stride, padding, output_padding, groups, dilation
) -> Tensor:
    who = f"conv_transpose{nd}d"
    _check(x, weight, bias, nd, groups, who, transposed=True)
    stride_t = _tuple(stride, nd, "stride")
    dil = _tuple(dilation, nd, "dilation")
    pad = _tuple(padding, nd, "padding")
    opad = _tuple(output_padding, nd, "output_padding")
    for op, s, d in zip(opad, stride_t, dil):
        if op >= max(s, d):
            raise ValueError(
                f"{who}: output_padding {opad} must be smaller than stride or dilation"
            )
    unbatched = x.dim() == nd + 1
    if unbatched:
        x = x.unsqueeze(0)
    k = weight.shape[2:]
    out_sp = tuple(
        (i - 1) * s - 2 * p + d * (kk - 1) + op + 1
        for i, s, p, d, kk, op in zip(x.shape[2:], stride_t, pad, dil, k, opad)
    )
    if any(o <= 0 for o in out_sp):
        raise RuntimeError(f"{who}: computed output size {out_sp} is not positive")
    # the transposed conv of x is the input gradient of the conv whose output x is;
    # output_padding grows the far side, which the conv never reads
    params = (stride_t, tuple((p, p) for p in pad), dil, groups)
    n = x.shape[0]
    x_shape = (n, weight.shape[1] * groups) + out_sp
    y = conv_input_grad(x, weight, params, x_shape)
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * nd)
    return y.squeeze(0) if unbatched else y


def conv_transpose1d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> Tensor:
    """1-D transposed convolution; weight (C_in, C_out/groups, k)."""
    return _conv_transposend(
        1, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose2d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> Tensor:
    """2-D transposed convolution; weight (C_in, C_out/groups, kH, kW)."""
    return _conv_transposend(
        2, input, weight, bias, stride, padding, output_padding, groups, dilation
    )


def conv_transpose3d(
    input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1
) -> Tensor:
    """3-D transposed convolution; weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transposend(
        3, input, weight, bias, stride, padding, output_padding, groups, dilation
    )
