"""The tripwire of lolpop's compatibility seam with MLflow's private names (``lolpop.store._compat``).

* Each private name lolpop relies on exists in the installed MLflow, with the parameters lolpop
  expects: one test per name, so a failure after an MLflow upgrade names it.
* The fallbacks behave like the MLflow names they replace, on the installed MLflow.
* An MLflow that renamed private names (simulated in a fresh interpreter by renaming them
  throughout MLflow's own code, ``tests/support/renamed_mlflow.py``; nothing mocked): lolpop warns
  once, naming them, falls back, and still records and reads back, on a real ``mlflow server``
  and on SQLite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import mlflow
import pytest
import sqlalchemy
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.store.db import utils as db_utils
from mlflow.utils.mime_type_utils import _guess_mime_type
from mlflow.utils.validation import _validate_tag_name

from lolpop.store import _compat as compat

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize("entry", compat.NAMES, ids=lambda e: e.name)
def test_each_private_name_lolpop_relies_on_exists_in_the_installed_mlflow(entry):
    assert compat._problem(entry) is None, f"MLflow {mlflow.__version__}: {entry.name} {compat._problem(entry)}"


def test_nothing_is_missing_on_the_pinned_mlflow():
    assert compat.missing() == {}
    assert compat.BOUNDED_CLIENT_OK


def test_every_name_says_what_it_is_for_and_what_replaces_it():
    assert len({e.name for e in compat.NAMES}) == len(compat.NAMES)
    for entry in compat.NAMES:
        assert entry.use and entry.fallback, entry.name


def test_a_changed_signature_or_a_lost_name_is_reported():
    lost = compat.PrivateName("mlflow.store.tracking.rest_store", "RestStore._no_such_name", "u", "f", "x")
    moved = compat.PrivateName("mlflow.store.tracking.rest_store", "RestStore._call_endpoint", "u", "f", "x",
                               params=("api", "json_body"))
    unset = compat.PrivateName("mlflow.tracking.client", "MlflowClient._no_such_attribute", "u", "f", "x",
                               set_in="__init__")
    refused = compat.PrivateName("mlflow.utils.rest_utils", "http_request", "u", "f", "x", accepts=("no_such_kw",))
    assert compat._problem(lost).startswith("absent")
    assert "lolpop expects (api, json_body)" in compat._problem(moved)
    assert compat._problem(unset) == "no longer set in MlflowClient.__init__"
    assert compat._problem(refused) == "no longer accepts no_such_kw"
    with pytest.raises(KeyError):
        compat.available("mlflow.no_such_module._name")


@pytest.mark.parametrize("key", ["a", "train.rows", "a b:c-d_e/f", "x" * 250, "../escape", "a/../b", "/abs",
                                 ".", "a//b", "bad$char", "tab\there", "ünï", "a/", "", "./a"])
def test_the_tag_name_fallback_agrees_with_mlflow(key):
    try:
        _validate_tag_name(key)
        expected = True
    except MlflowException:
        expected = False
    assert compat._local_tag_name_ok(key) == expected


@pytest.mark.parametrize("name", ["MLmodel", "MLproject", "model.pkl", "report.html", "data.csv", "conf.yaml",
                                  "notes.txt", "plot.png", "README", "x.ipynb", "dir/sub/v.json", "x.TXT"])
def test_the_mime_type_fallback_agrees_with_mlflow(name):
    assert compat._local_mime_type(name) == _guess_mime_type(name)


def test_the_schema_fallbacks_agree_with_mlflow(tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    MlflowClient(tracking_uri=uri).search_experiments()  # MLflow builds its store
    engine = sqlalchemy.create_engine(uri)
    try:
        assert compat._local_all_tables_exist(engine) is db_utils._all_tables_exist(engine) is True
        assert compat._local_schema_version(engine) == db_utils._get_schema_version(engine)
        assert compat._local_latest_schema_revision() == db_utils._get_latest_schema_revision()
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text("DROP TABLE latest_metrics"))
        assert compat._local_all_tables_exist(engine) is db_utils._all_tables_exist(engine) is False
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------------------------
# an MLflow that renamed private names
# ---------------------------------------------------------------------------------------------
def _run_renamed(rename: list[str], uris: list[str], read_sql: str | None = None) -> tuple[dict, str]:
    args = {"rename": rename, "uris": uris, "experiment": f"compat-{uuid.uuid4().hex[:10]}", "read_sql": read_sql}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)]),
           "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    proc = subprocess.run([sys.executable, "-m", "tests.support.renamed_mlflow", json.dumps(args)], cwd=ROOT,
                          capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return json.loads(proc.stdout.strip().splitlines()[-1]), proc.stderr


def _recorded(result: dict, uri: str) -> None:
    run = result["runs"][uri]
    assert run["prev_run"] == run["first_run"]
    assert run["prev_rows"] == 120 and run["prev_note_len"] == 7000
    assert run["bad_key"] == "refused"
    got = MlflowClient(tracking_uri=uri).get_run(run["first_run"])
    assert got.info.status == "FINISHED" and got.info.end_time is not None


def test_a_missing_bounded_client_name_falls_back_to_mlflows_client_with_one_warning(mlflow_server):
    result, log = _run_renamed(["_V3_APIS"], [mlflow_server.url])
    assert result["missing_at_import"] == ["mlflow.store.tracking.rest_store.RestStore._V3_APIS"]
    assert result["bounded_ok"] is False
    assert result["runs"][mlflow_server.url]["client_type"] == "MlflowClient"
    _recorded(result, mlflow_server.url)
    warnings = [line for line in log.splitlines() if line.startswith("WARNING lolpop.store._compat")]
    assert len(warnings) == 1, log[-3000:]
    text = warnings[0]
    assert f"MLflow {mlflow.__version__}" in text
    assert "mlflow.store.tracking.rest_store.RestStore._V3_APIS (absent" in text
    assert "MLflow's own MlflowClient" in text and "request bound" in text
    assert "exactly-once retry rule" in text and "resends a create" in text


def test_an_mlflow_without_any_of_the_private_names_still_records_and_reads(mlflow_server, tmp_path):
    sqlite_uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    renamed = ["_call_endpoint", "_V3_APIS", "_tracking_client", "_registry_client_lazy", "_download_file",
               "_validate_tag_name", "_guess_mime_type", "_metric_objs", "_all_tables_exist",
               "_get_schema_version", "_get_latest_schema_revision", "TrackingServiceClient"]
    result, log = _run_renamed(renamed, [mlflow_server.url, sqlite_uri], read_sql=sqlite_uri)
    missing = set(result["missing_at_import"])
    for name in ("mlflow.tracking.client.MlflowClient._tracking_client", "mlflow.utils.validation._validate_tag_name",
                 "mlflow.entities.run_data.RunData._metric_objs", "mlflow.utils.mime_type_utils._guess_mime_type",
                 "mlflow.tracking._tracking_service.client.TrackingServiceClient"):
        assert name in missing, name
    assert result["bounded_ok"] is False
    for uri in (mlflow_server.url, sqlite_uri):
        assert result["runs"][uri]["client_type"] == "MlflowClient"
        _recorded(result, uri)
    assert result["read_sql_runs"] >= 2  # the SQL checks' fallbacks let the reader open the store
    warned = "\n".join(line for line in log.splitlines() if line.startswith("WARNING lolpop.store._compat"))
    assert "bounded client needs" in warned
    for name in ("_validate_tag_name", "_metric_objs", "_all_tables_exist", "_get_latest_schema_revision"):
        assert name in warned, name
    assert "Traceback" not in log
