"""safetensors: ember's writer byte-for-byte against the reference package's file
and a hand-computed header; strict validation of hostile headers."""

from __future__ import annotations

import io
import json
import os
import struct

import ml_dtypes
import numpy as np
import pytest

import ember
from ember import serialization
from ember._tensor import _wrap
from ember.serialization import CheckpointError, safetensors

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
REFERENCE = os.path.join(FIXTURES, "reference.safetensors")


@pytest.fixture(scope="module")
def expected() -> dict:
    with np.load(os.path.join(FIXTURES, "torch_fixtures_expected.npz")) as z:
        return {k[3:]: z[k] for k in z.files if k.startswith("st/")}


def file_bytes(header: dict | bytes, data: bytes = b"") -> bytes:
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def test_reference_file_values(expected):
    loaded = safetensors.load_file(REFERENCE)
    assert set(loaded) == set(expected)
    for name, ref in expected.items():
        a = loaded[name]._a
        a = a.astype(np.float32) if a.dtype == ml_dtypes.bfloat16 else a
        assert a.shape == ref.shape, name
        np.testing.assert_array_equal(a, ref, err_msg=name)
    assert loaded["brain"].dtype is ember.bfloat16
    assert loaded["scalar"]._a.shape == ()
    assert safetensors.load_metadata(REFERENCE) == {"format": "pt"}


def test_writer_matches_reference_package_byte_for_byte():
    loaded = safetensors.load_file(REFERENCE)
    ref = open(REFERENCE, "rb").read()
    # Insertion order must not matter: the format sorts by dtype, then name.
    shuffled = {k: loaded[k] for k in sorted(loaded, reverse=True)}
    assert safetensors.save(shuffled, metadata={"format": "pt"}) == ref


def test_writer_against_hand_computed_header(tmp_path):
    w = np.array([[1, 2], [3, 4]], np.float32)
    b = np.array([-1], np.int64)
    m = np.array([True, False, True])
    path = tmp_path / "x.safetensors"
    safetensors.save_file(
        {"w": _wrap(w), "mask": _wrap(m), "b": _wrap(b)}, path, metadata={"k": "v"}
    )
    header = (
        b'{"__metadata__":{"k":"v"},'
        b'"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},'
        b'"w":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]},'
        b'"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[24,27]}}'
    )
    header += b" " * (-len(header) % 8)
    want = struct.pack("<Q", len(header)) + header + b.tobytes() + w.tobytes() + m.tobytes()
    assert path.read_bytes() == want
    assert len(header) % 8 == 0


@pytest.mark.parametrize(
    "dtype",
    [
        "bool",
        "uint8",
        "int8",
        "int16",
        "int32",
        "int64",
        "float16",
        "bfloat16",
        "float32",
        "float64",
        "complex64",
    ],
)
def test_roundtrip_every_dtype(dtype, tmp_path):
    npdt = ember._dtype.to_numpy_dtype(getattr(ember, dtype))
    a = (np.arange(-6, 6).reshape(3, 4) * 1.5).astype(npdt)
    t = {"x": _wrap(a), "t": _wrap(a.T), "e": _wrap(np.zeros((0, 2), npdt))}
    path = tmp_path / "r.safetensors"
    safetensors.save_file(t, path)
    back = safetensors.load_file(path)
    for k in t:
        assert back[k].dtype is getattr(ember, dtype)
        np.testing.assert_array_equal(back[k]._a, t[k]._a)
    via_load = serialization.load(path)
    np.testing.assert_array_equal(via_load["t"]._a, a.T)
    assert safetensors.load(safetensors.save(t))["x"]._a.tolist() == a.tolist()


def test_loaded_tensors_are_views_into_one_buffer(tmp_path):
    path = tmp_path / "v.safetensors"
    safetensors.save_file({"a": _wrap(np.ones(4)), "b": _wrap(np.zeros(4))}, path)
    back = safetensors.load_file(path)

    def owner(a):
        while isinstance(a.base, np.ndarray):
            a = a.base
        return a

    assert owner(back["a"]._a) is owner(back["b"]._a)
    assert owner(back["a"]._a).nbytes == path.stat().st_size
    assert back["a"]._a.flags.writeable


def test_empty_dict():
    raw = safetensors.save({})
    assert raw == struct.pack("<Q", 8) + b"{}      "
    assert safetensors.load(raw) == {}


def test_writer_refuses_bad_input():
    with pytest.raises(TypeError, match="must be an ember Tensor"):
        safetensors.save({"a": np.zeros(2)})
    with pytest.raises(TypeError, match="metadata must be a dict of str -> str"):
        safetensors.save({}, metadata={"a": 1})
    with pytest.raises(TypeError, match="names must be strings"):
        safetensors.save({"__metadata__": _wrap(np.zeros(1))})
    with pytest.raises(TypeError, match="no dtype code for complex128"):
        safetensors.save({"c": _wrap(np.zeros(1, np.complex128))})


GOOD = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}


@pytest.mark.parametrize(
    "raw, message",
    [
        (b"\x03\x00", "too short"),
        (struct.pack("<Q", 1000) + b"{}", "header claims 1000 bytes"),
        (struct.pack("<Q", 2**60) + b"{}", "header claims"),
        (file_bytes(b"{not json"), "not valid JSON"),
        (file_bytes(b"[1, 2]"), "must be a JSON object"),
        (file_bytes(b'{"a": 1, "a": 2}'), "duplicate key"),
        (file_bytes(b"\xff\xfe"), "not valid JSON"),
        (file_bytes({"a": {"dtype": "F32", "shape": [2]}}), "exactly dtype, shape"),
        (file_bytes({"a": {**GOOD["a"], "dtype": "F31"}}, bytes(8)), "unknown dtype 'F31'"),
        (file_bytes({"a": {**GOOD["a"], "dtype": "U16"}}, bytes(8)), "U16, which ember lacks"),
        (file_bytes({"a": {**GOOD["a"], "shape": [-2]}}, bytes(8)), "bad shape"),
        (file_bytes({"a": {**GOOD["a"], "shape": [True]}}, bytes(8)), "bad shape"),
        (file_bytes({"a": {**GOOD["a"], "data_offsets": [8, 0]}}, bytes(8)), "bad data_offsets"),
        (file_bytes({"a": {**GOOD["a"], "shape": [3]}}, bytes(8)), "needs 12 bytes"),
        (file_bytes(GOOD, bytes(4)), "data area holds 4"),
        (file_bytes(GOOD, bytes(12)), "tensors cover 8 bytes but the data area holds 12"),
        (
            file_bytes(
                {"a": GOOD["a"], "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}},
                bytes(8),
            ),
            "gap or overlap",
        ),
        (
            file_bytes({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)),
            "starts at byte 4",
        ),
        (file_bytes({"__metadata__": {"k": 1}, **GOOD}, bytes(8)), "__metadata__ must map"),
        (file_bytes(b'{"a": NaN}'), "non-standard JSON constant"),
    ],
)
def test_hostile_headers_are_refused(raw, message, tmp_path):
    with pytest.raises(CheckpointError, match=message):
        safetensors.load(raw)
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(CheckpointError):
        safetensors.load_file(path)


def test_truncating_a_real_file_is_always_refused():
    raw = open(REFERENCE, "rb").read()
    for cut in range(0, len(raw), 7):
        with pytest.raises(CheckpointError):
            safetensors.load(raw[:cut])
        with pytest.raises(CheckpointError):
            serialization.load(io.BytesIO(raw[:cut]))


def test_unaligned_tensors_are_copied_aligned():
    header = {
        "b": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},
        "f": {"dtype": "F64", "shape": [1], "data_offsets": [1, 9]},
    }
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    data = struct.pack("<Q", len(raw)) + raw + b"\x07" + struct.pack("<d", 2.5)
    out = safetensors.load(data)
    assert out["f"]._a.tolist() == [2.5] and out["f"]._a.flags.aligned
