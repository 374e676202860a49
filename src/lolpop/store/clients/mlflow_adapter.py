"""``MlflowClient`` behind the reader protocol: the tracker's own client, and every store the direct
readers do not handle (other databases, SQLite schemas they do not know, file stores, plugin
authentication, Databricks...).

MLflow is imported here only, when this adapter is used. Before MLflow opens a SQL database,
:func:`lolpop.store._preflight.check_store` makes sure that doing so writes nothing: MLflow's SQL store creates the
schema in an empty database and *upgrades* one that lacks a newer table, which a reading command
must never do.

Over ``http(s)://`` the adapter's requests are bounded by its own client
(:class:`~lolpop.store._bounded_client.BoundedMlflowClient`, the tracker's),
never by MLflow's ``MLFLOW_HTTP_REQUEST_*`` environment variables: those are process-wide, so
setting them — even only around a call — would change every other MLflow client in the process,
in every thread (DESIGN.md, "How it talks to MLflow").
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lolpop.exceptions import (
    InvalidInputError,
    LolpopError,
    ResourceNotFoundError,
)
from lolpop.layout import index
from lolpop.layout.access import request_user
from lolpop.layout.uris import is_http, redact
from lolpop.store._errors import mlflow_error
from lolpop.store._preflight import check_store, is_sql_uri
from lolpop.store.clients.base import (
    DEFAULT_ORDER,
    MAX_ARTIFACT_BYTES,
    MAX_HISTORY_RESULTS,
    Experiment,
    FileInfo,
    Run,
    RunData,
    RunInfo,
    StoreClient,
    artifact_path,
)


def _error(exc: BaseException, what: str) -> LolpopError:
    """An MLflow / transport error as a lolpop error (:mod:`lolpop.store._errors`, the one mapping)."""
    return mlflow_error(exc, what, user=request_user(None, os.environ.get("MLFLOW_TRACKING_USERNAME")))


@contextmanager
def _translated(what: str) -> Iterator[None]:
    from mlflow.exceptions import MlflowException

    try:
        yield
    except LolpopError:
        raise
    except (MlflowException, OSError) as exc:  # requests' errors are OSErrors
        raise _error(exc, what) from None


#: Retries after a failed request to a tracking server (what the CLI has always allowed MLflow).
MAX_RETRIES = 2


def _run(run: Any) -> Run:
    info, data = run.info, run.data
    return Run(
        RunInfo(run_id=info.run_id, experiment_id=str(info.experiment_id), status=info.status,
                start_time=info.start_time, end_time=info.end_time, artifact_uri=info.artifact_uri or "",
                lifecycle_stage=info.lifecycle_stage, run_name=info.run_name, user_id=info.user_id),
        RunData(tags=dict(data.tags), params=dict(data.params), metrics=dict(data.metrics),
                metric_steps=index.metric_steps(run)),
    )


def _experiment(exp: Any) -> Experiment:
    created = getattr(exp, "creation_time", None)
    return Experiment(str(exp.experiment_id), exp.name, exp.artifact_location, exp.lifecycle_stage,
                      dict(exp.tags or {}), creation_time=created if type(created) is int else None)


def _file(info: Any) -> FileInfo:
    return FileInfo(info.path, bool(info.is_dir), info.file_size)


class MlflowClientAdapter(StoreClient):
    """Reads through an ``mlflow.MlflowClient`` (given, or built by :meth:`open`).

    Args:
        client: the ``MlflowClient`` (its own settings bound its requests; nothing global is set).
    """

    def __init__(self, client: Any) -> None:
        self.client = client
        self.tracking_uri = str(client.tracking_uri)
        # The artifact root of each run this adapter fetched, and its repository once built: a
        # listing is then one request of that repository. MlflowClient.list_artifacts resolves
        # ``runs:/<id>`` at every call instead (a get_run, then a look for a LoggedModel named like
        # the folder, whose files it would mix into the run's), ~30 ms a call on SQLite.
        self._artifact_uris: dict[str, str] = {}
        self._repos: dict[str, Any] = {}

    @classmethod
    def open(cls, tracking_uri: str, timeout: float = 10.0) -> MlflowClientAdapter:
        """An adapter on ``tracking_uri`` that cannot create or change the store (see module doc).

        Over ``http(s)://`` every request (tracking, registry, the server's artifact proxy) waits at
        most ``timeout`` seconds per attempt, for :data:`MAX_RETRIES` retries — set on this client
        only, so other MLflow clients in the process keep their own settings.

        Raises:
            ConfigError: the URI names no MLflow store, or one MLflow would have to change first.
        """
        from mlflow import MlflowClient

        if is_http(tracking_uri):
            from lolpop.store import _compat as compat
            from lolpop.store._bounded_client import BoundedMlflowClient, RequestBound

            compat.warn_missing(server=True)
            with _translated(f"opening the MLflow store at {redact(tracking_uri)}"):
                if not compat.BOUNDED_CLIENT_OK:  # an MLflow lacking its private names: MLflow's own
                    return cls(MlflowClient(tracking_uri=tracking_uri))
                return cls(BoundedMlflowClient(tracking_uri, RequestBound(float(timeout), MAX_RETRIES)))
        if is_sql_uri(tracking_uri):
            check_store(tracking_uri, create=False, timeout=timeout)
        return cls(MlflowClient(tracking_uri=tracking_uri))

    def search_runs(self, experiment_ids: list[str], filter_string: str = "", max_results: int = 1000,
                    order_by: list[str] | None = None) -> list[Run]:
        from mlflow.entities import ViewType

        with _translated("search_runs"):
            runs = self.client.search_runs(
                experiment_ids=list(experiment_ids), filter_string=filter_string,
                run_view_type=ViewType.ACTIVE_ONLY, max_results=max_results,
                order_by=order_by if order_by is not None else DEFAULT_ORDER)
        return [self._seen(r) for r in runs]

    def knows(self, run: Any) -> None:
        """Take the artifact location of ``run``, an MLflow run fetched by another client on the same
        store (the tracker's: a run it holds, or a version its look-up found), so its folders are
        listed through its repository as for a run fetched here: MLflow's own listing would fetch
        the run again and take a LoggedModel named like the folder for it."""
        uri = getattr(run.info, "artifact_uri", None)
        if isinstance(uri, str) and uri:
            self._artifact_uris.setdefault(run.info.run_id, uri)

    def _seen(self, run: Any) -> Run:
        uri = getattr(run.info, "artifact_uri", None)
        if isinstance(uri, str) and uri:
            self._artifact_uris[run.info.run_id] = uri
        return _run(run)

    def get_run(self, run_id: str) -> Run:
        try:
            with _translated("get_run"):
                return self._seen(self.client.get_run(run_id))
        except ResourceNotFoundError:
            raise ResourceNotFoundError(f"no MLflow run {run_id!r}") from None

    @property
    def reads_metric_ranges(self) -> bool:
        return self._sql_store() is not None

    def _sql_store(self) -> Any:
        """MLflow's SQL store behind the client (the tracker's own client on a database), or ``None``."""
        sql = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
        store = getattr(getattr(self.client, "_tracking_client", None), "store", None)
        return store if sql is not None and isinstance(store, sql.SqlAlchemyStore) else None

    def metric_history(self, run_id: str, key: str, start_step: int, end_step: int,
                       max_results: int) -> list[tuple[float, int]] | None:
        # MlflowClient has no range read: its get_metric_history reads the whole history, which
        # grows with it. MLflow's SQL store has one; through another store (a server's REST store,
        # a file store) the answer is the same, from the whole history (reads_metric_ranges is
        # False, so the reader searches instead).
        limit = min(int(max_results), MAX_HISTORY_RESULTS)
        store = self._sql_store()
        try:
            with _translated("get_metric_history"):
                if store is not None:
                    found = [(m.value, m.step) for m in store.get_metric_history_bulk_interval(
                        [run_id], key, limit + 1, int(start_step), int(end_step))]
                else:
                    history = sorted(self.client.get_metric_history(run_id, key),
                                     key=lambda m: (m.step, m.timestamp, m.value))
                    found = [(m.value, m.step) for m in history if start_step <= m.step <= end_step]
        except ResourceNotFoundError:  # no such run: no values, as the other clients answer
            return []
        return None if len(found) > limit else [(float(value), int(step)) for value, step in found]

    def search_experiments(self) -> list[Experiment]:
        from mlflow.entities import ViewType

        with _translated("search_experiments"):
            exps = self.client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50000)
        return [_experiment(e) for e in exps]

    def get_experiment(self, experiment_id: str) -> Experiment:
        try:
            with _translated("get_experiment"):
                return _experiment(self.client.get_experiment(experiment_id))
        except ResourceNotFoundError:
            raise ResourceNotFoundError(f"no MLflow experiment with id {experiment_id!r}") from None

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        with _translated("get_experiment_by_name"):
            exp = self.client.get_experiment_by_name(name)
        return None if exp is None else _experiment(exp)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        with _translated("list_artifacts"):
            repo = self._repository(run_id)
            rel = artifact_path(path) or None
            infos = repo.list_artifacts(rel) if repo is not None else self.client.list_artifacts(run_id, rel)
        return sorted((_file(i) for i in infos), key=lambda f: f.path)

    def _repository(self, run_id: str) -> Any:
        """The artifact repository of a run this adapter fetched (its requests bounded like the
        client's), or ``None`` for another run (MLflow's own listing is used)."""
        if run_id not in self._repos:
            uri = self._artifact_uris.get(run_id)
            if uri is None:
                return None
            from lolpop.store._bounded_client import artifact_repository

            self._repos[run_id] = artifact_repository(uri, self.tracking_uri, getattr(self.client, "bound", None))
        return self._repos[run_id]

    def read_artifact(self, run_id: str, path: str) -> bytes:
        with tempfile.TemporaryDirectory(prefix="lolpop-read-") as tmp, _translated("read_artifact"):
            local = Path(self.client.download_artifacts(run_id, artifact_path(path), tmp))
            return _read_limited(local, path)


def _read_limited(local: Path, path: str) -> bytes:
    if not local.is_file():
        raise InvalidInputError(f"artifact {path!r} is a folder, not a file")
    if local.stat().st_size > MAX_ARTIFACT_BYTES:
        raise InvalidInputError(f"artifact {path!r} is larger than {MAX_ARTIFACT_BYTES} bytes")
    return local.read_bytes()


# -- artifact repositories (runs whose artifacts are not local, read by the SQLite reader) --------
def repository_list(artifact_uri: str, rel: str) -> list[FileInfo]:
    """``list_artifacts`` of MLflow's artifact repository for ``artifact_uri`` (S3, GCS...)."""
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    with _translated("list_artifacts"):
        infos = get_artifact_repository(artifact_uri).list_artifacts(rel or None)
    return sorted((_file(i) for i in infos), key=lambda f: f.path)


def repository_read(artifact_uri: str, rel: str) -> bytes:
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    with tempfile.TemporaryDirectory(prefix="lolpop-read-") as tmp, _translated("read_artifact"):
        local = Path(get_artifact_repository(artifact_uri).download_artifacts(rel, dst_path=tmp))
        return _read_limited(local, rel)
