"""ember-optim's tests: put this directory on sys.path so the tests can import the shared
helpers in ``_optim_fixtures.py`` (pytest runs with importlib mode)."""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
