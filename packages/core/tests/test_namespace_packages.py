"""Sibling distributions add ``ember.<name>`` subpackages, in regular and editable
installs alike. Proved with a throwaway distribution built and installed here."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("hatchling")

PYPROJECT = """
[build-system]
requires = ["hatchling"]
build-backend = "hatchling.build"

[project]
name = "ember-throwaway"
version = "0.0.1"

[tool.hatch.build.targets.wheel]
only-include = ["src/ember/throwaway"]
sources = ["src"]
"""


def _make_dist(root: Path) -> Path:
    pkg = root / "dist_src"
    (pkg / "src" / "ember" / "throwaway").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(PYPROJECT)
    (pkg / "src" / "ember" / "throwaway" / "__init__.py").write_text(
        "import ember\nANSWER = int(ember.ones(6).sum().item()) * 7\n"
    )
    return pkg


def _install(pkg: Path, prefix: Path, editable: bool) -> Path:
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--no-deps",
        "--no-build-isolation",
        "-q",
        "--prefix",
        str(prefix),
    ]
    cmd += ["-e", str(pkg)] if editable else [str(pkg)]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    sites = list(prefix.glob("lib/python*/site-packages"))
    assert sites, "pip installed nothing"
    return sites[0]


@pytest.mark.parametrize("editable", [False, True], ids=["regular", "editable"])
def test_sibling_distribution_extends_ember(tmp_path, editable):
    pkg = _make_dist(tmp_path)
    site = _install(pkg, tmp_path / "prefix", editable)
    code = textwrap.dedent(f"""
        import site
        site.addsitedir({str(site)!r})  # processes .pth files, as an installed venv would
        import ember
        import ember.throwaway
        assert ember.throwaway.ANSWER == 42, ember.throwaway.ANSWER
        print(ember.throwaway.__file__)
    """)
    env = dict(os.environ)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert out.returncode == 0, out.stderr
    where = out.stdout.strip()
    if editable:
        assert str(pkg) in where  # imported from the source tree
    else:
        assert str(site) in where


def test_missing_subpackage_says_what_to_install(monkeypatch):
    import ember

    # every listed subpackage exists in this repo now (ember.jit ships in core): list one
    # that does not
    monkeypatch.setattr(ember, "_LAZY_SUBPACKAGES", (*ember._LAZY_SUBPACKAGES, "quantum"))
    with pytest.raises(AttributeError, match="pip install ember-quantum"):
        ember.quantum  # noqa: B018


def test_core_wheel_owns_init_and_others_do_not(tmp_path):
    """Only ember-core ships ember/__init__.py; every sibling wheel leaves it out."""
    import zipfile

    root = Path(__file__).resolve().parents[3] / "packages"
    siblings = [p for p in root.iterdir() if (p / "pyproject.toml").exists() and p.name != "core"]
    if not siblings:
        pytest.skip("no sibling packages in this checkout")
    for p in siblings:
        out = tmp_path / p.name
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "-q",
                "-w",
                str(out),
                str(p),
            ],
            check=True,
            capture_output=True,
            timeout=300,
        )
        (wheel,) = out.glob("*.whl")
        names = zipfile.ZipFile(wheel).namelist()
        assert "ember/__init__.py" not in names, p.name
        assert any(n.startswith(f"ember/{p.name}/") for n in names), p.name
