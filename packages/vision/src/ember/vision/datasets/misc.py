"""FakeData (random images for smoke tests) and COCO (its annotation JSON read directly)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np
from PIL import Image

import ember

from .folder import pil_loader
from .vision import VisionDataset

__all__ = ["CocoCaptions", "CocoDetection", "FakeData"]


class FakeData(VisionDataset):
    """Random RGB images with random labels; item ``i`` is the same every time.

    Args:
        size: number of items.
        image_size: ``(C, H, W)``.
        num_classes: labels are drawn from ``[0, num_classes)``.
        random_offset: shifts the per-item seeds, giving a different fake set.
    """

    def __init__(
        self,
        size: int = 1000,
        image_size: tuple[int, int, int] = (3, 224, 224),
        num_classes: int = 10,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        random_offset: int = 0,
    ) -> None:
        super().__init__(None, transform=transform, target_transform=target_transform)
        if size < 0 or num_classes < 1 or len(image_size) != 3 or image_size[0] not in (1, 3):
            raise ValueError(
                f"FakeData needs size >= 0, num_classes >= 1, image_size (1 or 3, H, W); "
                f"got {size}, {num_classes}, {image_size}"
            )
        self.size, self.image_size = size, tuple(image_size)
        self.num_classes, self.random_offset = num_classes, random_offset

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """``(PIL image, int label)``, drawn from an ember generator seeded by the index."""
        if not 0 <= index < self.size:
            raise IndexError(f"FakeData index {index} out of range for size {self.size}")
        g = ember.Generator().manual_seed(index + self.random_offset)
        img = ember.rand(*self.image_size, generator=g).numpy()
        target = int(ember.randint(0, self.num_classes, (1,), generator=g).item())
        data = (img * 255).astype(np.uint8).transpose(1, 2, 0)
        pil = Image.fromarray(data[:, :, 0] if data.shape[2] == 1 else data)
        return self._apply(pil, target)


class CocoDetection(VisionDataset):
    """COCO detection: ``(image, list of annotation dicts)`` per image id.

    The annotation JSON is read directly (pycocotools is not needed): images
    come from its ``images`` list (sorted by id), annotations are grouped by
    ``image_id``.

    Args:
        root: folder of the image files.
        annFile: path to the annotation JSON.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        annFile: str | os.PathLike[str],
        transform: Callable | None = None,
        target_transform: Callable | None = None,
        transforms: Callable | None = None,
    ) -> None:
        super().__init__(root, transforms, transform, target_transform)
        with open(annFile, encoding="utf-8") as f:
            doc = json.load(f)
        if not isinstance(doc, dict) or not isinstance(doc.get("images"), list):
            raise ValueError(f"{annFile}: not a COCO annotation file (no 'images' list)")
        self.imgs = {int(im["id"]): im for im in doc["images"]}
        self.anns: dict[int, list[dict]] = {i: [] for i in self.imgs}
        for ann in doc.get("annotations", []):
            if int(ann["image_id"]) not in self.anns:
                raise ValueError(f"{annFile}: annotation {ann.get('id')} names unknown image")
            self.anns[int(ann["image_id"])].append(ann)
        self.cats = {int(c["id"]): c for c in doc.get("categories", [])}
        self.ids = sorted(self.imgs)

    def _load_image(self, id: int):
        return pil_loader(os.path.join(self.root, self.imgs[id]["file_name"]))

    def _load_target(self, id: int) -> list[Any]:
        return list(self.anns[id])

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        """``(RGB PIL image, target)`` for the ``index``-th image id."""
        id = self.ids[index]
        return self._apply(self._load_image(id), self._load_target(id))


class CocoCaptions(CocoDetection):
    """COCO captions: ``(image, list of caption strings)`` (the seed's dataset)."""

    def _load_target(self, id: int) -> list[str]:
        return [ann["caption"] for ann in self.anns[id]]
