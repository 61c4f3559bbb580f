"""VisionDataset: what every ember.vision dataset shares (root, transforms, repr)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from ember.data import Dataset

from ._files import default_root

__all__ = ["VisionDataset"]


class VisionDataset(Dataset):
    """Base class of the vision datasets.

    Args:
        root: the directory holding the dataset (``None``: ``ember.hub.get_dir()/datasets``).
        transforms: a callable taking and returning ``(image, target)``; exclusive
            with ``transform``/``target_transform``.
        transform: a callable applied to the image.
        target_transform: a callable applied to the target.
    """

    _repr_indent = 4

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        transforms: Callable | None = None,
        transform: Callable | None = None,
        target_transform: Callable | None = None,
    ) -> None:
        self.root = os.path.expanduser(os.fspath(root)) if root is not None else default_root()
        if transforms is not None and (transform is not None or target_transform is not None):
            raise ValueError("pass either transforms or transform/target_transform, not both")
        self.transform = transform
        self.target_transform = target_transform
        self.transforms = transforms

    def _apply(self, image: Any, target: Any) -> tuple[Any, Any]:
        """Run the user's transforms on one sample."""
        if self.transforms is not None:
            return self.transforms(image, target)
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __len__(self) -> int:
        raise NotImplementedError

    def extra_repr(self) -> str:
        """Extra lines for ``repr`` (split, sizes...); subclasses override."""
        return ""

    def __repr__(self) -> str:
        lines = [f"Number of datapoints: {len(self)}", f"Root location: {self.root}"]
        lines += [x for x in self.extra_repr().splitlines() if x]
        for name in ("transforms", "transform", "target_transform"):
            value = getattr(self, name)
            if value is not None:
                lines.append(f"{name}: " + repr(value).replace("\n", "\n" + " " * 4))
        body = "\n".join(" " * self._repr_indent + line for line in lines)
        return f"Dataset {type(self).__name__}\n{body}"
