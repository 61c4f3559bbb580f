"""EMNIST (zip archive) and QMNIST (idx2-int labels, xz) from files written by the test."""

from __future__ import annotations

import io
import os
import tarfile
import zipfile

import numpy as np
import pytest

import ember
from ember.hub import HashMismatchError
from ember.vision.datasets import EMNIST, QMNIST, extract_archive


def _emnist_zip(fmt, split="letters", n=6, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for part in ("train", "test"):
            images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
            labels = rng.integers(1, 27, n).astype(np.uint8)
            arrays[part] = images, labels
            stem = f"gzip/emnist-{split}-{part}"
            zf.writestr(f"{stem}-images-idx3-ubyte.gz", fmt.gz(fmt.idx_bytes(images)))
            zf.writestr(f"{stem}-labels-idx1-ubyte.gz", fmt.gz(fmt.idx_bytes(labels)))
    return buf.getvalue(), arrays


def test_emnist_download_extract_and_transpose(tmp_path, server, fmt, monkeypatch):
    data, arrays = _emnist_zip(fmt)
    server.files["/EMNIST/gzip.zip"] = data
    monkeypatch.setattr(EMNIST, "url", server.url + "/EMNIST/gzip.zip")
    monkeypatch.setattr(EMNIST, "md5", fmt.md5(data))
    ds = EMNIST(tmp_path, split="letters", train=False, download=True)
    images, labels = arrays["test"]
    # The files store each image transposed; the dataset returns it upright.
    np.testing.assert_array_equal(ds.data.numpy(), images.transpose(0, 2, 1))
    np.testing.assert_array_equal(np.asarray(ds[2][0]), images[2].T)
    assert ds[2][1] == labels[2]
    assert ds.classes[0] == "N/A" and ds.classes[1] == "a" and len(ds.classes) == 27
    assert not (tmp_path / "EMNIST" / "raw" / "gzip.zip").exists()  # archive removed
    assert "Split: letters test" in repr(ds)


def test_emnist_corrupt_archive_is_refused_nothing_extracted(tmp_path, server, fmt, monkeypatch):
    data, _ = _emnist_zip(fmt)
    server.files["/EMNIST/gzip.zip"] = data[:100] + b"X" + data[101:]
    monkeypatch.setattr(EMNIST, "url", server.url + "/EMNIST/gzip.zip")
    monkeypatch.setattr(EMNIST, "md5", fmt.md5(data))
    with pytest.raises(HashMismatchError):
        EMNIST(tmp_path, split="letters", download=True)
    raw = tmp_path / "EMNIST" / "raw"
    assert [f for f in os.listdir(raw) if not f.endswith(".lock")] == []


def test_emnist_classes_per_split():
    counts = {"byclass": 62, "bymerge": 47, "balanced": 47, "letters": 27, "digits": 10}
    for split, n in counts.items():
        assert len(EMNIST.classes_split_dict[split]) == n
    assert "c" not in EMNIST.classes_split_dict["balanced"]
    assert "a" in EMNIST.classes_split_dict["balanced"]
    with pytest.raises(ValueError, match="split must be one of"):
        EMNIST("/nonexistent", split="bogus")


def _qmnist_labels(n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 100000, (n, 8)).astype(np.int32)
    labels[:, 0] = rng.integers(0, 10, n)
    return labels


def test_qmnist_compat_and_full_labels(tmp_path, fmt):
    raw = tmp_path / "QMNIST" / "raw"
    raw.mkdir(parents=True)
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    labels = _qmnist_labels(5, 1)
    (raw / "qmnist-train-images-idx3-ubyte.gz").write_bytes(fmt.gz(fmt.idx_bytes(images)))
    (raw / "qmnist-train-labels-idx2-int.gz").write_bytes(fmt.gz(fmt.idx_bytes(labels)))
    ds = QMNIST(tmp_path, train=True)
    assert ds[4][1] == labels[4, 0] and type(ds[4][1]) is int
    full = QMNIST(tmp_path, what="train", compat=False)
    row = full[4][1]
    assert isinstance(row, ember.Tensor) and row.dtype == ember.int64
    np.testing.assert_array_equal(row.numpy(), labels[4])
    np.testing.assert_array_equal(ds.targets.numpy(), labels.astype(np.int64))


def test_qmnist_test10k_test50k_and_nist_xz(tmp_path, server, fmt, monkeypatch):
    n = 10003  # 2x2 images keep the file small while crossing the 10k boundary
    images = np.random.default_rng(2).integers(0, 256, (n, 2, 2), dtype=np.uint8)
    labels = _qmnist_labels(n, 3)
    files = {
        "qmnist-test-images-idx3-ubyte.gz": fmt.gz(fmt.idx_bytes(images)),
        "qmnist-test-labels-idx2-int.gz": fmt.gz(fmt.idx_bytes(labels)),
        "xnist-images-idx3-ubyte.xz": fmt.xz(fmt.idx_bytes(images[:3])),
        "xnist-labels-idx2-int.xz": fmt.xz(fmt.idx_bytes(labels[:3])),
    }
    for name, data in files.items():
        server.files["/q/" + name] = data
    res = {
        k: [(name, fmt.md5(files[name])) for name, _ in v]
        for k, v in QMNIST.resources_by_subset.items()
        if k != "train"
    }
    monkeypatch.setattr(QMNIST, "resources_by_subset", res)
    monkeypatch.setattr(QMNIST, "mirrors", [server.url + "/q/"])
    t10 = QMNIST(tmp_path, what="test10k", download=True)
    t50 = QMNIST(tmp_path, what="test50k")
    assert (len(t10), len(t50)) == (10000, 3)
    np.testing.assert_array_equal(t50.data.numpy(), images[10000:])
    assert t50[1][1] == labels[10001, 0]
    nist = QMNIST(tmp_path, what="nist", download=True)
    np.testing.assert_array_equal(nist.data.numpy(), images[:3])
    with pytest.raises(ValueError, match="what must be one of"):
        QMNIST(tmp_path, what="validation")


def test_extract_archive_refuses_escaping_members(tmp_path):
    zpath = tmp_path / "evil.zip"
    with zipfile.ZipFile(zpath, "w") as zf:
        zf.writestr("ok.txt", "fine")
        zf.writestr("../escape.txt", "bad")
    with pytest.raises(ValueError, match="outside"):
        extract_archive(zpath, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == [] and not (tmp_path / "escape.txt").exists()

    tpath = tmp_path / "evil.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        info = tarfile.TarInfo("link")
        info.type, info.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        tf.addfile(info)
    with pytest.raises(ValueError, match="outside"):
        extract_archive(tpath, tmp_path / "out2")
    assert os.listdir(tmp_path / "out2") == []


def test_extract_archive_tar_roundtrip(tmp_path):
    tpath = tmp_path / "a.tar.gz"
    with tarfile.open(tpath, "w:gz") as tf:
        data = b"hello"
        info = tarfile.TarInfo("dir/x.bin")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    extract_archive(tpath, tmp_path / "o")
    assert (tmp_path / "o" / "dir" / "x.bin").read_bytes() == b"hello"
    (tmp_path / "junk").write_bytes(b"neither")
    with pytest.raises(ValueError, match="not a zip or tar"):
        extract_archive(tmp_path / "junk", tmp_path / "o")
