"""The HTTP proxy the tests and the benchmarks share (``tests/support/http_proxy.py``): it counts
requests by endpoint (in-process and through its control endpoints, which ``benchmarks/driver.py``
reads from another process) and loses chosen answers after the upstream applied the request.
Against a tiny stdlib upstream, no MLflow."""

from __future__ import annotations

import http.client
import http.server
import threading
import urllib.request
from collections.abc import Iterator

import pytest

from tests.support.http_proxy import HttpProxy, endpoint, fetch_counts


class _Upstream(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list[str] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        _Upstream.seen.append(f"{self.command} {self.path} {body.decode()}".strip())
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, *a: object) -> None:
        pass


@pytest.fixture
def proxy() -> Iterator[HttpProxy]:
    _Upstream.seen = []
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
    up.daemon_threads = True
    threading.Thread(target=up.serve_forever, daemon=True).start()
    try:
        with HttpProxy(f"http://127.0.0.1:{up.server_address[1]}") as p:
            yield p
    finally:
        up.shutdown()
        up.server_close()


def test_counts_by_endpoint_in_process_and_through_the_control_endpoints(proxy: HttpProxy) -> None:
    for _ in range(3):
        assert urllib.request.urlopen(proxy.url + "/api/2.0/mlflow/runs/get?run_id=x").read() == b"ok"
    req = urllib.request.Request(proxy.url + "/api/2.0/mlflow-artifacts/artifacts/1/abc/f.txt",
                                 data=b"hello", method="PUT")
    assert urllib.request.urlopen(req).read() == b"ok"
    want = {"GET /api/2.0/mlflow/runs/get": 3, "PUT /api/2.0/mlflow-artifacts/artifacts/*": 1}
    assert proxy.counts() == want
    assert fetch_counts(proxy.url) == want  # reading the counters is not counted
    assert "PUT /api/2.0/mlflow-artifacts/artifacts/1/abc/f.txt hello" in _Upstream.seen
    urllib.request.urlopen(urllib.request.Request(proxy.url + "/__bench__/reset", data=b"", method="POST")).read()
    assert proxy.counts() == {} and len(_Upstream.seen) == 4  # control requests are not forwarded
    assert endpoint("POST", "/a/b?c=d") == "POST /a/b"


def test_a_dropped_answer_is_applied_upstream_and_never_reaches_the_client(proxy: HttpProxy) -> None:
    proxy.drop("/runs/create")
    host, port = "127.0.0.1", proxy.port
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("POST", "/api/2.0/mlflow/runs/create", body=b'{"x": 1}')
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        conn.getresponse()
    conn.close()
    proxy.wait_applied(1, timeout=10)
    assert proxy.dropped == ["POST /api/2.0/mlflow/runs/create"]
    assert _Upstream.seen == ['POST /api/2.0/mlflow/runs/create {"x": 1}']
    # the rule was for one request: the next one is answered, and both were counted
    req = urllib.request.Request(proxy.url + "/api/2.0/mlflow/runs/create", data=b"{}", method="POST")
    assert urllib.request.urlopen(req).read() == b"ok"
    assert proxy.counts() == {"POST /api/2.0/mlflow/runs/create": 2} and proxy.applied == 1
