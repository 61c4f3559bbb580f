"""What the subword tokenizers share: special-token matching, truncation, batching."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Encoding", "SpecialTokensMixin"]


@dataclass
class Encoding:
    """One encoded input: ``ids`` and the segment (``token_type_ids``) of each."""

    ids: list[int]
    type_ids: list[int] = field(default_factory=list)


def _truncate_pair(a: list[int], b: list[int] | None, budget: int) -> tuple[list, list | None]:
    """Drop tokens from the end of the longer sequence until both fit in ``budget``."""
    if b is None:
        return a[: max(budget, 0)], None
    la, lb = len(a), len(b)
    while la + lb > budget and (la > 0 or lb > 0):
        if la > lb:
            la -= 1
        else:
            lb -= 1
    return a[:la], b[:lb]


class SpecialTokensMixin:
    """Needs ``vocab``, ``ids_to_tokens``, ``pad_token``, ``model_max_length`` and the
    methods ``_encode_one(text) -> ids`` and ``build_inputs(ids_a, ids_b) -> Encoding``."""

    vocab: dict[str, int]
    ids_to_tokens: dict[int, str]
    pad_token: str | None
    model_max_length: int | None

    def _init_special_tokens(self, tokens: Sequence[str]) -> None:
        old = getattr(self, "_special_tokens", [])
        merged = list(dict.fromkeys([*old, *tokens]))
        self._special_tokens = sorted(merged, key=len, reverse=True)  # longest match first
        self._special_set = frozenset(merged)

    @property
    def all_special_tokens(self) -> list[str]:
        """Tokens matched verbatim in the input before any normalization."""
        return list(self._special_tokens)

    def _split_special(self, text: str) -> list[tuple[str, bool]]:
        """Cut ``text`` around literal special tokens: ``[(segment, is_special), ...]``."""
        if not self._special_tokens:
            return [(text, False)]
        out: list[tuple[str, bool]] = []
        i = start = 0
        while i < len(text):
            for tok in self._special_tokens:
                if text.startswith(tok, i):
                    if i > start:
                        out.append((text[start:i], False))
                    out.append((tok, True))
                    i = start = i + len(tok)
                    break
            else:
                i += 1
        if start < len(text):
            out.append((text[start:], False))
        return out

    def __len__(self) -> int:
        return len(self.vocab)

    @property
    def vocab_size(self) -> int:
        """Number of tokens in the vocabulary."""
        return len(self.vocab)

    def convert_tokens_to_ids(self, tokens: str | Sequence[str]) -> int | list[int]:
        """Ids of tokens (unknown ones raise KeyError naming the token)."""
        if isinstance(tokens, str):
            return self.vocab[tokens]
        missing = [t for t in tokens if t not in self.vocab]
        if missing:
            raise KeyError(f"tokens not in the vocabulary: {missing[:5]}")
        return [self.vocab[t] for t in tokens]

    def convert_ids_to_tokens(self, ids: int | Sequence[int]) -> str | list[str]:
        """Tokens of ids (out-of-range ids raise IndexError)."""
        single = isinstance(ids, int | np.integer)
        seq = [int(ids)] if single else [int(i) for i in ids]
        bad = [i for i in seq if i not in self.ids_to_tokens]
        if bad:
            raise IndexError(
                f"token ids out of range for a vocabulary of {len(self.vocab)}: {bad[:5]}"
            )
        tokens = [self.ids_to_tokens[i] for i in seq]
        return tokens[0] if single else tokens

    def encode_plus(
        self,
        text: str,
        text_pair: str | None = None,
        add_special_tokens: bool = True,
        truncation: bool = False,
        max_length: int | None = None,
    ) -> Encoding:
        """Ids and token types of ``text`` (and ``text_pair``), truncated longest-first to
        ``max_length`` (special tokens included) when ``truncation``."""
        a = self._encode_one(text)
        b = None if text_pair is None else self._encode_one(text_pair)
        if truncation:
            limit = max_length if max_length is not None else self.model_max_length
            if limit is None:
                raise ValueError("truncation=True needs max_length (the tokenizer has no default)")
            specials = len(self.build_inputs([], None if b is None else []).ids)
            if limit < specials:
                raise ValueError(
                    f"max_length={limit} leaves no room beside {specials} special tokens"
                )
            a, b = _truncate_pair(a, b, limit - specials if add_special_tokens else limit)
        if not add_special_tokens:
            ids = a + (b or [])
            return Encoding(ids, [0] * len(a) + [1] * len(b or []))
        return self.build_inputs(a, b)

    def encode(self, text: str, text_pair: str | None = None, **kwargs) -> list[int]:
        """The ids of ``text`` (see :meth:`encode_plus` for the options)."""
        return self.encode_plus(text, text_pair, **kwargs).ids

    def __call__(
        self,
        texts: str | Sequence[str],
        text_pairs: Sequence[str] | None = None,
        padding: bool | str = True,
        truncation: bool = True,
        max_length: int | None = None,
        return_tensors: str | None = "ember",
    ) -> dict:
        """Encode a batch: ``{"input_ids", "token_type_ids", "attention_mask"}``.

        ``truncation`` cuts to ``max_length`` (else the tokenizer's ``model_max_length``;
        with neither, nothing is cut). ``padding``: ``True``/``"longest"`` pads to the
        longest item, ``"max_length"`` to ``max_length``, ``False`` not at all (then
        ``return_tensors`` must be None).
        With ``return_tensors="ember"`` each value is an int64 tensor (batch, length);
        ``None`` gives lists of lists.
        """
        if isinstance(texts, str):
            texts = [texts]
        if text_pairs is not None and len(text_pairs) != len(texts):
            raise ValueError(f"{len(texts)} texts but {len(text_pairs)} text_pairs")
        # truncate by default only when some limit is known (the argument or the model's)
        truncation = truncation and (max_length is not None or self.model_max_length is not None)
        encs = [
            self.encode_plus(
                t, None if text_pairs is None else text_pairs[i], True, truncation, max_length
            )
            for i, t in enumerate(texts)
        ]
        if padding not in (True, False, "longest", "max_length", "do_not_pad"):
            raise ValueError(
                f"padding must be True, False, 'longest' or 'max_length', got {padding!r}"
            )
        if padding in (False, "do_not_pad"):
            if return_tensors is not None:
                raise ValueError("unpadded sequences differ in length: use return_tensors=None")
            return {
                "input_ids": [e.ids for e in encs],
                "token_type_ids": [e.type_ids for e in encs],
                "attention_mask": [[1] * len(e.ids) for e in encs],
            }
        longest = max((len(e.ids) for e in encs), default=0)
        if padding == "max_length":
            if max_length is None:
                raise ValueError("padding='max_length' needs max_length")
            longest = max_length
        if self.pad_token not in self.vocab:
            raise ValueError(f"pad token {self.pad_token!r} is not in the vocabulary")
        pad_id = self.vocab[self.pad_token]
        ids = np.full((len(encs), longest), pad_id, dtype=np.int64)
        types = np.zeros((len(encs), longest), dtype=np.int64)
        mask = np.zeros((len(encs), longest), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, : len(e.ids)] = e.ids
            types[i, : len(e.type_ids)] = e.type_ids
            mask[i, : len(e.ids)] = 1
        out = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        if return_tensors is None:
            return {k: v.tolist() for k, v in out.items()}
        if return_tensors not in ("ember", "pt", "np"):
            raise ValueError(
                f"return_tensors must be 'ember', 'np' or None, got {return_tensors!r}"
            )
        if return_tensors == "np":
            return out
        import ember

        return {k: ember.from_numpy(v) for k, v in out.items()}
