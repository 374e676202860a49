"""Headless Chromium (Debian's ``chromium``) for tests that look at a page as a browser does.

``make test`` installs Chromium when it is missing and it may (root with ``apt-get``); elsewhere
the tests that need it skip with the reason, and under ``CI=true`` they fail instead, as the
PostgreSQL tests do. Nothing here needs pytest unless Chromium is missing, so scripts use it too
(``docs/screenshots/take.py``, with :func:`find_chromium`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

IN_CI = os.environ.get("CI", "").lower() == "true"

# No first-run UI, no sync, no component updates: a headless run that only renders what it is given.
QUIET_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--hide-scrollbars", "--mute-audio",
)


def find_chromium() -> str | None:
    """The Chromium executable, or ``None``."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def chromium_binary() -> str:
    """The Chromium executable; skip the test (fail under ``CI=true``) when there is none."""
    import pytest

    found = find_chromium()
    if found:
        return found
    reason = "headless Chromium is not installed (Debian: apt-get install chromium; `make test` does it as root)"
    if IN_CI:
        pytest.fail(f"{reason}; CI=true requires it")
    pytest.skip(reason)


def run_chromium(url: str, *extra: str, user_data_dir: Path, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium once on ``url`` with ``extra`` flags; its own profile in ``user_data_dir``."""
    cmd = [chromium_binary(), *QUIET_FLAGS, f"--user-data-dir={user_data_dir}", *extra, url]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(url: str, *, user_data_dir: Path, wait_ms: int = 2000) -> str:
    """The DOM after scripts ran (``--dump-dom``), as Chromium serialises it."""
    done = run_chromium(url, f"--virtual-time-budget={wait_ms}", "--dump-dom", user_data_dir=user_data_dir)
    if done.returncode != 0:
        raise AssertionError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def screenshot(url: str, out: Path, *, user_data_dir: Path, size: tuple[int, int] = (1400, 900),
               wait_ms: int = 5000) -> Path:
    """A PNG of ``url`` at ``size`` after ``wait_ms`` of (virtual) time for scripts to settle."""
    done = run_chromium(url, f"--window-size={size[0]},{size[1]}", f"--virtual-time-budget={wait_ms}",
                        f"--screenshot={out}", user_data_dir=user_data_dir)
    if done.returncode != 0 or not out.exists():
        raise AssertionError(f"chromium made no screenshot ({done.returncode}): {done.stderr[-2000:]}")
    return out


class RecordingProxy:
    """An HTTP proxy on 127.0.0.1 that forwards nothing: it records the request line of every
    request a browser sends it (``GET http://host/...``, ``CONNECT host:443``) and answers 404
    (a CONNECT: 403), so a page can be shown to make no network request at all."""

    def __init__(self) -> None:
        import socket
        import threading

        self.requests: list[str] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        import socket

        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (socket.timeout, OSError):
                continue
            with conn:
                conn.settimeout(2)
                try:
                    head = conn.recv(65536).decode("latin-1")
                except (socket.timeout, OSError):
                    continue
                line = head.split("\r\n", 1)[0]
                if line:
                    self.requests.append(line)
                status = b"403 Forbidden" if line.startswith("CONNECT") else b"404 Not Found"
                try:
                    conn.sendall(b"HTTP/1.1 " + status + b"\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> RecordingProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Flags that stop Chromium's own calls home (network time, sign-in, field trials, pings), so that
#: what reaches the proxy is what the page asked for.
OFFLINE_FLAGS = (
    "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,Translate,MediaRouter,"
    "AutofillServerCommunication,CertificateTransparencyComponentUpdater,OptimizationGuideModelDownloading",
    "--no-pings", "--disable-domain-reliability", "--disable-client-side-phishing-detection",
    "--safebrowsing-disable-auto-update", "--disable-field-trial-config",
    "--gaia-url=http://127.0.0.1:9", "--lso-url=http://127.0.0.1:9", "--google-apis-url=http://127.0.0.1:9",
)
#: The one call of Chromium's own that no flag stops (Debian's build, the component updater's
#: check, made whatever the page): a request to this host is the browser's, never the page's.
BROWSER_OWN_HOSTS = ("update.googleapis.com",)


def _host(request_line: str) -> str:
    target = request_line.split(" ")[1] if " " in request_line else ""
    if "://" in target:
        target = target.split("://", 1)[1]
    return target.split("/", 1)[0].rsplit(":", 1)[0]


def dump_dom_offline(url: str, *, user_data_dir: Path, wait_ms: int = 3000) -> tuple[str, list[str], list[str]]:
    """``(DOM, page requests, browser requests)``: the page as :func:`dump_dom` gives it, with every
    request Chromium would send to the network going to a :class:`RecordingProxy` instead
    (loopback included: ``<-loopback>`` takes it off Chromium's implicit bypass list), split into
    the page's and Chromium's own (:data:`BROWSER_OWN_HOSTS`)."""
    with RecordingProxy() as proxy:
        done = run_chromium(url, *OFFLINE_FLAGS, f"--proxy-server=http://127.0.0.1:{proxy.port}",
                            "--proxy-bypass-list=<-loopback>", f"--virtual-time-budget={wait_ms}", "--dump-dom",
                            user_data_dir=user_data_dir)
        if done.returncode != 0:
            raise AssertionError(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
        seen = list(proxy.requests)
    own = [r for r in seen if _host(r) in BROWSER_OWN_HOSTS]
    return done.stdout, [r for r in seen if r not in own], own
