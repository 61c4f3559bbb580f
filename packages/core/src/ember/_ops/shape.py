"""Shape ops. Views (view, reshape when possible, transpose, permute, expand,
squeeze, unsqueeze, narrow, select, unfold, flatten, split/chunk/unbind,
as_strided) share memory with their input exactly as in PyTorch; ``cat``,
``stack`` and ``contiguous`` copy.
"""

from __future__ import annotations

import numpy as np

from ember._ops._dispatch import raise_device_mismatch, record_if_needed, strided_view
from ember._registry import register
from ember._tensor import Tensor, _view_of, _wrap, _wrap_dim

__all__ = [
    "view",
    "reshape",
    "transpose",
    "swapaxes",
    "swapdims",
    "permute",
    "t",
    "expand",
    "expand_as",
    "squeeze",
    "unsqueeze",
    "narrow",
    "select",
    "unfold",
    "flatten",
    "unflatten",
    "movedim",
    "moveaxis",
    "chunk",
    "split",
    "tensor_split",
    "unbind",
    "as_strided",
    "contiguous",
    "cat",
    "concat",
    "concatenate",
    "stack",
    "hstack",
    "vstack",
    "dstack",
    "view_as",
    "reshape_as",
    "ravel",
    "broadcast_to",
    "broadcast_tensors",
    "clone",
]


def _shape_arg(shape, name: str) -> tuple[int, ...]:
    """Accept ``f(2, 3)``, ``f((2, 3))`` and ``f(ember.Size([2, 3]))``."""
    if len(shape) == 1 and not isinstance(shape[0], int | np.integer):
        shape = shape[0]
    try:
        return tuple(int(s) for s in shape)
    except TypeError:
        raise TypeError(
            f"{name}(): expected a sequence of ints as the shape, got {shape!r}"
        ) from None


def _infer(shape: tuple[int, ...], numel: int, name: str, src_shape) -> tuple[int, ...]:
    if shape.count(-1) > 1:
        raise RuntimeError(f"{name}(): only one dimension can be inferred, got {list(shape)}")
    for s in shape:
        if s < -1:
            raise RuntimeError(f"{name}(): invalid shape dimension {s} in {list(shape)}")
    if -1 in shape:
        known = 1
        for s in shape:
            if s != -1:
                known *= s
        if known == 0 or numel % known:
            raise RuntimeError(
                f"shape '{list(shape)}' is invalid for input of size {numel} "
                f"(input shape {tuple(src_shape)})"
            )
        shape = tuple(numel // known if s == -1 else s for s in shape)
    n = 1
    for s in shape:
        n *= s
    if n != numel:
        raise RuntimeError(
            f"shape '{list(shape)}' is invalid for input of size {numel} "
            f"(input shape {tuple(src_shape)})"
        )
    return shape


def _view_result(x: Tensor, a, name: str, params=None) -> Tensor:
    out = _view_of(x, a)
    return record_if_needed(out, (x,), name, params) if x._ag is not None else out


def view(input: Tensor, *shape) -> Tensor:
    """A view with a new shape; RuntimeError when the strides make that impossible.

    ``x.view(dtype)`` reinterprets the bytes as another dtype of the same size.
    """
    from ember import _dtype

    if len(shape) == 1 and isinstance(shape[0], _dtype.dtype):
        d = shape[0]
        if d.itemsize != input._a.itemsize:
            raise RuntimeError(f"view(dtype): {input.dtype} and {d} differ in element size")
        return _view_of(input, input._a.view(d.np))
    a = input._a
    shape = _infer(_shape_arg(shape, "view"), a.size, "view", a.shape)
    try:
        r = a.reshape(shape, copy=False)
    except ValueError:
        raise RuntimeError(
            f"view size is not compatible with input tensor's size and stride (shape "
            f"{tuple(a.shape)}, strides {input.stride()} -> {list(shape)}): at least one "
            "dimension spans across two contiguous subspaces. Use .reshape(...) instead."
        ) from None
    return _view_result(input, r, "view", shape)


def reshape(input: Tensor, *shape) -> Tensor:
    """A tensor with a new shape: a view when the strides allow it, else a copy."""
    a = input._a
    shape = _infer(_shape_arg(shape, "reshape"), a.size, "reshape", a.shape)
    try:
        r = a.reshape(shape, copy=False)
    except ValueError:
        out = _wrap(a.reshape(shape))
        return record_if_needed(out, (input,), "reshape", shape)
    return _view_result(input, r, "reshape", shape)


def view_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.view(other.shape)``."""
    return view(input, other.shape)


def reshape_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.reshape(other.shape)``."""
    return reshape(input, other.shape)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a view when possible)."""
    shape = input._a.shape
    if not shape:
        return reshape(input, (1,))
    s, e = _wrap_dim(start_dim, len(shape)), _wrap_dim(end_dim, len(shape))
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for d in shape[s : e + 1]:
        n *= d
    return reshape(input, shape[:s] + (n,) + shape[e + 1 :])


def ravel(input: Tensor) -> Tensor:
    """A 1-D tensor of all elements (a view when contiguous)."""
    return reshape(input, (-1,))


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Split dim ``dim`` into ``sizes``."""
    shape = input._a.shape
    d = _wrap_dim(dim, len(shape))
    sizes = tuple(sizes)
    sizes = _infer(sizes, shape[d], "unflatten", shape)
    return view(input, shape[:d] + sizes + shape[d + 1 :])


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """A view with dims ``dim0`` and ``dim1`` swapped."""
    a = input._a
    d0, d1 = _wrap_dim(dim0, a.ndim), _wrap_dim(dim1, a.ndim)
    return _view_result(input, a.swapaxes(d0, d1), "transpose", (d0, d1))


swapaxes = swapdims = transpose


def t(input: Tensor) -> Tensor:
    """Transpose of a tensor of at most 2 dims (0-d and 1-d come back unchanged)."""
    a = input._a
    if a.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.ndim}D")
    if a.ndim < 2:
        return _view_result(input, a.view(), "view", a.shape)
    return _view_result(input, a.T, "transpose", (0, 1))


def permute(input: Tensor, *dims) -> Tensor:
    """A view with dims reordered as ``dims``."""
    a = input._a
    dims = _shape_arg(dims, "permute")
    if len(dims) != a.ndim:
        raise RuntimeError(
            f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
            f"length of the desired ordering of dimensions: input.dim() = {a.ndim} is not equal "
            f"to len(dims) = {len(dims)}"
        )
    dims = tuple(_wrap_dim(d, a.ndim) for d in dims)
    if len(set(dims)) != len(dims):
        raise RuntimeError(f"permute(): duplicate dims are not allowed: {list(dims)}")
    return _view_result(input, a.transpose(dims), "permute", dims)


def movedim(input: Tensor, source, destination) -> Tensor:
    """A view with dims moved from ``source`` to ``destination`` positions."""
    a = input._a
    return _view_result(
        input,
        np.moveaxis(a, source, destination),
        "permute",
        _perm_from_moveaxis(a.ndim, source, destination),
    )


def _perm_from_moveaxis(ndim, source, destination):
    """The permutation ``np.moveaxis(a, source, destination)`` applies (numpy's rule:
    the moved dims land at their destinations, the others keep their order)."""
    src = [source] if isinstance(source, int) else list(source)
    dst = [destination] if isinstance(destination, int) else list(destination)
    src = [_wrap_dim(d, ndim) for d in src]
    dst = [_wrap_dim(d, ndim) for d in dst]
    order = [d for d in range(ndim) if d not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return tuple(order)


moveaxis = movedim


def expand(input: Tensor, *sizes) -> Tensor:
    """A broadcast view; ``-1`` keeps a dim. Writes to it are refused (shared elements)."""
    a = input._a
    sizes = _shape_arg(sizes, "expand")
    if len(sizes) < a.ndim and all(s == 1 for s in a.shape[: a.ndim - len(sizes)]):
        # Legacy PyTorch (the seed's linear-regression loop: a (1,) weight expanded
        # to a 0-d sample) allowed dropping leading size-1 dims; keep that.
        a = a.reshape(a.shape[a.ndim - len(sizes) :])
        input = _view_result(input, a, "view", a.shape)
    if len(sizes) < a.ndim:
        raise RuntimeError(
            f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
            f"the number of dimensions in the tensor ({a.ndim})"
        )
    lead = len(sizes) - a.ndim
    target = []
    for i, s in enumerate(sizes):
        if s == -1:
            if i < lead:
                raise RuntimeError(f"expand: -1 is not allowed in a leading, new dimension ({i})")
            s = a.shape[i - lead]
        target.append(s)
    try:
        r = np.broadcast_to(a, tuple(target))
    except ValueError:
        raise RuntimeError(
            f"The expanded size of the tensor ({list(target)}) must match the existing size "
            f"{tuple(a.shape)} at each non-singleton dimension"
        ) from None
    return _view_result(input, r, "expand", tuple(target))


def expand_as(input: Tensor, other: Tensor) -> Tensor:
    """``input.expand(other.size())``."""
    return expand(input, other.shape)


def broadcast_to(input: Tensor, shape) -> Tensor:
    """Alias of :func:`expand` with a shape tuple."""
    return expand(input, tuple(shape))


def broadcast_tensors(*tensors: Tensor) -> list[Tensor]:
    """Expand all tensors to their common broadcast shape."""
    shape = np.broadcast_shapes(*(t._a.shape for t in tensors))
    return [expand(t, shape) for t in tensors]


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all, or only ``dim`` when it has size 1)."""
    a = input._a
    if dim is None:
        axes = tuple(i for i, s in enumerate(a.shape) if s == 1)
    else:
        dims = (dim,) if isinstance(dim, int) else tuple(dim)
        axes = tuple(d for d in (_wrap_dim(d, a.ndim) for d in dims) if a.ndim and a.shape[d] == 1)
    return _view_result(
        input,
        a.squeeze(axes) if axes else a.view(),
        "view",
        tuple(s for i, s in enumerate(a.shape) if i not in axes),
    )


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """A view with a size-1 dim inserted at ``dim``."""
    a = input._a
    d = _wrap_dim(dim, a.ndim + 1)
    return _view_result(input, np.expand_dims(a, d), "view", a.shape[:d] + (1,) + a.shape[d:])


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """A view of ``length`` elements along ``dim`` from ``start``."""
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    size = a.shape[d]
    if start < 0:
        start += size
    if not (0 <= start <= size) or length < 0 or start + length > size:
        raise IndexError(
            f"narrow(): start ({start}) + length ({length}) exceeds dimension size ({size}) "
            f"of dim {d}"
        )
    key = (slice(None),) * d + (slice(start, start + length),)
    return _view_result(input, a[key], "getitem", key)


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """A view of slice ``index`` along ``dim`` (that dim removed)."""
    a = input._a
    if a.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = _wrap_dim(dim, a.ndim)
    size = a.shape[d]
    if not -size <= index < size:
        raise IndexError(
            f"select(): index {index} out of range for tensor of size {tuple(a.shape)} at "
            f"dimension {d}"
        )
    key = (slice(None),) * d + (index % size, Ellipsis)
    return _view_result(input, a[key], "getitem", key)


def unfold(input: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """A view of all length-``size`` windows along ``dimension``, ``step`` apart."""
    a = input._a
    d = _wrap_dim(dimension, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if size > n:
        raise RuntimeError(
            f"unfold: maximum size for tensor at dimension {d} is {n} but size is {size}"
        )
    if step <= 0:
        raise RuntimeError(f"unfold: step must be positive, got {step}")
    count = (n - size) // step + 1
    st = a.strides
    shape = a.shape[:d] + (count,) + a.shape[d + 1 :] + (size,)
    strides = st[:d] + (st[d] * step,) + st[d + 1 :] + (st[d],)
    r = strided_view(a, shape, strides)
    return _view_result(input, r, "unfold", (d, size, step))


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple[Tensor, ...]:
    """Split into ``chunks`` views of (nearly) equal size along ``dim``."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    size = input._a.shape[_wrap_dim(dim, input._a.ndim)]
    step = -(-size // chunks) if size else 1
    return split(input, max(step, 1), dim)


def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """Views of ``split_size`` elements along ``dim`` (or of the listed section sizes)."""
    a = input._a
    d = _wrap_dim(dim, a.ndim)
    size = a.shape[d]
    if isinstance(split_size_or_sections, int):
        step = split_size_or_sections
        if step <= 0 and size:
            raise RuntimeError(f"split expects split_size be positive, got {step}")
        sizes = [min(step, size - i) for i in range(0, size, step)] if size else [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != size:
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                f"size at dimension {d}), but got split_sizes={sizes}"
            )
    out, start = [], 0
    for s in sizes:
        out.append(narrow(input, d, start, s))
        start += s
    return tuple(out)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple[Tensor, ...]:
    """numpy's ``array_split``: sections of nearly equal size, or split at indices."""
    d = _wrap_dim(dim, input._a.ndim)
    size = input._a.shape[d]
    if isinstance(indices_or_sections, int):
        n = indices_or_sections
        q, r = divmod(size, n)
        sizes = [q + 1] * r + [q] * (n - r)
    else:
        idx = [0] + [min(max(int(i), 0), size) for i in indices_or_sections] + [size]
        sizes = [max(b - a, 0) for a, b in zip(idx[:-1], idx[1:])]
    out, start = [], 0
    for s in sizes:
        out.append(narrow(input, d, start, s))
        start += s
    return tuple(out)


def unbind(input: Tensor, dim: int = 0) -> tuple[Tensor, ...]:
    """All slices along ``dim``, as views with that dim removed."""
    d = _wrap_dim(dim, input._a.ndim)
    return tuple(select(input, d, i) for i in range(input._a.shape[d]))


def _root_and_offset(a: np.ndarray):
    """The array owning ``a``'s memory and ``a``'s byte offset into it."""
    root = a
    if type(a) is not np.ndarray:  # a CUDA array: same walk, device pointers
        while root.base is not None:
            root = root.base
        return root, a.data.ptr - root.data.ptr
    while isinstance(root.base, np.ndarray):
        root = root.base
    start = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
    return root, start


def as_strided(input: Tensor, size, stride, storage_offset: int | None = None) -> Tensor:
    """A view with explicit sizes and strides (in elements) into the same storage.

    Every addressed element must lie inside the storage: out-of-range views raise
    RuntimeError instead of reading foreign memory.
    """
    a = input._a
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(
            f"as_strided: mismatch in length of sizes ({len(size)}) and strides ({len(stride)})"
        )
    if any(s < 0 for s in size):
        raise RuntimeError(f"as_strided: negative size in {list(size)}")
    root, off = _root_and_offset(a)
    item = a.itemsize
    offset = off // item if storage_offset is None else int(storage_offset)
    flat = root.reshape(-1) if root.flags.c_contiguous else None
    if flat is None:
        raise RuntimeError("as_strided: the tensor's storage is not contiguous")
    lo = hi = offset
    if all(size):
        for s, st in zip(size, stride):
            if st >= 0:
                hi += (s - 1) * st
            else:
                lo += (s - 1) * st
    if offset < 0 or lo < 0 or (all(size) and hi >= flat.size):
        raise RuntimeError(
            f"as_strided: setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
            f"{offset} require elements outside the storage of {flat.size} elements"
        )
    r = strided_view(flat[offset:], size, tuple(s * item for s in stride), like=a)
    return _view_result(input, r, "as_strided", (size, stride, offset))


def contiguous(input: Tensor, memory_format=None) -> Tensor:
    """``input`` itself when already contiguous, else a contiguous copy."""
    a = input._a
    if a.flags.c_contiguous:
        return input
    return clone(input)


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy with its own (contiguous) storage."""
    a = input._a
    r = a.copy()
    out = _wrap(r)
    return record_if_needed(out, (input,), "clone") if input._ag is not None else out


def _check_cat(tensors, dim, name):
    if isinstance(tensors, Tensor) or not len(tensors):
        raise ValueError(f"{name}(): expected a non-empty sequence of tensors")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"{name}(): expected Tensor as element {i}, got {type(x).__name__}")


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Concatenate along an existing dim; other dims must match."""
    from ember import _dtype

    _check_cat(tensors, dim, "cat")
    # PyTorch skips 1-D empty tensors in cat (legacy behaviour users rely on).
    arrays = [x._a for x in tensors if not (x._a.ndim == 1 and x._a.size == 0)] or [tensors[0]._a]
    ref = arrays[0]
    d = _wrap_dim(dim, ref.ndim)
    for i, x in enumerate(arrays):
        if x.ndim != ref.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {ref.ndim} and {x.ndim}"
            )
        for k in range(ref.ndim):
            if k != d and x.shape[k] != ref.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref.shape[k]} but got size {x.shape[k]} for tensor number {i} in the list "
                    f"(shapes {tuple(ref.shape)} and {tuple(x.shape)})."
                )
    for x in tensors:
        if type(x._a) is not type(tensors[0]._a):
            raise_device_mismatch(tensors[0], x)
    dt = _dtype.result_type(*tensors).np if len({x.dtype for x in arrays}) > 1 else ref.dtype
    r = np.concatenate(arrays, axis=d, dtype=dt)
    res = _wrap(r)
    record_if_needed(res, tuple(tensors), "cat", d)
    if out is not None:
        from ember._ops.math import _write_out

        return _write_out(out, res)
    return res


concat = concatenate = cat


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Stack equally shaped tensors along a new dim."""
    _check_cat(tensors, dim, "stack")
    shape = tensors[0]._a.shape
    for i, x in enumerate(tensors):
        if x._a.shape != shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {tuple(shape)} at entry 0 "
                f"and {tuple(x._a.shape)} at entry {i}"
            )
    d = _wrap_dim(dim, len(shape) + 1)
    return cat([unsqueeze(x, d) for x in tensors], d, out=out)


def hstack(tensors) -> Tensor:
    """Concatenate along dim 1 (dim 0 for 1-D tensors)."""
    return cat(tensors, 0 if tensors[0]._a.ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Stack rows: 1-D tensors become rows, then concatenate along dim 0."""
    return cat([x if x._a.ndim > 1 else reshape(x, (1, -1)) for x in tensors], 0)


def dstack(tensors) -> Tensor:
    """Concatenate along dim 2 after promoting to at least 3-D."""

    def as3(x):
        a = x._a
        if a.ndim == 0:
            return reshape(x, (1, 1, 1))
        if a.ndim == 1:
            return reshape(x, (1, -1, 1))
        if a.ndim == 2:
            return unsqueeze(x, 2)
        return x

    return cat([as3(x) for x in tensors], 2)


_VIEW_OPS = [
    "view",
    "reshape",
    "transpose",
    "permute",
    "t",
    "expand",
    "expand_as",
    "squeeze",
    "unsqueeze",
    "narrow",
    "select",
    "unfold",
    "flatten",
    "unflatten",
    "movedim",
    "chunk",
    "split",
    "tensor_split",
    "unbind",
    "as_strided",
    "view_as",
    "reshape_as",
    "ravel",
    "broadcast_to",
    "swapaxes",
    "swapdims",
    "moveaxis",
]
for _name in _VIEW_OPS:
    register(_name, globals()[_name], "view", methods=(_name,))
register("contiguous", contiguous, "copy", methods=("contiguous",))
register("clone", clone, "copy", methods=("clone",))
for _name in ["cat", "stack", "hstack", "vstack", "dstack", "broadcast_tensors"]:
    register(_name, globals()[_name], "join")
