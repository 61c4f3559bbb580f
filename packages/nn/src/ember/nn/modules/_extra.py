"""Layers written by nn-B (recurrent layers, attention and transformers, padding,
sampling, EmbeddingBag, CTC loss); ``ember.nn.modules`` re-exports them."""

import ember.autograd.formulas_nn_b  # noqa: F401 - derivatives of the fused ops below
from ember.nn.modules import activation_attention, misc_layers, rnn, transformer

__all__: list[str] = [
    *rnn.__all__,
    *activation_attention.__all__,
    *transformer.__all__,
    *misc_layers.__all__,
]
