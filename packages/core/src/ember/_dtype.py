"""ember's dtypes and PyTorch's type-promotion rules.

An ember ``dtype`` names a numpy dtype (``bfloat16`` is ml_dtypes' numpy dtype),
so a tensor's storage is always a plain numpy (or CuPy) array. Promotion follows
PyTorch, not numpy: categories bool < integer < floating < complex decide first
(``int64 + float32 -> float32``), dimensioned tensors outrank 0-d tensors, which
outrank Python scalars (``float32 tensor + 2.5 -> float32``).
"""

from __future__ import annotations

import builtins

import ml_dtypes
import numpy as np

__all__ = [
    "dtype",
    "bool",
    "uint8",
    "int8",
    "int16",
    "int32",
    "int64",
    "float16",
    "bfloat16",
    "float32",
    "float64",
    "complex64",
    "complex128",
    "get_default_dtype",
    "set_default_dtype",
    "promote_types",
    "result_type",
    "can_cast",
    "finfo",
    "iinfo",
]

_BOOL, _INT, _FLOAT, _COMPLEX = 0, 1, 2, 3


class dtype:
    """A tensor element type, e.g. ``ember.float32``.

    Attributes mirror PyTorch's: ``is_floating_point``, ``is_complex``,
    ``is_signed``, ``itemsize``. ``np`` is the numpy dtype used for storage.
    """

    __slots__ = ("name", "np", "itemsize", "category", "is_signed", "_legacy")

    def __init__(self, name: str, np_dtype, category: int, legacy: str | None) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.category = category
        self.is_signed = name not in ("bool", "uint8")
        self._legacy = legacy

    @property
    def is_floating_point(self) -> builtins.bool:
        return self.category == _FLOAT

    @property
    def is_complex(self) -> builtins.bool:
        return self.category == _COMPLEX

    def to_real(self) -> dtype:
        """The real counterpart of a complex dtype (itself otherwise)."""
        return {"complex64": float32, "complex128": float64}.get(self.name, self)

    def to_complex(self) -> dtype:
        """The complex counterpart of a floating dtype."""
        return complex128 if self.name == "float64" else complex64

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return (_by_name, (self.name,))


def _by_name(name: str) -> dtype:
    return _NAMES[name]


bool = dtype("bool", np.bool_, _BOOL, "BoolTensor")  # noqa: A001 - PyTorch's name
uint8 = dtype("uint8", np.uint8, _INT, "ByteTensor")
int8 = dtype("int8", np.int8, _INT, "CharTensor")
int16 = dtype("int16", np.int16, _INT, "ShortTensor")
int32 = dtype("int32", np.int32, _INT, "IntTensor")
int64 = dtype("int64", np.int64, _INT, "LongTensor")
float16 = dtype("float16", np.float16, _FLOAT, "HalfTensor")
bfloat16 = dtype("bfloat16", ml_dtypes.bfloat16, _FLOAT, "BFloat16Tensor")
float32 = dtype("float32", np.float32, _FLOAT, "FloatTensor")
float64 = dtype("float64", np.float64, _FLOAT, "DoubleTensor")
complex64 = dtype("complex64", np.complex64, _COMPLEX, None)
complex128 = dtype("complex128", np.complex128, _COMPLEX, None)

ALL = (
    bool,
    uint8,
    int8,
    int16,
    int32,
    int64,
    float16,
    bfloat16,
    float32,
    float64,
    complex64,
    complex128,
)
_NAMES = {d.name: d for d in ALL}
_NAMES.update(
    half=float16,
    float=float32,
    double=float64,
    long=int64,
    int=int32,
    short=int16,
    cfloat=complex64,
    cdouble=complex128,
)
# numpy dtype -> ember dtype; the hot path (Tensor.dtype) is one dict lookup.
_FROM_NP: dict[np.dtype, dtype] = {d.np: d for d in ALL}
_PY_TYPES = {
    builtins.bool: bool,
    builtins.int: int64,
    builtins.float: float64,
    builtins.complex: complex128,
}

_default_float = float32


def get_default_dtype() -> dtype:
    """The dtype of tensors made from Python floats (``float32`` unless changed)."""
    return _default_float


def set_default_dtype(d) -> None:
    """Set the default floating dtype (``float32`` or ``float64``, as PyTorch allows)."""
    global _default_float
    d = to_dtype(d)
    if d.category != _FLOAT:
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default_float = d


def from_numpy_dtype(npdt) -> dtype:
    """The ember dtype stored as numpy dtype ``npdt``; TypeError if ember has none."""
    try:
        return _FROM_NP[npdt]
    except KeyError:
        pass
    npdt = np.dtype(npdt)
    found = _FROM_NP.get(npdt.newbyteorder("=")) if npdt.byteorder not in "=|" else None
    if found is None:
        supported = ", ".join(d.name for d in ALL)
        raise TypeError(f"numpy dtype {npdt} has no ember equivalent; supported: {supported}")
    return found


def to_dtype(d) -> dtype:
    """Coerce an ember dtype, numpy dtype, Python type or name to an ember dtype."""
    if type(d) is dtype:
        return d
    if isinstance(d, str):
        name = d.removeprefix("ember.").removeprefix("torch.")
        if name in _NAMES:
            return _NAMES[name]
    elif d in _PY_TYPES:
        return _PY_TYPES[d]
    legacy = getattr(d, "dtype", None)
    if type(legacy) is dtype:  # legacy tensor types such as ember.FloatTensor
        return legacy
    try:
        return from_numpy_dtype(np.dtype(d))
    except TypeError as exc:
        raise TypeError(f"cannot interpret {d!r} as an ember dtype") from exc


def to_numpy_dtype(d) -> np.dtype:
    """The numpy storage dtype for anything :func:`to_dtype` accepts."""
    return d.np if type(d) is dtype else to_dtype(d).np


def _promote_same_priority(a: dtype, b: dtype) -> dtype:
    if a is b:
        return a
    if a.category != b.category:
        hi, lo = (a, b) if a.category > b.category else (b, a)
        if hi.category == _COMPLEX and lo is float64:
            return complex128
        return hi
    if {a.name, b.name} == {"float16", "bfloat16"}:
        return float32
    return _FROM_NP[np.promote_types(a.np, b.np)]


_PROMOTE_CACHE: dict[tuple[dtype, dtype], dtype] = {}


def promote_types(a, b) -> dtype:
    """PyTorch's ``promote_types``: the smallest dtype both ``a`` and ``b`` cast to."""
    a, b = to_dtype(a), to_dtype(b)
    key = (a, b)
    r = _PROMOTE_CACHE.get(key)
    if r is None:
        r = _PROMOTE_CACHE[key] = _promote_same_priority(a, b)
    return r


def _scalar_category(x) -> int:
    t = type(x)
    if t is builtins.bool or t is np.bool_:
        return _BOOL
    if t is builtins.int or isinstance(x, np.integer):
        return _INT
    if t is builtins.float or isinstance(x, np.floating):
        return _FLOAT
    if t is builtins.complex or isinstance(x, np.complexfloating):
        return _COMPLEX
    raise TypeError(f"expected a tensor or a number, got {type(x).__name__}")


def _default_for(category: int) -> dtype:
    return (bool, int64, _default_float, complex64 if _default_float is float32 else complex128)[
        category
    ]


def result_type(*operands) -> dtype:
    """The dtype PyTorch's rules give an op on ``operands`` (tensors and numbers)."""
    dims, zero_dims, scalars = None, None, None
    for x in operands:
        d = getattr(x, "_a", None)
        if d is not None:
            dt = from_numpy_dtype(d.dtype)
            if d.ndim:
                dims = dt if dims is None else promote_types(dims, dt)
            else:
                zero_dims = dt if zero_dims is None else promote_types(zero_dims, dt)
        else:
            c = _scalar_category(x)
            scalars = c if scalars is None else max(scalars, c)
    result = dims
    if zero_dims is not None:
        if result is None or zero_dims.category > result.category:
            result = zero_dims
    if scalars is not None:
        if result is None or scalars > result.category:
            result = _default_for(scalars)
    return result


def can_cast(from_, to) -> builtins.bool:
    """PyTorch's ``can_cast``: False when casting lowers the category."""
    return to_dtype(from_).category <= to_dtype(to).category


class finfo:
    """Machine limits of a floating dtype (``ember.finfo(ember.float32).eps``)."""

    def __init__(self, type=None) -> None:  # noqa: A002 - PyTorch's name
        d = to_dtype(type if type is not None else _default_float)
        if d.category != _FLOAT and d.category != _COMPLEX:
            raise TypeError(f"finfo expects a floating dtype, got {d}")
        info = ml_dtypes.finfo(d.to_real().np) if d is bfloat16 else np.finfo(d.np)
        self.dtype = d.to_real()
        self.bits = info.bits
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.tiny = self.smallest_normal = float(info.tiny)
        self.resolution = float(info.resolution)

    def __repr__(self) -> str:
        return f"finfo(eps={self.eps}, max={self.max}, min={self.min}, dtype={self.dtype.name})"


class iinfo:
    """Limits of an integer dtype (``ember.iinfo(ember.int32).max``)."""

    def __init__(self, type) -> None:  # noqa: A002 - PyTorch's name
        d = to_dtype(type)
        if d.category != _INT:
            raise TypeError(f"iinfo expects an integer dtype, got {d}")
        info = np.iinfo(d.np)
        self.dtype, self.bits, self.max, self.min = d, info.bits, int(info.max), int(info.min)

    def __repr__(self) -> str:
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype.name})"
