"""read_idx against IDX bytes written by hand from the format's specification."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from ember.vision.datasets import read_idx


@pytest.mark.parametrize("dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"])
@pytest.mark.parametrize("compress", ["", ".gz", ".xz"])
def test_read_idx_every_type_and_compression(tmp_path, fmt, dtype, compress):
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 4, 5)) * 100).astype(dtype)
    data = fmt.idx_bytes(x)
    data = {"": data, ".gz": fmt.gz(data), ".xz": fmt.xz(data)}[compress]
    path = tmp_path / f"f-idx3{compress}"
    path.write_bytes(data)
    y = read_idx(path)
    assert y.dtype == np.dtype(dtype) and y.dtype.isnative
    np.testing.assert_array_equal(y, x)


def test_read_idx_hand_built_bytes(tmp_path):
    # 2x3 int16 matrix, big-endian: written byte by byte.
    raw = (
        bytes([0, 0, 0x0B, 2])
        + struct.pack(">II", 2, 3)
        + struct.pack(">6h", 1, -2, 3, 256, -300, 7)
    )
    (tmp_path / "m").write_bytes(raw)
    np.testing.assert_array_equal(read_idx(tmp_path / "m"), [[1, -2, 3], [256, -300, 7]])


def test_read_idx_zero_dims_and_empty(tmp_path, fmt):
    (tmp_path / "e").write_bytes(fmt.idx_bytes(np.zeros((0, 28, 28), np.uint8)))
    assert read_idx(tmp_path / "e").shape == (0, 28, 28)


@pytest.mark.parametrize(
    "raw, match",
    [
        (b"\x01\x00\x08\x01\x00\x00\x00\x01\x05", "not an IDX file"),
        (b"\x00\x00\x07\x01\x00\x00\x00\x01\x05", "unknown IDX type code 0x07"),
        (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x03\x05\x06", "needs 11 bytes, the file has 10"),
        (b"\x00\x00\x08\x01\x00\x00\x00\x01\x05\x06", "needs 9 bytes, the file has 10"),
        (b"", "not an IDX file"),
    ],
)
def test_read_idx_refuses_malformed(tmp_path, raw, match):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        read_idx(tmp_path / "bad")


def test_read_idx_refuses_broken_gzip(tmp_path, fmt):
    data = gzip.compress(fmt.idx_bytes(np.arange(100, dtype=np.uint8)))
    (tmp_path / "x.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="corrupt"):
        read_idx(tmp_path / "x.gz")
