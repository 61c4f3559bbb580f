"""ember.text: tokenizers, vocabularies, transforms, batching iterators, datasets in
their original formats, pretrained word vectors and text models.

Submodules load on first use, so ``import ember.text`` stays cheap.
"""

import importlib as _importlib

from ember.text.tokenizers import get_tokenizer
from ember.text.vocab import Vocab, build_vocab_from_iterator, vocab

_LAZY = ("batching", "datasets", "field", "models", "transforms", "vectors", "tokenizers")

__all__ = ["Field", "Vocab", "build_vocab_from_iterator", "get_tokenizer", "vocab", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return _importlib.import_module(f"ember.text.{name}")
    if name == "Field":
        return _importlib.import_module("ember.text.field").Field
    raise AttributeError(f"module 'ember.text' has no attribute {name!r}")
