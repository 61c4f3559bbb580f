"""The shared-memory transport on its own: round trips, zero copy, no leftovers."""

import mmap
import os
from collections import namedtuple

import numpy as np
import pytest

import ember
from ember.data import _shm

Pair = namedtuple("Pair", "a b")


@pytest.fixture
def writer():
    w = _shm.Writer(_shm.new_prefix(0, _shm.new_token()))
    yield w
    w.discard()
    assert _shm.sweep(w.prefix) == []


def _names(prefix):
    return [n for n in os.listdir("/dev/shm") if n.startswith(prefix)]


def test_round_trip_of_nested_batch(writer):
    a = writer.allocate((4, 3), np.float32)
    a[...] = np.arange(12).reshape(4, 3)
    labels = np.array([1, 2, 3, 4])  # not allocated in shm: copied by pack
    batch = {"x": ember.from_numpy(a), "p": Pair(labels, "tag"), "l": [ember.zeros(0), 5]}
    packed = writer.pack(batch)
    writer.sent()
    assert len(_names(writer.prefix)) == 2
    out = _shm.unpack(packed)
    assert _names(writer.prefix) == []  # unlinked as soon as mapped
    assert isinstance(out["x"], ember.Tensor)
    np.testing.assert_array_equal(out["x"].numpy(), np.arange(12).reshape(4, 3))
    assert isinstance(out["p"], Pair) and out["p"].b == "tag"
    assert isinstance(out["p"].a, np.ndarray)
    np.testing.assert_array_equal(out["p"].a, labels)
    assert out["l"][0].shape == (0,) and out["l"][1] == 5


def test_received_tensor_is_a_view_of_the_mapping(writer):
    a = writer.allocate((128, 3, 32, 32), np.float32)
    a[...] = 1.5
    packed = writer.pack(ember.from_numpy(a))
    writer.sent()
    del a
    t = _shm.unpack(packed)
    base = t.numpy()
    while isinstance(base, np.ndarray):
        base = base.base
    assert isinstance(base, mmap.mmap)  # zero-copy: the tensor views the mapping
    assert float(t.numpy().sum()) == 1.5 * 128 * 3 * 32 * 32


def test_non_contiguous_arrays_are_copied(writer):
    src = np.arange(20.0).reshape(4, 5)[:, ::2]
    out = _shm.unpack(writer.pack(src))
    writer.sent()
    np.testing.assert_array_equal(out, src)


def test_discard_unlinks_unsent_segments(writer):
    writer.allocate((10,), np.int64)
    writer.allocate((10,), np.int64)
    assert len(_names(writer.prefix)) == 2
    writer.discard()
    assert _names(writer.prefix) == []


def test_release_and_sweep(writer):
    packed = writer.pack([np.ones(3), np.ones(4)])
    writer.sent()
    _shm.release(packed)
    assert _names(writer.prefix) == []
    writer.allocate((5,), np.uint8)
    writer.sent()  # forgotten by the writer: only the sweep finds it
    assert len(_shm.sweep(writer.prefix)) == 1
