"""Text classification datasets in their original formats: the CSV files of Zhang et
al. (AG_NEWS, YelpReviewPolarity, DBpedia), IMDB's ``aclImdb`` tree and GLUE's SST-2
TSV files. Each yields ``(label, text)``; labels are ints as published (1-based for
the CSV sets, IMDB 1 = neg / 2 = pos, SST-2 0/1; SST-2's unlabelled test split
yields the text alone)."""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterator

from ember.text.datasets._base import (
    Resource,
    TextIterableDataset,
    default_root,
    fetch,
    iter_tar_members,
    open_member,
)

__all__ = ["AG_NEWS", "DBpedia", "IMDB", "SST2", "YelpReviewPolarity"]

_GDRIVE = "https://drive.google.com/uc?export=download&id="


class _Downloaded(TextIterableDataset):
    """A dataset whose split lives in ``resources[split]`` under ``root/<folder>``."""

    folder: str = ""
    resources: dict[str, Resource] = {}

    def __init__(
        self, root: str | None = None, split: str = "train", download: bool = True,
        progress: bool = True,
    ) -> None:  # fmt: skip
        super().__init__(split)
        self.root = os.path.join(os.fspath(root) if root else default_root(), self.folder)
        self.path = fetch(self.resources[split], self.root, download, progress)


class _CSVClassification(_Downloaded):
    """Rows ``"label","field",...``: the label and the fields joined by a space."""

    member: dict[str, str | None] = {}

    def _records(self) -> Iterator[tuple[int, str]]:
        with open_member(self.path, self.member[self.split]) as f:
            for lineno, row in enumerate(csv.reader(f), 1):
                if len(row) < 2 or not row[0].strip().isdigit():
                    raise ValueError(f"{self.path}: row {lineno} is not 'label,text...': {row[:2]}")
                yield int(row[0]), " ".join(row[1:])


class AG_NEWS(_CSVClassification):
    """AG's news topics (4 classes: World, Sports, Business, Sci/Tech), 120k/7.6k rows
    of ``label,title,description``."""

    folder = "AG_NEWS"
    splits = ("train", "test")
    _base = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/"
    resources = {
        "train": Resource(
            "train.csv", (_base + "train.csv",), md5="b1a00f826fdfbd249f79597b59e1dc12"
        ),
        "test": Resource("test.csv", (_base + "test.csv",), md5="d52ea96a97a2d943681189a97654912d"),
    }
    member = {"train": None, "test": None}


class YelpReviewPolarity(_CSVClassification):
    """Yelp reviews, 1 = negative / 2 = positive; ``label,text`` rows in
    ``yelp_review_polarity_csv.tar.gz``."""

    folder = "YelpReviewPolarity"
    splits = ("train", "test")
    _res = Resource(
        "yelp_review_polarity_csv.tar.gz",
        (_GDRIVE + "0Bz8a_Dbh9QhbNUpYQ2N3SGlFaDg",),
        md5="620c8ae4bd5a150b730f1ba9a7c6a4d3",
    )
    resources = {"train": _res, "test": _res}
    member = {s: f"yelp_review_polarity_csv/{s}.csv" for s in splits}


class DBpedia(_CSVClassification):
    """DBpedia ontology classes (14), ``label,title,content`` rows in ``dbpedia_csv.tar.gz``."""

    folder = "DBpedia"
    splits = ("train", "test")
    _res = Resource(
        "dbpedia_csv.tar.gz",
        (_GDRIVE + "0Bz8a_Dbh9QhbQ2Vic1kxMmZZQ1k",),
        md5="dca7b1ae12b1091090db52aa7ec5ca64",
    )
    resources = {"train": _res, "test": _res}
    member = {s: f"dbpedia_csv/{s}.csv" for s in splits}


class IMDB(_Downloaded):
    """Large Movie Review Dataset: ``aclImdb/{train,test}/{neg,pos}/<id>_<stars>.txt``;
    yields ``(1, text)`` for neg and ``(2, text)`` for pos, streamed from the archive."""

    folder = "IMDB"
    splits = ("train", "test")
    _res = Resource(
        "aclImdb_v1.tar.gz",
        ("http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",),
        md5="7c2ac02c03563afcf9b574c7e56c153a",
    )
    resources = {"train": _res, "test": _res}

    def _records(self) -> Iterator[tuple[int, str]]:
        pattern = re.compile(rf"aclImdb/{self.split}/(neg|pos)/[^/]+\.txt$")
        for name, data in iter_tar_members(self.path, lambda n: bool(pattern.search(n))):
            label = 2 if pattern.search(name).group(1) == "pos" else 1
            yield label, data.decode("utf-8")


class SST2(_Downloaded):
    """GLUE's Stanford Sentiment Treebank (binary): ``SST-2/{train,dev,test}.tsv``.
    train/dev yield ``(label, sentence)``; test (unlabelled) yields ``(sentence,)``."""

    folder = "SST2"
    splits = ("train", "dev", "test")
    _res = Resource(
        "SST-2.zip",
        ("https://dl.fbaipublicfiles.com/glue/data/SST-2.zip",),
        md5="9f81648d4199384278b86e315dac217c",
    )
    resources = {"train": _res, "dev": _res, "test": _res}

    def _records(self) -> Iterator[tuple]:
        with open_member(self.path, f"SST-2/{self.split}.tsv") as f:
            header = f.readline().rstrip("\r\n").split("\t")
            for lineno, line in enumerate(f, 2):
                fields = dict(zip(header, line.rstrip("\r\n").split("\t")))
                if "sentence" not in fields:
                    raise ValueError(f"{self.path} {self.split}.tsv:{lineno}: no sentence column")
                if self.split == "test":
                    yield (fields["sentence"],)
                else:
                    yield int(fields["label"]), fields["sentence"]
