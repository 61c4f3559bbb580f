"""Pooling: max (with indices, ceil mode, dilation), average, adaptive, unpooling."""

from __future__ import annotations

import math

import numpy as np

import ember as E
from ember._tensor import Tensor, _wrap
from ember.nn.functional import _prim
from ember.nn.functional._conv import _tuple

__all__ = [
    "max_pool1d",
    "max_pool2d",
    "max_pool3d",
    "avg_pool1d",
    "avg_pool2d",
    "avg_pool3d",
    "adaptive_avg_pool1d",
    "adaptive_avg_pool2d",
    "adaptive_max_pool1d",
    "adaptive_max_pool2d",
    "max_unpool1d",
    "max_unpool2d",
]


def _setup(nd, x, kernel_size, stride, padding, dilation, ceil_mode, who):
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: input must be a Tensor, got {type(x).__name__}")
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{who}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) input, "
            f"got input of shape {tuple(x.shape)}"
        )
    k = _tuple(kernel_size, nd, "kernel_size")
    s = (
        k
        if stride is None or (not isinstance(stride, int) and len(stride) == 0)
        else _tuple(stride, nd, "stride")
    )
    p = _tuple(padding, nd, "padding")
    d = _tuple(dilation, nd, "dilation")
    if any(v <= 0 for v in k + s + d):
        raise ValueError(f"{who}: kernel_size, stride and dilation must be positive")
    if any(pp > kk // 2 for pp, kk in zip(p, k)):
        raise ValueError(f"{who}: padding {p} should be at most half of the kernel size {k}")
    sp = x.shape[-nd:]
    out, pads = [], []
    for S, kk, ss, pp, dd in zip(sp, k, s, p, d):
        span = S + 2 * pp - dd * (kk - 1) - 1
        o = (-(-span // ss) if ceil_mode else span // ss) + 1
        if ceil_mode and (o - 1) * ss >= S + pp:
            o -= 1  # the last window must start inside the input or left padding
        if o <= 0:
            raise RuntimeError(
                f"{who}: input spatial size {tuple(sp)} is too small for kernel {k} "
                f"(padding {p}, dilation {d}): output size would be {o}"
            )
        extra = max(0, (o - 1) * ss + dd * (kk - 1) + 1 - (S + 2 * pp))
        out.append(o)
        pads.append((pp, pp + extra))
    unbatched = x.dim() == nd + 1
    if unbatched:
        x = x.unsqueeze(0)
    return x, k, s, tuple(pads), d, tuple(out), p, unbatched


def _max_poolnd(nd, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    who = f"max_pool{nd}d"
    x, k, s, pads, d, out, p, unbatched = _setup(
        nd, x, kernel_size, stride, padding, dilation, ceil_mode, who
    )
    y, idx = _prim.max_pool(x, k, s, pads, d, out, (p, bool(ceil_mode)))
    if unbatched:
        y, idx = y.squeeze(0), idx[0]
    if return_indices:
        return y, _wrap(idx)
    return y


def max_pool1d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """1-D max pooling over (N, C, L); ``return_indices`` also gives argmax positions."""
    return _max_poolnd(1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """2-D max pooling over (N, C, H, W); indices are flat positions in each H*W plane."""
    return _max_poolnd(2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool3d(
    input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False
):
    """3-D max pooling over (N, C, D, H, W)."""
    return _max_poolnd(3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def _avg_poolnd(
    nd, x, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
):
    who = f"avg_pool{nd}d"
    x, k, s, pads, _, out, p, unbatched = _setup(
        nd, x, kernel_size, stride, padding, 1, ceil_mode, who
    )
    if divisor_override is not None and divisor_override == 0:
        raise ValueError(f"{who}: divisor_override must be non-zero")
    rest = (k, s, pads, p, bool(count_include_pad), divisor_override, out)
    y = _prim.avg_pool(x, rest)
    return y.squeeze(0) if unbatched else y


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """1-D average pooling over (N, C, L)."""
    return _avg_poolnd(1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """2-D average pooling over (N, C, H, W)."""
    return _avg_poolnd(
        2, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def avg_pool3d(
    input,
    kernel_size,
    stride=None,
    padding=0,
    ceil_mode=False,
    count_include_pad=True,
    divisor_override=None,
):
    """3-D average pooling over (N, C, D, H, W)."""
    return _avg_poolnd(
        3, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override
    )


def _adaptive_setup(nd, x, output_size, who):
    if not isinstance(x, Tensor):
        raise TypeError(f"{who}: input must be a Tensor, got {type(x).__name__}")
    if x.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(
            f"{who}: expected {nd + 1}-D or {nd + 2}-D input, got shape {tuple(x.shape)}"
        )
    sp = tuple(x.shape[-nd:])
    if isinstance(output_size, int):
        output_size = (output_size,) * nd
    osz = tuple(S if o is None else int(o) for o, S in zip(output_size, sp))
    if len(osz) != nd or any(o <= 0 for o in osz):
        raise ValueError(f"{who}: output_size must be {nd} positive ints, got {output_size}")
    return sp, osz


def _cells(S: int, O: int):
    return [(math.floor(i * S / O), math.ceil((i + 1) * S / O)) for i in range(O)]


def _adaptive(nd, x, output_size, reduce, who):
    sp, osz = _adaptive_setup(nd, x, output_size, who)
    if all(S % O == 0 for S, O in zip(sp, osz)):
        return None, sp, osz
    grids = [_cells(S, O) for S, O in zip(sp, osz)]
    dims = list(range(-nd, 0))
    vals = []
    for cell in np.ndindex(*osz):
        sl = tuple(slice(*grids[i][c]) for i, c in enumerate(cell))
        vals.append(reduce(x[(Ellipsis,) + sl], dims))
    y = E.stack(vals, -1)
    return y.reshape(tuple(x.shape[:-nd]) + osz), sp, osz


def adaptive_avg_pool1d(input, output_size) -> Tensor:
    """Average pooling to a fixed output length."""
    return _adaptive_avg(1, input, output_size)


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """Average pooling to a fixed (H_out, W_out); ``None`` keeps that input size."""
    return _adaptive_avg(2, input, output_size)


def _adaptive_avg(nd, x, output_size):
    who = f"adaptive_avg_pool{nd}d"
    y, sp, osz = _adaptive(nd, x, output_size, lambda t, d: t.mean(d), who)
    if y is not None:
        return y
    if all(o == 1 for o in osz):
        return x.mean(list(range(-nd, 0)), keepdim=True)
    k = tuple(S // O for S, O in zip(sp, osz))
    return _avg_poolnd(nd, x, k, k, 0, False, True, None)


def _adaptive_max(nd, x, output_size, return_indices):
    who = f"adaptive_max_pool{nd}d"
    sp, osz = _adaptive_setup(nd, x, output_size, who)
    if all(S % O == 0 for S, O in zip(sp, osz)):
        k = tuple(S // O for S, O in zip(sp, osz))
        return _max_poolnd(nd, x, k, k, 0, 1, False, return_indices)
    y, _, _ = _adaptive(nd, x, output_size, lambda t, d: t.amax(d), who)
    if not return_indices:
        return y
    # indices: argmax inside each cell, as flat positions in the input plane (a loop
    # over output cells on the host; the index tensor then goes to x's device)
    xa = x.detach().cpu().numpy()
    grids = [_cells(S, O) for S, O in zip(sp, osz)]
    idx = np.empty(xa.shape[:-nd] + osz, np.int64)
    for cell in np.ndindex(*osz):
        sl = tuple(slice(*grids[i][c]) for i, c in enumerate(cell))
        block = xa[(Ellipsis,) + sl]
        flat = block.reshape(block.shape[:-nd] + (-1,)).argmax(-1)
        local = np.unravel_index(flat, block.shape[-nd:])
        glob = [loc + grids[i][cell[i]][0] for i, loc in enumerate(local)]
        idx[(Ellipsis,) + cell] = np.ravel_multi_index(tuple(glob), sp)
    return y, _wrap(idx).to(x.device)


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max pooling to a fixed output length."""
    return _adaptive_max(1, input, output_size, return_indices)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max pooling to a fixed (H_out, W_out)."""
    return _adaptive_max(2, input, output_size, return_indices)


def _max_unpoolnd(nd, x, indices, kernel_size, stride, padding, output_size):
    who = f"max_unpool{nd}d"
    if tuple(x.shape) != tuple(indices.shape):
        raise ValueError(
            f"{who}: input shape {tuple(x.shape)} and indices shape {tuple(indices.shape)} "
            "must match"
        )
    k = _tuple(kernel_size, nd, "kernel_size")
    s = k if stride is None else _tuple(stride, nd, "stride")
    p = _tuple(padding, nd, "padding")
    default = tuple((i - 1) * ss - 2 * pp + kk for i, ss, pp, kk in zip(x.shape[-nd:], s, p, k))
    if output_size is None:
        osz = default
    else:
        osz = tuple(output_size)[-nd:]
        for o, dflt, ss in zip(osz, default, s):
            if not dflt - ss < o < dflt + ss:
                raise ValueError(
                    f"{who}: output_size {tuple(output_size)} must be within one stride of "
                    f"the default size {default}"
                )
    lead = tuple(x.shape[:-nd])
    plane = int(np.prod(osz))
    it = indices if isinstance(indices, Tensor) else E.as_tensor(np.asarray(indices))
    it = it.to(device=x.device, dtype=E.int64)
    if it.numel() and (int(it.min()) < 0 or int(it.max()) >= plane):
        raise IndexError(f"{who}: an index is out of range for output size {osz}")
    flat_x = x.reshape(lead + (-1,))
    z = E.zeros(lead + (plane,), dtype=x.dtype, device=x.device)
    y = z.scatter(-1, it.reshape(lead + (-1,)), flat_x)
    return y.reshape(lead + osz)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool1d: values placed at their indices, zeros elsewhere."""
    return _max_unpoolnd(1, input, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of max_pool2d: values placed at their indices, zeros elsewhere."""
    return _max_unpoolnd(2, input, indices, kernel_size, stride, padding, output_size)
