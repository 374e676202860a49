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
