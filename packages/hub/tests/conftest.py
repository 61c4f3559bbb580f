"""A real HTTP server on 127.0.0.1 for the hub tests, with misbehaving routes on demand."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest

from ember.hub import _cache, _download


@dataclass
class Route:
    """How the server answers one path.

    data: the file's bytes.
    fail_first: answer HTTP 500 to this many requests before serving.
    cut: cut this many responses off halfway (full Content-Length, half the body).
    ignore_range: answer Range requests with 200 and the whole file.
    bad_range: answer Range requests with 206 but from byte 0 (a broken server).
    slow: seconds to sleep after each 8 KiB chunk.
    stall: seconds to sleep after the headers, before the body.
    status: answer every request with this status and no body (e.g. 404).
    """

    data: bytes = b""
    fail_first: int = 0
    cut: int = 0
    ignore_range: bool = False
    bad_range: bool = False
    slow: float = 0.0
    stall: float = 0.0
    status: int | None = None
    hits: int = 0


@dataclass
class Request:
    path: str
    range: str | None
    target: str  # the request line's target: absolute-form when sent to a proxy


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        server: HubServer = self.server.owner
        path = urlsplit(self.path).path
        rng = self.headers.get("Range")
        with server.lock:
            server.log.append(Request(path, rng, self.path))
            route = server.routes.get(path)
            if route is not None:
                route.hits += 1
                hit = route.hits
        if route is None or route.status is not None:
            self._empty(404 if route is None else route.status)
            return
        if hit <= route.fail_first:
            self._empty(500)
            return
        data, start = route.data, 0
        if rng and not route.ignore_range:
            start = 0 if route.bad_range else int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(data):
                self._empty(416, {"Content-Range": f"bytes */{len(data)}"})
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Length", str(len(body)))
        self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest()[:16] + '"')
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        try:
            self._body(route, hit, body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away (killed, timed out)

    def _body(self, route: Route, hit: int, body: bytes) -> None:
        if route.stall:
            time.sleep(route.stall)
        if hit - route.fail_first <= route.cut:
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        step = 8192
        for i in range(0, len(body), step):
            self.wfile.write(body[i : i + step])
            if route.slow:
                time.sleep(route.slow)

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()


class HubServer:
    """The test server: ``add`` routes, read ``log`` (every request, in order)."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.log: list[Request] = []
        self.lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.owner = self
        self.base = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def add(self, path: str, data: bytes | None = None, **opts: object) -> str:
        """Serve ``data`` (default 200 KB of random bytes) at ``path``; returns the URL."""
        self.routes[path] = Route(data=payload() if data is None else data, **opts)
        return self.base + path

    def requests_for(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.log if r.path == path]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


def payload(n: int = 200_000) -> bytes:
    """Random bytes (never all zeros, so a zero-filled file can't pass)."""
    return os.urandom(n)


@pytest.fixture
def server():
    s = HubServer()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def ember_home(tmp_path, monkeypatch):
    """Every test gets its own empty cache directory and fast retries."""
    home = tmp_path / "ember_home"
    monkeypatch.setenv("EMBER_HOME", str(home))
    monkeypatch.setattr(_cache, "_override", None)
    monkeypatch.setattr(_download, "_BACKOFF_BASE", 0.01)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    return home
