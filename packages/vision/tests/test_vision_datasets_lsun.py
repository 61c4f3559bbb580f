"""LSUN from LMDB databases written here (WebP values, as the official release), and the
ImportError that names the ``lsun`` extra when lmdb is missing."""

from __future__ import annotations

import io
import os
import pickle
import sys
import zipfile

import numpy as np
import pytest
from PIL import Image

from ember.data import DataLoader
from ember.vision.datasets import LSUN, DatasetNotFoundError, LSUNClass


def test_lsun_without_lmdb_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "lmdb", None)  # import lmdb now raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'ember-vision\[lsun\]'"):
        LSUN(tmp_path, classes=["bedroom_train"])
    with pytest.raises(ImportError, match="lmdb"):
        LSUNClass(tmp_path)


def _image(seed):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, 3)
    arr = np.broadcast_to(base, (12, 16, 3)).astype(np.uint8)
    b = io.BytesIO()
    Image.fromarray(arr).save(b, "WEBP", lossless=True)
    return b.getvalue(), tuple(int(v) for v in base)


def _write_db(folder, n, seed):
    lmdb = pytest.importorskip("lmdb")
    folder.mkdir(parents=True)
    env = lmdb.open(str(folder), map_size=1 << 22)
    colors = {}
    with env.begin(write=True) as txn:
        for i in range(n):
            data, color = _image(seed * 100 + i)
            key = f"{seed:02d}{i:038x}".encode()  # LSUN keys are 40 hex characters
            txn.put(key, data)
            colors[key] = color
    env.close()
    return [colors[k] for k in sorted(colors)]  # LMDB iterates keys in sorted order


def _corner(img):
    return np.asarray(img)[0, 0].astype(np.int64)


def test_lsun_reads_categories_in_order(tmp_path):
    pytest.importorskip("lmdb")
    bed = _write_db(tmp_path / "bedroom_train_lmdb", 3, 1)
    tower = _write_db(tmp_path / "tower_train_lmdb", 2, 2)
    ds = LSUN(tmp_path, classes=["bedroom_train", "tower_train"])
    assert len(ds) == 5 and ds.offsets == [0, 3, 5]
    for i, (color, target) in enumerate([(c, 0) for c in bed] + [(c, 1) for c in tower]):
        img, y = ds[i]
        assert img.mode == "RGB" and img.size == (16, 12)
        assert img.getpixel((3, 4)) == color and y == target
    img, y = ds[-1]
    assert img.getpixel((0, 0)) == tower[-1] and y == 1
    with pytest.raises(IndexError):
        ds[5]
    # A pickled copy (what a DataLoader worker receives) reopens the database itself.
    clone = pickle.loads(pickle.dumps(ds))
    assert clone[1][0].getpixel((0, 0)) == bed[1]
    # Worker processes (forked after the parent opened the databases) open their own.
    loader = DataLoader(
        LSUN(tmp_path, classes=["bedroom_train", "tower_train"], transform=_corner),
        batch_size=5,
        num_workers=2,
    )
    ((pixels, targets),) = list(loader)
    assert pixels.tolist() == [list(c) for c in bed + tower]
    assert targets.tolist() == [0, 0, 0, 1, 1]
    one = LSUN(tmp_path, classes=["tower_train"], transform=np.asarray, target_transform=str)
    arr, y = one[0]
    assert arr.shape == (12, 16, 3) and tuple(arr[0, 0]) == tower[0] and y == "0"


def test_lsun_class_names_and_missing(tmp_path):
    pytest.importorskip("lmdb")
    with pytest.raises(ValueError, match="category among"):
        LSUN(tmp_path, classes=["bedroom_test"])
    with pytest.raises(ValueError, match="'train', 'val', 'test'"):
        LSUN(tmp_path, classes="bedroom")
    with pytest.raises(DatasetNotFoundError, match="church_outdoor_val_lmdb.*download=True"):
        LSUN(tmp_path, classes="val")


def _zip_folder(folder, name):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(os.listdir(folder)):
            zf.write(os.path.join(folder, f), f"{name}/{f}")
    return buf.getvalue()


def test_lsun_download_checks_zip_crc(tmp_path, server, monkeypatch):
    pytest.importorskip("lmdb")
    src = tmp_path / "src"
    colors = _write_db(src / "kitchen_val_lmdb", 2, 3)
    blob = _zip_folder(src / "kitchen_val_lmdb", "kitchen_val_lmdb")
    monkeypatch.setattr(LSUN, "url", server.url + "/lsun/scenes/")
    root = tmp_path / "root"
    # Flip one byte inside the stored data.mdb: the zip still opens, its CRC fails.
    offset = blob.index(b"data.mdb") + 200
    server.files["/lsun/scenes/kitchen_val_lmdb.zip"] = (
        blob[:offset] + bytes([blob[offset] ^ 0xFF]) + blob[offset + 1 :]
    )
    with pytest.raises(ValueError, match="corrupt .*CRC.*nothing was extracted"):
        LSUN(root, classes=["kitchen_val"], download=True)
    assert not (root / "kitchen_val_lmdb").exists()
    assert not (root / "kitchen_val_lmdb.zip").exists()
    server.files["/lsun/scenes/kitchen_val_lmdb.zip"] = blob[: len(blob) // 2]  # truncated
    with pytest.raises(ValueError, match="corrupt"):
        LSUN(root, classes=["kitchen_val"], download=True)
    assert not (root / "kitchen_val_lmdb").exists()
    server.files["/lsun/scenes/kitchen_val_lmdb.zip"] = blob
    ds = LSUN(root, classes=["kitchen_val"], download=True)
    assert [ds[i][0].getpixel((1, 1)) for i in range(2)] == colors
    assert not (root / "kitchen_val_lmdb.zip").exists()  # removed once extracted
