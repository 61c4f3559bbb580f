"""Lazy versions of the fusible ops, and swapping them in and out.

Each lazy op validates its arguments exactly where the eager op would (shapes,
dtypes, dims), so an error is raised at the user's line, then returns a
:class:`LazyTensor` over a new node. Anything it does not handle (an unsupported
dtype such as float16 or complex, ``out=``, ``alpha=``, integer ``pow``, tensors
on different devices) goes to the eager op, which forces lazy inputs through ``_a``
and raises or computes exactly as it always does. CUDA tensors (CuPy storage) make
CUDA nodes: a graph lives on one device (``Node.dev``) and runs there (``_gpu``).
"""

from __future__ import annotations

import os
import weakref

import numpy as np

from ember import _dtype
from ember._tensor import Tensor
from ember.jit._ir import (
    BINARY,
    BOOL,
    SUPPORTED,
    UNARY_FLOAT,
    UNARY_SAME,
    Node,
    const_node,
    input_node,
)
from ember.jit._lazy import LazyTensor, new_lazy, record

_I64 = np.dtype(np.int64)


class _Meta:
    """What ``_dtype.result_type`` reads of a tensor (``._a.dtype``, ``._a.ndim``)."""

    __slots__ = ("dtype", "ndim", "_a")

    def __init__(self, node: Node):
        self.dtype, self.ndim, self._a = node.dtype, len(node.shape), self


def _leaf(t) -> Node | None:
    """The node standing for tensor ``t``, or None when lazy mode cannot handle it."""
    if type(t) is LazyTensor and t._node is not None:
        return t._node
    a = t._a
    if type(a) is not np.ndarray and not _device_array(a):
        return None
    if a.dtype not in SUPPORTED:
        return None
    n = input_node(a)
    n.ref = weakref.ref(t)  # compile() tells captured tensors from temporaries by it
    return n


def _device_array(a) -> bool:
    """True for CUDA storage lazy mode may fuse (``EMBER_JIT_CUDA=0`` keeps CUDA eager)."""
    # the class, not the array: CuPy builds the interface dict on every access
    return hasattr(type(a), "__cuda_array_interface__") and os.environ.get("EMBER_JIT_CUDA") != "0"


def _same_device(*nodes) -> bool:
    """Whether the tensor nodes (None entries skipped) are on one device."""
    dev = ...
    for n in nodes:
        if n is None:
            continue
        if dev is ...:
            dev = n.dev
        elif n.dev != dev:
            return False
    return True


def _scalar(s):
    """A Python number from ``s``, or None (complex or anything else: eager handles it)."""
    if type(s) in (int, float, bool):
        return s
    if isinstance(s, np.generic) and s.dtype.kind in "biuf":
        return s.item()
    return None


def _fits(s, dt: np.dtype) -> bool:
    if dt.kind in "iu" and type(s) is int:
        info = np.iinfo(dt)
        return info.min <= s <= info.max
    return True


def _default_float() -> np.dtype:
    return _dtype.get_default_dtype().np


def _grad(*xs) -> bool:
    for x in xs:
        if isinstance(x, Tensor) and x._ag is not None:
            return True
    return False


def _broadcast(name: str, shapes: list[tuple], msg=None) -> tuple:
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        if msg is not None:
            raise RuntimeError(msg) from None
        xs, ys = shapes
        raise RuntimeError(
            f"{name}: the size of tensor a {xs} must match the size of tensor b {ys} "
            "(or be 1) at each non-singleton dimension, counting from the last "
            f"(broadcasting rule); got shapes {xs} and {ys}"
        ) from None


def binary(name: str, x, y, reflected: bool = False):
    """``x op y`` (``y op x`` when ``reflected``) as a lazy tensor, or None."""
    fn, i2f, bool_out, kinds = BINARY[name]
    nx = _leaf(x)
    if nx is None:
        return None
    if isinstance(y, Tensor):
        ny = _leaf(y)
        if ny is None or ny.dev != nx.dev:
            return None  # eager raises for tensors on different devices
        cdt = _dtype.result_type(_Meta(nx), _Meta(ny)).np
        shape = _broadcast(name, [nx.shape, ny.shape])
    else:
        s = _scalar(y)
        if s is None:
            return None
        cdt = _dtype.result_type(_Meta(nx), s).np
        if not _fits(s, cdt):
            return None
        ny, shape = None, nx.shape
    if i2f and cdt.kind in "biu":
        cdt = _default_float()
    if cdt not in SUPPORTED or cdt.kind not in kinds:
        return None
    if ny is None:
        ny = const_node(s, cdt)
    args = (ny, nx) if reflected else (nx, ny)
    out = new_lazy(Node(name, args, shape, BOOL if bool_out else cdt, cdt))
    if _grad(x, y):
        record(name, out, (y, x) if reflected else (x, y), None)
    return out


def unary(name: str, x):
    n = _leaf(x)
    if n is None:
        return None
    dt = n.dtype
    if name in UNARY_FLOAT:
        cdt = _default_float() if dt.kind in "biu" else dt
        out_dt = cdt
    elif name in UNARY_SAME:
        if name == "bitwise_not":
            ok = dt.kind in "biu"
        elif name in ("floor", "ceil", "round", "trunc", "frac"):
            ok = dt.kind == "f"  # numpy's integer results for these are its own business
        else:
            ok = dt.kind in "iuf"  # bool: eager's copy or error
        if not ok:
            return None
        cdt = out_dt = dt
    else:
        cdt, out_dt = dt, BOOL
    out = new_lazy(Node(name, (n,), n.shape, out_dt, cdt))
    if x._ag is not None:
        record(name, out, (x,), None)
    return out


def _operands(values):
    """``(operands, metas)`` for ``values`` (Tensors or Python scalars): a Node per
    tensor, the scalar itself otherwise, and what dtype promotion sees of each; None
    when one of them cannot join the graph."""
    ops, metas = [], []
    for v in values:
        if isinstance(v, Tensor):
            nv = _leaf(v)
            if nv is None:
                return None
            ops.append(nv)
            metas.append(_Meta(nv))
        else:
            s = _scalar(v)
            if s is None:
                return None
            ops.append(s)
            metas.append(s)
    return ops, metas


def where(condition, input, other):
    nc = _leaf(condition) if isinstance(condition, Tensor) else None
    if nc is None or nc.dtype.kind not in "bu" or nc.dtype.itemsize != 1:
        return None
    got = _operands((input, other))
    if got is None:
        return None
    ops, metas = got
    rt = _dtype.result_type(*metas).np
    if rt not in SUPPORTED or not _same_device(nc, *(o for o in ops if isinstance(o, Node))):
        return None
    shapes = [nc.shape] + [o.shape if isinstance(o, Node) else () for o in ops]
    shape = _broadcast(
        "where",
        shapes,
        f"where: shapes {shapes} of condition, input and other do not broadcast together",
    )
    args = [nc] + [o if isinstance(o, Node) else const_node(o, rt) for o in ops]
    out = new_lazy(Node("where", tuple(args), shape, rt))
    if _grad(condition, input, other):
        record("where", out, (condition, input, other), None)
    return out


def clamp(input, lo, hi):
    if lo is None and hi is None:
        return None
    n = _leaf(input)
    if n is None:
        return None
    got = _operands(v for v in (lo, hi) if v is not None)
    if got is None:
        return None
    ops, metas = got
    metas = [_Meta(n), *metas]
    rt = _dtype.result_type(*metas).np
    if rt not in SUPPORTED or rt.kind == "b":
        return None
    if not _same_device(n, *(o for o in ops if isinstance(o, Node))):
        return None
    try:
        shape = tuple(np.broadcast_shapes(n.shape, *(o.shape for o in ops if isinstance(o, Node))))
    except ValueError:
        return None  # eager raises its own error
    args = (n, *(o if isinstance(o, Node) else const_node(o, rt) for o in ops))
    out = new_lazy(Node("clamp", args, shape, rt, params=(lo is not None, hi is not None)))
    if _grad(input, lo, hi):
        record("clamp", out, (input, lo, hi), None)
    return out


def cast(input, target):
    """``input.to(target)`` for an ember dtype ``target``, or None."""
    dt = target.np
    n = _leaf(input)
    if n is None or dt not in SUPPORTED:
        return None
    if dt == n.dtype:
        return input
    out = new_lazy(Node("to_dtype", (n,), n.shape, dt))
    if input._ag is not None:
        record("to_dtype", out, (input,), target)
    return out


def reduction(name: str, input, dim, keepdim):
    from ember._ops.reduce import _dims

    n = _leaf(input)
    if n is None:
        return None
    nd = len(n.shape)
    if name in ("amax", "amin"):
        if int(np.prod(n.shape)) == 0:
            return None  # eager raises or gives an empty result
        dim = dim if dim != () else None
    elif name == "mean" and n.dtype.kind != "f":
        return None  # eager raises its error
    dims = _dims(dim, nd)
    red = range(nd) if dims is None else dims
    if keepdim:
        shape = tuple(1 if d in red else s for d, s in enumerate(n.shape))
    else:
        shape = tuple(s for d, s in enumerate(n.shape) if d not in red)
    out_dt = _I64 if name == "sum" and n.dtype.kind in "biu" else n.dtype
    out = new_lazy(Node(name, (n,), shape, out_dt, params=(dims, bool(keepdim))))
    if input._ag is not None:
        record(name, out, (input,), (dims, bool(keepdim)))
    return out


def sum_to(g, shape):
    """Autograd's ``sum_to`` (sum a broadcast gradient down to ``shape``) as one lazy
    reduction whose result has ``shape`` directly, or None for eager's version (which
    reads ``g._a.shape`` and reshapes, both of which would force ``g``)."""
    if shape is None or type(g) is not LazyTensor or g._node is None or g._ag is not None:
        return None
    n = g._node
    gs, shape = n.shape, tuple(shape)
    lead = len(gs) - len(shape)
    if gs == shape or lead < 0:
        return g if gs == shape else None
    dims = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gs[i + lead] != 1
    )
    out_dt = _I64 if n.dtype.kind in "biu" else n.dtype
    return new_lazy(Node("sum", (n,), shape, out_dt, params=(dims, True)))


def unreduce(gy, shape, dims, keepdim):
    """Autograd's ``_unreduce`` (broadcast a reduction's gradient back to the input
    shape) as one lazy broadcast, or None for eager's version. Only the layouts that
    broadcast right-aligned qualify: a 0-d gradient, ``keepdim=True``, or reduced dims
    that all lead."""
    if type(gy) is not LazyTensor or gy._node is None or gy._ag is not None:
        return None
    n, shape = gy._node, tuple(shape)
    if n.shape == shape:
        return gy
    if dims is not None and not keepdim and sorted(dims) != list(range(len(dims))):
        return None
    if dims is None and n.shape != ():
        return None
    try:
        if tuple(np.broadcast_shapes(n.shape, shape)) != shape:
            return None
    except ValueError:
        return None
    return new_lazy(Node("expand", (n,), shape, n.dtype))


def softmax(input, dim, dtype, log: bool):
    """``softmax``/``log_softmax`` along ``dim`` as one lazy graph (max, then the sum of
    exponentials, then the result: three fused passes) recorded under eager's op name,
    or None for eager's version (a dtype argument, half precision, 0-d or empty)."""
    from ember._tensor import _wrap_dim

    n = _leaf(input)
    if dtype is not None or n is None or n.dtype.kind != "f" or not n.shape:
        return None
    if int(np.prod(n.shape)) == 0:
        return None
    d = _wrap_dim(dim, len(n.shape))
    dt, shape = n.dtype, n.shape
    keep = tuple(1 if i == d else s for i, s in enumerate(shape))
    m = Node("amax", (n,), keep, dt, params=((d,), True))
    # a row whose max is not finite (all -inf, or inf) subtracts 0, as eager does
    m = Node("where", (Node("isfinite", (m,), keep, BOOL, dt), m, const_node(0, dt)), keep, dt)
    s = Node("sub", (n, m), shape, dt)
    e = Node("exp", (s,), shape, dt)
    total = Node("sum", (e,), keep, dt, params=((d,), True))
    if log:
        out = Node("sub", (s, Node("log", (total,), keep, dt)), shape, dt)
    else:
        out = Node("div", (e, total), shape, dt)
    t = new_lazy(out)
    if input._ag is not None:
        record("log_softmax" if log else "softmax", t, (input,), d)
    return t
