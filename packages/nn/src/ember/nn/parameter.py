"""``Parameter``: a Tensor that a :class:`~ember.nn.Module` registers as learnable."""

from __future__ import annotations

from ember._tensor import Tensor, _wrap

__all__ = ["Parameter", "Buffer"]

_new = object.__new__


class Parameter(Tensor):
    """A tensor that is a module parameter.

    Assigning a ``Parameter`` to a module attribute registers it in the module's
    parameters. It shares storage with ``data`` (no copy), is a graph leaf, and
    requires grad unless ``requires_grad=False``. ``isinstance(p, ember.Tensor)``
    holds, and every op accepts it (ops return plain tensors).
    """

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            import numpy as np

            from ember import _dtype

            data = _wrap(np.empty((0,), _dtype.get_default_dtype().np))
        elif not isinstance(data, Tensor):
            raise TypeError(f"Parameter data must be a Tensor, got {type(data).__name__}")
        p = _new(cls)
        p._a = data._a
        p._ag = None
        # share the version counter so in-place changes through ``data`` are seen
        v = data._ver
        if v is None:
            v = data._ver = [0]
        p._ver = v
        p._base = None
        if requires_grad:
            p.requires_grad_(True)
        return p

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()

    __str__ = __repr__

    def __reduce_ex__(self, protocol):
        fn, args = super().__reduce_ex__(protocol)
        return (_rebuild_parameter, (fn, args, self.requires_grad))


def _rebuild_parameter(fn, args, requires_grad):
    return Parameter(fn(*args).detach(), requires_grad)


class Buffer(Tensor):
    """Marks a tensor to register as a buffer when assigned to a module attribute
    (``self.running = nn.Buffer(ember.zeros(3))``), like ``register_buffer``.
    ``persistent=False`` keeps it out of ``state_dict``."""

    def __new__(cls, data: Tensor, *, persistent: bool = True):
        if not isinstance(data, Tensor):
            raise TypeError(f"Buffer data must be a Tensor, got {type(data).__name__}")
        b = _new(cls)
        b._a, b._ag, b._ver, b._base = data._a, None, data._ver, None
        b.persistent = persistent
        return b
