"""Legacy tensor types (``ember.FloatTensor``, ``ember.cuda.FloatTensor``, ...).

Each is callable like PyTorch's (``ember.FloatTensor(2, 3)``, ``ember.LongTensor([1, 2])``),
usable with ``x.type(ember.DoubleTensor)``, and works with ``isinstance``.
"""

from __future__ import annotations

from ember import _dtype


class LegacyTensorType:
    """A (dtype, device) pair that behaves like PyTorch's legacy tensor classes."""

    __slots__ = ("dtype", "device", "__name__")

    def __init__(self, dtype: _dtype.dtype, device: str):
        self.dtype, self.device = dtype, device
        self.__name__ = dtype._legacy

    def __call__(self, *args):
        from ember._ops.creation import _legacy_new

        return _legacy_new(args, self.dtype, None if self.device == "cpu" else self.device)

    def __instancecheck__(self, obj) -> bool:
        from ember._tensor import Tensor

        return (
            isinstance(obj, Tensor) and obj.dtype is self.dtype and obj.device.type == self.device
        )

    def __repr__(self) -> str:
        prefix = "ember." if self.device == "cpu" else "ember.cuda."
        return f"<class '{prefix}{self.__name__}'>"


def make(device: str) -> dict[str, LegacyTensorType]:
    return {d._legacy: LegacyTensorType(d, device) for d in _dtype.ALL if d._legacy}
