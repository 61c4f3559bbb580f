"""Transforms and batching: pipelines, padding, bucketing (padding fraction, order,
determinism under a seed) and BPTT streams."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import ember
from ember.data import DataLoader
from ember.text import build_vocab_from_iterator, get_tokenizer
from ember.text import transforms as T
from ember.text.batching import (
    BPTTIterator,
    BucketBatchSampler,
    PadCollate,
    batchify,
    collate_padded,
    padding_fraction,
)

TEXTS = ["The cat sat.", "A dog!", "Cats and dogs, together at last."]


def _pipeline():
    tok = get_tokenizer("basic_english")
    v = build_vocab_from_iterator(map(tok, TEXTS), specials=["<pad>", "<unk>", "<bos>", "<eos>"])
    v.set_default_index(v["<unk>"])
    pipe = T.Sequential(
        T.Tokenize(tok),
        T.VocabTransform(v),
        T.Truncate(4),
        T.AddToken(v["<bos>"], begin=True),
        T.AddToken(v["<eos>"], begin=False),
        T.ToTensor(padding_value=v["<pad>"]),
    )
    return pipe, v, tok


def test_pipeline_single_and_batch():
    pipe, v, tok = _pipeline()
    one = pipe("The zebra sat.")
    expected = [v["<bos>"], v["the"], v["<unk>"], v["sat"], v["."], v["<eos>"]]
    assert one.tolist() == expected and one.dtype == ember.int64
    batch = pipe(TEXTS)
    rows = []
    for t in TEXTS:
        ids = [v["<bos>"], *v(tok(t))[:4], v["<eos>"]]
        rows.append(ids + [v["<pad>"]] * (6 - len(ids)))
    assert batch.tolist() == rows
    assert pickle.loads(pickle.dumps(pipe))("A dog!").tolist() == pipe("A dog!").tolist()


def test_pad_sequence_and_pad_transform():
    seqs = [[1, 2, 3], [4], []]
    out = T.pad_sequence(seqs, batch_first=True, padding_value=9)
    assert out.tolist() == [[1, 2, 3], [4, 9, 9], [9, 9, 9]]
    left = T.pad_sequence([ember.tensor([1, 2]), ember.tensor([3])], padding_side="left")
    assert left.tolist() == [[1, 2], [0, 3]]
    time_major = T.pad_sequence(seqs, batch_first=False)
    assert time_major.tolist() == np.array([[1, 2, 3], [4, 0, 0], [0, 0, 0]]).T.tolist()
    assert T.PadTransform(5, -1)(ember.tensor([[1, 2]])).tolist() == [[1, 2, -1, -1, -1]]
    assert T.PadTransform(1, 0)(ember.tensor([1, 2])).tolist() == [1, 2]
    with pytest.raises(ValueError, match="1-D"):
        T.pad_sequence([[[1]]])
    with pytest.raises(ValueError, match="set padding_value"):
        T.ToTensor()([[1], [1, 2]])


def test_label_to_index():
    lab = T.LabelToIndex(["neg", "pos"])
    assert lab("pos") == 1 and lab(["pos", "neg"]) == [1, 0]
    with pytest.raises(KeyError, match="unknown label 'meh'"):
        lab("meh")


def test_bucket_sampler_pads_less_and_covers_everything():
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 200, size=2000)
    bucketed = list(BucketBatchSampler(lengths, 32, generator=ember.Generator().manual_seed(1)))
    perm = rng.permutation(len(lengths))
    random_batches = [perm[i : i + 32] for i in range(0, len(perm), 32)]
    assert sorted(i for b in bucketed for i in b) == list(range(len(lengths)))
    assert len(bucketed) == len(BucketBatchSampler(lengths, 32))
    pf_bucket = padding_fraction(bucketed, lengths)
    pf_random = padding_fraction(random_batches, lengths)
    assert pf_random > 0.4 and pf_bucket < 0.05, (pf_bucket, pf_random)


def test_bucket_sampler_determinism_and_order():
    lengths = list(range(100, 0, -1))
    a = list(BucketBatchSampler(lengths, 8, generator=ember.Generator().manual_seed(3)))
    b = list(BucketBatchSampler(lengths, 8, generator=ember.Generator().manual_seed(3)))
    c = list(BucketBatchSampler(lengths, 8, generator=ember.Generator().manual_seed(4)))
    assert a == b and a != c
    ember.manual_seed(7)
    s = BucketBatchSampler(lengths, 8)
    e1, e2 = list(s), list(s)
    assert e1 != e2  # a new shuffle every epoch
    ember.manual_seed(7)
    assert list(BucketBatchSampler(lengths, 8)) == e1
    fixed = list(BucketBatchSampler(lengths, 8, shuffle=False, drop_last=True))
    assert fixed[0] == list(range(99, 91, -1)) and len(fixed) == 12
    desc = BucketBatchSampler(lengths, 8, sort_within_batch=True, generator=ember.Generator())
    for batch in desc:
        assert [lengths[i] for i in batch] == sorted((lengths[i] for i in batch), reverse=True)
    with pytest.raises(ValueError, match="batch_size"):
        BucketBatchSampler(lengths, 0)


def test_bucket_sampler_with_dataloader_and_pad_collate():
    pipe, v, tok = _pipeline()
    data = [(t, i % 2) for i, t in enumerate(TEXTS * 4)]
    transform = T.Sequential(T.Tokenize(tok), T.VocabTransform(v))
    lengths = [len(transform(t)) for t, _ in data]
    sampler = BucketBatchSampler(lengths, 4, generator=ember.Generator().manual_seed(0))
    collate = PadCollate(padding_value=v["<pad>"], sort_by_length=True, transform=transform)
    seen = 0
    for padded, lens, labels in DataLoader(data, batch_sampler=sampler, collate_fn=collate):
        assert padded.shape[0] == lens.shape[0] == labels.shape[0]
        assert padded.shape[1] == int(lens.max().item())
        assert lens.tolist() == sorted(lens.tolist(), reverse=True)
        for row, n in zip(padded.tolist(), lens.tolist()):
            assert all(x == v["<pad>"] for x in row[n:]) and v["<pad>"] not in row[:n]
        seen += padded.shape[0]
    assert seen == len(data)


def test_collate_padded():
    padded, lengths = collate_padded([[5, 6], [7], [8, 9, 1]], padding_value=0)
    assert padded.tolist() == [[5, 6, 0], [7, 0, 0], [8, 9, 1]]
    assert lengths.tolist() == [2, 1, 3] and lengths.dtype == ember.int64


def test_bptt_streams():
    data = np.arange(103)
    assert batchify(data, 4).tolist() == np.arange(100).reshape(4, 25).tolist()
    it = BPTTIterator(data, batch_size=4, bptt_len=7)
    steps = list(it)
    assert len(steps) == len(it) == 4  # 24 input columns: 7 + 7 + 7 + 3
    xs = np.concatenate([x.numpy() for x, _ in steps], axis=1)
    ys = np.concatenate([y.numpy() for _, y in steps], axis=1)
    streams = np.arange(100).reshape(4, 25)
    assert (xs == streams[:, :-1]).all() and (ys == streams[:, 1:]).all()
    assert tuple(steps[0][0].shape) == (4, 7) and tuple(steps[-1][0].shape) == (4, 3)
    x, y = next(iter(BPTTIterator(data, 4, 7, batch_first=False)))
    assert tuple(x.shape) == (7, 4) and (x.numpy() == streams[:, :7].T).all()
    with pytest.raises(ValueError, match="too short"):
        batchify(np.arange(3), 4)
