"""BERT encoder with Hugging Face parameter names, so ``model.safetensors`` files load
by name (``embeddings.word_embeddings.weight``,
``encoder.layer.0.attention.self.query.weight``, ...)."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields
from typing import Any, NamedTuple

import ember
import ember.nn as nn
import ember.nn.functional as F

__all__ = ["BertConfig", "BertModel", "BertOutput", "mean_pooling"]

_ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: F.gelu(x, approximate="tanh"),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "relu": F.relu,
}


@dataclass
class BertConfig:
    """The fields of a BERT ``config.json`` that shape the network."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    position_embedding_type: str = "absolute"

    def __post_init__(self) -> None:
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not a multiple of "
                f"num_attention_heads {self.num_attention_heads}"
            )
        if self.hidden_act not in _ACTIVATIONS:
            raise ValueError(
                f"hidden_act {self.hidden_act!r} is not supported; "
                f"expected one of {sorted(_ACTIVATIONS)}"
            )
        if self.position_embedding_type != "absolute":
            raise ValueError(
                "only absolute position embeddings are supported, "
                f"got {self.position_embedding_type!r}"
            )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BertConfig:
        """Keep the known keys of a ``config.json`` dict (others, like
        ``architectures``, do not change the network)."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_json_file(cls, path: str | os.PathLike[str]) -> BertConfig:
        """Read a ``config.json``."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_dict(self) -> dict[str, Any]:
        """The config as a JSON-ready dict."""
        return asdict(self)


def _linear(layer: nn.Linear, x):
    """``layer(x)`` on (B, T, H) through a 2-D matmul: numpy's stacked matmul with a
    transposed weight skips BLAS and is several times slower."""
    b, t, h = x.shape
    return layer(x.reshape(b * t, h)).reshape(b, t, -1)


class BertOutput(NamedTuple):
    """``last_hidden_state`` (B, T, H) and ``pooler_output`` (B, H) or None."""

    last_hidden_state: ember.Tensor
    pooler_output: ember.Tensor | None


class BertEmbeddings(nn.Module):
    """Word + position + token-type embeddings, then LayerNorm and dropout."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        h = config.hidden_size
        self.word_embeddings = nn.Embedding(config.vocab_size, h, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, h)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, h)
        self.LayerNorm = nn.LayerNorm(h, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)
        positions = ember.arange(config.max_position_embeddings, dtype=ember.int64).reshape(1, -1)
        self.register_buffer("position_ids", positions, persistent=False)

    def forward(self, input_ids, token_type_ids=None, position_ids=None):
        """(B, T) ids -> (B, T, H)."""
        t = input_ids.shape[1]
        if position_ids is None:
            position_ids = self.position_ids[:, :t]
        if token_type_ids is None:
            token_type_ids = ember.zeros(tuple(input_ids.shape), dtype=ember.int64)
        x = self.word_embeddings(input_ids) + self.token_type_embeddings(token_type_ids)
        x = x + self.position_embeddings(position_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(nn.Module):
    """Multi-head scaled dot-product attention with ``query``/``key``/``value`` layers."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        h = config.hidden_size
        self.num_heads = config.num_attention_heads
        self.head_dim = h // self.num_heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def _heads(self, x):
        b, t, _ = x.shape
        return x.reshape(b, t, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, x, additive_mask=None):
        """(B, T, H) -> (B, T, H); ``additive_mask`` (B, 1, 1, T) holds 0 or a large
        negative number for padding keys."""
        q = self._heads(_linear(self.query, x))
        k = self._heads(_linear(self.key, x))
        v = self._heads(_linear(self.value, x))
        scores = ember.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.head_dim))
        if additive_mask is not None:
            scores = scores + additive_mask
        probs = self.dropout(F.softmax(scores, dim=-1))
        ctx = ember.matmul(probs, v).permute(0, 2, 1, 3)
        b, t = ctx.shape[0], ctx.shape[1]
        return ctx.reshape(b, t, self.num_heads * self.head_dim)


class _DenseNorm(nn.Module):
    """``LayerNorm(dropout(dense(x)) + residual)``: BERT's sub-layer output."""

    def __init__(self, d_in: int, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(_linear(self.dense, x)) + residual)


class BertAttention(nn.Module):
    """Self-attention (``self``) and its output projection (``output``)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        # "self" is a legal attribute name and the checkpoint's key: attention.self.query
        setattr(self, "self", BertSelfAttention(config))  # noqa: B010
        self.output = _DenseNorm(config.hidden_size, config)

    def forward(self, x, additive_mask=None):
        return self.output(self.self(x, additive_mask), x)


class _Intermediate(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.act = _ACTIVATIONS[config.hidden_act]

    def forward(self, x):
        return self.act(_linear(self.dense, x))


class BertLayer(nn.Module):
    """Attention then feed-forward, each with a residual and LayerNorm."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = _Intermediate(config)
        self.output = _DenseNorm(config.intermediate_size, config)

    def forward(self, x, additive_mask=None):
        x = self.attention(x, additive_mask)
        return self.output(self.intermediate(x), x)


class BertEncoder(nn.Module):
    """``layer.0`` ... ``layer.{N-1}``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, x, additive_mask=None):
        for layer in self.layer:
            x = layer(x, additive_mask)
        return x


class BertPooler(nn.Module):
    """``tanh(dense(first token))``."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(self, x):
        return ember.tanh(self.dense(x[:, 0]))


class BertModel(nn.Module):
    """The BERT encoder: ``BertModel(config)(input_ids, attention_mask, token_type_ids)``
    gives :class:`BertOutput` (``last_hidden_state`` (B, T, H), ``pooler_output``).

    ``BertModel.from_pretrained(dir_or_url)`` reads ``config.json`` and
    ``model.safetensors`` (or ``pytorch_model.bin``) written by Hugging Face.
    """

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"BertModel needs a BertConfig, got {type(config).__name__}")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self.apply(self._init_weights)

    def _init_weights(self, m: nn.Module) -> None:
        # BERT's initialization: N(0, initializer_range=0.02) weights, zero biases
        if isinstance(m, nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear) and m.bias is not None:
                nn.init.zeros_(m.bias)
            if isinstance(m, nn.Embedding) and m.padding_idx is not None:
                with ember.no_grad():
                    m.weight[m.padding_idx] = 0.0

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None):
        """``input_ids`` (B, T) int64; ``attention_mask`` (B, T) of 1 (token) / 0 (pad)."""
        if input_ids.dim() != 2:
            raise ValueError(
                f"input_ids must be (batch, seq_len), got shape {tuple(input_ids.shape)}"
            )
        t = input_ids.shape[1]
        if t > self.config.max_position_embeddings:
            raise ValueError(
                f"sequence length {t} exceeds max_position_embeddings "
                f"{self.config.max_position_embeddings}; truncate the input"
            )
        x = self.embeddings(input_ids, token_type_ids, position_ids)
        additive = None
        if attention_mask is not None:
            dtype = x.dtype
            keep = attention_mask.to(dtype).reshape(attention_mask.shape[0], 1, 1, t)
            additive = (1.0 - keep) * float(ember.finfo(dtype).min)
        h = self.encoder(x, additive)
        return BertOutput(h, self.pooler(h) if self.pooler is not None else None)

    @classmethod
    def from_pretrained(
        cls,
        path_or_url: str | os.PathLike[str],
        *,
        sha256: dict[str, str] | None = None,
        progress: bool = True,
    ) -> BertModel:
        """Load a Hugging Face BERT directory (local, or a URL of one: its
        ``config.json`` and ``model.safetensors`` are downloaded through ember.hub,
        hash-checked against ``sha256[file name]`` when given)."""
        from ember.text.models._pretrained import load_bert_files

        return load_bert_files(cls, path_or_url, sha256=sha256, progress=progress)


def mean_pooling(last_hidden_state, attention_mask):
    """Average of the token vectors where ``attention_mask`` is 1: (B, T, H) -> (B, H)."""
    m = attention_mask.to(last_hidden_state.dtype).unsqueeze(-1)
    total = (last_hidden_state * m).sum(1)
    return total / ember.clamp(m.sum(1), min=1e-9)
