"""``MlflowClient`` behind the reader protocol: the tracker's own client, and every store the direct
readers do not handle (other databases, SQLite schemas they do not know, file stores, plugin
authentication, Databricks...).

MLflow is imported here only, when this adapter is used. Before MLflow opens a SQL database,
:func:`check_sql_store` makes sure that doing so writes nothing: MLflow's SQL store creates the
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
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lolpop.exceptions import (
    ConfigError,
    InvalidInputError,
    LolpopError,
    ResourceNotFoundError,
    TrackerUnavailableError,
)
from lolpop.layout import index
from lolpop.layout.access import request_user
from lolpop.layout.uris import is_http, redact, sqlite_path
from lolpop.store._errors import mlflow_error
from lolpop.store.clients.base import (
    DEFAULT_ORDER,
    MAX_ARTIFACT_BYTES,
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
    return Experiment(str(exp.experiment_id), exp.name, exp.artifact_location, exp.lifecycle_stage,
                      dict(exp.tags or {}))


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
            check_sql_store(tracking_uri, timeout)
        return cls(MlflowClient(tracking_uri=tracking_uri))

    def search_runs(self, experiment_ids: list[str], filter_string: str = "", max_results: int = 1000,
                    order_by: list[str] | None = None) -> list[Run]:
        from mlflow.entities import ViewType

        with _translated("search_runs"):
            runs = self.client.search_runs(
                experiment_ids=list(experiment_ids), filter_string=filter_string,
                run_view_type=ViewType.ACTIVE_ONLY, max_results=max_results,
                order_by=order_by if order_by is not None else DEFAULT_ORDER)
        return [_run(r) for r in runs]

    def get_run(self, run_id: str) -> Run:
        try:
            with _translated("get_run"):
                return _run(self.client.get_run(run_id))
        except ResourceNotFoundError:
            raise ResourceNotFoundError(f"no MLflow run {run_id!r}") from None

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
            infos = self.client.list_artifacts(run_id, artifact_path(path) or None)
        return sorted((_file(i) for i in infos), key=lambda f: f.path)

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


# -- SQL stores ------------------------------------------------------------------------------------
_SQL_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def is_sql_uri(uri: str) -> bool:
    """A SQLAlchemy database URI (``postgresql://``, ``mysql+pymysql://``, ``sqlite:///``...)."""
    scheme = uri.split(":", 1)[0].lower()
    return scheme.split("+", 1)[0] in _SQL_SCHEMES and ":" in uri


def check_sql_store(uri: str, timeout: float = 10.0) -> None:
    """Make sure MLflow can open the database at ``uri`` without writing to it.

    MLflow's SQL store creates every table in a database that lacks one of them (and then runs
    the migrations), refuses a schema revision other than its own, and creates the default
    experiment when it is missing. This checks, read-only, that none of that would happen.

    An SQLite file is first held to the direct reader's rule on definitions
    (:func:`~lolpop.store.clients.sqlite_file.check_definitions`): MLflow reads a generated column or
    a view as willingly as ``sqlite3`` does.

    Raises:
        ConfigError: empty database, missing MLflow tables, another schema revision, no default
            experiment — the message says what to do —, or an SQLite file holding what MLflow
            never creates (a generated column, a view, a trigger, a virtual table).
        TrackerUnavailableError: the database cannot be reached within ``timeout``.
    """
    import sqlalchemy

    from lolpop.store import _compat as compat

    compat.warn_missing(server=False, sql=True)
    db = sqlite_path(uri)
    if db is not None:
        from lolpop.store.clients import sqlite_file as direct

        direct.check_file(db, uri)
        conn = direct.connect(db, timeout)
        try:
            direct.check_definitions(conn, db)
        finally:
            conn.close()
    shown = redact(uri)
    engine = _engine(uri, timeout)
    try:
        try:
            tables = set(sqlalchemy.inspect(engine).get_table_names())
            own = {t for t in tables if not t.startswith("alembic_")}
            if not own:
                raise ConfigError(f"no MLflow store at {shown}: the database is empty (reading never creates "
                                  "a store; a lolpop tracker or `mlflow server` does)")
            complete = compat.all_tables_exist(engine)
            head = compat.latest_schema_revision()
            if complete is None or head is None:
                # The installed MLflow gives no way to tell whether opening the store would make
                # it create tables or migrate: refuse rather than risk a write.
                raise ConfigError(
                    f"cannot check {shown} against the installed MLflow {_mlflow_version()}, which lacks the "
                    "schema helpers lolpop relies on; reading refuses a store it cannot check (install MLflow "
                    "3.17.0 to 3.18.0, or read through a tracking server)")
            if not complete:
                raise ConfigError(
                    f"{shown} lacks tables of the installed MLflow's schema (an older store, or not an MLflow "
                    "database); MLflow would create or upgrade them, and reading never does: back the "
                    "database up, then run `mlflow db upgrade <uri>`")
            current = compat.schema_version(engine)
            if current != head:
                raise ConfigError(
                    f"{shown} has MLflow schema revision {current!r}; the installed MLflow expects {head!r}: "
                    "upgrade the store (`mlflow db upgrade <uri>`, after a backup) or install the MLflow "
                    "that wrote it")
            with engine.connect() as conn:
                default = conn.execute(sqlalchemy.text(
                    "SELECT 1 FROM experiments WHERE experiment_id = 0")).fetchone()
            if default is None:
                raise ConfigError(f"{shown} has MLflow's tables but no experiment yet, not even the default "
                                  "one MLflow creates on first use; nothing to read (and reading never writes)")
        except sqlalchemy.exc.SQLAlchemyError as exc:
            first = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise TrackerUnavailableError(f"cannot read the database at {shown}: {redact(first)[:300]}") from None
    finally:
        engine.dispose()


def _mlflow_version() -> str:
    import mlflow

    return str(getattr(mlflow, "__version__", "unknown"))


def _engine(uri: str, timeout: float) -> Any:
    """A SQLAlchemy engine that cannot write a SQLite file and gives up connecting in ``timeout``."""
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    db = sqlite_path(uri)
    if db is not None:
        import sqlite3
        from urllib.parse import quote

        target = f"file:{quote(str(db))}?mode=ro"
        return sqlalchemy.create_engine(
            "sqlite://", poolclass=NullPool,
            creator=lambda: sqlite3.connect(target, uri=True, timeout=timeout))
    scheme = uri.split(":", 1)[0].lower()
    args: dict[str, Any] = {}
    if scheme.startswith(("postgresql", "mysql")):
        args["connect_timeout"] = max(1, round(timeout))
    try:
        return sqlalchemy.create_engine(uri, poolclass=NullPool, connect_args=args)
    except (sqlalchemy.exc.ArgumentError, ImportError) as exc:
        raise ConfigError(f"cannot use the database URI {redact(uri)}: {redact(str(exc))[:300]}") from None
