"""ImageNet from archives in the official layout (devkit meta.mat, ground truth, tars)."""

from __future__ import annotations

import hashlib
import importlib.util
import io
import os
import sys
import tarfile

import numpy as np
import pytest
from PIL import Image

from ember.vision.datasets import DatasetNotFoundError, ImageNet, _matlab, imagenet


def _load_writer():
    path = os.path.join(os.path.dirname(__file__), "matv5_writer.py")
    spec = importlib.util.spec_from_file_location("matv5_writer_imagenet", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


W = _load_writer()

# (ILSVRC2012_ID, WNID, words, num_children); id 3 is an inner WordNet node, not a class
SYNSETS = [
    (1, "n01440764", "tench, Tinca tinca", 0),
    (2, "n01443537", "goldfish, Carassius auratus", 0),
    (3, "n01440000", "fish", 2),
    (4, "n01484850", "great white shark, white shark, man-eater", 0),
]
VAL_IDS = [4, 1, 2, 4, 1]  # ground truth of ILSVRC2012_val_00000001..5
COLORS = {"n01440764": (240, 20, 20), "n01443537": (20, 240, 20), "n01484850": (20, 20, 240)}
FIELDS = ["ILSVRC2012_ID", "WNID", "words", "gloss", "num_children", "children"]
FIELDS += ["wordnet_height", "num_train_images"]


def _jpeg(color, seed=0):
    b = io.BytesIO()
    Image.new("RGB", (24 + seed, 20), color).save(b, "JPEG", quality=95)
    return b.getvalue()


def _tar(members: dict, gz=False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz" if gz else "w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _meta_mat(engine, tmp_path):
    if engine == "scipy":
        sio = pytest.importorskip("scipy.io")
        rec = np.empty((len(SYNSETS), 1), dtype=[(f, object) for f in FIELDS])
        for i, (sid, wnid, words, nchild) in enumerate(SYNSETS):
            children = np.array([[1.0, 2.0]]) if nchild else np.zeros((1, 0))
            rec[i, 0] = (sid, wnid, words, "a gloss", nchild, children, 0, 1300)
        sio.savemat(tmp_path / "meta_scipy.mat", {"synsets": rec})
        return (tmp_path / "meta_scipy.mat").read_bytes()
    records = []
    for sid, wnid, words, nchild in SYNSETS:
        children = np.array([[1.0, 2.0]]) if nchild else np.zeros((1, 0))
        records.append(
            {
                "ILSVRC2012_ID": W.Stored(np.array([[float(sid)]]), "u2"),
                "WNID": wnid,
                "words": words,
                "gloss": "a gloss",
                "num_children": W.Stored(np.array([[float(nchild)]]), "u1"),
                "children": children,
                "wordnet_height": np.array([[0.0]]),
                "num_train_images": W.Stored(np.array([[1300.0]]), "u2"),
            }
        )
    struct = W.Struct(FIELDS, records, (len(SYNSETS), 1))
    return W.mat_file({"synsets": struct}, "<", compress=True)


def _archives(engine, tmp_path):
    data = "ILSVRC2012_devkit_t12/data/"
    devkit = _tar(
        {
            data + "meta.mat": _meta_mat(engine, tmp_path),
            data + "ILSVRC2012_validation_ground_truth.txt": "".join(
                f"{i}\n" for i in VAL_IDS
            ).encode(),
        },
        gz=True,
    )
    inner = {}
    for wnid, n in (("n01440764", 2), ("n01443537", 1), ("n01484850", 3)):
        imgs = {f"{wnid}_{k + 10}.JPEG": _jpeg(COLORS[wnid], k) for k in range(n)}
        inner[f"{wnid}.tar"] = _tar(imgs)
    train = _tar(inner)
    wnid_of = {sid: wnid for sid, wnid, _, _ in SYNSETS}
    val = _tar(
        {
            f"ILSVRC2012_val_{k + 1:08d}.JPEG": _jpeg(COLORS[wnid_of[sid]], k)
            for k, sid in enumerate(VAL_IDS)
        }
    )
    return {"devkit": devkit, "train": train, "val": val}


@pytest.fixture(params=["ember", "scipy"])
def archives(request, tmp_path, monkeypatch):
    """The three archives in ``tmp_path/root``, their MD5s patched in, meta.mat read by
    ember's reader or by scipy."""
    if request.param == "ember":
        monkeypatch.setattr(_matlab, "_scipy_loadmat", lambda: None)
    blobs = _archives(request.param, tmp_path)
    root = tmp_path / "root"
    root.mkdir()
    meta = {}
    for key, blob in blobs.items():
        name = imagenet.ARCHIVE_META[key][0]
        (root / name).write_bytes(blob)
        meta[key] = (name, hashlib.md5(blob).hexdigest())
    monkeypatch.setattr(imagenet, "ARCHIVE_META", meta)
    return root


def test_imagenet_val_from_archives(archives):
    ds = ImageNet(archives, split="val")
    assert ds.wnids == ["n01440764", "n01443537", "n01484850"]  # the inner node is dropped
    assert ds.classes[0] == ("tench", "Tinca tinca")
    assert ds.classes[2] == ("great white shark", "white shark", "man-eater")
    assert ds.class_to_idx["goldfish"] == 1 and ds.class_to_idx["man-eater"] == 2
    assert ds.wnid_to_idx == {"n01440764": 0, "n01443537": 1, "n01484850": 2}
    # val image k goes to the class of line k of the ground truth
    names = sorted((os.path.basename(p), t) for p, t in ds.samples)
    assert [t for _, t in names] == [2, 0, 1, 2, 0]
    assert len(ds) == 5
    index = [os.path.basename(p) for p, _ in ds.samples].index("ILSVRC2012_val_00000003.JPEG")
    img, target = ds[index]
    assert target == 1 and img.mode == "RGB" and img.size == (26, 20)
    assert np.abs(np.array(img.getpixel((4, 4))) - COLORS["n01443537"]).max() <= 3
    assert (archives / "meta.json").is_file() and not (archives / "val.partial").exists()


def test_imagenet_train_from_nested_tars_then_folders(archives):
    ds = ImageNet(archives, split="train", transform=lambda im: im.size)
    assert len(ds) == 6 and ds.targets == [0, 0, 1, 2, 2, 2]
    assert sorted(os.listdir(archives / "train")) == ["n01440764", "n01443537", "n01484850"]
    assert ds[3] == ((24, 20), 2)
    img = ImageNet(archives, "train")[1][0]
    assert np.abs(np.array(img.getpixel((1, 1))) - COLORS["n01440764"]).max() <= 3
    # Extracted once: later uses need neither archive.
    for key in ("train", "devkit"):
        os.remove(archives / imagenet.ARCHIVE_META[key][0])
    assert len(ImageNet(archives, "train")) == 6


def test_imagenet_corrupt_or_missing_archives(archives):
    name = imagenet.ARCHIVE_META["val"][0]
    blob = (archives / name).read_bytes()
    (archives / name).write_bytes(blob[:-600] + b"\x01" * 600)
    with pytest.raises(ValueError, match="MD5.*nothing was extracted"):
        ImageNet(archives, split="val")
    assert not (archives / "val").exists() and not (archives / "val.partial").exists()
    os.remove(archives / imagenet.ARCHIVE_META["train"][0])
    with pytest.raises(DatasetNotFoundError, match="registered users"):
        ImageNet(archives, split="train", download=True)
    with pytest.raises(ValueError, match="split must be"):
        ImageNet(archives, split="test")


def test_imagenet_missing_devkit_says_not_downloadable(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="ILSVRC2012_devkit_t12.tar.gz.*cannot be"):
        ImageNet(tmp_path, split="val")
