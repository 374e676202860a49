"""The HTTP proxy of the tests and the benchmarks: a relay on 127.0.0.1 in front of a real
``mlflow server`` that counts every request by endpoint and can lose answers on purpose.

Stdlib only: ``benchmarks/driver.py`` imports :func:`fetch_counts` under lolpop's venv and under the
throwaway venv holding lolpop 0.2.0.

**Counting.** Every request is counted by ``METHOD path`` (:func:`endpoint`: no query string,
artifact paths folded to ``.../artifacts/*``) before it is forwarded. Read the counters in-process
with :meth:`HttpProxy.counts` / :meth:`HttpProxy.reset`, or from another process through two
control endpoints the proxy serves itself (never counted nor forwarded):

* ``GET  /__bench__/counts`` -> ``{"METHOD path": n, ...}`` (JSON; :func:`fetch_counts`)
* ``POST /__bench__/reset``  -> zero the counters

**Lost answers.** :meth:`HttpProxy.drop` arms a rule for the next requests whose path ends with a
given suffix:

* ``late=0``: the request is forwarded and *applied* by the server, then the client's connection
  is closed without an answer (what a reset or a timeout after the server committed looks like);
* ``late=S``: the request is held for ``S`` seconds — longer than the client waits — and only
  then forwarded and applied, its answer dropped: the client's look-up finds nothing, and the
  record appears after it (a slow server committing late).

:attr:`HttpProxy.applied` counts what was applied behind the client's back, so a test can wait
for it (:meth:`HttpProxy.wait_applied`). Everything else is relayed unchanged, over one upstream
connection per client connection (with ``TCP_NODELAY`` on both sides: without it, Nagle and the
client's delayed ACK would add ~40 ms to every relayed request).

Faults below HTTP (connection resets, a server that accepts and never answers, 503 storms) are
:class:`tests.support.faulty_proxy.FaultyProxy`'s.

Run it standalone with ``python -m tests.support.http_proxy UPSTREAM_PORT`` (prints the port it
listens on).
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: Headers that belong to one connection, never relayed (``Content-Length`` is set anew).
_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
        "content-length"}
#: Path prefix of the proxy's own control endpoints.
CONTROL = "/__bench__/"


def endpoint(method: str, path: str) -> str:
    """``METHOD /path`` without the query string; artifact file paths folded to ``*``."""
    path = path.split("?", 1)[0]
    marker = "/mlflow-artifacts/artifacts/"
    if marker in path:
        path = path[: path.index(marker) + len(marker)] + "*"
    return f"{method} {path}"


class _Rule:
    def __init__(self, suffix: str, method: str, times: int, late: float) -> None:
        self.suffix, self.method, self.left, self.late = suffix, method, times, late


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: see the module docstring (TCP_NODELAY).
    disable_nagle_algorithm = True
    server: _Server
    _conn: http.client.HTTPConnection | None = None

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self._close_upstream()

    def _close_upstream(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _upstream(self) -> http.client.HTTPConnection:
        if self._conn is None:
            conn = http.client.HTTPConnection(*self.server.upstream, timeout=600)
            conn.connect()
            assert conn.sock is not None
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return self._conn

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None,
               reason: str | None = None) -> None:
        self.send_response(status, reason)
        for k, v in headers or []:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _control(self) -> None:
        proxy = self.server.proxy
        if self.path.startswith(CONTROL + "counts"):
            self._reply(200, json.dumps(proxy.counts()).encode(), [("Content-Type", "application/json")])
        elif self.path.startswith(CONTROL + "reset"):
            proxy.reset()
            self._reply(200, b"{}", [("Content-Type", "application/json")])
        else:
            self._reply(404, b"unknown control path")

    def _relay(self) -> None:
        body = self._read_body()
        if self.path.startswith(CONTROL):
            self._control()
            return
        proxy = self.server.proxy
        rule = proxy._count_and_take(self.command, self.path)
        if rule is not None and rule.late:
            time.sleep(rule.late)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        headers["Content-Length"] = str(len(body))
        for attempt in (0, 1):
            conn = self._upstream()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                break
            except (ConnectionError, http.client.HTTPException):
                # a kept-alive upstream connection the server closed meanwhile: one more try
                self._close_upstream()
                if attempt:
                    raise
        if rule is not None:
            proxy._applied(f"{self.command} {self.path}")
            self.close_connection = True
            return  # applied; the answer never reaches the client
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
        self._reply(resp.status, data, out, resp.reason)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _relay


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, proxy: HttpProxy, upstream: tuple[str, int]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.proxy = proxy
        self.upstream = upstream


class HttpProxy:
    """The proxy in front of ``upstream`` (a URL such as ``http://127.0.0.1:5000``, or a port on
    127.0.0.1), serving from construction on in a daemon thread; :meth:`close` stops it."""

    def __init__(self, upstream: str | int) -> None:
        if isinstance(upstream, int):
            target = ("127.0.0.1", upstream)
        else:
            up = urlsplit(upstream)
            target = (up.hostname or "127.0.0.1", up.port or 80)
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._rules: list[_Rule] = []
        self.applied = 0
        self.dropped: list[str] = []
        self._server = _Server(self, target)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True, name=f"http-proxy-{self.port}").start()

    # -- counting ----------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Requests relayed since the start or the last :meth:`reset`, by :func:`endpoint`."""
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()

    # -- lost answers ------------------------------------------------------------------------
    def drop(self, suffix: str, *, method: str = "POST", times: int = 1, late: float = 0.0) -> None:
        """Lose the answers of the next ``times`` ``method`` requests whose path ends with ``suffix``."""
        with self._lock:
            self._rules.append(_Rule(suffix, method, times, late))

    def wait_applied(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.applied >= count:
                    return
            time.sleep(0.1)
        raise AssertionError(f"the proxy applied {self.applied} of {count} dropped requests in {timeout}s")

    def _count_and_take(self, method: str, path: str) -> _Rule | None:
        bare = path.split("?", 1)[0]
        with self._lock:
            self._counts[endpoint(method, path)] += 1
            for rule in self._rules:
                if rule.left > 0 and rule.method == method and bare.endswith(rule.suffix):
                    rule.left -= 1
                    return rule
        return None

    def _applied(self, request: str) -> None:
        with self._lock:
            self.applied += 1
            self.dropped.append(request)

    # -- life --------------------------------------------------------------------------------
    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HttpProxy:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def fetch_counts(control_url: str) -> dict[str, int]:
    """Read the counters of a proxy at ``http://127.0.0.1:port`` from another process (not counted)."""
    up = urlsplit(control_url)
    conn = http.client.HTTPConnection(up.hostname or "127.0.0.1", up.port or 80, timeout=30)
    try:
        conn.request("GET", CONTROL + "counts")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


if __name__ == "__main__":
    proxy = HttpProxy(int(sys.argv[1]))
    print(proxy.port, flush=True)
    threading.Event().wait()
