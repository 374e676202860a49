"""The one pre-flight check of a store URI, before MLflow opens it — for the tracker (a writer,
``create=True``) and every reader (``create=False``) alike.

MLflow itself reports a bad store as raw SQLAlchemy errors, some only after 101 s of retries,
and its SQL store *writes* on open: it creates the schema in an empty database, upgrades one that
lacks a newer table and creates the default experiment. A writer may let it; a reader must not,
so for a reader the check also proves, read-only, that opening the store writes nothing
(:func:`check_sql_store`). ``http(s)://`` URIs pass here: the server is probed
(:func:`lolpop.store._connection.probe_server`).
"""

from __future__ import annotations

import math
import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from lolpop.exceptions import AuthenticationError, ConfigError, TrackerUnavailableError
from lolpop.layout.uris import is_http, plain_path_hint, redact, sqlite_path

#: Seconds a database server may take to accept a connection, unless the caller says otherwise.
DEFAULT_CONNECT_TIMEOUT = 30.0

_SQLITE_HEADER = b"SQLite format 3\x00"
_DATABASE_ENGINES = ("postgresql", "mysql", "mssql")
#: Drivers SQLAlchemy can use for PostgreSQL, as (URI scheme, module).
_PG_DRIVERS = (("postgresql+psycopg2", "psycopg2"), ("postgresql+psycopg", "psycopg"))
#: A table every MLflow tracking store has.
_MLFLOW_TABLE = "experiments"
# How PostgreSQL / MySQL say that the database is missing, or that the login was refused.
_MISSING_DATABASE = re.compile(r'database "[^"]*" does not exist|unknown database', re.IGNORECASE)
_REFUSED_LOGIN = re.compile(r'authentication failed|role "[^"]*" does not exist|no password supplied|access denied',
                            re.IGNORECASE)


def check_store(uri: str, *, create: bool = True, timeout: float = DEFAULT_CONNECT_TIMEOUT) -> None:
    """Refuse, fast and by name, a tracking URI that cannot be a usable MLflow store.

    MLflow itself reports these cases as raw SQLAlchemy errors, some only after 101 s of retries.
    ``http(s)://`` URIs pass (:func:`lolpop.store._connection.probe_server` checks the server).

    Args:
        uri: the tracking URI.
        create: ``True`` for a writer (the tracker): a missing or 0-byte SQLite file, or an empty
            database, becomes a new store. ``False`` for a reader (the CLI): only an existing
            MLflow store passes, so reading never creates a schema.
        timeout: seconds a database server may take to accept the connection.

    Raises:
        ConfigError: a plain path (``mlflow.db``: the hint says ``sqlite:///mlflow.db``), a
            missing database driver (the message names the fix), an SQLite path that is a folder
            or not an SQLite file, a database that does not exist; with ``create=False`` also a
            missing or empty file, a database without MLflow's tables, and whatever
            :func:`check_sql_store` refuses (opening the store would write). ``err.uri`` holds the
            redacted URI, ``err.path`` the SQLite file.
        AuthenticationError: the database server refused the credentials.
        TrackerUnavailableError: the database server cannot be reached within ``timeout``.

    Example:
        >>> check_store("sqlite:///mlflow.db", create=False)   # the CLI, before reading
    """
    if not isinstance(uri, str) or not uri.strip():
        raise ConfigError(f"the tracking URI must be a non-empty string, got {uri!r:.100}")
    from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE

    hint = plain_path_hint(uri, allow_file_store=MLFLOW_ALLOW_FILE_STORE.get())
    if hint is not None:
        raise ConfigError(hint, uri=redact(uri))
    if is_http(uri):
        return
    scheme = uri.split(":", 1)[0].lower()
    if scheme == "sqlite":
        db = sqlite_path(uri)
        if db is not None:
            _check_sqlite(uri, db, create)
    elif scheme.split("+", 1)[0] in _DATABASE_ENGINES:
        _check_database(uri, create, timeout)
    if not create and is_sql_uri(uri):
        check_sql_store(uri, timeout)


def _check_sqlite(uri: str, db: Path, create: bool) -> None:
    where = f"(tracking URI {redact(uri)})"

    def refuse(problem: str) -> ConfigError:
        return ConfigError(f"{db} {problem} {where}", uri=redact(uri), path=str(db))

    if db.is_dir():
        raise refuse(f"is a folder, not an SQLite database file; point the URI at a file, e.g. sqlite:///{db / 'mlflow.db'}")
    for parent in db.parents:
        if parent.exists():
            if not parent.is_dir():
                raise refuse(f"cannot be created: {parent} is a file, not a folder")
            break
    if not db.exists():
        if create:
            return
        raise refuse("does not exist, so there is no MLflow store to read; run `lolpop quickstart` or check the URI")
    try:
        with open(db, "rb") as f:
            header = f.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise refuse(f"cannot be read: {exc.strerror}") from exc
    if not header:
        if create:
            return  # SQLite treats an empty file as an empty database: MLflow creates the store
        raise refuse("is empty: it holds no MLflow store yet")
    if header != _SQLITE_HEADER:
        raise refuse("is not an SQLite database (its first bytes are not the SQLite header)")
    try:  # a damaged file passes the header check; reading its table list does not
        conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True, timeout=5)
        try:
            found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                 (_MLFLOW_TABLE,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        if "locked" in str(exc):  # busy with another writer: a store after all, let MLflow wait for it
            return
        raise refuse(f"cannot be read as an SQLite database: {exc}") from exc
    if found is None and not create:
        raise refuse("is an SQLite database but holds no MLflow store (no 'experiments' table)")


def _check_database(uri: str, create: bool, timeout: float) -> None:
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    shown = redact(uri)
    if "@" in urlsplit(uri).netloc.rpartition("@")[0]:
        # SQLAlchemy splits the user:password at the first "@" and would send the rest of the
        # password as the host name, into error messages.
        raise ConfigError(f"the user or password in {shown} holds a raw '@'; SQLAlchemy needs it "
                          "percent-encoded as %40", uri=shown)
    try:
        url = sqlalchemy.engine.make_url(uri)
    except sqlalchemy.exc.ArgumentError as exc:
        raise ConfigError(f"{shown} is not a database URI SQLAlchemy can read: {redact(str(exc))}", uri=shown) from exc
    try:
        url.get_dialect().import_dbapi()
    except (ImportError, sqlalchemy.exc.NoSuchModuleError) as exc:
        raise ConfigError(_driver_hint(url, shown, exc), uri=shown) from exc
    backend = url.get_backend_name()
    connect_args = {"connect_timeout": max(1, math.ceil(timeout))} if backend in ("postgresql", "mysql") else {}
    engine = sqlalchemy.create_engine(url, connect_args=connect_args, poolclass=NullPool)
    try:
        with engine.connect():
            pass  # reachable, and the login accepted; what a reader needs inside: check_sql_store
    except sqlalchemy.exc.DBAPIError as exc:
        detail = redact(str(getattr(exc, "orig", None) or exc)).strip()[:300]
        if _MISSING_DATABASE.search(detail):
            raise ConfigError(f"database {url.database!r} does not exist at {shown}; create it (e.g. "
                              f"createdb {url.database}) or fix the tracking URI ({detail})", uri=shown) from exc
        if _REFUSED_LOGIN.search(detail):
            raise AuthenticationError(f"the database at {shown} rejected the credentials: {detail}",
                                      uri=shown) from exc
        raise TrackerUnavailableError(f"the database at {shown} cannot be reached (waited at most "
                                      f"{timeout:g}s to connect): {detail}", uri=shown) from exc
    finally:
        engine.dispose()


def _driver_hint(url: Any, shown: str, exc: BaseException) -> str:
    """What to write or install when SQLAlchemy's driver for a database URI is missing."""
    message = f"{shown}: SQLAlchemy's database driver for {url.drivername!r} is not installed ({exc})."
    if url.get_backend_name() != "postgresql":
        return message + " Install it, or name an installed driver in the URI (dialect+driver://)."
    import importlib.util

    installed = [scheme for scheme, module in _PG_DRIVERS if importlib.util.find_spec(module)]
    if installed:
        return message + f" An installed driver works: write {installed[0]}://... instead."
    return message + " pip install psycopg2-binary and write postgresql+psycopg2://..."


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
