"""Sentence embeddings from a BERT encoder: tokenize, encode, pool, normalize.

``SentenceEncoder.from_pretrained(dir)`` reads a sentence-transformers model
directory (``modules.json``, ``1_Pooling/config.json``, ``sentence_bert_config.json``,
the tokenizer files and the BERT weights), e.g. all-MiniLM-L6-v2.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence

import numpy as np

import ember
import ember.nn as nn
from ember.text.models.bert import BertModel, mean_pooling
from ember.text.tokenizers.wordpiece import BertTokenizer

__all__ = ["SentenceEncoder"]

_POOLING = ("mean", "cls", "max")


class SentenceEncoder(nn.Module):
    """``encode(sentences)`` -> (N, H) embeddings.

    Args:
        model: the encoder.
        tokenizer: its tokenizer.
        pooling: ``"mean"`` over real tokens, ``"cls"`` (first token) or ``"max"``.
        normalize: scale each embedding to unit L2 norm.
        max_seq_length: longer inputs are truncated (special tokens included).
    """

    def __init__(
        self,
        model: BertModel,
        tokenizer: BertTokenizer,
        pooling: str = "mean",
        normalize: bool = True,
        max_seq_length: int = 256,
    ) -> None:
        super().__init__()
        if pooling not in _POOLING:
            raise ValueError(f"pooling must be one of {_POOLING}, got {pooling!r}")
        self.model, self.tokenizer = model, tokenizer
        self.pooling, self.normalize, self.max_seq_length = pooling, normalize, max_seq_length

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str]) -> SentenceEncoder:
        """Load a sentence-transformers directory (BERT + pooling [+ Normalize])."""
        path = os.fspath(path)
        model = BertModel.from_pretrained(path)
        tokenizer = BertTokenizer.from_pretrained(path)
        pooling, normalize, max_len = "mean", False, tokenizer.model_max_length
        modules_path = os.path.join(path, "modules.json")
        if os.path.isfile(modules_path):
            with open(modules_path, encoding="utf-8") as f:
                modules = json.load(f)
            normalize = any(m.get("type", "").endswith(".Normalize") for m in modules)
            for m in modules:
                if m.get("type", "").endswith(".Pooling"):
                    with open(os.path.join(path, m["path"], "config.json"), encoding="utf-8") as f:
                        pooling = _pooling_mode(json.load(f))
        sbert = os.path.join(path, "sentence_bert_config.json")
        if os.path.isfile(sbert):
            with open(sbert, encoding="utf-8") as f:
                max_len = json.load(f).get("max_seq_length", max_len)
        return cls(model, tokenizer, pooling, normalize, max_len).eval()

    def forward(self, input_ids, attention_mask, token_type_ids=None):
        """Pooled (and normalized) embeddings of a tokenized batch: (B, T) -> (B, H)."""
        h = self.model(input_ids, attention_mask, token_type_ids).last_hidden_state
        if self.pooling == "mean":
            e = mean_pooling(h, attention_mask)
        elif self.pooling == "cls":
            e = h[:, 0]
        else:
            pad = (1.0 - attention_mask.to(h.dtype).unsqueeze(-1)) * -1e9
            e = (h + pad).max(1).values
        if self.normalize:
            norm = ember.clamp((e * e).sum(-1, keepdim=True).sqrt(), min=1e-12)
            e = e / norm
        return e

    def encode(
        self, sentences: str | Sequence[str], batch_size: int = 32, convert_to_numpy: bool = False
    ):
        """Embeddings of ``sentences`` in their order, (N, H) (a 1-D vector for one str).

        Sentences are batched by length (as sentence-transformers does) so batches
        carry little padding; runs without recording gradients, in eval mode."""
        single = isinstance(sentences, str)
        sentences = [sentences] if single else list(sentences)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        order = np.argsort([-len(s) for s in sentences], kind="stable")
        out: list[np.ndarray] = [None] * len(sentences)  # type: ignore[list-item]
        was_training = self.training
        self.eval()
        try:
            with ember.no_grad():
                for start in range(0, len(order), batch_size):
                    idx = order[start : start + batch_size]
                    batch = self.tokenizer(
                        [sentences[i] for i in idx], truncation=True, max_length=self.max_seq_length
                    )
                    e = self.forward(
                        batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
                    ).numpy()
                    for j, i in enumerate(idx):
                        out[i] = e[j]
        finally:
            self.train(was_training)
        dim = self.model.config.hidden_size
        arr = np.stack(out) if out else np.zeros((0, dim), np.float32)
        arr = arr[0] if single else arr
        return arr if convert_to_numpy else ember.from_numpy(np.ascontiguousarray(arr))


def _pooling_mode(cfg: dict) -> str:
    if cfg.get("pooling_mode_mean_tokens"):
        return "mean"
    if cfg.get("pooling_mode_cls_token"):
        return "cls"
    if cfg.get("pooling_mode_max_tokens"):
        return "max"
    raise ValueError(f"unsupported pooling configuration {cfg}")
