"""Parametrizations: a module's tensor computed from other tensors on every access.

:func:`register_parametrization` moves ``module.<name>`` to
``module.parametrizations.<name>.original`` (``original0``, ``original1``, ... when
the parametrization's ``right_inverse`` returns several tensors) and makes
``module.<name>`` a property that runs the chain of parametrizations on it. The
names are PyTorch's, so state dicts of parametrized models load across.

How: the module's class is swapped for a subclass made for that one module
(``Parametrized<Class>``), which holds the properties; removing the last
parametrization restores the original class.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator, Sequence

import ember as E
from ember._tensor import Tensor
from ember.nn.modules.container import ModuleDict, ModuleList
from ember.nn.modules.module import Module
from ember.nn.parameter import Parameter

__all__ = [
    "ParametrizationList",
    "cached",
    "is_parametrized",
    "register_parametrization",
    "remove_parametrizations",
    "type_before_parametrizations",
]

_cache_depth = 0
_cache: dict[tuple[int, str], Tensor] = {}


@contextlib.contextmanager
def cached() -> Iterator[None]:
    """Inside this context each parametrized tensor is computed once, on first access,
    and reused (e.g. a weight used at every step of an RNN); the cache is dropped on
    leaving the outermost ``cached()``."""
    global _cache_depth
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if not _cache_depth:
            _cache.clear()


def _register_tensor(module: Module, name: str, x: Tensor) -> None:
    if isinstance(x, Parameter):
        module.register_parameter(name, x)
    else:
        module.register_buffer(name, x)


def _copy_into(dest: Tensor, src: Tensor) -> None:
    """Write ``src`` into ``dest`` keeping the object (optimizers hold it)."""
    if tuple(dest.shape) != tuple(src.shape):
        raise ValueError(
            f"right_inverse returned a tensor of shape {tuple(src.shape)}, but the stored "
            f"original has shape {tuple(dest.shape)}"
        )
    dest.copy_(src)


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, with the unconstrained
    tensor(s) they start from as ``original`` (or ``original0``, ``original1``, ...).

    Made by :func:`register_parametrization`; calling it computes the tensor."""

    def __init__(self, modules: Sequence[Module], original: Tensor, unsafe: bool = False) -> None:
        if not modules:
            raise ValueError("ParametrizationList requires one or more modules")
        super().__init__(modules)
        self.unsafe = unsafe
        shape, dtype = tuple(original.shape), original.dtype
        with E.no_grad():
            new = original
            for m in reversed(self):
                if hasattr(m, "right_inverse"):
                    try:
                        new = m.right_inverse(new)
                    except NotImplementedError:
                        pass
        if not isinstance(new, (Tensor, Sequence)):
            raise ValueError(
                "'right_inverse' must return a Tensor or a sequence of tensors, got "
                f"{type(new).__name__}"
            )
        self.is_tensor = isinstance(new, Tensor)
        self.ntensors = 1 if self.is_tensor else len(new)
        if self.is_tensor:
            if new.dtype != dtype:
                raise ValueError(
                    f"right_inverse may not change the dtype of one tensor: original {dtype}, "
                    f"right_inverse(original) {new.dtype}"
                )
            with E.no_grad():
                if new is not original:
                    _copy_into(original, new)
            _register_tensor(self, "original", original)
        else:
            for i, xi in enumerate(new):
                if not isinstance(xi, Tensor):
                    raise ValueError(
                        f"'right_inverse' must return tensors, element {i} is {type(xi).__name__}"
                    )
                xi = xi.detach().clone()
                if isinstance(original, Parameter):
                    xi = Parameter(xi, original.requires_grad)
                _register_tensor(self, f"original{i}", xi)
        if not unsafe:
            z = self()
            if not isinstance(z, Tensor):
                raise ValueError(f"a parametrization must return a tensor, got {type(z).__name__}")
            if z.dtype != dtype or tuple(z.shape) != shape:
                raise ValueError(
                    "a parametrization may not change the shape or dtype of the tensor unless "
                    f"unsafe=True: unparametrized {shape} {dtype}, parametrized "
                    f"{tuple(z.shape)} {z.dtype}"
                )

    def _originals(self) -> tuple:
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def right_inverse(self, value: Tensor) -> None:
        """Set the originals so that the parametrized tensor becomes ``value``: the
        ``right_inverse`` of each parametrization, last registered first."""
        with E.no_grad():
            for m in reversed(self):
                if not hasattr(m, "right_inverse"):
                    raise RuntimeError(
                        f"parametrization {type(m).__name__} does not implement right_inverse"
                    )
                value = m.right_inverse(value)
            if self.is_tensor:
                if not isinstance(value, Tensor):
                    raise ValueError(
                        f"right_inverse should return a tensor, got {type(value).__name__}"
                    )
                if value.dtype != self.original.dtype:
                    raise ValueError(
                        f"right_inverse returned dtype {value.dtype}, original has "
                        f"{self.original.dtype}"
                    )
                _copy_into(self.original, value)
                return
            if not isinstance(value, Sequence) or len(value) != self.ntensors:
                raise ValueError(
                    f"right_inverse must return a sequence of {self.ntensors} tensors, got "
                    f"{type(value).__name__}"
                )
            for orig, v in zip(self._originals(), value):
                if v.dtype != orig.dtype:
                    raise ValueError(
                        f"right_inverse returned dtype {v.dtype}, original has {orig.dtype}"
                    )
                _copy_into(orig, v)

    def _legacy_keys(self, state_dict: dict, prefix: str) -> dict[str, str]:
        """{own key: older checkpoint's key} when this list's originals are missing from
        ``state_dict`` and its first parametrization names the older layout (weight
        norm's ``<name>_g``/``<name>_v``, as PyTorch's compatibility hook)."""
        suffixes = getattr(self[0], "_legacy_suffixes", None)
        name = getattr(self, "_tensor_name", None)
        tail = f"parametrizations.{name}."
        if not suffixes or name is None or not prefix.endswith(tail):
            return {}
        if (prefix + "original0") in state_dict or (prefix + "original") in state_dict:
            return {}
        parent = prefix[: -len(tail)]
        own = ["original"] if self.is_tensor else [f"original{i}" for i in range(self.ntensors)]
        pairs = {prefix + o: parent + name + sfx for o, sfx in zip(own, suffixes)}
        return pairs if all(v in state_dict for v in pairs.values()) else {}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        aliases = self._legacy_keys(state_dict, prefix)
        if aliases:
            local = {k: v for k, v in state_dict.items() if k.startswith(prefix)}
            local.update({k: state_dict[v] for k, v in aliases.items()})
            state_dict = local
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self) -> Tensor:
        """The parametrized tensor: ``self[-1](...self[1](self[0](*originals)))``."""
        x = self[0](*self._originals())
        for i in range(1, len(self)):
            x = self[i](x)
        return x


def _parametrized_setattr(self, name: str, value) -> None:
    # every assignment to a parametrized name goes to its right_inverse, Parameters too
    if name in type(self).__dict__.get("_parametrized_names", ()):
        object.__setattr__(self, name, value)
        return
    Module.__setattr__(self, name, value)


def _parametrized_deepcopy(self, memo):
    # the copy gets a class of its own: removing a parametrization from one module
    # deletes a property from its class, which must not reach the other
    cls = type(self)
    ns = {k: v for k, v in cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
    ns["_parametrized_names"] = set(cls._parametrized_names)
    new = type(cls.__name__, cls.__bases__, ns)
    obj = new.__new__(new)
    memo[id(self)] = obj
    obj.__setstate__(copy.deepcopy(self.__dict__, memo))
    return obj


def _parametrized_getstate(self):
    raise RuntimeError(
        f"{type(self).__name__}: serialization of parametrized modules is only supported "
        "through state_dict() (the class is made at run time and cannot be pickled)"
    )


def _parametrized_load(
    self, state_dict, prefix, local_metadata, strict, missing, unexpected, *rest
):
    super(type(self), self)._load_from_state_dict(
        state_dict, prefix, local_metadata, strict, missing, unexpected, *rest
    )
    # keys of an older layout that a parametrization list loads in place of its
    # originals (see ParametrizationList._legacy_keys) are not unexpected
    consumed = set()
    for name in type(self)._parametrized_names:
        plist_prefix = f"{prefix}parametrizations.{name}."
        consumed.update(self.parametrizations[name]._legacy_keys(state_dict, plist_prefix).values())
    if consumed:
        unexpected[:] = [k for k in unexpected if k not in consumed]


def _inject_class(module: Module) -> None:
    cls = module.__class__
    new = type(
        f"Parametrized{cls.__name__}",
        (cls,),
        {
            "__setattr__": _parametrized_setattr,
            "__deepcopy__": _parametrized_deepcopy,
            "__getstate__": _parametrized_getstate,
            "_load_from_state_dict": _parametrized_load,
            "_parametrized_names": set(),
        },
    )
    new.__doc__ = f"{cls.__name__} with parametrized tensors."
    module.__class__ = new


def _inject_property(module: Module, name: str) -> None:
    def get(self) -> Tensor:
        plist = self.parametrizations[name]
        if not _cache_depth:
            return plist()
        key = (id(self), name)
        if key not in _cache:
            _cache[key] = plist()
        return _cache[key]

    def set_(self, value: Tensor) -> None:
        self.parametrizations[name].right_inverse(value)

    cls = type(module)
    setattr(cls, name, property(get, set_, doc=f"``{name}`` after its parametrizations."))
    cls._parametrized_names.add(name)


def register_parametrization(
    module: Module, tensor_name: str, parametrization: Module, *, unsafe: bool = False
) -> Module:
    """Make ``module.<tensor_name>`` be ``parametrization(original)``, computed on each
    access, where ``original`` (a parameter or buffer, moved to
    ``module.parametrizations.<tensor_name>.original``) is what optimizers update.

    If ``parametrization`` has ``right_inverse(X)``, it maps the current tensor to
    the initial ``original`` (or a sequence of tensors, stored as ``original0``,
    ``original1``, ... and passed to ``forward`` in that order), and assigning
    ``module.<tensor_name> = X`` goes through it. A second registration on the same
    name is chained after the first. ``unsafe=True`` skips the shape and dtype checks.
    Returns ``module``."""
    if not isinstance(parametrization, Module):
        raise TypeError(
            f"parametrization must be an ember.nn.Module, got {type(parametrization).__name__}"
        )
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            y = getattr(module, tensor_name)
            z = parametrization(y)
            if not isinstance(z, Tensor) or z.dtype != y.dtype or z.shape != y.shape:
                raise ValueError(
                    "a parametrization may not change the shape or dtype of the tensor unless "
                    f"unsafe=True: got {getattr(z, 'shape', type(z).__name__)} from "
                    f"{tuple(y.shape)} {y.dtype}"
                )
        plist.append(parametrization)
        plist.unsafe = plist.unsafe or unsafe
        return module
    params, bufs = module._parameters, module._buffers
    if tensor_name in params:
        original = params[tensor_name]
    elif tensor_name in bufs:
        original = bufs[tensor_name]
    else:
        raise ValueError(
            f"{type(module).__name__} has no parameter or buffer named {tensor_name!r}"
        )
    if original is None:
        raise ValueError(f"cannot parametrize {tensor_name!r}: it is None")
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    plist._tensor_name = tensor_name
    params.pop(tensor_name, None)
    bufs.pop(tensor_name, None)
    module._non_persistent_buffers_set.discard(tensor_name)
    if not is_parametrized(module):
        _inject_class(module)
        module.parametrizations = ModuleDict()
    _inject_property(module, tensor_name)
    module.parametrizations[tensor_name] = plist
    return module


def is_parametrized(module: Module, tensor_name: str | None = None) -> bool:
    """Whether ``module`` has a parametrization (on ``tensor_name``, when given)."""
    plists = module._modules.get("parametrizations")
    if plists is None or not isinstance(plists, ModuleDict):
        return False
    return len(plists) > 0 if tensor_name is None else tensor_name in plists


def type_before_parametrizations(module: Module) -> type:
    """The module's class before any parametrization was registered."""
    cls = type(module)
    return cls.__bases__[0] if is_parametrized(module) else cls


def remove_parametrizations(
    module: Module, tensor_name: str, leave_parametrized: bool = True
) -> Module:
    """Undo :func:`register_parametrization` on ``tensor_name``: it becomes a plain
    parameter (or buffer) again, holding the parametrized value when
    ``leave_parametrized`` (default), else the original (only possible when there is
    one original tensor). Returns ``module``."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"module {type(module).__name__} has no parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with E.no_grad():
                t = getattr(module, tensor_name)
            with E.no_grad():
                if t.shape == original.shape and t.dtype == original.dtype:
                    original.copy_(t)
                else:
                    kind = Parameter if isinstance(original, Parameter) else None
                    t = t.detach().clone()
                    original = kind(t, original.requires_grad) if kind else t
    else:
        if not leave_parametrized:
            raise ValueError(
                "cannot leave unparametrized (leave_parametrized=False) a tensor that is "
                "parametrized in terms of a sequence of tensors"
            )
        with E.no_grad():
            t = getattr(module, tensor_name).detach().clone()
        first = plist.original0
        original = Parameter(t, first.requires_grad) if isinstance(first, Parameter) else t
    cls = type(module)
    delattr(cls, tensor_name)
    cls._parametrized_names.discard(tensor_name)
    del module.parametrizations[tensor_name]
    _register_tensor(module, tensor_name, original)
    if not is_parametrized(module):
        del module.parametrizations
        module.__class__ = cls.__bases__[0]
    return module
