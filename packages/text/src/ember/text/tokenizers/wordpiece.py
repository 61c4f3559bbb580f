"""BERT's tokenizer: basic tokenization, then greedy longest-match-first WordPiece.

Reads a ``vocab.txt`` (one token per line, the line number is the id) or a Hugging
Face ``tokenizer.json`` whose model is ``WordPiece``, and reproduces the ids of the
reference implementation (Hugging Face ``tokenizers``) exactly, including special
tokens written literally in the text (``"[MASK]"``), which are matched first.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Sequence

from ember.text.tokenizers._encoding import Encoding, SpecialTokensMixin
from ember.text.tokenizers._unicode import is_cjk, is_control, is_punctuation, is_whitespace

__all__ = ["BertTokenizer", "load_vocab_txt"]


def load_vocab_txt(path: str | os.PathLike[str]) -> dict[str, int]:
    """``{token: line number}`` from a WordPiece ``vocab.txt``."""
    vocab: dict[str, int] = {}
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            token = line.rstrip("\n")
            if token in vocab:
                raise ValueError(
                    f"{path}: token {token!r} appears twice (lines {vocab[token] + 1}, {i + 1})"
                )
            vocab[token] = i
    if not vocab:
        raise ValueError(f"{path}: empty vocabulary")
    return vocab


class BertTokenizer(SpecialTokensMixin):
    """BERT tokenization: normalize, split on whitespace and punctuation, then WordPiece.

    Args:
        vocab: ``{token: id}`` or the tokens in id order.
        lowercase: lowercase the text (uncased models).
        strip_accents: remove combining marks after NFD; ``None`` follows ``lowercase``.
        handle_chinese_chars: put spaces around CJK ideographs (one token each).
        clean_text: drop control characters and NUL/U+FFFD, map whitespace to spaces.
        max_input_chars_per_word: longer words become ``unk_token``.
        model_max_length: default ``max_length`` for truncation (special tokens included).

    ``tokenize(text)`` gives word pieces, ``encode(text)`` ids with ``[CLS]``/``[SEP]``,
    and calling the tokenizer on a list of texts a padded batch of ember tensors.
    """

    def __init__(
        self,
        vocab: dict[str, int] | Sequence[str],
        *,
        lowercase: bool = True,
        strip_accents: bool | None = None,
        handle_chinese_chars: bool = True,
        clean_text: bool = True,
        unk_token: str = "[UNK]",
        cls_token: str = "[CLS]",
        sep_token: str = "[SEP]",
        pad_token: str = "[PAD]",
        mask_token: str = "[MASK]",
        continuing_subword_prefix: str = "##",
        max_input_chars_per_word: int = 100,
        model_max_length: int = 512,
    ) -> None:
        if not isinstance(vocab, dict):
            vocab = {tok: i for i, tok in enumerate(vocab)}
        self.vocab: dict[str, int] = dict(vocab)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.lowercase = lowercase
        self.strip_accents = lowercase if strip_accents is None else strip_accents
        self.handle_chinese_chars = handle_chinese_chars
        self.clean_text = clean_text
        self.prefix = continuing_subword_prefix
        self.max_input_chars_per_word = max_input_chars_per_word
        self.model_max_length = model_max_length
        for name, tok in [
            ("unk_token", unk_token),
            ("cls_token", cls_token),
            ("sep_token", sep_token),
        ]:
            if tok not in self.vocab:
                raise ValueError(f"{name} {tok!r} is not in the vocabulary")
        self.unk_token, self.cls_token, self.sep_token = unk_token, cls_token, sep_token
        self.pad_token, self.mask_token = pad_token, mask_token
        specials = [unk_token, cls_token, sep_token, pad_token, mask_token]
        self._init_special_tokens([t for t in specials if t in self.vocab])
        self._cache: dict[str, tuple[str, ...]] = {}

    # ---- loading -------------------------------------------------------------------

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], **kwargs) -> BertTokenizer:
        """Load from a model directory (``tokenizer.json``, else ``vocab.txt`` with
        ``tokenizer_config.json``), a ``tokenizer.json`` or a ``vocab.txt`` file.
        Keyword arguments override what the files say."""
        path = os.fspath(path)
        if os.path.isdir(path):
            tj = os.path.join(path, "tokenizer.json")
            if os.path.isfile(tj):
                return cls.from_tokenizer_json(tj, **kwargs)
            vt = os.path.join(path, "vocab.txt")
            if not os.path.isfile(vt):
                raise FileNotFoundError(f"{path} holds neither tokenizer.json nor vocab.txt")
            cfg_path = os.path.join(path, "tokenizer_config.json")
            opts: dict = {}
            if os.path.isfile(cfg_path):
                with open(cfg_path, encoding="utf-8") as f:
                    cfg = json.load(f)
                opts = {"lowercase": cfg.get("do_lower_case", True)}
                opts["strip_accents"] = cfg.get("strip_accents")
                opts["handle_chinese_chars"] = cfg.get("tokenize_chinese_chars", True)
                for key in ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token"):
                    if isinstance(cfg.get(key), str):
                        opts[key] = cfg[key]
                if isinstance(cfg.get("model_max_length"), int):
                    opts["model_max_length"] = cfg["model_max_length"]
            return cls(load_vocab_txt(vt), **{**opts, **kwargs})
        if path.endswith(".json"):
            return cls.from_tokenizer_json(path, **kwargs)
        return cls(load_vocab_txt(path), **kwargs)

    @classmethod
    def from_tokenizer_json(cls, path: str | os.PathLike[str], **kwargs) -> BertTokenizer:
        """Load a Hugging Face ``tokenizer.json`` whose model is WordPiece."""
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        model = spec.get("model") or {}
        if model.get("type") != "WordPiece":
            raise ValueError(f"{path}: expected a WordPiece model, got {model.get('type')!r}")
        norm = spec.get("normalizer") or {}
        if norm and norm.get("type") != "BertNormalizer":
            raise ValueError(f"{path}: unsupported normalizer {norm.get('type')!r}")
        opts = {
            "lowercase": norm.get("lowercase", True),
            "strip_accents": norm.get("strip_accents"),
            "handle_chinese_chars": norm.get("handle_chinese_chars", True),
            "clean_text": norm.get("clean_text", True),
            "unk_token": model.get("unk_token", "[UNK]"),
            "continuing_subword_prefix": model.get("continuing_subword_prefix", "##"),
            "max_input_chars_per_word": model.get("max_input_chars_per_word", 100),
        }
        trunc = spec.get("truncation")
        if trunc and isinstance(trunc.get("max_length"), int):
            opts["model_max_length"] = trunc["max_length"]
        tok = cls(model["vocab"], **{**opts, **kwargs})
        added = [a["content"] for a in spec.get("added_tokens") or [] if a["content"] in tok.vocab]
        tok._init_special_tokens(added)
        return tok

    # ---- the pipeline ----------------------------------------------------------------

    def normalize(self, text: str) -> str:
        """Clean, pad CJK, strip accents and lowercase, in the reference's order."""
        if self.clean_text:
            text = "".join(
                " " if is_whitespace(c) else c
                for c in text
                if not (c == "\0" or c == "\ufffd" or is_control(c))
            )
        if self.handle_chinese_chars:
            text = "".join(f" {c} " if is_cjk(c) else c for c in text)
        if self.strip_accents:
            text = "".join(
                c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn"
            )
        if self.lowercase:
            # Per character, as the reference does: str.lower() would turn a final
            # capital sigma into "ς" where the reference gives "σ".
            text = "".join(c.lower() for c in text)
        return text

    @staticmethod
    def pre_tokenize(text: str) -> list[str]:
        """Split normalized text on whitespace and isolate every punctuation character."""
        words: list[str] = []
        current: list[str] = []
        for c in text:
            if is_whitespace(c):
                if current:
                    words.append("".join(current))
                    current = []
            elif is_punctuation(c):
                if current:
                    words.append("".join(current))
                    current = []
                words.append(c)
            else:
                current.append(c)
        if current:
            words.append("".join(current))
        return words

    def wordpiece(self, word: str) -> tuple[str, ...]:
        """Greedy longest-match-first pieces of one word; ``(unk_token,)`` if any part
        has no match or the word is longer than ``max_input_chars_per_word``."""
        cached = self._cache.get(word)
        if cached is not None:
            return cached
        if len(word) > self.max_input_chars_per_word:
            return (self.unk_token,)
        pieces: list[str] = []
        start, n = 0, len(word)
        while start < n:
            end = n
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                pieces = [self.unk_token]
                break
            pieces.append(piece)
            start = end
        result = tuple(pieces)
        if len(self._cache) < 1_000_000:
            self._cache[word] = result
        return result

    def _tokenize_plain(self, text: str) -> list[str]:
        out: list[str] = []
        for word in self.pre_tokenize(self.normalize(text)):
            out.extend(self.wordpiece(word))
        return out

    def tokenize(self, text: str) -> list[str]:
        """The word pieces of ``text`` (special tokens written in it are kept whole)."""
        if not isinstance(text, str):
            raise TypeError(f"BertTokenizer.tokenize expects a str, got {type(text).__name__}")
        out: list[str] = []
        for segment, is_special in self._split_special(text):
            if is_special:
                out.append(segment)
            else:
                out.extend(self._tokenize_plain(segment))
        return out

    def _encode_one(self, text: str) -> list[int]:
        unk = self.vocab[self.unk_token]
        return [self.vocab.get(t, unk) for t in self.tokenize(text)]

    def build_inputs(self, ids_a: list[int], ids_b: list[int] | None) -> Encoding:
        """``[CLS] a [SEP]`` or ``[CLS] a [SEP] b [SEP]`` with token type ids 0/1."""
        cls_id, sep_id = self.vocab[self.cls_token], self.vocab[self.sep_token]
        ids = [cls_id, *ids_a, sep_id]
        types = [0] * len(ids)
        if ids_b is not None:
            ids += [*ids_b, sep_id]
            types += [1] * (len(ids_b) + 1)
        return Encoding(ids, types)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """Text from ids: pieces joined, ``##`` continuations glued, spaces before
        ``. , ? !`` removed (lowercased and accent-stripped text stays so)."""
        tokens = self.convert_ids_to_tokens(ids)
        if skip_special_tokens:
            tokens = [t for t in tokens if t not in self._special_set]
        text = " ".join(tokens).replace(" " + self.prefix, "")
        for p in ".,?!":
            text = text.replace(" " + p, p)
        return text
