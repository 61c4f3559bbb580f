"""The cache directory: where downloaded weights, datasets and repos live."""

from __future__ import annotations

import os

from ember.hub import _env

#: The subdirectories of the cache, one per kind of download.
SUBDIRS = ("checkpoints", "datasets", "repos")

# set_dir() wins over the environment for the rest of the process.
_override: str | None = None


def get_dir() -> str:
    """Return the ember cache directory (it may not exist yet).

    In order: the directory given to :func:`set_dir`, ``$EMBER_HOME``,
    ``$XDG_CACHE_HOME/ember``, ``~/.cache/ember``. Downloaded weights go to
    ``checkpoints/``, datasets to ``datasets/`` and hubconf repositories to
    ``repos/`` under it.
    """
    if _override is not None:
        return _override
    home = _env.ember_home()
    if home is not None:
        return os.path.expanduser(home)
    xdg = _env.xdg_cache_home()
    base = os.path.expanduser(xdg) if xdg is not None else os.path.expanduser("~/.cache")
    return os.path.join(base, "ember")


def set_dir(path: str | os.PathLike[str]) -> None:
    """Use ``path`` as the ember cache directory for the rest of this process.

    Takes precedence over ``EMBER_HOME`` and ``XDG_CACHE_HOME``.
    """
    global _override
    path = os.fspath(path)
    if not isinstance(path, str) or not path:
        raise ValueError(f"set_dir expects a non-empty directory path, got {path!r}")
    _override = os.path.abspath(os.path.expanduser(path))


def subdir(name: str) -> str:
    """Return ``get_dir()/name`` for one of :data:`SUBDIRS`, creating it."""
    if name not in SUBDIRS:
        raise ValueError(f"unknown cache subdirectory {name!r}; expected one of {SUBDIRS}")
    path = os.path.join(get_dir(), name)
    os.makedirs(path, exist_ok=True)
    return path
