"""An HTTP proxy on 127.0.0.1 in front of a real ``mlflow server`` that loses answers on purpose.

:meth:`AnswerProxy.drop` arms a rule for the next requests whose path ends with a given suffix:

* ``late=0``: the request is forwarded and *applied* by the server, then the client's connection
  is closed without an answer (what a reset or a timeout after the server committed looks like);
* ``late=S``: the request is held for ``S`` seconds — longer than the client waits — and only
  then forwarded and applied, its answer dropped: the client's look-up finds nothing, and the
  record appears after it (a slow server committing late).

Everything else is relayed unchanged. :attr:`AnswerProxy.applied` counts what was applied behind
the client's back, so a test can wait for it.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}


class AnswerProxy:
    def __init__(self, upstream_url: str) -> None:
        up = urlsplit(upstream_url)
        self._upstream = (up.hostname or "127.0.0.1", up.port or 80)
        self._rules: list[dict] = []
        self._lock = threading.Lock()
        self.applied = 0
        self.dropped: list[str] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # quiet
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                rule = proxy._take(self.command, self.path.split("?", 1)[0])
                if rule is not None and rule["late"]:
                    time.sleep(rule["late"])
                conn = http.client.HTTPConnection(*proxy._upstream, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                if body is not None:
                    headers["Content-Length"] = str(len(body))
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                conn.close()
                if rule is not None:
                    with proxy._lock:
                        proxy.applied += 1
                        proxy.dropped.append(f"{self.command} {self.path}")
                    self.close_connection = True
                    return  # applied; the answer never reaches the client
                self.send_response(resp.status, resp.reason)
                for key, value in resp.getheaders():
                    if key.lower() not in _HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _relay

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, daemon=True, name=f"answer-proxy-{self.port}").start()

    def drop(self, suffix: str, *, method: str = "POST", times: int = 1, late: float = 0.0) -> None:
        """Lose the answers of the next ``times`` ``method`` requests whose path ends with ``suffix``."""
        with self._lock:
            self._rules.append({"suffix": suffix, "method": method, "left": times, "late": late})

    def _take(self, method: str, path: str) -> dict | None:
        with self._lock:
            for rule in self._rules:
                if rule["left"] > 0 and rule["method"] == method and path.endswith(rule["suffix"]):
                    rule["left"] -= 1
                    return rule
        return None

    def wait_applied(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.applied >= count:
                    return
            time.sleep(0.1)
        raise AssertionError(f"the proxy applied {self.applied} of {count} dropped requests in {timeout}s")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> AnswerProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
