"""``Field``: the classic torchtext convenience for quick experiments, bundling
tokenization, a vocabulary, BOS/EOS, truncation and padded batching in one object::

    TEXT = Field(tokenize="basic_english", init_token="<bos>", eos_token="<eos>")
    TEXT.build_vocab(train_texts, min_freq=2)
    batch, lengths = TEXT.process(["a first text", "another one"])  # (B, T), (B,)

It is built from the pieces in :mod:`ember.text.transforms` and :mod:`ember.text.vocab`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ember.text.tokenizers import get_tokenizer
from ember.text.transforms import pad_sequence
from ember.text.vocab import Vocab, build_vocab_from_iterator

__all__ = ["Field"]


class Field:
    """Text -> tokens -> ids -> padded int64 batch (and lengths).

    Args:
        tokenize: a tokenizer name for :func:`get_tokenizer` or a callable.
        lower: lowercase before tokenizing.
        init_token, eos_token: added around every sequence when not None.
        pad_token, unk_token: the padding and unknown-token specials.
        fix_length: pad or cut every sequence to this many tokens (specials included).
        batch_first: (B, T) batches, else (T, B).
        include_lengths: :meth:`process` also returns the lengths.
    """

    def __init__(
        self,
        tokenize: str | Callable[[str], list[str]] | None = "basic_english",
        lower: bool = False,
        init_token: str | None = None,
        eos_token: str | None = None,
        pad_token: str = "<pad>",
        unk_token: str = "<unk>",
        fix_length: int | None = None,
        batch_first: bool = True,
        include_lengths: bool = True,
    ) -> None:
        self.tokenizer = get_tokenizer(tokenize)
        self.lower = lower
        self.init_token, self.eos_token = init_token, eos_token
        self.pad_token, self.unk_token = pad_token, unk_token
        self.fix_length, self.batch_first = fix_length, batch_first
        self.include_lengths = include_lengths
        self.vocab: Vocab | None = None

    def preprocess(self, text: str) -> list[str]:
        """Lowercase (if asked) and tokenize one text."""
        return self.tokenizer(text.lower() if self.lower else text)

    def build_vocab(
        self, *sources: Iterable[str], min_freq: int = 1, max_size: int | None = None
    ) -> Vocab:
        """Count tokens over raw texts in ``sources``; specials come first. ``max_size``
        counts the ordinary tokens (specials are extra), as in torchtext's Field."""
        specials = [
            t for t in (self.unk_token, self.pad_token, self.init_token, self.eos_token) if t
        ]
        tokens = (self.preprocess(t) for src in sources for t in src)
        cap = None if max_size is None else max_size + len(specials)
        self.vocab = build_vocab_from_iterator(tokens, min_freq, specials, True, cap)
        self.vocab.set_default_index(self.vocab[self.unk_token])
        return self.vocab

    def numericalize(self, tokens: Sequence[str]) -> list[int]:
        """Ids of one token list with BOS/EOS added and ``fix_length`` applied."""
        if self.vocab is None:
            raise RuntimeError("call build_vocab before numericalizing")
        body = list(tokens)
        if self.fix_length is not None:
            room = self.fix_length - bool(self.init_token) - bool(self.eos_token)
            body = body[: max(room, 0)]
        seq = ([self.init_token] if self.init_token else []) + body
        seq += [self.eos_token] if self.eos_token else []
        return self.vocab(seq)

    def process(self, texts: Sequence[str]):
        """A batch of raw texts -> padded ids (and int64 lengths when include_lengths)."""
        import ember

        if isinstance(texts, str):
            raise TypeError("Field.process expects a list of texts, got a str")
        ids = [self.numericalize(self.preprocess(t)) for t in texts]
        lengths = ember.tensor([len(s) for s in ids], dtype=ember.int64)
        pad = self.vocab[self.pad_token]
        if self.fix_length is not None:
            ids = [s + [pad] * (self.fix_length - len(s)) for s in ids]
        padded = pad_sequence(ids, self.batch_first, pad, dtype=ember.int64)
        return (padded, lengths) if self.include_lengths else padded

    __call__ = process
