"""Tokenizers against hand-computed results and the Hugging Face ``tokenizers``
reference output (fixtures written by tools/make_tokenizer_fixtures.py)."""

from __future__ import annotations

import json
import os
import pickle

import pytest

from ember.text.tokenizers import (
    BertTokenizer,
    ByteLevelBPETokenizer,
    CharacterTokenizer,
    RegexTokenizer,
    bytes_to_unicode,
    get_tokenizer,
    gpt2_pre_tokenize,
)

# ---- rule-based ------------------------------------------------------------------------


def test_basic_english_by_hand():
    tok = get_tokenizer("basic_english")
    text = 'Hello, World! It\'s <br />a "test" (really); ok: yes?'
    # lowercase; ' -> " '  "; drop "; . , ( ) ! ? split off; <br /> ; : become spaces
    assert tok(text) == [
        "hello",
        ",",
        "world",
        "!",
        "it",
        "'",
        "s",
        "a",
        "test",
        "(",
        "really",
        ")",
        "ok",
        "yes",
        "?",
    ]
    assert tok("Mr. Smith.") == ["mr", ".", "smith", "."]
    assert tok("") == []


def test_whitespace_and_character():
    text = " a  b\tc\nd\u3000e "
    assert get_tokenizer(None)(text) == text.split()
    assert get_tokenizer("whitespace")(text) == ["a", "b", "c", "d", "e"]
    assert get_tokenizer("character")("ab c") == ["a", "b", " ", "c"]
    assert CharacterTokenizer(keep_whitespace=False)("ab c\n") == ["a", "b", "c"]
    assert CharacterTokenizer()("é😀") == ["é", "😀"]


def test_regex_tokenizer():
    tok = RegexTokenizer([(r"\d+", " <num> "), (r"[^\w\s<>]", " ")])
    assert tok("Call 555-1234 now!") == ["Call", "<num>", "<num>", "now"]
    with pytest.raises(TypeError, match=r"patterns_list\[0\]"):
        RegexTokenizer(["not a pair"])


def test_get_tokenizer_errors_and_passthrough():
    fn = str.split
    assert get_tokenizer(fn) is fn
    with pytest.raises(ValueError, match="unknown tokenizer 'spacy'"):
        get_tokenizer("spacy")
    with pytest.raises(ValueError, match="language='en'"):
        get_tokenizer("basic_english", language="de")
    with pytest.raises(TypeError, match="expects a str"):
        get_tokenizer("basic_english")(["list"])


def test_tokenizers_pickle():
    for tok in [get_tokenizer("basic_english"), get_tokenizer("whitespace"), CharacterTokenizer()]:
        again = pickle.loads(pickle.dumps(tok))
        assert again("Some text, here.") == tok("Some text, here.")


# ---- WordPiece -------------------------------------------------------------------------


def _wordpiece_subset(th) -> tuple[BertTokenizer, dict]:
    """A BertTokenizer whose vocabulary is exactly the tokens the reference produced.
    Greedy longest-match-first gives the same pieces with any vocabulary that holds
    all of them (a longer match would have been chosen by the reference too), so this
    checks the whole pipeline without shipping the 30k-token vocabulary."""
    fx = th.load_fixture("wordpiece_minilm.json")
    tokens = sorted({t for toks in fx["tokens"] for t in toks} | {"[UNK]", "[PAD]", "[MASK]"})
    return BertTokenizer(tokens), fx


def test_wordpiece_matches_reference_tokens(th):
    tok, fx = _wordpiece_subset(th)
    assert len(fx["sentences"]) >= 200
    for sentence, ref in zip(fx["sentences"], fx["tokens"]):
        assert ["[CLS]", *tok.tokenize(sentence), "[SEP]"] == ref, sentence


def test_wordpiece_rules_by_hand():
    vocab = [
        "[PAD]",
        "[UNK]",
        "[CLS]",
        "[SEP]",
        "un",
        "##aff",
        "##able",
        "aff",
        "##a",
        "run",
        "##ning",
        ",",
        "!",
    ]
    tok = BertTokenizer(vocab, max_input_chars_per_word=10)
    assert tok.tokenize("UNaffable, running!") == [
        "un",
        "##aff",
        "##able",
        ",",
        "run",
        "##ning",
        "!",
    ]
    # a word with an unmatched piece becomes one [UNK]; so does an over-long word
    assert tok.tokenize("unaffx affable") == ["[UNK]", "aff", "##able"]
    assert tok.tokenize("runningrunning") == ["[UNK]"]
    assert tok.encode("run") == [2, 9, 3]
    assert tok.normalize("Ça\u00a0VA\x07!") == "ca va!"
    assert tok.pre_tokenize("a,b  c!") == ["a", ",", "b", "c", "!"]
    assert tok.decode(tok.encode("running, un affable!")) == "running, un affable!"


def test_wordpiece_batch_and_truncation():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c"]
    tok = BertTokenizer(vocab)
    batch = tok(["a b c", "a"], return_tensors="np")
    assert batch["input_ids"].tolist() == [[2, 4, 5, 6, 3], [2, 4, 3, 0, 0]]
    assert batch["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert tok.encode("a b c a b c", truncation=True, max_length=5) == [2, 4, 5, 6, 3]
    pair = tok.encode_plus("a a a a", "b b", truncation=True, max_length=7)
    assert pair.ids == [2, 4, 4, 3, 5, 5, 3]  # longest-first: only the first shrinks
    assert pair.type_ids == [0, 0, 0, 0, 1, 1, 1]
    t = tok(["a", "b c"])
    assert tuple(t["input_ids"].shape) == (2, 4)
    with pytest.raises(ValueError, match="max_length=1 leaves no room"):
        tok.encode("a", truncation=True, max_length=1)
    with pytest.raises(ValueError, match="cls_token"):
        BertTokenizer(["[UNK]", "[SEP]"])


def test_wordpiece_from_vocab_txt_and_json(tmp_path):
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "hello", "world"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    a = BertTokenizer.from_pretrained(tmp_path / "vocab.txt")
    b = BertTokenizer.from_pretrained(tmp_path)
    spec = {
        "normalizer": {
            "type": "BertNormalizer",
            "lowercase": False,
            "strip_accents": None,
            "handle_chinese_chars": True,
            "clean_text": True,
        },
        "model": {
            "type": "WordPiece",
            "unk_token": "[UNK]",
            "vocab": {t: i for i, t in enumerate(vocab)},
        },
        "added_tokens": [{"content": "[MASK]"}],
    }
    (tmp_path / "tokenizer.json").write_text(json.dumps(spec), encoding="utf-8")
    c = BertTokenizer.from_pretrained(tmp_path / "tokenizer.json")
    assert a.encode("Hello [MASK] world") == b.encode("hello [MASK] world") == [2, 5, 4, 6, 3]
    assert c.encode("Hello world") == [2, 1, 6, 3]  # cased: "Hello" is unknown
    (tmp_path / "dup.txt").write_text("a\nb\na\n", encoding="utf-8")
    with pytest.raises(ValueError, match="appears twice"):
        BertTokenizer.from_pretrained(tmp_path / "dup.txt")


def test_wordpiece_full_minilm_ids(th, minilm_dir):
    """The real 30,522-token vocabulary, from both vocab.txt and tokenizer.json."""
    fx = th.load_fixture("wordpiece_minilm.json")
    from_json = BertTokenizer.from_pretrained(minilm_dir)
    from_txt = BertTokenizer.from_pretrained(os.path.join(minilm_dir, "vocab.txt"))
    for sentence, ids in zip(fx["sentences"], fx["ids"]):
        assert from_json.encode(sentence) == ids, sentence
        assert from_txt.encode(sentence) == ids, sentence
    for (a, b), ids, types in zip(fx["pairs"], fx["pair_ids"], fx["pair_type_ids"]):
        enc = from_json.encode_plus(a, b)
        assert (enc.ids, enc.type_ids) == (ids, types)


# ---- byte-level BPE --------------------------------------------------------------------


def test_bytes_to_unicode_is_a_printable_bijection():
    table = bytes_to_unicode()
    assert len(set(table.values())) == 256
    assert table[ord("A")] == "A" and table[ord(" ")] == "\u0120" and table[10] == "\u010a"
    assert all(not c.isspace() and c.isprintable() for c in table.values())


def test_gpt2_pre_tokenize_by_hand():
    assert gpt2_pre_tokenize("Hello world's  fine!!\n\n x2 ") == [
        "Hello",
        " world",
        "'s",
        " ",
        " fine",
        "!!",
        "\n\n",
        " x",
        "2",
        " ",
    ]
    assert gpt2_pre_tokenize("I'M 'sup") == ["I", "'", "M", " '", "sup"]
    assert gpt2_pre_tokenize("a\nb") == ["a", "\n", "b"]


def test_bpe_matches_reference(th):
    tok = ByteLevelBPETokenizer.from_pretrained(os.path.join(th.FIXTURES, "bpe_tokenizer.json"))
    fx = th.load_fixture("bpe_reference.json")
    assert len(fx["sentences"]) >= 200
    for sentence, ids in zip(fx["sentences"], fx["ids"]):
        assert tok.encode(sentence, add_special_tokens=False) == ids, sentence
    for sentence, ids in zip(fx["sentences"], fx["ids_with_specials"]):
        assert tok.encode(sentence) == ids, sentence
    for ids, text in zip(fx["ids"], fx["decoded"]):
        assert tok.decode(ids) == text


def test_bpe_merges_by_hand(tmp_path):
    vocab = {c: i for i, c in enumerate(["a", "b", "c", "ab", "abc", "\u0120", "\u0120a"])}
    merges = ["a b", "ab c", "\u0120 a"]
    tok = ByteLevelBPETokenizer(vocab, merges)
    assert tok.tokenize("abcab a") == ["abc", "ab", "\u0120a"]
    assert tok.decode(tok.encode("abcab a")) == "abcab a"
    (tmp_path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (tmp_path / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
    )
    again = ByteLevelBPETokenizer.from_pretrained(tmp_path)
    assert again.encode("abcab a") == tok.encode("abcab a")
    with pytest.raises(KeyError, match="no unk_token"):
        tok.encode("z")


def test_bpe_refuses_unsupported_files(tmp_path):
    spec = json.loads(
        open(os.path.join(os.path.dirname(__file__), "fixtures", "bpe_tokenizer.json")).read()
    )
    spec["model"]["dropout"] = 0.1
    (tmp_path / "t.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValueError, match="dropout"):
        ByteLevelBPETokenizer.from_pretrained(tmp_path / "t.json")
    spec["model"] = {"type": "WordPiece"}
    (tmp_path / "t.json").write_text(json.dumps(spec), encoding="utf-8")
    with pytest.raises(ValueError, match="expected a BPE model"):
        ByteLevelBPETokenizer.from_pretrained(tmp_path / "t.json")


def test_bpe_batch_without_a_length_limit(th):
    tok = ByteLevelBPETokenizer.from_pretrained(os.path.join(th.FIXTURES, "bpe_tokenizer.json"))
    texts = ["a short one", "a somewhat longer sentence here"]
    batch = tok(texts, padding=False, return_tensors=None)
    assert batch["input_ids"][1] == tok.encode("a somewhat longer sentence here")
    with pytest.raises(ValueError, match="pad token None"):
        tok(texts)
    pad = tok.vocab["<pad>"]
    tok.pad_token = "<pad>"
    padded = tok(["a", "a b c"], return_tensors="np")["input_ids"]
    assert padded[0, -1] == pad and padded.shape[1] == len(tok.encode("a b c"))
