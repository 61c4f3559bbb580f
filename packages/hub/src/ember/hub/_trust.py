"""Which GitHub repositories may run their hubconf.py on this machine.

Loading a hubconf repository runs its code, so ember asks before running a
repository it has not been told to trust. Trusted repositories are listed,
one ``owner/repo`` a line, in ``get_dir()/trusted_list``.
"""

from __future__ import annotations

import os
import sys

from ember.hub import _cache
from ember.hub._lock import FileLock


class UntrustedRepoError(PermissionError):
    """A repository's code was not run because it is not trusted."""


def trusted_list_path() -> str:
    """The file listing trusted repositories, one ``owner/repo`` a line."""
    return os.path.join(_cache.get_dir(), "trusted_list")


def read_trusted() -> set[str]:
    """The set of trusted ``owner/repo`` names (empty when the file is missing)."""
    try:
        with open(trusted_list_path(), encoding="utf-8") as f:
            return {line.strip() for line in f if line.strip() and not line.startswith("#")}
    except FileNotFoundError:
        return set()


def add_trusted(key: str) -> None:
    """Add ``owner/repo`` to the trusted list (once)."""
    path = trusted_list_path()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with FileLock(path + ".lock"):
        if key not in read_trusted():
            with open(path, "a", encoding="utf-8") as f:
                f.write(key + "\n")


def is_interactive() -> bool:
    """Whether a person can answer a prompt (stdin is a terminal)."""
    return sys.stdin is not None and sys.stdin.isatty()


def check_trust(key: str, trust_repo: bool | str | None) -> None:
    """Return if ``key`` (``owner/repo``) may run; else ask, or raise UntrustedRepoError.

    ``trust_repo``:
        * ``True``: trust it, and add it to the trusted list without asking.
        * ``'check'`` or ``None``: run it if it is in the trusted list;
          otherwise ask (interactive) or refuse (non-interactive).
        * ``False``: always ask, even if it is listed; refuse when nobody can answer.

    PyTorch only warns for ``None``; ember treats it as ``'check'`` so an
    unknown repository is never run silently.
    """
    if not (isinstance(trust_repo, bool) or trust_repo is None or trust_repo == "check"):
        raise ValueError(f"trust_repo must be True, False, None or 'check', got {trust_repo!r}")
    if trust_repo is True:
        add_trusted(key)
        return
    path = trusted_list_path()
    if trust_repo is not False and key in read_trusted():
        return
    if not is_interactive():
        raise UntrustedRepoError(
            f"The repository {key} is not trusted, and there is no terminal to ask. "
            "Loading it runs its hubconf.py on this machine. If you trust it, pass "
            f"trust_repo=True (which also adds it to {path}), or add the line "
            f"'{key}' to that file."
        )
    answer = input(
        f"The repository {key} is not in ember's trusted list ({path}).\n"
        "Loading it runs its hubconf.py on this machine. "
        "Trust it and add it to the list? [y/N] "
    )
    if answer.strip().lower() not in ("y", "yes"):
        raise UntrustedRepoError(f"The repository {key} was not trusted at the prompt.")
    add_trusted(key)
