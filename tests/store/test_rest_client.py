"""How the ``lolpop`` command reaches a store: bounded requests, nothing ever created, clear
one-line errors for what is not a store, and no MLflow import on the fast paths."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from mlflow import MlflowClient

from lolpop.cli.main import cli
from lolpop.exceptions import TrackerUnavailableError
from lolpop.store.clients.rest import RestClient, request_options
from tests.support.mlflow_server import free_port

ROOT = Path(__file__).resolve().parents[2]


def lolpop(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The command as a user runs it; ``timeout`` only stops a hang (it is far above the bound)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LOLPOP_"))}
    base["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return subprocess.run([sys.executable, "-m", "lolpop.cli", *args], env={**base, **(env or {})}, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), stderr
    return lines[0]


@pytest.fixture
def silent_server():
    """A socket that accepts connections (the kernel does, backlog) and never answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


# -- bounded requests (hardening #9) -------------------------------------------------------------
def test_a_server_that_never_answers_is_a_one_line_error(silent_server):
    proc = lolpop("--tracking-uri", silent_server, "--timeout", "1.5", "history", "x", timeout=90)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "did not answer" in line and "within 1.5s" in line and silent_server in line
    proc = lolpop("--tracking-uri", silent_server, "show", "x", env={"LOLPOP_TIMEOUT": "1"}, timeout=90)
    assert proc.returncode == 1 and "within 1s" in one_error_line(proc.stderr)


def test_requests_through_mlflow_client_are_bounded_too(silent_server):
    # MLFLOW_WORKSPACE (like an auth plugin) makes the command read through MlflowClient.
    proc = lolpop("--tracking-uri", silent_server, "--timeout", "1", "history", "x",
                  env={"MLFLOW_WORKSPACE": "default"}, timeout=120)
    assert proc.returncode == 1 and "Read timed out" in one_error_line(proc.stderr)


def test_a_server_that_is_down_is_a_one_line_error():
    url = f"http://127.0.0.1:{free_port()}"
    proc = lolpop("--tracking-uri", url, "lineage", "x", timeout=90)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "cannot reach the MLflow tracking server" in line and "Connection refused" in line


@pytest.mark.timeout(60)
def test_rest_client_requests_are_bounded(silent_server):
    client = RestClient(silent_server.replace("http://", "http://user:s3cret@"), timeout=0.5)
    with pytest.raises(TrackerUnavailableError, match="did not answer GET /api/2.0/mlflow/runs/get within 0.5s") as err:
        client.get_run("0" * 32)
    assert "s3cret" not in str(err.value) and "***@127.0.0.1" in str(err.value)


def test_credentials_and_tls_settings_are_mlflows(monkeypatch, tmp_path):
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN",
                 "MLFLOW_TRACKING_INSECURE_TLS", "MLFLOW_TRACKING_SERVER_CERT_PATH", "MLFLOW_TRACKING_CLIENT_CERT_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.mlflow/credentials
    headers, options = request_options()
    assert "Authorization" not in headers and options == {"verify": True}
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", "tok")
    assert request_options()[0]["Authorization"] == "Bearer tok"
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "u")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "p")
    assert request_options()[0]["Authorization"] == "Basic dTpw"  # basic auth wins over the token
    monkeypatch.setenv("MLFLOW_TRACKING_INSECURE_TLS", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_CLIENT_CERT_PATH", "/c.pem")
    assert request_options()[1] == {"verify": False, "cert": "/c.pem"}
    monkeypatch.setenv("MLFLOW_TRACKING_SERVER_CERT_PATH", "/ca.pem")
    with pytest.raises(Exception, match="both set"):
        request_options()
    monkeypatch.delenv("MLFLOW_TRACKING_INSECURE_TLS")
    assert request_options()[1]["verify"] == "/ca.pem"


def test_rest_client_sends_mlflows_credentials(basic_auth_server, monkeypatch):
    server, admin, password = basic_auth_server
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", admin)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)
    assert any(e.name == "Default" for e in RestClient(server.url).search_experiments())
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "wrong")
    result = CliRunner().invoke(cli, ["--tracking-uri", server.url, "history", "x"])
    assert result.exit_code == 1 and "rejected the credentials" in one_error_line(result.output)
    assert password not in result.output


# -- nothing is created (hardening #12) ------------------------------------------------------------
def read(uri: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return lolpop("--tracking-uri", uri, "history", "x", cwd=cwd)


def test_an_empty_file_stays_empty(tmp_path):
    db = tmp_path / "empty.db"
    db.touch()
    proc = read(f"sqlite:///{db}", tmp_path)
    assert proc.returncode == 1
    line = one_error_line(proc.stderr)
    assert "empty file" in line and str(db) in line
    assert db.stat().st_size == 0 and sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_garbage_file_is_named_and_left_alone(tmp_path):
    db = tmp_path / "garbage.db"
    db.write_bytes(b"this is not a database\n" * 200)
    proc = read(f"sqlite:///{db}", tmp_path)
    assert proc.returncode == 1 and f"{db} is not an SQLite database" in one_error_line(proc.stderr)
    assert db.read_bytes() == b"this is not a database\n" * 200


def test_an_sqlite_file_without_mlflow_tables_is_left_alone(tmp_path):
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (x TEXT)")
    conn.commit()
    conn.close()
    before = db.read_bytes()
    proc = read(f"sqlite:///{db}", tmp_path)
    assert proc.returncode == 1 and "without MLflow's tables" in one_error_line(proc.stderr)
    assert db.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["other.db"]


def test_a_missing_file_or_folder_is_not_created(tmp_path):
    for uri in (f"sqlite:///{tmp_path / 'sub' / 'absent.db'}", "mlruns", f"file://{tmp_path / 'store'}"):
        proc = read(uri, tmp_path)
        assert proc.returncode == 1 and "no MLflow store" in one_error_line(proc.stderr), uri
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_plain_path_gets_the_sqlite_uri_hint(tracker, sqlite_uri, tmp_path):
    tracker.stop()
    (tmp_path / "mlflow.db").write_bytes(Path(sqlite_uri.removeprefix("sqlite:///")).read_bytes())
    for uri in ("mlflow.db", "new.db"):
        proc = read(uri, tmp_path)
        assert proc.returncode == 1
        assert f"is a file path, not a tracking URI: an SQLite store is written sqlite:///{uri}" \
            in one_error_line(proc.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mlflow.db"]


def _pg_tables(db) -> int:
    from tests.support.stack import _connect

    conn = _connect(db.name, db.user)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
            return cur.fetchone()[0]
    finally:
        conn.close()


@pytest.mark.postgres
def test_an_empty_postgresql_database_stays_empty_and_a_store_is_read():
    from tests.conftest import require_postgres
    from tests.support.stack import PgDatabase

    db = PgDatabase(require_postgres(), prefix="lolpop_cli_empty").create()
    try:
        proc = lolpop("--tracking-uri", db.uri, "history", "x")
        assert proc.returncode == 1 and "the database is empty" in one_error_line(proc.stderr)
        assert _pg_tables(db) == 0
        db.init_mlflow_schema()  # MLflow's tables, not yet used by MLflow: still nothing to read
        proc = lolpop("--tracking-uri", db.uri, "history", "x")
        assert proc.returncode == 1 and "no experiment yet" in one_error_line(proc.stderr)
        MlflowClient(db.uri).search_experiments()  # first use (a writer) creates the default experiment
        tables = _pg_tables(db)
        proc = lolpop("--tracking-uri", db.uri, "history", "x")  # read through MlflowClient
        assert proc.returncode == 1 and one_error_line(proc.stderr).startswith("Error: no resource 'x' in postgresql")
        assert _pg_tables(db) == tables
    finally:
        db.drop()


# -- start-up cost (flat look-ups, part 2) ----------------------------------------------------------
IMPORTS = r'''
import json, sys
from click.testing import CliRunner
import lolpop.cli.main
loaded = {m for m in ("mlflow", "sqlalchemy", "alembic", "requests") if m in sys.modules}
out = {"import": sorted(loaded)}
if len(sys.argv) > 1:
    result = CliRunner().invoke(lolpop.cli.main.cli, ["--tracking-uri", sys.argv[1], "--experiment", sys.argv[2],
                                                      *sys.argv[3:]])
    assert result.exit_code == 0, result.output
    out["run"] = sorted(m for m in ("mlflow", "sqlalchemy", "alembic", "requests") if m in sys.modules)
print(json.dumps(out))
'''


def _modules(*args: str) -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "LOLPOP_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    proc = subprocess.run([sys.executable, "-c", IMPORTS, *args], env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_the_command_imports_no_mlflow_to_start():
    assert _modules() == {"import": []}


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_reading_a_store_imports_no_mlflow(make_tracker, conf, backend):
    for rows in (3, 4):  # two versions of a deployed model, so diff, impact and the status history have work
        tracker = make_tracker()
        dv = tracker.create_resource("data", type="dataset_version")
        tracker.log_metadata(dv, "rows", rows)
        mv = tracker.create_resource("model", type="model_version")
        tracker.build_model_lineage(mv, [dv])
        tracker.log_tag(mv, "status", "DEPLOYED")
        tracker.stop()
    uri, experiment = conf["config"]["mlflow_tracking_uri"], conf["config"]["mlflow_experiment_name"]
    for command in (["history", "data"], ["show", "data"], ["lineage", "data"], ["diff", "model"],
                    ["impact", "data"], ["history", "model", "--deployments"],
                    ["history", "model", "--deployments", "--at", "2999-01-01"]):
        used = _modules(uri, experiment, *command)["run"]
        assert used == ([] if backend == "sqlite" else ["requests"]), (command, used)


def test_a_server_without_range_reads_answers_from_the_whole_history_once():
    """A server that does not know ``metrics/get-history-bulk-interval`` (404): the same answer,
    from the paged ``metrics/get-history``, and the client says it reads no ranges, so the reader
    searches instead of listing from the version index."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from lolpop.store.clients.rest import RestClient

    run_id = "a" * 32
    history = [{"key": "k", "value": float(v), "timestamp": s, "step": s} for s, v in ((10, 1), (20, 2), (30, 3))]
    asked = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            asked.append(self.path.split("?")[0])
            if self.path.startswith("/api/2.0/mlflow/metrics/get-history?"):
                body, status = json.dumps({"metrics": history}).encode(), 200
            else:
                body, status = b"<html>Not Found</html>", 404
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = RestClient(f"http://127.0.0.1:{server.server_address[1]}", timeout=5)
        assert client.reads_metric_ranges
        assert client.metric_history(run_id, "k", 15, 30, 10) == [(2.0, 20), (3.0, 30)]
        assert not client.reads_metric_ranges
        assert client.metric_history(run_id, "k", 0, 30, 2) is None
        assert asked == ["/api/2.0/mlflow/metrics/get-history-bulk-interval"] + ["/api/2.0/mlflow/metrics/get-history"] * 2
        client.close()
    finally:
        server.shutdown()
