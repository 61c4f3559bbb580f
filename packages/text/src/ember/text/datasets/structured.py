"""Datasets with structure beyond (label, text): Multi30k translation pairs, SQuAD
question answering (v1.1 and v2.0 JSON), CoNLL-2000 chunking (word POS chunk columns)."""

from __future__ import annotations

import json
from collections.abc import Iterator

from ember.text.datasets._base import Resource, open_member
from ember.text.datasets.classification import _Downloaded

__all__ = ["CoNLL2000Chunking", "Multi30k", "SQuAD1", "SQuAD2"]


class Multi30k(_Downloaded):
    """Multi30k (WMT16 task 1): yields ``(source, target)`` sentence pairs, German and
    English by default, read side by side from ``<split>.<lang>`` in each archive."""

    folder = "Multi30k"
    splits = ("train", "valid", "test")
    _base = "https://raw.githubusercontent.com/neychev/small_DL_repo/master/datasets/Multi30k/"
    resources = {
        "train": Resource(
            "training.tar.gz", (_base + "training.tar.gz",), md5="20140d013d05dd9a72dfde46478663ba"
        ),
        "valid": Resource(
            "validation.tar.gz",
            (_base + "validation.tar.gz",),
            md5="a7aa20e9ebd5ba5adce7909498b94410",
        ),
        "test": Resource(
            "mmt16_task1_test.tar.gz",
            (_base + "mmt16_task1_test.tar.gz",),
            md5="f63b12fc6f95beb3bfca2c393e861063",
        ),
    }
    _prefix = {"train": "train", "valid": "val", "test": "test"}

    def __init__(
        self, root=None, split="train", language_pair=("de", "en"), download=True, progress=True
    ) -> None:
        if tuple(sorted(language_pair)) != ("de", "en"):
            raise ValueError(
                f"language_pair must be ('de', 'en') or ('en', 'de'), got {language_pair}"
            )
        self.language_pair = tuple(language_pair)
        super().__init__(root, split, download, progress)

    def _records(self) -> Iterator[tuple[str, str]]:
        src, tgt = (f"{self._prefix[self.split]}.{lang}" for lang in self.language_pair)
        with open_member(self.path, src) as fs, open_member(self.path, tgt) as ft:
            count = 0
            for a, b in zip(fs, ft, strict=False):
                count += 1
                yield a.rstrip("\r\n"), b.rstrip("\r\n")
            if fs.readline() or ft.readline():
                raise ValueError(
                    f"{self.path}: {src} and {tgt} differ in length after line {count}"
                )


class _SQuAD(_Downloaded):
    """Yields ``(context, question, answers, answer_starts)`` for every question;
    unanswerable SQuAD 2.0 questions give ``[""]`` and ``[-1]``, as torchtext does."""

    def _records(self) -> Iterator[tuple[str, str, list[str], list[int]]]:
        with open_member(self.path, None) as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or "data" not in doc:
            raise ValueError(f"{self.path}: not a SQuAD file (no 'data' list)")
        for article in doc["data"]:
            for para in article["paragraphs"]:
                for qa in para["qas"]:
                    answers = qa.get("answers") or []
                    texts = [a["text"] for a in answers] or [""]
                    starts = [int(a["answer_start"]) for a in answers] or [-1]
                    yield para["context"], qa["question"], texts, starts


class SQuAD1(_SQuAD):
    """SQuAD v1.1 (``train-v1.1.json``, ``dev-v1.1.json``)."""

    folder = "SQuAD1"
    splits = ("train", "dev")
    _base = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"
    resources = {
        "train": Resource(
            "train-v1.1.json", (_base + "train-v1.1.json",), md5="981b29407e0affa3b1b156f72073b945"
        ),
        "dev": Resource(
            "dev-v1.1.json", (_base + "dev-v1.1.json",), md5="3e85deb501d4e538b6bc56f786231552"
        ),
    }


class SQuAD2(_SQuAD):
    """SQuAD v2.0 (``train-v2.0.json``, ``dev-v2.0.json``), with unanswerable questions."""

    folder = "SQuAD2"
    splits = ("train", "dev")
    _base = "https://rajpurkar.github.io/SQuAD-explorer/dataset/"
    resources = {
        "train": Resource(
            "train-v2.0.json", (_base + "train-v2.0.json",), md5="62108c273c268d70893182d5cf8df740"
        ),
        "dev": Resource(
            "dev-v2.0.json", (_base + "dev-v2.0.json",), md5="246adae8b7002f8679c027697b0b7cf8"
        ),
    }


class CoNLL2000Chunking(_Downloaded):
    """CoNLL-2000 chunking: ``word POS chunk`` per line, sentences separated by blank
    lines; yields ``(words, pos_tags, chunk_tags)`` lists per sentence."""

    folder = "CoNLL2000Chunking"
    splits = ("train", "test")
    _base = "https://www.clips.uantwerpen.be/conll2000/chunking/"
    resources = {
        "train": Resource(
            "train.txt.gz", (_base + "train.txt.gz",), md5="6969c2903a1f19a83569db643e43dcc8"
        ),
        "test": Resource(
            "test.txt.gz", (_base + "test.txt.gz",), md5="a916e1c2d83eb3004b38fc6fcd628939"
        ),
    }

    def _records(self) -> Iterator[tuple[list[str], list[str], list[str]]]:
        cols: tuple[list, list, list] = ([], [], [])
        with open_member(self.path, None) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    if cols[0]:
                        yield cols
                    cols = ([], [], [])
                    continue
                parts = line.split()
                if len(parts) != 3:
                    raise ValueError(
                        f"{self.path}:{lineno}: expected 'word POS chunk', got {line!r}"
                    )
                for c, p in zip(cols, parts):
                    c.append(p)
        if cols[0]:
            yield cols
