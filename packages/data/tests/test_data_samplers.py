"""Samplers: order, counts and statistics checked against independent references."""

import numpy as np
import pytest

import ember
from ember.data import (
    BatchSampler,
    RandomSampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)


def _gen(seed):
    return ember.Generator().manual_seed(seed)


def test_sequential_sampler():
    assert list(SequentialSampler(range(5))) == [0, 1, 2, 3, 4]
    assert len(SequentialSampler(range(5))) == 5


def test_random_sampler_is_a_permutation_per_epoch():
    s = RandomSampler(range(50), generator=_gen(0))
    e1, e2 = list(s), list(s)
    assert sorted(e1) == sorted(e2) == list(range(50))
    assert e1 != e2  # a new permutation every epoch
    # same seed, same sequence of epochs
    s2 = RandomSampler(range(50), generator=_gen(0))
    assert list(s2) == e1 and list(s2) == e2


def test_random_sampler_num_samples_walks_several_permutations():
    s = RandomSampler(range(4), num_samples=10, generator=_gen(3))
    out = list(s)
    assert len(out) == len(s) == 10
    assert sorted(out[:4]) == sorted(out[4:8]) == [0, 1, 2, 3]
    assert len(set(out[8:])) == 2


def test_random_sampler_with_replacement_is_roughly_uniform():
    out = np.array(
        list(RandomSampler(range(5), replacement=True, num_samples=20000, generator=_gen(1)))
    )
    assert out.min() == 0 and out.max() == 4
    counts = np.bincount(out, minlength=5)
    # 5 sigma of a binomial(20000, 0.2) is about 283
    assert np.all(np.abs(counts - 4000) < 283), counts


def test_random_sampler_follows_the_default_seed_without_a_generator():
    ember.manual_seed(7)
    a = list(RandomSampler(range(30)))
    ember.manual_seed(7)
    b = list(RandomSampler(range(30)))
    assert a == b and sorted(a) == list(range(30))


def test_random_sampler_validates():
    with pytest.raises(ValueError, match="num_samples"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    idx = [10, 20, 30, 40]
    out = list(SubsetRandomSampler(idx, generator=_gen(5)))
    assert sorted(out) == idx and len(SubsetRandomSampler(idx)) == 4


def test_weighted_sampler_matches_the_weights():
    w = [1.0, 0.0, 3.0, 6.0]
    out = np.array(list(WeightedRandomSampler(w, 30000, generator=_gen(2))))
    freq = np.bincount(out, minlength=4) / len(out)
    np.testing.assert_allclose(freq, np.array(w) / 10, atol=0.015)
    assert freq[1] == 0


def test_weighted_sampler_without_replacement_draws_distinct_indices():
    w = np.ones(8)
    out = list(WeightedRandomSampler(w, 8, replacement=False, generator=_gen(0)))
    assert sorted(out) == list(range(8))
    with pytest.raises(ValueError, match="without replacement"):
        WeightedRandomSampler([1.0, 0.0, 1.0], 3, replacement=False)
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([1.0, -1.0], 3)
    with pytest.raises(ValueError, match="1-D"):
        WeightedRandomSampler([[1.0]], 3)


@pytest.mark.parametrize("drop_last", [False, True])
def test_batch_sampler_matches_slicing(drop_last):
    items = list(range(10))
    bs = BatchSampler(items, 3, drop_last)
    ref = [items[i : i + 3] for i in range(0, 10, 3)]
    if drop_last:
        ref = ref[:-1]
    assert list(bs) == ref and len(bs) == len(ref)
    with pytest.raises(ValueError, match="batch_size"):
        BatchSampler(items, 0, False)
    with pytest.raises(TypeError, match="drop_last"):
        BatchSampler(items, 2, 1)
