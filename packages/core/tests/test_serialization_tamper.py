"""ember's own format: damaged, truncated and tampered files are refused with a
message naming the problem."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from ember import serialization
from ember._tensor import _wrap
from ember.serialization import CheckpointError


def saved(obj=None) -> bytes:
    if obj is None:
        obj = {"w": _wrap(np.arange(6, dtype=np.float32).reshape(2, 3)), "n": 1}
    buf = io.BytesIO()
    serialization.save(obj, buf)
    return buf.getvalue()


def rebuild(raw: bytes, edit_manifest=None, drop=(), data=None) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            if name in drop:
                continue
            content = src.read(name)
            if name == "manifest.json" and edit_manifest is not None:
                content = edit_manifest(json.loads(content))
                if not isinstance(content, bytes):
                    content = json.dumps(content).encode()
            if name == "data.bin" and data is not None:
                content = data
            dst.writestr(name, content)
    out.seek(0)
    return out


def edit_tensor(**fields):
    def edit(m):
        m["tensors"][0].update(fields)
        return m

    return edit


def test_untampered_rebuild_loads():
    back = serialization.load(rebuild(saved(), lambda m: m))
    np.testing.assert_array_equal(back["w"]._a, np.arange(6).reshape(2, 3))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: b"{nope", "manifest.json is not valid JSON"),
        (lambda m: b'{"a": 1, "a": 1}', "duplicate key"),
        (lambda m: b'{"format": "ember", "x": NaN}', "non-standard JSON constant NaN"),
        (lambda m: b"\xff", "not valid JSON"),
        (lambda m: [1], "does not describe an ember checkpoint"),
        (lambda m: {**m, "format": "other"}, "does not describe an ember checkpoint"),
        (lambda m: {**m, "version": 2}, "format version 2 is not supported"),
        (lambda m: {**m, "byteorder": "big"}, "byteorder must be 'little'"),
        (lambda m: {**m, "storages": {}}, "field 'storages' must be list"),
        (edit_tensor(dtype="float8"), "unknown dtype 'float8'"),
        (edit_tensor(dtype=None), "unknown dtype None"),
        (
            edit_tensor(shape=[2, 4]),
            "needs elements \\[0, 7\\) of float32, but the storage holds 6",
        ),
        (edit_tensor(shape=[2, -3]), "shape must be integers >= 0"),
        (edit_tensor(shape=[2, 3.0]), "shape must be a list of integers"),
        (edit_tensor(strides=[3, 2]), "needs elements \\[0, 8\\)"),
        (edit_tensor(strides=[-3, 1]), "needs elements \\[-3, 3\\)"),
        (edit_tensor(strides=[3]), "1 strides for a 2-d shape"),
        (edit_tensor(offset=1), "needs elements \\[1, 7\\)"),
        (edit_tensor(offset=-1), "offset must be an integer >= 0"),
        (edit_tensor(storage=3), "refers to storage 3; the file has 1"),
        (edit_tensor(storage=True), "field 'storage' must be int"),
        (edit_tensor(requires_grad="no"), "field 'requires_grad' must be bool"),
        (edit_tensor(device=0), "field 'device' must be str"),
    ],
)
def test_tampered_manifest_is_refused(edit, message):
    with pytest.raises(CheckpointError, match=message):
        serialization.load(rebuild(saved(), edit))


def test_storage_outside_data_is_refused():
    def edit(m):
        m["storages"][0]["nbytes"] = 1000
        return m

    with pytest.raises(CheckpointError, match="storage 0 spans bytes \\[0, 1000\\)"):
        serialization.load(rebuild(saved(), edit))


def test_short_data_entry_is_refused():
    with pytest.raises(CheckpointError, match="storage 0 spans bytes \\[0, 24\\) but data.bin"):
        serialization.load(rebuild(saved(), data=bytes(20)))


@pytest.mark.parametrize(
    "node, message",
    [
        ({"type": "tensor", "index": 5}, "tensor index 5 out of range"),
        ({"type": "tensor", "index": "0"}, "tensor index '0' out of range"),
        ({"type": "pickle", "items": []}, "malformed value"),
        ({"type": "list", "items": [], "extra": 1}, "malformed value"),
        ([1, 2], "malformed value"),
        ({"type": "list", "items": {}}, "items must be a JSON array"),
        ({"type": "float", "value": "1e5"}, "bad float value"),
        ({"type": "bytes", "base64": "***"}, "bad base64"),
        ({"type": "dict", "items": [[{"type": "list", "items": []}, 1]]}, "is not a scalar"),
        ({"type": "dict", "items": [[1]]}, "is not a \\[key, value\\] pair"),
        ({"type": "size", "items": [1, -2]}, "size must be integers >= 0"),
    ],
)
def test_tampered_values_are_refused(node, message):
    def edit(m):
        m["object"] = node
        return m

    with pytest.raises(CheckpointError, match=message):
        serialization.load(rebuild(saved(), edit))


def test_deeply_nested_manifest_is_refused():
    deep = '{"type":"list","items":[' * 100_000 + "]}" * 100_000

    def edit(m):
        text = json.dumps(m)
        return text.replace(
            '"object": {', f'"object": {{"type":"list","items":[{deep}]}}, "x": {{'
        ).encode()

    with pytest.raises(CheckpointError, match="nested too deeply|not valid JSON"):
        serialization.load(rebuild(saved(), edit))


def test_saving_too_deep_nesting_is_a_valueerror():
    obj: list = []
    for _ in range(100_000):
        obj = [obj]
    with pytest.raises(ValueError, match="nested too deeply"):
        serialization.save(obj, io.BytesIO())


def test_missing_entries_are_named():
    with pytest.raises(CheckpointError, match="missing the zip entry 'data.bin'"):
        serialization.load(rebuild(saved(), drop={"data.bin"}))
    with pytest.raises(CheckpointError, match="neither an ember checkpoint"):
        serialization.load(rebuild(saved(), drop={"manifest.json"}))


def test_every_truncation_is_refused():
    raw = saved()
    for cut in range(0, len(raw), 5):
        with pytest.raises(CheckpointError):
            serialization.load(io.BytesIO(raw[:cut]))


def test_flipped_data_byte_fails_crc():
    raw = bytearray(saved())
    at = raw.index(np.arange(6, dtype=np.float32).tobytes())
    raw[at + 5] ^= 0x40
    with pytest.raises(CheckpointError, match="CRC"):
        serialization.load(io.BytesIO(bytes(raw)))
