"""The documentation covers the code: every public name of ember and of each installed
ember package has a docstring, appears in the generated API reference, and its
docstring is valid reStructuredText (so ``nox -s docs``, which fails on warnings,
builds); the tutorial's code runs as written.
"""

from __future__ import annotations

import importlib
import inspect
import io
import re
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
sys.path.insert(0, str(DOCS))
import apigen  # noqa: E402

PACKAGES = apigen.installed_packages()


@pytest.fixture(scope="module")
def listed() -> dict[str, list[apigen.ModuleDoc]]:
    return {pkg: apigen.collect(pkg) for pkg in PACKAGES}


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> str:
    out = tmp_path_factory.mktemp("api")
    apigen.generate(out)
    return "\n".join(p.read_text() for p in sorted(out.glob("*.rst")))


def _public(mod: types.ModuleType) -> list[str]:
    """Public names by the plain rule, independent of the generator's filtering."""
    if hasattr(mod, "__all__"):
        return list(mod.__all__)
    return [
        n
        for n, v in vars(mod).items()
        if not n.startswith("_")
        and not isinstance(v, types.ModuleType)
        and _defined_under(getattr(v, "__module__", None) or type(v).__module__, mod.__name__)
    ]


def _defined_under(owner: str, modname: str) -> bool:
    return owner == modname or owner.startswith(modname + ".")


def _get(mod: types.ModuleType, name: str):
    """``getattr`` that returns None where a lazy submodule fails to import (the
    resolve test reports those by name)."""
    try:
        return getattr(mod, name)
    except Exception:  # noqa: BLE001
        return None


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_public_name_resolves_and_has_a_docstring(pkg, listed):
    problems = [err for d in listed[pkg] for err in d.errors]
    for d in listed[pkg]:
        if not (sys.modules[d.name].__doc__ or "").strip():
            problems.append(f"module {d.name} has no docstring")
        for e in d.entries:
            if not (inspect.getdoc(e.obj) or "").strip():
                problems.append(f"{e.qualname} has no docstring")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("pkg", PACKAGES)
def test_every_public_name_is_in_the_api_reference(pkg, pages):
    documented = set(re.findall(r"^\.\. auto\w+:: (\S+)$", pages, re.M))
    missing = []
    for modname in apigen.PACKAGES[pkg][1]:
        mod = importlib.import_module(modname)
        for name in _public(mod):
            obj = _get(mod, name)
            if obj is None or isinstance(obj, types.ModuleType):
                continue  # a module has a section of its own (checked through its names)
            if f"{modname}.{name}" not in documented:
                missing.append(f"{modname}.{name}")
    assert not missing, "not in the API reference: " + ", ".join(missing)


def test_reference_lists_modules_named_in_all(pages):
    """Public submodules (``ember.nn.functional``, ``ember.vision.transforms``) get sections."""
    sections = set(re.findall(r"^\.\. automodule:: (\S+)$", pages, re.M))
    for pkg in PACKAGES:
        for modname in apigen.PACKAGES[pkg][1]:
            mod = importlib.import_module(modname)
            for name in getattr(mod, "__all__", []):
                obj = _get(mod, name)
                if isinstance(obj, types.ModuleType) and modname != "ember":
                    assert obj.__name__ in sections, obj.__name__


def _docstrings(listed):
    for docs in listed.values():
        for d in docs:
            yield d.name, sys.modules[d.name].__doc__
            for e in d.entries:
                yield e.qualname, inspect.getdoc(e.obj)
                if not inspect.isclass(e.obj) or e.qualname == "ember.Tensor":
                    continue  # Tensor's methods are the ops, checked as ember.<op>
                for n, v in vars(e.obj).items():
                    f = v.fget if isinstance(v, property) else getattr(v, "__func__", v)
                    if not n.startswith("_") and inspect.isroutine(f):
                        yield f"{e.qualname}.{n}", f.__doc__


def test_docstrings_are_valid_restructuredtext(listed):
    """What the Sphinx build (warnings are errors) would reject, named by object.

    Typical fixes: quote shapes and formulas as ``(N, C, *)`` or ``|x|`` (a bare ``*``
    starts emphasis, ``|x|`` is a substitution); end the line before an indented code
    example with ``::``.
    """
    pytest.importorskip("sphinx", reason="the docs tool (sphinx) is not installed")
    import docutils.core
    from docutils.parsers.rst import directives, roles
    from docutils.parsers.rst.directives.body import ParsedLiteral
    from sphinx.ext.napoleon import Config
    from sphinx.ext.napoleon.docstring import GoogleDocstring

    def role(name, rawtext, text, lineno, inliner, options=None, content=None):
        return [], []

    for r in ("class", "func", "meth", "attr", "mod", "data", "exc", "obj", "ref", "doc"):
        roles.register_local_role(r, role)
    for d in ("attribute", "method", "function", "code-block"):
        directives.register_directive(d, ParsedLiteral)  # Sphinx's own; content unchecked
    config = Config(napoleon_use_param=True)
    problems, seen = [], set()
    for qualname, doc in _docstrings(listed):
        if not doc or doc in seen:
            continue
        seen.add(doc)
        text = str(GoogleDocstring(inspect.cleandoc(doc), config))
        stream = io.StringIO()
        docutils.core.publish_doctree(
            text, settings_overrides={"warning_stream": stream, "report_level": 2}
        )
        if stream.getvalue():
            problems.append(stream.getvalue().replace("<string>", qualname).strip())
    assert not problems, "\n".join(problems)


def test_tutorial_runs(tmp_path):
    """Every code block of the 60-minute tutorial, in order, as one script."""
    pytest.importorskip("ember.vision", reason="the tutorial trains on ember-vision's MNIST")
    src = (DOCS / "tutorial.rst").read_text()
    blocks = re.findall(r"^\.\. code-block:: python\n\n((?:    .*\n|\n)+)", src, re.M)
    assert len(blocks) >= 10, "the tutorial's code blocks were not found"
    script = tmp_path / "tutorial.py"
    script.write_text("\n".join(textwrap.dedent(b) for b in blocks))
    run = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-4000:]
    assert "accuracy on 1000 held-out digits" in run.stdout
