"""Text classifiers over padded id batches ``(B, T)`` with their lengths ``(B,)``."""

from __future__ import annotations

import ember
import ember.nn as nn
from ember.nn.utils.rnn import pack_padded_sequence

__all__ = ["BagOfEmbeddingsClassifier", "LSTMClassifier"]


def _length_mask(lengths, t: int, dtype):
    """(B, T) with 1 where the position is inside the sequence."""
    positions = ember.arange(t, dtype=ember.int64).reshape(1, t)
    return (positions < lengths.reshape(-1, 1)).to(dtype)


class BagOfEmbeddingsClassifier(nn.Module):
    """Mean of the token embeddings (padding excluded), then a linear layer: the model
    of torchtext's text-classification tutorial (its ``EmbeddingBag(mode="mean")``)."""

    def __init__(
        self, vocab_size: int, embed_dim: int, num_class: int, padding_idx: int = 0
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.fc = nn.Linear(embed_dim, num_class)
        nn.init.uniform_(self.embedding.weight, -0.5, 0.5)
        nn.init.uniform_(self.fc.weight, -0.5, 0.5)
        nn.init.zeros_(self.fc.bias)

    def forward(self, ids, lengths):
        """ids (B, T), lengths (B,) -> logits (B, num_class)."""
        e = self.embedding(ids)
        mask = _length_mask(lengths, ids.shape[1], e.dtype).unsqueeze(-1)
        mean = (e * mask).sum(1) / ember.clamp(lengths.to(e.dtype).reshape(-1, 1), min=1.0)
        return self.fc(mean)


class LSTMClassifier(nn.Module):
    """Embedding -> (bi)LSTM over the packed sequence -> final states -> dropout -> linear."""

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        hidden_size: int,
        num_class: int,
        num_layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.3,
        padding_idx: int = 0,
    ) -> None:
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.rnn = nn.LSTM(
            embed_dim, hidden_size, num_layers, batch_first=True, bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )  # fmt: skip
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden_size * (2 if bidirectional else 1), num_class)
        self.bidirectional = bidirectional

    def forward(self, ids, lengths):
        """ids (B, T), lengths (B,) -> logits (B, num_class); any length order."""
        packed = pack_padded_sequence(
            self.drop(self.embedding(ids)), lengths, batch_first=True, enforce_sorted=False
        )
        _, (h, _) = self.rnn(packed)
        last = ember.cat([h[-2], h[-1]], dim=1) if self.bidirectional else h[-1]
        return self.fc(self.drop(last))
