"""A small counting HTTP proxy (stdlib only) for the benchmark.

Every request from a client to the MLflow server passes through it and is counted by
``METHOD path`` (artifact paths are folded to ``.../artifacts/*``). Two control endpoints
are served by the proxy itself and never counted nor forwarded:

* ``GET  /__bench__/counts`` -> ``{"METHOD path": n, ...}`` (JSON)
* ``POST /__bench__/reset``  -> zero the counters

Run it standalone with ``python proxy.py UPSTREAM_PORT`` (prints the port it listens on) or use
:class:`CountingProxy` in-process.
"""

from __future__ import annotations

import http.client
import json
import socket
import sys
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade"}
CONTROL = "/__bench__/"


def endpoint(method: str, path: str) -> str:
    """``METHOD /path`` without the query string; artifact file paths folded to ``*``."""
    path = path.split("?", 1)[0]
    marker = "/mlflow-artifacts/artifacts/"
    if marker in path:
        path = path[: path.index(marker) + len(marker)] + "*"
    return f"{method} {path}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without TCP_NODELAY, Nagle + the client's
    # delayed ACK would add ~40 ms to every proxied request.
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def _upstream(self) -> http.client.HTTPConnection:
        conn = getattr(self, "_conn", None)
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", self.server.upstream_port, timeout=600)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = conn
        return conn

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

    def _reply(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for k, v in headers or []:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _control(self) -> None:
        if self.path.startswith(CONTROL + "counts"):
            with self.server.lock:
                body = json.dumps(dict(self.server.counts)).encode()
            self._reply(200, body, [("Content-Type", "application/json")])
        elif self.path.startswith(CONTROL + "reset"):
            with self.server.lock:
                self.server.counts.clear()
            self._reply(200, b"{}", [("Content-Type", "application/json")])
        else:
            self._reply(404, b"unknown control path")

    def _forward(self) -> None:
        body = self._read_body()
        if self.path.startswith(CONTROL):
            self._control()
            return
        with self.server.lock:
            self.server.counts[endpoint(self.command, self.path)] += 1
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
                conn.close()
                self._conn = None
                if attempt:
                    raise
        out = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP and k.lower() != "content-length"]
        self._reply(resp.status, data, out)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.upstream_port = upstream_port
        self.counts: Counter[str] = Counter()
        self.lock = threading.Lock()


class CountingProxy:
    """In-process counting proxy in front of ``127.0.0.1:upstream_port``."""

    def __init__(self, upstream_port: int) -> None:
        self._server = _Server(upstream_port)
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self) -> "CountingProxy":
        self._thread.start()
        return self

    def counts(self) -> dict[str, int]:
        with self._server.lock:
            return dict(self._server.counts)

    def reset(self) -> None:
        with self._server.lock:
            self._server.counts.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def fetch_counts(control_url: str) -> dict[str, int]:
    """Read the counters of a proxy at ``http://127.0.0.1:port`` (not counted)."""
    host, port = control_url.split("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", CONTROL + "counts")
        return json.loads(conn.getresponse().read())
    finally:
        conn.close()


if __name__ == "__main__":
    proxy = CountingProxy(int(sys.argv[1])).start()
    print(proxy.port, flush=True)
    threading.Event().wait()
