"""PASCAL VOC segmentation and detection, from the VOCtrainval/VOCtest tar archives."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from PIL import Image

from ._files import DatasetNotFoundError, download_from_mirrors, extract_archive
from .folder import pil_loader
from .vision import VisionDataset

__all__ = ["VOCDetection", "VOCSegmentation", "parse_voc_xml"]

_HOST = "http://host.robots.ox.ac.uk/pascal/VOC/"
_MIRROR = "https://pjreddie.com/media/files/"

#: key -> (URLs, archive name, MD5, folder inside root). pjreddie.com keeps copies of
#: the 2007 and 2012 archives.
DATASET_YEAR_DICT: dict[str, tuple[list[str], str, str, str]] = {
    "2012": (
        [_HOST + "voc2012/VOCtrainval_11-May-2012.tar", _MIRROR + "VOCtrainval_11-May-2012.tar"],
        "VOCtrainval_11-May-2012.tar",
        "6cd6e144f989b92b3379bac3b3de84fd",
        os.path.join("VOCdevkit", "VOC2012"),
    ),
    "2011": (
        [_HOST + "voc2011/VOCtrainval_25-May-2011.tar"],
        "VOCtrainval_25-May-2011.tar",
        "6c3384ef61512963050cb5d687e5bf1e",
        os.path.join("TrainVal", "VOCdevkit", "VOC2011"),
    ),
    "2010": (
        [_HOST + "voc2010/VOCtrainval_03-May-2010.tar"],
        "VOCtrainval_03-May-2010.tar",
        "da459979d0c395079b5c75ee67908abb",
        os.path.join("VOCdevkit", "VOC2010"),
    ),
    "2009": (
        [_HOST + "voc2009/VOCtrainval_11-May-2009.tar"],
        "VOCtrainval_11-May-2009.tar",
        "59065e4b188729180974ef6572f6a212",
        os.path.join("VOCdevkit", "VOC2009"),
    ),
    "2008": (
        [_HOST + "voc2008/VOCtrainval_14-Jul-2008.tar"],
        "VOCtrainval_14-Jul-2008.tar",
        "2629fa636546599198acfcfbfcf1904a",
        os.path.join("VOCdevkit", "VOC2008"),
    ),
    "2007": (
        [_HOST + "voc2007/VOCtrainval_06-Nov-2007.tar", _MIRROR + "VOCtrainval_06-Nov-2007.tar"],
        "VOCtrainval_06-Nov-2007.tar",
        "c52e279531787c972589f7e41ab4ae64",
        os.path.join("VOCdevkit", "VOC2007"),
    ),
    "2007-test": (
        [_HOST + "voc2007/VOCtest_06-Nov-2007.tar", _MIRROR + "VOCtest_06-Nov-2007.tar"],
        "VOCtest_06-Nov-2007.tar",
        "b6e924de25625d8de591ea690078ad9f",
        os.path.join("VOCdevkit", "VOC2007"),
    ),
}


def parse_voc_xml(node: ET.Element) -> dict[str, Any]:
    """A VOC annotation element as nested dicts, as torchvision's ``VOCDetection`` gives it.

    A leaf becomes ``{tag: stripped text}`` (a leaf without text is dropped);
    an element with children becomes ``{tag: {child tag: value}}`` where a tag
    seen several times maps to the list of its values. ``annotation["object"]``
    is always a list, even with one object (or none).
    """
    children = list(node)
    if not children:
        return {} if node.text is None else {node.tag: node.text.strip()}
    grouped: dict[str, list[Any]] = {}
    for child in children:
        for tag, value in parse_voc_xml(child).items():
            grouped.setdefault(tag, []).append(value)
    body = {tag: values[0] if len(values) == 1 else values for tag, values in grouped.items()}
    if node.tag == "annotation":
        body["object"] = grouped.get("object", [])
    return {node.tag: body}


class _VOCBase(VisionDataset):
    _splits_dir: str
    _target_dir: str
    _target_ext: str

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        year: str = "2012",
        image_set: str = "train",
        download: bool = False,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        transforms: Callable | None = None,
    ) -> None:
        super().__init__(root, transforms, transform, target_transform)
        years = [y for y in DATASET_YEAR_DICT if y != "2007-test"]
        if year not in years:
            raise ValueError(f"VOC year must be one of {years}, got {year!r}")
        sets = (
            ("train", "trainval", "val", "test") if year == "2007" else ("train", "trainval", "val")
        )
        if image_set not in sets:
            raise ValueError(f"VOC {year} image_set must be one of {sets}, got {image_set!r}")
        self.year, self.image_set = year, image_set
        key = "2007-test" if (year, image_set) == ("2007", "test") else year
        self.urls, self.filename, self.md5, base_dir = DATASET_YEAR_DICT[key]
        voc_root = os.path.join(self.root, base_dir)
        split_file = os.path.join(voc_root, "ImageSets", self._splits_dir, image_set + ".txt")
        if download and not os.path.isfile(split_file):
            archive = download_from_mirrors(self.urls, self.filename, self.root, md5=self.md5)
            extract_archive(archive, self.root)
        if not os.path.isfile(split_file):
            raise DatasetNotFoundError(
                f"{type(self).__name__}: {split_file} not found (is {self.filename} extracted "
                f"into {self.root}?); pass download=True to fetch it"
            )
        with open(split_file) as f:
            ids = [line.strip() for line in f if line.strip()]
        self.images = [os.path.join(voc_root, "JPEGImages", i + ".jpg") for i in ids]
        target_dir = os.path.join(voc_root, self._target_dir)
        self.targets = [os.path.join(target_dir, i + self._target_ext) for i in ids]
        missing = [p for p in self.images + self.targets if not os.path.isfile(p)]
        if missing:
            raise DatasetNotFoundError(
                f"{type(self).__name__}: {len(missing)} files listed in {split_file} are "
                f"missing, e.g. {missing[0]}"
            )

    def __len__(self) -> int:
        return len(self.images)

    def extra_repr(self) -> str:
        return f"Year: {self.year}\nImage set: {self.image_set}"


class VOCSegmentation(_VOCBase):
    """PASCAL VOC semantic segmentation: images and their class masks.

    Args:
        root: directory the archive extracts into (holding ``VOCdevkit/``).
        year: ``"2007"`` to ``"2012"``.
        image_set: ``"train"``, ``"trainval"``, ``"val"`` (2007 also ``"test"``),
            read from ``ImageSets/Segmentation/<image_set>.txt``.
        download: fetch the year's tar archive (MD5-checked before extraction).
        transform, target_transform: applied to the image and to the mask;
        transforms: applied to ``(image, mask)`` together (exclusive with those two).

    Items are ``(RGB PIL image, mask)``; the mask is the ``SegmentationClass``
    PNG as a palette (``"P"``) image whose values are class indices (255 marks
    object borders).
    """

    _splits_dir, _target_dir, _target_ext = "Segmentation", "SegmentationClass", ".png"

    @property
    def masks(self) -> list[str]:
        """Paths of the segmentation masks."""
        return self.targets

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, mask)`` after the transforms."""
        with open(self.masks[index], "rb") as f:
            mask = Image.open(f)
            mask.load()
        return self._apply(pil_loader(self.images[index]), mask)


class VOCDetection(_VOCBase):
    """PASCAL VOC object detection: images and their XML annotations.

    Same arguments as :class:`VOCSegmentation`; the image ids come from
    ``ImageSets/Main/<image_set>.txt``. Items are ``(RGB PIL image, target)``
    where ``target`` is the ``Annotations/<id>.xml`` file as nested dicts (see
    :func:`parse_voc_xml`): ``target["annotation"]["object"][0]["bndbox"]["xmin"]``.
    """

    _splits_dir, _target_dir, _target_ext = "Main", "Annotations", ".xml"

    @property
    def annotations(self) -> list[str]:
        """Paths of the annotation XML files."""
        return self.targets

    parse_voc_xml = staticmethod(parse_voc_xml)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(image, annotation dict)`` after the transforms."""
        try:
            root = ET.parse(self.annotations[index]).getroot()
        except ET.ParseError as e:
            raise ValueError(f"{self.annotations[index]}: not valid XML ({e})") from None
        return self._apply(pil_loader(self.images[index]), parse_voc_xml(root))
