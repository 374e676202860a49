"""A crafted SQLite store file (issue 18, item 5): definitions MLflow never creates — generated or
hidden columns, views, triggers, virtual tables, other columns or types — are refused with a
ConfigError naming what was found, before anything is read; values longer than MLflow ever
writes are refused without being loaded; the `lolpop` command stays within a small memory bound.

Every store here starts as a real MLflow SQLite store written by a lolpop tracker, then is
tampered with ``sqlite3`` the way an attacker with write access to the file would."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lolpop.components import MLFlowMetadataTracker
from lolpop.exceptions import ConfigError
from lolpop.lineage import open_client
from lolpop.store.clients import sqlite as sqlite_client
from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter

ROOT = Path(__file__).resolve().parents[2]
# 100 MB of text per row read, from a 1 MB file.
BOMB = "printf('%.*c', 100000000, 'x')"
#: Address-space limit of the `lolpop` processes below: enough for the command, far too little
#: for what the crafted stores would make it hold (so a regression fails instead of eating the machine).
ADDRESS_SPACE = 1 << 30
#: Peak resident memory allowed to the command on a crafted store (it needs ~30 MB on a sane one).
PEAK_RSS = 128 << 20


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A real MLflow SQLite store with one lolpop resource, and its run id."""
    db = tmp_path_factory.mktemp("crafted") / "mlflow.db"
    tracker = MLFlowMetadataTracker(conf={"config": {"mlflow_tracking_uri": f"sqlite:///{db}",
                                                     "mlflow_experiment_name": "crafted"}})
    dv = tracker.create_resource("customers", type="dataset_version")
    tracker.log_metadata(dv, "note", "hello")
    tracker.log_metadata(dv, "rows", 3)
    run_id = tracker.run.info.run_id
    tracker.stop()
    return db, run_id


def recreate(table: str, old: str, new: str) -> str:
    """SQL that rebuilds ``table`` with column definition ``old`` replaced by ``new`` (a script for
    :func:`crafted`; the placeholder is filled there from the file's own definition)."""
    return f"RECREATE {table}|{old}|{new}"


def crafted(store, tmp_path: Path, *statements: str) -> Path:
    """A copy of ``store`` changed by ``statements`` (SQL, or :func:`recreate` placeholders)."""
    db = tmp_path / "crafted.db"
    shutil.copyfile(store[0], db)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA legacy_alter_table = ON")  # a rename leaves other tables' references alone
    for sql in statements:
        if sql.startswith("RECREATE "):
            table, old, new = sql.removeprefix("RECREATE ").split("|")
            create = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?",
                                  (table,)).fetchone()[0]
            assert old in create, create
            generated = new.split()[0] if "GENERATED" in new else None  # not copied: computed
            kept = [r[1] for r in conn.execute(f"PRAGMA table_xinfo({table})") if r[1] != generated]
            columns = ", ".join(f'"{c}"' for c in kept)
            conn.executescript(f'ALTER TABLE "{table}" RENAME TO "{table}_old"; {create.replace(old, new)}; '
                               f'INSERT INTO "{table}" ({columns}) SELECT {columns} FROM "{table}_old"; '
                               f'DROP TABLE "{table}_old";')
        else:
            conn.executescript(sql)
    conn.commit()
    conn.close()
    return db


# What each tampering must be refused for: the words the error must hold.
TAMPERED = {
    "generated tags.value": (
        [recreate("tags", "value VARCHAR(8000)", f"value VARCHAR(8000) GENERATED ALWAYS AS ({BOMB}) VIRTUAL")],
        ["tags", "'value'", "generated"]),
    "stored generated params.value": (
        [recreate("params", "value VARCHAR(8000) NOT NULL",
                  "value VARCHAR(8000) GENERATED ALWAYS AS (upper(key)) STORED")],
        ["params", "'value'", "generated"]),
    "hidden column added to runs": (
        [f"ALTER TABLE runs ADD COLUMN shadow TEXT GENERATED ALWAYS AS ({BOMB}) VIRTUAL"],
        ["runs", "'shadow'", "generated"]),
    "generated column in a table the reader never reads": (
        [f"ALTER TABLE metrics ADD COLUMN bomb TEXT GENERATED ALWAYS AS ({BOMB}) VIRTUAL"],
        ["metrics", "'bomb'", "generated"]),
    "view": (
        [f"CREATE VIEW tag_view AS SELECT key, {BOMB} AS value FROM tags"],
        ["view", "'tag_view'"]),
    "tags replaced by a view": (
        ["ALTER TABLE tags RENAME TO tags_real",
         f"CREATE VIEW tags AS SELECT key, {BOMB} AS value, run_uuid FROM tags_real"],
        ["view", "'tags'"]),
    "trigger on tags": (
        [f"CREATE TRIGGER tags_audit AFTER INSERT ON tags BEGIN SELECT {BOMB}; END"],
        ["trigger", "'tags_audit'", "'tags'"]),
    "tags replaced by a virtual table": (
        ["ALTER TABLE tags RENAME TO tags_real",
         "CREATE VIRTUAL TABLE tags USING fts5(key, value, run_uuid)",
         "INSERT INTO tags SELECT key, value, run_uuid FROM tags_real"],
        ["virtual table", "'tags'"]),
    "extra column in tags": (
        ["ALTER TABLE tags ADD COLUMN note TEXT"],
        ["tags", "'note'", "MLflow"]),
    "column missing from runs": (
        ["ALTER TABLE runs DROP COLUMN source_version"],
        ["runs", "'source_version'", "missing"]),
    "other type for latest_metrics.value": (
        [recreate("latest_metrics", "value FLOAT NOT NULL", "value TEXT NOT NULL")],
        ["latest_metrics", "'value'", "TEXT", "FLOAT"]),
}


@pytest.mark.parametrize("case", list(TAMPERED), ids=list(TAMPERED))
def test_definitions_mlflow_never_creates_are_refused(store, tmp_path, case):
    statements, words = TAMPERED[case]
    db = crafted(store, tmp_path, *statements)
    before = db.read_bytes()
    with pytest.raises(ConfigError) as err:
        open_client(f"sqlite:///{db}")
    message = str(err.value)
    for word in words:
        assert word in message, (word, message)
    assert str(db) in message
    assert db.read_bytes() == before  # read-only


@pytest.mark.parametrize("case", ["generated tags.value", "view", "hidden column added to runs"])
def test_the_mlflow_client_path_refuses_them_too(store, tmp_path, case, monkeypatch):
    # A store of a schema revision the direct reader does not know is read through MlflowClient,
    # which would read the same generated values: its pre-flight check refuses the file as well.
    statements, words = TAMPERED[case]
    db = crafted(store, tmp_path, *statements)
    monkeypatch.setattr(sqlite_client, "SUPPORTED_REVISIONS", frozenset())
    with pytest.raises(ConfigError) as err:
        MlflowClientAdapter.open(f"sqlite:///{db}")
    assert all(word in str(err.value) for word in words), str(err.value)


def test_values_longer_than_mlflow_writes_are_refused_naming_them(store, tmp_path):
    long_tag = crafted(store, tmp_path, "UPDATE tags SET value = printf('%.*c', 8001, 'x') "
                                        "WHERE key = 'customers.note'")
    client = open_client(f"sqlite:///{long_tag}")
    with pytest.raises(ConfigError, match=r"tags\.value .*'customers\.note'.* 8000 characters") as err:
        client.get_run(store[1])
    assert store[1] in str(err.value)
    client.close()
    exact = crafted(store, tmp_path, "UPDATE tags SET value = printf('%.*c', 8000, 'x') "
                                     "WHERE key = 'customers.note'")
    with open_client(f"sqlite:///{exact}") as client:  # MLflow's own limit is still read
        assert client.get_run(store[1]).data.tags["customers.note"] == "x" * 8000
    long_param = crafted(store, tmp_path, f"INSERT INTO params VALUES ('p', printf('%.*c', 8001, 'x'), '{store[1]}')")
    with open_client(f"sqlite:///{long_param}") as client, \
            pytest.raises(ConfigError, match=r"params\.value .*'p'.* 8000 characters"):
        client.get_run(store[1])
    long_key = crafted(store, tmp_path, "INSERT INTO experiment_tags VALUES (printf('%.*c', 251, 'k'), 'v', 1)")
    with open_client(f"sqlite:///{long_key}") as client, \
            pytest.raises(ConfigError, match=r"experiment_tags\.key .* 250 characters"):
        client.search_experiments()


def test_a_value_that_is_not_text_is_refused_naming_it(store, tmp_path):
    db = crafted(store, tmp_path, "UPDATE tags SET value = CAST('True' AS BLOB) WHERE key = 'customers.exists'")
    with open_client(f"sqlite:///{db}") as client, \
            pytest.raises(ConfigError, match=r"tags\.value of run \w+ key 'customers\.exists' is not text \(bytes\)"):
        client.get_run(store[1])


def test_one_call_reads_at_most_the_read_budget(store, tmp_path, monkeypatch):
    # 300 tags of 8000 characters (2.4 MB): within every per-value limit, over a 1 MiB budget.
    db = crafted(store, tmp_path,
                 "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300) INSERT INTO tags "
                 f"SELECT 'filler.' || i, printf('%.*c', 8000, 'x'), '{store[1]}' FROM n")
    monkeypatch.setattr(sqlite_client, "MAX_READ_BYTES", 1 << 20)
    with open_client(f"sqlite:///{db}") as client:
        with pytest.raises(ConfigError, match=r"one read of 'tags' would take more than 1 MiB"):
            client.get_run(store[1])
        assert client.get_experiment_by_name("crafted").name == "crafted"  # each call has its own budget
    monkeypatch.setattr(sqlite_client, "MAX_READ_BYTES", 4 << 20)
    with open_client(f"sqlite:///{db}") as client:
        assert len(client.get_run(store[1]).data.tags) > 300


def test_a_stored_file_page_cache_setting_is_not_obeyed(store, tmp_path):
    # The file's header can ask for a page cache of any size (the legacy default_cache_size).
    db = crafted(store, tmp_path, "PRAGMA default_cache_size = 2000000000")
    with open_client(f"sqlite:///{db}") as client:
        size = client._conn.execute("PRAGMA cache_size").fetchone()[0]
    assert size < 0 and -size * 1024 <= 16 << 20, size  # KiB, at most 16 MiB


# -- the `lolpop` command, memory-bounded ---------------------------------------------------------
# The command, run by a wrapper that first limits its own address space, then reports its peak
# resident memory at exit. VmHWM (Linux) is the high-water mark of this program's own memory: the
# rusage maximum would carry over the forking pytest process's.
_MEASURED = """
import atexit, re, resource, sys
out, limit = sys.argv.pop(1), int(sys.argv.pop(1))
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

def peak():
    with open("/proc/self/status") as status:
        kib = re.search(r"VmHWM:\\s*(\\d+) kB", status.read()).group(1)
    with open(out, "w") as fh:
        fh.write(kib)

atexit.register(peak)
from lolpop.cli.main import cli
cli(prog_name="lolpop")
"""


def lolpop_bounded(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], int]:
    """The command in a process limited to :data:`ADDRESS_SPACE`; ``(result, peak RSS in bytes)``
    (-1 when the process died before reporting it)."""
    rss_file = tmp_path / "rss"
    rss_file.unlink(missing_ok=True)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{ROOT / 'src'}:{ROOT}", "MLFLOW_DISABLE_TELEMETRY": "true",
           "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-c", _MEASURED, str(rss_file), str(ADDRESS_SPACE), *args], env=env,
                          capture_output=True, text=True, timeout=600)
    peak = int(rss_file.read_text()) * 1024 if rss_file.exists() else -1
    return proc, peak


linux_only = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmHWM is Linux's")


@linux_only
@pytest.mark.parametrize("command", [["show", "customers"], ["show", "customers", "--run", "RUN"],
                                     ["history", "customers"]])
def test_the_command_refuses_a_generated_column_bomb_in_bounded_memory(store, tmp_path, command):
    db = crafted(store, tmp_path, *TAMPERED["generated tags.value"][0])
    assert db.stat().st_size < 2 << 20
    args = [a.replace("RUN", store[1]) for a in command]
    proc, peak = lolpop_bounded(tmp_path, "--tracking-uri", f"sqlite:///{db}", *args)
    assert 0 < peak < PEAK_RSS, (peak, proc.stderr[-2000:])
    assert proc.returncode == 1, (proc.stdout[-2000:], proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr[-2000:]
    assert "tags" in lines[0] and "'value'" in lines[0] and "generated" in lines[0], lines[0]


@linux_only
def test_the_command_refuses_a_huge_stored_value_without_loading_it(store, tmp_path):
    # 64 MB in one tag value of the run (not shown by `show customers`, but read with the run).
    db = crafted(store, tmp_path, f"INSERT INTO tags VALUES ('other', printf('%.*c', 64000000, 'x'), '{store[1]}')")
    proc, peak = lolpop_bounded(tmp_path, "--tracking-uri", f"sqlite:///{db}", "show", "customers", "--run", store[1])
    assert 0 < peak < PEAK_RSS, (peak, proc.stderr[-2000:])
    assert proc.returncode == 1, (proc.stdout[-2000:], proc.stderr[-2000:])
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "tags" in lines[0], proc.stderr[-2000:]
    # The same store, sane again, reads fine in the same bound (the limit is not what refused it).
    sane = crafted(store, tmp_path)
    proc, peak = lolpop_bounded(tmp_path, "--tracking-uri", f"sqlite:///{sane}", "show", "customers")
    assert proc.returncode == 0 and "hello" in proc.stdout, proc.stderr[-2000:]
    assert 0 < peak < PEAK_RSS, peak


# -- the allow-lists are what the installed MLflow creates (tripwires for an MLflow upgrade) -------
def test_a_fresh_mlflow_store_passes_every_check(tmp_path):
    """A store just created by the installed MLflow holds exactly the triggers and generated
    columns allowed, no view or virtual table, and the allow-listed columns of the tables read."""
    from mlflow import MlflowClient

    db = tmp_path / "fresh.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()  # creates the schema, every migration run
    conn = sqlite3.connect(db)
    try:
        columns = {table: {r[1]: r[2] for r in conn.execute(f'PRAGMA table_xinfo("{table}")')}
                   for table in sqlite_client.MLFLOW_COLUMNS}
        triggers = set(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE type = 'trigger'"))
        generated = set(conn.execute("SELECT m.name, x.name, x.hidden FROM sqlite_master m, "
                                     "pragma_table_xinfo(m.name) x WHERE m.type = 'table' AND x.hidden != 0"))
        others = conn.execute("SELECT type, name FROM sqlite_master WHERE type = 'view' "
                              "OR sql LIKE 'CREATE VIRTUAL%'").fetchall()
        sqlite_client.check_definitions(conn, db)
        sqlite_client.check_columns(conn, db)
    finally:
        conn.close()
    # The installed MLflow's declared types are the first of each allow-listed tuple.
    assert columns == {table: {column: types[0] for column, types in expected.items()}
                       for table, expected in sqlite_client.MLFLOW_COLUMNS.items()}
    assert triggers == set(sqlite_client.MLFLOW_TRIGGERS)
    assert generated == set(sqlite_client.MLFLOW_GENERATED)
    assert others == []
    with open_client(f"sqlite:///{db}") as client:
        assert isinstance(client, sqlite_client.SqliteClient)


def test_the_value_limits_read_everything_mlflow_writes():
    from mlflow.utils import validation

    assert sqlite_client.MAX_CHARS["tags.value"] >= validation.MAX_TAG_VAL_LENGTH
    assert sqlite_client.MAX_CHARS["params.value"] >= validation.MAX_PARAM_VAL_LENGTH
    assert sqlite_client.MAX_CHARS["experiment_tags.value"] >= validation.MAX_EXPERIMENT_TAG_VAL_LENGTH
    assert sqlite_client.MAX_CHARS["key"] >= validation.MAX_ENTITY_KEY_LENGTH
    assert sqlite_client.MAX_CHARS["key"] >= validation.MAX_EXPERIMENT_TAG_KEY_LENGTH
    assert sqlite_client._MAX_OTHER_CHARS >= validation.MAX_EXPERIMENT_NAME_LENGTH
    # 20000 characters of 4-byte UTF-8 stay below the size SQLite refuses to load.
    assert sqlite_client.MAX_VALUE_BYTES >= 4 * max(sqlite_client.MAX_CHARS.values())
