"""Train the seed's LeNet on real MNIST digits that ship inside ember-vision (no network).

The 5,000 embedded digits (4,000 to train on, 1,000 held out; see
``ember.vision.datasets.EmbeddedMNIST``) go through a ``DataLoader`` with light
augmentation (random affine jitter); LeNet-5 (``ember.vision.models.LeNet``,
the seed's ``Net``) learns them with Adam and a cosine learning-rate schedule.
Each epoch shows a progress bar (on a terminal) and prints the training loss
and the held-out accuracy. At the end the weights are saved with
``ember.save``, loaded into a fresh model, and the accuracy is checked again
(it must be identical); a PNG grid of test digits with their predicted labels
(green right, red wrong) is written with ``make_grid``/``save_image``.

    python examples/mnist_lenet.py                      # ~1-2 minutes on 2 cores
    python examples/mnist_lenet.py --epochs 3 --out /tmp/demo
    python examples/mnist_lenet.py --data fashion-mnist --root /usr/share/datasets/fashion-mnist
    python examples/mnist_lenet.py --device cuda
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field

# LeNet's matrices are small: one BLAS thread multiplies them fastest, and leaves the
# cores to ember's own kernel threads instead of oversubscribing them (numpy reads
# this once, at import; a value set by the user wins).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import ember
import ember.nn as nn
import ember.optim as optim
from ember.data import DataLoader, Subset
from ember.vision import datasets, models, transforms
from ember.vision.transforms import functional as TF
from ember.vision.utils import save_image

MEAN, STD = (0.1307,), (0.3081,)  # MNIST's pixel statistics (the usual constants)
DATASETS = {
    "embedded": lambda root, train, t: datasets.EmbeddedMNIST(train=train, transform=t),
    "mnist": lambda root, train, t: datasets.MNIST(root, train=train, transform=t),
    "fashion-mnist": lambda root, train, t: datasets.FashionMNIST(root, train=train, transform=t),
}


class ProgressBar:
    """A one-line progress bar: tqdm when installed, else a small one; silent off a terminal."""

    def __init__(self, total: int, desc: str, enabled: bool | None = None) -> None:
        self.total, self.desc, self.n, self.postfix = total, desc, 0, ""
        self.enabled = sys.stdout.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self._tqdm = None
        if self.enabled:
            try:
                from tqdm import tqdm

                self._tqdm = tqdm(total=total, desc=desc, leave=False, file=sys.stdout)
            except ImportError:
                pass

    def update(self, loss: float) -> None:
        """Advance by one batch whose loss was ``loss``."""
        self.n += 1
        if self._tqdm is not None:
            self._tqdm.set_postfix(loss=f"{loss:.4f}", refresh=False)
            self._tqdm.update(1)
        elif self.enabled:
            width = max(10, min(30, shutil.get_terminal_size().columns - 50))
            done = int(width * self.n / self.total)
            rate = self.n / max(time.perf_counter() - self.start, 1e-9)
            sys.stdout.write(
                f"\r{self.desc} [{'#' * done}{'.' * (width - done)}] {self.n}/{self.total} "
                f"loss {loss:.4f} {rate:.1f} it/s"
            )
            sys.stdout.flush()

    def close(self) -> None:
        """Erase the bar so the epoch summary takes its line."""
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.enabled:
            sys.stdout.write("\r" + " " * (shutil.get_terminal_size().columns - 1) + "\r")
            sys.stdout.flush()


@dataclass
class Result:
    """What a run produced: per-epoch history, final accuracies and written files."""

    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    reloaded_accuracy: float = float("nan")
    checkpoint: str = ""
    grid: str = ""
    seconds: float = 0.0


def make_loaders(data: str, root: str | None, batch_size: int, workers: int, limit: int | None):
    """Training loader (with augmentation) and held-out loader for ``data``."""
    train_t = transforms.Compose(
        [
            transforms.RandomAffine(degrees=10, translate=(0.08, 0.08), scale=(0.9, 1.1)),
            transforms.Pad(2),  # LeNet-5 takes 32x32 inputs
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    test_t = transforms.Compose(
        [transforms.Pad(2), transforms.ToTensor(), transforms.Normalize(MEAN, STD)]
    )
    train_set = DATASETS[data](root, True, train_t)
    test_set = DATASETS[data](root, False, test_t)
    if limit is not None:
        train_set = Subset(train_set, range(min(limit, len(train_set))))
    train = DataLoader(
        train_set,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        generator=ember.Generator().manual_seed(0),
        persistent_workers=workers > 0,
    )
    test = DataLoader(test_set, batch_size=500, num_workers=0)
    return train, test


def evaluate(model: nn.Module, loader: DataLoader, device: str) -> tuple[float, ember.Tensor]:
    """Held-out accuracy and the predicted labels, in dataset order."""
    model.eval()
    preds, correct, total = [], 0, 0
    with ember.no_grad():
        for x, y in loader:
            p = model(x.to(device)).argmax(1).to("cpu")
            preds.append(p)
            correct += int((p == y).sum().item())
            total += len(y)
    return correct / total, ember.cat(preds)


def train_epoch(model, loader, optimizer, scheduler, loss_fn, device, desc, progress) -> float:
    """One pass over ``loader``; returns the mean training loss."""
    model.train()
    bar = ProgressBar(len(loader), desc, progress)
    total, count = 0.0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        value = loss.item()
        total, count = total + value * len(y), count + len(y)
        bar.update(value)
    bar.close()
    return total / count


def save_prediction_grid(dataset, preds: ember.Tensor, path: str, n: int = 64) -> None:
    """A PNG of the first ``n`` test digits, each captioned with its predicted class."""
    from PIL import Image, ImageDraw

    tiles = []
    for i in range(min(n, len(dataset))):
        digit = dataset.data[i].numpy()  # raw 28x28 bytes, before any transform
        big = TF.resize(Image.fromarray(digit), [56, 56], transforms.InterpolationMode.NEAREST)
        tile = Image.new("RGB", (56, 70), "white")
        tile.paste(big.convert("RGB"), (0, 0))
        pred, truth = int(preds[i]), int(dataset.targets[i])
        color = (0, 140, 0) if pred == truth else (200, 0, 0)
        label = str(pred) if pred == truth else f"{pred} (true {truth})"
        ImageDraw.Draw(tile).text((3, 57), label, fill=color)
        tiles.append(TF.to_tensor(tile))
    save_image(tiles, path, nrow=8, padding=2, pad_value=1.0)


def run(
    epochs: int = 12,
    lr: float = 3e-3,
    batch_size: int = 32,
    data: str = "embedded",
    root: str | None = None,
    device: str = "cpu",
    out: str = "mnist_lenet_out",
    workers: int = 0,
    limit: int | None = None,
    seed: int = 0,
    progress: bool | None = None,
    log=print,
) -> Result:
    """Train, checkpoint, reload, re-check and draw; returns the :class:`Result`."""
    if device.startswith("cuda") and not ember.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available to ember on this machine")
    t0 = time.perf_counter()
    ember.manual_seed(seed)
    train_loader, test_loader = make_loaders(data, root, batch_size, workers, limit)
    model = models.LeNet().to(device)
    optimizer = optim.Adam(model.parameters(), lr=lr)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(train_loader))
    loss_fn = nn.CrossEntropyLoss()
    result = Result()
    log(
        f"LeNet ({sum(p.numel() for p in model.parameters()):,} parameters) on {data}: "
        f"{len(train_loader.dataset)} training / {len(test_loader.dataset)} held-out images, "
        f"{epochs} epochs, device {device}"
    )
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        desc = f"epoch {epoch}/{epochs}"
        loss = train_epoch(
            model, train_loader, optimizer, scheduler, loss_fn, device, desc, progress
        )
        acc, preds = evaluate(model, test_loader, device)
        result.losses.append(loss)
        result.accuracies.append(acc)
        log(
            f"{desc}  train loss {loss:.4f}  held-out accuracy {100 * acc:.2f}%  "
            f"({time.perf_counter() - start:.1f} s)"
        )

    os.makedirs(out, exist_ok=True)
    result.checkpoint = os.path.join(out, f"lenet_{data}.pt")
    ember.save(model.state_dict(), result.checkpoint)
    fresh = models.LeNet()
    fresh.load_state_dict(ember.load(result.checkpoint, map_location="cpu"))
    fresh = fresh.to(device)
    result.reloaded_accuracy, reloaded_preds = evaluate(fresh, test_loader, device)
    if result.reloaded_accuracy != result.accuracies[-1] or not ember.equal(preds, reloaded_preds):
        raise RuntimeError(
            f"reloaded checkpoint gives {result.reloaded_accuracy:.4f}, "
            f"trained model {result.accuracies[-1]:.4f}"
        )
    log(
        f"checkpoint {result.checkpoint}: reloaded into a fresh LeNet, held-out accuracy "
        f"{100 * result.reloaded_accuracy:.2f}% (identical)"
    )
    result.grid = os.path.join(out, f"predictions_{data}.png")
    save_prediction_grid(test_loader.dataset, reloaded_preds, result.grid)
    log(f"prediction grid: {result.grid}")
    result.seconds = time.perf_counter() - t0
    log(f"done in {result.seconds:.1f} s")
    return result


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=12)
    p.add_argument("--lr", type=float, default=3e-3, help="Adam's peak learning rate")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--data", choices=sorted(DATASETS), default="embedded")
    p.add_argument("--root", help="folder with the IDX files (for --data mnist/fashion-mnist)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--out", default="mnist_lenet_out", help="where the checkpoint and PNG go")
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if args.data != "embedded" and args.root is None:
        p.error(f"--data {args.data} needs --root DIR (the folder holding its IDX files)")
    if args.epochs < 1 or args.batch_size < 1 or not math.isfinite(args.lr) or args.lr <= 0:
        p.error("--epochs and --batch-size must be positive, --lr a positive number")
    result = run(
        args.epochs,
        args.lr,
        args.batch_size,
        args.data,
        args.root,
        args.device,
        args.out,
        args.workers,
        seed=args.seed,
    )
    if args.data == "embedded":
        target = result.accuracies[-1] >= 0.97
        print(f"target (>= 97% held-out): {'reached' if target else 'NOT reached'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
