"""CelebA from its image zip and five list files, written here in the original layout."""

from __future__ import annotations

import hashlib
import io
import os
import zipfile

import numpy as np
import pytest
from PIL import Image

from ember.hub import HashMismatchError
from ember.vision.datasets import CelebA, DatasetNotFoundError

N = 5
ATTRS = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Smiling"]  # the real file has 40
COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (40, 220, 220)]


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def _celeba_files(seed=0):
    """name -> bytes of every CelebA file, and the arrays written into them."""
    rng = np.random.default_rng(seed)
    names = [f"{i + 1:06d}.jpg" for i in range(N)]
    part = np.array([0, 0, 1, 2, 0])
    attr = rng.choice([-1, 1], (N, len(ATTRS)))
    ident = rng.integers(1, 10178, N)
    bbox = rng.integers(0, 500, (N, 4))
    land = rng.integers(60, 160, (N, 10))
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        for name, color in zip(names, COLORS, strict=True):
            b = io.BytesIO()
            Image.new("RGB", (178, 218), color).save(b, "JPEG", quality=95)
            zf.writestr(f"img_align_celeba/{name}", b.getvalue())

    def rows(values, width=None):
        return "".join(
            f"{n}{' ' * (width - len(n)) if width else ' '}"
            + " ".join(f"{v:>2}" for v in row)
            + "\n"
            for n, row in zip(names, values, strict=True)
        )

    files = {
        "img_align_celeba.zip": zbuf.getvalue(),
        "list_eval_partition.txt": "".join(f"{n} {p}\n" for n, p in zip(names, part, strict=True)),
        "identity_CelebA.txt": "".join(f"{n} {i}\n" for n, i in zip(names, ident, strict=True)),
        "list_attr_celeba.txt": f"{N}\n" + " ".join(ATTRS) + " \n" + rows(attr, 12),
        "list_bbox_celeba.txt": f"{N}\nimage_id x_1 y_1 width height\n" + rows(bbox, 12),
        "list_landmarks_align_celeba.txt": f"{N}\nlefteye_x lefteye_y righteye_x righteye_y "
        "nose_x nose_y leftmouth_x leftmouth_y rightmouth_x rightmouth_y\n" + rows(land, 12),
    }
    files = {k: v.encode() if isinstance(v, str) else v for k, v in files.items()}
    return files, dict(part=part, attr=attr, ident=ident, bbox=bbox, land=land)


@pytest.fixture
def celeba(server, monkeypatch):
    files, arrays = _celeba_files()
    table = []
    for i, (_, _, name) in enumerate(CelebA.file_list):
        table.append((f"id{i}", _md5(files[name]), name))
        server.files[f"/drive/id{i}"] = files[name]
    monkeypatch.setattr(CelebA, "file_list", table)
    monkeypatch.setattr(CelebA, "drive_url", server.url + "/drive/{}")
    monkeypatch.setattr(
        CelebA, "mirrors", {"img_align_celeba.zip": [server.url + "/mirror/celeba.zip"]}
    )
    return files, arrays


def test_celeba_download_splits_and_targets(tmp_path, server, celeba):
    _, a = celeba
    ds = CelebA(tmp_path, split="train", target_type="attr", download=True)
    train = np.flatnonzero(a["part"] == 0)
    assert len(ds) == 3 and ds.filename == [f"{i + 1:06d}.jpg" for i in train]
    assert ds.attr_names == ATTRS
    img, attr = ds[1]
    assert img.mode == "RGB" and img.size == (178, 218)
    assert np.abs(np.array(img.getpixel((80, 100))) - COLORS[1]).max() <= 3
    assert attr.tolist() == ((a["attr"][1] + 1) // 2).tolist()
    assert set(np.unique(ds.attr.numpy())) <= {0, 1}

    everything = CelebA(tmp_path, split="all", target_type=["identity", "bbox", "landmarks"])
    assert len(everything) == N
    _, (ident, box, land) = everything[3]
    assert tuple(ident.shape) == () and ident.item() == a["ident"][3]
    assert box.tolist() == a["bbox"][3].tolist() and land.tolist() == a["land"][3].tolist()
    test = CelebA(tmp_path, split="test", target_type=[])
    img, target = test[0]
    assert len(test) == 1 and target is None
    assert np.abs(np.array(img.getpixel((5, 5))) - COLORS[3]).max() <= 3
    valid = CelebA(tmp_path, split="valid", target_type="identity", target_transform=int)
    assert valid[0][1] == a["ident"][2]
    # Present and intact: a second download fetches nothing.
    before = dict(server.hits)
    CelebA(tmp_path, download=True)
    assert server.hits == before


def test_celeba_mirror_used_when_drive_fails(tmp_path, server, celeba):
    files, _ = celeba
    server.files["/mirror/celeba.zip"] = server.files.pop("/drive/id0")
    ds = CelebA(tmp_path, split="all", download=True)
    assert len(ds) == N and server.hits["/mirror/celeba.zip"] == 1


def test_celeba_corrupt_zip_refused_nothing_extracted(tmp_path, server, celeba):
    files, _ = celeba
    corrupt = files["img_align_celeba.zip"][:-20] + b"\0" * 20
    server.files["/drive/id0"] = server.files["/mirror/celeba.zip"] = corrupt
    with pytest.raises(HashMismatchError, match="img_align_celeba.zip.*quota"):
        CelebA(tmp_path, download=True)
    folder = tmp_path / "celeba"
    assert not (folder / "img_align_celeba").exists()
    assert not (folder / "img_align_celeba.zip").exists()
    with pytest.raises(DatasetNotFoundError, match="img_align_celeba/.*download=True"):
        CelebA(tmp_path)


def test_celeba_bad_arguments_and_tampered_list(tmp_path, server, celeba):
    with pytest.raises(ValueError, match="split must be one of"):
        CelebA(tmp_path, split="val")
    with pytest.raises(ValueError, match="target_type must be among"):
        CelebA(tmp_path, target_type=["attr", "age"])
    with pytest.raises(DatasetNotFoundError, match="list_attr_celeba.txt"):
        CelebA(tmp_path)
    CelebA(tmp_path, download=True)
    path = tmp_path / "celeba" / "list_bbox_celeba.txt"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\n ", 3))
    with pytest.raises(ValueError, match="list_bbox_celeba.txt .* MD5"):
        CelebA(tmp_path)
    assert os.path.isdir(tmp_path / "celeba" / "img_align_celeba")
