"""LeNet on the full Fashion-MNIST, 2 epochs: test accuracy and wall time, ember vs PyTorch.

Both frameworks train the same LeNet-5 (the seed's ``Net``: 28x28 images padded
to 32x32, normalized) with the same hyper-parameters (Adam, lr 1e-3, batch 64,
2 epochs), the same initial weights (ember's, copied into torch), and the same
batch order (a numpy permutation per epoch). Data is decoded once up front, so
the timing is the training loop (forward, backward, optimizer step) plus the
test-set evaluation.

The data: Debian's ``dataset-fashion-mnist`` package, e.g.

    apt-get download dataset-fashion-mnist && dpkg -x dataset-fashion-mnist_*.deb /tmp/fmnist
    python benchmarks/bench_vision.py --root /tmp/fmnist/usr/share/datasets/fashion-mnist \
        --torch-python /tmp/venv-torch/bin/python

The PyTorch run happens in a subprocess with ``--torch-python`` (a venv with
torch==2.13.0 and numpy; not ember's dependency).

A second figure: images/s of an ImageFolder + RandomResizedCrop + flip +
ToTensor + Normalize pipeline through ember's DataLoader with ``--workers``,
against a one-process PIL + numpy loop doing the same work.
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time

from _timing import threads_from_argv

# Both frameworks get the same thread budget, BLAS included: numpy's OpenBLAS (which
# ember's nn calls for matmuls) reads these once, when numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, threads_from_argv("2"))

import numpy as np  # noqa: E402

MEAN, STD = 0.2860, 0.3530  # Fashion-MNIST's pixel statistics
DEFAULT_ROOT = "/usr/share/datasets/fashion-mnist"


def _read_idx_gz(path: str) -> np.ndarray:
    # A reader independent of ember.vision's, so both sides see the same bytes.
    raw = gzip.open(path, "rb").read() if path.endswith(".gz") else open(path, "rb").read()
    ndim = raw[3]
    dims = np.frombuffer(raw, ">u4", count=ndim, offset=4)
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load(root: str, limit: int | None) -> dict[str, np.ndarray]:
    """Padded, normalized float32 images (N, 1, 32, 32) and int64 labels for both splits."""
    out = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        x = _read_idx_gz(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
        y = _read_idx_gz(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz")).astype(np.int64)
        if limit:
            x, y = x[:limit], y[:limit]
        x = np.pad(x, ((0, 0), (2, 2), (2, 2))).astype(np.float32) / 255.0
        out[f"x_{split}"] = ((x - MEAN) / STD)[:, None].astype(np.float32)
        out[f"y_{split}"] = y
    return out


def _train_and_test(fw, model, opt, loss_fn, data, epochs, batch):
    """The timed part, one loop for both frameworks (``fw`` is the ember or torch module),
    so they do the same work: ``epochs`` of Adam steps in the same batch order, then the
    test-set accuracy."""
    xt, yt = fw.from_numpy(data["x_train"]), fw.from_numpy(data["y_train"])
    rng = np.random.default_rng(0)
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = rng.permutation(len(yt))
        for i in range(0, len(perm), batch):
            idx = fw.from_numpy(perm[i : i + batch])
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
    train_s = time.perf_counter() - t0
    model.eval()
    correct = 0
    with fw.no_grad():
        x, y = fw.from_numpy(data["x_test"]), data["y_test"]
        for i in range(0, len(y), 1000):
            correct += int((model(x[i : i + 1000]).argmax(1).numpy() == y[i : i + 1000]).sum())
    return {"train_s": train_s, "total_s": time.perf_counter() - t0, "acc": correct / len(y)}


def run_ember(data, epochs, batch, lr, threads, weights_path):
    import ember
    import ember.nn as nn
    import ember.optim as optim
    from ember._kernels import set_num_threads
    from ember.vision.models import LeNet

    set_num_threads(threads)
    ember.manual_seed(0)
    model = LeNet()
    np.savez(weights_path, **{k: v.numpy() for k, v in model.state_dict().items()})
    opt = optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    return _train_and_test(ember, model, opt, loss_fn, data, epochs, batch)


def run_torch(data, epochs, batch, lr, threads, weights_path):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    torch.set_num_threads(threads)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1, self.conv2 = nn.Conv2d(1, 6, 5), nn.Conv2d(6, 16, 5)
            self.fc1, self.fc2, self.fc3 = (
                nn.Linear(400, 120),
                nn.Linear(120, 84),
                nn.Linear(84, 10),
            )

        def forward(self, x):
            x = F.max_pool2d(F.relu(self.conv1(x)), (2, 2))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)
            return self.fc3(F.relu(self.fc2(F.relu(self.fc1(x)))))

    model = Net()
    w = np.load(weights_path)
    model.load_state_dict({k: torch.from_numpy(w[k]) for k in w.files})
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    return _train_and_test(torch, model, opt, loss_fn, data, epochs, batch)


def bench_pipeline(n_images: int, workers: int) -> None:
    """ImageFolder + RandomResizedCrop + flip + ToTensor + Normalize: images/s.

    Compared with a single-process PIL + numpy loop doing the same work (torchvision
    0.29.1 needs torch 2.14.1, which cannot be installed here).
    """
    from PIL import Image

    import ember
    from ember.data import DataLoader
    from ember.vision import datasets
    from ember.vision import transforms as T

    root = tempfile.mkdtemp()
    rng = np.random.default_rng(0)
    for i in range(n_images):
        folder = os.path.join(root, f"class{i % 4}")
        os.makedirs(folder, exist_ok=True)
        pixels = rng.integers(0, 256, (300, 400, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(os.path.join(folder, f"{i}.jpg"), quality=90)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    tf = T.Compose(
        [T.RandomResizedCrop(224), T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(mean, std)]
    )
    ds = datasets.ImageFolder(root, transform=tf)
    loader = DataLoader(ds, batch_size=32, shuffle=True, num_workers=workers)
    for _ in loader:  # warm-up: start workers, page in the files
        break
    t0 = time.perf_counter()
    n = sum(len(y) for _, y in loader)
    ours = n / (time.perf_counter() - t0)

    m, s = np.array(mean, np.float32), np.array(std, np.float32)
    t0 = time.perf_counter()
    for path, _ in ds.samples:
        img = Image.open(path).convert("RGB")
        i, j, h, w = T.RandomResizedCrop.get_params(img, (0.08, 1.0), (3 / 4, 4 / 3))
        img = img.resize((224, 224), Image.Resampling.BILINEAR, box=(j, i, j + w, i + h))
        if ember.rand(1).item() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        x = (np.asarray(img, np.float32) / 255 - m) / s
        x.transpose(2, 0, 1).copy()
    ref = len(ds.samples) / (time.perf_counter() - t0)
    print(f"ImageFolder pipeline ({n_images} JPEGs 400x300 -> 224, batch 32):")
    print(f"  ember DataLoader, {workers} workers: {ours:.0f} img/s")
    print(f"  PIL+numpy loop, 1 process        : {ref:.0f} img/s  (ratio {ours / ref:.2f}x)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--root", default=DEFAULT_ROOT, help="folder with the Fashion-MNIST .gz files")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--limit", type=int, default=None, help="use only the first N images")
    p.add_argument(
        "--torch-python",
        default=None,
        help="python of a venv with torch==2.13.0 (default: this one)",
    )
    p.add_argument("--framework", choices=["ember", "torch"], default="ember")
    p.add_argument("--weights", default=None, help=argparse.SUPPRESS)
    p.add_argument("--pipeline-images", type=int, default=256, help="0 skips the pipeline bench")
    p.add_argument("--workers", type=int, default=2)
    args = p.parse_args()
    if args.framework == "ember" and args.pipeline_images:
        bench_pipeline(args.pipeline_images, args.workers)
    if not os.path.isfile(os.path.join(args.root, "train-images-idx3-ubyte.gz")):
        print(
            f"Fashion-MNIST not found in {args.root}; fetch Debian's dataset-fashion-mnist "
            "(see this file's docstring) and pass --root",
            file=sys.stderr,
        )
        sys.exit(0 if args.root == DEFAULT_ROOT else 1)
    data = load(args.root, args.limit)
    hp = (args.epochs, args.batch_size, args.lr, args.threads)
    if args.framework == "torch":  # the child process of the comparison
        print(json.dumps(run_torch(data, *hp, args.weights)))
        return
    weights = os.path.join(tempfile.mkdtemp(), "lenet_init.npz")
    ours = run_ember(data, *hp, weights)
    n = len(data["y_train"])
    print(
        f"LeNet, Fashion-MNIST ({n} train / {len(data['y_test'])} test), {args.epochs} epochs, "
        f"Adam lr {args.lr}, batch {args.batch_size}, {args.threads} threads"
    )
    print(
        f"  ember  : test acc {100 * ours['acc']:.2f}%  train {ours['train_s']:.1f} s  "
        f"total {ours['total_s']:.1f} s"
    )
    torch_py = args.torch_python
    if torch_py is None and importlib.util.find_spec("torch") is not None:
        torch_py = sys.executable  # e.g. `nox -s bench`, whose venv has torch beside ember
    if torch_py is None:
        print("  torch  : skipped (pass --torch-python /path/to/venv/bin/python)")
        return
    cmd = [
        torch_py,
        __file__,
        "--framework",
        "torch",
        "--root",
        args.root,
        "--weights",
        weights,
        "--epochs",
        str(args.epochs),
        "--batch-size",
        str(args.batch_size),
        "--lr",
        str(args.lr),
        "--threads",
        str(args.threads),
    ]
    if args.limit:
        cmd += ["--limit", str(args.limit)]
    theirs = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
    print(
        f"  torch  : test acc {100 * theirs['acc']:.2f}%  train {theirs['train_s']:.1f} s  "
        f"total {theirs['total_s']:.1f} s"
    )
    print(f"  ratio ember/torch train time: {ours['train_s'] / theirs['train_s']:.2f}x")


if __name__ == "__main__":
    main()
