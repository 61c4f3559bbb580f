"""The allowlist for PyTorch checkpoints' pickles, and ember's rebuilding functions.

A PyTorch checkpoint pickles tensors as calls to ``torch._utils`` rebuild
functions over storages named by persistent ids. :class:`TorchUnpickler` maps
exactly these globals to ember's own functions, which only validate their
arguments and build numpy views; nothing from ``torch`` (or any other module)
is imported or called:

=====================================  =========================================
``torch._utils._rebuild_tensor_v2``    a tensor view of a storage
``torch._utils._rebuild_tensor``       the same, from older files
``torch._utils._rebuild_parameter``    a tensor (``requires_grad`` restored)
``collections.OrderedDict``            an empty or pair-built ``OrderedDict``
``torch.Size``                         an ``ember.Size``
``torch.<Type>Storage``                a storage dtype marker (not callable)
=====================================  =========================================

``BUILD`` is allowed only on an ``OrderedDict`` this loader made, with a dict of
non-dunder string attribute names (how ``state_dict()._metadata`` is pickled),
written straight into the instance ``__dict__`` so no descriptor or
``__setattr__`` runs. Everything else (``_rebuild_parameter_with_state``,
tensor subclasses, ``torch.device``, arbitrary classes) is refused by name.
"""

from __future__ import annotations

import collections

import numpy as np

from . import _bridge
from ._dtypes import TORCH_STORAGES
from ._errors import UnpicklingError
from ._pickle_vm import RestrictedUnpickler
from ._views import strided_view

__all__ = ["TorchUnpickler", "StorageType", "Storage"]


class StorageType:
    """What ``torch.FloatStorage`` and friends unpickle to: a dtype name, no behaviour."""

    __slots__ = ("torch_name", "dtype")

    def __init__(self, torch_name: str, dtype: str) -> None:
        self.torch_name = torch_name
        self.dtype = dtype

    def __repr__(self) -> str:
        return f"<storage type torch.{self.torch_name}>"


class Storage:
    """A loaded storage: raw bytes (1-D uint8, little-endian-corrected) and a dtype."""

    __slots__ = ("buffer", "dtype", "location")

    def __init__(self, buffer: np.ndarray, dtype: str, location: str) -> None:
        self.buffer = buffer
        self.dtype = dtype
        self.location = location


_STORAGE_TYPES = {("torch", n): StorageType(n, d) for n, d in TORCH_STORAGES.items()}


class TorchUnpickler(RestrictedUnpickler):
    """Unpickle a PyTorch ``data.pkl`` (zip format) or object pickle (legacy format).

    ``load_storage(pid_fields)`` returns a :class:`Storage` for a checked persistent
    id; ``check_storage(pid_fields)`` validates one during the checking pass.
    ``pid_fields`` is ``(storage_type, key, location, numel, view_metadata)``.
    """

    def __init__(self, data, start, *, what, load_storage, check_storage, map_location):
        super().__init__(data, start, what=what)
        self._load_storage = load_storage
        self._check_storage = check_storage
        self._map_location = map_location
        # OrderedDicts this load made (BUILD may touch only those); _made keeps them
        # alive so their ids stay unique until the load ends.
        self._made_dicts: set[int] = set()
        self._made: list = []
        functions = {
            ("torch._utils", "_rebuild_tensor_v2"): self._rebuild_tensor_v2,
            ("torch._utils", "_rebuild_tensor"): self._rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): self._rebuild_parameter,
            ("collections", "OrderedDict"): self._ordered_dict,
            ("torch", "Size"): self._size,
        }
        self._allowed = {**functions, **_STORAGE_TYPES}
        self.callables = frozenset(id(f) for f in functions.values())

    def find_class(self, module: str, name: str):
        """The ember replacement for global ``module.name``, or UnpicklingError."""
        found = self._allowed.get((module, name))
        if found is None:
            raise UnpicklingError(
                f"{self.what}: refused global '{module}.{name}': ember loads only tensors and "
                "plain containers (allowed: "
                + ", ".join(sorted(f"{m}.{n}" for m, n in self._allowed if m != "torch"))
                + ", torch.Size, torch.<Type>Storage); nothing in this file was executed, "
                "and weights_only=False does not lift this restriction"
            )
        return found

    # ----- persistent ids -----
    def _pid_fields(self, pid) -> tuple:
        if type(pid) is not tuple or not pid or pid[0] not in ("storage", b"storage"):
            raise UnpicklingError(
                f"{self.what}: persistent id {pid!r} refused: only ('storage', ...) ids are allowed"
            )
        fields = pid[1:]
        if len(fields) == 4:
            fields = (*fields, None)  # the zip format has no view metadata
        if len(fields) != 5:
            raise UnpicklingError(f"{self.what}: storage id has {len(pid)} fields, expected 5 or 6")
        stype, key, location, numel, view = fields
        if type(stype) is not StorageType:
            raise UnpicklingError(f"{self.what}: storage id names {stype!r}, not a storage type")
        if type(key) is not str or type(location) is not str:
            raise UnpicklingError(f"{self.what}: storage key and location must be strings")
        if type(numel) is not int or numel < 0:
            raise UnpicklingError(f"{self.what}: storage size {numel!r} is not a count")
        if view is not None and not (
            type(view) is tuple
            and len(view) == 3
            and type(view[0]) is str
            and all(type(v) is int and v >= 0 for v in view[1:])
        ):
            raise UnpicklingError(f"{self.what}: malformed storage view metadata {view!r}")
        return fields

    def check_persistent_id(self, pid) -> None:
        self._check_storage(self._pid_fields(pid))

    def persistent_load(self, pid) -> Storage:
        return self._load_storage(self._pid_fields(pid))

    # ----- BUILD -----
    def build(self, inst, state) -> None:
        if state is None:
            return
        if id(inst) not in self._made_dicts or type(state) is not dict:
            raise UnpicklingError(
                f"{self.what}: BUILD refused on {type(inst).__name__} with "
                f"{type(state).__name__} state (only OrderedDict attributes such as _metadata)"
            )
        for k in state:
            if type(k) is not str or not k.isidentifier() or k.startswith("__"):
                raise UnpicklingError(f"{self.what}: BUILD refused attribute name {k!r}")
        vars(inst).update(state)

    # ----- the allowlisted functions -----
    def _ordered_dict(self, *args):
        if len(args) > 1 or (args and type(args[0]) not in (list, tuple, dict)):
            raise UnpicklingError(f"{self.what}: OrderedDict called with unsupported arguments")
        out = collections.OrderedDict()
        items = args[0].items() if args and type(args[0]) is dict else (args[0] if args else ())
        for pair in items:
            if type(pair) not in (tuple, list) or len(pair) != 2:
                raise UnpicklingError(f"{self.what}: OrderedDict item {pair!r} is not a pair")
            out[self._key(pair[0])] = pair[1]
        self._made_dicts.add(id(out))
        self._made.append(out)
        return out

    def _size(self, *args):
        from ember._tensor import Size

        if len(args) != 1 or type(args[0]) not in (tuple, list):
            raise UnpicklingError(f"{self.what}: torch.Size expects one sequence of ints")
        if any(type(v) is not int or v < 0 for v in args[0]):
            raise UnpicklingError(f"{self.what}: torch.Size expects non-negative ints")
        return Size(args[0])

    def _rebuild_tensor(self, storage, storage_offset, size, stride):
        return self._tensor(storage, storage_offset, size, stride, False, None)

    def _rebuild_tensor_v2(
        self, storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata=None
    ):
        if type(requires_grad) is not bool:
            raise UnpicklingError(f"{self.what}: requires_grad must be a bool")
        if backward_hooks is not None and type(backward_hooks) not in (
            dict,
            collections.OrderedDict,
        ):
            raise UnpicklingError(f"{self.what}: backward_hooks must be a dict")
        return self._tensor(storage, storage_offset, size, stride, requires_grad, metadata)

    def _rebuild_parameter(self, data, requires_grad, backward_hooks):
        if not _bridge.is_tensor(data) or type(requires_grad) is not bool:
            raise UnpicklingError(f"{self.what}: _rebuild_parameter expects (tensor, bool, hooks)")
        return _bridge.restore_requires_grad(data, requires_grad)

    def _tensor(self, storage, offset, size, stride, requires_grad, metadata):
        if type(storage) is not Storage:
            raise UnpicklingError(f"{self.what}: tensor rebuilt from {storage!r}, not a storage")
        what = f"{self.what}: tensor of shape {size!r}"
        a = strided_view(storage.buffer, storage.dtype, size, stride, offset, what)
        if metadata:
            if type(metadata) is not dict or not set(metadata) <= {"conj", "neg"}:
                raise UnpicklingError(f"{self.what}: unsupported tensor metadata {metadata!r}")
            # PyTorch's lazy conjugate/negative bits: materialize them (a copy).
            if metadata.get("conj") is True:
                a = np.conj(a)
            if metadata.get("neg") is True:
                a = np.negative(a)
        t = _bridge.make_tensor(a, requires_grad)
        return _bridge.place(t, storage.location, self._map_location)
