"""``Module``: the base class of every layer and model.

Attribute assignment routes values into three registries, as in PyTorch:
``Parameter`` -> ``_parameters``, ``Module`` -> ``_modules``, tensors named by
``register_buffer`` -> ``_buffers``. ``state_dict`` walks them with dotted
prefixes, so names match PyTorch's and its checkpoints load by name.

Qualified names: a module does not know where it sits in a model, so layers
that reject their input ask :meth:`Module._qualname`, which searches the
outermost module currently being called (tracked per call, one global) for
this one. The search runs only when an error is raised.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, namedtuple
from collections.abc import Callable, Iterator
from typing import Any

import ember
from ember._tensor import Tensor
from ember.autograd import no_grad
from ember.nn._hooks import (
    RemovableHandle,
    _global_backward_hooks,
    _global_forward_hooks,
    _global_forward_pre_hooks,
    call_with_backward_hooks,
)
from ember.nn.parameter import Buffer, Parameter

__all__ = ["Module"]

# The outermost module whose __call__ is running (None between calls).
_call_root: list = [None]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: the keys it did not match."""

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (
            f"_IncompatibleKeys(missing_keys={self.missing_keys}, "
            f"unexpected_keys={self.unexpected_keys})"
        )

    __str__ = __repr__


def _addindent(s: str, n: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    return lines[0] + "\n" + "\n".join(" " * n + line for line in lines[1:])


class Module:
    """Base class for all neural-network modules.

    Subclasses call ``super().__init__()`` first, assign parameters and
    submodules as attributes, and implement ``forward``. Calling the module runs
    its hooks around ``forward``.
    """

    training: bool
    _version = 1

    def __init__(self, *args, **kwargs) -> None:
        if args or kwargs:
            raise TypeError(
                f"{type(self).__name__}.__init__() got unexpected arguments "
                f"{args or ''}{kwargs or ''} (Module.__init__ takes none)"
            )
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_hook_kwargs"] = set()  # ids of hooks registered with_kwargs=True

    def forward(self, *args, **kwargs):
        """Compute the module's output; every subclass defines it."""
        raise NotImplementedError(
            f'Module [{type(self).__name__}] is missing the required "forward" function'
        )

    # ----- calling -----
    def __call__(self, *args, **kwargs):
        root = _call_root[0]
        if root is None:
            _call_root[0] = self
        try:
            if not (
                self._forward_hooks
                or self._forward_pre_hooks
                or self._backward_hooks
                or self._backward_pre_hooks
                or _global_forward_hooks
                or _global_forward_pre_hooks
                or _global_backward_hooks
            ):
                return self.forward(*args, **kwargs)
            return self._call_with_hooks(args, kwargs)
        finally:
            if root is None:
                _call_root[0] = None

    def _call_with_hooks(self, args, kwargs):
        wk = self._hook_kwargs
        for hid, hook in itertools.chain(
            _global_forward_pre_hooks.items(), self._forward_pre_hooks.items()
        ):
            if hid in wk:
                r = hook(self, args, kwargs)
                if r is not None:
                    args, kwargs = r
            else:
                r = hook(self, args)
                if r is not None:
                    args = r if isinstance(r, tuple) else (r,)
        if self._backward_hooks or self._backward_pre_hooks or _global_backward_hooks:
            out = call_with_backward_hooks(self, args, kwargs)
        else:
            out = self.forward(*args, **kwargs)
        for hid, hook in itertools.chain(
            _global_forward_hooks.items(), self._forward_hooks.items()
        ):
            r = hook(self, args, kwargs, out) if hid in wk else hook(self, args, out)
            if r is not None:
                out = r
        return out

    def _qualname(self) -> str:
        """This module's dotted name inside the model being called ('' at the root)."""
        root = _call_root[0]
        if root is None or root is self:
            return ""
        for name, m in root.named_modules():
            if m is self:
                return name
        return ""

    def _describe(self) -> str:
        """``Conv2d 'features.0'`` (or just ``Conv2d`` at the root), for error messages."""
        q = self._qualname()
        return f"{type(self).__name__} '{q}'" if q else type(self).__name__

    # ----- hooks -----
    def _add_hook(self, registry: OrderedDict, hook, prepend: bool, with_kwargs: bool):
        handle = RemovableHandle(registry, self._hook_kwargs)
        registry[handle.id] = hook
        if prepend:
            registry.move_to_end(handle.id, last=False)
        if with_kwargs:
            self._hook_kwargs.add(handle.id)
        return handle

    def register_forward_pre_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Run ``hook(module, args)`` before ``forward``; a non-None result replaces
        ``args`` (``hook(module, args, kwargs)`` returning ``(args, kwargs)`` when
        ``with_kwargs=True``). Returns a handle whose ``remove()`` unregisters it."""
        return self._add_hook(self._forward_pre_hooks, hook, prepend, with_kwargs)

    def register_forward_hook(
        self, hook: Callable, *, prepend: bool = False, with_kwargs: bool = False
    ) -> RemovableHandle:
        """Run ``hook(module, args, output)`` after ``forward``; a non-None result
        replaces the output."""
        return self._add_hook(self._forward_hooks, hook, prepend, with_kwargs)

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False):
        """Run ``hook(module, grad_input, grad_output)`` when the gradients with respect
        to the module's tensor inputs are computed; a non-None result (a tuple)
        replaces ``grad_input``."""
        return self._add_hook(self._backward_hooks, hook, prepend, False)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False):
        """Run ``hook(module, grad_output)`` when the gradients of the module's outputs
        are known, before the module's backward; a non-None result replaces them."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend, False)

    # ----- registration -----
    def __getattr__(self, name: str):
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            r = d.get(reg)
            if r is not None and name in r:
                return r[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self._forget(name)
            self.register_parameter(name, value)
            return
        if isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self._forget(name)
            d["_modules"][name] = value
            return
        if isinstance(value, Buffer):
            if params is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            self._forget(name)
            self.register_buffer(name, value, persistent=value.persistent)
            return
        if params is not None:
            if name in params:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as parameter '{name}' "
                        "(ember.nn.Parameter or None expected)"
                    )
                params[name] = None
                return
            if name in d["_modules"]:
                if value is not None:
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as child module '{name}' "
                        "(ember.nn.Module or None expected)"
                    )
                d["_modules"][name] = None
                return
            bufs = d["_buffers"]
            if name in bufs:
                if value is not None and not isinstance(value, Tensor):
                    raise TypeError(
                        f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                        "(ember.Tensor or None expected)"
                    )
                bufs[name] = value
                return
        object.__setattr__(self, name, value)

    def _forget(self, name: str) -> None:
        d = self.__dict__
        d.pop(name, None)
        for reg in ("_parameters", "_buffers", "_modules"):
            d[reg].pop(name, None)
        d["_non_persistent_buffers_set"].discard(name)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        for reg in ("_parameters", "_buffers", "_modules"):
            if name in d[reg]:
                del d[reg][name]
                d["_non_persistent_buffers_set"].discard(name)
                return
        object.__delattr__(self, name)

    def _check_name(self, kind: str, name) -> None:
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if not name or "." in name:
            raise KeyError(f'{kind} name can\'t be empty or contain ".", got: {name!r}')
        if name in self.__dict__ and not any(
            name in self.__dict__[r] for r in ("_parameters", "_buffers", "_modules")
        ):
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or a ``None`` placeholder, e.g. ``bias=False``)."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_name("parameter", name)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(
                f"cannot assign '{type(param).__name__}' object to parameter '{name}' "
                "(ember.nn.Parameter or None required)"
            )
        if name in self._buffers or name in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: state that is not a parameter (e.g. BatchNorm's running
        mean). Persistent buffers are part of ``state_dict``."""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_name("buffer", name)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(
                f"cannot assign '{type(tensor).__name__}' object to buffer '{name}' "
                "(ember.Tensor or None required)"
            )
        if name in self._parameters or name in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if isinstance(tensor, Buffer):
            tensor = tensor.detach()  # store a plain tensor over the same memory
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module, reachable as attribute ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._check_name("module", name)
        if name in self._parameters or name in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at dotted path ``target`` ('' is self)."""
        mod = self
        if not target:
            return mod
        for item in target.split("."):
            if item not in mod._modules or mod._modules[item] is None:
                raise AttributeError(f"{mod._get_name()} has no submodule `{item}` ({target!r})")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path ``target``."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{mod._get_name()} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path ``target``."""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{mod._get_name()} has no buffer `{name}`")
        return mod._buffers[name]

    # ----- iteration -----
    def named_modules(
        self, memo: set | None = None, prefix: str = "", remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for self and every descendant, depth first."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, m in self._modules.items():
            if m is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from m.named_modules(memo, sub, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """Self and every descendant module."""
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for the direct children."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        """The direct child modules."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, get, prefix: str, recurse: bool, remove_duplicate: bool = True):
        seen = set()
        mods = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
        if not recurse:
            mods = [(prefix, self)]
        for mprefix, m in mods:
            for k, v in get(m):
                if v is None or (remove_duplicate and id(v) in seen):
                    continue
                if remove_duplicate:
                    seen.add(id(v))
                yield mprefix + ("." if mprefix else "") + k, v

    def named_parameters(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs; shared parameters appear once."""
        return self._named_members(
            lambda m: m._parameters.items(), prefix, recurse, remove_duplicate
        )

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The module's parameters (what an optimizer takes)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(
        self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True
    ) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs."""
        return self._named_members(lambda m: m._buffers.items(), prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The module's buffers."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ----- modes and gradients -----
    def train(self, mode: bool = True) -> Module:
        """Set training mode (affects Dropout, BatchNorm, ...) here and below; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for m in self.children():
            m.train(mode)
        return self

    def eval(self) -> Module:
        """Evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the parameters' gradients: to ``None`` (default) or to zeros."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g = g.detach()
                    p.grad = g
                g.zero_()

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    # ----- conversion -----
    def _apply(self, fn: Callable[[Tensor], Tensor]) -> Module:
        for m in self.children():
            m._apply(fn)
        with no_grad():
            for p in self._parameters.values():
                if p is None:
                    continue
                new = fn(p)
                if new is not p:
                    # keep the Parameter object (optimizers hold it), swap its storage
                    p.data = new
                g = p.grad
                if g is not None:
                    ng = fn(g)
                    if ng is not g:
                        p.grad = None
                        p.grad = ng.detach()
            for k, b in self._buffers.items():
                if b is not None:
                    self._buffers[k] = fn(b)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move and/or cast parameters and buffers: ``m.to('cuda')``,
        ``m.to(ember.float64)``, ``m.to(device, dtype)``, ``m.to(tensor)``. Only
        floating-point tensors change dtype (integer buffers keep theirs). In place;
        returns self."""
        from ember import _dtype as D

        device = kwargs.pop("device", None)
        dtype = kwargs.pop("dtype", None)
        kwargs.pop("non_blocking", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                device, dtype = a.device, a.dtype
            elif isinstance(a, D.dtype):
                dtype = a
            elif isinstance(a, str) and a.removeprefix("ember.") in D._NAMES:
                dtype = D.to_dtype(a)
            else:
                device = a
        if dtype is not None:
            dtype = D.to_dtype(dtype)
            if not (dtype.is_floating_point or dtype.is_complex):
                raise TypeError(
                    f"nn.Module.to only accepts floating point or complex dtypes, got {dtype}"
                )

        def convert(t: Tensor) -> Tensor:
            if device is not None:
                t = t.to(device)
            if dtype is not None and (t.is_floating_point() or t.is_complex()):
                t = t.to(dtype)
            return t

        return self._apply(convert)

    def cuda(self, device=None) -> Module:
        """Move everything to a CUDA device; returns self."""
        return self._apply(lambda t: t.cuda(device))

    def cpu(self) -> Module:
        """Move everything to the CPU; returns self."""
        return self._apply(lambda t: t.cpu())

    def type(self, dst_type) -> Module:
        """Cast every parameter and buffer to ``dst_type``; returns self."""
        return self._apply(lambda t: t.type(dst_type))

    def _cast_float(self, dt) -> Module:
        return self._apply(lambda t: t.to(dt) if t.is_floating_point() else t)

    def float(self) -> Module:
        """Floating-point parameters and buffers to float32; returns self."""
        return self._cast_float(ember.float32)

    def double(self) -> Module:
        """Floating-point parameters and buffers to float64; returns self."""
        return self._cast_float(ember.float64)

    def half(self) -> Module:
        """Floating-point parameters and buffers to float16; returns self."""
        return self._cast_float(ember.float16)

    def bfloat16(self) -> Module:
        """Floating-point parameters and buffers to bfloat16; returns self."""
        return self._cast_float(ember.bfloat16)

    # ----- state dict -----
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = b if keep_vars else b.detach()

    def state_dict(
        self, *args, destination: dict | None = None, prefix: str = "", keep_vars: bool = False
    ) -> dict[str, Tensor]:
        """An ordered dict of every parameter and persistent buffer by dotted name
        (detached tensors sharing memory with the module unless ``keep_vars``)."""
        if args:
            raise TypeError("state_dict() takes keyword arguments only")
        if destination is None:
            destination = OrderedDict()
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(
                    destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars
                )
        return destination

    def _load_from_state_dict(
        self,
        state_dict: dict,
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list,
        unexpected_keys: list,
        error_msgs: list,
        assign: bool = False,
    ) -> None:
        """Load this module's own entries (not its children's). Layers override it to
        accept older checkpoint layouts."""
        persistent = {
            k: v for k, v in self._buffers.items() if k not in self._non_persistent_buffers_set
        }
        local = itertools.chain(self._parameters.items(), persistent.items())
        for name, cur in local:
            if cur is None:
                continue
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            val = state_dict[key]
            if not isinstance(val, Tensor):
                error_msgs.append(
                    f'While copying the parameter named "{key}", expected a Tensor from the '
                    f"checkpoint but received {type(val).__name__}"
                )
                continue
            if tuple(val.shape) != tuple(cur.shape):
                error_msgs.append(
                    f"size mismatch for {key}: copying a param with shape {tuple(val.shape)} "
                    f"from checkpoint, the shape in current model is {tuple(cur.shape)}."
                )
                continue
            with no_grad():
                if assign:
                    if name in self._parameters:
                        setattr(self, name, Parameter(val.detach(), cur.requires_grad))
                    else:
                        self._buffers[name] = val.detach()
                else:
                    try:
                        cur.copy_(val)
                    except Exception as exc:  # noqa: BLE001 - reported with the key
                        error_msgs.append(f'While copying the parameter named "{key}": {exc}')
        if strict:
            own = set(self._parameters) | set(persistent)
            for key in state_dict:
                if not key.startswith(prefix):
                    continue
                rest = key[len(prefix) :]
                head = rest.split(".", 1)[0]
                if head not in self._modules and head not in own:
                    unexpected_keys.append(key)

    def load_state_dict(
        self, state_dict: dict, strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        """Copy ``state_dict``'s tensors into the parameters and buffers by name.

        Every shape mismatch is an error (listing each key with both shapes). With
        ``strict=True`` missing and unexpected keys are errors too; otherwise they
        are returned as ``(missing_keys, unexpected_keys)``. ``assign=True`` makes
        the module take the given tensors instead of copying into its own.
        """
        if not isinstance(state_dict, dict):
            raise TypeError(
                f"Expected state_dict to be dict-like, got {type(state_dict).__name__}."
            )
        missing: list[str] = []
        unexpected: list[str] = []
        errors: list[str] = []

        def load(module: Module, prefix: str) -> None:
            module._load_from_state_dict(
                state_dict, prefix, {}, True, missing, unexpected, errors, assign
            )
            for name, child in module._modules.items():
                if child is not None:
                    load(child, prefix + name + ".")

        load(self, "")
        if strict:
            if unexpected:
                errors.insert(
                    0, "Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected)
                )
            if missing:
                errors.insert(
                    0, "Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing)
                )
        if errors:
            raise RuntimeError(
                f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                + "\n\t".join(errors)
            )
        return _IncompatibleKeys(missing, unexpected)

    # ----- printing -----
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The layer's own settings, shown inside its ``repr`` (layers override it)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            lines.append("(" + name + "): " + _addindent(repr(m), 2))
        main = self._get_name() + "("
        if lines:
            if len(lines) == 1 and not self._modules:
                main += lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

    def __dir__(self):
        keys = list(object.__dir__(self))
        keys += list(self._parameters) + list(self._buffers) + list(self._modules)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
