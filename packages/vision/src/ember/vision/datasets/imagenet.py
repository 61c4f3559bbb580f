"""ImageNet (ILSVRC 2012 classification) from the official archives, extracted once.

The three archives are given to registered users only (https://image-net.org),
so there is no download: put ``ILSVRC2012_devkit_t12.tar.gz`` and
``ILSVRC2012_img_train.tar`` and/or ``ILSVRC2012_img_val.tar`` in ``root``.
The first use checks each archive's MD5, reads the class list from the
devkit's ``meta.mat`` and the validation labels from its ground-truth file,
and extracts the split into ``root/<split>/<wnid>/`` (an ImageFolder layout);
later uses read the folders directly.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from collections.abc import Callable
from typing import Any

import numpy as np

from ._files import DatasetNotFoundError, check_integrity, extract_archive
from ._matlab import loadmat
from .folder import ImageFolder, default_loader

__all__ = ["ImageNet", "parse_devkit_archive"]

#: split -> (archive name, MD5 of the official file)
ARCHIVE_META = {
    "train": ("ILSVRC2012_img_train.tar", "1d675b47d978889d74fa0da5fadfb00e"),
    "val": ("ILSVRC2012_img_val.tar", "29b22e2961454d5413ddabcf34fc5622"),
    "devkit": ("ILSVRC2012_devkit_t12.tar.gz", "fa75699e90414af021442c21a62c3abf"),
}
META_FILE = "meta.json"
_NOT_PUBLIC = (
    "ImageNet cannot be downloaded automatically: the ILSVRC2012 archives are given only to "
    "registered users at https://image-net.org/download-images.php; download them there and "
    "put them in {root}"
)


def _scalar(value: Any) -> Any:
    """The single value of a MAT-file field (a 1x1 number or a one-row char array)."""
    flat = np.asarray(value).ravel()
    if flat.size != 1:
        raise ValueError(f"expected a single value in meta.mat, got {flat.size}")
    return flat[0].item() if isinstance(flat[0], np.generic) else flat[0]


def _check_archive(root: str, key: str) -> str:
    name, md5 = ARCHIVE_META[key]
    path = os.path.join(root, name)
    if not os.path.isfile(path):
        raise DatasetNotFoundError(f"ImageNet: {name} not found. " + _NOT_PUBLIC.format(root=root))
    if not check_integrity(path, md5):
        raise ValueError(
            f"ImageNet: {path} failed the MD5 check (corrupt, truncated or not the official "
            f"file; expected {md5}); nothing was extracted"
        )
    return path


def parse_devkit_archive(root: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the class list and validation labels from ``root/ILSVRC2012_devkit_t12.tar.gz``.

    Returns ``{"wnid_to_classes": {wnid: [names]}, "val_wnids": [wnid per val image]}``
    and writes it to ``root/meta.json`` (atomically) for later uses.
    """
    root = os.fspath(root)
    archive = _check_archive(root, "devkit")
    tmp = os.path.join(root, ".devkit.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        extract_archive(archive, tmp)
        data = os.path.join(tmp, "ILSVRC2012_devkit_t12", "data")
        synsets = loadmat(os.path.join(data, "meta.mat"))["synsets"]
        idx_to_wnid, wnid_to_classes = {}, {}
        for rec in np.asarray(synsets).ravel():
            if int(_scalar(rec["num_children"])) != 0:
                continue  # an inner node of the WordNet tree, not one of the 1,000 classes
            wnid = str(_scalar(rec["WNID"]))
            idx_to_wnid[int(_scalar(rec["ILSVRC2012_ID"]))] = wnid
            wnid_to_classes[wnid] = str(_scalar(rec["words"])).split(", ")
        with open(os.path.join(data, "ILSVRC2012_validation_ground_truth.txt")) as f:
            ids = [int(line) for line in f if line.strip()]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    unknown = sorted(set(ids) - set(idx_to_wnid))
    if unknown:
        raise ValueError(f"ImageNet devkit: validation labels {unknown[:5]} are not classes")
    meta = {"wnid_to_classes": wnid_to_classes, "val_wnids": [idx_to_wnid[i] for i in ids]}
    part = os.path.join(root, META_FILE + ".partial")
    with open(part, "w") as f:
        json.dump(meta, f)
    os.replace(part, os.path.join(root, META_FILE))
    return meta


def _extract_train(archive: str, dest: str) -> None:
    # The outer tar holds one tar per class (n01440764.tar ...) of that class's JPEGs.
    extract_archive(archive, dest)
    for name in sorted(os.listdir(dest)):
        inner = os.path.join(dest, name)
        if name.endswith(".tar") and tarfile.is_tarfile(inner):
            extract_archive(inner, os.path.join(dest, name.removesuffix(".tar")))
            os.remove(inner)


def _extract_val(archive: str, dest: str, val_wnids: list[str]) -> None:
    # The validation tar is flat; its sorted file names follow the ground-truth order.
    extract_archive(archive, dest)
    images = sorted(f for f in os.listdir(dest) if os.path.isfile(os.path.join(dest, f)))
    if len(images) != len(val_wnids):
        raise ValueError(
            f"ImageNet: the validation archive holds {len(images)} images but the devkit "
            f"labels {len(val_wnids)}"
        )
    for wnid in set(val_wnids):
        os.makedirs(os.path.join(dest, wnid), exist_ok=True)
    for image, wnid in zip(images, val_wnids, strict=True):
        os.replace(os.path.join(dest, image), os.path.join(dest, wnid, image))


class ImageNet(ImageFolder):
    """ImageNet 2012 classification: 1,281,167 training and 50,000 validation images, 1,000 classes.

    Args:
        root: directory holding the official archives (see the module docstring)
            or what a first use extracted from them.
        split: ``"train"`` or ``"val"``.
        transform: applied to the ``PIL.Image`` (RGB).
        target_transform: applied to the class index.
        download: accepted for the common signature; the archives cannot be
            downloaded (registration required), so a missing archive raises
            :class:`DatasetNotFoundError` saying where to get it.
        loader: path -> image (default :func:`default_loader`).

    After extraction this is an :class:`ImageFolder` over ``root/<split>``:
    ``wnids`` are the WordNet ids (the folder names, sorted), ``wnid_to_idx``
    maps them to class indices, ``classes`` holds each class's names (a tuple,
    e.g. ``("tench", "Tinca tinca")``) and ``class_to_idx`` maps every name to
    its index.

    Raises:
        DatasetNotFoundError: an archive the split needs is missing.
        ValueError: an archive fails its MD5 check (nothing is extracted).
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str = "train",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
        loader: Callable[[str], Any] = default_loader,
    ) -> None:
        if split not in ("train", "val"):
            raise ValueError(f"ImageNet split must be 'train' or 'val', got {split!r}")
        root = os.path.expanduser(os.fspath(root))
        self.split = split
        meta = self._meta(root)
        folder = os.path.join(root, split)
        if not os.path.isdir(folder):
            archive = _check_archive(root, split)
            tmp = folder + ".partial"
            shutil.rmtree(tmp, ignore_errors=True)  # left by an interrupted first use
            if split == "train":
                _extract_train(archive, tmp)
            else:
                _extract_val(archive, tmp, meta["val_wnids"])
            os.replace(tmp, folder)  # the split appears whole or not at all
        super().__init__(folder, transform, target_transform, loader)
        self.root = root
        unknown = [w for w in self.classes if w not in meta["wnid_to_classes"]]
        if unknown:
            raise ValueError(f"ImageNet: folders {unknown[:5]} in {folder} are not devkit classes")
        self.wnids = self.classes
        self.wnid_to_idx = self.class_to_idx
        self.classes = [tuple(meta["wnid_to_classes"][w]) for w in self.wnids]
        self.class_to_idx = {name: i for i, names in enumerate(self.classes) for name in names}

    @staticmethod
    def _meta(root: str) -> dict[str, Any]:
        path = os.path.join(root, META_FILE)
        if os.path.isfile(path):
            with open(path) as f:
                return json.load(f)
        return parse_devkit_archive(root)

    @property
    def split_folder(self) -> str:
        """``root/<split>``, the extracted images."""
        return os.path.join(self.root, self.split)

    def extra_repr(self) -> str:
        return f"Split: {self.split}"
