"""The model-zoo manifest: parsing, validation, and fetching with mirrors."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from ember.hub import DownloadError, Manifest, WeightsEntry

SHA = "ab" * 32


def _entry(**over):
    d = {
        "urls": ["https://a.example/w-abcdef12.pth", "https://b.example/w.pth"],
        "sha256": SHA,
        "size": 123,
        "license": "CC-BY-4.0",
        "metrics": {"acc@1": 69.5, "params": 11_689_512},
        "meta": {"categories": ["cat", "dog"], "resize": 256},
    }
    d.update(over)
    return d


def test_dict_and_json_round_trip(tmp_path):
    m = Manifest.from_dict(
        {"format": "ember-hub-manifest", "version": 1, "weights": {"r18": _entry()}}
    )
    e = m["r18"]
    assert e.urls == ("https://a.example/w-abcdef12.pth", "https://b.example/w.pth")
    assert e.url == e.urls[0]
    assert e.filename == "w-abcdef12.pth"
    assert e.metrics == {"acc@1": 69.5, "params": 11_689_512}
    assert e.meta["categories"] == ["cat", "dog"]
    assert len(m) == 1 and "r18" in m and list(m) == ["r18"]
    m.to_json(tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text())["weights"]["r18"]["sha256"] == SHA
    assert Manifest.from_json(tmp_path / "m.json") == m


def test_single_url_and_defaults():
    e = WeightsEntry.from_dict("x", {"url": "http://h/p/file%20name.bin", "sha256": SHA})
    assert e.urls == ("http://h/p/file%20name.bin",)
    assert e.filename == "file name.bin"
    assert (e.size, e.license, e.metrics, e.meta) == (None, None, {}, {})
    assert e.to_dict() == {"urls": ["http://h/p/file%20name.bin"], "sha256": SHA}


@pytest.mark.parametrize(
    "entry, match",
    [
        (_entry(sha256="AB" * 32), "sha256"),
        (_entry(sha256="ab"), "sha256"),
        ({"urls": ["http://h/f"]}, "'sha256' is required"),
        ({"url": "http://h/f", "urls": ["http://h/f"], "sha256": SHA}, "exactly one"),
        (_entry(urls=[]), "urls"),
        (_entry(urls=["ftp://h/f"]), "urls"),
        (_entry(size=-1), "size"),
        (_entry(size="12"), "size"),
        (_entry(metrics={"acc": "high"}), "metrics"),
        (_entry(meta=["x"]), "meta"),
        (_entry(file_name="../evil"), "file_name"),
        (_entry(sha_256=SHA), "unknown keys"),
    ],
)
def test_invalid_entries_are_refused(entry, match):
    with pytest.raises(ValueError, match=match):
        Manifest.from_dict({"weights": {"w": entry}})


def test_invalid_manifests_are_refused():
    with pytest.raises(ValueError, match="'weights'"):
        Manifest.from_dict({"w": _entry()})
    with pytest.raises(ValueError, match="format"):
        Manifest.from_dict({"format": "other", "weights": {}})
    with pytest.raises(ValueError, match="version 2"):
        Manifest.from_dict({"version": 2, "weights": {}})
    e = WeightsEntry.from_dict("w", _entry())
    with pytest.raises(ValueError, match="duplicate"):
        Manifest([e, e])
    with pytest.raises(KeyError, match="available: w"):
        Manifest([e])["v"]


def test_fetch_uses_cache_dir_and_skips_when_cached(server, ember_home):
    data = os.urandom(100_000)
    url = server.add("/zoo/w.pth", data)
    e = WeightsEntry("w", (url,), hashlib.sha256(data).hexdigest(), size=len(data))
    path = Manifest([e]).fetch("w", progress=False)
    assert path == str(ember_home / "checkpoints" / "w.pth")
    assert open(path, "rb").read() == data
    e.fetch(progress=False)
    assert len(server.requests_for("/zoo/w.pth")) == 1


def test_fetch_tries_mirrors_in_order(server, tmp_path):
    data = os.urandom(80_000)
    urls = [
        server.base + "/gone/w.pth",  # 404
        server.add("/wrong/w.pth", os.urandom(80_000)),  # wrong bytes
        server.add("/good/w.pth", data),
        server.add("/unused/w.pth", data),
    ]
    e = WeightsEntry("w", urls, hashlib.sha256(data).hexdigest())
    path = e.fetch(tmp_path, progress=False)
    assert open(path, "rb").read() == data
    assert [r.path for r in server.log] == ["/gone/w.pth", "/wrong/w.pth", "/good/w.pth"]


def test_fetch_all_mirrors_failing_lists_each(server, tmp_path):
    urls = [server.base + "/a/w.pth", server.add("/b/w.pth", os.urandom(1000))]
    e = WeightsEntry("w", urls, SHA)
    with pytest.raises(
        DownloadError, match=r"(?s)any of its 2 URLs.*/a/w.pth.*404.*/b/w.pth.*sha256"
    ):
        e.fetch(tmp_path, progress=False)
    assert [n for n in os.listdir(tmp_path) if not n.endswith(".lock")] == []


def test_fetch_detects_wrong_size_in_manifest(server, tmp_path):
    data = os.urandom(5000)
    url = server.add("/s/w.pth", data)
    e = WeightsEntry("w", (url,), hashlib.sha256(data).hexdigest(), size=4999)
    with pytest.raises(ValueError, match="says 4999 bytes"):
        e.fetch(tmp_path, progress=False)
