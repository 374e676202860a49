"""An MLflow SQLite store read directly with ``sqlite3``, opened read-only.

MLflow's SQL schema is not a public interface, so this reader only opens databases whose alembic
revision is one it was checked against (:data:`SUPPORTED_REVISIONS`); on any other revision
:meth:`SqliteClient.open` raises :class:`UnknownSchema` and the caller falls back to
``MlflowClient``. The database is opened with ``mode=ro``: reading can neither create a file nor
change one (no schema, no migration, no default experiment).

Filters: the reader translates the subset of MLflow's search syntax that lolpop's own look-ups
use — ``tags.`k` = 'v'`` (also ``!=``, ``LIKE``, ``ILIKE``), ``params.`` likewise, and
``attributes.`` ``status`` / ``run_id`` / ``start_time`` / ``end_time`` comparisons, joined with
``and`` — with MLflow's semantics (case-sensitive ``LIKE``, ties broken by run id).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from lolpop.exceptions import (
    ArtifactNotFoundError,
    ConfigError,
    InvalidInputError,
    ResourceNotFoundError,
    TrackerUnavailableError,
)
from lolpop.layout.uris import redact
from lolpop.lineage.clients.base import (
    MAX_ARTIFACT_BYTES,
    Experiment,
    FileInfo,
    Run,
    RunData,
    RunInfo,
    StoreClient,
    artifact_path,
    metric_value,
)

#: Alembic revisions of MLflow's schema this reader was checked against: MLflow 3.17's chain from
#: ``1b5f0d9ad7c1`` (workspace column on experiments) to its head. None of them changes the
#: columns read here (experiments, experiment_tags, runs, tags, params, latest_metrics). A newer MLflow adds a
#: revision: until it is checked and listed here, such stores are read through MlflowClient.
SUPPORTED_REVISIONS = frozenset({
    "1b5f0d9ad7c1", "e1f2a3b4c5d6", "76601a5f987d", "c3d6457b6d8a", "a5b4c3d2e1f0", "ae8bbe7743c9",
    "7d34483879f0", "da6fb0208061", "89d3d66ed43f", "b7e4c1a90f23", "a8b9c0d1e2f3", "c1d2e3f4a5b6",
    "c3d9e7f1a2b4", "6f8d9c3b2a1e", "1971f2d9a75b", "17e22815139b", "b7e2c1a4d9f3", "75868b020152",
    "dc11669786a5",
})
_MLFLOW_TABLES = ("experiments", "experiment_tags", "runs", "tags", "params", "latest_metrics")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_CHUNK = 500  # ids per IN (...) list, below SQLite's variable limit
_RUN_COLUMNS = "r.run_uuid, r.experiment_id, r.status, r.start_time, r.end_time, r.artifact_uri, " \
               "r.lifecycle_stage, r.name, r.user_id"
_DEFAULT_WORKSPACE = "default"


class UnknownSchema(Exception):
    """The database is an MLflow store whose schema this reader does not know: use MlflowClient."""


def check_file(db: Path, uri: str) -> None:
    """Refuse, with a one-line reason naming it, a file that cannot hold an MLflow store.

    Raises:
        ConfigError: missing, a folder, empty (0 bytes), unreadable, or not SQLite.
    """
    shown = redact(uri)
    if not db.exists():
        raise ConfigError(f"no MLflow store at {shown} ({db} does not exist); "
                          "run `lolpop quickstart` or pass --tracking-uri")
    if db.is_dir():
        raise ConfigError(f"no MLflow store at {shown}: {db} is a folder, not an SQLite file")
    try:
        with db.open("rb") as fh:
            head = fh.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise ConfigError(f"cannot read the MLflow store {db}: {exc.strerror or exc}") from None
    if not head:
        raise ConfigError(f"no MLflow store at {shown}: {db} is an empty file (reading never creates a "
                          "store; a lolpop tracker or `mlflow server` does)")
    if head != _SQLITE_MAGIC:
        raise ConfigError(f"{db} is not an SQLite database, so not an MLflow store ({shown})")


class SqliteClient(StoreClient):
    """Read-only client of an MLflow SQLite file. Build it with :meth:`open`."""

    def __init__(self, conn: sqlite3.Connection, db: Path, tracking_uri: str) -> None:
        self._conn = conn
        self.db = db
        self.tracking_uri = tracking_uri

    @classmethod
    def open(cls, db: Path, tracking_uri: str, timeout: float = 10.0) -> SqliteClient:
        """Open ``db`` read-only after :func:`check_file`.

        Raises:
            ConfigError: not a readable MLflow store.
            UnknownSchema: an MLflow store of a schema revision not in :data:`SUPPORTED_REVISIONS`.
        """
        check_file(db, tracking_uri)
        try:
            conn = sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True, timeout=timeout,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the MLflow store {db} read-only: {exc}") from None
        try:
            cls._check_schema(conn, db)
            conn.execute("PRAGMA case_sensitive_like = true")  # MLflow's LIKE on SQLite
        except BaseException:
            conn.close()
            raise
        return cls(conn, db, tracking_uri)

    @staticmethod
    def _check_schema(conn: sqlite3.Connection, db: Path) -> None:
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise ConfigError(f"{db} cannot be read as an SQLite database ({exc}), so not an MLflow store") from None
        missing = [t for t in _MLFLOW_TABLES if t not in tables]
        if missing:
            raise ConfigError(f"{db} is an SQLite database without MLflow's tables ({', '.join(missing)} "
                              "missing), not an MLflow store")
        if "alembic_version" not in tables:
            raise UnknownSchema("no alembic_version table")
        revisions = [r[0] for r in conn.execute("SELECT version_num FROM alembic_version")]
        if len(revisions) != 1 or revisions[0] not in SUPPORTED_REVISIONS:
            raise UnknownSchema(f"schema revision {revisions!r}")
        columns = {r[1] for r in conn.execute("PRAGMA table_info(experiments)")}
        if "workspace" in columns and conn.execute(
                "SELECT 1 FROM experiments WHERE workspace != ? LIMIT 1", (_DEFAULT_WORKSPACE,)).fetchone():
            raise UnknownSchema("experiments outside the default workspace")

    def _query(self, sql: str, args: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:  # locked for longer than the timeout, I/O error
            raise TrackerUnavailableError(f"cannot read the MLflow store {self.db}: {exc}") from None

    # -- runs --------------------------------------------------------------------------------
    def _runs(self, rows: list[tuple[Any, ...]]) -> list[Run]:
        ids = [row[0] for row in rows]
        tags = self._by_run("SELECT run_uuid, key, value FROM tags", ids)
        params = self._by_run("SELECT run_uuid, key, value FROM params", ids)
        metrics = self._by_run("SELECT run_uuid, key, value, is_nan, step FROM latest_metrics", ids)
        out = []
        for run_id, exp, status, start, end, art, stage, name, user in rows:
            out.append(Run(
                RunInfo(run_id=run_id, experiment_id=str(exp), status=status, start_time=start, end_time=end,
                        artifact_uri=art or "", lifecycle_stage=stage or "active", run_name=name, user_id=user),
                RunData(tags={k: v for k, v in tags.get(run_id, [])},
                        params={k: v for k, v in params.get(run_id, [])},
                        metrics={m[0]: metric_value(m[1], bool(m[2])) for m in metrics.get(run_id, [])},
                        metric_steps={m[0]: m[3] for m in metrics.get(run_id, []) if isinstance(m[3], int)}),
            ))
        return out

    def _by_run(self, select: str, ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
        out: dict[str, list[tuple[Any, ...]]] = {}
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            for row in self._query(f"{select} WHERE run_uuid IN ({','.join('?' * len(chunk))})", chunk):
                out.setdefault(row[0], []).append(row[1:])
        return out

    def search_runs(self, experiment_ids: list[str], filter_string: str = "", max_results: int = 1000,
                    order_by: list[str] | None = None) -> list[Run]:
        exps = [int(e) for e in experiment_ids if str(e).isdigit()]
        if not exps:
            return []
        where, args = parse_filter(filter_string)
        sql = (f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.experiment_id IN ({','.join('?' * len(exps))}) "
               f"AND r.lifecycle_stage = 'active'{''.join(' AND ' + w for w in where)} "
               f"ORDER BY {order_clause(order_by)} LIMIT ?")
        return self._runs(self._query(sql, [*exps, *args, int(max_results)]))

    def get_run(self, run_id: str) -> Run:
        rows = self._query(f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.run_uuid = ?", (run_id,))
        if not rows:
            raise ResourceNotFoundError(f"no MLflow run {run_id!r}")
        return self._runs(rows)[0]

    # -- experiments -------------------------------------------------------------------------
    _EXP = "SELECT experiment_id, name, artifact_location, lifecycle_stage FROM experiments"

    def _experiments(self, rows: list[tuple[Any, ...]]) -> list[Experiment]:
        tags: dict[str, dict[str, str]] = {}
        ids = [r[0] for r in rows]
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i:i + _CHUNK]
            for exp_id, key, value in self._query(
                    "SELECT experiment_id, key, value FROM experiment_tags "
                    f"WHERE experiment_id IN ({','.join('?' * len(chunk))})", chunk):
                tags.setdefault(exp_id, {})[key] = value
        return [Experiment(str(r[0]), r[1], r[2], r[3], tags.get(r[0], {})) for r in rows]

    def search_experiments(self) -> list[Experiment]:
        return self._experiments(self._query(f"{self._EXP} WHERE lifecycle_stage = 'active' ORDER BY experiment_id"))

    def get_experiment(self, experiment_id: str) -> Experiment:
        rows = self._query(f"{self._EXP} WHERE experiment_id = ?", (experiment_id,))
        if not rows:
            raise ResourceNotFoundError(f"no MLflow experiment with id {experiment_id!r}")
        return self._experiments(rows)[0]

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        rows = self._query(f"{self._EXP} WHERE name = ?", (name,))
        return self._experiments(rows)[0] if rows else None

    # -- artifacts ---------------------------------------------------------------------------
    def _root(self, run_id: str) -> tuple[str, Path | None]:
        uri = self.get_run(run_id).info.artifact_uri
        return uri, local_artifact_root(uri)

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        rel = artifact_path(path)
        uri, root = self._root(run_id)
        if root is None:
            from lolpop.lineage.clients.mlflow_adapter import repository_list

            return repository_list(uri, rel)
        folder = root / rel if rel else root
        if not folder.is_dir():
            return []
        out = []
        for entry in folder.iterdir():
            name = f"{rel}/{entry.name}" if rel else entry.name
            is_dir = entry.is_dir()
            out.append(FileInfo(name, is_dir, None if is_dir else entry.stat().st_size))
        return sorted(out, key=lambda f: f.path)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        rel = artifact_path(path)
        uri, root = self._root(run_id)
        if root is None:
            from lolpop.lineage.clients.mlflow_adapter import repository_read

            return repository_read(uri, rel)
        file = root / rel
        if not rel or not file.is_file():
            raise ArtifactNotFoundError(f"run {run_id} has no artifact file {rel!r}")
        if file.stat().st_size > MAX_ARTIFACT_BYTES:
            raise InvalidInputError(f"artifact {rel!r} of run {run_id} is larger than {MAX_ARTIFACT_BYTES} bytes")
        return file.read_bytes()

    def close(self) -> None:
        self._conn.close()


def local_artifact_root(uri: str) -> Path | None:
    """The folder of a local artifact URI (``file:`` or a plain path), else ``None``."""
    if uri.startswith("file:"):
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            return None
        return Path(unquote(parts.path))
    if uri and not re.match(r"^[A-Za-z][A-Za-z0-9+.\-]*:", uri):
        return Path(uri)
    return None


# -- filters -------------------------------------------------------------------------------------
_CLAUSE = re.compile(
    r"""\s*(?P<kind>attributes|attribute|attr|run|tags|tag|params|param|parameters|parameter)\.
        (?:`(?P<bq>[^`]+)`|"(?P<dq>[^"]+)"|(?P<bare>[\w.\-]+))\s*
        (?P<op>!=|<=|>=|=|<|>|(?i:ilike|like))\s*
        (?:'(?P<sv>[^']*)'|"(?P<dv>[^"]*)"|(?P<num>-?\d+))\s*""",
    re.VERBOSE | re.IGNORECASE,
)
_AND = re.compile(r"and\b", re.IGNORECASE)
_ATTRIBUTES = {"status": "status", "run_id": "run_uuid", "start_time": "start_time", "end_time": "end_time"}
_NUMERIC = {"start_time", "end_time"}
_ORDER = re.compile(r"^\s*(?:(?:attributes|attribute|attr|run)\.)?(start_time|end_time)\s*(asc|desc)?\s*$",
                    re.IGNORECASE)


def parse_filter(text: str) -> tuple[list[str], list[Any]]:
    """``(SQL conditions on runs r, arguments)`` for the supported subset of MLflow's filter syntax.

    Raises:
        InvalidInputError: syntax outside the subset (the message names the clause).
    """
    where: list[str] = []
    args: list[Any] = []
    pos, text = 0, text or ""
    while text[pos:].strip():
        if where:
            m_and = _AND.match(text, pos)
            if not m_and:
                raise InvalidInputError(f"filter {text!r}: expected 'and' at {text[pos:]!r}")
            pos = m_and.end()
        m = _CLAUSE.match(text, pos)
        if not m:
            raise InvalidInputError(f"filter {text!r}: the SQLite reader does not support {text[pos:]!r}")
        pos = m.end()
        kind = m["kind"].lower()
        key = m["bq"] or m["dq"] or m["bare"]
        op = m["op"].upper()
        value: Any = m["num"] if m["num"] is not None else (m["sv"] if m["sv"] is not None else m["dv"])
        if kind in ("attributes", "attribute", "attr", "run"):
            column = _ATTRIBUTES.get(key)
            if column is None:
                raise InvalidInputError(f"filter {text!r}: attribute {key!r} is not supported here")
            if (column in _NUMERIC) != (m["num"] is not None):
                raise InvalidInputError(f"filter {text!r}: wrong value type for {key!r}")
            if op in ("LIKE", "ILIKE") and column in _NUMERIC:
                raise InvalidInputError(f"filter {text!r}: {op} on {key!r}")
            where.append(_compare(f"r.{column}", op))
            args.append(int(value) if column in _NUMERIC else value)
            continue
        if m["num"] is not None or op not in ("=", "!=", "LIKE", "ILIKE"):
            raise InvalidInputError(f"filter {text!r}: {kind} values are strings compared with =, !=, LIKE, ILIKE")
        table = "tags" if kind.startswith("tag") else "params"
        where.append(f"EXISTS (SELECT 1 FROM {table} x WHERE x.run_uuid = r.run_uuid AND x.key = ? "
                     f"AND {_compare('x.value', op)})")
        args.extend([key, value])
    return where, args


def _compare(column: str, op: str) -> str:
    if op == "ILIKE":
        return f"lower({column}) LIKE lower(?)"
    return f"{column} {op} ?"


def order_clause(order_by: list[str] | None) -> str:
    """MLflow's ordering: the given keys, then ``start_time DESC`` unless given, then run id."""
    parts: list[str] = []
    seen = set()
    for item in order_by or []:
        m = _ORDER.match(item)
        if not m:
            raise InvalidInputError(f"order_by {item!r} is not supported by the SQLite reader")
        column = m[1].lower()
        seen.add(column)
        parts += [f"r.{column} IS NULL", f"r.{column} {(m[2] or 'ASC').upper()}"]
    if "start_time" not in seen:
        parts += ["r.start_time IS NULL", "r.start_time DESC"]
    return ", ".join(parts + ["r.run_uuid"])
