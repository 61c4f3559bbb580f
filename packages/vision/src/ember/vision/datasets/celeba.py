"""CelebA: aligned celebrity faces with 40 attributes, identities, boxes and landmarks."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

import ember

from ._files import DatasetNotFoundError, check_integrity, download_from_mirrors, extract_archive
from .folder import pil_loader
from .vision import VisionDataset

__all__ = ["CelebA"]

_TARGET_TYPES = ("attr", "identity", "bbox", "landmarks")


def _read_table(path: str, header: bool) -> tuple[list[str], list[str], np.ndarray]:
    """``(column names, first column, int matrix of the other columns)`` of a CelebA list file.

    The annotated lists start with a line holding the number of rows and, when
    ``header``, a line of column names; rows are whitespace-separated.
    """
    with open(path) as f:
        lines = [line.split() for line in f if line.strip()]
    names: list[str] = []
    if header:
        if len(lines) < 2:
            raise ValueError(f"{path}: expected a count line and a header line")
        count, names, lines = lines[0], lines[1], lines[2:]
        if len(count) == 1 and count[0].isdigit() and int(count[0]) != len(lines):
            raise ValueError(f"{path}: announces {count[0]} rows but holds {len(lines)}")
    widths = {len(row) for row in lines}
    if len(widths) > 1:
        raise ValueError(f"{path}: rows have different numbers of columns {sorted(widths)}")
    index = [row[0] for row in lines]
    try:
        values = np.array([[int(v) for v in row[1:]] for row in lines], dtype=np.int64)
    except ValueError as e:
        raise ValueError(f"{path}: a value is not an integer ({e})") from None
    return names, index, values.reshape(len(lines), -1)


class CelebA(VisionDataset):
    """CelebA (Liu et al., 2015): 202,599 aligned and cropped 178x218 face images.

    Args:
        root: directory holding ``celeba/`` (``img_align_celeba/`` and the list files).
        split: ``"train"``, ``"valid"``, ``"test"`` or ``"all"`` (from
            ``list_eval_partition.txt``).
        target_type: ``"attr"`` (40 binary attributes, 0/1), ``"identity"``
            (person id), ``"bbox"`` (x, y, width, height in the in-the-wild
            image), ``"landmarks"`` (10 coordinates in the aligned image), or a
            list of them (the target is then a tuple in that order; an empty
            list gives ``None``).
        transform: applied to the ``PIL.Image`` (RGB).
        target_transform: applied to the target.
        download: fetch the image zip and the five list files (MD5-checked
            before use) from the official Google Drive folder (the images also
            from a public mirror) and extract the images.

    Targets are int64 ember tensors: ``attr`` (40,), ``identity`` a 0-d tensor,
    ``bbox`` (4,), ``landmarks`` (10,). ``attr_names`` lists the attributes.
    """

    base_folder = "celeba"
    #: Google Drive's direct-download endpoint for a file id.
    drive_url = "https://drive.usercontent.google.com/download?id={}&export=download&confirm=t"
    #: (Google Drive id, MD5, file name) of every file; the zip is only checked by download.
    file_list: list[tuple[str, str, str]] = [
        (
            "0B7EVK8r0v71pZjFTYXZWM3FlRnM",
            "00d2c5bc6d35e252742224ab0c1e8fcb",
            "img_align_celeba.zip",
        ),
        (
            "0B7EVK8r0v71pblRyaVFSWGxPY0U",
            "75e246fa4810816ffd6ee81facbd244c",
            "list_attr_celeba.txt",
        ),
        (
            "1_ee_0u7vcNLOfNLegJRHmolfH5ICW-XS",
            "32bd1bd63d3c78cd57e08160ec5ed1e2",
            "identity_CelebA.txt",
        ),
        (
            "0B7EVK8r0v71pbThiMVRxWXZ4dU0",
            "00566efa6fedff7a56946cd1c10f1c16",
            "list_bbox_celeba.txt",
        ),
        (
            "0B7EVK8r0v71pd0FJY3Blby1HUTQ",
            "cc24ecafdb5b50baae59b03474781f8c",
            "list_landmarks_align_celeba.txt",
        ),
        (
            "0B7EVK8r0v71pY0NSMzRuSXJEVkk",
            "d32c9cbf5e040fd4025c592c306e6668",
            "list_eval_partition.txt",
        ),
    ]
    #: Other places serving the very same file (same MD5).
    mirrors: dict[str, list[str]] = {
        "img_align_celeba.zip": [
            "https://s3-us-west-1.amazonaws.com/udacity-dlnfd/datasets/celeba.zip"
        ]
    }
    splits = {"train": 0, "valid": 1, "test": 2, "all": None}

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        split: str = "train",
        target_type: str | Sequence[str] = "attr",
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        download: bool = False,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        if split not in self.splits:
            raise ValueError(f"CelebA split must be one of {tuple(self.splits)}, got {split!r}")
        types = [target_type] if isinstance(target_type, str) else list(target_type)
        bad = [t for t in types if t not in _TARGET_TYPES]
        if bad:
            raise ValueError(f"CelebA target_type must be among {_TARGET_TYPES}, got {bad}")
        if target_transform is not None and not types:
            raise ValueError("target_transform is given but target_type is empty (no target)")
        self.split, self.target_type = split, types
        if download:
            self.download()
        self._check_files()
        _, files, part = _read_table(self._path("list_eval_partition.txt"), header=False)
        wanted = self.splits[split]
        keep = np.ones(len(files), bool) if wanted is None else part[:, 0] == wanted
        self.filename = [f for f, k in zip(files, keep, strict=True) if k]
        tables = {
            "identity": ("identity_CelebA.txt", False),
            "bbox": ("list_bbox_celeba.txt", True),
            "landmarks": ("list_landmarks_align_celeba.txt", True),
            "attr": ("list_attr_celeba.txt", True),
        }
        for kind, (name, header) in tables.items():
            names, index, values = _read_table(self._path(name), header)
            if index != files:
                raise ValueError(
                    f"CelebA: {name} does not list the images of list_eval_partition.txt "
                    "in the same order"
                )
            if kind == "attr":
                self.attr_names = names
                values = (values + 1) // 2  # -1/1 -> 0/1
            setattr(self, kind, ember.from_numpy(np.ascontiguousarray(values[keep])))

    def _path(self, name: str) -> str:
        return os.path.join(self.root, self.base_folder, name)

    def _check_files(self) -> None:
        texts = [(md5, name) for _, md5, name in self.file_list if name.endswith(".txt")]
        missing = [n for _, n in texts if not os.path.isfile(self._path(n))]
        if not os.path.isdir(self._path("img_align_celeba")):
            missing.append("img_align_celeba/")
        if missing:
            raise DatasetNotFoundError(
                f"CelebA: {', '.join(missing)} not found in {self._path('')}; pass "
                "download=True to fetch them"
            )
        bad = [n for md5, n in texts if not check_integrity(self._path(n), md5)]
        if bad:
            raise ValueError(
                f"CelebA: {', '.join(bad)} in {self._path('')} failed the MD5 check (corrupt "
                "or modified); delete them and download again"
            )

    def download(self) -> None:
        """Fetch every file (MD5-checked before it is kept), then extract the images."""
        from ember.hub import HashMismatchError  # hub (and requests) only when downloading

        folder = self._path("")
        for file_id, md5, name in self.file_list:
            if name.endswith(".zip") and os.path.isdir(self._path("img_align_celeba")):
                continue  # already extracted: do not fetch 1.4 GB again
            urls = [self.drive_url.format(file_id), *self.mirrors.get(name, [])]
            try:
                download_from_mirrors(urls, name, folder, md5=md5)
            except HashMismatchError as e:
                # Drive answers an over-quota file with an HTML page, which fails the MD5.
                raise HashMismatchError(
                    f"{e}. If Google Drive served a 'quota exceeded' page instead of the file, "
                    f"try later or download {name} by hand from the CelebA page into {folder}"
                ) from None
        if not os.path.isdir(self._path("img_align_celeba")):
            extract_archive(self._path("img_align_celeba.zip"), folder)

    def __len__(self) -> int:
        return len(self.filename)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(PIL RGB image, target)``; see ``target_type`` for the target."""
        img = pil_loader(self._path(os.path.join("img_align_celeba", self.filename[index])))
        parts = []
        for kind in self.target_type:
            parts.append(
                self.identity[index, 0] if kind == "identity" else getattr(self, kind)[index]
            )
        target = (tuple(parts) if len(parts) > 1 else parts[0]) if parts else None
        return self._apply(img, target)

    def extra_repr(self) -> str:
        return f"Target type: {self.target_type}\nSplit: {self.split}"
