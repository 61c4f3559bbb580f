"""Derivatives of the commonest ops on raw arrays, for backward passes that record nothing.

A backward without ``create_graph`` needs gradient values only, so the engine carries
backend arrays between nodes and, for the ops below, computes each gradient with one or
two array operations instead of going through ember's op dispatch (a Tensor per
intermediate, promotion checks, a record test). Every function mirrors its formula (in
``formulas.py`` or ``formulas_index.py``) operation for operation, so both give the same
values; the formulas stay the definition and the only path when the backward itself is
recorded. ``test_autograd_array_path.py`` compares the two paths op by op.

Each function takes ``(node, gy)`` and returns one gradient (an array or None) per edge
of the node, or None to say "not handled here" (a dtype or operand mix whose promotion
rules differ between numpy and ember): the engine then calls the formula itself.
Gradients are computed only for edges that lead somewhere, which is where this saves
most (``x * 2.0`` needs one product, not two).
"""

from __future__ import annotations

import numpy as np

from ember._tensor import Tensor
from ember.autograd import formulas

_SCALARS = (int, float)


def _input(node, i: int):
    """Saved input ``i``'s array (version-checked, as ``ctx.inputs`` does), or the number."""
    x = node.saved_inputs[i]
    if isinstance(x, Tensor):
        v = x._ver
        if (0 if v is None else v[0]) != node.versions[i]:
            formulas.unpack_input(node, i)  # raises the version error
        return x._a
    return x


def _output(node):
    arr, ver, version, _ = node.saved_output[0]
    if ver[0] != version:
        formulas.unpack_output(node, 0, False)  # raises the version error
    return arr


def _operand(x, dt):
    """``x`` when numpy computes ``gy op x`` in dtype ``dt`` as ember does, else None."""
    if type(x) in _SCALARS:
        return x
    if getattr(x, "dtype", None) is dt:
        return x
    return None


def sum_to(g, shape):
    """``formulas.sum_to`` on arrays: sum broadcast gradient ``g`` down to ``shape``."""
    gs = g.shape
    if gs == shape:
        return g
    shape = tuple(shape)
    if gs == shape:
        return g
    lead = len(gs) - len(shape)
    dims = tuple(range(lead)) + tuple(
        i + lead for i, s in enumerate(shape) if s == 1 and gs[i + lead] != 1
    )
    if not dims:
        return g.reshape(shape)
    if g.dtype.itemsize == 2:  # halves sum in float32, as ember's sum does
        return g.sum(axis=dims, keepdims=True, dtype=np.float32).astype(g.dtype).reshape(shape)
    return g.sum(axis=dims, keepdims=True).reshape(shape)


def _shape(node, i: int):
    m = node.meta[i]
    return None if m is None else m[0]


def _add(node, gy):
    e0, e1 = node.edges
    return (
        None if e0 is None else sum_to(gy, _shape(node, 0)),
        None if e1 is None else sum_to(gy, _shape(node, 1)),
    )


def _sub(node, gy):
    e0, e1 = node.edges
    return (
        None if e0 is None else sum_to(gy, _shape(node, 0)),
        None if e1 is None else sum_to(-gy, _shape(node, 1)),
    )


def _mul(node, gy):
    dt = gy.dtype
    if dt.kind != "f":
        return None
    # _input inlined: this is the commonest op of all
    a, b = node.saved_inputs
    va, vb = node.versions
    e0, e1 = node.edges
    if isinstance(a, Tensor):
        v = a._ver
        if (0 if v is None else v[0]) != va:
            formulas.unpack_input(node, 0)
        a = a._a
        if a.dtype is not dt and e1 is not None:
            return None
    elif type(a) not in _SCALARS:
        return None
    if isinstance(b, Tensor):
        v = b._ver
        if (0 if v is None else v[0]) != vb:
            formulas.unpack_input(node, 1)
        b = b._a
        if b.dtype is not dt and e0 is not None:
            return None
    elif type(b) not in _SCALARS:
        return None
    return (
        None if e0 is None else sum_to(gy * b, a.shape),
        None if e1 is None else sum_to(gy * a, b.shape),
    )


def _div(node, gy):
    dt = gy.dtype
    if dt.kind != "f":
        return None
    a, b = _input(node, 0), _input(node, 1)
    if _operand(a, dt) is None or _operand(b, dt) is None:
        return None
    e0, e1 = node.edges
    ga = None if e0 is None else sum_to(gy / b, a.shape)
    gb = None if e1 is None else sum_to(-(gy * a) / (b * b), b.shape)
    return ga, gb


def _pow(node, gy):
    dt = gy.dtype
    a, b = _input(node, 0), _input(node, 1)
    if dt.kind != "f" or type(b) not in _SCALARS or _operand(a, dt) is None or b == 0:
        return None
    return (sum_to(gy * b * a ** (b - 1), a.shape), None)


def _mm(node, gy):
    # Only the products an edge needs (``x @ w`` with a constant x needs one, not two).
    a, b = _input(node, 0), _input(node, 1)
    if a.ndim != 2 or b.ndim != 2 or a.dtype is not gy.dtype or b.dtype is not gy.dtype:
        return None
    e0, e1 = node.edges
    return (None if e0 is None else gy @ b.T, None if e1 is None else a.T @ gy)


def _view(node, gy):
    return (gy.reshape(_shape(node, 0)),)


def _transpose(node, gy):
    d0, d1 = node.params
    return (np.swapaxes(gy, d0, d1),)


def _permute(node, gy):
    inv = [0] * len(node.params)
    for i, p in enumerate(node.params):
        inv[p] = i
    return (np.transpose(gy, inv),)


def _unary_float(rule):
    """A one-input derivative that needs numpy and ember to agree on float scalars."""

    def fast(node, gy):
        if gy.dtype.kind != "f":
            return None
        return (rule(node, gy),)

    return fast


def _neg(node, gy):
    return (-gy,)


def _exp(node, gy):
    if gy.dtype.kind != "f":
        return None
    return (gy * _output(node),)


def _tanh(node, gy):
    if gy.dtype.kind != "f":
        return None
    y = _output(node)
    return (gy * (1 - y * y),)


def _sigmoid(node, gy):
    if gy.dtype.kind != "f":
        return None
    y = _output(node)
    return (gy * y * (1 - y),)


def _relu(node, gy):
    return gy * (_output(node) > 0).astype(gy.dtype)


def _clamp(node, gy):
    x, lo, hi = _input(node, 0), _input(node, 1), _input(node, 2)
    if gy.dtype.kind != "f" or node.edges[1] is not None or node.edges[2] is not None:
        return None
    if lo is not None and hi is not None:
        keep = (x >= lo) & (x <= hi)
    elif lo is not None:
        keep = x >= lo
    elif hi is not None:
        keep = x <= hi
    else:
        return None
    return (np.where(keep, gy, 0.0), None, None)


def _unreduce(gy, shape, dims, keepdim: bool):
    """``formulas._unreduce`` on arrays."""
    shape = tuple(shape)
    if dims is None:
        if not shape:
            return gy
        gy = gy.reshape((1,) * len(shape))
    elif not keepdim:
        for d in sorted(dims):
            gy = np.expand_dims(gy, d)
    return gy if gy.shape == shape else np.broadcast_to(gy, shape)


def _sum(node, gy):
    dims, keepdim = node.params
    return (_unreduce(gy, _shape(node, 0), dims, keepdim),)


def _mean(node, gy):
    dims, keepdim = node.params
    shape = _shape(node, 0)
    n = 1
    for d in range(len(shape)) if dims is None else dims:
        n *= shape[d]
    return _unreduce(gy, shape, dims, keepdim) / max(n, 1)


BY_OP = {
    "add": _add,
    "sub": _sub,
    "mul": _mul,
    "div": _div,
    "pow": _pow,
    "mm": _mm,
    "view": _view,
    "reshape": _view,
    "transpose": _transpose,
    "permute": _permute,
    "expand": lambda node, gy: (sum_to(gy, _shape(node, 0)),),
    "clone": lambda node, gy: (gy,),
    "matmul": _mm,
    "neg": _neg,
    "exp": _exp,
    "log": _unary_float(lambda node, gy: gy / _input(node, 0)),
    "sqrt": _unary_float(lambda node, gy: gy / (2 * _output(node))),
    "tanh": _tanh,
    "sigmoid": _sigmoid,
    "relu": _unary_float(_relu),
    "clamp": _clamp,
    "sum": _sum,
    "mean": _unary_float(_mean),
}


def by_formula() -> dict:
    """The functions above keyed by the formula they stand in for (a node names its
    formula; keying on it means an op whose formula was replaced is never shortcut, and
    a formula shared by ops that would need different functions here is left alone)."""
    out: dict = {}
    clash = set()
    for op, fn in BY_OP.items():
        spec = formulas.SPECS.get(op)
        if spec is None:
            continue
        if out.get(spec.fn, fn) is not fn:
            clash.add(spec.fn)
        out[spec.fn] = fn
    for f in clash:
        del out[f]
    return out
