"""What an MLflow SQLite file may hold, checked before anything in it is read (DESIGN.md,
"Trust boundary"): an SQLite file at all, opened read-only with bounds set before any statement
runs, and no SQL of its own that SQLite would run while reading (a generated column, a view, a
trigger other than MLflow's, a virtual table).

A leaf module: the direct reader (:mod:`lolpop.store.clients.sqlite`) and the MlflowClient path
(:mod:`lolpop.store.clients.mlflow_adapter`) both check files with it.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

from lolpop.exceptions import ConfigError
from lolpop.layout.uris import redact

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: Triggers MLflow creates (``(name, table)``), and generated columns (``(table, column, hidden)``,
#: hidden 3 = STORED: computed when a row is written, read back like any stored value). It creates
#: no view, no virtual table, no VIRTUAL generated column. Checked against a fresh store by
#: ``test_a_fresh_mlflow_store_passes_every_check``.
MLFLOW_TRIGGERS = frozenset({("prevent_secrets_aad_mutation", "secrets")})
MLFLOW_GENERATED = frozenset({("spans", "duration_ns", 3)})

#: No single value (string or blob) larger than this is loaded by SQLite at all: reading it fails
#: (``SQLITE_LIMIT_LENGTH``) before any of it is in memory. It is far above any value MLflow
#: writes (20000 characters are at most 80 kB of UTF-8) and bounds what SQLite itself may build,
#: whatever the file says.
MAX_VALUE_BYTES = 1 << 20
#: Page cache of the connection, in KiB (SQLite's ``cache_size`` unit when negative). Set
#: explicitly because the file's header can ask for any size (the legacy ``default_cache_size``).
_CACHE_KIB = 8192
_VIRTUAL = re.compile(r"\s*CREATE\s+VIRTUAL\s+TABLE\b", re.IGNORECASE)


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


def connect(db: Path, timeout: float) -> sqlite3.Connection:
    """A read-only connection to ``db`` with the reader's bounds, before any statement runs.

    Raises:
        ConfigError: the file cannot be opened, or cannot be read as an SQLite database.
    """
    try:
        conn = sqlite3.connect(f"file:{quote(str(db))}?mode=ro", uri=True, timeout=timeout,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot open the MLflow store {db} read-only: {exc}") from None
    try:
        # No value larger than this is ever built or loaded by this connection, whatever the
        # file's SQL computes (SQLite answers "string or blob too big" instead).
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_BYTES)
        # SQL stored in the file (a generated column, a view, a trigger) may only call SQLite's
        # built-in harmless functions — defence in depth, check_definitions refuses such SQL anyway.
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")  # not the size the file's header asks for
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise ConfigError(f"{db} cannot be read as an SQLite database ({exc}), so not an MLflow store") from None
    return conn


def check_definitions(conn: sqlite3.Connection, db: Path) -> None:
    """Refuse a database holding definitions MLflow never creates, before anything is read.

    SQLite evaluates SQL stored in the file when a table is read (a generated column) or when a
    name is used (a view), and a virtual table runs a module's code: none of it is data, and one
    generated column can turn a small file into gigabytes per query. MLflow's schema has none of
    these (its own trigger and STORED generated column are in :data:`MLFLOW_TRIGGERS` and
    :data:`MLFLOW_GENERATED`).

    Raises:
        ConfigError: naming the view, trigger, virtual table or generated/hidden column found.
    """
    try:
        objects = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
        for kind, name, table, sql in objects:
            if kind == "view":
                raise ConfigError(f"{db} holds view {name!r}, which MLflow never creates (a view runs SQL stored "
                                  "in the file): not read as an MLflow store", path=db)
            if kind == "trigger" and (name, table) not in MLFLOW_TRIGGERS:
                raise ConfigError(f"{db} holds trigger {name!r} on table {table!r}, which MLflow never creates: "
                                  "not read as an MLflow store", path=db)
            if kind == "table" and isinstance(sql, str) and _VIRTUAL.match(sql):
                raise ConfigError(f"{db} holds virtual table {name!r}, which MLflow never creates (its content "
                                  "comes from a module's code, not the file): not read as an MLflow store", path=db)
        # hidden: 1 = hidden column of a virtual table, 2 = VIRTUAL generated, 3 = STORED generated.
        hidden = conn.execute(
            "SELECT m.name, x.name, x.hidden FROM sqlite_master m, pragma_table_xinfo(m.name) x "
            "WHERE m.type = 'table' AND x.hidden != 0 ORDER BY m.name, x.cid").fetchall()
    except sqlite3.DatabaseError as exc:
        raise ConfigError(f"{db} cannot be read as an SQLite database ({exc}), so not an MLflow store",
                          path=db) from None
    for table, column, how in hidden:
        if (table, column, how) in MLFLOW_GENERATED:
            continue
        what = {2: "generated (VIRTUAL)", 3: "generated (STORED)"}.get(how, f"hidden ({how})")
        raise ConfigError(f"{db}: column {column!r} of table {table!r} is {what}, which MLflow never creates "
                          "(SQLite computes it from SQL stored in the file): not read as an MLflow store", path=db)
