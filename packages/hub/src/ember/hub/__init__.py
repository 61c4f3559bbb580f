"""ember.hub: downloads, the weights cache, hubconf repositories and model-zoo manifests.

This is the one place in ember that touches the network. Every download is
resumable, hash-checked, atomic and locked against concurrent downloaders:

    >>> from ember import hub
    >>> path = hub.download_url_to_file(url, "w.pth", sha256="...")  # doctest: +SKIP
    >>> sd = hub.load_state_dict_from_url(url, check_hash=True)       # doctest: +SKIP
    >>> model = hub.load("owner/repo:main", "entry", trust_repo=True)  # doctest: +SKIP

The cache lives in :func:`get_dir` (``EMBER_HOME``, else
``$XDG_CACHE_HOME/ember``, else ``~/.cache/ember``), with ``checkpoints/``,
``datasets/`` and ``repos/`` under it. ``python -m ember.hub`` manages it.
"""

from ember.hub._cache import get_dir, set_dir
from ember.hub._checkpoints import load_state_dict_from_url
from ember.hub._download import DownloadError, HashMismatchError, download_url_to_file
from ember.hub._hubconf import help, list, load
from ember.hub._manifest import Manifest, WeightsEntry
from ember.hub._progress import ProgressBar
from ember.hub._trust import UntrustedRepoError
from ember.hub._zip import UnsafeArchiveError

__all__ = [
    "DownloadError",
    "HashMismatchError",
    "Manifest",
    "ProgressBar",
    "UnsafeArchiveError",
    "UntrustedRepoError",
    "WeightsEntry",
    "download_url_to_file",
    "get_dir",
    "help",
    "list",
    "load",
    "load_state_dict_from_url",
    "set_dir",
]
