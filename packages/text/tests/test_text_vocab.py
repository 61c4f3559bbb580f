"""Vocab: construction rules, lookups, default index, persistence through ember.save."""

from __future__ import annotations

import io
from collections import Counter

import pytest

import ember
from ember.text import Vocab, build_vocab_from_iterator, vocab

DOCS = [
    "the cat sat on the mat".split(),
    "the dog sat on the log".split(),
    "a cat and a dog".split(),
]


def test_order_by_frequency_then_alphabet():
    v = build_vocab_from_iterator(DOCS)
    counts = Counter(t for d in DOCS for t in d)
    expected = sorted(counts, key=lambda t: (-counts[t], t))
    assert v.get_itos() == expected
    assert v.get_stoi() == {t: i for i, t in enumerate(expected)}
    assert v.itos[0] == "the" and v["the"] == 0 and len(v) == len(counts)


def test_min_freq_specials_max_tokens():
    v = build_vocab_from_iterator(DOCS, min_freq=2, specials=["<unk>", "<pad>"])
    assert v.get_itos() == ["<unk>", "<pad>", "the", "a", "cat", "dog", "on", "sat"]
    last = build_vocab_from_iterator(DOCS, min_freq=2, specials=["<unk>"], special_first=False)
    assert last.get_itos()[-1] == "<unk>" and last.get_itos()[0] == "the"
    capped = build_vocab_from_iterator(DOCS, specials=["<unk>"], max_tokens=4)
    assert capped.get_itos() == ["<unk>", "the", "a", "cat"]
    with pytest.raises(ValueError, match="max_tokens=1"):
        build_vocab_from_iterator(DOCS, specials=["<a>", "<b>"], max_tokens=1)
    with pytest.raises(TypeError, match="item 0 of the iterator is a str"):
        build_vocab_from_iterator(["not tokenized"])


def test_default_index_and_lookups():
    v = build_vocab_from_iterator(DOCS, specials=["<unk>"])
    with pytest.raises(KeyError, match="'zebra' is not in the vocabulary"):
        v["zebra"]
    v.set_default_index(v["<unk>"])
    assert v["zebra"] == 0 and v.get_default_index() == 0
    ids = v(["the", "zebra", "cat"])
    assert ids == [v["the"], 0, v["cat"]] == v.lookup_indices(["the", "zebra", "cat"])
    assert v.lookup_tokens(ids) == ["the", "<unk>", "cat"]
    assert v.lookup_tokens(ember.tensor(ids)) == ["the", "<unk>", "cat"]
    with pytest.raises(IndexError, match="out of range"):
        v.lookup_token(len(v))
    with pytest.raises(TypeError, match="got a str"):
        v.lookup_indices("the")
    with pytest.raises(IndexError):
        v.set_default_index(len(v))


def test_edits():
    v = Vocab(["a", "b"])
    v.set_default_index(1)
    v.insert_token("<pad>", 0)
    assert v.get_itos() == ["<pad>", "a", "b"] and v["b"] == 2 and v.get_default_index() == 2
    v.append_token("c")
    assert v["c"] == 3 and "c" in v and "z" not in v
    with pytest.raises(ValueError, match="already in the vocabulary"):
        v.append_token("a")


def test_vocab_factory_keeps_given_order():
    v = vocab({"z": 5, "y": 1, "x": 3}, min_freq=2, specials=["<s>"])
    assert v.get_itos() == ["<s>", "z", "x"]


def test_save_load_roundtrip(tmp_path):
    v = build_vocab_from_iterator(DOCS, specials=["<unk>"])
    v.set_default_index(0)
    v.save(tmp_path / "v.ember")
    w = Vocab.load(tmp_path / "v.ember")
    assert w == v and w["zebra"] == 0
    buf = io.BytesIO()
    v.save(buf)
    buf.seek(0)
    assert Vocab.load(buf).get_itos() == v.get_itos()
    ember.save({"itos": ["a"]}, tmp_path / "other")
    with pytest.raises(ValueError, match="not an ember.text vocabulary"):
        Vocab.load(tmp_path / "other")
