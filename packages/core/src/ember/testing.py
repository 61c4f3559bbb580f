"""``ember.testing``: :func:`assert_close`, as ``torch.testing.assert_close``.

Default tolerances per dtype are PyTorch's (float32: rtol 1.3e-6, atol 1e-5;
float64: 1e-7 / 1e-7; float16: 1e-3 / 1e-5; bfloat16: 1.6e-2 / 1e-5; integers
and bool: exact). A failure raises ``AssertionError`` with a report that names
the number of mismatched elements and the worst absolute and relative
differences with their indices.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from ember import _dtype
from ember._tensor import Tensor

__all__ = ["assert_close", "default_tolerances"]

_TOL = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}


def default_tolerances(*dtypes) -> tuple[float, float]:
    """``(rtol, atol)`` for comparing values of these dtypes: the loosest of them."""
    rtols, atols = [0.0], [0.0]
    for d in dtypes:
        name = str(d).replace("ember.", "")
        r, a = _TOL.get(name, (0.0, 0.0))
        rtols.append(r)
        atols.append(a)
    return max(rtols), max(atols)


def _as_array(x):
    if isinstance(x, Tensor):
        return x.detach().numpy(force=True)
    return np.asarray(x)


def _fmt_index(flat_i: int, shape) -> str:
    if not shape:
        return "()"
    return str(tuple(int(i) for i in np.unravel_index(flat_i, shape)))


def _compare_tensors(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, path):
    if check_device and isinstance(actual, Tensor) and isinstance(expected, Tensor):
        if actual.device != expected.device:
            return (
                f"The values for attribute 'device' do not match: {actual.device} != "
                f"{expected.device}."
            )
    a, e = _as_array(actual), _as_array(expected)
    if a.shape != e.shape:
        return f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}."
    da = actual.dtype if isinstance(actual, Tensor) else _dtype.from_numpy_dtype(a.dtype)
    de = expected.dtype if isinstance(expected, Tensor) else _dtype.from_numpy_dtype(e.dtype)
    if check_dtype and da != de:
        return f"The values for attribute 'dtype' do not match: {da} != {de}."
    if rtol is None:
        rtol, atol = default_tolerances(da, de)
    # Compare in a common wide type: float64 (or complex128) for inexact dtypes.
    kind = (
        "c"
        if "c" in (a.dtype.kind, e.dtype.kind)
        else (
            "f"
            if {a.dtype.kind, e.dtype.kind} & {"f", "V"}
            or a.dtype.name == "bfloat16"
            or e.dtype.name == "bfloat16"
            else "i"
        )
    )
    if kind == "i" and a.dtype.kind in "biu" and e.dtype.kind in "biu":
        a64, e64 = a.astype(np.int64), e.astype(np.int64)
        close = a64 == e64
        diff = np.abs(a64 - e64).astype(np.float64)
        abs_e = np.abs(e64).astype(np.float64)
    else:
        wide = np.complex128 if kind == "c" else np.float64
        a64, e64 = a.astype(wide), e.astype(wide)
        with np.errstate(all="ignore"):
            diff = np.abs(a64 - e64)
            abs_e = np.abs(e64)
            close = diff <= atol + rtol * abs_e
            same = a64 == e64  # infinities of the same sign
            close |= same
            if equal_nan:
                close |= np.isnan(a64) & np.isnan(e64)
    if close.all():
        return None
    bad = ~close
    n_bad, n = int(bad.sum()), close.size
    with np.errstate(all="ignore"):
        d = np.where(bad, diff, -1.0)
        d = np.where(np.isnan(d), np.inf, d)
        rel = np.where(bad, diff / abs_e, -1.0)
        rel = np.where(np.isnan(rel), np.inf, rel)
    ia, ir = int(np.argmax(d)), int(np.argmax(rel))
    what = "Scalars are" if a.ndim == 0 else "Tensor-likes are"
    lines = [f"{what} not close!", ""]
    if a.ndim == 0:
        lines += [
            f"Expected {e.item()} but got {a.item()}.",
            f"Absolute difference: {diff.item()} (up to {atol} allowed)",
            f"Relative difference: {rel.reshape(()).item()} (up to {rtol} allowed)",
        ]
    else:
        lines += [
            f"Mismatched elements: {n_bad} / {n} ({100.0 * n_bad / n:.1f}%)",
            f"Greatest absolute difference: {diff.reshape(-1)[ia]} at index "
            f"{_fmt_index(ia, a.shape)} (up to {atol} allowed)",
            f"Greatest relative difference: {rel.reshape(-1)[ir]} at index "
            f"{_fmt_index(ir, a.shape)} (up to {rtol} allowed)",
        ]
    if path:
        lines.append("")
        lines.append(f"The failure occurred for item {path}")
    return "\n".join(lines)


def _check(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, path):
    if isinstance(expected, Tensor) or isinstance(actual, Tensor):
        if not (isinstance(actual, Tensor) and isinstance(expected, Tensor)):
            return (
                f"Both inputs must be tensors (or both sequences/numbers); got "
                f"{type(actual).__name__} and {type(expected).__name__}"
                + (f" at {path}" if path else "")
            )
        return _compare_tensors(
            actual, expected, rtol, atol, equal_nan, check_dtype, check_device, path
        )
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        if set(actual) != set(expected):
            return (
                f"The keys of the mappings do not match: {sorted(map(str, actual))} != "
                f"{sorted(map(str, expected))}" + (f" at {path}" if path else "")
            )
        for k in expected:
            m = _check(
                actual[k],
                expected[k],
                rtol,
                atol,
                equal_nan,
                check_dtype,
                check_device,
                f"{path}[{k!r}]",
            )
            if m:
                return m
        return None
    seq = (Sequence,)
    if (
        isinstance(expected, seq)
        and isinstance(actual, seq)
        and not isinstance(expected, str | bytes)
    ):
        if len(actual) != len(expected):
            return f"The length of the sequences mismatch: {len(actual)} != {len(expected)}" + (
                f" at {path}" if path else ""
            )
        for i, (x, y) in enumerate(zip(actual, expected, strict=True)):
            m = _check(x, y, rtol, atol, equal_nan, check_dtype, check_device, f"{path}[{i}]")
            if m:
                return m
        return None
    if isinstance(expected, bool | int | float | complex) and isinstance(
        actual, bool | int | float | complex
    ):
        if check_dtype and type(actual) is not type(expected):
            return (
                f"The values for attribute 'type' do not match: {type(actual).__name__} != "
                f"{type(expected).__name__}."
            )
        if rtol is None:
            is_int = isinstance(expected, int) and isinstance(actual, int)
            rtol, atol = (0.0, 0.0) if is_int else _TOL["float64"]
        if equal_nan and isinstance(actual, float) and math.isnan(actual) and math.isnan(expected):
            return None
        if actual == expected or abs(actual - expected) <= atol + rtol * abs(expected):
            return None
        rel = abs(actual - expected) / abs(expected) if expected else math.inf
        return (
            f"Scalars are not close!\n\nExpected {expected} but got {actual}.\n"
            f"Absolute difference: {abs(actual - expected)} (up to {atol} allowed)\n"
            f"Relative difference: {rel}"
            f" (up to {rtol} allowed)"
        )
    return f"No comparison defined for {type(actual).__name__} and {type(expected).__name__}"


def assert_close(
    actual,
    expected,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    equal_nan: bool = False,
    check_device: bool = True,
    check_dtype: bool = True,
    check_layout: bool = True,
    check_stride: bool = False,
    msg=None,
) -> None:
    """Raise ``AssertionError`` unless ``actual`` and ``expected`` (tensors, numbers, or
    nested sequences/mappings of them) are close: ``|actual - expected| <= atol + rtol *
    |expected|`` elementwise, with matching shape, dtype and device. ``rtol`` and
    ``atol`` default per dtype (PyTorch's values) and must be given together.
    ``msg`` replaces the report (a string) or builds it (a callable taking the report)."""
    if (rtol is None) != (atol is None):
        raise ValueError(
            f"Both 'rtol' and 'atol' must be either specified or omitted, but got no "
            f"{'rtol' if rtol is None else 'atol'}."
        )
    report = _check(actual, expected, rtol, atol, equal_nan, check_dtype, check_device, "")
    if report is None:
        return
    if callable(msg):
        report = msg(report)
    elif msg is not None:
        report = msg
    raise AssertionError(report)
