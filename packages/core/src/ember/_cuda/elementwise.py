"""ember's strided/broadcast elementwise kernels (``elementwise.cu``) over CuPy arrays.

``binary(op, x, y)`` and ``unary(op, x)`` take operands of one dtype, any strides
(transposed, sliced, broadcast) and return a new C-contiguous result, without copying the
operands first. Used where CuPy has no kernel for an op/dtype pair (erf and erfc, and
bfloat16 throughout), and by the CUDA tests as an independent check of CuPy's results.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from ember._cuda import loader as L

SFX = {
    np.dtype(np.bool_): "b8",
    np.dtype(np.uint8): "u8",
    np.dtype(np.int8): "i8",
    np.dtype(np.int16): "i16",
    np.dtype(np.int32): "i32",
    np.dtype(np.int64): "i64",
    np.dtype(np.float16): "f16",
    np.dtype(ml_dtypes.bfloat16): "bf16",
    np.dtype(np.float32): "f32",
    np.dtype(np.float64): "f64",
}
_FLOAT = ("f16", "bf16", "f32", "f64")
ARITH = ("add", "sub", "mul", "maximum", "minimum")
COMPARE = ("eq", "ne", "lt", "le", "gt", "ge")
FLOAT_UNARY = ("neg", "abs", "relu", "exp", "log", "sqrt", "tanh", "erf", "erfc", "sigmoid")
INT_UNARY = ("neg", "abs")
BINARY_OPS = {op: tuple(SFX.values()) for op in ARITH + COMPARE} | {"div": _FLOAT}
UNARY_OPS = {op: _FLOAT for op in FLOAT_UNARY} | {
    op: _FLOAT + ("i8", "i16", "i32", "i64") for op in INT_UNARY
}

for _op, _types in BINARY_OPS.items():
    L.declare("elementwise", "sppp", *(f"ember_{_op}_{t}" for t in _types))
for _op, _types in UNARY_OPS.items():
    L.declare("elementwise", "spp", *(f"ember_{_op}_{t}" for t in _types))


def _cp():
    import cupy

    return cupy


def indexer(shape: tuple, *arrays) -> np.ndarray:
    """The em_indexer struct for an output of ``shape`` (C-contiguous) and ``arrays``
    broadcast to it: strides in elements, 0 along broadcast dims."""
    nd = len(shape)
    if nd > 8:
        raise ValueError(f"CUDA elementwise kernels take at most 8 dims, got {nd}")
    ix = np.zeros(1, L.INDEXER)
    n = 1
    for s in shape:
        n *= s
    ix["numel"] = n
    if nd == 0:  # a scalar: one element, one dimension of size 1
        ix["ndim"], ix["shape"][0, 0] = 1, 1
        return ix
    ix["ndim"] = nd
    ix["shape"][0, :nd] = shape
    ops = [None, *arrays]
    for k, a in enumerate(ops):
        if a is None:  # the output: contiguous
            st, acc = [0] * nd, 1
            for d in range(nd - 1, -1, -1):
                st[d], acc = acc, acc * shape[d]
        else:
            pad = nd - a.ndim
            st = [0] * pad + [
                0 if a.shape[d] == 1 and shape[pad + d] != 1 else a.strides[d] // a.itemsize
                for d in range(a.ndim)
            ]
        ix["stride"][0, k, :nd] = st
    return ix


def binary(op: str, x, y, out=None):
    """``op(x, y)`` elementwise with broadcasting; x and y share one dtype."""
    cp = _cp()
    if x.dtype != y.dtype:
        raise TypeError(f"{op}: operands must share a dtype, got {x.dtype} and {y.dtype}")
    sfx = SFX.get(np.dtype(x.dtype))
    if op not in BINARY_OPS or sfx not in BINARY_OPS[op]:
        raise NotImplementedError(f"{op} is not implemented for device cuda and dtype {x.dtype}")
    shape = np.broadcast_shapes(x.shape, y.shape)
    dt = np.bool_ if op in COMPARE else x.dtype
    out = cp.empty(shape, dt) if out is None else out
    if out.size:
        L.launch(
            f"ember_{op}_{sfx}", L.blocks(out.size), L.THREADS, (indexer(shape, x, y), out, x, y)
        )
    return out


def unary(op: str, x):
    """``op(x)`` elementwise into a new C-contiguous array of x's dtype."""
    cp = _cp()
    sfx = SFX.get(np.dtype(x.dtype))
    if op not in UNARY_OPS or sfx not in UNARY_OPS[op]:
        raise NotImplementedError(f"{op} is not implemented for device cuda and dtype {x.dtype}")
    out = cp.empty(x.shape, x.dtype)
    if out.size:
        L.launch(f"ember_{op}_{sfx}", L.blocks(out.size), L.THREADS, (indexer(x.shape, x), out, x))
    return out
