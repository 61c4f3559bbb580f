"""Several downloaders of one file at once, and a downloader killed mid-way."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from ember.hub import download_url_to_file
from ember.hub._lock import FileLock


def test_eight_processes_produce_one_verified_file(server, tmp_path):
    data = os.urandom(200_000)
    digest = hashlib.sha256(data).hexdigest()
    # ~0.5 s per download, so the processes really overlap.
    url = server.add("/shared.bin", data, slow=0.02)
    dst = tmp_path / "shared.bin"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=download_url_to_file,
            args=(url, str(dst)),
            kwargs={"progress": False, "sha256": digest},
        )
        for _ in range(8)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * 8
    assert dst.read_bytes() == data
    # The lock made the other seven find the verified file instead of fetching it.
    assert len(server.requests_for("/shared.bin")) == 1
    assert sorted(os.listdir(tmp_path)) == ["shared.bin", "shared.bin.lock"]


def test_threads_without_hash_share_one_download(server, tmp_path):
    data = os.urandom(200_000)
    url = server.add("/t.bin", data, slow=0.02)
    dst = tmp_path / "t.bin"
    errors = []

    def run():
        try:
            download_url_to_file(url, dst, progress=False)
        except Exception as e:  # reported below; a thread can't fail the test itself
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert dst.read_bytes() == data
    assert len(server.requests_for("/t.bin")) == 1


def test_killed_download_leaves_no_file_and_resumes(server, tmp_path):
    data = os.urandom(200_000)
    url = server.add("/slow.bin", data, slow=0.05)  # ~1.2 s in total
    out = tmp_path / "out"
    dst, part = out / "slow.bin", out / "slow.bin.partial"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ember.hub", "download", url, "-o", str(out), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not (part.exists() and part.stat().st_size > 0):
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.monotonic() < deadline, "the download never started"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    proc.stderr.close()
    assert not dst.exists()
    have = part.stat().st_size
    assert 0 < have < len(data)
    download_url_to_file(url, dst, progress=False, sha256=hashlib.sha256(data).hexdigest())
    assert dst.read_bytes() == data
    assert not part.exists()
    assert server.requests_for("/slow.bin")[-1].range == f"bytes={have}-"


def test_file_lock_excludes_and_times_out(tmp_path):
    path = tmp_path / "x.lock"
    held = FileLock(path)
    held.acquire()
    try:
        with pytest.raises(TimeoutError, match="could not lock"):
            FileLock(path, timeout=0.1).acquire()
    finally:
        held.release()
    with FileLock(path, timeout=0.1) as lock:
        assert lock.locked
    assert not lock.locked


def test_file_lock_is_released_when_holder_dies(tmp_path):
    path = tmp_path / "dead.lock"
    code = (
        "import sys, time; from ember.hub._lock import FileLock\n"
        f"FileLock({str(path)!r}).acquire(); print('held', flush=True); time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    assert proc.stdout.readline().strip() == b"held"
    with pytest.raises(TimeoutError):
        FileLock(path, timeout=0.1).acquire()
    proc.kill()
    proc.wait(10)
    proc.stdout.close()
    with FileLock(path, timeout=5):
        pass
