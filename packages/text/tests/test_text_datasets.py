"""Every dataset against small files in its original format, served by an HTTP server
on 127.0.0.1; corrupted downloads are refused; workers split a stream without overlap."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import tarfile
import zipfile

import pytest

from ember.data import DataLoader
from ember.hub import HashMismatchError
from ember.text import datasets as D
from ember.text.datasets import DatasetNotFoundError, Resource


def _tar_gz(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _csv(rows) -> str:
    out = io.StringIO()
    csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _serve(monkeypatch, server, th, cls, payloads: dict[str, tuple[str, bytes]]):
    """Point ``cls.resources`` (split -> file name) at ``server`` with correct md5s."""
    res = {}
    for split, (name, data) in payloads.items():
        url = server.add(f"/{cls.__name__}/{name}", data)
        res[split] = Resource(name, (url,), md5=th.md5(data))
    monkeypatch.setattr(cls, "resources", res)


AG_ROWS = {
    "train": [
        ["3", "Wall St. Bears Claw Back", 'Reuters - Short-sellers, "dwindling"\\band.'],
        ["4", "Mars rover", "NASA says, the rover\nfound water"],
    ],
    "test": [["1", "Talks end", "Leaders meet."]],
}


def test_ag_news(monkeypatch, server, hub_home, th):
    files = {s: (f"{s}.csv", _csv(rows).encode()) for s, rows in AG_ROWS.items()}
    _serve(monkeypatch, server, th, D.AG_NEWS, files)
    train = D.AG_NEWS(split="train", progress=False)
    expected = [(int(r[0]), " ".join(r[1:])) for r in AG_ROWS["train"]]
    assert list(train) == expected
    assert list(D.AG_NEWS(split="test", progress=False)) == [(1, "Talks end Leaders meet.")]
    assert os.path.isfile(os.path.join(hub_home, "datasets", "AG_NEWS", "train.csv"))
    # present and intact: no second download
    D.AG_NEWS(split="train", progress=False)
    assert server.hits["/AG_NEWS/train.csv"] == 1
    with pytest.raises(ValueError, match="unknown split 'dev'"):
        D.AG_NEWS(split="dev")


@pytest.mark.parametrize(
    "cls,folder", [(D.YelpReviewPolarity, "yelp_review_polarity_csv"), (D.DBpedia, "dbpedia_csv")]
)
def test_csv_archives(monkeypatch, server, hub_home, th, cls, folder):
    rows = {
        "train": [["2", 'Great food, "really" great.'], ["1", "Meh.\nNever again."]],
        "test": [["1", "Bad"]],
    }
    archive = _tar_gz(
        {f"{folder}/{s}.csv": _csv(r) for s, r in rows.items()} | {f"{folder}/readme.txt": "x"}
    )
    name = cls.resources["train"].filename
    _serve(monkeypatch, server, th, cls, {"train": (name, archive), "test": (name, archive)})
    assert list(cls(split="train", progress=False)) == [(int(a), b) for a, b in rows["train"]]
    assert list(cls(split="test", progress=False)) == [(1, "Bad")]


def test_imdb_streams_tar_members(monkeypatch, server, hub_home, th):
    files = {
        "aclImdb/train/pos/0_9.txt": "Loved it.<br />Great.",
        "aclImdb/train/neg/1_2.txt": "Hated it.",
        "aclImdb/train/unsup/2_0.txt": "unlabelled",
        "aclImdb/test/pos/3_10.txt": "Fine film",
        "aclImdb/README": "readme",
    }
    archive = _tar_gz(files)
    _serve(
        monkeypatch,
        server,
        th,
        D.IMDB,
        {"train": ("aclImdb_v1.tar.gz", archive), "test": ("aclImdb_v1.tar.gz", archive)},
    )
    assert sorted(D.IMDB(split="train", progress=False)) == [
        (1, "Hated it."),
        (2, "Loved it.<br />Great."),
    ]
    assert list(D.IMDB(split="test", progress=False)) == [(2, "Fine film")]


def test_sst2(monkeypatch, server, hub_home, th):
    archive = _zip(
        {
            "SST-2/train.tsv": (
                "sentence\tlabel\nhide new secretions \t0\nthe greatest musicians \t1\n"
            ),
            "SST-2/dev.tsv": "sentence\tlabel\nit 's a charming journey . \t1\n",
            "SST-2/test.tsv": "index\tsentence\n0\tuneasy mishmash .\n",
        }
    )
    _serve(monkeypatch, server, th, D.SST2, {s: ("SST-2.zip", archive) for s in D.SST2.splits})
    assert list(D.SST2(split="train", progress=False)) == [
        (0, "hide new secretions "),
        (1, "the greatest musicians "),
    ]
    assert list(D.SST2(split="dev", progress=False)) == [(1, "it 's a charming journey . ")]
    assert list(D.SST2(split="test", progress=False)) == [("uneasy mishmash .",)]


WIKI = " = Valkyria Chronicles III = \n\n Senjō no Valkyria 3 : <unk> Chronicles \n"


@pytest.mark.parametrize(
    "cls,folder", [(D.WikiText2, "wikitext-2"), (D.WikiText103, "wikitext-103")]
)
def test_wikitext(monkeypatch, server, hub_home, th, cls, folder):
    archive = _zip({f"{folder}/wiki.{s}.tokens": f"{s}{WIKI}" for s in cls.splits})
    name = cls.resources["train"].filename
    _serve(monkeypatch, server, th, cls, {s: (name, archive) for s in cls.splits})
    lines = list(cls(split="valid", progress=False))
    assert lines == f"valid{WIKI}".split("\n")[:-1]


def test_penn_treebank(monkeypatch, server, hub_home, th):
    text = " aer banknote berlitz \n pierre <unk> N years old \n"
    _serve(
        monkeypatch,
        server,
        th,
        D.PennTreebank,
        {s: (f"ptb.{s}.txt", text.encode()) for s in D.PennTreebank.splits},
    )
    assert list(D.PennTreebank(split="test", progress=False)) == [
        " aer banknote berlitz ",
        " pierre <unk> N years old ",
    ]


def test_multi30k(monkeypatch, server, hub_home, th):
    de, en = "Zwei Männer stehen.\nEin Hund läuft.\n", "Two men stand.\nA dog runs.\n"
    payloads = {}
    for split, name, prefix in [
        ("train", "training.tar.gz", "train"),
        ("valid", "validation.tar.gz", "val"),
        ("test", "mmt16_task1_test.tar.gz", "test"),
    ]:
        payloads[split] = (name, _tar_gz({f"{prefix}.de": de, f"{prefix}.en": en}))
    _serve(monkeypatch, server, th, D.Multi30k, payloads)
    pairs = list(D.Multi30k(split="valid", progress=False))
    assert pairs == [("Zwei Männer stehen.", "Two men stand."), ("Ein Hund läuft.", "A dog runs.")]
    rev = list(D.Multi30k(split="test", language_pair=("en", "de"), progress=False))
    assert rev[0] == ("Two men stand.", "Zwei Männer stehen.")


def test_squad(monkeypatch, server, hub_home, th):
    doc = {
        "version": "v2.0",
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Ember is a framework written in 2026.",
                        "qas": [
                            {
                                "id": "1",
                                "question": "When?",
                                "answers": [{"text": "2026", "answer_start": 32}],
                            },
                            {"id": "2", "question": "Who?", "answers": [], "is_impossible": True},
                        ],
                    }
                ],
            }
        ],
    }
    data = json.dumps(doc).encode()
    for cls, names in [
        (D.SQuAD1, ("train-v1.1.json", "dev-v1.1.json")),
        (D.SQuAD2, ("train-v2.0.json", "dev-v2.0.json")),
    ]:
        _serve(monkeypatch, server, th, cls, {"train": (names[0], data), "dev": (names[1], data)})
        items = list(cls(split="dev", progress=False))
        ctx = doc["data"][0]["paragraphs"][0]["context"]
        assert items == [(ctx, "When?", ["2026"], [32]), (ctx, "Who?", [""], [-1])]
        assert ctx[32:36] == "2026"


def test_conll2000(monkeypatch, server, hub_home, th):
    text = "Confidence NN B-NP\nin IN B-PP\nthe DT B-NP\n\nRockwell NNP B-NP\n. . O\n\n"
    data = gzip.compress(text.encode(), mtime=0)
    _serve(
        monkeypatch,
        server,
        th,
        D.CoNLL2000Chunking,
        {"train": ("train.txt.gz", data), "test": ("test.txt.gz", data)},
    )
    sents = list(D.CoNLL2000Chunking(split="train", progress=False))
    assert sents == [
        (["Confidence", "in", "the"], ["NN", "IN", "DT"], ["B-NP", "B-PP", "B-NP"]),
        (["Rockwell", "."], ["NNP", "."], ["B-NP", "O"]),
    ]


def test_corrupted_archive_is_refused(monkeypatch, server, hub_home, th):
    good = _zip({"SST-2/train.tsv": "sentence\tlabel\nok \t1\n"})
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0xFF
    url = server.add("/SST2/SST-2.zip", bytes(bad))
    res = Resource("SST-2.zip", (url,), md5=th.md5(good))
    monkeypatch.setattr(D.SST2, "resources", {s: res for s in D.SST2.splits})
    with pytest.raises(HashMismatchError):
        D.SST2(split="train", progress=False)
    assert not os.path.exists(os.path.join(hub_home, "datasets", "SST2", "SST-2.zip"))
    # a damaged file already on disk is not trusted either
    folder = os.path.join(hub_home, "datasets", "SST2")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "SST-2.zip"), "wb") as f:
        f.write(bytes(bad))
    with pytest.raises(DatasetNotFoundError, match="wrong checksum"):
        D.SST2(split="train", download=False)
    server.files["/SST2/SST-2.zip"] = good  # the server is fixed: a fresh download works
    assert list(D.SST2(split="train", progress=False)) == [(1, "ok ")]


def test_missing_without_download(hub_home):
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        D.PennTreebank(split="train", download=False)


def test_workers_share_a_stream_without_overlap(monkeypatch, server, hub_home, th):
    text = "".join(f"line {i}\n" for i in range(50))
    _serve(
        monkeypatch,
        server,
        th,
        D.PennTreebank,
        {s: (f"ptb.{s}.txt", text.encode()) for s in D.PennTreebank.splits},
    )
    ds = D.PennTreebank(split="train", progress=False)
    got = [
        x for batch in DataLoader(ds, batch_size=5, num_workers=2, collate_fn=list) for x in batch
    ]
    assert sorted(got) == sorted(f"line {i}" for i in range(50))
