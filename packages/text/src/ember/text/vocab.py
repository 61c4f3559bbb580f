"""Vocabularies: a two-way map between tokens and consecutive integer ids."""

from __future__ import annotations

import os
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, BinaryIO

__all__ = ["Vocab", "build_vocab_from_iterator", "vocab"]


class Vocab:
    """Tokens ``itos[i]`` with ids ``i``; ``stoi`` is the inverse.

    ``vocab["word"]`` is the id of a token; an unknown token gives the default
    index when one is set (``set_default_index``), else raises ``KeyError``.
    ``vocab(tokens)`` maps a list of tokens to a list of ids.
    """

    def __init__(self, tokens: Iterable[str] = ()) -> None:
        self._itos: list[str] = []
        self._stoi: dict[str, int] = {}
        self._default_index: int | None = None
        for t in tokens:
            self.append_token(t)

    # ---- lookups -----------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        return token in self._stoi

    def __getitem__(self, token: str) -> int:
        i = self._stoi.get(token)
        if i is not None:
            return i
        if self._default_index is None:
            raise KeyError(
                f"token {token!r} is not in the vocabulary and no default index is set "
                "(call set_default_index)"
            )
        return self._default_index

    def __call__(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens`` (same as :meth:`lookup_indices`)."""
        return self.lookup_indices(tokens)

    forward = __call__

    def __iter__(self):
        return iter(self._itos)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self._itos == other._itos and self._default_index == other._default_index

    def __repr__(self) -> str:
        head = ", ".join(repr(t) for t in self._itos[:5])
        more = ", ..." if len(self) > 5 else ""
        return (
            f"Vocab(size={len(self)}, tokens=[{head}{more}], default_index={self._default_index})"
        )

    def lookup_indices(self, tokens: Sequence[str]) -> list[int]:
        """Ids of ``tokens``."""
        if isinstance(tokens, str):
            raise TypeError(
                "lookup_indices expects a list of tokens, got a str (wrap it in a list)"
            )
        get, d = self._stoi.get, self._default_index
        out = [get(t, d) for t in tokens]
        if d is None and None in out:
            missing = [t for t, i in zip(tokens, out) if i is None]
            raise KeyError(f"tokens not in the vocabulary and no default index set: {missing[:5]}")
        return out

    def lookup_token(self, index: int) -> str:
        """The token with id ``index``."""
        if not isinstance(index, int) or isinstance(index, bool):
            index = _as_int(index)
        if not 0 <= index < len(self._itos):
            raise IndexError(f"index {index} is out of range for a vocabulary of {len(self)}")
        return self._itos[index]

    def lookup_tokens(self, indices: Iterable[int]) -> list[str]:
        """The tokens with ids ``indices`` (a list or a 1-D tensor)."""
        if hasattr(indices, "tolist"):
            indices = indices.tolist()
        return [self.lookup_token(i) for i in indices]

    def get_stoi(self) -> dict[str, int]:
        """A copy of the token -> id dict."""
        return dict(self._stoi)

    def get_itos(self) -> list[str]:
        """A copy of the id -> token list."""
        return list(self._itos)

    @property
    def stoi(self) -> dict[str, int]:
        """Token -> id (read-only view; use the methods to change the vocabulary)."""
        return self.get_stoi()

    @property
    def itos(self) -> list[str]:
        """Id -> token."""
        return self.get_itos()

    # ---- edits -------------------------------------------------------------------------

    def set_default_index(self, index: int | None) -> None:
        """The id returned for unknown tokens (``None``: unknown tokens raise)."""
        if index is not None:
            index = _as_int(index)
            if not 0 <= index < len(self):
                raise IndexError(f"default index {index} is outside the vocabulary of {len(self)}")
        self._default_index = index

    def get_default_index(self) -> int | None:
        """The id returned for unknown tokens, or None."""
        return self._default_index

    def append_token(self, token: str) -> None:
        """Add ``token`` with the next id (it must be new)."""
        if not isinstance(token, str):
            raise TypeError(f"tokens must be str, got {type(token).__name__}: {token!r}")
        if token in self._stoi:
            raise ValueError(
                f"token {token!r} is already in the vocabulary (id {self._stoi[token]})"
            )
        self._stoi[token] = len(self._itos)
        self._itos.append(token)

    def insert_token(self, token: str, index: int) -> None:
        """Insert a new ``token`` at id ``index``, shifting later ids up by one."""
        if not isinstance(token, str):
            raise TypeError(f"tokens must be str, got {type(token).__name__}")
        if token in self._stoi:
            raise ValueError(
                f"token {token!r} is already in the vocabulary (id {self._stoi[token]})"
            )
        index = _as_int(index)
        if not 0 <= index <= len(self._itos):
            raise IndexError(f"insert index {index} is outside 0..{len(self)}")
        self._itos.insert(index, token)
        self._stoi = {t: i for i, t in enumerate(self._itos)}
        if self._default_index is not None and self._default_index >= index:
            self._default_index += 1

    # ---- persistence -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """``{"itos": [...], "default_index": int | None}``."""
        return {"itos": list(self._itos), "default_index": self._default_index}

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any]) -> Vocab:
        """Rebuild a vocabulary from :meth:`state_dict`."""
        if not isinstance(state, Mapping) or "itos" not in state:
            raise ValueError("a vocabulary state must be a dict with an 'itos' list")
        v = cls(state["itos"])
        v.set_default_index(state.get("default_index"))
        return v

    def save(self, f: str | os.PathLike[str] | BinaryIO) -> None:
        """Write the vocabulary with ``ember.save`` (no pickle)."""
        import ember

        ember.save({"format": "ember.text.Vocab", **self.state_dict()}, f)

    @classmethod
    def load(cls, f: str | os.PathLike[str] | BinaryIO) -> Vocab:
        """Read a vocabulary written by :meth:`save`."""
        import ember

        state = ember.load(f)
        if not isinstance(state, dict) or state.get("format") != "ember.text.Vocab":
            raise ValueError("not an ember.text vocabulary file (missing format marker)")
        return cls.from_state_dict(state)


def _as_int(x: Any) -> int:
    import operator

    try:
        return operator.index(x)
    except TypeError:
        raise TypeError(f"expected an integer index, got {type(x).__name__}: {x!r}") from None


def vocab(
    ordered_dict: Mapping[str, int],
    min_freq: int = 1,
    specials: Sequence[str] | None = None,
    special_first: bool = True,
) -> Vocab:
    """A :class:`Vocab` from ``{token: frequency}`` in its iteration order, keeping the
    tokens seen at least ``min_freq`` times, with ``specials`` first or last."""
    if min_freq < 1:
        raise ValueError(f"min_freq must be >= 1, got {min_freq}")
    specials = list(specials or [])
    if len(set(specials)) != len(specials):
        raise ValueError(f"specials contain duplicates: {specials}")
    kept = [t for t, c in ordered_dict.items() if c >= min_freq and t not in specials]
    return Vocab(specials + kept if special_first else kept + specials)


def build_vocab_from_iterator(
    iterator: Iterable[Iterable[str]],
    min_freq: int = 1,
    specials: Sequence[str] | None = None,
    special_first: bool = True,
    max_tokens: int | None = None,
) -> Vocab:
    """Count the tokens of every token list in ``iterator`` and build a :class:`Vocab`.

    Tokens are ordered by decreasing frequency, ties alphabetically. ``max_tokens``
    caps the size including ``specials``; tokens seen fewer than ``min_freq`` times
    are dropped. Specials are always kept, before (``special_first``) or after.
    """
    counter: Counter[str] = Counter()
    for i, tokens in enumerate(iterator):
        if isinstance(tokens, str):
            raise TypeError(
                f"item {i} of the iterator is a str; expected a list of tokens (tokenize first)"
            )
        counter.update(tokens)
    specials = list(specials or [])
    ordered = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    ordered = [(t, c) for t, c in ordered if t not in specials]
    if max_tokens is not None:
        if max_tokens < len(specials):
            raise ValueError(
                f"max_tokens={max_tokens} is smaller than the {len(specials)} specials"
            )
        ordered = ordered[: max_tokens - len(specials)]
    return vocab(
        OrderedDict(ordered), min_freq=min_freq, specials=specials, special_first=special_first
    )
