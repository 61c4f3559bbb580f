"""Sphinx configuration for ember's documentation (built by ``nox -s docs``).

The API reference pages are generated from the installed packages at the start
of every build (``apigen.py``), so they always list exactly the public names
the code exports; their text is the docstrings.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import apigen  # noqa: E402

_API = apigen.generate(HERE / "api")

project = "ember"
author = "the ember authors"
copyright = "the ember authors"  # noqa: A001 - Sphinx's name
release = version = "0.1.0"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]
exclude_patterns = ["_build"]
root_doc = "index"

autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "description"  # hints go into the parameter list, signatures stay short
autodoc_inherit_docstrings = False  # an nn layer's forward() is not Module.forward
autoclass_content = "class"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# Docstrings quote code with ``double backticks``; a single-backtick `name` is meant
# as code too, never as an italic "interpreted text".
default_role = "code"

html_theme = "furo"
html_title = "ember"
html_static_path: list[str] = []
suppress_warnings: list[str] = []


def setup(app) -> None:
    """Report public names the API generator could not resolve as build warnings."""
    from sphinx.util import logging

    log = logging.getLogger("ember.apigen")

    def _report(_app) -> None:
        for docs in _API.values():
            for d in docs:
                for err in d.errors:
                    log.warning(err)

    app.connect("builder-inited", _report)
