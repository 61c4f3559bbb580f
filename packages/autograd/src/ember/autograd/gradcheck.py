"""Finite-difference checks of analytic gradients (use float64 inputs)."""

from __future__ import annotations

import numpy as np

from ember._tensor import Tensor, _wrap

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised when analytic and numerical gradients disagree."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, tuple | list) else (x,)


def _outputs(fn, inputs):
    return tuple(o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor) and o.requires_grad)


def _numerical(fn, inputs, eps):
    """Jacobian blocks d(out_j)/d(in_i) by central differences, perturbing in place."""
    from ember.autograd.grad_mode import no_grad

    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with no_grad():
        outs = [o._a.copy() for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]
    jac = {}
    for i in diff:
        a = inputs[i]._a
        blocks = [np.zeros((a.size, o.size), np.float64) for o in outs]
        for k in range(a.size):
            pos = np.unravel_index(k, a.shape)  # works for any memory layout
            orig = a[pos]
            a[pos] = orig + eps
            with no_grad():
                plus = [
                    o._a.astype(np.float64).reshape(-1)
                    for o in _as_tuple(fn(*inputs))
                    if isinstance(o, Tensor)
                ]
            a[pos] = orig - eps
            with no_grad():
                minus = [
                    o._a.astype(np.float64).reshape(-1)
                    for o in _as_tuple(fn(*inputs))
                    if isinstance(o, Tensor)
                ]
            a[pos] = orig
            for j in range(len(outs)):
                blocks[j][k] = (plus[j] - minus[j]) / (2 * eps)
        jac[i] = blocks
    return jac, outs


def _analytic(fn, inputs):
    from ember.autograd import grad

    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]
    jac = {i: [np.zeros((inputs[i].numel(), o.numel()), np.float64) for o in outs] for i in diff}
    for j, o in enumerate(outs):
        if not o.requires_grad:
            continue
        for k in range(o.numel()):
            e = np.zeros(o._a.size, o._a.dtype)
            e[k] = 1
            gs = grad(
                o,
                [inputs[i] for i in diff],
                _wrap(e.reshape(o._a.shape)),
                retain_graph=True,
                allow_unused=True,
            )
            for i, g in zip(diff, gs):
                if g is not None:
                    jac[i][j][:, k] = g._a.astype(np.float64).reshape(-1)
    return jac


def gradcheck(
    func,
    inputs,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **_ignored,
) -> bool:
    """Compare ``func``'s analytic Jacobian with central finite differences.

    ``inputs`` is a tensor or tuple; those with ``requires_grad`` are checked. Returns
    True, or raises :class:`GradcheckError` naming the input/output pair that differs.
    """
    inputs = _as_tuple(inputs)
    for x in inputs:
        if (
            isinstance(x, Tensor)
            and x.requires_grad
            and x.dtype.itemsize < 8
            and x.dtype.name != "complex64"
        ):
            import warnings

            warnings.warn(
                "gradcheck inputs are not double precision: expect false alarms", stacklevel=2
            )
    num, _ = _numerical(func, inputs, eps)
    ana = _analytic(func, inputs)
    for i in num:
        for j, (n, a) in enumerate(zip(num[i], ana[i])):
            if not np.allclose(a, n, atol=atol, rtol=rtol):
                if not raise_exception:
                    return False
                worst = np.unravel_index(np.argmax(np.abs(a - n)), a.shape)
                raise GradcheckError(
                    f"Jacobian mismatch for output {j} with respect to input {i}:\n"
                    f"numerical:{n}\nanalytical:{a}\nlargest difference at {worst}: "
                    f"{n[worst]} vs {a[worst]}"
                )
    return True


def gradgradcheck(
    func,
    inputs,
    grad_outputs=None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    raise_exception: bool = True,
    **_ignored,
) -> bool:
    """Check second derivatives: gradcheck of ``v -> grad(func(x), x, v, create_graph=True)``."""
    from ember import _ops
    from ember.autograd import grad

    inputs = _as_tuple(inputs)
    outs = _outputs(func, inputs)
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(
            _wrap(rng.standard_normal(o._a.shape).astype(o._a.dtype)).requires_grad_(True)
            for o in outs
        )
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def first_grads(*args):
        from ember.autograd.grad_mode import enable_grad

        xs, vs = args[:n_in], args[n_in:]
        with enable_grad():  # gradcheck evaluates its function under no_grad
            ys = _outputs(func, xs)
            gs = grad(ys, [xs[i] for i in diff], vs, create_graph=True, allow_unused=True)
        return tuple(
            g if g is not None else _ops.creation.zeros_like(xs[i]) for g, i in zip(gs, diff)
        )

    return gradcheck(
        first_grads,
        inputs + grad_outputs,
        eps=eps,
        atol=atol,
        rtol=rtol,
        raise_exception=raise_exception,
    )
