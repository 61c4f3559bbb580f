"""Omniglot: 1,623 handwritten characters from 50 alphabets, 20 drawings each."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from PIL import Image

from ._files import DatasetNotFoundError, download_from_mirrors, extract_archive
from .vision import VisionDataset

__all__ = ["Omniglot"]


def _subdirs(path: str) -> list[str]:
    return sorted(e.name for e in os.scandir(path) if e.is_dir())


class Omniglot(VisionDataset):
    """Omniglot (Lake et al., 2015), from ``images_background.zip`` / ``images_evaluation.zip``.

    Args:
        root: directory holding ``omniglot-py/`` (``None``: the ember cache).
        background: the 30 "background" alphabets (964 characters, the usual
            training set) or the 20 "evaluation" alphabets (659 characters).
        transform: applied to the ``PIL.Image`` (mode ``"L"``, 105x105).
        target_transform: applied to the character class.
        download: fetch the zip (MD5-checked before extraction) and extract it.

    The zip holds ``images_<set>/<alphabet>/characterNN/<drawing>.png``. Every
    character folder of every alphabet is one class, numbered in sorted order
    (alphabets, then characters), so the numbering is the same on every machine.
    Items are ``(image, character class)``; :attr:`characters` names each class
    as ``"<alphabet>/<character>"``.
    """

    folder = "omniglot-py"
    #: folder URLs (the zip name is appended); raw.githubusercontent.com serves github's raw files
    mirrors = [
        "https://raw.githubusercontent.com/brendenlake/omniglot/master/python/",
        "https://github.com/brendenlake/omniglot/raw/master/python/",
    ]
    zips_md5 = {
        "images_background": "68d2efa1b9178cc56df9314c21c6e718",
        "images_evaluation": "6b91aef0f799c5bb55b94e3f2daec811",
    }

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        background: bool = True,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.background = bool(background)
        self.target_folder = os.path.join(self.root, self.folder, self._name)
        if download:
            self.download()
        if not os.path.isdir(self.target_folder):
            raise DatasetNotFoundError(
                f"Omniglot: {self.target_folder} not found; pass download=True to fetch "
                f"{self._name}.zip"
            )
        self.alphabets = _subdirs(self.target_folder)
        self.characters = [
            f"{a}/{c}"
            for a in self.alphabets
            for c in _subdirs(os.path.join(self.target_folder, a))
        ]
        self.samples: list[tuple[str, int]] = []
        for idx, character in enumerate(self.characters):
            folder = os.path.join(self.target_folder, character)
            names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".png"))
            self.samples += [(os.path.join(folder, n), idx) for n in names]
        if not self.samples:
            raise DatasetNotFoundError(f"Omniglot: no .png drawings under {self.target_folder}")
        self.targets = [t for _, t in self.samples]

    @property
    def _name(self) -> str:
        return "images_background" if self.background else "images_evaluation"

    def download(self) -> None:
        """Fetch and extract the zip (MD5-checked first) unless its folder is there."""
        if os.path.isdir(self.target_folder):
            return
        folder = os.path.join(self.root, self.folder)
        name = self._name + ".zip"
        archive = download_from_mirrors(self.mirrors, name, folder, md5=self.zips_md5[self._name])
        extract_archive(archive, folder)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """``(PIL "L" image, character class)`` after the transforms."""
        path, target = self.samples[index]
        with open(path, "rb") as f:
            image = Image.open(f).convert("L")
        return self._apply(image, target)

    def extra_repr(self) -> str:
        return f"Background: {self.background}"
