"""hub.load / hub.list / hub.help: run entry points of a repository's hubconf.py.

A hubconf repository is a directory (or a GitHub repository, fetched as a
zip archive of one branch or tag into ``get_dir()/repos/``) holding a
``hubconf.py``. Its public callables are the entry points; an optional
``dependencies`` list names the packages they need.
"""

from __future__ import annotations

import builtins
import contextlib
import importlib.util
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

from ember.hub import _cache, _env
from ember.hub._download import DownloadError, download_url_to_file
from ember.hub._lock import FileLock
from ember.hub._trust import check_trust
from ember.hub._zip import safe_extract

logger = logging.getLogger(__name__)

_REPO = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)(?::([A-Za-z0-9_./-]+))?$")
# Tried in order when a GitHub spec names no branch or tag.
DEFAULT_REFS = ("main", "master")


def parse_repo(spec: str) -> tuple[str, str, str | None]:
    """``'owner/repo:ref'`` -> ``('owner', 'repo', 'ref')``; the ref is optional."""
    m = _REPO.match(spec) if isinstance(spec, str) else None
    if m is None or ".." in spec or (m.group(3) or "").startswith(("-", "/")):
        raise ValueError(
            f"expected a GitHub repository as 'owner/repo' or 'owner/repo:ref', got {spec!r}"
        )
    return m.group(1), m.group(2), m.group(3)


def archive_url(owner: str, repo: str, ref: str) -> str:
    """The zip archive of ``owner/repo`` at ``ref`` (base from ``EMBER_HUB_GITHUB_URL``)."""
    return f"{_env.github_url()}/{owner}/{repo}/archive/{ref}.zip"


def _fetch_ref(owner: str, repo: str, ref: str, force_reload: bool, log: int) -> str:
    """Download and unpack one ref unless cached; return its directory."""
    repos = _cache.subdir("repos")
    repo_dir = os.path.join(repos, f"{owner}_{repo}_{ref.replace('/', '_')}")
    with FileLock(repo_dir + ".lock"):
        if os.path.isdir(repo_dir) and not force_reload:
            logger.log(log, "using cached %s/%s:%s in %s", owner, repo, ref, repo_dir)
            return repo_dir
        archive = repo_dir + ".zip"
        logger.log(log, "downloading %s", archive_url(owner, repo, ref))
        download_url_to_file(archive_url(owner, repo, ref), archive, progress=False)
        tmp = tempfile.mkdtemp(prefix=os.path.basename(repo_dir) + ".", dir=repos)
        try:
            safe_extract(archive, tmp)
            entries = os.listdir(tmp)
            # GitHub archives hold one top folder, '<repo>-<ref>/'.
            one = len(entries) == 1 and os.path.isdir(os.path.join(tmp, entries[0]))
            src = os.path.join(tmp, entries[0]) if one else tmp
            if os.path.lexists(repo_dir):
                shutil.rmtree(repo_dir)
            os.replace(src, repo_dir)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            os.remove(archive)
    return repo_dir


def fetch_repo(
    spec: str,
    force_reload: bool = False,
    trust_repo: bool | str | None = None,
    verbose: bool = True,
) -> str:
    """Make a GitHub repository's archive available in the cache; return its directory.

    Trust is checked (see :func:`ember.hub._trust.check_trust`) before
    anything is downloaded. Without a ref, ``main`` is tried, then ``master``.
    """
    owner, repo, ref = parse_repo(spec)
    check_trust(f"{owner}/{repo}", trust_repo)
    log = logging.INFO if verbose else logging.DEBUG
    refs = (ref,) if ref else DEFAULT_REFS
    for i, r in enumerate(refs):
        try:
            return _fetch_ref(owner, repo, r, force_reload, log)
        except DownloadError as e:
            if e.status != 404 or i == len(refs) - 1:
                raise
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _on_sys_path(path: str) -> Iterator[None]:
    # hubconf.py usually imports modules of its own repository.
    sys.path.insert(0, path)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(path)


def _import_hubconf(repo_dir: str) -> ModuleType:
    path = os.path.join(repo_dir, "hubconf.py")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no hubconf.py in {repo_dir}")
    spec = importlib.util.spec_from_file_location("hubconf", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _check_dependencies(module, repo_dir)
    return module


def _check_dependencies(module: ModuleType, repo_dir: str) -> None:
    # This module defines its own list(); builtins.list is the type.
    deps = getattr(module, "dependencies", [])
    if not isinstance(deps, builtins.list | tuple) or not all(isinstance(d, str) for d in deps):
        raise TypeError(f"hubconf.py in {repo_dir}: 'dependencies' must be a list of names")
    missing = []
    for name in deps:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):  # a missing parent package
            found = False
        if not found:
            missing.append(name)
    if missing:
        raise ImportError(
            f"hubconf.py in {repo_dir} needs packages that are not installed: " + ", ".join(missing)
        )


def _entry_names(module: ModuleType) -> list[str]:
    return sorted(
        n
        for n in dir(module)
        if not n.startswith("_") and n != "dependencies" and callable(getattr(module, n))
    )


def _entry(module: ModuleType, model: str, repo_dir: str) -> Callable[..., Any]:
    if not isinstance(model, str):
        raise TypeError(f"model must be the name of an entry point (str), got {model!r}")
    if model not in _entry_names(module):
        raise ValueError(
            f"hubconf.py in {repo_dir} has no entry point {model!r}; "
            f"it has: {', '.join(_entry_names(module)) or '(none)'}"
        )
    return getattr(module, model)


def _resolve(
    repo_or_dir: str, source: str, force_reload: bool, trust_repo: bool | str | None, verbose: bool
) -> str:
    if source == "local":
        path = os.path.abspath(os.path.expanduser(os.fspath(repo_or_dir)))
        if not os.path.isdir(path):
            raise NotADirectoryError(f"source='local' needs a directory, got {repo_or_dir!r}")
        return path
    if source == "github":
        return fetch_repo(repo_or_dir, force_reload, trust_repo, verbose)
    raise ValueError(f"source must be 'github' or 'local', got {source!r}")


def list(
    github: str,
    force_reload: bool = False,
    skip_validation: bool = False,
    trust_repo: bool | str | None = None,
    verbose: bool = True,
    source: str = "github",
) -> list[str]:
    """The entry points of a hubconf repository, sorted.

    Args:
        github: ``'owner/repo[:ref]'`` (``source='github'``) or a directory
            (``source='local'``).
        force_reload: download the archive again even if it is cached.
        skip_validation: accepted for PyTorch compatibility. PyTorch uses it
            to skip a GitHub API check that the ref belongs to the repository;
            ember makes no API calls, so there is nothing to skip.
        trust_repo: see :func:`load`.
        verbose: log cache hits and downloads at INFO level (else DEBUG).
        source: ``'github'`` or ``'local'``.
    """
    repo_dir = _resolve(github, source, force_reload, trust_repo, verbose)
    with _on_sys_path(repo_dir):
        return _entry_names(_import_hubconf(repo_dir))


def help(
    github: str,
    model: str,
    force_reload: bool = False,
    skip_validation: bool = False,
    trust_repo: bool | str | None = None,
    source: str = "github",
) -> str:
    """The docstring of entry point ``model`` ('' when it has none); arguments as :func:`list`."""
    repo_dir = _resolve(github, source, force_reload, trust_repo, True)
    with _on_sys_path(repo_dir):
        entry = _entry(_import_hubconf(repo_dir), model, repo_dir)
        return entry.__doc__ or ""


def load(
    repo_or_dir: str,
    model: str,
    *args: Any,
    source: str = "github",
    trust_repo: bool | str | None = None,
    force_reload: bool = False,
    verbose: bool = True,
    skip_validation: bool = False,
    **kwargs: Any,
) -> Any:
    """Call entry point ``model`` of a hubconf repository with ``*args, **kwargs``.

    Args:
        repo_or_dir: ``'owner/repo[:ref]'`` for ``source='github'`` (without
            a ref, ``main`` then ``master``), or a directory for ``source='local'``.
        model: the name of a callable defined in the repository's ``hubconf.py``.
        source: ``'github'`` downloads ``{EMBER_HUB_GITHUB_URL or
            https://github.com}/owner/repo/archive/ref.zip`` into
            ``get_dir()/repos/`` (once; safely extracted); ``'local'`` uses the directory.
        trust_repo: GitHub repositories only (a local directory is yours):
            ``True`` trusts the repository and records it in
            ``get_dir()/trusted_list``; ``'check'`` or ``None`` runs it if
            recorded, else asks on the terminal, or raises
            :class:`UntrustedRepoError` when there is none; ``False`` always asks.
        force_reload: download the archive again even if it is cached.
        verbose: log cache hits and downloads at INFO level (else DEBUG).
        skip_validation: accepted for PyTorch compatibility (see :func:`list`).

    Raises:
        ImportError: packages named in ``dependencies`` are missing (all are named).
        ValueError: ``model`` is not an entry point (the available ones are named).
    """
    repo_dir = _resolve(repo_or_dir, source, force_reload, trust_repo, verbose)
    with _on_sys_path(repo_dir):
        entry = _entry(_import_hubconf(repo_dir), model, repo_dir)
        return entry(*args, **kwargs)
