"""Activation checkpointing: trade compute for memory.

``checkpoint(fn, *args)`` runs ``fn`` without recording a graph, so none of its
intermediate activations are kept; only the inputs are. In backward, ``fn`` runs
again (with the random-number state it saw the first time, so dropout draws the
same masks) with recording on, and the gradients flow through that recomputed
graph: into ``args`` and, directly, into the ``.grad`` of any parameter ``fn``
uses. When no input requires grad there is nothing to recompute through, so ``fn``
simply runs with recording on (no memory saved, parameters still get gradients).
Like PyTorch's reentrant checkpoint, it works with ``.backward()``, not with
``ember.autograd.grad`` (the parameters' gradients go straight to ``.grad``).
"""

from __future__ import annotations

import ember as E
from ember._tensor import Tensor
from ember.autograd import Function

__all__ = ["checkpoint", "checkpoint_sequential"]


class _Checkpoint(Function):
    @staticmethod
    def forward(ctx, fn, preserve_rng_state, *args):
        ctx.fn = fn
        ctx.rng = E.get_rng_state() if preserve_rng_state else None
        ctx.n_args = len(args)
        ctx.tensor_idx = [i for i, a in enumerate(args) if isinstance(a, Tensor)]
        ctx.others = [None if isinstance(a, Tensor) else a for a in args]
        ctx.save_for_backward(*[args[i] for i in ctx.tensor_idx])
        out = fn(*args)
        ctx.single = not isinstance(out, tuple)
        return out

    @staticmethod
    def backward(ctx, *grads):
        args = list(ctx.others)
        saved = ctx.saved_tensors
        for i, t in zip(ctx.tensor_idx, saved):
            d = t.detach()
            d.requires_grad_(t.requires_grad)
            args[i] = d
        state = None
        if ctx.rng is not None:
            state = E.get_rng_state()
            E.set_rng_state(ctx.rng)
        try:
            with E.enable_grad():
                out = ctx.fn(*args)
        finally:
            if state is not None:
                E.set_rng_state(state)
        outs = (out,) if ctx.single else out
        pairs = [
            (o, g)
            for o, g in zip(outs, grads)
            if isinstance(o, Tensor) and o.requires_grad and g is not None
        ]
        if pairs:
            E.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        gin = tuple(a.grad if isinstance(a, Tensor) else None for a in args)
        return (None, None) + gin


def checkpoint(
    function, *args, use_reentrant: bool = True, preserve_rng_state: bool = True, **kwargs
):
    """``function(*args)``, keeping only ``args`` for backward and recomputing the
    rest then (see the module docstring). Returns what ``function`` returns."""
    if kwargs:
        raise ValueError(f"checkpoint: unexpected keyword arguments {sorted(kwargs)}")
    if not any(isinstance(a, Tensor) and a.requires_grad for a in args):
        # nothing to differentiate through: just run it
        return function(*args)
    return _Checkpoint.apply(function, preserve_rng_state, *args)


def checkpoint_sequential(
    functions,
    segments: int,
    input: Tensor,
    use_reentrant: bool = True,
    preserve_rng_state: bool = True,
):
    """Run a ``Sequential`` (or list of callables) in ``segments`` checkpointed chunks;
    the last chunk runs normally."""
    fns = list(functions.children()) if hasattr(functions, "children") else list(functions)
    if segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be >= 1, got {segments}")
    size = max(1, len(fns) // segments)

    def run(chunk):
        def f(x):
            for fn in chunk:
                x = fn(x)
            return x

        return f

    start = 0
    while start + size < len(fns):
        input = checkpoint(
            run(fns[start : start + size]), input, preserve_rng_state=preserve_rng_state
        )
        start += size
    return run(fns[start:])(input)
