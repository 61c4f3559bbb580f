"""PyTorch-style printing: ``tensor([[0.2598, 0.7231], ...], dtype=ember.float64)``."""

from __future__ import annotations

import numpy as np

from ember import _dtype

_THRESHOLD, _EDGE = 1000, 3


def _sample(a: np.ndarray) -> np.ndarray:
    flat = a.reshape(-1)
    if flat.size <= _THRESHOLD:
        return flat
    return np.concatenate([flat[: _THRESHOLD // 2], flat[-_THRESHOLD // 2 :]])


def _float_formatter(a: np.ndarray):
    vals = _sample(a).astype(np.float64)
    finite = vals[np.isfinite(vals)]
    nonzero = np.abs(finite[finite != 0])
    if (
        finite.size
        and np.all(finite == np.round(finite))
        and (not nonzero.size or nonzero.max() < 1e8)
    ):
        fmt = "{:.0f}."
    elif nonzero.size and (
        nonzero.max() / nonzero.min() > 1000 or nonzero.max() > 1e8 or nonzero.min() < 1e-4
    ):
        fmt = "{:.4e}"
    else:
        fmt = "{:.4f}"

    def one(v):
        v = float(v)
        if np.isnan(v):
            return "nan"
        if np.isinf(v):
            return "inf" if v > 0 else "-inf"
        return fmt.format(v)

    width = max((len(one(v)) for v in vals), default=1)
    return lambda v: one(v).rjust(width)


def _body(a: np.ndarray) -> str:
    kind = a.dtype.kind
    if a.dtype == _dtype.bfloat16.np or kind == "f":
        fmt = {"all": _float_formatter(a)}
        a = a.astype(np.float64) if a.dtype == _dtype.bfloat16.np else a
    elif kind == "b":
        fmt = {"bool": lambda v: "True" if v else "False"}
    elif kind == "c":
        fr, fi = _float_formatter(a.real), _float_formatter(np.abs(a.imag))
        fmt = {
            "complex_kind": lambda v: (
                f"{fr(v.real).strip()}{'-' if v.imag < 0 else '+'}{fi(abs(v.imag)).strip()}j"
            )
        }
    else:
        width = max((len(str(int(v))) for v in _sample(a)), default=1)
        fmt = {"int": lambda v: str(int(v)).rjust(width)}
    return np.array2string(
        a,
        separator=", ",
        prefix="tensor(",
        formatter=fmt,
        threshold=_THRESHOLD,
        edgeitems=_EDGE,
        max_line_width=80,
    )


def tensor_repr(t) -> str:
    a = t._a if type(t._a) is np.ndarray else t._a.get()
    extras = []
    if a.size == 0 and a.ndim != 1:
        body = "[]"
        extras.append(f"size={tuple(a.shape)}")
    elif a.size == 0:
        body = "[]"
    else:
        body = _body(a)
    if not t.is_cpu:
        extras.append(f"device='{t.device}'")
    d = t.dtype
    if d not in (_dtype.get_default_dtype(), _dtype.int64, _dtype.bool):
        extras.append(f"dtype={d!r}")
    ag = t._ag
    if ag is not None:
        if ag.grad_fn is not None:
            extras.append(
                f"grad_fn=<{type(ag.grad_fn).__name__}>"
                if not hasattr(ag.grad_fn, "name")
                else f"grad_fn=<{ag.grad_fn.name()}>"
            )
        elif ag.requires_grad:
            extras.append("requires_grad=True")
    return "tensor(" + body + "".join(", " + e for e in extras) + ")"
