"""Rule-based tokenizers: ``basic_english``, whitespace, regex and character.

Each is a plain callable ``str -> list[str]`` so it pickles into DataLoader workers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

__all__ = [
    "BasicEnglishTokenizer",
    "CharacterTokenizer",
    "RegexTokenizer",
    "WhitespaceTokenizer",
    "get_tokenizer",
]

# basic_english, as torchtext defines it: lowercase, put spaces around a few
# punctuation marks, drop quotes/<br /> and collapse runs of spaces.
_BASIC_ENGLISH = [
    (r"\'", " '  "),
    (r"\"", ""),
    (r"\.", " . "),
    (r"<br \/>", " "),
    (r",", " , "),
    (r"\(", " ( "),
    (r"\)", " ) "),
    (r"\!", " ! "),
    (r"\?", " ? "),
    (r"\;", " "),
    (r"\:", " "),
    (r"\s+", " "),
]


def _check_str(text: object, who: str) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{who} expects a str, got {type(text).__name__}")
    return text


class RegexTokenizer:
    """Apply ``(pattern, replacement)`` substitutions in order, then split on whitespace.

    ``RegexTokenizer([(r"\\d+", " <num> ")])("a 12b") == ["a", "<num>", "b"]``.
    """

    def __init__(self, patterns_list: Sequence[tuple[str, str]]) -> None:
        self.patterns_list = list(patterns_list)
        self._compiled = []
        for i, item in enumerate(self.patterns_list):
            if not (isinstance(item, tuple | list) and len(item) == 2):
                raise TypeError(
                    f"patterns_list[{i}] must be a (pattern, replacement) pair, got {item!r}"
                )
            self._compiled.append((re.compile(item[0]), item[1]))

    def __call__(self, text: str) -> list[str]:
        """The tokens of ``text``."""
        _check_str(text, "RegexTokenizer")
        for pattern, repl in self._compiled:
            text = pattern.sub(repl, text)
        return text.split()

    def __repr__(self) -> str:
        return f"RegexTokenizer({self.patterns_list!r})"


class BasicEnglishTokenizer(RegexTokenizer):
    """torchtext's ``basic_english``: lowercase, split off ``. , ( ) ! ?`` and ``'``,
    drop double quotes, ``;``, ``:`` and ``<br />``."""

    def __init__(self) -> None:
        super().__init__(_BASIC_ENGLISH)

    def __call__(self, text: str) -> list[str]:
        """The tokens of ``text``."""
        return super().__call__(_check_str(text, "basic_english").lower())

    def __repr__(self) -> str:
        return "BasicEnglishTokenizer()"


class WhitespaceTokenizer:
    """Split on runs of whitespace (``str.split()``)."""

    def __call__(self, text: str) -> list[str]:
        """The tokens of ``text``."""
        return _check_str(text, "WhitespaceTokenizer").split()

    def __repr__(self) -> str:
        return "WhitespaceTokenizer()"


class CharacterTokenizer:
    """One token per character (code point); ``keep_whitespace=False`` drops spaces."""

    def __init__(self, keep_whitespace: bool = True) -> None:
        self.keep_whitespace = keep_whitespace

    def __call__(self, text: str) -> list[str]:
        """The characters of ``text``."""
        _check_str(text, "CharacterTokenizer")
        if self.keep_whitespace:
            return list(text)
        return [c for c in text if not c.isspace()]

    def __repr__(self) -> str:
        return f"CharacterTokenizer(keep_whitespace={self.keep_whitespace})"


_NAMES: dict[str, Callable[[], Callable[[str], list[str]]]] = {
    "basic_english": BasicEnglishTokenizer,
    "whitespace": WhitespaceTokenizer,
    "character": CharacterTokenizer,
    "char": CharacterTokenizer,
}


def get_tokenizer(tokenizer: str | Callable | None, language: str = "en") -> Callable:
    """A tokenizer by name, as in torchtext.

    ``None`` and ``"whitespace"`` split on whitespace; ``"basic_english"``
    (``language`` must be ``"en"``); ``"character"``/``"char"``. A callable (e.g. a
    :class:`~ember.text.tokenizers.BertTokenizer`) is returned unchanged.
    """
    if callable(tokenizer):
        return tokenizer
    if tokenizer is None:
        return WhitespaceTokenizer()
    if not isinstance(tokenizer, str):
        raise TypeError(f"tokenizer must be a name, a callable or None, got {tokenizer!r}")
    if tokenizer == "basic_english" and language != "en":
        raise ValueError(f"basic_english supports only language='en', got {language!r}")
    if tokenizer not in _NAMES:
        raise ValueError(f"unknown tokenizer {tokenizer!r}; expected one of {sorted(_NAMES)}")
    return _NAMES[tokenizer]()
