"""ImageFolder and DatasetFolder: one sub-folder per class, files inside are samples."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PIL import Image

from .vision import VisionDataset

__all__ = ["IMG_EXTENSIONS", "DatasetFolder", "ImageFolder", "default_loader", "pil_loader"]

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def pil_loader(path: str):
    """Open an image file as RGB (the file is closed before returning)."""
    with open(path, "rb") as f:
        img = Image.open(f)
        img.load()  # read everything before the file closes
    return img if img.mode == "RGB" else img.convert("RGB")


def default_loader(path: str):
    """The default image loader: :func:`pil_loader`."""
    return pil_loader(path)


def find_classes(directory: str) -> tuple[list[str], dict[str, int]]:
    """Sorted class folder names of ``directory`` and their indices."""
    classes = sorted(e.name for e in os.scandir(directory) if e.is_dir())
    if not classes:
        raise FileNotFoundError(f"no class folders found in {directory}")
    return classes, {c: i for i, c in enumerate(classes)}


def make_dataset(
    directory: str,
    class_to_idx: dict[str, int],
    extensions: tuple[str, ...] | None = None,
    is_valid_file: Callable[[str], bool] | None = None,
    allow_empty: bool = False,
) -> list[tuple[str, int]]:
    """``(path, class index)`` for every valid file under each class folder, sorted."""
    if (extensions is None) == (is_valid_file is None):
        raise ValueError("pass exactly one of extensions and is_valid_file")
    if extensions is not None:
        lowered = tuple(e.lower() for e in extensions)

        def is_valid_file(path: str) -> bool:
            return path.lower().endswith(lowered)

    samples, empty = [], []
    for name in sorted(class_to_idx):
        folder = os.path.join(directory, name)
        if not os.path.isdir(folder):
            continue
        found = 0
        for root, _, files in sorted(os.walk(folder, followlinks=True)):
            for fname in sorted(files):
                path = os.path.join(root, fname)
                if is_valid_file(path):
                    samples.append((path, class_to_idx[name]))
                    found += 1
        if not found:
            empty.append(name)
    if empty and not allow_empty:
        what = f"extensions {extensions}" if extensions is not None else "is_valid_file"
        raise FileNotFoundError(f"no valid files ({what}) in class folders {empty} of {directory}")
    return samples


class DatasetFolder(VisionDataset):
    """Samples in ``root/<class>/**/<file>`` read by ``loader``.

    Args:
        root: the folder of class folders (sorted names give the class indices).
        loader: path -> sample.
        extensions: accepted file endings (case-insensitive); or
        is_valid_file: a path -> bool filter (exactly one of the two).
        allow_empty: accept class folders with no valid file.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        loader: Callable[[str], Any],
        extensions: tuple[str, ...] | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        if not os.path.isdir(self.root):
            raise FileNotFoundError(f"{type(self).__name__}: {self.root} is not a directory")
        self.classes, self.class_to_idx = self.find_classes(self.root)
        self.samples = make_dataset(
            self.root, self.class_to_idx, extensions, is_valid_file, allow_empty
        )
        self.loader, self.extensions = loader, extensions
        self.targets = [t for _, t in self.samples]

    @staticmethod
    def find_classes(directory: str) -> tuple[list[str], dict[str, int]]:
        """Class names and indices (override to change how classes are found)."""
        return find_classes(directory)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """``(loader(path), class index)`` after the transforms."""
        path, target = self.samples[index]
        return self._apply(self.loader(path), target)


class ImageFolder(DatasetFolder):
    """Images in ``root/<class>/<file>``, opened as RGB PIL images (the seed's loader)."""

    def __init__(
        self,
        root: str | os.PathLike[str],
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        loader: Callable[[str], Any] = default_loader,
        is_valid_file: Callable[[str], bool] | None = None,
        allow_empty: bool = False,
    ) -> None:
        super().__init__(
            root,
            loader,
            IMG_EXTENSIONS if is_valid_file is None else None,
            transform,
            target_transform,
            is_valid_file,
            allow_empty,
        )
        self.imgs = self.samples
