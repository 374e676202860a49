"""Ending workflow runs that their script did not end (DESIGN.md, "Lifecycle").

A script that never calls ``stop()`` (and uses no ``with`` block) must not leave a RUNNING run
behind: the next process would find no previous version and no deployed model, silently. So,
for every live tracker:

* at interpreter exit, what is pending is flushed and the run ends FINISHED — or FAILED when the
  interpreter is exiting because of an uncaught exception (``sys.last_value`` is set then);
* on SIGTERM, what is pending is flushed and the run ends KILLED; then the previous handler runs
  (the default one terminates the process as before).

Only SIGKILL or power loss can stop this; in batched mode that loses at most the unsent window.
"""

from __future__ import annotations

import atexit
import logging
import signal
import sys
import threading
import weakref
from typing import Any

logger = logging.getLogger("lolpop")

_trackers: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()
_installed = False
_previous_sigterm: Any = None


def register(tracker: Any) -> None:
    """End ``tracker``'s runs at exit / SIGTERM unless it was stopped before."""
    global _installed
    with _lock:
        _trackers.add(tracker)
        if _installed:
            return
        _installed = True
    atexit.register(_at_exit)
    _install_sigterm()


def _end_all(status: str) -> None:
    for tracker in list(_trackers):
        try:
            tracker.stop(status=status)
        except Exception:  # noqa: BLE001 - exiting anyway: report, never raise from here
            logger.exception("lolpop: could not end workflow run of %r", tracker)


def _at_exit() -> None:
    failed = getattr(sys, "last_value", None) is not None
    _end_all("FAILED" if failed else "FINISHED")


def _install_sigterm() -> None:
    global _previous_sigterm
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    try:
        _previous_sigterm = signal.getsignal(signal.SIGTERM)
        if _previous_sigterm is None:  # a handler installed outside Python: leave it alone
            return
        signal.signal(signal.SIGTERM, _on_sigterm)
    except (ValueError, OSError):  # embedded interpreters may refuse
        _previous_sigterm = None


def _on_sigterm(signum: int, frame: Any) -> None:
    _end_all("KILLED")
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
    elif previous == signal.SIG_IGN:
        return
    else:
        # Default action: terminate with the signal, as if we had never been here.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.raise_signal(signal.SIGTERM)
