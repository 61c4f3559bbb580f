"""The cache directory and load_state_dict_from_url's download half."""

from __future__ import annotations

import hashlib
import json
import os
import struct

import pytest

import ember
from ember import hub
from ember.hub import HashMismatchError, _cache
from ember.hub._checkpoints import cached_download, hash_prefix_of


def test_get_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.delenv("EMBER_HOME")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert hub.get_dir() == str(tmp_path / "home" / ".cache" / "ember")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hub.get_dir() == str(tmp_path / "xdg" / "ember")
    monkeypatch.setenv("EMBER_HOME", str(tmp_path / "eh"))
    assert hub.get_dir() == str(tmp_path / "eh")
    hub.set_dir(tmp_path / "explicit")
    assert hub.get_dir() == str(tmp_path / "explicit")
    with pytest.raises(ValueError, match="non-empty"):
        hub.set_dir("")


def test_subdirs_are_created_on_demand(ember_home):
    assert not ember_home.exists()
    assert _cache.subdir("checkpoints") == str(ember_home / "checkpoints")
    assert (ember_home / "checkpoints").is_dir()
    with pytest.raises(ValueError, match="expected one of"):
        _cache.subdir("models")


@pytest.mark.parametrize(
    "name, prefix",
    [
        ("resnet18-f37072fd.pth", "f37072fd"),
        ("efficientnet_b0_rwightman-7f5810bc.pth", "7f5810bc"),
        ("a-b-0123456789.tar.gz", "0123456789"),
        ("model.pth", None),
        ("model-final.pth", None),
        ("model-abc.pth", None),  # too short to be a hash prefix
    ],
)
def test_hash_prefix_of(name, prefix):
    assert hash_prefix_of(name) == prefix


def test_cached_download_uses_checkpoints_and_caches(server, ember_home):
    data = os.urandom(60_000)
    name = f"net-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    url = server.add(f"/m/{name}", data)
    path = cached_download(url, progress=False, check_hash=True)
    assert path == str(ember_home / "checkpoints" / name)
    assert open(path, "rb").read() == data
    assert cached_download(url, progress=False) == path
    assert cached_download(url, progress=False, check_hash=True) == path
    assert len(server.requests_for(f"/m/{name}")) == 1


def test_check_hash_mismatch_leaves_nothing(server, tmp_path):
    url = server.add("/m/net-00000000.pth", os.urandom(10_000))
    with pytest.raises(HashMismatchError, match="sha256 prefix 00000000"):
        cached_download(url, tmp_path, progress=False, check_hash=True)
    assert [n for n in os.listdir(tmp_path) if not n.endswith(".lock")] == []


def test_check_hash_needs_prefix_in_name(server, tmp_path):
    url = server.add("/m/plain.pth", os.urandom(100))
    with pytest.raises(ValueError, match="name-<sha256 prefix>"):
        cached_download(url, tmp_path, progress=False, check_hash=True)
    assert server.requests_for("/m/plain.pth") == []


def test_file_name_override_and_validation(server, tmp_path):
    data = os.urandom(1000)
    url = server.add("/m/download", data)
    assert open(cached_download(url, tmp_path, False, file_name="mine.pth"), "rb").read() == data
    with pytest.raises(ValueError, match="plain file name"):
        cached_download(url, tmp_path, False, file_name="../up.pth")
    with pytest.raises(ValueError, match="file_name="):
        cached_download(server.base + "/", tmp_path, False)


def _needs_ember_load():
    if not hasattr(ember, "load"):
        pytest.skip("ember.load is not in ember-core yet")


def _safetensors(arrays: dict) -> bytes:
    """A .safetensors file written by hand from the format's spec, not by ember."""
    header, blobs, offset = {}, [], 0
    for name, a in arrays.items():
        raw = a.astype("<f4").tobytes()
        header[name] = {
            "dtype": "F32",
            "shape": list(a.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    head = json.dumps(header).encode()
    head += b" " * (-len(head) % 8)
    return struct.pack("<Q", len(head)) + head + b"".join(blobs)


def test_load_state_dict_from_url_reads_safetensors(server, tmp_path):
    _needs_ember_load()
    import numpy as np

    w = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.5]], dtype=np.float32)
    b = np.array([0.25, -0.5], dtype=np.float32)
    data = _safetensors({"fc.weight": w, "fc.bias": b})
    name = f"tiny-{hashlib.sha256(data).hexdigest()[:8]}.safetensors"
    url = server.add(f"/m/{name}", data)
    sd = hub.load_state_dict_from_url(url, tmp_path, progress=False, check_hash=True)
    assert sorted(sd) == ["fc.bias", "fc.weight"]
    np.testing.assert_array_equal(sd["fc.weight"].numpy(), w)
    np.testing.assert_array_equal(sd["fc.bias"].numpy(), b)
    # Cached: a second call reads the file without the server.
    sd2 = hub.load_state_dict_from_url(url, tmp_path, progress=False)
    np.testing.assert_array_equal(sd2["fc.weight"].numpy(), w)
    assert len(server.requests_for(f"/m/{name}")) == 1


def test_load_state_dict_from_url_reads_ember_checkpoints(server, tmp_path):
    _needs_ember_load()
    import numpy as np

    w = np.arange(6, dtype=np.float32).reshape(2, 3) + 0.5
    src = tmp_path / "src.pth"
    ember.save({"weight": ember.from_numpy(w.copy())}, src)
    url = server.add("/m/ckpt.pth", src.read_bytes())
    sd = hub.load_state_dict_from_url(url, tmp_path / "c", map_location="cpu", progress=False)
    np.testing.assert_array_equal(sd["weight"].numpy(), w)
