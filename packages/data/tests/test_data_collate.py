"""default_collate / default_convert against numpy stacking."""

from collections import namedtuple

import numpy as np
import pytest

import ember
from ember.data import default_collate, default_convert

Point = namedtuple("Point", "x y")


def test_collate_stacks_tensors_and_arrays():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(4)]
    out = default_collate([ember.from_numpy(a) for a in arrays])
    assert isinstance(out, ember.Tensor) and out.dtype == ember.float32
    np.testing.assert_array_equal(out.numpy(), np.stack(arrays))
    out = default_collate(arrays)
    assert isinstance(out, ember.Tensor)
    np.testing.assert_array_equal(out.numpy(), np.stack(arrays))


def test_collate_numbers_follow_pytorch_dtypes():
    ints = default_collate([1, 2, 3])
    assert ints.dtype == ember.int64 and ints.tolist() == [1, 2, 3]
    floats = default_collate([1.5, 2.0])
    assert floats.dtype == ember.float64 and floats.tolist() == [1.5, 2.0]
    bools = default_collate([True, False])
    assert bools.dtype == ember.bool and bools.tolist() == [True, False]
    scalars = default_collate([np.float32(1), np.float32(2)])
    assert scalars.dtype == ember.float32 and scalars.tolist() == [1.0, 2.0]


def test_collate_nested_structures():
    batch = [
        {"img": np.full((2,), i, np.float32), "meta": Point(i, f"s{i}"), "tags": [i, i * 10]}
        for i in range(3)
    ]
    out = default_collate(batch)
    assert set(out) == {"img", "meta", "tags"}
    np.testing.assert_array_equal(out["img"].numpy(), [[0, 0], [1, 1], [2, 2]])
    assert isinstance(out["meta"], Point)
    assert out["meta"].x.tolist() == [0, 1, 2]
    assert out["meta"].y == ["s0", "s1", "s2"]
    assert isinstance(out["tags"], list)
    assert out["tags"][0].tolist() == [0, 1, 2] and out["tags"][1].tolist() == [0, 10, 20]
    # tuples become lists, as in PyTorch
    pair = default_collate([(1, "a"), (2, "b")])
    assert isinstance(pair, list) and pair[0].tolist() == [1, 2] and pair[1] == ["a", "b"]


def test_collate_names_the_field_whose_shapes_differ():
    batch = [{"image": np.zeros((3, 4)), "y": 0}, {"image": np.zeros((3, 5)), "y": 1}]
    with pytest.raises(RuntimeError) as e:
        default_collate(batch)
    msg = str(e.value)
    assert "sample['image']" in msg and "(3, 4)" in msg and "(3, 5)" in msg and "sample 1" in msg
    with pytest.raises(RuntimeError, match=r"sample\[0\]\[1\]"):
        default_collate([([1, np.zeros(2)],), ([1, np.zeros(3)],)])


def test_collate_errors():
    with pytest.raises(RuntimeError, match="same length"):
        default_collate([[1, 2], [1]])
    with pytest.raises(RuntimeError, match="keys"):
        default_collate([{"a": 1}, {"b": 1}])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


def test_collate_string_arrays_pass_through():
    out = default_collate([np.array(["a"]), np.array(["b"])])
    assert isinstance(out, list) and len(out) == 2


def test_default_convert():
    a = np.arange(3)
    out = default_convert({"a": a, "b": [np.float64(2.5), "s"], "c": (1, a)})
    assert isinstance(out["a"], ember.Tensor)
    np.testing.assert_array_equal(out["a"].numpy(), a)
    assert np.shares_memory(out["a"].numpy(), a)  # zero-copy
    assert isinstance(out["b"][0], ember.Tensor) and out["b"][1] == "s"
    assert out["c"][0] == 1 and isinstance(out["c"][1], ember.Tensor)
