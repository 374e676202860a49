"""Connecting to a store: bad stores fail fast with lolpop errors, credentials never leak, errors
are mapped by cause (the store's failure vs a local file problem).

The hung / failing server cases (every request bounded) are in ``tests/scale/test_faults.py``.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import traceback
import uuid
from pathlib import Path

import pytest

from lolpop.store._connection import bounded_client, check_store, scrub_chain, warn_with_traceback
from lolpop.components import MLFlowMetadataTracker
from lolpop.exceptions import (
    AuthenticationError,
    ConfigError,
    InvalidInputError,
    LolpopError,
    TrackerUnavailableError,
)
from tests.support.faulty_proxy import FaultyProxy
from tests.support.stack import PG_HOST, PG_PORT, PgDatabase, pg_reachable

IN_CI = os.environ.get("CI", "").lower() == "true"
SECRET = "p@ssw0rd"  # the tail after the first "@" ("ssw0rd") must not show either


def _conf(uri: str, **extra) -> dict:
    return {"mlflow_tracking_uri": uri, "mlflow_experiment_name": f"conn-{uuid.uuid4().hex[:10]}", **extra}


def _chain_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _pg_user() -> str:
    user, reason = pg_reachable()
    if user is None:
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires PostgreSQL")
        pytest.skip(reason)
    return user


# ---------------------------------------------------------------------------------------------
# bad stores: a lolpop error naming the store, in seconds (pytest-timeout guards MLflow's 101 s)
# ---------------------------------------------------------------------------------------------
def _text_file(path: Path) -> Path:
    path.write_text("name,rows\ntrain,1000\n")
    return path


def _random_bytes(path: Path) -> Path:
    path.write_bytes(os.urandom(8192))
    return path


def _damaged(path: Path) -> Path:
    """A real SQLite file whose first page is overwritten: the header check alone would pass it."""
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x BLOB)")
        conn.executemany("INSERT INTO t VALUES (?)", [(os.urandom(100),) for _ in range(200)])
    conn.close()
    data = bytearray(path.read_bytes())
    data[100:4096] = os.urandom(3996)
    path.write_bytes(bytes(data))
    return path


def _folder(path: Path) -> Path:
    path.mkdir()
    return path


def _under_a_file(path: Path) -> Path:
    (path.parent / "plain.txt").write_text("x")
    return path.parent / "plain.txt" / "mlflow.db"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("make", [_text_file, _random_bytes, _damaged, _folder, _under_a_file],
                         ids=["text-file", "random-bytes", "damaged", "folder", "under-a-file"])
def test_a_sqlite_uri_that_is_no_database_is_a_config_error_naming_the_file(tmp_path, make):
    db = make(tmp_path / "garbage.db")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    with pytest.raises(ConfigError) as info:
        MLFlowMetadataTracker(conf=_conf(f"sqlite:///{db}"))
    assert str(db) in str(info.value)
    assert info.value.path == str(db)
    assert info.value.uri == f"sqlite:///{db}"
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing created beside it


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("uri", "hint"), [("mlflow.db", "sqlite:///mlflow.db"),
                                           ("./mlruns", "sqlite:///mlflow.db")])
def test_a_plain_path_as_tracking_uri_gets_the_sqlite_hint(tmp_path, monkeypatch, uri, hint):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    with pytest.raises(ConfigError, match=hint.replace("/", "/")) as info:
        MLFlowMetadataTracker(conf=_conf(uri))
    assert uri in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)
def test_postgresql_without_its_driver_names_the_fix():
    pytest.importorskip("psycopg2")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("psycopg (3) is installed: postgresql:// has its driver here")
    with pytest.raises(ConfigError) as info:
        check_store(f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test")
    assert "postgresql+psycopg2://" in str(info.value)
    assert "psycopg" in str(info.value)


@pytest.mark.timeout(60)
def test_a_missing_postgresql_database_is_a_config_error_at_once():
    user = _pg_user()
    uri = f"postgresql+psycopg2://{user}@{PG_HOST}:{PG_PORT}/nonexistent_{uuid.uuid4().hex[:8]}"
    with pytest.raises(ConfigError) as info:
        MLFlowMetadataTracker(conf=_conf(uri))
    assert "does not exist" in str(info.value)
    assert uri.rsplit("/", 1)[1] in str(info.value)
    assert info.value.uri == uri.replace(f"{user}@", "***@")


@pytest.mark.timeout(60)
def test_an_unreachable_database_server_is_unavailable_not_a_config_error():
    from tests.support.mlflow_server import free_port

    uri = f"postgresql+psycopg2://postgres:{SECRET}@127.0.0.1:{free_port()}/db"
    # "p@ssw0rd" raw in a SQLAlchemy URI would send "ssw0rd@127.0.0.1" as the host name
    with pytest.raises(ConfigError, match="%40") as info:
        MLFlowMetadataTracker(conf=_conf(uri))
    assert "ssw0rd" not in _chain_text(info.value)
    encoded = uri.replace(SECRET, "p%40ssw0rd")
    with pytest.raises(TrackerUnavailableError) as info:
        MLFlowMetadataTracker(conf=_conf(encoded, mlflow_request_timeout=2))
    assert not isinstance(info.value, AuthenticationError)
    assert "ssw0rd" not in _chain_text(info.value)


# ---------------------------------------------------------------------------------------------
# readers (the CLI): bounded_client(create=False) never turns a non-store into a store
# ---------------------------------------------------------------------------------------------
@pytest.mark.timeout(60)
def test_a_reader_refuses_a_missing_or_empty_sqlite_file_and_creates_nothing(tmp_path):
    missing = tmp_path / "missing.db"
    with pytest.raises(ConfigError, match="does not exist"):
        bounded_client(f"sqlite:///{missing}")
    assert not missing.exists()

    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ConfigError, match="empty"):
        bounded_client(f"sqlite:///{empty}")
    assert empty.stat().st_size == 0

    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (text TEXT)")
    with pytest.raises(ConfigError, match="no MLflow store"):
        bounded_client(f"sqlite:///{other}")
    with sqlite3.connect(other) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["notes"]


@pytest.mark.timeout(120)
def test_a_reader_opens_an_existing_store(sqlite_uri):
    MLFlowMetadataTracker(conf=_conf(sqlite_uri)).stop()  # the store exists now
    client = bounded_client(sqlite_uri)
    assert client.search_experiments()


@pytest.mark.timeout(60)
def test_a_reader_refuses_an_empty_postgresql_database_and_creates_no_table():
    user = _pg_user()
    db = PgDatabase(user, prefix="lolpop_empty").create()
    try:
        with pytest.raises(ConfigError, match="no MLflow store"):
            bounded_client(db.uri)
        import sqlalchemy

        engine = sqlalchemy.create_engine(db.uri)
        try:
            assert sqlalchemy.inspect(engine).get_table_names() == []
        finally:
            engine.dispose()
    finally:
        db.drop()


# ---------------------------------------------------------------------------------------------
# errors by cause: a local file problem is not the store's failure
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def stored(tracker, sample_file):
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.log_artifact(dv, "report", str(sample_file))
    return tracker, dv


def test_a_dst_path_that_cannot_be_a_folder_is_invalid_input_naming_it(stored, tmp_path):
    tracker, dv = stored
    blocker = tmp_path / "blocker.txt"
    blocker.write_text("x")
    for dst in (blocker / "under", blocker):
        with pytest.raises(InvalidInputError) as info:
            tracker.get_artifact(dv, "report", dst_path=str(dst))
        assert info.value.path == str(dst)
        assert str(dst) in str(info.value)
    assert Path(tracker.get_artifact(dv, "report")).read_text().startswith("<html>")


def test_a_local_file_error_during_a_download_passes_as_oserror_not_unavailable(stored, tmp_path):
    tracker, dv = stored
    dst = tmp_path / "dst"
    dst.mkdir()
    (dst / "train").write_text("a file where the artifact's folder goes")
    with pytest.raises(OSError) as info:
        tracker.get_artifact(dv, "report", dst_path=str(dst))
    assert not isinstance(info.value, TrackerUnavailableError)
    assert str(dst / "train") in str(info.value)
    assert Path(tracker.get_artifact(dv, "report")).read_text().startswith("<html>")


# ---------------------------------------------------------------------------------------------
# a password holding "@" is redacted whole: repr, logs, the exception chain
# ---------------------------------------------------------------------------------------------
def test_scrub_chain_redacts_causes_and_contexts():
    uri = f"http://alice:{SECRET}@127.0.0.1:5000/api/2.0/mlflow/runs/get"
    try:
        try:
            try:
                raise ConnectionError(f"request to {uri} refused")
            except ConnectionError as inner:
                raise RuntimeError(f"while calling {uri}") from inner
        except RuntimeError:
            raise KeyError(uri)  # noqa: B904 - an implicit __context__ on purpose
    except KeyError as outer:
        scrub_chain(outer)
        text = _chain_text(outer)
    assert "ssw0rd" not in text and "alice" not in text
    assert text.count("http://***@127.0.0.1:5000") == 3


def test_a_warning_with_a_traceback_never_shows_a_password(caplog):
    """What lolpop only warns about (a redraw, a report, a timed flush) logs its traceback through
    warn_with_traceback: the chain is scrubbed first."""
    uri = f"http://alice:{SECRET}@127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/x"
    try:
        try:
            raise ConnectionError(f"connection to {uri} reset")
        except ConnectionError as cause:
            raise RuntimeError(f"API request to {uri} failed") from cause
    except RuntimeError:
        with caplog.at_level(logging.WARNING):
            warn_with_traceback(logging.getLogger("lolpop.test"), "lolpop: could not redraw the lineage page of %r", "m")
    assert "could not redraw the lineage page of 'm'" in caplog.text
    assert "Traceback" in caplog.text and caplog.text.count("http://***@127.0.0.1:5000") == 2
    assert "ssw0rd" not in caplog.text and "alice" not in caplog.text


@pytest.mark.timeout(300)
def test_a_password_with_at_signs_never_leaks(mlflow_server, tmp_path, caplog):
    """The session server does not check credentials, so the tracker works with them; a relay
    in front of it goes silent to provoke MLflow's transport errors, which embed the URL."""
    caplog.set_level(logging.DEBUG)
    with FaultyProxy(mlflow_server.port) as proxy:
        host = proxy.url.split("://", 1)[1]
        uri = f"http://alice:{SECRET}@{host}"
        tracker = MLFlowMetadataTracker(conf=_conf(uri, mlflow_request_timeout=10, mlflow_max_retries=0))
        try:
            dv = tracker.create_resource("train", type="dataset_version")
            tracker.log_metadata(dv, "rows", 1)
            assert f"http://***@{host}" in repr(tracker)
            proxy.set_mode("silent")
            with pytest.raises(TrackerUnavailableError) as info:
                tracker.log_metadata(dv, "rows", 2)
            assert info.value.uri == f"http://***@{host}"
            proxy.set_mode("forward")
        finally:
            tracker.stop()
    for text in (repr(tracker), str(info.value), _chain_text(info.value), caplog.text):
        assert "ssw0rd" not in text and SECRET not in text
    assert f"http://***@{host}" in str(info.value)
    assert f"http://***@{host}" in caplog.text  # the log line names the store, redacted
    assert isinstance(info.value, LolpopError)
