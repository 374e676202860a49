"""The CLI's writes (``lolpop quarantine``): a tag added to an existing run, and the lineage pages
it redraws (artifacts of existing runs), through the same bounded client the tracker uses,
creating nothing (no experiment, no run, no store)."""

from __future__ import annotations

from typing import Any

from mlflow.exceptions import MlflowException

from lolpop.layout.uris import redact
from lolpop.store._connection import artifact_repository, bounded_client, scrub_chain, translate


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


class RunArtifacts:
    """The artifacts of one existing run through a bounded client: ``list_artifacts`` (one
    request) and ``log_artifact`` (one upload, overwriting a file of the same path); MLflow's
    errors translated to lolpop errors, credentials scrubbed."""

    def __init__(self, client: Any, uri: str, run_id: str, artifact_uri: str) -> None:
        self._repo = artifact_repository(client, artifact_uri)
        self._uri, self._run_id = uri, run_id

    def _call(self, what: str, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except MlflowException as exc:
            scrub_chain(exc)
            raise translate(exc, f"{what} in run {self._run_id} at {redact(self._uri)}", self._uri,
                            run_id=self._run_id) from exc

    def list_artifacts(self, path: str | None = None) -> list[Any]:
        return self._call("listing artifacts", self._repo.list_artifacts, path)

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        self._call("uploading an artifact", self._repo.log_artifact, local_file, artifact_path)


def run_artifacts(uri: str, *, timeout: Any = None) -> Any:
    """``repo_of(run)``: the :class:`RunArtifacts` of an existing run (its ``artifact_uri`` read
    from ``run``: no request to look it up), all through one bounded client on ``uri``.

    Raises:
        ConfigError: ``uri`` names no existing store (never created here).
    """
    client = bounded_client(uri, timeout=timeout, create=False)

    def repo_of(run: Any) -> RunArtifacts:
        return RunArtifacts(client, uri, run.info.run_id, run.info.artifact_uri)

    return repo_of
