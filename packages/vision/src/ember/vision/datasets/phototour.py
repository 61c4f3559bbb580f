"""PhotoTour (Brown et al.'s "Learning Local Image Descriptors" patches), from the official zips."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

from ._files import DatasetNotFoundError, download_from_mirrors, extract_archive
from .vision import VisionDataset

__all__ = ["PhotoTour"]

_PATCH, _TILE = 64, 1024  # each bitmap is a 16x16 grid of 64x64 patches
_BROWN = "http://matthewalunbrown.com/patchdata/"
_ICVL = "http://icvl.ee.ic.ac.uk/vbalnt/"


def _tile_patches(path: str) -> np.ndarray:
    """The 256 patches of one bitmap, row by row, as uint8 ``(256, 64, 64)``."""
    with open(path, "rb") as f:
        img = Image.open(f)
        grey = np.asarray(img.convert("L"))  # maps a grey palette to its grey values
    if grey.shape != (_TILE, _TILE):
        raise ValueError(f"{path}: expected a {_TILE}x{_TILE} bitmap, got {grey.shape[::-1]}")
    n = _TILE // _PATCH
    return grey.reshape(n, _PATCH, n, _PATCH).transpose(0, 2, 1, 3).reshape(n * n, _PATCH, _PATCH)


class PhotoTour(VisionDataset):
    """Patches of the Liberty, Notre Dame and Yosemite 3D reconstructions.

    Args:
        root: directory holding ``<name>/`` (the extracted zip) (``None``: the ember cache).
        name: ``"notredame"``, ``"yosemite"``, ``"liberty"`` (difference-of-Gaussian
            keypoints) or the same with ``"_harris"`` (Harris corners).
        train: items are single patches (True) or the 100,000 reference pairs
            of ``m50_100000_100000_0.txt`` (False).
        transform: applied to each patch (a 64x64 ``PIL.Image`` in mode ``"L"``).
        target_transform: applied to the pair's match flag (``train=False``).
        download: fetch ``<name>.zip`` (MD5-checked before extraction) and extract it.

    The zip holds ``patchesNNNN.bmp`` (1024x1024 greyscale bitmaps, each a
    16x16 grid of patches read row by row), ``info.txt`` (one line per patch:
    the id of its 3D point, then an unused value) and the match files. ``data``
    is uint8 ``(N, 64, 64)`` with N the number of lines of ``info.txt``,
    ``labels`` int64 ``(N,)`` the 3D point ids, ``matches`` int64 ``(M, 3)``
    rows of ``(patch 1, patch 2, 1 if same 3D point else 0)``.

    Items: ``train=True`` gives the patch alone (as torchvision);
    ``train=False`` gives ``(patch 1, patch 2, match)``.
    """

    #: name -> (URL, zip name, MD5)
    urls: dict[str, tuple[str, str, str]] = {
        "notredame_harris": (
            _BROWN + "notredame_harris.zip",
            "notredame_harris.zip",
            "69f8c90f78e171349abdf0307afefe4d",
        ),
        "yosemite_harris": (
            _BROWN + "yosemite_harris.zip",
            "yosemite_harris.zip",
            "a73253d1c6fbd3ba2613c45065c00d46",
        ),
        "liberty_harris": (
            _BROWN + "liberty_harris.zip",
            "liberty_harris.zip",
            "c731fcfb3abb4091110d0ae8c7ba182c",
        ),
        "notredame": (_ICVL + "notredame.zip", "notredame.zip", "509eda8535847b8c0a90bbb210c83484"),
        "yosemite": (_ICVL + "yosemite.zip", "yosemite.zip", "533b2e8eb7ede31be40abc317b2fd4f0"),
        "liberty": (_ICVL + "liberty.zip", "liberty.zip", "fdd9152f138ea5ef2091746689176414"),
    }
    #: per-dataset pixel mean and standard deviation (on a 0..1 scale), for Normalize
    means = {"notredame": 0.4854, "yosemite": 0.4844, "liberty": 0.4437}
    stds = {"notredame": 0.1864, "yosemite": 0.1818, "liberty": 0.2019}
    #: number of patches in each published set
    lens = {"notredame": 468159, "yosemite": 633587, "liberty": 450092}
    lens.update({"liberty_harris": 379587, "yosemite_harris": 450912, "notredame_harris": 325295})
    image_ext = ".bmp"
    info_file = "info.txt"
    matches_file = "m50_100000_100000_0.txt"

    def __init__(
        self,
        root: str | os.PathLike[str] | None,
        name: str,
        train: bool = True,
        transform: Callable | None = None,
        download: bool = False,
        target_transform: Callable | None = None,
    ) -> None:
        super().__init__(root, transform=transform, target_transform=target_transform)
        if name not in self.urls:
            raise ValueError(f"PhotoTour name must be one of {tuple(self.urls)}, got {name!r}")
        self.name, self.train = name, bool(train)
        self.data_dir = os.path.join(self.root, name)
        base = name.removesuffix("_harris")
        self.mean, self.std = self.means[base], self.stds[base]
        if download:
            self.download()
        missing = [
            f for f in (self.info_file, self.matches_file) if not os.path.isfile(self._path(f))
        ]
        if missing:
            raise DatasetNotFoundError(
                f"PhotoTour: {', '.join(missing)} not found in {self.data_dir}; pass "
                "download=True to fetch it"
            )
        self.labels = self._read_info()
        self.data = self._read_patches(len(self.labels))
        self.matches = self._read_matches(len(self.labels))

    def _path(self, name: str) -> str:
        return os.path.join(self.data_dir, name)

    def _read_info(self) -> np.ndarray:
        with open(self._path(self.info_file)) as f:
            rows = [line.split() for line in f if line.strip()]
        try:
            return np.array([int(r[0]) for r in rows], dtype=np.int64)
        except ValueError as e:
            raise ValueError(f"{self._path(self.info_file)}: bad line ({e})") from None

    def _read_patches(self, n: int) -> np.ndarray:
        names = sorted(f for f in os.listdir(self.data_dir) if f.lower().endswith(self.image_ext))
        per_tile = (_TILE // _PATCH) ** 2
        need = -(-n // per_tile)
        if len(names) < need:
            raise ValueError(
                f"PhotoTour: {self.info_file} lists {n} patches, which needs {need} bitmaps; "
                f"{self.data_dir} has {len(names)}"
            )
        out = np.empty((n, _PATCH, _PATCH), dtype=np.uint8)
        for i, fname in enumerate(names[:need]):
            tile = _tile_patches(self._path(fname))
            out[i * per_tile : (i + 1) * per_tile] = tile[: n - i * per_tile]
        return out

    def _read_matches(self, n: int) -> np.ndarray:
        path = self._path(self.matches_file)
        with open(path) as f:
            rows = [line.split() for line in f if line.strip()]
        # Each line: patch 1, its 3D point, unused, patch 2, its 3D point, unused, unused.
        try:
            m = np.array([[int(r[0]), int(r[3]), int(r[1] == r[4])] for r in rows], np.int64)
        except (ValueError, IndexError) as e:
            raise ValueError(f"{path}: bad line ({e})") from None
        m = m.reshape(-1, 3)
        if m.size and (m[:, :2].max() >= n or m[:, :2].min() < 0):
            raise ValueError(f"{path}: refers to patches outside 0..{n - 1}")
        return m

    def download(self) -> None:
        """Fetch and extract ``<name>.zip`` (MD5-checked first) unless it is extracted."""
        if os.path.isfile(self._path(self.info_file)):
            return
        url, filename, md5 = self.urls[self.name]
        archive = download_from_mirrors([url], filename, self.root, md5=md5)
        extract_archive(archive, self.data_dir)

    def __len__(self) -> int:
        return len(self.data) if self.train else len(self.matches)

    def _patch(self, i: int) -> Any:
        img = Image.fromarray(self.data[i])
        return self.transform(img) if self.transform is not None else img

    def __getitem__(self, index: int) -> Any:
        """A patch (``train=True``) or ``(patch 1, patch 2, match)``."""
        if self.train:
            return self._patch(index)
        p1, p2, match = (int(v) for v in self.matches[index])
        if self.target_transform is not None:
            match = self.target_transform(match)
        return self._patch(p1), self._patch(p2), match

    def extra_repr(self) -> str:
        return f"Dataset: {self.name}\nSplit: {'Train' if self.train else 'Test'}"
