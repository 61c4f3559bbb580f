"""ember.save / ember.load round trips in ember's own format, checked against numpy."""

from __future__ import annotations

import collections
import io
import json
import math
import os
import stat
import zipfile

import ml_dtypes
import numpy as np
import pytest

import ember
from ember import serialization
from ember._tensor import _wrap

DTYPES = {
    "bool": np.bool_,
    "uint8": np.uint8,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float32": np.float32,
    "float64": np.float64,
    "complex64": np.complex64,
    "complex128": np.complex128,
}
SHAPES = [(), (0,), (3, 0, 2), (5,), (2, 3), (2, 3, 4)]


def sample(dtype, shape, seed=0) -> np.ndarray:
    """Deterministic values of every kind a dtype can hold (negatives, fractions)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(rng.standard_normal(shape) * 50)
    if dtype is np.bool_:
        return np.asarray(x > 0)
    if np.dtype(dtype).kind == "c":
        return np.asarray(x + 1j * rng.standard_normal(shape)).astype(dtype)
    if np.dtype(dtype).kind == "u":
        return np.asarray(np.abs(x)).astype(dtype)
    return x.astype(dtype)


def roundtrip(obj, **load_kwargs):
    buf = io.BytesIO()
    ember.serialization.save(obj, buf)
    buf.seek(0)
    return ember.serialization.load(buf, **load_kwargs)


def manifest_of(obj) -> dict:
    buf = io.BytesIO()
    serialization.save(obj, buf)
    with zipfile.ZipFile(buf) as zf:
        return json.loads(zf.read("manifest.json"))


@pytest.mark.parametrize("name", list(DTYPES))
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_tensor_roundtrip_every_dtype_and_shape(name, shape):
    a = sample(DTYPES[name], shape)
    back = roundtrip(_wrap(a.copy()))
    assert isinstance(back, ember.Tensor)
    assert back.dtype is getattr(ember, name)
    assert back._a.shape == shape
    np.testing.assert_array_equal(back._a, a)


@pytest.mark.parametrize("name", ["float32", "bfloat16", "complex64", "int16"])
def test_noncontiguous_views_saved_contiguous(name):
    base = sample(DTYPES[name], (4, 6))
    views = {
        "transposed": base.T,
        "stepped": base[::2, 1::3],
        "negative": base[::-1, ::-2],
        "broadcast": np.broadcast_to(base[0], (3, 6)),
    }
    for label, v in views.items():
        back = roundtrip(_wrap(v))
        np.testing.assert_array_equal(back._a, v, err_msg=label)
        # Only the view's own elements are written, contiguously.
        m = manifest_of(_wrap(v))
        assert m["storages"][0]["nbytes"] == v.size * v.itemsize, label
        assert back._a.flags.c_contiguous, label


def test_views_of_one_tensor_share_memory_after_load():
    base = np.arange(24, dtype=np.float32).reshape(4, 6)
    t = _wrap(base)
    views = {"t": t, "T": _wrap(base.T), "row": _wrap(base[1]), "neg": _wrap(base[::-1, ::2])}
    back = roundtrip(views)
    for k, v in views.items():
        np.testing.assert_array_equal(back[k]._a, v._a)
    assert len(manifest_of(views)["storages"]) == 1
    back["t"]._a[1, 0] = -7.0  # element [1, 0] appears in every view
    assert back["T"]._a[0, 1] == -7.0
    assert back["row"]._a[0] == -7.0
    assert back["neg"]._a[2, 0] == -7.0


def test_partial_overlap_merges_into_one_storage():
    base = np.arange(10, dtype=np.int64)
    a, b = _wrap(base[:6]), _wrap(base[4:])
    back = roundtrip([a, b])
    back[0]._a[5] = 99
    assert back[1]._a[1] == 99
    np.testing.assert_array_equal(back[1]._a, [4, 99, 6, 7, 8, 9])


def test_disjoint_slices_are_stored_separately():
    base = np.arange(10, dtype=np.int64)
    m = manifest_of([_wrap(base[:3]), _wrap(base[5:])])
    assert [s["nbytes"] for s in m["storages"]] == [24, 40]


def test_same_tensor_twice_is_one_object():
    t = _wrap(np.arange(3.0))
    back = roundtrip({"a": t, "b": [t, (t,)]})
    assert back["a"] is back["b"][0] is back["b"][1][0]
    assert len(manifest_of({"a": t, "b": t})["tensors"]) == 1


def test_nested_containers_and_scalars():
    t = _wrap(np.ones((2, 2), np.float32))
    obj = {
        "int": -(2**80),
        "float": 0.1,
        "nan": math.nan,
        "inf": math.inf,
        "-inf": -math.inf,
        "str": "héllo\u0000\n\ud800",
        "bytes": b"\x00\xffraw",
        "none": None,
        "bools": [True, False],
        "tuple": (1, (2.5, "x"), ()),
        "list": [[], [t, [t]]],
        "od": collections.OrderedDict([("z", 1), ("a", 2)]),
        3: "int key",
        -1.5: "float key",
        None: "none key",
        "size": ember.Size([2, 0, 3]),
    }
    back = roundtrip(obj)
    assert list(back) == list(obj)
    for k in ("int", "float", "str", "bytes", "none", "bools", "inf", "-inf", 3, -1.5, None):
        assert back[k] == obj[k] and type(back[k]) is type(obj[k]), k
    assert math.isnan(back["nan"])
    assert back["tuple"] == (1, (2.5, "x"), ())
    assert type(back["tuple"][1]) is tuple
    assert type(back["od"]) is collections.OrderedDict and list(back["od"].items()) == [
        ("z", 1),
        ("a", 2),
    ]
    assert type(back["size"]) is ember.Size and back["size"] == (2, 0, 3)
    assert back["list"][1][0] is back["list"][1][1][0]
    np.testing.assert_array_equal(back["list"][1][0]._a, np.ones((2, 2)))


def test_loaded_tensors_are_writable_and_independent_of_the_file(tmp_path):
    path = tmp_path / "a.ember"
    serialization.save({"w": _wrap(np.zeros(3, np.float32))}, path)
    back = serialization.load(path)
    back["w"]._a += 1
    np.testing.assert_array_equal(serialization.load(path)["w"]._a, np.zeros(3))


def test_path_and_file_object_give_identical_bytes(tmp_path):
    obj = {"x": _wrap(np.arange(5, dtype=np.int32)), "y": [1, 2]}
    serialization.save(obj, tmp_path / "p.ember")
    serialization.save(obj, str(tmp_path / "s.ember"))
    buf = io.BytesIO()
    serialization.save(obj, buf)
    assert (tmp_path / "p.ember").read_bytes() == buf.getvalue()
    assert (tmp_path / "s.ember").read_bytes() == buf.getvalue()
    with open(tmp_path / "p.ember", "rb") as f:
        np.testing.assert_array_equal(serialization.load(f)["x"]._a, np.arange(5))


def test_container_is_a_stored_zip_with_aligned_little_endian_buffers():
    a = np.arange(3, dtype=np.float64)
    b = np.arange(5, dtype=np.int16)
    buf = io.BytesIO()
    serialization.save([_wrap(b), _wrap(a)], buf)
    with zipfile.ZipFile(buf) as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_STORED}
        m = json.loads(zf.read("manifest.json"))
        data = zf.read("data.bin")
    assert m["format"] == "ember" and m["byteorder"] == "little"
    s0, s1 = m["storages"]
    assert s0["offset"] % 64 == 0 and s1["offset"] % 64 == 0
    assert data[s0["offset"] : s0["offset"] + s0["nbytes"]] == b.astype("<i2").tobytes()
    assert data[s1["offset"] : s1["offset"] + s1["nbytes"]] == a.astype("<f8").tobytes()
    assert m["tensors"][1] == {
        "storage": 1,
        "dtype": "float64",
        "shape": [3],
        "strides": [1],
        "offset": 0,
        "device": "cpu",
        "requires_grad": False,
    }


@pytest.mark.parametrize(
    "obj, where, typ",
    [
        ({"a": {1, 2}}, "obj['a']", "set"),
        ([1, object()], "obj[1]", "object"),
        ({"a": [np.float32(1)]}, "obj['a'][0]", "float32"),
        ({"a": np.zeros(2)}, "obj['a']", "ndarray"),
        ({(1, 2): 3}, "key (1, 2)", "tuple"),
    ],
)
def test_unsupported_values_raise_typeerror_naming_the_path(obj, where, typ, tmp_path):
    path = tmp_path / "x.ember"
    with pytest.raises(TypeError, match=r".*".join(map(__import__("re").escape, [where, typ]))):
        serialization.save(obj, path)
    assert os.listdir(tmp_path) == []


def test_cycles_are_refused():
    a: list = [1]
    a.append(a)
    with pytest.raises(ValueError, match="contains itself"):
        serialization.save(a, io.BytesIO())


def test_atomic_write_failure_leaves_no_file_and_no_temp(tmp_path, monkeypatch):
    from ember.serialization import _ember_format

    path = tmp_path / "ckpt.ember"
    real_write = zipfile.ZipFile.writestr

    def failing(self, *args, **kwargs):
        real_write(self, *args, **kwargs)  # some bytes reach the temp file first
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing)
    with pytest.raises(OSError, match="disk full"):
        serialization.save({"w": _wrap(np.ones(1000))}, path)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    # An existing file survives a failed overwrite untouched.
    serialization.save({"v": 1}, path)
    before = path.read_bytes()

    def fail_in_data(plan, f):
        f.write(b"PK partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(_ember_format, "write", fail_in_data)
    with pytest.raises(KeyboardInterrupt):
        serialization.save({"v": 2}, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.ember"]


def test_saved_file_gets_umask_mode_not_tempfile_mode(tmp_path):
    old = os.umask(0o022)
    try:
        serialization.save([1], tmp_path / "m.ember")
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "m.ember").st_mode) == 0o644


def test_missing_directory_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        serialization.save([1], tmp_path / "no" / "x.ember")


def test_save_rejects_non_file_target():
    with pytest.raises(TypeError, match="path or a binary file"):
        serialization.save([1], 42)


def test_map_location_forms():
    t = _wrap(np.arange(4.0))
    for ml in (None, "cpu", ember.device("cpu"), {"cpu": "cpu"}, {"cuda:0": "cpu"}):
        back = roundtrip({"t": t}, map_location=ml)
        np.testing.assert_array_equal(back["t"]._a, np.arange(4.0))
    seen = []

    def fn(tensor, location):
        seen.append(location)
        return _wrap(tensor._a * 2)

    back = roundtrip([t, t], map_location=fn)
    assert seen == ["cpu"]  # one tensor, saved once
    np.testing.assert_array_equal(back[1]._a, np.arange(4.0) * 2)
    with pytest.raises(TypeError, match="must return an ember Tensor"):
        roundtrip([t], map_location=lambda s, loc: "nope")
    with pytest.raises(TypeError, match="map_location"):
        roundtrip([t], map_location=3)
    with pytest.raises((ValueError, RuntimeError)):
        roundtrip([t], map_location="gpu:zero")


def test_weights_only_must_be_bool():
    with pytest.raises(TypeError, match="weights_only"):
        roundtrip([1], weights_only="yes")
    assert roundtrip([1], weights_only=False) == [1]


def test_requires_grad_is_recorded():
    from ember import _tensor

    m = manifest_of(_wrap(np.ones(2)))
    assert m["tensors"][0]["requires_grad"] is False
    if _tensor._engine is not None:
        t = _wrap(np.ones(2)).requires_grad_(True)
        assert roundtrip(t).requires_grad


def test_text_mode_file_is_refused(tmp_path):
    serialization.save([1], tmp_path / "t.ember")
    with open(tmp_path / "t.ember", encoding="latin-1") as f:
        with pytest.raises(TypeError, match="binary mode"):
            serialization.load(f)


def test_non_seekable_stream_loads():
    class Stream(io.RawIOBase):
        def __init__(self, data):
            self._src = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, b):
            return self._src.readinto(b)

    buf = io.BytesIO()
    serialization.save({"x": _wrap(np.arange(3))}, buf)
    back = serialization.load(Stream(buf.getvalue()))
    np.testing.assert_array_equal(back["x"]._a, [0, 1, 2])
