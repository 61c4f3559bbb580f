"""ember.vision: datasets, transforms, models and image utilities (PyTorch's torchvision).

    >>> from ember.vision import datasets, transforms
    >>> ds = datasets.EmbeddedMNIST(train=True, transform=transforms.ToTensor())
    >>> image, label = ds[0]   # a (1, 28, 28) float32 tensor in [0, 1] and an int

Submodules load on first use, so ``import ember.vision`` stays cheap.
"""

import importlib

__all__ = ["datasets", "io", "models", "ops", "transforms", "utils"]


def __getattr__(name: str):
    if name in __all__:
        return importlib.import_module(f"ember.vision.{name}")
    raise AttributeError(f"module 'ember.vision' has no attribute {name!r}")
