"""Derivative formulas of the fused ops of ember-nn's recurrent layers and CTC loss.

Imported by ``ember.nn`` (``ember.nn.modules._extra``) after the ops exist; the
ops' modules are looked up lazily so autograd never depends on nn.
"""

from __future__ import annotations

from ember.autograd.formulas import defines


@defines("rnn_sequence", inputs=True)
def _rnn_sequence(ctx, gys):
    from ember.nn.functional._rnn import rnn_sequence_grad

    return rnn_sequence_grad(ctx, gys)


@defines("ctc_loss", inputs=True)
def _ctc_loss(ctx, gy):
    from ember.nn.functional._ctc import ctc_loss_grad

    return ctc_loss_grad(ctx, gy)


@defines("ctc_loss_backward")
def _ctc_loss_backward(ctx, gg):
    raise RuntimeError(
        "ctc_loss: double backward is not implemented (its gradient comes from the "
        "alpha-beta recursion, which is differentiable once, as in PyTorch); a "
        "create_graph=True backward through ctc_loss works, differentiating its "
        "gradient again does not"
    )
