"""The tripwire of lolpop's compatibility seam with MLflow's private names (``lolpop._mlflow_compat``).

* Each private name lolpop relies on exists in the installed MLflow, with the parameters lolpop
  expects: one test per name, so a failure after an MLflow upgrade names it.
* The fallbacks behave like the MLflow names they replace, on the installed MLflow.
"""

from __future__ import annotations


import mlflow
import pytest
import sqlalchemy
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.store.db import utils as db_utils
from mlflow.utils.mime_type_utils import _guess_mime_type
from mlflow.utils.validation import _validate_tag_name

from lolpop import _mlflow_compat as compat


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
