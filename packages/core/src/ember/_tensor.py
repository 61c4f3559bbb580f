"""The Tensor: a numpy (or CuPy) array plus what autograd and views need.

Slots, and why each exists:
- ``_a``: the storage view, an ``ndarray``. ``t.numpy()`` aliases it.
- ``_ag``: autograd metadata (:class:`AutogradMeta`) or ``None``. Ops test this
  one slot to decide whether to record anything, so tensors that need no
  gradient pay a single attribute test.
- ``_ver``: the version counter shared by a storage's views (a one-element list,
  created on first need), bumped by every in-place op; autograd compares it.
- ``_base``: the tensor this one is a view of, or ``None``.

Ops live in ``ember._ops``; their functions are attached as methods at import.
"""

from __future__ import annotations

import numpy as np

from ember import _dtype
from ember._device import CPU, device

__all__ = ["Tensor", "Size", "AutogradMeta"]

_new = object.__new__
# Set by ember-autograd when it is installed (see ember.autograd); ``None`` means
# gradients are unavailable.
_engine = None


class Size(tuple):
    """A tensor's shape: a tuple of ints that prints as ``ember.Size([5, 3])``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    def numel(self) -> int:
        """The number of elements a tensor of this shape holds."""
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, key):
        r = tuple.__getitem__(self, key)
        return Size(r) if isinstance(key, slice) else r


class AutogradMeta:
    """Per-tensor autograd state, owned by ember-autograd (plain data here)."""

    __slots__ = ("requires_grad", "grad", "grad_fn", "retains_grad", "hooks", "output_nr")

    def __init__(self, requires_grad=False, grad_fn=None, output_nr=0):
        self.requires_grad = requires_grad
        self.grad = None
        self.grad_fn = grad_fn
        self.retains_grad = False
        self.hooks = None
        self.output_nr = output_nr


def _wrap(a) -> Tensor:
    """A new Tensor over ndarray ``a`` (no copy). The fast path of every op."""
    t = _new(Tensor)
    t._a = a
    t._ag = None
    t._ver = None
    t._base = None
    return t


def _view_of(src: Tensor, a) -> Tensor:
    """A new Tensor over ``a``, a view of ``src``'s storage (shares its version counter)."""
    t = _new(Tensor)
    t._a = a
    t._ag = None
    v = src._ver
    if v is None:
        v = src._ver = [0]
    t._ver = v
    base = src._base
    t._base = src if base is None else base
    return t


def _require_engine():
    if _engine is None:
        raise RuntimeError(
            "gradients need ember-autograd, which is not installed: pip install ember-autograd"
        )
    return _engine


class Tensor:
    """A multi-dimensional array, like ``torch.Tensor``.

    ``ember.Tensor(5, 3)`` makes an uninitialized float32 tensor of that shape
    (the legacy constructor the seed uses); ``ember.Tensor([1, 2])`` copies data.
    Prefer ``ember.tensor``, ``ember.empty`` and friends in new code.
    """

    __slots__ = ("_a", "_ag", "_ver", "_base", "__weakref__")
    __array_priority__ = 1000  # numpy defers binary operators to Tensor

    def __new__(cls, *args, dtype=None, device=None):
        from ember._ops.creation import _legacy_new

        t = _legacy_new(args, _dtype.float32 if dtype is None else dtype, device)
        if cls is not Tensor:
            sub = _new(cls)
            sub._a, sub._ag, sub._ver, sub._base = t._a, None, None, None
            return sub
        return t

    # ----- metadata -----
    @property
    def shape(self) -> Size:
        return Size(self._a.shape)

    def size(self, dim: int | None = None):
        """The shape as an :class:`ember.Size`, or the length of dimension ``dim``."""
        if dim is None:
            return Size(self._a.shape)
        return self._a.shape[_wrap_dim(dim, self._a.ndim)]

    @property
    def dtype(self) -> _dtype.dtype:
        return _dtype._FROM_NP[self._a.dtype]

    @property
    def device(self) -> device:
        a = self._a
        if type(a) is np.ndarray:
            return CPU
        return device("cuda", a.device.id)

    @property
    def is_cuda(self) -> bool:
        return type(self._a) is not np.ndarray

    @property
    def is_cpu(self) -> bool:
        return type(self._a) is np.ndarray

    @property
    def ndim(self) -> int:
        return self._a.ndim

    def dim(self) -> int:
        """The number of dimensions."""
        return self._a.ndim

    ndimension = dim

    def numel(self) -> int:
        """The number of elements."""
        return self._a.size

    nelement = numel

    def element_size(self) -> int:
        """Bytes per element."""
        return self._a.itemsize

    @property
    def itemsize(self) -> int:
        return self._a.itemsize

    @property
    def nbytes(self) -> int:
        return self._a.nbytes

    def stride(self, dim: int | None = None):
        """Strides in elements (PyTorch's convention), or the stride of ``dim``."""
        a = self._a
        st = tuple(s // a.itemsize for s in a.strides)
        return st if dim is None else st[_wrap_dim(dim, a.ndim)]

    def storage_offset(self) -> int:
        """Offset in elements of the first element from the start of the storage."""
        from ember._ops.shape import _root_and_offset

        return _root_and_offset(self._a)[1] // self._a.itemsize

    def data_ptr(self) -> int:
        """The address of the first element."""
        a = self._a
        return a.__array_interface__["data"][0] if type(a) is np.ndarray else a.data.ptr

    def is_contiguous(self, memory_format=None) -> bool:
        """True when elements are laid out densely in row-major order."""
        return self._a.flags.c_contiguous

    def is_floating_point(self) -> bool:
        return self._a.dtype.kind == "f" or self._a.dtype == _dtype.bfloat16.np

    def is_complex(self) -> bool:
        return self._a.dtype.kind == "c"

    @property
    def is_leaf(self) -> bool:
        ag = self._ag
        return ag is None or ag.grad_fn is None

    @property
    def _version(self) -> int:
        v = self._ver
        return 0 if v is None else v[0]

    def _bump(self) -> None:
        """Record an in-place modification (autograd checks saved tensors against it)."""
        v = self._ver
        if v is None:
            self._ver = [1]  # nobody shared a counter yet: start one
        else:
            v[0] += 1

    def _is_view(self) -> bool:
        return self._base is not None

    # ----- autograd surface (behaviour lives in ember-autograd) -----
    @property
    def requires_grad(self) -> bool:
        ag = self._ag
        return ag is not None and ag.requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set whether autograd records ops on this (leaf) tensor; returns self."""
        if requires_grad or self._ag is not None:
            _require_engine().set_requires_grad(self, bool(requires_grad))
        return self

    @property
    def grad(self):
        ag = self._ag
        return None if ag is None else ag.grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(
                    f"assigned grad must be a Tensor or None, got {type(value).__name__}"
                )
            if value.shape != self.shape:
                raise RuntimeError(
                    f"assigned grad has data of a different size: {tuple(value.shape)} "
                    f"vs the tensor's {tuple(self.shape)}"
                )
        if self._ag is None:
            if value is None:
                return
            self._ag = AutogradMeta()
        self._ag.grad = value

    @property
    def grad_fn(self):
        ag = self._ag
        return None if ag is None else ag.grad_fn

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate the gradient of this tensor into the leaves' ``.grad``."""
        _require_engine().backward(self, gradient, retain_graph, create_graph, inputs)

    def detach(self) -> Tensor:
        """A new tensor sharing storage, cut from the graph."""
        return _view_of(self, self._a)

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place."""
        self._ag = None
        return self

    @property
    def data(self) -> Tensor:
        return self.detach()

    @data.setter
    def data(self, value: Tensor) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        self._a = value._a
        self._ver = value._ver
        self._base = value._base

    # ----- numpy bridge -----
    def numpy(self, *, force: bool = False) -> np.ndarray:
        """The storage as a numpy array (no copy: the two alias each other)."""
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy()"
            )
        a = self._a
        if type(a) is not np.ndarray:
            if not force:
                raise TypeError(f"can't convert {self.device} tensor to numpy: use .cpu() first")
            return a.get()
        return a.view()

    def __array__(self, dtype=None, copy=None):
        a = self._a if type(self._a) is np.ndarray else self._a.get()
        if dtype is not None and a.dtype != dtype:
            return a.astype(dtype)
        return a.copy() if copy else a

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        a = self._a
        if max_version is None:
            return a.__dlpack__(stream=stream) if stream is not None else a.__dlpack__()
        kwargs = {"max_version": max_version}
        if dl_device is not None:
            kwargs["dl_device"] = dl_device
        if copy is not None:
            kwargs["copy"] = copy
        if stream is not None:
            kwargs["stream"] = stream
        return a.__dlpack__(**kwargs)

    def __dlpack_device__(self):
        return self._a.__dlpack_device__()

    @property
    def __cuda_array_interface__(self):
        a = self._a
        if type(a) is np.ndarray:
            raise AttributeError("a CPU tensor has no __cuda_array_interface__")
        return a.__cuda_array_interface__

    # ----- Python protocol -----
    def __len__(self) -> int:
        if self._a.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._a.shape[0]

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._a.shape[0]))

    def __bool__(self) -> bool:
        if self._a.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self._a.size} elements is ambiguous")
        return bool(self._a.reshape(()))

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._a.dtype.kind not in "iub" or self._a.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def item(self):
        """The single element as a Python number."""
        a = self._a
        if a.size != 1:
            raise RuntimeError(f"a Tensor with {a.size} elements cannot be converted to Scalar")
        if type(a) is not np.ndarray:
            a = a.get()
        return a.reshape(()).item()

    def tolist(self):
        """The elements as (nested) Python lists of numbers."""
        a = self._a if type(self._a) is np.ndarray else self._a.get()
        if a.dtype == _dtype.bfloat16.np or a.dtype == np.float16:
            a = a.astype(np.float32)
        return a.tolist()

    def __repr__(self) -> str:
        from ember._format import tensor_repr

        return tensor_repr(self)

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        if self._a.ndim == 0 and spec:
            return format(self.item(), spec)
        return repr(self)

    def __hash__(self) -> int:
        return id(self)

    def __reduce_ex__(self, protocol):
        # Pickling (multiprocessing, copy) copies the data; ember.save is the file format.
        a = self._a if type(self._a) is np.ndarray else self._a.get()
        return (_rebuild, (np.ascontiguousarray(a), self.requires_grad, str(self.device)))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError(
                "Only Tensors created explicitly by the user (graph leaves) support deepcopy"
            )
        t = _wrap(self._a.copy())
        if type(self) is not Tensor:
            sub = _new(type(self))
            sub._a, sub._ag, sub._ver, sub._base = t._a, None, None, None
            sub.__dict__.update(getattr(self, "__dict__", {}))
            t = sub
        if self.requires_grad:
            t.requires_grad_(True)
        memo[id(self)] = t
        return t


def _rebuild(array, requires_grad, device_str):
    t = _wrap(array)
    if device_str != "cpu":
        t = t.to(device_str)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _wrap_dim(dim: int, ndim: int) -> int:
    """Normalize a possibly negative dim, with PyTorch's IndexError when out of range."""
    n = ndim if ndim > 0 else 1
    if not -n <= dim < n:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})"
        )
    return dim % n
