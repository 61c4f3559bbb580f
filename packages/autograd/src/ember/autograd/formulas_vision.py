"""Derivative formulas of ember-vision's RoIAlign and RoIPool.

``roi_align`` is linear in its input, and its gradient ``roi_align_backward`` is
the adjoint map; each one's derivative is the other, so gradients of every
order exist. Imported by ``ember.vision`` when ember-autograd is installed; the
vision module is looked up lazily so autograd never depends on vision.
"""

from __future__ import annotations

from ember.autograd.formulas import defines


@defines("roi_align")
def _roi_align(ctx, gy):
    from ember.vision._roi_align import adjoint_op

    return (adjoint_op(gy, ctx.params),)


@defines("roi_align_backward")
def _roi_align_backward(ctx, ggx):
    from ember.vision._roi_align import apply_op

    return (apply_op(ggx, ctx.params),)


# RoIPool at fixed maximum positions: a gather forward, a scatter-add backward.
@defines("roi_pool")
def _roi_pool(ctx, gy):
    from ember.vision._roi_pool import scatter_op

    return (scatter_op(gy, ctx.params),)


@defines("roi_pool_backward")
def _roi_pool_backward(ctx, ggx):
    from ember.vision._roi_pool import gather_op

    return (gather_op(ggx, ctx.params),)
