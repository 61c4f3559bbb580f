"""DataLoader behaviour with num_workers 0, 1 and 2, fork and spawn."""

import mmap
import random

import numpy as np
import pytest
from _data_helpers import (
    InitRecordingDataset,
    RandomAugDataset,
    RangeDataset,
    ShardedStream,
    SlowDataset,
    UnshardedStream,
    record_worker_init,
)

import ember
from ember.data import DataLoader, Subset, TensorDataset, get_worker_info

pytestmark = pytest.mark.usefixtures("no_leaks")


def _gen(seed):
    return ember.Generator().manual_seed(seed)


def _labels(loader):
    return [y.tolist() for _x, y in loader]


def _reference(n, batch_size, order, drop_last=False):
    batches = [order[i : i + batch_size] for i in range(0, n, batch_size)]
    if drop_last and len(batches[-1]) < batch_size:
        batches = batches[:-1]
    return batches


@pytest.mark.parametrize("num_workers", [0, 1, 2])
@pytest.mark.parametrize("drop_last", [False, True])
def test_sequential_batches_match_slicing(num_workers, drop_last):
    loader = DataLoader(
        RangeDataset(23), batch_size=5, num_workers=num_workers, drop_last=drop_last
    )
    ref = _reference(23, 5, list(range(23)), drop_last)
    batches = list(loader)
    assert len(loader) == len(ref)
    assert [y.tolist() for _x, y in batches] == ref
    for (x, y), r in zip(batches, ref):
        assert isinstance(x, ember.Tensor) and x.dtype == ember.float32
        assert y.dtype == ember.int64
        np.testing.assert_array_equal(x.numpy(), np.stack([np.full((2, 3), i) for i in r]))


@pytest.mark.parametrize("num_workers", [0, 1, 2])
def test_shuffle_order_is_the_same_whatever_num_workers(num_workers):
    # The loader draws the epoch's base seed from the generator first, then
    # RandomSampler permutes with the same generator: the reference replays that.
    g_ref = _gen(11)
    ember.randint(0, 2**63 - 1, (1,), dtype=ember.int64, generator=g_ref)
    order = ember.randperm(20, generator=g_ref).tolist()
    loader = DataLoader(
        RangeDataset(20), batch_size=6, shuffle=True, num_workers=num_workers, generator=_gen(11)
    )
    assert _labels(loader) == _reference(20, 6, order)


def test_iterator_len_and_progress_interface():
    loader = DataLoader(RangeDataset(10), batch_size=3, num_workers=2)
    it = iter(loader)
    assert len(it) == len(loader) == 4
    assert sum(1 for _ in it) == 4


def test_batch_size_none_converts_samples():
    out = list(DataLoader(RangeDataset(3), batch_size=None, num_workers=1))
    assert len(out) == 3
    x, y = out[2]
    assert isinstance(x, ember.Tensor) and x.shape == (2, 3) and y == 2


def test_custom_collate_and_batch_sampler():
    loader = DataLoader(
        RangeDataset(6),
        batch_sampler=[[5, 1], [0, 2, 3]],
        num_workers=2,
        collate_fn=lambda b: [y for _x, y in b],
    )
    assert list(loader) == [[5, 1], [0, 2, 3]]
    assert len(loader) == 2


@pytest.mark.parametrize(("num_workers", "context"), [(0, None), (2, "fork"), (2, "spawn")])
def test_iterable_dataset_sharded_with_worker_info(num_workers, context):
    loader = DataLoader(
        ShardedStream(11), batch_size=4, num_workers=num_workers, multiprocessing_context=context
    )
    got = sorted(v for (batch,) in ([b] for b in loader) for v in batch[:, 0].tolist())
    assert got == list(range(11))
    assert len(loader) == 3


def test_iterable_dataset_without_sharding_repeats_per_worker():
    out = list(DataLoader(UnshardedStream(3), batch_size=None, num_workers=2))
    assert sorted(out) == [0, 0, 1, 1, 2, 2]


def test_get_worker_info_is_none_in_the_main_process():
    assert get_worker_info() is None


def test_worker_init_fn_sees_worker_info():
    loader = DataLoader(
        InitRecordingDataset(4), batch_size=None, num_workers=2, worker_init_fn=record_worker_init
    )
    seen = {tuple(s["init_by"]) for s in loader}
    assert seen == {(0, 0, 2), (1, 1, 2)}


def test_workers_draw_distinct_random_streams():
    # The PyTorch pitfall: forked workers inheriting the same numpy state.
    np.random.seed(0)
    loader = DataLoader(RandomAugDataset(40), batch_size=4, num_workers=2, generator=_gen(3))
    batches = list(loader)
    for key in ("numpy", "random", "ember"):
        vals = [v for b in batches for v in b[key].tolist()]
        assert len(set(vals)) == 40, f"{key} values repeat across workers"
    workers = {w for b in batches for w in b["worker"].tolist()}
    assert workers == {0, 1}


@pytest.mark.parametrize("num_workers", [0, 1, 2])
def test_fixed_seed_repeats_values_and_new_epochs_differ(num_workers):
    def run(seed):
        # num_workers=0 leaves the main process's generators to the user
        ember.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        loader = DataLoader(
            RandomAugDataset(12),
            batch_size=3,
            num_workers=num_workers,
            shuffle=True,
            generator=_gen(seed),
        )
        return [{k: v.tolist() for k, v in b.items()} for b in loader], loader

    first, loader = run(5)
    second, _ = run(5)
    assert first == second
    if num_workers:
        third = [{k: v.tolist() for k, v in b.items()} for b in loader]
        assert third != first  # the next epoch gets new seeds


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_start_methods(context):
    loader = DataLoader(
        RangeDataset(9), batch_size=4, num_workers=2, multiprocessing_context=context
    )
    assert _labels(loader) == _reference(9, 4, list(range(9)))


def test_spawn_with_random_dataset_and_persistent_workers():
    loader = DataLoader(
        RandomAugDataset(8),
        batch_size=2,
        num_workers=2,
        multiprocessing_context="spawn",
        persistent_workers=True,
        generator=_gen(1),
    )
    e1 = [b["numpy"].tolist() for b in loader]
    e2 = [b["numpy"].tolist() for b in loader]
    assert len({v for b in e1 for v in b}) == 8
    assert e1 != e2
    loader._iterator._finalizer()


def test_persistent_workers_survive_epochs():
    loader = DataLoader(
        InitRecordingDataset(4),
        batch_size=None,
        num_workers=2,
        persistent_workers=True,
        worker_init_fn=record_worker_init,
    )
    pids1 = {s["pid"] for s in loader}
    pids2 = {s["pid"] for s in loader}
    assert pids1 == pids2 and len(pids1) == 2
    # an abandoned epoch is fine: the next one starts from scratch
    it = iter(loader)
    next(it)
    assert [s["i"] for s in loader] == [0, 1, 2, 3]
    del it
    loader._iterator._finalizer()


def test_out_of_order_yields_ready_batches_first():
    ds = SlowDataset(8, delay=1.0, slow=0)
    ordered = _labels(DataLoader(ds, batch_size=2, num_workers=2))
    assert ordered == [[0, 1], [2, 3], [4, 5], [6, 7]]
    loose = _labels(DataLoader(ds, batch_size=2, num_workers=2, in_order=False))
    assert sorted(loose) == ordered
    assert loose[0] != [0, 1]  # the slow first batch does not hold the others back


def test_prefetch_factor_bounds_batches_in_flight():
    loader = DataLoader(RangeDataset(40), batch_size=2, num_workers=2, prefetch_factor=3)
    it = iter(loader)
    assert len(it._in_flight) == 6
    next(it)
    assert len(it._in_flight) + len(it._buffer) == 6
    assert len(list(it)) == 19


def test_pin_memory_is_accepted():
    ((x, _y),) = list(DataLoader(RangeDataset(2), batch_size=2, pin_memory=True))
    assert x.shape == (2, 2, 3)


def test_argument_validation():
    ds = RangeDataset(4)
    with pytest.raises(ValueError, match="num_workers"):
        DataLoader(ds, num_workers=-1)
    with pytest.raises(ValueError, match="mutually exclusive"):
        DataLoader(ds, sampler=[0, 1], shuffle=True)
    with pytest.raises(ValueError, match="batch_sampler excludes"):
        DataLoader(ds, batch_sampler=[[0]], batch_size=2)
    with pytest.raises(ValueError, match="prefetch_factor"):
        DataLoader(ds, prefetch_factor=2)
    with pytest.raises(ValueError, match="persistent_workers"):
        DataLoader(ds, persistent_workers=True)
    with pytest.raises(ValueError, match="IterableDataset"):
        DataLoader(ShardedStream(3), shuffle=True)
    with pytest.raises(ValueError, match="multiprocessing_context"):
        DataLoader(ds, num_workers=1, multiprocessing_context="teleport")
    with pytest.raises(ValueError, match="timeout"):
        DataLoader(ds, timeout=-1)
    with pytest.raises(TypeError, match="generator"):
        DataLoader(ds, generator="seed")


def test_worker_batches_arrive_in_shared_memory_not_pickled():
    ((x, y),) = list(DataLoader(RangeDataset(64), batch_size=64, num_workers=1))
    for t in (x, y):
        base = t.numpy()
        while isinstance(base, np.ndarray):
            base = base.base
        assert isinstance(base, mmap.mmap), type(base)  # a view of the segment, no copy
    np.testing.assert_array_equal(y.numpy(), np.arange(64))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_tensor_dataset_subset_through_workers(context):
    x = ember.arange(40, dtype=ember.float32).reshape(10, 4)
    ds = Subset(TensorDataset(x, ember.arange(10)), [9, 3, 5, 0, 2])
    loader = DataLoader(ds, batch_size=2, num_workers=2, multiprocessing_context=context)
    xs, ys = zip(*loader)
    assert [y.tolist() for y in ys] == [[9, 3], [5, 0], [2]]
    np.testing.assert_array_equal(
        np.concatenate([b.numpy() for b in xs]), x.numpy()[[9, 3, 5, 0, 2]]
    )
