"""download_url_to_file against a real local HTTP server."""

from __future__ import annotations

import hashlib
import os

import pytest

from ember.hub import DownloadError, HashMismatchError, _download, download_url_to_file


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _leftovers(d) -> list[str]:
    """Files other than lock files in directory ``d``."""
    return sorted(n for n in os.listdir(d) if not n.endswith(".lock"))


def test_plain_download_lands_exact_bytes(server, tmp_path):
    data = os.urandom(200_000)
    url = server.add("/w.bin", data)
    dst = tmp_path / "sub" / "w.bin"
    got = download_url_to_file(url, dst, progress=False)
    assert got == str(dst)
    assert dst.read_bytes() == data
    assert _leftovers(dst.parent) == ["w.bin"]


@pytest.mark.parametrize("kind", ["sha256", "md5", "hash_prefix"])
def test_matching_hash_accepted(server, tmp_path, kind):
    data = os.urandom(50_000)
    url = server.add("/h.bin", data)
    hashes = {
        "sha256": {"sha256": _sha(data)},
        "md5": {"md5": hashlib.md5(data).hexdigest()},
        "hash_prefix": {"hash_prefix": _sha(data)[:10]},
    }[kind]
    download_url_to_file(url, tmp_path / "h.bin", progress=False, **hashes)
    assert (tmp_path / "h.bin").read_bytes() == data


@pytest.mark.parametrize("kind", ["sha256", "md5", "hash_prefix"])
def test_wrong_hash_raises_and_leaves_nothing(server, tmp_path, kind):
    data = os.urandom(50_000)
    other = os.urandom(50_000)  # the bytes the hash was made from
    url = server.add("/bad.bin", data)
    hashes = {
        "sha256": {"sha256": _sha(other)},
        "md5": {"md5": hashlib.md5(other).hexdigest()},
        "hash_prefix": {"hash_prefix": _sha(other)[:8]},
    }[kind]
    with pytest.raises(HashMismatchError, match="expected"):
        download_url_to_file(url, tmp_path / "bad.bin", progress=False, **hashes)
    assert _leftovers(tmp_path) == []


def test_404_raises_with_status_and_leaves_nothing(server, tmp_path):
    url = server.base + "/missing.bin"
    with pytest.raises(DownloadError, match="404") as info:
        download_url_to_file(url, tmp_path / "m.bin", progress=False)
    assert info.value.status == 404
    assert _leftovers(tmp_path) == []
    assert len(server.requests_for("/missing.bin")) == 1  # a 404 is not retried


def test_500_then_success_is_retried(server, tmp_path):
    data = os.urandom(30_000)
    url = server.add("/flaky.bin", data, fail_first=2)
    download_url_to_file(url, tmp_path / "f.bin", progress=False, sha256=_sha(data))
    assert (tmp_path / "f.bin").read_bytes() == data
    assert len(server.requests_for("/flaky.bin")) == 3


def test_persistent_500_gives_up_after_retries(server, tmp_path):
    url = server.add("/down.bin", fail_first=100)
    with pytest.raises(DownloadError, match="after 2 retries"):
        download_url_to_file(url, tmp_path / "d.bin", progress=False, retries=2)
    assert len(server.requests_for("/down.bin")) == 3
    assert _leftovers(tmp_path) == []


def test_cut_off_download_resumes_with_range(server, tmp_path):
    data = os.urandom(200_000)
    url = server.add("/cut.bin", data, cut=1)
    download_url_to_file(url, tmp_path / "c.bin", progress=False, sha256=_sha(data))
    assert (tmp_path / "c.bin").read_bytes() == data
    ranges = [r.range for r in server.requests_for("/cut.bin")]
    assert ranges == [None, f"bytes={len(data) // 2}-"]
    assert _leftovers(tmp_path) == ["c.bin"]


def test_server_ignoring_range_restarts_from_zero(server, tmp_path):
    data = os.urandom(200_000)
    url = server.add("/norange.bin", data, cut=1, ignore_range=True)
    download_url_to_file(url, tmp_path / "n.bin", progress=False, sha256=_sha(data))
    assert (tmp_path / "n.bin").read_bytes() == data
    reqs = server.requests_for("/norange.bin")
    assert len(reqs) == 2 and reqs[1].range is not None  # asked, got 200, started over


def test_server_sending_the_wrong_range_restarts_from_zero(server, tmp_path):
    data = os.urandom(200_000)
    url = server.add("/badrange.bin", data, cut=1, bad_range=True)
    download_url_to_file(url, tmp_path / "r.bin", progress=False, sha256=_sha(data))
    assert (tmp_path / "r.bin").read_bytes() == data
    ranges = [r.range for r in server.requests_for("/badrange.bin")]
    assert ranges == [None, f"bytes={len(data) // 2}-", None]


def test_partial_from_earlier_call_is_resumed(server, tmp_path):
    data = os.urandom(120_000)
    url = server.add("/p.bin", data)
    (tmp_path / "p.bin.partial").write_bytes(data[:70_000])
    download_url_to_file(url, tmp_path / "p.bin", progress=False, sha256=_sha(data))
    assert (tmp_path / "p.bin").read_bytes() == data
    assert [r.range for r in server.requests_for("/p.bin")] == ["bytes=70000-"]


def test_complete_partial_answered_416_is_finished(server, tmp_path):
    data = os.urandom(40_000)
    url = server.add("/done.bin", data)
    (tmp_path / "done.bin.partial").write_bytes(data)
    download_url_to_file(url, tmp_path / "done.bin", progress=False, sha256=_sha(data))
    assert (tmp_path / "done.bin").read_bytes() == data
    assert [r.range for r in server.requests_for("/done.bin")] == ["bytes=40000-"]


def test_stale_wrong_partial_is_redownloaded_from_scratch(server, tmp_path):
    # A partial from an older version of the file: resuming gives a wrong hash,
    # after which one fresh download must succeed.
    data = os.urandom(100_000)
    url = server.add("/v2.bin", data)
    (tmp_path / "v2.bin.partial").write_bytes(os.urandom(30_000))
    download_url_to_file(url, tmp_path / "v2.bin", progress=False, sha256=_sha(data))
    assert (tmp_path / "v2.bin").read_bytes() == data
    assert [r.range for r in server.requests_for("/v2.bin")] == ["bytes=30000-", None]


def test_timeout_raises_and_leaves_no_file(server, tmp_path):
    url = server.add("/stall.bin", os.urandom(10_000), stall=2.0)
    with pytest.raises(DownloadError, match="retries"):
        download_url_to_file(url, tmp_path / "s.bin", progress=False, timeout=0.2, retries=1)
    assert not (tmp_path / "s.bin").exists()


def test_existing_file_with_matching_hash_is_not_downloaded(server, tmp_path):
    data = os.urandom(20_000)
    url = server.add("/keep.bin", data)
    (tmp_path / "keep.bin").write_bytes(data)
    download_url_to_file(url, tmp_path / "keep.bin", progress=False, sha256=_sha(data))
    assert server.requests_for("/keep.bin") == []


def test_existing_file_with_wrong_hash_is_replaced(server, tmp_path):
    data = os.urandom(20_000)
    url = server.add("/fix.bin", data)
    (tmp_path / "fix.bin").write_bytes(b"corrupt" * 100)
    download_url_to_file(url, tmp_path / "fix.bin", progress=False, sha256=_sha(data))
    assert (tmp_path / "fix.bin").read_bytes() == data


def test_existing_file_without_hash_is_replaced(server, tmp_path):
    # PyTorch semantics: download_url_to_file always fetches when no hash is given.
    data = os.urandom(20_000)
    url = server.add("/new.bin", data)
    (tmp_path / "new.bin").write_bytes(b"old contents")
    download_url_to_file(url, tmp_path / "new.bin", progress=False)
    assert (tmp_path / "new.bin").read_bytes() == data


def test_http_proxy_environment_is_honoured(server, tmp_path, monkeypatch):
    # The test server doubles as the proxy: the request line carries the full URL.
    data = os.urandom(10_000)
    server.add("/via-proxy.bin", data)
    monkeypatch.setenv("HTTP_PROXY", server.base)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    url = "http://weights.invalid/via-proxy.bin"
    download_url_to_file(url, tmp_path / "v.bin", progress=False)
    assert (tmp_path / "v.bin").read_bytes() == data
    assert [r.target for r in server.requests_for("/via-proxy.bin")] == [url]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"sha256": "abc"}, "64 hex digits"),
        ({"md5": "z" * 32}, "hexadecimal"),
        ({"hash_prefix": "not-hex"}, "hexadecimal"),
        ({"retries": -1}, "retries"),
    ],
)
def test_bad_arguments_raise_value_error(server, tmp_path, kwargs, match):
    url = server.add("/x.bin")
    with pytest.raises(ValueError, match=match):
        download_url_to_file(url, tmp_path / "x.bin", progress=False, **kwargs)
    assert server.requests_for("/x.bin") == []


@pytest.mark.parametrize("url", ["ftp://host/file", "file:///etc/passwd", "no-scheme", 3])
def test_non_http_urls_are_refused(tmp_path, url):
    with pytest.raises(ValueError, match="http"):
        download_url_to_file(url, tmp_path / "x.bin", progress=False)


def test_backoff_doubles_between_failures(server, tmp_path, monkeypatch):
    sleeps = []
    monkeypatch.setattr(_download, "_BACKOFF_BASE", 0.5)
    monkeypatch.setattr(_download.time, "sleep", sleeps.append)
    url = server.add("/b.bin", fail_first=3)
    download_url_to_file(url, tmp_path / "b.bin", progress=False)
    assert sleeps == [0.5, 1.0, 2.0]
