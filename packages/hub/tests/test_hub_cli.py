"""python -m ember.hub: download, ls, rm, dir."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest

from ember.hub.__main__ import main


def test_download_into_cache_and_ls(server, ember_home, capsys):
    data = os.urandom(3000)
    url = server.add("/f/weights.pth", data)
    assert main(["download", url, "--sha256", hashlib.sha256(data).hexdigest()]) == 0
    path = ember_home / "checkpoints" / "weights.pth"
    assert capsys.readouterr().out.strip() == str(path)
    assert path.read_bytes() == data
    (ember_home / "datasets").mkdir()
    (ember_home / "datasets" / "mnist").mkdir()
    (ember_home / "datasets" / "mnist" / "a.gz").write_bytes(b"x" * 1000)
    (ember_home / "checkpoints" / "big.pth.partial").write_bytes(b"y" * 10)
    assert main(["ls"]) == 0
    lines = capsys.readouterr().out.splitlines()
    # Sizes by hand: 3000 B = 2.93 KiB; 10 + 3000 + 1000 = 4010 B = 3.92 KiB.
    assert lines == [
        "       10B  checkpoints/big.pth.partial  (incomplete download)",
        "   2.93KiB  checkpoints/weights.pth",
        "     1000B  datasets/mnist",
        f"   3.92KiB  total in {ember_home}",
    ]


def test_download_to_output_dir_and_errors(server, tmp_path, capsys):
    url = server.add("/f/x.bin", os.urandom(100))
    assert main(["download", url, "-o", str(tmp_path / "o"), "--name", "y.bin"]) == 0
    assert (tmp_path / "o" / "y.bin").exists()
    assert main(["download", server.base + "/nope.bin", "-o", str(tmp_path)]) == 1
    assert "404" in capsys.readouterr().err
    assert main(["download", url, "-o", str(tmp_path), "--sha256", "0" * 64]) == 1
    assert "sha256" in capsys.readouterr().err
    assert not (tmp_path / "x.bin").exists()


def test_ls_empty(ember_home, capsys):
    assert main(["ls"]) == 0
    assert capsys.readouterr().out == f"{ember_home}: empty\n"
    assert main(["dir"]) == 0
    assert capsys.readouterr().out == f"{ember_home}\n"


def _fill(home):
    for sub, name in [("checkpoints", "a.pth"), ("checkpoints", "b.pth"), ("datasets", "b.pth")]:
        (home / sub).mkdir(parents=True, exist_ok=True)
        (home / sub / name).write_bytes(b"z")
    (home / "checkpoints" / "a.pth.partial").write_bytes(b"z")
    (home / "repos" / "o_r_main").mkdir(parents=True)
    (home / "repos" / "o_r_main" / "hubconf.py").write_text("")
    (home / "trusted_list").write_text("o/r\n")


def _left(home):
    return sorted(
        f"{sub}/{n}"
        for sub in ("checkpoints", "datasets", "repos")
        if (home / sub).exists()
        for n in os.listdir(home / sub)
        if not n.endswith(".lock")
    )


def test_rm_by_name_and_ambiguity(ember_home, capsys):
    _fill(ember_home)
    assert main(["rm", "a.pth"]) == 0  # the file and its partial download
    assert main(["rm", "o_r_main"]) == 0
    assert _left(ember_home) == ["checkpoints/b.pth", "datasets/b.pth"]
    capsys.readouterr()
    assert main(["rm", "b.pth"]) == 1
    assert "ambiguous" in capsys.readouterr().err
    assert main(["rm", "datasets/b.pth"]) == 0
    assert _left(ember_home) == ["checkpoints/b.pth"]
    for bad in ["nothing.pth", "../trusted_list", "checkpoints/..", "elsewhere/b.pth"]:
        assert main(["rm", bad]) == 1
    assert _left(ember_home) == ["checkpoints/b.pth"]
    assert (ember_home / "trusted_list").exists()


def test_rm_all_keeps_trust(ember_home):
    _fill(ember_home)
    assert main(["rm", "--all"]) == 0
    assert _left(ember_home) == []
    assert (ember_home / "trusted_list").read_text() == "o/r\n"
    with pytest.raises(SystemExit):
        main(["frobnicate"])
    assert main(["rm"]) == 1
    assert main(["rm", "--all", "x"]) == 1


def test_module_entry_point_runs(ember_home):
    env = dict(os.environ, EMBER_HOME=str(ember_home))
    out = subprocess.run(
        [sys.executable, "-m", "ember.hub", "dir"], env=env, capture_output=True, text=True
    )
    assert (out.returncode, out.stdout) == (0, f"{ember_home}\n")
