"""hub.load / hub.list / hub.help from a local directory and from a served archive."""

from __future__ import annotations

import io
import os
import sys
import zipfile

import pytest

from ember import hub
from ember.hub import UntrustedRepoError, _trust

HUBCONF = '''
"""A tiny hub repository for the tests."""
import helper  # a module of the repository itself: hubconf's folder is on sys.path

dependencies = ["json"]


def double(x, factor=2):
    """Multiply x by factor."""
    return helper.scale(x, factor)


def nodoc():
    return "no docstring"


def _private():
    return "hidden"
'''
HELPER = "def scale(x, f):\n    return x * f\n"


@pytest.fixture
def repo_dir(tmp_path):
    d = tmp_path / "repo"
    d.mkdir()
    (d / "hubconf.py").write_text(HUBCONF)
    (d / "helper.py").write_text(HELPER)
    return d


def _zip_of(files: dict[str, str], top: str = "repo-main") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(top + "/", "")
        for name, text in files.items():
            zf.writestr(f"{top}/{name}", text)
    return buf.getvalue()


@pytest.fixture
def github(server, monkeypatch):
    """The test server standing in for github.com."""
    monkeypatch.setenv("EMBER_HUB_GITHUB_URL", server.base)
    return server


def _serve_repo(server, ref="main", owner="owner", name="repo", hubconf=HUBCONF):
    path = f"/{owner}/{name}/archive/{ref}.zip"
    server.add(path, _zip_of({"hubconf.py": hubconf, "helper.py": HELPER}, f"{name}-{ref}"))
    return path


def test_local_load_passes_args_and_restores_sys_path(repo_dir):
    before = list(sys.path)
    assert hub.load(str(repo_dir), "double", 21, source="local") == 42
    assert hub.load(str(repo_dir), "double", 5, source="local", factor=3) == 15
    assert sys.path == before


def test_local_list_and_help(repo_dir):
    assert hub.list(str(repo_dir), source="local") == ["double", "nodoc"]
    assert hub.help(str(repo_dir), "double", source="local") == "Multiply x by factor."
    assert hub.help(str(repo_dir), "nodoc", source="local") == ""


def test_unknown_entry_point_names_the_available_ones(repo_dir):
    with pytest.raises(ValueError, match="no entry point 'triple'.*double, nodoc"):
        hub.load(str(repo_dir), "triple", source="local")
    with pytest.raises(ValueError, match="no entry point '_private'"):
        hub.load(str(repo_dir), "_private", source="local")


def test_missing_dependencies_are_named(repo_dir):
    text = HUBCONF.replace(
        'dependencies = ["json"]',
        'dependencies = ["json", "ember_absent_pkg_one", "ember_absent_pkg_two.sub"]',
    )
    (repo_dir / "hubconf.py").write_text(text)
    with pytest.raises(ImportError, match="ember_absent_pkg_one, ember_absent_pkg_two.sub"):
        hub.load(str(repo_dir), "double", 1, source="local")


def test_missing_hubconf_and_bad_source(tmp_path, repo_dir):
    with pytest.raises(FileNotFoundError, match="no hubconf.py"):
        hub.load(str(tmp_path), "double", source="local")
    with pytest.raises(NotADirectoryError):
        hub.load(str(tmp_path / "nowhere"), "double", source="local")
    with pytest.raises(ValueError, match="source must be"):
        hub.load(str(repo_dir), "double", source="gitlab")


@pytest.mark.parametrize("spec", ["owner", "owner/repo/extra", "own er/repo", "o/r:../x", "o/r:"])
def test_bad_repo_spec(github, spec):
    with pytest.raises(ValueError, match="owner/repo"):
        hub.load(spec, "double", trust_repo=True)


def test_github_load_downloads_extracts_and_caches(github, ember_home):
    path = _serve_repo(github)
    assert hub.load("owner/repo", "double", 4, trust_repo=True) == 8
    repo = ember_home / "repos" / "owner_repo_main"
    assert (repo / "hubconf.py").read_text() == HUBCONF
    assert not (ember_home / "repos" / "owner_repo_main.zip").exists()
    assert (ember_home / "trusted_list").read_text() == "owner/repo\n"
    # Cached and trusted now: no second download, no prompt.
    assert hub.list("owner/repo") == ["double", "nodoc"]
    assert len(github.requests_for(path)) == 1
    assert hub.load("owner/repo", "double", 1, force_reload=True) == 2
    assert len(github.requests_for(path)) == 2


def test_github_explicit_ref_and_master_fallback(github, ember_home):
    tag = _serve_repo(github, ref="v1.0")
    assert hub.load("owner/repo:v1.0", "double", 2, trust_repo=True) == 4
    assert len(github.requests_for(tag)) == 1
    _serve_repo(github, ref="master", name="old")
    assert hub.load("owner/old", "double", 3, trust_repo=True) == 6
    assert [r.path for r in github.log[-2:]] == [
        "/owner/old/archive/main.zip",
        "/owner/old/archive/master.zip",
    ]
    assert (ember_home / "repos" / "owner_old_master" / "hubconf.py").exists()


@pytest.mark.parametrize("trust_repo", [None, "check", False])
def test_untrusted_non_interactive_refuses_before_downloading(github, trust_repo, monkeypatch):
    monkeypatch.setattr(_trust, "is_interactive", lambda: False)
    path = _serve_repo(github)
    with pytest.raises(UntrustedRepoError, match=r"owner/repo.*trust_repo=True"):
        hub.load("owner/repo", "double", 1, trust_repo=trust_repo)
    assert github.requests_for(path) == []


def test_prompt_yes_trusts_and_records(github, monkeypatch, ember_home):
    prompts = []
    monkeypatch.setattr(_trust, "is_interactive", lambda: True)
    monkeypatch.setattr("builtins.input", lambda text: prompts.append(text) or "y")
    _serve_repo(github)
    assert hub.load("owner/repo", "double", 5) == 10
    assert len(prompts) == 1 and "owner/repo" in prompts[0]
    assert (ember_home / "trusted_list").read_text() == "owner/repo\n"
    assert hub.load("owner/repo", "double", 5, trust_repo="check") == 10
    assert len(prompts) == 1  # trusted now


def test_prompt_no_refuses(github, monkeypatch, ember_home):
    monkeypatch.setattr(_trust, "is_interactive", lambda: True)
    monkeypatch.setattr("builtins.input", lambda text: "n")
    path = _serve_repo(github)
    with pytest.raises(UntrustedRepoError, match="not trusted at the prompt"):
        hub.load("owner/repo", "double", 5)
    assert github.requests_for(path) == []
    assert not (ember_home / "trusted_list").exists()


def test_trust_false_always_asks(github, monkeypatch):
    _serve_repo(github)
    hub.load("owner/repo", "double", 1, trust_repo=True)
    monkeypatch.setattr(_trust, "is_interactive", lambda: False)
    with pytest.raises(UntrustedRepoError):
        hub.load("owner/repo", "double", 1, trust_repo=False)
    assert hub.load("owner/repo", "double", 1, trust_repo="check") == 2


def test_bad_trust_value(github):
    with pytest.raises(ValueError, match="trust_repo must be"):
        hub.load("owner/repo", "double", 1, trust_repo="yes")


def test_github_archive_escaping_its_folder_is_refused(github, ember_home, tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("repo-main/hubconf.py", HUBCONF)
        zf.writestr("repo-main/../../../escaped.py", "print('pwned')")
    github.add("/owner/repo/archive/main.zip", buf.getvalue())
    with pytest.raises(hub.UnsafeArchiveError, match=r"\.\."):
        hub.load("owner/repo", "double", 1, trust_repo=True)
    repos = ember_home / "repos"
    assert [n for n in os.listdir(repos) if not n.endswith(".lock")] == []
    assert not any(p.name == "escaped.py" for p in tmp_path.rglob("*"))
