"""Axis reductions with ember's kernels (``reduce.cu``) over CuPy arrays: sum, mean, max
and min of float16/bfloat16/float32/float64 (sum also int32/int64), along one axis or all
of them, deterministic (no atomics)."""

from __future__ import annotations

import math

import numpy as np

from ember._cuda import loader as L
from ember._cuda.elementwise import SFX

OPS = ("sum", "max", "min")
_TYPES = {"sum": ("f16", "bf16", "f32", "f64", "i32", "i64"), "max": ("f16", "bf16", "f32", "f64")}
_TYPES["min"] = _TYPES["max"]
for _op, _ts in _TYPES.items():
    for _t in _ts:
        L.declare("reduce", "ppqqd", f"ember_{_op}_rows_{_t}")
        L.declare("reduce", "ppqqqd", f"ember_{_op}_cols_{_t}")
        L.declare("reduce", "ppqq", f"ember_{_op}_split_{_t}")
        L.declare("reduce", "ppqqd", f"ember_{_op}_finish_{_t}")
# A row longer than this (with few rows) is split across blocks: one block per row would
# leave most of the GPU idle.
SPLIT_MIN = 1 << 16
CHUNK = 1 << 14


def _cp():
    import cupy

    return cupy


def reduce(op: str, x, axis: int | None = None, keepdims: bool = False):
    """``op`` ('sum', 'mean', 'max', 'min') of CuPy array ``x`` along ``axis`` (None: all)."""
    cp = _cp()
    kernel_op = "sum" if op == "mean" else op
    sfx = SFX.get(np.dtype(x.dtype))
    if op == "mean" and sfx in ("i32", "i64"):
        raise TypeError(f"mean: expected a floating dtype, got {x.dtype}")
    if kernel_op not in _TYPES or sfx not in _TYPES[kernel_op]:
        raise NotImplementedError(f"{op} is not implemented for device cuda and dtype {x.dtype}")
    if axis is None:
        out = reduce(op, cp.ascontiguousarray(x).reshape(-1), 0)
        return out.reshape((1,) * x.ndim) if keepdims else out.reshape(())
    axis = axis % x.ndim if x.ndim else 0
    x = cp.ascontiguousarray(x)
    shape = x.shape if x.ndim else (1,)
    outer, n, inner = math.prod(shape[:axis]), shape[axis], math.prod(shape[axis + 1 :])
    if n == 0 and op in ("max", "min"):
        raise RuntimeError(f"{op}: cannot reduce over a zero-size dimension")
    scale = (1.0 / n if n else float("nan")) if op == "mean" else 0.0
    out_shape = shape[:axis] + shape[axis + 1 :]
    out = cp.empty(out_shape, x.dtype)
    if out.size:
        if inner > 1:
            L.launch(
                f"ember_{kernel_op}_cols_{sfx}",
                L.blocks(outer * inner),
                L.THREADS,
                (x, out, outer, n, inner, scale),
            )
        elif n >= SPLIT_MIN and outer < 4 * L._sm_count():
            chunks = math.ceil(n / CHUNK)
            acc = np.float32 if sfx in ("f16", "bf16") else x.dtype
            partial = cp.empty((outer, chunks), acc)
            L.launch(
                f"ember_{kernel_op}_split_{sfx}", (chunks, outer), L.THREADS, (x, partial, n, CHUNK)
            )
            L.launch(
                f"ember_{kernel_op}_finish_{sfx}",
                min(outer, 65535),
                L.THREADS,
                (partial, out, outer, chunks, scale),
            )
        else:
            L.launch(
                f"ember_{kernel_op}_rows_{sfx}",
                min(max(outer, 1), 65535),
                L.THREADS,
                (x, out, outer, n, scale),
            )
    if keepdims:
        out = out.reshape(shape[:axis] + (1,) + shape[axis + 1 :])
    return out
