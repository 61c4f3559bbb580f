"""Byte-level BPE (GPT-2, RoBERTa style) from a ``tokenizer.json`` or ``vocab.json`` +
``merges.txt``, reproducing the Hugging Face ``tokenizers`` ids exactly.

Pipeline: literal special tokens are cut out first; the rest is split by GPT-2's
pattern (contractions, letter runs, digit runs, other runs, whitespace), each
piece's UTF-8 bytes are mapped to printable characters, then adjacent symbols are
merged, lowest merge rank first, until no ranked pair is left.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections.abc import Sequence

from ember.text.tokenizers._encoding import Encoding, SpecialTokensMixin
from ember.text.tokenizers._unicode import is_whitespace

__all__ = ["ByteLevelBPETokenizer", "bytes_to_unicode", "gpt2_pre_tokenize"]

_CONTRACTIONS = ("s", "t", "re", "ve", "m", "ll", "d")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable characters:
    bytes that print as themselves (``!``..``~``, ``¡``..``¬``, ``®``..``ÿ``) keep their
    code point, the others take 256, 257, ... in byte order."""
    keep = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table, extra = {}, 0
    for b in range(256):
        if b in keep:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _kind(c: str) -> str:
    if is_whitespace(c):
        return "s"
    cat = unicodedata.category(c)[0]
    return cat if cat in "LN" else "o"


def gpt2_pre_tokenize(text: str) -> list[str]:
    """Split like GPT-2's regex ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+|
    ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`` (written as a scanner: Python's ``re`` has
    no ``\\p{..}`` classes)."""
    kinds = [_kind(c) for c in text]
    n, i, out = len(text), 0, []
    while i < n:
        if text[i] == "'":
            hit = next((c for c in _CONTRACTIONS if text.startswith(c, i + 1)), None)
            if hit is not None:
                out.append(text[i : i + 1 + len(hit)])
                i += 1 + len(hit)
                continue
        start = i
        # an optional single space joins the run of letters/digits/other after it
        if text[i] == " " and i + 1 < n and kinds[i + 1] != "s":
            i += 1
        k = kinds[i]
        if k != "s":
            while i < n and kinds[i] == k:
                i += 1
            out.append(text[start:i])
            continue
        j = i
        while j < n and kinds[j] == "s":
            j += 1
        # \s+(?!\S): leave the last space for the word that follows, if any
        if j < n and j - i > 1:
            j -= 1
        elif j < n:
            j = i + 1
        out.append(text[i:j])
        i = j
    return out


class ByteLevelBPETokenizer(SpecialTokensMixin):
    """Byte-level BPE with merges by rank.

    Args:
        vocab: ``{token: id}``.
        merges: pairs ``(left, right)`` (or ``"left right"`` strings), best first.
        add_prefix_space: put a space before text that does not start with one.
        special_tokens: tokens matched verbatim in the raw text (``<|endoftext|>``).
        template: ``(single, pair)`` post-processing templates, each a list of
            ``("A"|"B", type_id)`` or ``(special_token, type_id)``; None adds nothing.
        ignore_merges: emit a whole pre-token directly when it is in the vocabulary.
    """

    def __init__(
        self,
        vocab: dict[str, int],
        merges: Sequence[tuple[str, str] | str],
        *,
        add_prefix_space: bool = False,
        special_tokens: Sequence[str] = (),
        unk_token: str | None = None,
        pad_token: str | None = None,
        template: tuple[list, list] | None = None,
        ignore_merges: bool = False,
        model_max_length: int | None = None,
    ) -> None:
        self.vocab = dict(vocab)
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.ranks: dict[tuple[str, str], int] = {}
        for rank, m in enumerate(merges):
            pair = tuple(m.split(" ")) if isinstance(m, str) else tuple(m)
            if len(pair) != 2:
                raise ValueError(f"merge {rank} must be two symbols, got {m!r}")
            self.ranks.setdefault(pair, rank)
        self.add_prefix_space = add_prefix_space
        self.unk_token, self.pad_token = unk_token, pad_token
        self.template = template
        self.ignore_merges = ignore_merges
        self.model_max_length = model_max_length
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {c: b for b, c in self.byte_encoder.items()}
        self._init_special_tokens(list(special_tokens))
        self._cache: dict[str, tuple[str, ...]] = {}

    @classmethod
    def from_files(cls, vocab_json: str, merges_txt: str, **kwargs) -> ByteLevelBPETokenizer:
        """Load GPT-2's ``vocab.json`` and ``merges.txt`` (a ``#version`` line is skipped)."""
        with open(vocab_json, encoding="utf-8") as f:
            vocab = json.load(f)
        with open(merges_txt, encoding="utf-8") as f:
            merges = [ln.rstrip("\n") for ln in f if ln.strip() and not ln.startswith("#version")]
        return cls(vocab, merges, **kwargs)

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike[str], **kwargs) -> ByteLevelBPETokenizer:
        """Load a ``tokenizer.json`` file, or a directory holding one (else ``vocab.json``
        and ``merges.txt``)."""
        path = os.fspath(path)
        if os.path.isdir(path):
            tj = os.path.join(path, "tokenizer.json")
            if os.path.isfile(tj):
                return cls.from_tokenizer_json(tj, **kwargs)
            return cls.from_files(
                os.path.join(path, "vocab.json"), os.path.join(path, "merges.txt"), **kwargs
            )
        return cls.from_tokenizer_json(path, **kwargs)

    @classmethod
    def from_tokenizer_json(cls, path: str | os.PathLike[str], **kwargs) -> ByteLevelBPETokenizer:
        """Load a Hugging Face ``tokenizer.json`` with a BPE model and ByteLevel
        pre-tokenizer (unsupported options are refused, never ignored)."""
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        model = spec.get("model") or {}
        if model.get("type") != "BPE":
            raise ValueError(f"{path}: expected a BPE model, got {model.get('type')!r}")
        for opt in ("continuing_subword_prefix", "end_of_word_suffix", "dropout"):
            if model.get(opt):
                raise ValueError(f"{path}: BPE option {opt}={model[opt]!r} is not supported")
        if model.get("byte_fallback"):
            raise ValueError(f"{path}: byte_fallback BPE is not byte-level BPE")
        if spec.get("normalizer") is not None:
            raise ValueError(f"{path}: normalizers are not supported with byte-level BPE")
        pre = spec.get("pre_tokenizer") or {}
        if pre.get("type") != "ByteLevel" or not pre.get("use_regex", True):
            raise ValueError(
                f"{path}: expected a ByteLevel pre-tokenizer with use_regex, got {pre}"
            )
        opts = {
            "add_prefix_space": bool(pre.get("add_prefix_space", False)),
            "special_tokens": [a["content"] for a in spec.get("added_tokens") or []],
            "unk_token": model.get("unk_token"),
            "pad_token": (spec.get("padding") or {}).get("pad_token"),
            "ignore_merges": bool(model.get("ignore_merges", False)),
            "template": _template(spec.get("post_processor")),
        }
        return cls(model["vocab"], model["merges"], **{**opts, **kwargs})

    def bpe(self, piece: str) -> tuple[str, ...]:
        """Merge the byte-mapped characters of one pre-token, lowest rank first."""
        cached = self._cache.get(piece)
        if cached is not None:
            return cached
        if self.ignore_merges and piece in self.vocab:
            return (piece,)
        word = list(piece)
        ranks = self.ranks
        while len(word) > 1:
            best, best_rank = None, None
            for pair in zip(word, word[1:]):
                r = ranks.get(pair)
                if r is not None and (best_rank is None or r < best_rank):
                    best, best_rank = pair, r
            if best is None:
                break
            merged, i = [], 0
            while i < len(word):
                if i + 1 < len(word) and word[i] == best[0] and word[i + 1] == best[1]:
                    merged.append(best[0] + best[1])
                    i += 2
                else:
                    merged.append(word[i])
                    i += 1
            word = merged
        result = tuple(word)
        if len(self._cache) < 1_000_000:
            self._cache[piece] = result
        return result

    def _tokenize_plain(self, text: str) -> list[str]:
        out: list[str] = []
        enc = self.byte_encoder
        for piece in gpt2_pre_tokenize(text):
            out.extend(self.bpe("".join(enc[b] for b in piece.encode("utf-8"))))
        return out

    def tokenize(self, text: str) -> list[str]:
        """The BPE tokens of ``text`` (byte-mapped strings; specials kept whole)."""
        if not isinstance(text, str):
            raise TypeError(
                f"ByteLevelBPETokenizer.tokenize expects a str, got {type(text).__name__}"
            )
        if self.add_prefix_space and not text.startswith(" "):
            text = " " + text
        out: list[str] = []
        for segment, is_special in self._split_special(text):
            out.extend([segment] if is_special else self._tokenize_plain(segment))
        return out

    def _encode_one(self, text: str) -> list[int]:
        ids = []
        for t in self.tokenize(text):
            if t in self.vocab:
                ids.append(self.vocab[t])
            elif self.unk_token is not None and self.unk_token in self.vocab:
                ids.append(self.vocab[self.unk_token])
            else:
                raise KeyError(f"token {t!r} is not in the vocabulary and there is no unk_token")
        return ids

    def build_inputs(self, ids_a: list[int], ids_b: list[int] | None) -> Encoding:
        """Apply the post-processing template (or just concatenate)."""
        if self.template is None:
            ids = ids_a + (ids_b or [])
            return Encoding(ids, [0] * len(ids_a) + [1] * len(ids_b or []))
        items = self.template[0 if ids_b is None else 1]
        ids: list[int] = []
        types: list[int] = []
        for name, type_id in items:
            seq = ids_a if name == "A" else ids_b if name == "B" else [self.vocab[name]]
            ids += seq
            types += [type_id] * len(seq)
        return Encoding(ids, types)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = True) -> str:
        """The text of ``ids``: tokens joined and mapped back to UTF-8 bytes."""
        tokens = self.convert_ids_to_tokens(list(ids))
        parts: list[str] = []
        buf = bytearray()
        for t in tokens:
            if t in self._special_set:
                parts.append(buf.decode("utf-8", errors="replace"))
                buf.clear()
                if not skip_special_tokens:
                    parts.append(t)
            else:
                buf.extend(self.byte_decoder[c] for c in t)
        parts.append(buf.decode("utf-8", errors="replace"))
        return "".join(parts)


def _template(post: dict | None) -> tuple[list, list] | None:
    """``(single, pair)`` templates from a tokenizer.json post_processor."""
    if post is None or post.get("type") == "ByteLevel":
        return None
    kind = post.get("type")
    if kind == "TemplateProcessing":

        def items(spec: list) -> list:
            out = []
            for it in spec:
                if "Sequence" in it:
                    out.append((it["Sequence"]["id"], it["Sequence"]["type_id"]))
                else:
                    out.append((it["SpecialToken"]["id"], it["SpecialToken"]["type_id"]))
            return out

        return items(post["single"]), items(post["pair"])
    if kind == "RobertaProcessing":
        cls, sep = post["cls"][0], post["sep"][0]
        return [(cls, 0), ("A", 0), (sep, 0)], [
            (cls, 0),
            ("A", 0),
            (sep, 0),
            (sep, 0),
            ("B", 0),
            (sep, 0),
        ]
    if kind == "Sequence":
        found = [_template(p) for p in post.get("processors", [])]
        found = [t for t in found if t is not None]
        if len(found) > 1:
            raise ValueError("more than one templating post-processor in a Sequence")
        return found[0] if found else None
    raise ValueError(f"unsupported post_processor {kind!r}")
