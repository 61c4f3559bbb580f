"""Attach ops to ``Tensor`` as methods and operators (run once at ``import ember``)."""

from __future__ import annotations

from ember import _legacy
from ember._ops import convert, index, math, shape
from ember._registry import OPS
from ember._tensor import Tensor


def _invert(self):
    return math.logical_not(self) if self._a.dtype.kind == "b" else math.bitwise_not(self)


def _matmul_r(self, other):
    from ember._ops.linalg import matmul

    return matmul(other, self)


def bind_tensor_methods() -> None:
    from ember._ops import linalg

    for info in OPS.values():
        for name in info.methods:
            setattr(Tensor, name, info.fn)
        if info.inplace:
            mod_fn = None
            for mod in (math, index, shape, convert):
                mod_fn = getattr(mod, info.inplace, None) or mod_fn
            if mod_fn is not None:
                setattr(Tensor, info.inplace, mod_fn)
    for name, fn in convert._METHODS.items():
        setattr(Tensor, name, fn)
    # Python operators, bound to the table ops directly (no alpha/out plumbing).
    ops = {
        "add": math._add_plain,
        "sub": math._sub_plain,
        "mul": math.mul,
        "truediv": math.div,
        "floordiv": math.floor_divide,
        "mod": math.remainder,
        "pow": math.pow,
        "and": math.bitwise_and,
        "or": math.bitwise_or,
        "xor": math.bitwise_xor,
        "lshift": math.bitwise_left_shift,
        "rshift": math.bitwise_right_shift,
    }
    for name, fn in ops.items():
        setattr(Tensor, f"__{name}__", fn)
        setattr(Tensor, f"__r{name}__", math._REFLECTED[fn.__name__])
        inplace = getattr(math, fn.__name__ + "_", None)
        if inplace is not None:
            setattr(Tensor, f"__i{name}__", inplace)
    Tensor.__radd__, Tensor.__rmul__ = math._add_plain, math.mul
    Tensor.__rand__, Tensor.__ror__, Tensor.__rxor__ = (
        math.bitwise_and,
        math.bitwise_or,
        math.bitwise_xor,
    )
    for name, fn in (
        ("eq", math.eq),
        ("ne", math.ne),
        ("lt", math.lt),
        ("le", math.le),
        ("gt", math.gt),
        ("ge", math.ge),
    ):
        setattr(Tensor, f"__{name}__", fn)
    Tensor.__neg__ = math.neg
    Tensor.__pos__ = lambda self: self
    Tensor.__abs__ = math.abs
    Tensor.__invert__ = _invert
    Tensor.__matmul__ = linalg.matmul
    Tensor.__rmatmul__ = _matmul_r
    Tensor.__getitem__ = index.getitem
    Tensor.__setitem__ = index.setitem
    Tensor.add, Tensor.sub = math.add, math.sub
    Tensor.subtract, Tensor.multiply, Tensor.divide = math.sub, math.mul, math.div
    Tensor.absolute, Tensor.negative, Tensor.clip, Tensor.clip_ = (
        math.abs,
        math.neg,
        math.clamp,
        math.clamp_,
    )
    Tensor.abs_, Tensor.neg_ = math.abs_, math.neg_
    Tensor.index_put_ = index.index_put_
    Tensor.T = property(
        lambda self: shape.permute(self, tuple(range(self.dim() - 1, -1, -1))),
        doc="All dims reversed (a view).",
    )
    Tensor.mT = property(
        lambda self: shape.transpose(self, -2, -1), doc="The last two dims swapped (a view)."
    )
    Tensor.H = property(lambda self: shape.t(self).conj() if self.is_complex() else shape.t(self))
    Tensor.real = property(_real)
    Tensor.conj = lambda self: _conj(self)
    try:
        from ember._ops import random_ops

        random_ops._install(Tensor)
    except (ImportError, AttributeError):  # random ops land separately
        pass


def _real(self):
    from ember._tensor import _view_of

    return _view_of(self, self._a.real)


def _conj(self):
    from ember._tensor import _wrap

    return _wrap(self._a.conj()) if self._a.dtype.kind == "c" else self


def legacy_types() -> dict:
    return _legacy.make("cpu")
