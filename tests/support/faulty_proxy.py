"""A TCP relay on 127.0.0.1 in front of a real server, which can be told to misbehave.

Modes (switch with :meth:`FaultyProxy.set_mode` between calls):

* ``"forward"``: a plain relay; the client sees the real server.
* ``"silent"``: connections are accepted and requests read, but nothing is ever answered (a hung
  server). Each connection that sends a request while silent counts as one attempt.
* ``"503"``: every request is answered ``503 Service Unavailable`` (counted the same way).

The relay runs in daemon threads and stops by itself at :meth:`close` or after ``lifetime``
seconds, so a test that fails half-way leaves nothing running.

Why a second proxy beside :class:`tests.support.http_proxy.HttpProxy` (the HTTP proxy of the tests
and the benchmarks): this one works below HTTP. It relays raw bytes and never parses a request,
so it can be a server that accepts a connection and never answers (``silent``: the client's
timeouts and retries are what is tested, with no upstream at all when ``upstream_port`` is
``None``) and count *connection* attempts; an HTTP proxy reads whole requests and answers or
drops each one, which is what counting by endpoint and losing an answer after the server applied
the request need. Merged, each would carry the other's machinery for nothing.
"""

from __future__ import annotations

import selectors
import socket
import threading
import time

_503 = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"


class FaultyProxy:
    def __init__(self, upstream_port: int | None, lifetime: float = 600.0) -> None:
        self.upstream_port = upstream_port
        self.mode = "forward" if upstream_port is not None else "silent"
        self._attempts = 0
        self._lock = threading.Lock()
        self._deadline = time.monotonic() + lifetime
        self._closed = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._accept, daemon=True, name=f"faulty-proxy-{self.port}").start()

    # -- control ---------------------------------------------------------------------------
    def set_mode(self, mode: str) -> None:
        assert mode in ("forward", "silent", "503"), mode
        if mode == "forward":
            assert self.upstream_port is not None, "no upstream to forward to"
        with self._lock:
            self.mode = mode
            self._attempts = 0

    @property
    def attempts(self) -> int:
        """Requests that reached the proxy since the last :meth:`set_mode` and were not forwarded."""
        with self._lock:
            return self._attempts

    def close(self) -> None:
        self._closed.set()

    def __enter__(self) -> FaultyProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _running(self) -> bool:
        return not self._closed.is_set() and time.monotonic() < self._deadline

    # -- relay -----------------------------------------------------------------------------
    def _accept(self) -> None:
        try:
            while self._running():
                try:
                    conn, _ = self._listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                threading.Thread(target=self._serve, args=(conn,), daemon=True).start()
        finally:
            self._listener.close()

    def _serve(self, client: socket.socket) -> None:
        upstream = None
        sel = selectors.DefaultSelector()
        counted = False
        try:
            sel.register(client, selectors.EVENT_READ, "client")
            while self._running():
                for key, _ in sel.select(timeout=0.2):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        return
                    if not data:
                        return
                    with self._lock:
                        mode = self.mode
                    if key.data == "upstream":
                        if mode == "forward":
                            client.sendall(data)
                        continue
                    if mode == "forward":
                        if upstream is None:
                            upstream = socket.create_connection(("127.0.0.1", self.upstream_port), timeout=30)
                            sel.register(upstream, selectors.EVENT_READ, "upstream")
                        upstream.sendall(data)
                        continue
                    if not counted:  # one attempt per connection: a request's bytes may come in pieces
                        counted = True
                        with self._lock:
                            self._attempts += 1
                    if mode == "503":
                        client.sendall(_503)
                        return
                    # silent: swallow the request, never answer
        finally:
            sel.close()
            client.close()
            if upstream is not None:
                upstream.close()
