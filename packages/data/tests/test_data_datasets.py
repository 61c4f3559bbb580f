"""Datasets and random_split, checked against plain Python/numpy references."""

import numpy as np
import pytest

import ember
from ember.data import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)


class Squares(Dataset):
    def __init__(self, n, offset=0):
        self.n, self.offset = n, offset

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not -self.n <= i < self.n:
            raise IndexError(i)
        return (i % self.n + self.offset) ** 2


class Count(IterableDataset):
    def __init__(self, lo, hi):
        self.lo, self.hi = lo, hi

    def __iter__(self):
        return iter(range(self.lo, self.hi))

    def __len__(self):
        return self.hi - self.lo


def test_tensor_dataset_indexes_every_tensor_along_dim0():
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    y = np.array([5, 6, 7, 8])
    ds = TensorDataset(ember.from_numpy(x), ember.from_numpy(y))
    assert len(ds) == 4
    a, b = ds[2]
    np.testing.assert_array_equal(a.numpy(), x[2])
    assert b.item() == 7


def test_tensor_dataset_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"size mismatch.*\[4, 3\]"):
        TensorDataset(ember.zeros(4, 2), ember.zeros(3))
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()


def test_concat_dataset_matches_list_concatenation():
    parts = [Squares(3), Squares(0), Squares(4, offset=10)]
    ds = ConcatDataset(parts)
    ref = [p[i] for p in parts for i in range(len(p))]
    assert len(ds) == len(ref) == 7
    assert [ds[i] for i in range(7)] == ref
    assert [ds[-i] for i in range(1, 8)] == [ref[-i] for i in range(1, 8)]
    assert (Squares(2) + Squares(1))[2] == 0
    with pytest.raises(IndexError, match="out of range"):
        ds[7]
    with pytest.raises(IndexError, match="out of range"):
        ds[-8]


def test_chain_dataset_and_iterable_add():
    assert list(ChainDataset([Count(0, 3), Count(10, 12)])) == [0, 1, 2, 10, 11]
    assert list(Count(0, 2) + Count(5, 6)) == [0, 1, 5]
    assert len(ChainDataset([Count(0, 3), Count(10, 12)])) == 5
    with pytest.raises(TypeError, match="IterableDataset"):
        ConcatDataset([Count(0, 3)])


def test_subset_and_stack_dataset():
    sub = Subset(Squares(10), [9, 0, 4])
    assert len(sub) == 3
    assert [sub[i] for i in range(3)] == [81, 0, 16]
    assert sub.__getitems__([2, 0]) == [16, 81]
    st = StackDataset(Squares(3), Squares(3, offset=1))
    assert st[2] == (4, 9) and len(st) == 3
    sd = StackDataset(a=Squares(3), b=Squares(3, offset=1))
    assert sd[1] == {"a": 1, "b": 4}
    with pytest.raises(ValueError, match="different lengths"):
        StackDataset(Squares(3), Squares(4))


def _gen(seed):
    return ember.Generator().manual_seed(seed)


def test_random_split_is_a_partition_and_reproducible():
    ds = Squares(10)
    a, b = random_split(ds, [np.int64(7), 3], generator=_gen(1))
    assert len(a) == 7 and len(b) == 3
    assert sorted(list(a.indices) + list(b.indices)) == list(range(10))
    a2, b2 = random_split(ds, [7, 3], generator=_gen(1))
    assert list(a2.indices) == list(a.indices)
    # the permutation is the generator's own randperm
    assert list(a.indices) + list(b.indices) == ember.randperm(10, generator=_gen(1)).tolist()


def test_random_split_fractions_spread_the_remainder():
    parts = random_split(Squares(11), [0.5, 0.3, 0.2], generator=_gen(0))
    # floors are 5, 3, 2 (sum 10); the one left over goes to the first split
    assert [len(p) for p in parts] == [6, 3, 2]
    idx = sorted(i for p in parts for i in p.indices)
    assert idx == list(range(11))


def test_random_split_rejects_bad_lengths():
    with pytest.raises(ValueError, match="does not equal the dataset length 10"):
        random_split(Squares(10), [5, 4])
    with pytest.raises(ValueError, match="fractions"):
        random_split(Squares(10), [0.5, 0.6])
    with pytest.raises(TypeError, match="generator"):
        random_split(Squares(10), [5, 5], generator=3)
