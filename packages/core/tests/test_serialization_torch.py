"""Loading real PyTorch 2.13 checkpoints (fixtures/make_torch_fixtures.py wrote them)
and refusing damaged ones."""

from __future__ import annotations

import collections
import io
import os
import pickle
import zipfile

import numpy as np
import pytest

import ember
from ember import serialization
from ember.serialization import CheckpointError, UnpicklingError

FIXTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
ZIP = os.path.join(FIXTURES, "torch_zip_checkpoint.pt")
LEGACY = os.path.join(FIXTURES, "torch_legacy_checkpoint.pt")
DTYPES = {
    "float32": "float32",
    "float64": "float64",
    "float16": "float16",
    "bfloat16": "bfloat16",
    "int64": "int64",
    "int32": "int32",
    "int16": "int16",
    "int8": "int8",
    "uint8": "uint8",
    "bool": "bool",
    "complex64": "complex64",
    "scalar": "float32",
    "empty": "float32",
}


@pytest.fixture(scope="module")
def expected() -> dict:
    with np.load(os.path.join(FIXTURES, "torch_fixtures_expected.npz")) as z:
        return {k: z[k] for k in z.files}


def values(t) -> np.ndarray:
    a = t._a
    return a.astype(np.float32) if a.dtype.name == "bfloat16" else a


@pytest.mark.parametrize("path", [ZIP, LEGACY], ids=["zip", "legacy"])
def test_every_tensor_matches_torch(path, expected):
    ckpt = serialization.load(path)
    for key, dtype in DTYPES.items():
        t = ckpt[key]
        assert isinstance(t, ember.Tensor), key
        assert t.dtype is getattr(ember, dtype), key
        ref = expected[f"ckpt/{key}"]
        assert t._a.shape == ref.shape, key
        np.testing.assert_array_equal(values(t), ref, err_msg=key)
    for key in ("base", "transposed", "strided", "param"):
        np.testing.assert_array_equal(ckpt[key]._a, expected[f"ckpt/{key}"], err_msg=key)
    np.testing.assert_array_equal(ckpt["nested"]["inner"]["x"]._a, expected["ckpt/nested/inner/x"])
    np.testing.assert_array_equal(ckpt["ordered"]["b"]._a, expected["ckpt/ordered/b"])


@pytest.mark.parametrize("path", [ZIP, LEGACY], ids=["zip", "legacy"])
def test_structure_and_plain_values(path):
    ckpt = serialization.load(path)
    assert type(ckpt) is dict
    assert ckpt["epoch"] == 7 and ckpt["name"] == "fixture"
    assert ckpt["tuple"] == (1, (2, 3), True)
    assert ckpt["nested"]["list"] == [1, "two", None, 3.5]
    assert type(ckpt["size"]) is ember.Size and ckpt["size"] == (2, 3)
    assert type(ckpt["ordered"]) is collections.OrderedDict
    assert list(ckpt["ordered"]) == ["b", "a"] and ckpt["ordered"]["a"] == 1
    assert ckpt["scalar"]._a.shape == () and ckpt["scalar"]._a == 3.25


@pytest.mark.parametrize("path", [ZIP, LEGACY], ids=["zip", "legacy"])
def test_state_dict_loads_as_ordered_dict_with_metadata(path, expected):
    sd = serialization.load(path)["model"]
    assert type(sd) is collections.OrderedDict
    assert list(sd) == [
        "0.weight",
        "0.bias",
        "1.weight",
        "1.bias",
        "1.running_mean",
        "1.running_var",
        "1.num_batches_tracked",
    ]
    for k, t in sd.items():
        np.testing.assert_array_equal(t._a, expected[f"ckpt/model/{k}"], err_msg=k)
    nbt = sd["1.num_batches_tracked"]
    assert nbt.dtype is ember.int64 and nbt._a.shape == ()
    assert sd._metadata == {"": {"version": 1}, "0": {"version": 1}, "1": {"version": 2}}


@pytest.mark.parametrize("path", [ZIP, LEGACY], ids=["zip", "legacy"])
def test_views_share_memory_as_in_torch(path):
    ckpt = serialization.load(path)
    base, tr, st = ckpt["base"], ckpt["transposed"], ckpt["strided"]
    assert base._a.shape == (3, 4) and tr._a.shape == (4, 3) and st._a.shape == (2, 2)
    base._a[2, 2] = -1.0
    assert tr._a[2, 2] == -1.0
    assert st._a[1, 1] == -1.0
    assert np.shares_memory(base._a, tr._a)


def test_map_location_sees_torch_locations():
    seen = []
    serialization.load(ZIP, map_location=lambda t, loc: seen.append(loc) or t)
    assert seen and set(seen) == {"cpu"}
    ckpt = serialization.load(ZIP, map_location={"cuda:0": "cpu"})
    assert ckpt["float32"].device == ember.device("cpu")


def test_whole_pickled_module_is_refused_by_name():
    with pytest.raises(UnpicklingError, match=r"torch\.nn\.modules\.linear\.Linear"):
        serialization.load(os.path.join(FIXTURES, "torch_whole_module.pt"))
    with pytest.raises(pickle.UnpicklingError):  # the standard base class works too
        serialization.load(os.path.join(FIXTURES, "torch_whole_module.pt"), weights_only=False)


# ----- damaged zip checkpoints -----


def rewrite_zip(path: str, edit) -> io.BytesIO:
    """A copy of zip ``path`` with ``edit(name, data)`` applied to each entry
    (return None to drop the entry)."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = edit(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info.filename, data)
    out.seek(0)
    return out


def test_rewritten_zip_still_loads():  # the helper itself is faithful
    ckpt = serialization.load(rewrite_zip(ZIP, lambda n, d: d))
    np.testing.assert_array_equal(ckpt["int64"]._a, np.arange(-3, 3).reshape(2, 3))


def test_truncated_zip_is_refused():
    data = open(ZIP, "rb").read()
    for cut in (10, len(data) // 2, len(data) - 30):
        with pytest.raises(CheckpointError):
            serialization.load(io.BytesIO(data[:cut]))


def test_missing_storage_entry_is_named():
    f = rewrite_zip(ZIP, lambda n, d: None if n.endswith("/data/3") else d)
    with pytest.raises(CheckpointError, match="data/3"):
        serialization.load(f)


def test_missing_data_pkl_is_refused():
    f = rewrite_zip(ZIP, lambda n, d: None if n.endswith("data.pkl") else d)
    with pytest.raises(CheckpointError, match="neither an ember checkpoint"):
        serialization.load(f)


def test_storage_with_wrong_byte_count_is_refused():
    f = rewrite_zip(ZIP, lambda n, d: d[:-4] if n.endswith("/data/0") else d)
    with pytest.raises(CheckpointError, match=r"storage '0' holds \d+ bytes but"):
        serialization.load(f)


def test_corrupted_storage_bytes_fail_crc():
    raw = bytearray(open(ZIP, "rb").read())
    with zipfile.ZipFile(ZIP) as zf:
        info = zf.getinfo("torch_zip_checkpoint/data/1")
    # Flip the first data byte: it follows the 30-byte local header, the name and
    # the local extra field (whose lengths sit at bytes 26-29 of that header).
    h = info.header_offset
    name_len = int.from_bytes(raw[h + 26 : h + 28], "little")
    extra_len = int.from_bytes(raw[h + 28 : h + 30], "little")
    raw[h + 30 + name_len + extra_len] ^= 0xFF
    with pytest.raises(CheckpointError, match="CRC"):
        serialization.load(io.BytesIO(bytes(raw)))


def test_unknown_byteorder_is_refused():
    f = rewrite_zip(ZIP, lambda n, d: b"middle" if n.endswith("/byteorder") else d)
    with pytest.raises(CheckpointError, match="byteorder"):
        serialization.load(f)


# ----- damaged legacy checkpoints -----


def test_legacy_truncated_storage_is_refused():
    data = open(LEGACY, "rb").read()
    with pytest.raises(CheckpointError, match="truncated"):
        serialization.load(io.BytesIO(data[:-5]))


def test_legacy_truncated_pickle_is_refused():
    data = open(LEGACY, "rb").read()
    with pytest.raises((CheckpointError, UnpicklingError)):
        serialization.load(io.BytesIO(data[:300]))


def test_legacy_bad_magic_is_refused():
    data = bytearray(open(LEGACY, "rb").read())
    assert data[4] == 0x6C  # first byte of the little-endian magic number
    data[4] ^= 1
    with pytest.raises(CheckpointError, match="bad magic number"):
        serialization.load(io.BytesIO(bytes(data)))


def test_legacy_storage_count_mismatch_is_refused():
    data = bytearray(open(LEGACY, "rb").read())
    # After five pickles (magic, version, sys_info, object, keys) come the storages,
    # each led by its 8-byte element count; pickletools finds where pickles end.
    import pickletools

    stream = io.BytesIO(bytes(data))
    for _ in range(5):
        for _op in pickletools.genops(stream):
            pass
    pos = stream.tell()
    count = int.from_bytes(data[pos : pos + 8], "little")
    data[pos : pos + 8] = (count + 1).to_bytes(8, "little")
    with pytest.raises(CheckpointError, match=f"records {count + 1} elements"):
        serialization.load(io.BytesIO(bytes(data)))


def test_unrecognized_bytes_are_refused():
    for junk in (b"", b"hello world, not a checkpoint", b"\x00" * 64):
        with pytest.raises(CheckpointError, match="unrecognized checkpoint format"):
            serialization.load(io.BytesIO(junk))


def test_zip_that_is_neither_format_is_refused():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("readme.txt", "hi")
    buf.seek(0)
    with pytest.raises(CheckpointError, match="neither an ember checkpoint"):
        serialization.load(buf)
