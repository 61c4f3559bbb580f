"""The model-zoo manifest: named weight files with their URLs, hashes and metadata.

A manifest is JSON (or the equivalent dict) of this shape::

    {
      "format": "ember-hub-manifest",
      "version": 1,
      "weights": {
        "resnet18.imagenet1k_v1": {
          "urls": ["https://primary/resnet18-f37072fd.pth",
                   "https://mirror/resnet18-f37072fd.pth"],
          "sha256": "f37072fd...",           # 64 hex digits, required
          "size": 46830571,                  # bytes, optional
          "file_name": "resnet18-f37072fd.pth",  # optional, default: first URL's name
          "license": "BSD-3-Clause",         # optional
          "metrics": {"acc@1": 69.758},      # optional, numbers
          "meta": {"categories": [...], "resize": 256}  # optional, anything JSON
        }
      }
    }

``"url": "..."`` may stand for a one-element ``"urls"``. Unknown keys are
refused, so a typo does not silently drop a hash.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlparse

from ember.hub import _cache
from ember.hub._download import DownloadError, HashMismatchError, download_url_to_file

FORMAT = "ember-hub-manifest"
VERSION = 1
_ENTRY_KEYS = {"url", "urls", "sha256", "size", "file_name", "license", "metrics", "meta"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class WeightsEntry:
    """One weight file of a model zoo.

    Attributes:
        name: the key users pass, e.g. ``'resnet18.imagenet1k_v1'``.
        urls: where the file can be downloaded, tried in order (mirrors after the first).
        sha256: the file's SHA-256 hex digest; every download is checked against it.
        size: the file's size in bytes, if known.
        file_name: the cached file's name; default the first URL's last path segment.
        license: the weights' license (often not the code's license).
        metrics: evaluation results, e.g. ``{'acc@1': 69.758}``.
        meta: anything else the model needs: preprocessing, class names...
    """

    name: str
    urls: tuple[str, ...]
    sha256: str
    size: int | None = None
    file_name: str | None = None
    license: str | None = None
    metrics: dict[str, float] = field(default_factory=dict, hash=False)
    meta: dict[str, Any] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        where = f"weights {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"a weights entry needs a non-empty name, got {self.name!r}")
        urls = (self.urls,) if isinstance(self.urls, str) else tuple(self.urls)
        if not urls or not all(
            isinstance(u, str) and urlparse(u).scheme in ("http", "https") for u in urls
        ):
            raise ValueError(f"{where}: urls must be one or more http(s) URLs, got {self.urls!r}")
        object.__setattr__(self, "urls", urls)
        if not isinstance(self.sha256, str) or not _SHA256.match(self.sha256):
            raise ValueError(
                f"{where}: sha256 must be 64 lowercase hex digits, got {self.sha256!r}"
            )
        if self.size is not None and (
            not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0
        ):
            raise ValueError(f"{where}: size must be a byte count >= 0, got {self.size!r}")
        fname = self.filename
        if not fname or os.path.basename(fname) != fname or fname in (".", ".."):
            raise ValueError(f"{where}: file_name must be a plain file name, got {fname!r}")
        if self.license is not None and not isinstance(self.license, str):
            raise ValueError(f"{where}: license must be a string, got {self.license!r}")
        if not isinstance(self.metrics, Mapping) or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in self.metrics.values()
        ):
            raise ValueError(f"{where}: metrics must map names to numbers, got {self.metrics!r}")
        if not isinstance(self.meta, Mapping):
            raise ValueError(f"{where}: meta must be a mapping, got {self.meta!r}")
        object.__setattr__(self, "metrics", dict(self.metrics))
        object.__setattr__(self, "meta", dict(self.meta))

    @property
    def url(self) -> str:
        """The primary URL."""
        return self.urls[0]

    @property
    def filename(self) -> str:
        """The name of the file in the cache."""
        if self.file_name is not None:
            return self.file_name
        return os.path.basename(unquote(urlparse(self.urls[0]).path))

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> WeightsEntry:
        """Build an entry from its manifest dict (see the module docstring)."""
        if not isinstance(d, Mapping):
            raise ValueError(f"weights {name!r}: expected a mapping, got {type(d).__name__}")
        unknown = set(d) - _ENTRY_KEYS
        if unknown:
            raise ValueError(
                f"weights {name!r}: unknown keys {sorted(unknown)}; expected {sorted(_ENTRY_KEYS)}"
            )
        if ("url" in d) == ("urls" in d):
            raise ValueError(f"weights {name!r}: give exactly one of 'url' or 'urls'")
        if "sha256" not in d:
            raise ValueError(f"weights {name!r}: 'sha256' is required")
        return cls(
            name=name,
            urls=d["urls"] if "urls" in d else (d["url"],),
            sha256=d["sha256"],
            size=d.get("size"),
            file_name=d.get("file_name"),
            license=d.get("license"),
            metrics=d.get("metrics", {}),
            meta=d.get("meta", {}),
        )

    def to_dict(self) -> dict[str, Any]:
        """The manifest dict of this entry (without its name), omitting unset fields."""
        d: dict[str, Any] = {"urls": list(self.urls), "sha256": self.sha256}
        for key in ("size", "file_name", "license"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        if self.metrics:
            d["metrics"] = dict(self.metrics)
        if self.meta:
            d["meta"] = dict(self.meta)
        return d

    def fetch(self, root: str | os.PathLike[str] | None = None, progress: bool = True) -> str:
        """Download the file into ``root`` (default ``get_dir()/checkpoints``) unless cached.

        URLs are tried in order; a URL that fails or serves bytes with the
        wrong hash is skipped for the next. Returns the verified file's path.

        Raises:
            DownloadError: no URL gave the right file (each URL's error is listed).
        """
        root = _cache.subdir("checkpoints") if root is None else os.fspath(root)
        path = os.path.join(root, self.filename)
        errors = []
        for url in self.urls:
            try:
                download_url_to_file(url, path, progress=progress, sha256=self.sha256)
            except (DownloadError, HashMismatchError) as e:
                errors.append(f"  {url}: {e}")
                continue
            if self.size is not None and os.path.getsize(path) != self.size:
                raise ValueError(
                    f"weights {self.name!r}: the manifest says {self.size} bytes but the "
                    f"file matching its sha256 has {os.path.getsize(path)}; fix the manifest"
                )
            return path
        raise DownloadError(
            f"could not fetch weights {self.name!r} from any of its {len(self.urls)} URLs:\n"
            + "\n".join(errors)
        )

    def load_state_dict(
        self,
        map_location: Any = None,
        progress: bool = True,
        root: str | os.PathLike[str] | None = None,
    ) -> dict[str, Any]:
        """Fetch the file (see :meth:`fetch`) and load it with core's safe ``ember.load``."""
        import ember

        return ember.load(self.fetch(root, progress), map_location=map_location)


class Manifest(Mapping[str, WeightsEntry]):
    """A read-only mapping from weights names to :class:`WeightsEntry`.

    Build it from entries, from the manifest dict (:meth:`from_dict`) or a
    JSON file (:meth:`from_json`).
    """

    def __init__(self, entries: Iterable[WeightsEntry] = ()) -> None:
        self._entries: dict[str, WeightsEntry] = {}
        for e in entries:
            if not isinstance(e, WeightsEntry):
                raise TypeError(f"Manifest takes WeightsEntry objects, got {type(e).__name__}")
            if e.name in self._entries:
                raise ValueError(f"duplicate weights name {e.name!r} in manifest")
            self._entries[e.name] = e

    def __getitem__(self, name: str) -> WeightsEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise KeyError(
                f"no weights named {name!r}; available: {', '.join(self._entries) or '(none)'}"
            ) from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Manifest({list(self._entries)})"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Manifest:
        """Build a manifest from its dict form (see the module docstring)."""
        if not isinstance(d, Mapping) or not isinstance(d.get("weights"), Mapping):
            raise ValueError("a manifest is a mapping with a 'weights' mapping of name -> entry")
        if d.get("format", FORMAT) != FORMAT:
            raise ValueError(f"manifest format must be {FORMAT!r}, got {d['format']!r}")
        if d.get("version", VERSION) != VERSION:
            raise ValueError(
                f"manifest version {d['version']!r} is not supported (this ember reads {VERSION})"
            )
        return cls(WeightsEntry.from_dict(name, e) for name, e in d["weights"].items())

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> Manifest:
        """Read a manifest JSON file."""
        with open(path, encoding="utf-8") as f:
            return cls.from_dict(json.load(f))

    def to_dict(self) -> dict[str, Any]:
        """The manifest's dict form; ``Manifest.from_dict(m.to_dict()) == m``."""
        weights = {name: e.to_dict() for name, e in self._entries.items()}
        return {"format": FORMAT, "version": VERSION, "weights": weights}

    def to_json(self, path: str | os.PathLike[str]) -> None:
        """Write the manifest as JSON to ``path``."""
        with open(path, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2)
            f.write("\n")

    def fetch(
        self, name: str, root: str | os.PathLike[str] | None = None, progress: bool = True
    ) -> str:
        """Download the weights ``name`` (mirrors in order) and return the verified file's path."""
        return self[name].fetch(root, progress)
