"""Matrix products. GEMM goes to numpy's BLAS (OpenBLAS), never a hand loop."""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._ops._dispatch import asarray as _asarray
from ember._ops._dispatch import raise_device_mismatch, result
from ember._registry import register
from ember._tensor import Tensor

__all__ = [
    "mm",
    "matmul",
    "bmm",
    "mv",
    "dot",
    "vdot",
    "outer",
    "ger",
    "addmm",
    "addmv",
    "addbmm",
    "baddbmm",
    "inner",
]


def _same_dtype(name, x: Tensor, y: Tensor):
    xa, ya = x._a, y._a
    if xa.dtype is not ya.dtype and xa.dtype != ya.dtype:
        raise RuntimeError(
            f"{name}: expected both operands to have the same dtype, but got: {x.dtype} != "
            f"{y.dtype}"
        )
    if type(xa) is not type(ya):
        raise_device_mismatch(x, y)
    if xa.dtype.kind == "b":
        raise RuntimeError(f"{name}: not implemented for 'Bool'")
    return xa, ya


def _shape_str(a):
    return "x".join(str(s) for s in a.shape)


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """Matrix product of an ``(n, m)`` and an ``(m, p)`` matrix."""
    xa, ya = _same_dtype("mm", input, mat2)
    if xa.ndim != 2 or ya.ndim != 2:
        raise RuntimeError(
            f"mm: expected 2-D matrices, got {xa.ndim}-D and {ya.ndim}-D tensors "
            f"(shapes {tuple(xa.shape)} and {tuple(ya.shape)})"
        )
    if xa.shape[1] != ya.shape[0]:
        raise RuntimeError(
            f"mat1 and mat2 shapes cannot be multiplied ({_shape_str(xa)} and {_shape_str(ya)})"
        )
    return result(xa @ ya, (input, mat2), "mm")


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """numpy's ``matmul`` semantics: 1-D vectors, matrices, and broadcast batches."""
    xa, ya = _same_dtype("matmul", input, other)
    if xa.ndim == 0 or ya.ndim == 0:
        raise RuntimeError(
            "matmul: both arguments to matmul need to be at least 1D, but they "
            f"are {xa.ndim}D and {ya.ndim}D"
        )
    k1 = xa.shape[-1]
    k2 = ya.shape[-2] if ya.ndim > 1 else ya.shape[0]
    if k1 != k2:
        raise RuntimeError(
            f"matmul: shapes {tuple(xa.shape)} and {tuple(ya.shape)} cannot be multiplied "
            f"({k1} != {k2} in the contracted dimension)"
        )
    try:
        r = np.matmul(xa, ya)
    except ValueError:
        raise RuntimeError(
            f"matmul: batch dimensions of {tuple(xa.shape)} and {tuple(ya.shape)} do not broadcast"
        ) from None
    return result(r, (input, other), "matmul")


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)`` tensors."""
    xa, ya = _same_dtype("bmm", input, mat2)
    if xa.ndim != 3 or ya.ndim != 3:
        raise RuntimeError(
            f"bmm: batch1 must be a 3D tensor and batch2 too, got shapes "
            f"{tuple(xa.shape)} and {tuple(ya.shape)}"
        )
    if xa.shape[0] != ya.shape[0] or xa.shape[2] != ya.shape[1]:
        raise RuntimeError(
            f"bmm: expected size for batch2 [{xa.shape[0]}, {xa.shape[2]}, *] but got "
            f"{list(ya.shape)} (batch1 is {list(xa.shape)})"
        )
    return result(np.matmul(xa, ya), (input, mat2), "matmul")


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product."""
    xa, ya = _same_dtype("mv", input, vec)
    if xa.ndim != 2 or ya.ndim != 1 or xa.shape[1] != ya.shape[0]:
        raise RuntimeError(
            f"mv: size mismatch, got input ({tuple(xa.shape)}), vec ({tuple(ya.shape)})"
        )
    return result(xa @ ya, (input, vec), "matmul")


def dot(input: Tensor, other: Tensor) -> Tensor:
    """Inner product of two 1-D tensors of equal length."""
    xa, ya = _same_dtype("dot", input, other)
    if xa.ndim != 1 or ya.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {xa.ndim}D and {ya.ndim}D tensors")
    if xa.shape != ya.shape:
        raise RuntimeError(
            f"inconsistent tensor size, expected tensor [{xa.shape[0]}] and src [{ya.shape[0]}] to have the same number "
            f"of elements, but got {xa.shape[0]} and {ya.shape[0]} elements respectively"
        )
    return result(_asarray(xa @ ya), (input, other), "matmul")


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """``dot(conj(input), other)``."""
    xa, ya = _same_dtype("vdot", input, other)
    return result(_asarray(np.vdot(xa, ya)), (input, other), "vdot")


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum-product over the last dims."""
    from ember._ops.shape import unsqueeze

    if input.dim() == 1 and other.dim() == 1:
        return dot(input, other)
    return (
        matmul(input, unsqueeze(other, -1)).squeeze(-1)
        if other.dim() == 1
        else matmul(input, other.transpose(-1, -2))
    )


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two vectors."""
    from ember._ops.math import mul
    from ember._ops.shape import unsqueeze

    if input.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"outer: expected 1-D vectors, got {input.dim()}-D and {vec2.dim()}-D")
    return mul(unsqueeze(input, 1), unsqueeze(vec2, 0))


ger = outer


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``."""
    from ember._ops.math import add, mul

    p = mm(mat1, mat2)
    if alpha != 1:
        p = mul(p, alpha)
    return add(mul(input, beta) if beta != 1 else input, p) if beta != 0 else p


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``."""
    from ember._ops.math import add, mul

    p = mv(mat, vec)
    return add(mul(input, beta), mul(p, alpha)) if beta != 0 else mul(p, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``."""
    from ember._ops.math import add, mul

    p = bmm(batch1, batch2)
    return add(mul(input, beta), mul(p, alpha)) if beta != 0 else mul(p, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    from ember._ops.math import add, mul
    from ember._ops.reduce import sum as _sum

    p = _sum(bmm(batch1, batch2), 0)
    return add(mul(input, beta), mul(p, alpha)) if beta != 0 else mul(p, alpha)


_ = _dtype
for _name in __all__:
    register(_name, globals()[_name], "linalg", methods=(_name,))
