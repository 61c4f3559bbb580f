"""The built-in progress bar."""

from __future__ import annotations

import io

import pytest

from ember.hub import _progress
from ember.hub._progress import ProgressBar, format_size, format_time


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "n, text",
    [
        (0, "0B"),
        (1023, "1023B"),
        (1023.9, "1KiB"),
        (1536, "1.5KiB"),
        (200 * 1024, "200KiB"),
        (10 * 2**20, "10MiB"),
        (3 * 2**40, "3TiB"),
        (5000 * 2**40, "5000TiB"),
    ],
)
def test_format_size(n, text):
    assert format_size(n) == text


@pytest.mark.parametrize("s, text", [(0, "00:00"), (75, "01:15"), (3725, "1:02:05")])
def test_format_time(s, text):
    assert format_time(s) == text


def test_bar_draws_on_a_terminal(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(_progress.time, "monotonic", lambda: now[0])
    out = _Tty()
    bar = ProgressBar(total=4096, desc="w.pth", stream=out, min_interval=0)
    now[0] += 2.0  # two seconds pass
    bar.update(1024)
    bar.update(1024)
    bar.close()
    lines = out.getvalue().split("\r")
    last = lines[-1]
    assert last.endswith("\n")
    assert last.startswith("w.pth:  50%|")
    assert "2KiB/4KiB" in last
    assert "[00:02<00:02, 1KiB/s]" in last  # 2 KiB in 2 s; 2 KiB left at 1 KiB/s


def test_bar_with_unknown_total_and_resume():
    out = _Tty()
    bar = ProgressBar(total=None, initial=5000, stream=out, min_interval=0)
    bar.update(1000)
    bar.close()
    assert "5.86KiB" in out.getvalue() and "%" not in out.getvalue()


def test_bar_is_silent_off_a_terminal():
    out = io.StringIO()  # isatty() is False
    bar = ProgressBar(total=100, stream=out, min_interval=0)
    bar.update(50)
    bar.close()
    assert out.getvalue() == ""
    out = _Tty()
    with ProgressBar(total=100, stream=out, disable=True) as bar:
        bar.update(100)
    assert out.getvalue() == ""


def test_bar_throttles_redraws():
    out = _Tty()
    bar = ProgressBar(total=10**6, stream=out, min_interval=3600)
    for _ in range(100):
        bar.update(10)
    assert out.getvalue().count("\r") == 1  # the first update only
    bar.close()
    assert out.getvalue().count("\r") == 2
    assert "1000B/977KiB" in out.getvalue()


def test_download_draws_only_on_a_terminal(server, tmp_path, monkeypatch, capsys):
    from ember.hub import download_url_to_file

    url = server.add("/bar.bin", b"\x01" * 300_000)
    download_url_to_file(url, tmp_path / "quiet.bin")  # stderr captured: not a terminal
    assert capsys.readouterr().err == ""
    fake = _Tty()
    monkeypatch.setattr("sys.stderr", fake)
    download_url_to_file(url, tmp_path / "loud.bin")
    assert "100%" in fake.getvalue() and "loud.bin: " in fake.getvalue()
