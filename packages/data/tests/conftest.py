"""Shared fixtures for ember-data's tests.

Datasets that workers started with ``spawn`` must unpickle live in
``_data_helpers.py``; its directory goes on sys.path so both this process and
spawned children import it by the same name (pytest runs with importlib mode).
"""

import gc
import multiprocessing
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))


def _segments() -> set[str]:
    try:
        return {n for n in os.listdir("/dev/shm") if n.startswith("em")}
    except OSError:
        return set()


@pytest.fixture
def no_leaks():
    """Fails the test if a worker process or shared-memory segment outlives it."""
    before = _segments()
    yield
    gc.collect()
    children = multiprocessing.active_children()
    assert children == [], f"worker processes left running: {children}"
    leaked = _segments() - before
    assert not leaked, f"shared-memory segments left in /dev/shm: {sorted(leaked)}"
