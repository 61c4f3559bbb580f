"""CIFAR pickles (safe loading, archive download), ImageFolder trees, COCO JSON, FakeData."""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile

import numpy as np
import pytest
from PIL import Image

import ember
from ember.data import DataLoader
from ember.hub import HashMismatchError
from ember.vision import transforms as T
from ember.vision.datasets import (
    CIFAR10,
    CIFAR100,
    CocoCaptions,
    CocoDetection,
    DatasetFolder,
    DatasetNotFoundError,
    FakeData,
    ImageFolder,
    safe_unpickle,
)


def _cifar_files(n_per_batch=4, seed=0):
    """CIFAR-10's pickles as the original (Python 2, protocol 2) dicts; returns name -> bytes."""
    rng = np.random.default_rng(seed)
    files, arrays = {}, {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, n_per_batch).tolist()
        arrays[name] = (data, labels)
        obj = {"batch_label": name, "labels": labels, "data": data, "filenames": ["x.png"]}
        files[name] = pickle.dumps(obj, protocol=2)
    meta = {"label_names": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog"]}
    meta["label_names"] += ["horse", "ship", "truck"]
    files["batches.meta"] = pickle.dumps(meta, protocol=2)
    return files, arrays


def _md5(b):
    import hashlib

    return hashlib.md5(b).hexdigest()


@pytest.fixture
def cifar_archive(monkeypatch):
    files, arrays = _cifar_files()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    monkeypatch.setattr(
        CIFAR10,
        "train_list",
        [[f"data_batch_{i}", _md5(files[f"data_batch_{i}"])] for i in range(1, 6)],
    )
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", _md5(files["test_batch"])]])
    monkeypatch.setattr(
        CIFAR10,
        "meta",
        {"filename": "batches.meta", "key": "label_names", "md5": _md5(files["batches.meta"])},
    )
    return buf.getvalue(), arrays


def test_cifar10_download_and_read(tmp_path, server, cifar_archive, monkeypatch):
    archive, arrays = cifar_archive
    server.files["/cifar-10-python.tar.gz"] = archive
    monkeypatch.setattr(CIFAR10, "url", server.url + "/cifar-10-python.tar.gz")
    monkeypatch.setattr(CIFAR10, "tgz_md5", _md5(archive))
    ds = CIFAR10(tmp_path, train=True, download=True)
    assert len(ds) == 20 and ds.data.shape == (20, 32, 32, 3)
    raw, labels = arrays["data_batch_2"]
    # Each row is 1024 red, then 1024 green, then 1024 blue values, row-major.
    np.testing.assert_array_equal(ds.data[4], raw[0].reshape(3, 32, 32).transpose(1, 2, 0))
    img, y = ds[4]
    assert img.mode == "RGB" and y == labels[0]
    assert ds.classes[9] == "truck" and ds.class_to_idx["cat"] == 3
    test = CIFAR10(tmp_path, train=False)
    assert test.targets == arrays["test_batch"][1]


def test_cifar_corrupt_archive_refused_and_tampered_batch(
    tmp_path, server, cifar_archive, monkeypatch
):
    archive, _ = cifar_archive
    server.files["/c.tgz"] = archive[:-10] + b"0123456789"
    monkeypatch.setattr(CIFAR10, "url", server.url + "/c.tgz")
    monkeypatch.setattr(CIFAR10, "tgz_md5", _md5(archive))
    with pytest.raises(HashMismatchError):
        CIFAR10(tmp_path, download=True)
    assert not (tmp_path / "cifar-10-batches-py").exists()  # nothing extracted
    server.files["/c.tgz"] = archive
    CIFAR10(tmp_path, download=True)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_3", "r+b") as f:
        f.seek(200)
        f.write(b"\xff")
    with pytest.raises(ValueError, match="data_batch_3 .* MD5"):
        CIFAR10(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        CIFAR10(tmp_path / "elsewhere")


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/ember_vision_pwned",))


def test_safe_unpickle_refuses_code(tmp_path):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps({"data": _Evil()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load posix.system"):
        safe_unpickle(path)
    assert not os.path.exists("/tmp/ember_vision_pwned")
    ok = tmp_path / "ok"
    ok.write_bytes(pickle.dumps({"data": np.arange(5, dtype=np.uint8), "l": [1, 2]}, protocol=2))
    got = safe_unpickle(ok)
    assert got["l"] == [1, 2] and got["data"].tolist() == [0, 1, 2, 3, 4]


def test_cifar100_fine_labels(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    data = rng.integers(0, 256, (3, 3072), dtype=np.uint8)
    files = {
        "train": {"data": data, "fine_labels": [5, 99, 0], "coarse_labels": [1, 2, 3]},
        "test": {"data": data[:1], "fine_labels": [7], "coarse_labels": [0]},
        "meta": {"fine_label_names": [f"c{i}" for i in range(100)]},
    }
    for name, obj in files.items():
        (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
    monkeypatch.setattr(CIFAR100, "train_list", [["train", _md5((folder / "train").read_bytes())]])
    monkeypatch.setattr(CIFAR100, "test_list", [["test", _md5((folder / "test").read_bytes())]])
    meta = dict(CIFAR100.meta, md5=_md5((folder / "meta").read_bytes()))
    monkeypatch.setattr(CIFAR100, "meta", meta)
    ds = CIFAR100(tmp_path)
    assert ds.targets == [5, 99, 0] and len(ds.classes) == 100


def _tree(root, spec):
    """Write ``spec = {class: [(file name, rgb color), ...]}`` as an image folder tree."""
    for cls, files in spec.items():
        (root / cls).mkdir(parents=True, exist_ok=True)
        for name, color in files:
            Image.new("RGB", (12, 10), color).save(root / cls / name)


def test_image_folder_and_seed_pipeline(tmp_path):
    _tree(
        tmp_path,
        {"dog": [("b.png", (0, 0, 255)), ("a.jpg", (255, 0, 0))], "cat": [("x.PNG", (0, 255, 0))]},
    )
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    ds = ImageFolder(tmp_path)
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    assert [os.path.basename(p) for p, _ in ds.samples] == ["x.PNG", "a.jpg", "b.png"]
    assert ds.targets == [0, 1, 1] and ds.imgs == ds.samples
    img, y = ds[2]
    assert img.mode == "RGB" and img.getpixel((0, 0)) == (0, 0, 255) and y == 1
    # The seed's DCGAN data pipeline, torch spelled ember, through worker processes.
    seed = ImageFolder(
        str(tmp_path),
        transform=T.Compose(
            [
                T.Scale(8),
                T.CenterCrop(8),
                T.ToTensor(),
                T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),
            ]
        ),
    )
    loader = DataLoader(seed, batch_size=3, shuffle=True, num_workers=2)
    ((x, y),) = list(loader)
    assert tuple(x.shape) == (3, 3, 8, 8) and sorted(y.tolist()) == [0, 1, 1]
    green = x[(y == 0).nonzero()[0, 0]].numpy()
    np.testing.assert_allclose(green[:, 0, 0], [-1, 1, -1], atol=1e-6)


def test_dataset_folder_filters(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls / "sub").mkdir(parents=True)
        (tmp_path / cls / "sub" / "1.npy").write_bytes(b"")
        (tmp_path / cls / "2.txt").write_text(cls)
    ds = DatasetFolder(tmp_path, loader=lambda p: open(p).read(), extensions=(".txt",))
    assert [ds[i] for i in range(2)] == [("a", 0), ("b", 1)]
    nested = DatasetFolder(
        tmp_path, loader=os.path.basename, is_valid_file=lambda p: p.endswith(".npy")
    )
    assert [s[0] for s in nested] == ["1.npy", "1.npy"]
    with pytest.raises(ValueError, match="exactly one"):
        DatasetFolder(tmp_path, loader=str, extensions=(".txt",), is_valid_file=bool)
    (tmp_path / "c").mkdir()
    with pytest.raises(FileNotFoundError, match=r"\['c'\]"):
        DatasetFolder(tmp_path, loader=str, extensions=(".txt",))
    assert len(DatasetFolder(tmp_path, loader=str, extensions=(".txt",), allow_empty=True)) == 2


def test_coco_captions_and_detection(tmp_path):
    Image.new("RGB", (8, 6), (10, 20, 30)).save(tmp_path / "000000000042.jpg")
    Image.new("RGB", (4, 4), (200, 0, 0)).save(tmp_path / "000000000007.png")
    ann = {
        "images": [
            {"id": 42, "file_name": "000000000042.jpg", "width": 8, "height": 6},
            {"id": 7, "file_name": "000000000007.png", "width": 4, "height": 4},
        ],
        "annotations": [
            {
                "id": 1,
                "image_id": 42,
                "caption": "A dark square.",
                "bbox": [0, 0, 2, 2],
                "category_id": 3,
            },
            {
                "id": 2,
                "image_id": 42,
                "caption": "Nothing much.",
                "bbox": [1, 1, 3, 3],
                "category_id": 3,
            },
            {"id": 3, "image_id": 7, "caption": "Red.", "bbox": [0, 0, 4, 4], "category_id": 1},
        ],
        "categories": [{"id": 1, "name": "red"}, {"id": 3, "name": "dark"}],
    }
    path = tmp_path / "captions.json"
    path.write_text(json.dumps(ann))
    caps = CocoCaptions(tmp_path, path, transform=T.ToTensor())
    assert len(caps) == 2 and caps.ids == [7, 42]
    x, captions = caps[1]
    assert tuple(x.shape) == (3, 6, 8) and captions == ["A dark square.", "Nothing much."]
    det = CocoDetection(tmp_path, path)
    img, target = det[0]
    assert (
        img.size == (4, 4) and target[0]["bbox"] == [0, 0, 4, 4] and det.cats[3]["name"] == "dark"
    )
    path.write_text(json.dumps({"annotations": []}))
    with pytest.raises(ValueError, match="not a COCO annotation file"):
        CocoCaptions(tmp_path, path)


def test_fake_data_is_deterministic_per_index():
    ds = FakeData(size=6, image_size=(3, 9, 7), num_classes=4, transform=T.PILToTensor())
    a, b = ds[3], ds[3]
    assert (a[0].numpy() == b[0].numpy()).all() and a[1] == b[1]
    assert tuple(a[0].shape) == (3, 9, 7) and a[0].dtype == ember.uint8
    assert not (ds[2][0].numpy() == a[0].numpy()).all()
    assert {ds[i][1] for i in range(6)} <= set(range(4))
    other = FakeData(size=6, image_size=(3, 9, 7), random_offset=100, transform=T.PILToTensor())
    assert not (other[3][0].numpy() == a[0].numpy()).all()
    with pytest.raises(IndexError):
        ds[6]
    with pytest.raises(ValueError, match="FakeData needs"):
        FakeData(image_size=(2, 4, 4))


def test_stl10_binary_layout(tmp_path):
    from ember.vision.datasets import STL10

    folder = tmp_path / "stl10_binary"
    folder.mkdir()
    rng = np.random.default_rng(5)
    imgs = rng.integers(0, 256, (4, 3, 96, 96), dtype=np.uint8)  # (N, C, row, col)
    # The files hold each channel column-major: write the transposed planes.
    imgs.transpose(0, 1, 3, 2).tofile(folder / "train_X.bin")
    np.array([1, 10, 3, 3], np.uint8).tofile(folder / "train_y.bin")
    imgs[:2].transpose(0, 1, 3, 2).tofile(folder / "unlabeled_X.bin")
    (folder / "class_names.txt").write_text(
        "airplane\nbird\ncar\ncat\ndeer\ndog\nhorse\nmonkey\nship\ntruck\n"
    )
    (folder / "fold_indices.txt").write_text("0 2\n1 3\n" + "0\n" * 8)
    ds = STL10(tmp_path, split="train")
    assert len(ds) == 4 and ds.labels.tolist() == [0, 9, 2, 2] and ds.classes[9] == "truck"
    np.testing.assert_array_equal(ds.data, imgs)
    img, y = ds[1]
    assert img.size == (96, 96) and (np.asarray(img) == imgs[1].transpose(1, 2, 0)).all() and y == 9
    both = STL10(tmp_path, split="train+unlabeled")
    assert len(both) == 6 and both.labels.tolist()[-2:] == [-1, -1]
    assert STL10(tmp_path, split="train", folds=1).labels.tolist() == [9, 2]
    with pytest.raises(DatasetNotFoundError, match="test_X.bin"):
        STL10(tmp_path, split="test")
    with pytest.raises(ValueError, match="split must be one of"):
        STL10(tmp_path, split="val")
