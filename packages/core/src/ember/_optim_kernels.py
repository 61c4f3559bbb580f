"""numpy-facing wrappers over the fused optimizer kernels (``ember._C`` optim_fused.c).

Each function updates float32 or float64 C-contiguous numpy arrays in place, in one pass
over memory, with OpenMP across chunks of all the tensors. The arithmetic follows
PyTorch's single-tensor Adam and SGD operation by operation, so results agree with
PyTorch to a few ulps. ``fusable(*arrays)`` says whether a set of arrays qualifies;
ember-optim falls back to a chain of numpy ops when it does not.

The ``*_multi`` forms take lists (one entry per tensor) and make a single C call, which is
what keeps a step over 100 tensors cheap; ``adam_step`` and ``sgd_step`` are the
one-tensor spellings.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ember._C import ffi, lib

__all__ = ["adam_step", "adam_step_multi", "fusable", "sgd_step", "sgd_step_multi"]

_CODES = {np.dtype(np.float32): 0, np.dtype(np.float64): 1}
_ERRORS = {
    -1: (ValueError, "a tensor has a negative size"),
    -2: (ValueError, "a required array is missing"),
    -3: (TypeError, "only float32 and float64 are supported"),
    -4: (MemoryError, "out of memory"),
}


def fusable(*arrays) -> bool:
    """True when every array is a writeable C-contiguous CPU numpy array of one dtype,
    float32 or float64 (``None`` entries are skipped)."""
    dt = None
    for a in arrays:
        if a is None:
            continue
        if type(a) is not np.ndarray or not a.flags.c_contiguous:
            return False
        if dt is None:
            dt = a.dtype
            if dt not in _CODES:
                return False
        elif a.dtype != dt:
            return False
    return dt is not None


def _check(rc: int, op: str) -> None:
    if rc:
        exc, msg = _ERRORS.get(rc, (RuntimeError, f"kernel error {rc}"))
        raise exc(f"ember kernel {op!r}: {msg}")


def _validate(op: str, lists: dict, n: int) -> np.dtype:
    """Check lengths, dtypes, shapes, contiguity and writeability; return the dtype."""
    dt = None
    for name, arrs in lists.items():
        if arrs is None:
            continue
        if len(arrs) != n:
            raise ValueError(f"{op}: {name} has {len(arrs)} arrays, params has {n}")
        for i, a in enumerate(arrs):
            if type(a) is not np.ndarray:
                raise TypeError(f"{op}: {name}[{i}] must be a numpy array, got {type(a).__name__}")
            if dt is None:
                dt = a.dtype
                if dt not in _CODES:
                    raise TypeError(f"{op}: dtype {dt} is not supported (float32 or float64)")
            if a.dtype != dt:
                raise TypeError(f"{op}: {name}[{i}] has dtype {a.dtype}, expected {dt}")
            if not a.flags.c_contiguous:
                raise ValueError(f"{op}: {name}[{i}] must be C-contiguous")
            if name != "grads" and not a.flags.writeable:
                raise ValueError(f"{op}: {name}[{i}] is read-only")
    params = lists["params"]
    for name, arrs in lists.items():
        if arrs is not None and name != "params":
            for i, (a, p) in enumerate(zip(arrs, params)):
                if a.size != p.size:
                    raise ValueError(
                        f"{op}: {name}[{i}] has {a.size} elements, params[{i}] has {p.size}"
                    )
    return dt


def _ptrs(arrs: Sequence[np.ndarray]):
    # from_buffer is the cheapest way to get a raw pointer out of numpy through cffi
    return ffi.new("void *[]", [ffi.from_buffer(a) for a in arrs])


def adam_step_multi(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    exp_avgs: Sequence[np.ndarray],
    exp_avg_sqs: Sequence[np.ndarray],
    max_exp_avg_sqs: Sequence[np.ndarray] | None,
    steps: Sequence[float],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    eps: float,
    weight_decay: float,
    amsgrad: bool,
    maximize: bool,
    decoupled: bool,
) -> None:
    """One Adam (``decoupled=False``) or AdamW (``decoupled=True``) step over a list of
    tensors, in place. ``steps[i]`` is tensor i's step count after this step's increment;
    ``max_exp_avg_sqs`` is required when ``amsgrad``."""
    n = len(params)
    if amsgrad and max_exp_avg_sqs is None:
        raise ValueError("adam_step: amsgrad=True needs max_exp_avg_sqs")
    lists = {
        "params": params,
        "grads": grads,
        "exp_avgs": exp_avgs,
        "exp_avg_sqs": exp_avg_sqs,
        "max_exp_avg_sqs": max_exp_avg_sqs if amsgrad else None,
    }
    dt = _validate("adam_step", lists, n)
    if len(steps) != n:
        raise ValueError(f"adam_step: steps has {len(steps)} entries, params has {n}")
    if n == 0:
        return
    keep = [_ptrs(params), _ptrs(grads), _ptrs(exp_avgs), _ptrs(exp_avg_sqs)]
    mx = _ptrs(max_exp_avg_sqs) if amsgrad else ffi.NULL
    rc = lib.em_adam_step(
        _CODES[dt],
        n,
        ffi.new("int64_t[]", [a.size for a in params]),
        *keep,
        mx,
        ffi.new("double[]", [float(s) for s in steps]),
        float(lr),
        float(beta1),
        float(beta2),
        float(eps),
        float(weight_decay),
        int(bool(amsgrad)),
        int(bool(maximize)),
        int(bool(decoupled)),
    )
    _check(rc, "adam_step")


def adam_step(
    param,
    grad,
    exp_avg,
    exp_avg_sq,
    max_exp_avg_sq,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay,
    step,
    amsgrad,
    maximize,
    decoupled,
) -> None:
    """One Adam/AdamW step on one tensor's arrays, in place (see :func:`adam_step_multi`).
    ``max_exp_avg_sq`` may be ``None`` unless ``amsgrad``."""
    adam_step_multi(
        [param],
        [grad],
        [exp_avg],
        [exp_avg_sq],
        None if max_exp_avg_sq is None else [max_exp_avg_sq],
        [step],
        lr=lr,
        beta1=beta1,
        beta2=beta2,
        eps=eps,
        weight_decay=weight_decay,
        amsgrad=amsgrad,
        maximize=maximize,
        decoupled=decoupled,
    )


def sgd_step_multi(
    params: Sequence[np.ndarray],
    grads: Sequence[np.ndarray],
    bufs: Sequence[np.ndarray] | None,
    init_bufs: Sequence[bool] | None,
    *,
    lr: float,
    momentum: float,
    dampening: float,
    weight_decay: float,
    nesterov: bool,
    maximize: bool,
) -> None:
    """One SGD step over a list of tensors, in place. With ``momentum != 0``, ``bufs`` are
    the momentum buffers and ``init_bufs[i]`` says buffer i is new this step (it is then
    set to the gradient, as PyTorch does, instead of being decayed)."""
    n = len(params)
    use_mom = momentum != 0
    if use_mom and (bufs is None or init_bufs is None):
        raise ValueError("sgd_step: momentum != 0 needs bufs and init_bufs")
    dt = _validate(
        "sgd_step", {"params": params, "grads": grads, "bufs": bufs if use_mom else None}, n
    )
    if use_mom and len(init_bufs) != n:
        raise ValueError(f"sgd_step: init_bufs has {len(init_bufs)} entries, params has {n}")
    if n == 0:
        return
    rc = lib.em_sgd_step(
        _CODES[dt],
        n,
        ffi.new("int64_t[]", [a.size for a in params]),
        _ptrs(params),
        _ptrs(grads),
        _ptrs(bufs) if use_mom else ffi.NULL,
        ffi.new("int[]", [int(bool(b)) for b in init_bufs]) if use_mom else ffi.NULL,
        float(lr),
        float(momentum),
        float(dampening),
        float(weight_decay),
        int(bool(nesterov)),
        int(bool(maximize)),
    )
    _check(rc, "sgd_step")


def sgd_step(
    param,
    grad,
    momentum_buffer,
    lr,
    momentum=0.0,
    dampening=0.0,
    weight_decay=0.0,
    nesterov=False,
    maximize=False,
    init_buffer=False,
) -> None:
    """One SGD step on one tensor's arrays, in place (see :func:`sgd_step_multi`)."""
    use_mom = momentum != 0
    sgd_step_multi(
        [param],
        [grad],
        [momentum_buffer] if use_mom else None,
        [init_buffer] if use_mom else None,
        lr=lr,
        momentum=momentum,
        dampening=dampening,
        weight_decay=weight_decay,
        nesterov=nesterov,
        maximize=maximize,
    )


# ----- CUDA: the same updates on CuPy arrays (ember._cuda.optim), one launch per call -----
def _is_cuda(a) -> bool:
    return type(a) is not np.ndarray and hasattr(a, "__cuda_array_interface__")


_fusable_cpu, _adam_multi_cpu, _sgd_multi_cpu = fusable, adam_step_multi, sgd_step_multi


def fusable(*arrays) -> bool:  # noqa: F811 - adds the CUDA case to the CPU test above
    """True when the arrays qualify for one fused update: all CPU numpy arrays (see the
    CPU rules above) or all C-contiguous CUDA arrays of one float dtype and device."""
    first = next((a for a in arrays if a is not None), None)
    if first is not None and _is_cuda(first):
        from ember._cuda import optim as _cuda_optim

        return _cuda_optim.fusable(*arrays)
    return _fusable_cpu(*arrays)


def adam_step_multi(params, *args, **kwargs) -> None:  # noqa: F811
    """One Adam/AdamW step over a list of tensors (CPU numpy or CUDA arrays), in place."""
    if params and _is_cuda(params[0]):
        from ember._cuda import optim as _cuda_optim

        return _cuda_optim.adam_step_multi(params, *args, **kwargs)
    return _adam_multi_cpu(params, *args, **kwargs)


def sgd_step_multi(params, *args, **kwargs) -> None:  # noqa: F811
    """One SGD step over a list of tensors (CPU numpy or CUDA arrays), in place."""
    if params and _is_cuda(params[0]):
        from ember._cuda import optim as _cuda_optim

        return _cuda_optim.sgd_step_multi(params, *args, **kwargs)
    return _sgd_multi_cpu(params, *args, **kwargs)


adam_step_multi.__doc__ = _adam_multi_cpu.__doc__
sgd_step_multi.__doc__ = _sgd_multi_cpu.__doc__
