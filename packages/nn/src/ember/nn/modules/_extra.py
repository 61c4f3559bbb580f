"""Layers written by nn-B (recurrent layers, attention and transformers, padding,
sampling, EmbeddingBag, CTC loss); ``ember.nn.modules`` re-exports them."""

import ember.autograd.formulas_nn_b  # noqa: F401 - derivatives of the fused ops below
from ember.nn.modules.rnn import *
from ember.nn.modules.rnn import __all__ as _rnn_all

__all__: list[str] = [*_rnn_all]
