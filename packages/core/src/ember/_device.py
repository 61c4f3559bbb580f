"""Devices: ``ember.device('cpu')``, ``ember.device('cuda:0')``."""

from __future__ import annotations

__all__ = ["device"]


class device:
    """Where a tensor's storage lives: ``'cpu'`` or ``'cuda[:index]'``.

    Equal devices compare equal and hash alike; ``str(device)`` round-trips.
    """

    __slots__ = ("type", "index")

    def __new__(cls, type_or_str, index: int | None = None):
        if isinstance(type_or_str, device):
            return type_or_str
        if isinstance(type_or_str, int):  # ember.device(0) means cuda:0, as in PyTorch
            type_or_str, index = "cuda", type_or_str
        if not isinstance(type_or_str, str):
            raise TypeError(
                f"device() expects a string like 'cpu' or 'cuda:0', got {type_or_str!r}"
            )
        kind, _, idx = type_or_str.partition(":")
        if idx:
            if index is not None:
                raise ValueError(f"device index given twice: {type_or_str!r} and index={index}")
            if not idx.isdigit():
                raise ValueError(f"invalid device string {type_or_str!r}: expected 'cuda:<int>'")
            index = int(idx)
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(
                f"Expected one of cpu, cuda device type at start of device string: {type_or_str}"
            )
        if index is not None and index < 0:
            raise ValueError(f"device index must be non-negative, got {index}")
        key = (kind, index)
        cached = _CACHE.get(key)
        if cached is not None:
            return cached
        self = object.__new__(cls)
        object.__setattr__(self, "type", kind)
        object.__setattr__(self, "index", index)
        _CACHE[key] = self
        return self

    def __setattr__(self, name, value):
        raise AttributeError("ember.device is immutable")

    def __repr__(self) -> str:
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (str(self),))


_CACHE: dict = {}
CPU = device("cpu")
