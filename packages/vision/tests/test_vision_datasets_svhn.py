"""SVHN from MAT-files, and ember's level-5 MAT-file reader (against scipy when installed)."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import struct
import sys
import warnings
import zlib

import numpy as np
import pytest

from ember.hub import HashMismatchError
from ember.vision.datasets import SVHN, DatasetNotFoundError, _matlab
from ember.vision.datasets._matlab import MatFileError, read_mat


def _load_writer():
    path = os.path.join(os.path.dirname(__file__), "matv5_writer.py")
    spec = importlib.util.spec_from_file_location("matv5_writer_svhn", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up there
    spec.loader.exec_module(mod)
    return mod


W = _load_writer()


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


# ---------------------------------------------------------------------------- reader
@pytest.mark.parametrize("order", ["<", ">"])
@pytest.mark.parametrize("compress", [False, True])
def test_read_mat_numeric_char_cell_struct(tmp_path, order, compress):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, 3, 2, 5), dtype=np.uint8)
    d = rng.standard_normal((3, 2))
    labels = np.array([[1.0], [10.0], [7.0]])
    z = np.array([[1 + 2j, -3.5 + 0.25j]])
    variables = {
        "X": x,
        "d": d,
        "y": W.Stored(labels, "u1"),  # MATLAB's small-integer storage of doubles
        "i16": np.array([[-7, 300]], dtype=np.int16),
        "f4": np.array([[0.5], [1.5]], dtype=np.float32),
        "L": np.array([[True, False, True]]),
        "z": z,
        "s": "n01440764",
        "c": W.Cell([np.array([[2.0, 3.0]]), "ab"], (1, 2)),
        "st": W.Struct(
            ["WNID", "num"],
            [{"WNID": "n1", "num": np.array([[4.0]])}, {"WNID": "n22", "num": np.array([[5.0]])}],
            (2, 1),
        ),
    }
    path = tmp_path / "v.mat"
    path.write_bytes(W.mat_file(variables, order, compress))
    got = read_mat(path)
    assert sorted(got) == sorted(variables)
    np.testing.assert_array_equal(got["X"], x)
    assert got["X"].dtype == np.uint8 and got["X"].shape == (4, 3, 2, 5)
    np.testing.assert_array_equal(got["d"], d)
    assert got["y"].dtype == np.float64 and got["y"].tolist() == [[1.0], [10.0], [7.0]]
    assert got["i16"].dtype == np.int16 and got["i16"].tolist() == [[-7, 300]]
    assert got["f4"].dtype == np.float32 and got["f4"].tolist() == [[0.5], [1.5]]
    assert got["L"].dtype == bool and got["L"].tolist() == [[True, False, True]]
    np.testing.assert_array_equal(got["z"], z)
    assert got["s"].tolist() == ["n01440764"]
    assert got["c"].shape == (1, 2) and got["c"][0, 0].tolist() == [[2.0, 3.0]]
    assert got["c"][0, 1].tolist() == ["ab"]
    st = got["st"]
    assert st.shape == (2, 1) and st.dtype.names == ("WNID", "num")
    assert st[1, 0]["WNID"].tolist() == ["n22"] and st[1, 0]["num"].item() == 5.0


def test_read_mat_multirow_char_and_empty(tmp_path):
    # A 2x3 char array ['abc'; 'def'] is stored column-major: a d b e c f.
    units = np.array([ord(c) for c in "adbecf"], dtype="<u2")
    body = W._head(4, (2, 3), "m", "<") + W._num(units, "<")
    el = struct.pack("<II", W.MI_MATRIX, len(body)) + body
    empty = struct.pack("<II", W.MI_MATRIX, 0)  # empty cell entry
    cell_body = W._head(1, (1, 1), "e", "<") + empty
    cell = struct.pack("<II", W.MI_MATRIX, len(cell_body)) + cell_body
    path = tmp_path / "c.mat"
    path.write_bytes(W.mat_file({})[:128] + el + cell)
    got = read_mat(path)
    assert got["m"].tolist() == ["abc", "def"]
    assert got["e"][0, 0].shape == (0, 0)


def test_read_mat_errors(tmp_path):
    good = W.mat_file({"X": np.arange(6, dtype=np.uint8).reshape(2, 3)})
    bad = tmp_path / "bad.mat"
    bad.write_bytes(good[:-3])
    with pytest.raises(MatFileError, match="truncated"):
        read_mat(bad)
    bad.write_bytes(b"MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00".ljust(128, b" "))
    with pytest.raises(MatFileError, match="7.3"):
        read_mat(bad)
    bad.write_bytes(b"not a mat file".ljust(128, b"x"))
    with pytest.raises(MatFileError, match="endian indicator"):
        read_mat(bad)
    sparse = bytearray(good)
    struct.pack_into("<I", sparse, 128 + 16, 5)  # array class -> mxSPARSE_CLASS
    bad.write_bytes(bytes(sparse))
    with pytest.raises(MatFileError, match="'X' is a sparse array"):
        read_mat(bad)
    z = zlib.compress(good[128:])[:-4]
    bad.write_bytes(good[:128] + struct.pack("<II", W.MI_COMPRESSED, len(z)) + z)
    with pytest.raises(MatFileError, match="corrupt compressed"):
        read_mat(bad)


def test_read_mat_agrees_with_scipy(tmp_path):
    sio = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(3)
    rec = np.empty((2, 1), dtype=[("WNID", object), ("children", object)])
    rec[0, 0] = ("n01", np.array([[1.0, 2.0]]))
    rec[1, 0] = ("n0002", np.array([[3.0]]))
    variables = {
        "X": rng.integers(0, 256, (5, 4, 3, 2), dtype=np.uint8),
        "y": rng.integers(1, 11, (2, 1)).astype(np.float64),
        "w": rng.standard_normal((2, 3)).astype(np.float32),
        "i": np.array([[-5, 6]], dtype=np.int32),
        "names": np.array(["ab", "cd"]),
        "synsets": rec,
        "cell": np.array([[np.array([1.0, 2.0]), "x"]], dtype=object),
    }
    for compress in (False, True):
        path = tmp_path / f"s{compress}.mat"
        sio.savemat(path, variables, do_compression=compress)
        ours, theirs = read_mat(path), sio.loadmat(path)
        assert sorted(ours) == sorted(k for k in theirs if not k.startswith("__"))
        for k in ("X", "y", "w", "i", "names"):
            np.testing.assert_array_equal(ours[k], theirs[k])
            assert ours[k].shape == theirs[k].shape
        for f in ("WNID", "children"):
            for i in range(2):
                np.testing.assert_array_equal(ours["synsets"][i, 0][f], theirs["synsets"][i, 0][f])
        np.testing.assert_array_equal(ours["cell"][0, 0], theirs["cell"][0, 0])
        assert ours["cell"][0, 1].tolist() == theirs["cell"][0, 1].tolist() == ["x"]
    # and scipy reads the hand-written file as ours does
    path = tmp_path / "hand.mat"
    path.write_bytes(W.mat_file({"X": variables["X"], "s": "n014"}, ">", True))
    theirs = sio.loadmat(path)
    np.testing.assert_array_equal(theirs["X"], variables["X"])
    assert theirs["s"].tolist() == read_mat(path)["s"].tolist() == ["n014"]


def _same(ours, theirs, where):
    """Deep equality of two loadmat results (records, cells, arrays), shapes included."""
    if isinstance(theirs, np.ndarray) and theirs.dtype.names:
        assert ours.dtype.names == theirs.dtype.names and ours.shape == theirs.shape, where
        for a, b in zip(ours.ravel(), theirs.ravel(), strict=True):
            for f in theirs.dtype.names:
                _same(a[f], b[f], f"{where}.{f}")
    elif isinstance(theirs, np.ndarray) and theirs.dtype == object:
        assert ours.shape == theirs.shape, where
        for i, (a, b) in enumerate(zip(ours.ravel(), theirs.ravel(), strict=True)):
            _same(a, b, f"{where}[{i}]")
    else:
        assert np.shape(ours) == np.shape(theirs), where
        np.testing.assert_array_equal(ours, theirs, err_msg=where)


def test_read_mat_on_real_matlab_files_shipped_with_scipy():
    """scipy's test data holds files written by MATLAB 5.3 to 8 on several platforms: ember
    reads each level-5 file exactly as scipy does, or refuses it by name (sparse, objects,
    function handles), never anything else."""
    sio = pytest.importorskip("scipy.io")
    folder = os.path.join(os.path.dirname(sio.__file__), "matlab", "tests", "data")
    if not os.path.isdir(folder):
        pytest.skip(f"this scipy install ships no MATLAB test files ({folder})")
    same, refused, rejected = [], [], []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if not name.endswith(".mat"):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                theirs = sio.loadmat(path)
        except Exception:  # noqa: BLE001 (malformed on purpose: ours may be more lenient,
            # but refuses only with MatFileError)
            try:
                read_mat(path)
            except MatFileError:
                rejected.append(name)
            continue
        try:
            ours = read_mat(path)
        except MatFileError as e:
            assert re.search(r"level-4|sparse|object|function handle|not valid utf", str(e)), e
            refused.append(name)
            continue
        assert sorted(ours) == sorted(k for k in theirs if not k.startswith("__")), name
        for k in ours:
            _same(ours[k], theirs[k], f"{name}:{k}")
        same.append(name)
    assert len(same) >= 40 and "teststruct_7.4_GLNX86.mat" in same, same
    assert "testsparse_7.4_GLNX86.mat" in refused
    assert {"corrupted_zlib_data.mat", "malformed1.mat"} <= set(rejected)


# ---------------------------------------------------------------------------- SVHN
def _svhn_mat(n, seed, compress=True):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = rng.integers(1, 11, (n, 1)).astype(np.float64)
    y[0, 0] = 10.0  # the digit 0
    return W.mat_file({"X": x, "y": W.Stored(y, "u1")}, "<", compress), x, y


@pytest.fixture(params=["scipy", "ember"])
def engine(request, monkeypatch):
    """Run SVHN through scipy's loadmat (when installed) and through ember's reader."""
    if request.param == "scipy":
        pytest.importorskip("scipy.io")
    else:
        monkeypatch.setattr(_matlab, "_scipy_loadmat", lambda: None)
    return request.param


@pytest.mark.parametrize("split", ["train", "test", "extra"])
def test_svhn_download_and_read(tmp_path, server, monkeypatch, engine, split):
    blob, x, y = _svhn_mat(6, seed=len(split), compress=split != "test")
    name = f"{split}_32x32.mat"
    server.files[f"/housenumbers/{name}"] = blob
    table = dict(SVHN.split_list)
    table[split] = (f"{server.url}/housenumbers/{name}", name, _md5(blob))
    monkeypatch.setattr(SVHN, "split_list", table)
    ds = SVHN(tmp_path, split=split, download=True)
    assert len(ds) == 6 and ds.data.shape == (6, 3, 32, 32) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data[2], x[:, :, :, 2].transpose(2, 0, 1))
    expected = y.ravel().astype(np.int64) % 10
    assert ds.labels.tolist() == expected.tolist() and ds.labels[0] == 0
    img, label = ds[3]
    assert img.mode == "RGB" and img.size == (32, 32) and label == expected[3]
    assert img.getpixel((5, 7)) == tuple(int(v) for v in x[7, 5, :, 3])
    assert f"Split: {split}" in repr(ds)
    hits = server.hits[f"/housenumbers/{name}"]
    SVHN(tmp_path, split=split, download=True)  # already there and intact: no request
    assert server.hits[f"/housenumbers/{name}"] == hits


def test_svhn_corrupt_download_refused_and_errors(tmp_path, server, monkeypatch):
    blob, _, _ = _svhn_mat(3, seed=9)
    server.files["/train_32x32.mat"] = blob[:-8] + b"corrupt!"
    table = dict(
        SVHN.split_list, train=(f"{server.url}/train_32x32.mat", "train_32x32.mat", _md5(blob))
    )
    monkeypatch.setattr(SVHN, "split_list", table)
    with pytest.raises(HashMismatchError):
        SVHN(tmp_path, download=True)
    # nothing kept, not even a partial file (hub's lock file stays, empty)
    assert [f for f in os.listdir(tmp_path) if not f.endswith(".lock")] == []
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        SVHN(tmp_path)
    (tmp_path / "train_32x32.mat").write_bytes(blob[:-8] + b"corrupt!")
    with pytest.raises(ValueError, match="MD5"):
        SVHN(tmp_path)
    with pytest.raises(ValueError, match="split must be one of"):
        SVHN(tmp_path, split="validation")
    wrong = W.mat_file({"X": np.zeros((32, 32, 3, 2), np.uint8), "y": np.ones((3, 1))})
    (tmp_path / "train_32x32.mat").write_bytes(wrong)
    monkeypatch.setattr(
        SVHN, "split_list", dict(table, train=(table["train"][0], table["train"][1], _md5(wrong)))
    )
    with pytest.raises(ValueError, match="3 labels for 2 images"):
        SVHN(tmp_path)


def test_loadmat_prefers_scipy_and_falls_back(tmp_path, monkeypatch):
    path = tmp_path / "a.mat"
    path.write_bytes(W.mat_file({"a": np.array([[1.0, 2.0]])}))
    calls = []

    def fake_scipy(p):
        calls.append(p)
        return {"__header__": b"", "a": np.array([[1.0, 2.0]])}

    monkeypatch.setattr(_matlab, "_scipy_loadmat", lambda: fake_scipy)
    assert list(_matlab.loadmat(path)) == ["a"] and calls == [os.fspath(path)]
    monkeypatch.setattr(_matlab, "_scipy_loadmat", lambda: None)
    assert _matlab.loadmat(path)["a"].tolist() == [[1.0, 2.0]]
