"""A word-level LSTM language model (the layout of PyTorch's word_language_model
example: ``encoder`` embedding, ``rnn`` LSTM, ``decoder`` linear), trained with
:class:`~ember.text.batching.BPTTIterator` batches."""

from __future__ import annotations

import ember
import ember.nn as nn

__all__ = ["LSTMLanguageModel"]


class LSTMLanguageModel(nn.Module):
    """Embedding -> dropout -> multi-layer LSTM -> dropout -> linear over the vocabulary.

    ``forward(x, hidden)`` takes ids (B, T) (batch-first, as BPTTIterator gives them)
    and returns logits (B, T, V) and the new ``(h, c)``, each (layers, B, H); pass the
    state back in, detached (:meth:`detach_hidden`), for the next BPTT step.
    ``tie_weights`` shares the embedding with the output layer (needs
    ``embed_dim == hidden_size``), which usually lowers perplexity.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int = 200,
        hidden_size: int = 200,
        num_layers: int = 2,
        dropout: float = 0.2,
        tie_weights: bool = False,
    ) -> None:
        super().__init__()
        if tie_weights and embed_dim != hidden_size:
            raise ValueError(
                f"tie_weights needs embed_dim == hidden_size, got {embed_dim} and {hidden_size}"
            )
        self.vocab_size, self.hidden_size, self.num_layers = vocab_size, hidden_size, num_layers
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.Embedding(vocab_size, embed_dim)
        self.rnn = nn.LSTM(
            embed_dim, hidden_size, num_layers, dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )  # fmt: skip
        self.decoder = nn.Linear(hidden_size, vocab_size)
        self.init_weights()
        if tie_weights:
            self.decoder.weight = self.encoder.weight

    def init_weights(self, initrange: float = 0.1) -> None:
        """Uniform(-0.1, 0.1) embedding and output weights, zero output bias."""
        nn.init.uniform_(self.encoder.weight, -initrange, initrange)
        nn.init.uniform_(self.decoder.weight, -initrange, initrange)
        nn.init.zeros_(self.decoder.bias)

    def init_hidden(self, batch_size: int) -> tuple[ember.Tensor, ember.Tensor]:
        """Zero ``(h, c)`` for a batch."""
        shape = (self.num_layers, batch_size, self.hidden_size)
        return ember.zeros(shape), ember.zeros(shape)

    @staticmethod
    def detach_hidden(hidden):
        """The state cut from the graph of the previous BPTT step."""
        return tuple(h.detach() for h in hidden)

    def forward(self, x, hidden=None):
        """ids (B, T) -> logits (B, T, V), (h, c)."""
        if x.dim() != 2:
            raise ValueError(f"expected ids of shape (batch, time), got {tuple(x.shape)}")
        emb = self.drop(self.encoder(x))
        out, hidden = self.rnn(emb, hidden)
        b, t, h = out.shape
        logits = self.decoder(self.drop(out).reshape(b * t, h))
        return logits.reshape(b, t, self.vocab_size), hidden
