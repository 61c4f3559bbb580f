"""Fused multi-tensor Adam/AdamW and SGD on CUDA (``optim.cu``): the CUDA side of
``ember._optim_kernels``, same arguments, one kernel launch per parameter group.

The per-tensor scalars (bias corrections, which need the step count) are computed here in
double exactly as the CPU kernel computes them, packed with the work list into one host
array and copied to the device in one transfer.
"""

from __future__ import annotations

import numpy as np

from ember._cuda import loader as L

CHUNK = 1 << 16  # elements per block: big enough to amortize, small enough to balance
_SFX = {np.dtype(np.float32): "f32", np.dtype(np.float64): "f64"}
for _t in ("f32", "f64"):
    L.declare("optim", "ppppqdddddddii", f"ember_adam_{_t}")
    L.declare("optim", "ppppqddddiii", f"ember_sgd_{_t}")


def _cp():
    import cupy

    return cupy


def fusable(*arrays) -> bool:
    """True when every array is a C-contiguous CUDA array of one dtype, float32/float64,
    all on the current device (``None`` entries are skipped)."""
    dt = None
    dev = None
    for a in arrays:
        if a is None:
            continue
        if not L._is_device_array(a) or not a.flags.c_contiguous:
            return False
        if dt is None:
            dt, dev = a.dtype, a.device.id
            if dt not in _SFX:
                return False
        elif a.dtype != dt or a.device.id != dev:
            return False
    return dt is not None


def _work(lists: list, numels: list[int], scal: list[float]):
    """Device arrays (pointers, chunk list, numels, per-tensor scalars), one H2D copy."""
    cp = _cp()
    nt = len(numels)
    chunks = [(t, s) for t in range(nt) for s in range(0, numels[t], CHUNK)]
    ptrs = [0 if a is None else a.data.ptr for group in zip(*lists) for a in group]
    host = np.concatenate(
        [
            np.asarray(ptrs, np.uint64).view(np.int64),
            np.asarray(chunks, np.int64).reshape(-1),
            np.asarray(numels, np.int64),
            np.asarray(scal, np.float64).view(np.int64),
        ]
    )
    dev = cp.asarray(host)
    a, b, c = len(ptrs), len(ptrs) + 2 * len(chunks), len(ptrs) + 2 * len(chunks) + nt
    return (dev[:a].view(np.uint64), dev[a:b], dev[b:c], dev[c:].view(np.float64), len(chunks))


def _check(op: str, lists: dict, n: int):
    dt = None
    for name, arrs in lists.items():
        if arrs is None:
            continue
        if len(arrs) != n:
            raise ValueError(f"{op}: {name} has {len(arrs)} arrays, params has {n}")
        for i, a in enumerate(arrs):
            if not L._is_device_array(a):
                raise TypeError(f"{op}: {name}[{i}] must be a CUDA array, got {type(a).__name__}")
            dt = a.dtype if dt is None else dt
            if a.dtype != dt or dt not in _SFX:
                raise TypeError(f"{op}: {name}[{i}] has dtype {a.dtype}, expected float32/64")
            if not a.flags.c_contiguous:
                raise ValueError(f"{op}: {name}[{i}] must be C-contiguous")
            if a.shape != lists["params"][i].shape:
                raise ValueError(
                    f"{op}: {name}[{i}] has shape {a.shape}, params[{i}] has "
                    f"{lists['params'][i].shape}"
                )
    return dt


def adam_step_multi(
    params,
    grads,
    exp_avgs,
    exp_avg_sqs,
    max_exp_avg_sqs,
    steps,
    *,
    lr,
    beta1,
    beta2,
    eps,
    weight_decay=0.0,
    amsgrad=False,
    maximize=False,
    decoupled=False,
) -> None:
    """One Adam/AdamW step over lists of CUDA arrays, in place (see the CPU version)."""
    op = "adam_step"
    n = len(params)
    lists = {
        "params": params,
        "grads": grads,
        "exp_avgs": exp_avgs,
        "exp_avg_sqs": exp_avg_sqs,
        "max_exp_avg_sqs": max_exp_avg_sqs if amsgrad else None,
    }
    if amsgrad and max_exp_avg_sqs is None:
        raise ValueError(f"{op}: amsgrad needs max_exp_avg_sqs")
    if len(steps) != n:
        raise ValueError(f"{op}: steps has {len(steps)} entries, params has {n}")
    dt = _check(op, lists, n)
    if not n:
        return
    scal = []
    for step in steps:
        step = float(step)
        bc1 = 1.0 - beta1**step
        scal += [(1.0 - beta2**step) ** 0.5, -(lr / bc1)]
    vmax = max_exp_avg_sqs if amsgrad else [None] * n
    numels = [int(p.size) for p in params]
    ptrs, chunks, nums, sc, nchunks = _work(
        [params, grads, exp_avgs, exp_avg_sqs, vmax], numels, scal
    )
    if not nchunks:
        return
    lo = -0.5 < 1.0 - beta1 < 0.5
    decay = 1.0 - lr * weight_decay if decoupled and weight_decay != 0.0 else 1.0
    L.launch(
        f"ember_adam_{_SFX[dt]}",
        nchunks,
        L.THREADS,
        (
            ptrs,
            chunks,
            nums,
            sc,
            CHUNK,
            1.0 - beta1,
            beta2,
            1.0 - beta2,
            eps,
            -1.0 if maximize else 1.0,
            0.0 if decoupled else weight_decay,
            decay,
            bool(amsgrad),
            lo,
        ),
    )


def sgd_step_multi(
    params,
    grads,
    bufs,
    init_buf,
    *,
    lr,
    momentum=0.0,
    dampening=0.0,
    weight_decay=0.0,
    nesterov=False,
    maximize=False,
) -> None:
    """One SGD step over lists of CUDA arrays, in place; ``init_buf[i]`` true means
    tensor i's momentum buffer is new (it becomes the gradient)."""
    op = "sgd_step"
    n = len(params)
    use_mom = momentum != 0.0
    dt = _check(op, {"params": params, "grads": grads, "bufs": bufs if use_mom else None}, n)
    if not n:
        return
    bl = bufs if use_mom else [None] * n
    numels = [int(p.size) for p in params]
    scal = [1.0 if (use_mom and init_buf[i]) else 0.0 for i in range(n)]
    ptrs, chunks, nums, sc, nchunks = _work([params, grads, bl], numels, scal)
    if not nchunks:
        return
    L.launch(
        f"ember_sgd_{_SFX[dt]}",
        nchunks,
        L.THREADS,
        (
            ptrs,
            chunks,
            nums,
            sc,
            CHUNK,
            -lr,
            momentum,
            1.0 - dampening,
            weight_decay,
            use_mom,
            bool(nesterov),
            bool(maximize),
        ),
    )
