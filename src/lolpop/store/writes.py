"""The CLI's one write (``lolpop quarantine``): a tag added to an existing run, through the same
bounded client the tracker uses, creating nothing (no experiment, no run, no store)."""

from __future__ import annotations

from typing import Any

from mlflow.exceptions import MlflowException

from lolpop.layout.uris import redact
from lolpop.store._connection import bounded_client, scrub_chain, translate


def set_run_tag(uri: str, run_id: str, key: str, value: str, *, timeout: Any = None, what: str = "") -> None:
    """One ``set-tag`` request on run ``run_id`` (resent like any set-style write when its answer
    is lost: setting the same tag twice is the same).

    Raises:
        ConfigError: ``uri`` names no existing store (never created here).
        LolpopError: the store refused or could not be reached (MLflow's error translated).
    """
    client = bounded_client(uri, timeout=timeout, create=False)
    try:
        client.set_tag(run_id, key, value)
    except MlflowException as exc:
        scrub_chain(exc)
        raise translate(exc, f"{what or 'setting a tag'} in run {run_id} at {redact(uri)}", uri,
                        run_id=run_id) from exc
