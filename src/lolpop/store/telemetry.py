"""MLflow's usage telemetry, off in the ``lolpop`` command's process, without writing ``os.environ``.

MLflow sends usage events to the internet unless ``MLFLOW_DISABLE_TELEMETRY`` or ``DO_NOT_TRACK``
is set in the environment. The ``lolpop`` command talks to the store it is given and nothing else,
so it asks for telemetry off (:func:`keep_off`, called by the command's group callback). lolpop
never changes a process's environment (it would leak into every subprocess and every other
library); instead, MLflow's process-wide telemetry client is dropped
(``mlflow.telemetry.client._set_telemetry_client(None)``, a private name in
:mod:`lolpop.store._compat`, whose fallback is MLflow's own settings plus one warning saying how to
turn it off). MLflow records an event only through that client, so none is queued or sent.

When: at once if MLflow is already imported, else right after :mod:`lolpop.store._compat` imports
it: every module of this package that calls MLflow imports ``_compat`` first, and MLflow records
events only when called, never on import. A user who set ``MLFLOW_DISABLE_TELEMETRY`` (to any
value) or ``DO_NOT_TRACK`` decided for themselves: then nothing is changed. A tracker inside the
user's own program leaves MLflow's telemetry to the user's settings: only the command asks.

A leaf module (standard library only): the CLI imports it without importing MLflow.
"""

from __future__ import annotations

import os
import sys

_COMPAT = "lolpop.store._compat"
_wanted = False


def keep_off() -> None:
    """Keep MLflow's usage telemetry off in this process, unless the user's environment says
    otherwise (``MLFLOW_DISABLE_TELEMETRY`` or ``DO_NOT_TRACK`` set)."""
    global _wanted
    if "MLFLOW_DISABLE_TELEMETRY" in os.environ or "DO_NOT_TRACK" in os.environ:
        return
    _wanted = True
    compat = sys.modules.get(_COMPAT)  # imported already: MLflow is loaded, drop its client now
    if compat is not None:
        compat.telemetry_off()


def wanted_off() -> bool:
    """Whether :func:`keep_off` asked for telemetry off in this process."""
    return _wanted
