"""PhotoTour from a zip in the official layout: BMP tiles of 16x16 patches, info.txt, m50."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from ember.hub import HashMismatchError
from ember.vision.datasets import DatasetNotFoundError, PhotoTour

N = 300  # one full bitmap (256 patches) and a partly filled second one


def _phototour_zip(seed=0):
    rng = np.random.default_rng(seed)
    patches = rng.integers(0, 256, (512, 64, 64), dtype=np.uint8)
    patches[N:] = 0  # the unused end of the last bitmap is black
    points = np.repeat(np.arange(N // 2), 2)  # patches 2k and 2k+1 show the same 3D point
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for t in range(2):
            grid = patches[t * 256 : (t + 1) * 256].reshape(16, 16, 64, 64)
            tile = grid.transpose(0, 2, 1, 3).reshape(1024, 1024)
            b = io.BytesIO()
            Image.fromarray(tile).save(b, "BMP")  # 8-bit BMP with a grey palette, as Brown's
            zf.writestr(f"patches{t:04d}.bmp", b.getvalue())
        zf.writestr("info.txt", "".join(f"{p} 0\n" for p in points))
        pairs = [(0, 1), (4, 9), (299, 298), (256, 3)]
        lines = [f"{a} {points[a]} 0 {b} {points[b]} 0 0\n" for a, b in pairs]
        zf.writestr("m50_100000_100000_0.txt", "".join(lines))
        zf.writestr("m50_1000_1000_0.txt", lines[0])
    return buf.getvalue(), patches[:N], points, pairs


@pytest.fixture
def liberty(server, monkeypatch):
    blob, patches, points, pairs = _phototour_zip()
    server.files["/liberty.zip"] = blob
    urls = dict(PhotoTour.urls)
    urls["liberty"] = (server.url + "/liberty.zip", "liberty.zip", hashlib.md5(blob).hexdigest())
    monkeypatch.setattr(PhotoTour, "urls", urls)
    return patches, points, pairs


def test_phototour_train_patches(tmp_path, server, liberty):
    patches, points, _ = liberty
    ds = PhotoTour(tmp_path, "liberty", train=True, download=True)
    assert len(ds) == N and ds.data.shape == (N, 64, 64) and ds.data.dtype == np.uint8
    np.testing.assert_array_equal(ds.data, patches)
    assert ds.labels.tolist() == points.tolist()
    patch = ds[257]  # the second patch of the second bitmap
    assert patch.mode == "L" and patch.size == (64, 64)
    np.testing.assert_array_equal(np.asarray(patch), patches[257])
    assert ds.mean == 0.4437 and ds.std == 0.2019
    arr = PhotoTour(tmp_path, "liberty", transform=np.asarray)[17]
    np.testing.assert_array_equal(arr, patches[17])


def test_phototour_test_pairs(tmp_path, server, liberty):
    patches, _, pairs = liberty
    ds = PhotoTour(tmp_path, "liberty", train=False, download=True)
    assert len(ds) == 4
    assert ds.matches.tolist() == [[0, 1, 1], [4, 9, 0], [299, 298, 1], [256, 3, 0]]
    p1, p2, match = ds[2]
    assert match == 1
    np.testing.assert_array_equal(np.asarray(p1), patches[299])
    np.testing.assert_array_equal(np.asarray(p2), patches[298])
    flipped = PhotoTour(tmp_path, "liberty", train=False, target_transform=lambda m: 1 - m)
    assert flipped[3][2] == 1
    assert "Split: Test" in repr(ds)


def test_phototour_corrupt_zip_and_errors(tmp_path, server, liberty):
    blob = server.files["/liberty.zip"]
    server.files["/liberty.zip"] = blob[: len(blob) // 2] + b"\0" + blob[len(blob) // 2 + 1 :]
    with pytest.raises(HashMismatchError):
        PhotoTour(tmp_path, "liberty", download=True)
    assert not (tmp_path / "liberty").exists()
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        PhotoTour(tmp_path, "liberty")
    with pytest.raises(ValueError, match="name must be one of"):
        PhotoTour(tmp_path, "rome")
    server.files["/liberty.zip"] = blob
    PhotoTour(tmp_path, "liberty", download=True)
    (tmp_path / "liberty" / "patches0001.bmp").unlink()
    with pytest.raises(ValueError, match="needs 2 bitmaps"):
        PhotoTour(tmp_path, "liberty")
