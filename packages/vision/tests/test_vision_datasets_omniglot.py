"""Omniglot from background/evaluation zips written here in the original layout."""

from __future__ import annotations

import hashlib
import io
import zipfile

import numpy as np
import pytest
from PIL import Image

from ember.hub import HashMismatchError
from ember.vision.datasets import DatasetNotFoundError, Omniglot

# alphabet -> characters -> number of drawings (the real zips have 20 per character)
LAYOUT = {
    "images_background": {
        "Greek": {"character02": 2, "character01": 3},
        "Armenian": {"character01": 1},
    },
    "images_evaluation": {"Mongolian": {"character01": 2}},
}


def _drawing(seed):
    rng = np.random.default_rng(seed)
    return (rng.random((105, 105)) > 0.8).astype(np.uint8) * 255


def _zip(name):
    arrays = {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        seed = 0
        for alphabet, chars in LAYOUT[name].items():
            for char, n in chars.items():
                for k in range(n):
                    seed += 1
                    path = f"{name}/{alphabet}/{char}/{700 + seed:04d}_{k + 1:02d}.png"
                    arrays[path] = _drawing(seed)
                    b = io.BytesIO()
                    Image.fromarray(arrays[path]).convert("1").save(b, "PNG")
                    zf.writestr(path, b.getvalue())
    return buf.getvalue(), arrays


@pytest.fixture
def omniglot_server(server, monkeypatch):
    data = {}
    md5s = {}
    for name in LAYOUT:
        blob, arrays = _zip(name)
        data[name] = arrays
        md5s[name] = hashlib.md5(blob).hexdigest()
        server.files[f"/b/{name}.zip"] = blob
    monkeypatch.setattr(Omniglot, "mirrors", [server.url + "/a/", server.url + "/b/"])
    monkeypatch.setattr(Omniglot, "zips_md5", md5s)
    return data


def test_omniglot_background_classes_and_images(tmp_path, server, omniglot_server):
    arrays = omniglot_server["images_background"]
    ds = Omniglot(tmp_path, background=True, download=True)
    assert ds.alphabets == ["Armenian", "Greek"]
    assert ds.characters == ["Armenian/character01", "Greek/character01", "Greek/character02"]
    assert len(ds) == 6 and ds.targets == [0, 1, 1, 1, 2, 2]
    img, target = ds[3]
    assert img.mode == "L" and img.size == (105, 105) and target == 1
    written = [k for k in sorted(arrays) if "/Greek/character01/" in k][2]
    assert np.array_equal(np.asarray(img), arrays[written])
    assert server.hits["/a/images_background.zip"] == 1  # the first mirror was tried
    evaluation = Omniglot(tmp_path, background=False, download=True)
    assert evaluation.characters == ["Mongolian/character01"] and len(evaluation) == 2
    img, target = evaluation[1]
    second = omniglot_server["images_evaluation"][
        "images_evaluation/Mongolian/character01/0702_02.png"
    ]
    assert target == 0 and np.array_equal(np.asarray(img), second)
    hits = dict(server.hits)
    Omniglot(tmp_path, background=False, download=True, target_transform=str)
    assert server.hits == hits  # already extracted: nothing fetched


def test_omniglot_corrupt_zip_refused(tmp_path, server, omniglot_server):
    blob = server.files["/b/images_background.zip"]
    server.files["/b/images_background.zip"] = blob[:100] + b"\xff" + blob[101:]
    server.files["/a/images_background.zip"] = server.files["/b/images_background.zip"]
    with pytest.raises(HashMismatchError):
        Omniglot(tmp_path, download=True)
    assert not (tmp_path / "omniglot-py" / "images_background").exists()
    with pytest.raises(DatasetNotFoundError, match="download=True"):
        Omniglot(tmp_path)
