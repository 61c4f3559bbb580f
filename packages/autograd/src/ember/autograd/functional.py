"""Higher-level derivatives of functions: ``vjp``, ``jvp``, ``jacobian``,
``hessian``, ``hvp`` and ``vhp``, built on :func:`ember.autograd.grad`."""

from __future__ import annotations

from ember._tensor import Tensor

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tup(x):
    return (x, False) if isinstance(x, tuple | list) else ((x,), True)


def _prep(inputs, create_graph):
    inputs, single = _tup(inputs)
    prepped = tuple(x.detach().requires_grad_(True) for x in inputs)
    return prepped, single


def _grad(outs, ins, gos, create_graph):
    from ember._ops.creation import zeros_like
    from ember.autograd import grad

    gs = grad(outs, ins, gos, create_graph=True, retain_graph=True, allow_unused=True)
    return tuple(zeros_like(x) if g is None else g for g, x in zip(gs, ins))


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), v^T J)``."""
    from ember.autograd.grad_mode import enable_grad

    with enable_grad():
        xs, single = _prep(inputs, create_graph)
        out = func(*xs)
        outs, out_single = _tup(out)
        if v is None:
            if any(o.numel() != 1 for o in outs):
                raise RuntimeError(
                    "vjp: v can only be None when the function's output is a single-element tensor"
                )
            from ember._ops.creation import ones_like

            vs = tuple(ones_like(o) for o in outs)
        else:
            vs, _ = _tup(v)
        gs = _grad(outs, xs, vs, create_graph)
    if not create_graph:
        gs = tuple(g.detach() for g in gs)
        out = tuple(o.detach() for o in outs)
        out = out[0] if out_single else out
    return out, (gs[0] if single else gs)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), J v)`` by the double-vjp trick."""
    from ember._ops.creation import ones_like, zeros_like
    from ember.autograd.grad_mode import enable_grad

    with enable_grad():
        xs, single = _prep(inputs, create_graph)
        outs, out_single = _tup(func(*xs))
        us = tuple(zeros_like(o).requires_grad_(True) for o in outs)
        gs = _grad(outs, xs, us, True)
        if v is None:
            vs = tuple(ones_like(x) for x in xs)
        else:
            vs, _ = _tup(v)
        jv = _grad(gs, us, vs, create_graph)
    if not create_graph:
        jv = tuple(j.detach() for j in jv)
        outs = tuple(o.detach() for o in outs)
    return (outs[0] if out_single else outs), (jv[0] if out_single else jv)


def jacobian(
    func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False
):
    """The Jacobian ``d func(inputs) / d inputs``, shaped ``out.shape + in.shape``."""
    from ember._ops.creation import zeros
    from ember._ops.shape import stack
    from ember.autograd.grad_mode import enable_grad

    with enable_grad():
        xs, single = _prep(inputs, create_graph)
        outs, out_single = _tup(func(*xs))
        result = []
        for o in outs:
            rows = [[] for _ in xs]
            flat = o.reshape(-1)
            for k in range(flat.numel()):
                e = zeros(flat.numel(), dtype=o.dtype)
                e[k] = 1
                gs = _grad((o,), xs, (e.reshape(o.shape),), create_graph)
                for r, g in zip(rows, gs):
                    r.append(g if create_graph else g.detach())
            blocks = tuple(
                (
                    stack(r).reshape(tuple(o.shape) + tuple(x.shape))
                    if r
                    else zeros(tuple(o.shape) + tuple(x.shape), dtype=o.dtype)
                )
                for r, x in zip(rows, xs)
            )
            result.append(blocks[0] if single else blocks)
    return result[0] if out_single else tuple(result)


def hessian(
    func,
    inputs,
    create_graph: bool = False,
    strict: bool = False,
    vectorize: bool = False,
    outer_jacobian_strategy: str = "reverse-mode",
):
    """The Hessian of a scalar function, shaped ``in.shape + in.shape``."""
    xs_single = isinstance(inputs, Tensor)

    def grad_fn(*xs):
        from ember.autograd import grad

        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError("hessian: the function must return a single-element tensor")
        gs = grad(out, xs, create_graph=True, allow_unused=True)
        from ember._ops.creation import zeros_like

        gs = tuple(zeros_like(x) if g is None else g for g, x in zip(gs, xs))
        return gs[0] if xs_single else gs

    return jacobian(grad_fn, inputs, create_graph=create_graph)


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """``(func(inputs), H v)`` for a scalar function (H symmetric, so also v^T H)."""
    from ember.autograd.grad_mode import enable_grad

    with enable_grad():
        xs, single = _prep(inputs, create_graph)
        out = func(*xs)
        gs = _grad((out,), xs, (None,), True)
        vs, _ = _tup(v)
        hv = _grad(gs, xs, vs, create_graph)
    if not create_graph:
        hv = tuple(h.detach() for h in hv)
        out = out.detach()
    return out, (hv[0] if single else hv)


vhp = hvp
