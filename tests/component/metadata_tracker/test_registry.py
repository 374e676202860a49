"""Model versions in MLflow's Model Registry: registered at their first status, aliases follow the
status, ``models:/<id>@deployed`` serves what ``load_model`` predicts, and status and alias change
together: a registry that fails refuses the status (nothing written, tracking goes on).
Permissions on a real auth server: tests/scale/test_auth.py."""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

import lolpop
from lolpop.components import MLFlowMetadataTracker, SklearnModelTrainer
from lolpop.exceptions import ConfigError, LolpopError
from tests.support.data import IRIS_TRANSFORMER, iris_splits
from tests.support.version_index import build_index

RF_FT = {"estimator": "RandomForestClassifier", "training_params": {"n_estimators": 10, "random_state": 7},
         "feature_transformer": "SklearnFeatureTransformer", "feature_transformer_config": IRIS_TRANSFORMER}
LOGREG = {"estimator": "LogisticRegression", "training_params": {"C": 0.5, "max_iter": 500}}
SERVER_OR_SQLITE = pytest.mark.parametrize("backend", ["sqlite", "server"])


@pytest.fixture(scope="module")
def iris():
    return iris_splits()


@pytest.fixture
def pyfunc_uris(monkeypatch, tracking_uri):
    """Point MLflow's own fluent API (``mlflow.pyfunc.load_model``) at the test's store."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", tracking_uri)
    assert mlflow.get_tracking_uri() == tracking_uri and mlflow.get_registry_uri() == tracking_uri


def _train(tracker, model_id, conf, data):
    mv = tracker.create_resource(model_id, type="model_version")
    trainer, experiment = SklearnModelTrainer(conf=conf, metadata_tracker=tracker).build_model(data, mv, winner=True)
    return mv, trainer, experiment


def _aliases(client, name):
    return {alias: str(v) for alias, v in client.get_registered_model(name).aliases.items()}


def _versions(client, name):
    return sorted(client.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))


@SERVER_OR_SQLITE
@pytest.mark.parametrize("trainer_conf", [RF_FT, LOGREG], ids=["with_transformer", "plain"])
def test_deployed_alias_serves_what_load_model_predicts(make_tracker, client, iris, pyfunc_uris, trainer_conf):
    model_id = f"iris_{uuid.uuid4().hex[:8]}"
    first = make_tracker()
    mv, trainer, experiment = _train(first, model_id, trainer_conf, iris)
    # Registration waits for the first status: build_model alone registers nothing.
    assert _versions(client, model_id) == []
    first.log_tag(mv, "status", "PROMOTED")
    [version] = _versions(client, model_id)
    assert version.run_id == experiment.run.info.run_id
    token = version.tags.pop("lolpop.create_token")  # exactly once: the client token of the create
    assert len(token) == 32
    assert version.tags == {"lolpop.workflow_run_id": mv.run.info.run_id, "lolpop.experiment_id": experiment.id,
                            "lolpop.model_version_id": model_id}
    assert _aliases(client, model_id) == {"promoted": str(version.version)}
    first.update_resource(mv, {"status": "DEPLOYED"})
    # The alias of the status left behind goes; the new one points at the version.
    assert _aliases(client, model_id) == {"deployed": str(version.version)}
    first.stop()

    # The LoggedModel behind it belongs to the experiment run and is its output.
    [logged] = client.search_logged_models([experiment.run.info.experiment_id],
                                           filter_string=f"source_run_id = '{experiment.run.info.run_id}'")
    assert version.source == logged.artifact_location
    assert logged.params == {k: str(v) for k, v in trainer_conf["training_params"].items()}
    outputs = client.get_run(experiment.run.info.run_id).outputs
    assert [o.model_id for o in outputs.model_outputs] == [logged.model_id]

    second = make_tracker()
    loaded = second.load_model(None, second.get_resource(model_id, type="model_version"), None)
    served = mlflow.pyfunc.load_model(f"models:/{model_id}@deployed")
    assert np.array_equal(served.predict(iris["X_test"]), loaded.predict(iris["X_test"]))
    assert np.array_equal(served.predict(iris["X_test"]), trainer.predict(iris["X_test"]))


@SERVER_OR_SQLITE
def test_every_status_writer_moves_the_alias_and_versions_are_not_duplicated(make_tracker, client, iris):
    tracker = make_tracker()
    mv, _, _ = _train(tracker, "churn", LOGREG, iris)
    for write, status in [(lambda s: tracker.log_tag(mv, "status", s), "PROMOTED"),
                          (lambda s: tracker.log_metadata(mv, "status", s), "DEPLOYED"),
                          (lambda s: tracker.update_resource(mv, {"status": s}), "ARCHIVED"),
                          (lambda s: tracker.log_tag(mv, "status", s), "DEPLOYED")]:
        write(status)
        assert _aliases(client, "churn").get(status.lower()) == "1"
    tracker.stop()
    # Another process (tracker) sets a status on the same version: it finds version 1.
    other = make_tracker()
    other.log_tag(other.get_resource("churn", type="model_version"), "status", "CANARY")
    assert [str(v.version) for v in _versions(client, "churn")] == ["1"]
    assert _aliases(client, "churn") == {"canary": "1"}  # it left DEPLOYED
    # A new winner for the same model version is registered as a new version at its next status.
    exp = SklearnModelTrainer(conf=RF_FT, metadata_tracker=other).build_model(
        iris, other.get_resource("churn", type="model_version"), winner=True)[1]
    other.log_tag(other.get_resource("churn", type="model_version"), "status", "DEPLOYED")
    versions = _versions(client, "churn")
    assert [(str(v.version), v.tags["lolpop.experiment_id"]) for v in versions][-1] == ("2", exp.id)
    assert _aliases(client, "churn")["deployed"] == "2"


def test_a_version_trained_without_the_registry_is_registered_at_its_next_status(make_tracker, client, iris):
    off = make_tracker(mlflow_registry=False)
    mv, _, experiment = _train(off, "late", LOGREG, iris)
    off.log_tag(mv, "status", "PROMOTED")
    off.stop()
    assert _versions(client, "late") == []
    assert client.search_logged_models([experiment.run.info.experiment_id]) == []
    on = make_tracker()
    on.log_tag(on.get_resource("late", type="model_version"), "status", "DEPLOYED")
    [version] = _versions(client, "late")
    assert version.tags["lolpop.experiment_id"] == experiment.id
    assert _aliases(client, "late") == {"deployed": "1"}


def test_registry_off_writes_no_registry_entries_but_keeps_the_history(make_tracker, client, iris):
    tracker = make_tracker(mlflow_registry=False)
    mv, _, _ = _train(tracker, "quiet", LOGREG, iris)
    tracker.log_tag(mv, "status", "DEPLOYED")
    pj = tracker.create_resource("quiet_predictions", type="prediction_job", parent=mv)
    assert client.search_registered_models(filter_string="name = 'quiet'") == []
    assert client.get_run(pj.run.info.run_id).inputs.model_inputs == []
    [event] = tracker.get_status_history(mv)
    assert (event.new_status, event.registry_version) == ("DEPLOYED", None)


def test_a_status_on_a_version_the_registry_cannot_serve_takes_the_alias_off_the_older_one(make_tracker, client,
                                                                                           iris, caplog):
    """A model version without a registry version (here: no winner) cannot take the alias; left on
    the older version, ``models:/<id>@deployed`` would serve what lolpop no longer reports."""
    model_id = f"handmade_{uuid.uuid4().hex[:8]}"
    first = make_tracker()
    mv, _, _ = _train(first, model_id, LOGREG, iris)
    first.log_tag(mv, "status", "DEPLOYED")
    first.stop()
    assert _aliases(client, model_id) == {"deployed": "1"}
    second = make_tracker()
    bare = second.create_resource(model_id, type="model_version")
    with caplog.at_level(logging.WARNING, logger="lolpop"):
        second.log_tag(bare, "status", "DEPLOYED")
    assert second.get_tag(bare, "status") == "DEPLOYED"
    assert _aliases(client, model_id) == {}
    assert any("alias 'deployed'" in r.getMessage() and "no registry version" in r.getMessage()
               for r in caplog.records)
    second.stop()
    third = make_tracker()
    current = third.get_currently_deployed_model_version(third.create_resource(model_id, type="model_version"))
    assert current is not None and current.run.info.run_id == bare.run.info.run_id


def test_batched_mode_sends_a_status_whose_alias_moved_at_once(make_tracker, client, iris):
    """Held for the next flush, the status could still fail after its alias moved: it goes now."""
    model_id = f"batched_{uuid.uuid4().hex[:8]}"
    tracker = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=60)
    mv, _, _ = _train(tracker, model_id, LOGREG, iris)
    tracker.log_tag(mv, "status", "DEPLOYED")
    assert _aliases(client, model_id) == {"deployed": "1"}
    assert client.get_run(mv.run.info.run_id).data.tags[f"{model_id}.status"] == "DEPLOYED"


@pytest.mark.parametrize("value", ["yes", 1, None])
def test_registry_config_must_be_a_bool(conf, value):
    with pytest.raises(ConfigError, match="mlflow_registry"):
        MLFlowMetadataTracker(conf={"config": {**conf["config"], "mlflow_registry": value}})


@pytest.fixture
def broken_registry_uri(tmp_path):
    """A real SQLite store whose registry refuses every new registered model or version."""
    db = tmp_path / "broken.db"
    uri = f"sqlite:///{db}"
    MlflowClient(uri).search_experiments()  # creates the schema
    with sqlite3.connect(db) as con:
        for table in ("registered_models", "model_versions"):
            con.execute(f"CREATE TRIGGER refuse_{table} BEFORE INSERT ON {table} "
                        "BEGIN SELECT RAISE(ABORT, 'the registry is read-only'); END")
    return uri


def test_a_failing_registry_fails_the_status_writes_nothing_and_tracking_goes_on(broken_registry_uri, iris):
    """The status and its alias change together: a registry that cannot take the version refuses
    the status too (naming the model and ``mlflow_registry: false``), leaves no LoggedModel behind,
    and everything else goes on; with the registry off the status is recorded."""
    conf = {"mlflow_tracking_uri": broken_registry_uri, "mlflow_experiment_name": "broken"}
    client = MlflowClient(broken_registry_uri)
    with MLFlowMetadataTracker(conf=conf) as tracker:
        mv, _, _ = _train(tracker, "m", LOGREG, iris)
        for status in ("PROMOTED", "DEPLOYED"):
            with pytest.raises(LolpopError) as info:
                tracker.log_tag(mv, "status", status)
            assert "'m'" in str(info.value) and "mlflow_registry: false" in str(info.value)
        assert tracker.get_tag(mv, "status") is None
        assert tracker.get_status_history("m") == []
        assert tracker.get_currently_deployed_model_version(mv) is None
        # Nothing the failed attempts built is left (each was deleted again).
        assert client.search_logged_models([tracker.experiment_id]) == []
        pj = tracker.create_resource("m_predictions", type="prediction_job", parent=mv)
        tracker.log_metadata(pj, "rows", 3)
        assert tracker.get_metadata(pj, "rows") == 3
    with MLFlowMetadataTracker(conf={**conf, "mlflow_registry": False}) as off:
        mv, _, _ = _train(off, "m", LOGREG, iris)
        off.log_tag(mv, "status", "DEPLOYED")
        assert [(e.new_status, e.registry_version) for e in off.get_status_history("m")] == [("DEPLOYED", None)]


@SERVER_OR_SQLITE
def test_names_mlflow_cannot_hold_are_skipped_with_a_warning(make_tracker, client, iris, caplog):
    tracker = make_tracker()
    mv, _, _ = _train(tracker, "team:model", LOGREG, iris)
    with caplog.at_level(logging.WARNING, logger="lolpop"):
        tracker.log_tag(mv, "status", "PROMOTED")
        tracker.log_tag(mv, "status", "DEPLOYED")
    assert tracker.get_tag(mv, "status") == "DEPLOYED"
    assert len(tracker.get_status_history(mv)) == 2
    assert [r.getMessage() for r in caplog.records if "registered model name" in r.getMessage()] != []
    good, _, _ = _train(tracker, "good", LOGREG, iris)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="lolpop"):
        tracker.log_tag(good, "status", "Rolled back")
        tracker.log_tag(good, "status", "latest")
        tracker.log_tag(good, "status", "Rolled back")
    assert _aliases(client, "good") == {"rolled_back": "1"}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("'rolled_back'" in m for m in messages) == 1  # warned once
    assert any("'latest'" in m and "no alias" in m for m in messages)


@SERVER_OR_SQLITE
def test_prediction_job_records_the_logged_model_as_its_input(make_tracker, client, iris):
    first = make_tracker()
    mv, _, experiment = _train(first, "scored", LOGREG, iris)
    unregistered = first.create_resource("scored_predictions", type="prediction_job", parent=mv)
    assert client.get_run(unregistered.run.info.run_id).inputs.model_inputs == []  # no status, no registry
    first.log_tag(mv, "status", "DEPLOYED")
    first.stop()
    second = make_tracker()
    pj = second.create_resource("scored_predictions", type="prediction_job",
                                parent=second.get_resource("scored", type="model_version"))
    [logged] = client.search_logged_models([experiment.run.info.experiment_id])
    assert [m.model_id for m in client.get_run(pj.run.info.run_id).inputs.model_inputs] == [logged.model_id]
    assert logged.name == "scored"


SETTER = textwrap.dedent("""
    import json, sys
    from lolpop.components import MLFlowMetadataTracker

    conf, status = json.loads(sys.argv[1]), sys.argv[2]
    with MLFlowMetadataTracker(conf=conf) as tracker:
        tracker.log_tag(tracker.get_resource("raced", type="model_version"), "status", status)
""")


@SERVER_OR_SQLITE
def test_processes_registering_at_once_settle_on_one_version(make_tracker, conf, client, iris, tmp_path):
    off = make_tracker(mlflow_registry=False)
    _train(off, "raced", LOGREG, iris)
    off.stop()
    script = tmp_path / "setter.py"
    script.write_text(SETTER)
    src, root = str(Path(lolpop.__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, root, os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, str(script), json.dumps(conf["config"]), status], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for status in ("PROMOTED", "CANARY")]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    [version] = _versions(client, "raced")
    assert set(_aliases(client, "raced").values()) <= {str(version.version)}
    reader = make_tracker()
    assert {e.registry_version for e in reader.get_status_history("raced")} == {int(version.version)}


def test_registry_requests_of_a_status_change(mlflow_server, iris):
    """The status and its event are one ``log-batch``; the registry adds what _registry.py lists."""
    from tests.support.http_proxy import HttpProxy

    proxy = HttpProxy(mlflow_server.url)
    conf = {"mlflow_tracking_uri": proxy.url, "mlflow_experiment_name": f"budget-{uuid.uuid4().hex[:8]}"}
    build_index(conf)
    tracker = MLFlowMetadataTracker(conf=conf)
    api = "/api/2.0/mlflow/"
    try:
        mv, _, _ = _train(tracker, "counted", LOGREG, iris)

        def writes(status: str) -> dict[str, int]:
            proxy.reset()
            tracker.log_tag(mv, "status", status)
            return {k: v for k, v in proxy.counts().items() if not k.startswith("GET ") and "/search" not in k}

        card = f"PATCH {api}model-versions/update"  # the model card, after each status write
        first = writes("PROMOTED")
        assert first[f"POST {api}runs/log-batch"] == 1
        assert first[f"POST {api}model-versions/create"] == 1
        assert first[f"POST {api}registered-models/alias"] == 1
        assert first[card] == 1
        # DEPLOYED adds its version-index entry (one log_batch to the index run) before the status.
        assert writes("DEPLOYED") == {f"POST {api}runs/log-batch": 2, f"POST {api}registered-models/alias": 1,
                                      f"DELETE {api}registered-models/alias": 1, card: 1}
        # A redeploy: the alias (read first, to be able to move it back) already names the version;
        # the card gains the new event.
        assert writes("DEPLOYED") == {f"POST {api}runs/log-batch": 2, card: 1}
    finally:
        tracker.stop()
        proxy.close()


def test_a_model_lolpop_would_not_load_is_not_registered(tracker, client, iris, tmp_path, caplog):
    """The trust boundary: the registry serves only what lolpop's own loader accepts."""
    from mlflow.sklearn import save_model
    from sklearn.linear_model import LogisticRegression

    mv = tracker.create_resource("pickled", type="model_version")
    exp = tracker.create_resource("manual", type="experiment", parent=mv)
    save_model(LogisticRegression(max_iter=500).fit(iris["X_train"], iris["y_train"]), str(tmp_path / "model"),
               serialization_format="cloudpickle")
    tracker.log_artifact(exp, "model", str(tmp_path / "model"))
    tracker.log_metadata(mv, "winning_experiment_id", exp.id)
    with caplog.at_level(logging.WARNING, logger="lolpop"):
        tracker.log_tag(mv, "status", "DEPLOYED")
    assert tracker.get_tag(mv, "status") == "DEPLOYED"
    assert _versions(client, "pickled") == []
    assert client.search_logged_models([tracker.experiment_id]) == []
    assert any("skops" in r.getMessage() and "is not registered" in r.getMessage() for r in caplog.records)


def test_files_that_are_not_an_mlflow_model_are_not_registered_and_not_an_error(tracker, client, tmp_path, caplog):
    mv = tracker.create_resource("files", type="model_version")
    exp = tracker.create_resource("manual", type="experiment", parent=mv)
    (tmp_path / "model.pkl").write_text("not a model")
    tracker.log_artifact(exp, "model", str(tmp_path / "model.pkl"))
    tracker.log_metadata(mv, "winning_experiment_id", exp.id)
    with caplog.at_level(logging.WARNING, logger="lolpop"):
        tracker.log_tag(mv, "status", "DEPLOYED")
    assert _versions(client, "files") == [] and client.search_logged_models([tracker.experiment_id]) == []
    assert [r.getMessage() for r in caplog.records if "registry" in r.getMessage()] == []
    assert [e.registry_version for e in tracker.get_status_history(mv)] == [None]
