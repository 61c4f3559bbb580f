"""The one place serialization touches ember's Tensor: numpy out, numpy in."""

from __future__ import annotations

import numpy as np

from ember import _tensor

__all__ = [
    "is_tensor",
    "host_array",
    "device_of",
    "make_tensor",
    "restore_requires_grad",
    "place",
]


def is_tensor(x) -> bool:
    """True for ember Tensors (and subclasses such as ``nn.Parameter``)."""
    return isinstance(x, _tensor.Tensor)


def device_of(t) -> str:
    """The tensor's device as a string (``'cpu'``, ``'cuda:0'``)."""
    return str(t.device)


def host_array(t) -> np.ndarray:
    """The tensor's data as a host numpy array: its own storage view on the CPU
    (so views keep their memory relationships), a copy from a GPU."""
    a = t._a
    if type(a) is not np.ndarray:
        a = t.to("cpu")._a
    return a


def make_tensor(array: np.ndarray, requires_grad: bool = False):
    """Wrap ``array`` without copying. ``requires_grad`` is restored when
    ember-autograd is installed; without it no tensor can have gradients, so the
    flag is dropped rather than making every load of a training checkpoint fail."""
    return restore_requires_grad(_tensor._wrap(array), requires_grad)


def restore_requires_grad(t, requires_grad: bool):
    """Mark leaf ``t`` as requiring grad when asked and ember-autograd is installed."""
    if requires_grad and not t.requires_grad and _tensor._engine is not None:
        t.requires_grad_(True)
    return t


def place(t, location: str, map_location):
    """Apply ``ember.load``'s ``map_location`` to tensor ``t`` saved at ``location``.

    ``None`` restores the saved device; a string or ``ember.device`` moves every
    tensor there; a dict maps saved location strings to new ones (unlisted ones
    stay where they were saved); a callable gets ``(tensor, location)`` and
    returns the tensor to use.
    """
    if callable(map_location) and not isinstance(map_location, (str, dict)):
        out = map_location(t, location)
        if not is_tensor(out):
            raise TypeError(
                f"map_location callable must return an ember Tensor, got {type(out).__name__}"
            )
        return out
    if map_location is None:
        target = location
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    else:
        target = map_location
    target = str(target)
    if target == "cpu" and device_of(t) == "cpu":
        return t
    try:
        return t.to(target)
    except RuntimeError as exc:
        if map_location is not None:
            raise
        raise RuntimeError(
            f"{exc}. This tensor was saved on {location!r}; pass map_location='cpu' to "
            "ember.load to load it on the CPU"
        ) from exc
