"""load_state_dict_from_url: download a checkpoint into the cache once, then load it."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import unquote, urlparse

from ember.hub import _cache
from ember.hub._download import download_url_to_file

# PyTorch's naming convention: ``resnet18-f37072fd.pth`` carries the first hex
# digits of the file's SHA-256 after the last dash before the extension.
HASH_REGEX = re.compile(r"-([0-9a-f]{6,64})\.")


def hash_prefix_of(file_name: str) -> str | None:
    """The SHA-256 prefix in a ``name-<prefix>.ext`` file name, or None."""
    matches = HASH_REGEX.findall(os.path.basename(file_name))
    return matches[-1] if matches else None


def cached_download(
    url: str,
    model_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    check_hash: bool = False,
    file_name: str | None = None,
) -> str:
    """Download ``url`` into ``model_dir`` (default ``<cache>/checkpoints``) unless cached.

    Returns the local path. With ``check_hash`` the file name must carry a
    hash prefix (``name-<sha256 prefix>.ext``); the download, or the cached
    file, is verified against it and a mismatching cached file is fetched again.
    """
    if file_name is None:
        file_name = os.path.basename(unquote(urlparse(url).path))
        if not file_name:
            raise ValueError(f"cannot name the cached file after {url!r}; pass file_name=")
    elif not file_name or os.path.basename(file_name) != file_name or file_name in (".", ".."):
        raise ValueError(f"file_name must be a plain file name, got {file_name!r}")
    model_dir = _cache.subdir("checkpoints") if model_dir is None else os.fspath(model_dir)
    path = os.path.join(model_dir, file_name)
    if not check_hash:
        if not os.path.exists(path):
            download_url_to_file(url, path, progress=progress)
        return path
    prefix = hash_prefix_of(file_name)
    if prefix is None:
        raise ValueError(
            f"check_hash=True needs a file name of the form name-<sha256 prefix>.ext, "
            f"got {file_name!r}"
        )
    # A hash is given, so an existing matching file is kept without downloading.
    return download_url_to_file(url, path, prefix, progress=progress)


def load_state_dict_from_url(
    url: str,
    model_dir: str | os.PathLike[str] | None = None,
    map_location: Any = None,
    progress: bool = True,
    check_hash: bool = False,
    file_name: str | None = None,
    weights_only: bool = True,
) -> dict[str, Any]:
    """Download a checkpoint into the cache (once) and load it with ``ember.load``.

    Args:
        url: where the checkpoint lives.
        model_dir: the directory to cache it in; default ``get_dir()/checkpoints``.
        map_location: passed to ``ember.load`` (device remapping).
        progress: draw a progress bar on stderr when it is a terminal.
        check_hash: verify the file against the SHA-256 prefix in its name
            (``resnet18-f37072fd.pth``); a name without one raises ValueError.
        file_name: the cached file's name; default the URL's last path segment.
        weights_only: passed to ``ember.load``, which accepts it for PyTorch
            compatibility and always loads only tensors and plain containers.

    Returns:
        The state dict. ``ember.load`` is core's safe loader: it reads ember
        checkpoints, safetensors and PyTorch checkpoints without running
        arbitrary pickled code.
    """
    import ember

    path = cached_download(url, model_dir, progress, check_hash, file_name)
    return ember.load(path, map_location=map_location, weights_only=weights_only)
