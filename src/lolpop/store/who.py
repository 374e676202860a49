"""Who writes: the name recorded in status events, quarantine events and ``mlflow.user`` of the
runs lolpop creates (DESIGN.md, "MLflow-native records", Who)."""

from __future__ import annotations

from lolpop.layout.access import event_user, is_server


def who(uri: str) -> str:
    """The MLflow user requests to ``uri`` authenticate as (a server with credentials), else the
    OS login (:func:`lolpop.layout.access.event_user`). Read once, when a tracker or a CLI write
    starts: MLflow reads ``MLFLOW_TRACKING_USERNAME`` / ``~/.mlflow/credentials`` the same way."""
    configured = None
    if is_server(uri):
        try:
            from mlflow.utils.credentials import read_mlflow_creds

            configured = read_mlflow_creds().username or None
        except Exception:  # noqa: BLE001 - an unreadable credentials file: fall back to the login
            configured = None
    return event_user(uri, configured)
