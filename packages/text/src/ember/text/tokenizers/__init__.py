"""Tokenizers: rule-based ones by name (``get_tokenizer``), BERT's WordPiece and
byte-level BPE read from the original model files."""

from ember.text.tokenizers._encoding import Encoding
from ember.text.tokenizers._simple import (
    BasicEnglishTokenizer,
    CharacterTokenizer,
    RegexTokenizer,
    WhitespaceTokenizer,
    get_tokenizer,
)
from ember.text.tokenizers.bpe import ByteLevelBPETokenizer, bytes_to_unicode, gpt2_pre_tokenize
from ember.text.tokenizers.wordpiece import BertTokenizer, load_vocab_txt

__all__ = [
    "BasicEnglishTokenizer",
    "BertTokenizer",
    "ByteLevelBPETokenizer",
    "CharacterTokenizer",
    "Encoding",
    "RegexTokenizer",
    "WhitespaceTokenizer",
    "bytes_to_unicode",
    "get_tokenizer",
    "gpt2_pre_tokenize",
    "load_vocab_txt",
]
