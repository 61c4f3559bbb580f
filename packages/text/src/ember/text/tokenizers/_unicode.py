"""Character classes shared by the BERT and byte-level BPE tokenizers.

The reference implementation (Hugging Face ``tokenizers``, in Rust) classifies
characters with Rust's Unicode properties; these functions reproduce its choices
with :mod:`unicodedata` (e.g. ``\\u2028`` counts as whitespace, which
``str.isspace`` agrees with but BERT's original Python code did not).
"""

from __future__ import annotations

import unicodedata

# The CJK Unified Ideograph blocks BERT pads with spaces (not Hangul, kana, ...).
_CJK_RANGES = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


# Unicode's White_Space property (what Rust's char::is_whitespace and regex ``\s``
# use); str.isspace() also accepts U+001C..U+001F, which are not White_Space.
WHITESPACE = frozenset(
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def is_whitespace(c: str) -> bool:
    """Unicode White_Space (Rust's ``char::is_whitespace``)."""
    return c in WHITESPACE


def is_control(c: str) -> bool:
    """A character of category C* other than tab, newline and carriage return."""
    if c in "\t\n\r":
        return False
    return unicodedata.category(c)[0] == "C"


def is_punctuation(c: str) -> bool:
    """ASCII punctuation (including ``$+<=>^`|~``) or Unicode category P*."""
    o = ord(c)
    if 33 <= o <= 47 or 58 <= o <= 64 or 91 <= o <= 96 or 123 <= o <= 126:
        return True
    return unicodedata.category(c)[0] == "P"


def is_cjk(c: str) -> bool:
    """A CJK Unified Ideograph (the blocks BERT treats as one token per character)."""
    o = ord(c)
    return any(lo <= o <= hi for lo, hi in _CJK_RANGES)
