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


@defines("ctc_loss")
def _ctc_loss(ctx, gy):
    from ember.nn.functional._ctc import ctc_loss_grad

    return ctc_loss_grad(ctx, gy)
