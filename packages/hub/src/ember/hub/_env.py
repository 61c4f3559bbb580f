"""The environment variables ember.hub reads, read here and nowhere else.

Each is read at call time, not import time, so a test (or a long-lived
process) that changes the environment sees the change.
"""

from __future__ import annotations

import os

GITHUB_URL_DEFAULT = "https://github.com"


def ember_home() -> str | None:
    """``EMBER_HOME``: the cache root, when set and not empty."""
    return os.environ.get("EMBER_HOME") or None


def xdg_cache_home() -> str | None:
    """``XDG_CACHE_HOME``: the user's cache directory, when set and not empty."""
    return os.environ.get("XDG_CACHE_HOME") or None


def github_url() -> str:
    """``EMBER_HUB_GITHUB_URL``: where repository archives are fetched from.

    Defaults to ``https://github.com``; pointed at a local server by tests or
    at a mirror behind a firewall. Archives are read from
    ``{github_url}/{owner}/{repo}/archive/{ref}.zip``.
    """
    return (os.environ.get("EMBER_HUB_GITHUB_URL") or GITHUB_URL_DEFAULT).rstrip("/")
