"""Exactly once (DESIGN.md, "Lifecycle"): a create whose answer is lost after the server applied
it leaves one record, and nothing RUNNING or PENDING.

A real ``mlflow server`` sits behind :class:`~tests.support.http_proxy.HttpProxy`, which
forwards a chosen request, lets the server apply it, and drops the answer (or holds it until the
client has given up, then applies it: a late commit). Before lolpop's one retry rule, MLflow's
session resent every such create: a second workflow run / experiment run / index run stayed
RUNNING for ever, a second LoggedModel stayed PENDING, a second registry version appeared.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from mlflow import MlflowClient
from mlflow.entities import ViewType

from lolpop.components import MLFlowMetadataTracker, SklearnModelTrainer
from lolpop.layout import index
from tests.support.http_proxy import HttpProxy
from tests.support.data import iris_splits

LOGREG = {"estimator": "LogisticRegression", "training_params": {"C": 0.5, "max_iter": 500}}
#: Short, so a dropped answer is noticed quickly; the retries still ride out the test's faults.
TIMEOUT = 3


@pytest.fixture
def proxy(mlflow_server) -> Iterator[HttpProxy]:
    with HttpProxy(mlflow_server.url) as p:
        yield p


@pytest.fixture
def client(mlflow_server) -> MlflowClient:
    return MlflowClient(tracking_uri=mlflow_server.url)  # straight to the server, not the proxy


def _tracker(proxy: HttpProxy, experiment: str) -> MLFlowMetadataTracker:
    return MLFlowMetadataTracker(conf={"mlflow_tracking_uri": proxy.url, "mlflow_experiment_name": experiment,
                                       "mlflow_request_timeout": TIMEOUT})


def _runs(client: MlflowClient, experiment: str) -> list[Any]:
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], run_view_type=ViewType.ACTIVE_ONLY, max_results=1000)


def _assert_settled(client: MlflowClient, experiment: str, workflow_runs: int, experiment_runs: int = 0) -> None:
    runs = _runs(client, experiment)
    kinds = {"workflow": 0, "experiment": 0, "index": 0}
    for run in runs:
        tags = run.data.tags
        if tags.get(index.INDEX_RUN_TAG) == "True":
            kinds["index"] += 1
        elif tags.get("parent_run") == "True":
            kinds["workflow"] += 1
        else:
            kinds["experiment"] += 1
    assert kinds == {"workflow": workflow_runs, "experiment": experiment_runs, "index": 1}, kinds
    assert {r.info.status for r in runs} == {"FINISHED"}, [(r.info.run_name, r.info.status) for r in runs]
    # One record per client token: nothing applied twice.
    tokens = [r.data.tags.get("lolpop.create_token") for r in runs]
    assert len(tokens) == len(set(tokens))


def test_a_lost_answer_to_the_workflow_run_create_leaves_one_run(proxy, client):
    experiment = f"once-{uuid.uuid4().hex[:8]}"
    MLFlowMetadataTracker(conf={"mlflow_tracking_uri": proxy.url, "mlflow_experiment_name": experiment}).stop()
    proxy.drop("/runs/create")
    tracker = _tracker(proxy, experiment)
    assert proxy.applied == 1
    tracker.create_resource("data", type="dataset_version")
    tracker.stop()
    _assert_settled(client, experiment, workflow_runs=2)


def test_a_lost_answer_to_a_nested_run_create_leaves_one_experiment_run(proxy, client):
    experiment = f"once-{uuid.uuid4().hex[:8]}"
    tracker = _tracker(proxy, experiment)
    mv = tracker.create_resource("model", type="model_version")
    proxy.drop("/runs/create")
    exp = tracker.create_resource("candidate", type="experiment", parent=mv)
    assert proxy.applied == 1
    tracker.log_metadata(exp, "metrics", {"accuracy": 0.9})
    tracker.stop()
    _assert_settled(client, experiment, workflow_runs=1, experiment_runs=1)
    # the experiment's run (the version index is a nested run too, out of the user's sight)
    [nested] = [r for r in _runs(client, experiment)
                if r.data.tags.get("mlflow.parentRunId") and r.data.tags.get(index.INDEX_RUN_TAG) != "True"]
    assert nested.info.run_id == exp.run.info.run_id
    assert nested.data.metrics == {"accuracy": 0.9}


def test_a_lost_answer_to_the_index_run_create_leaves_one_index(proxy, client):
    experiment = f"once-{uuid.uuid4().hex[:8]}"
    proxy.drop("/runs/create")  # the first create in a new experiment is its index run's
    tracker = _tracker(proxy, experiment)
    assert proxy.applied == 1
    tracker.create_resource("data", type="dataset_version")
    tracker.stop()
    _assert_settled(client, experiment, workflow_runs=1)
    again = _tracker(proxy, experiment)
    assert again.get_prev_resource_version(again.create_resource("data", type="dataset_version")) is not None
    again.stop()


def test_a_late_commit_after_the_look_up_is_removed_at_stop(proxy, client):
    """The server applies the create only after the client gave up and found nothing: the
    client creates again, and the late record is found and removed at ``stop()``."""
    experiment = f"once-{uuid.uuid4().hex[:8]}"
    tracker = _tracker(proxy, experiment)
    mv = tracker.create_resource("model", type="model_version")
    proxy.drop("/runs/create", late=TIMEOUT + 4)
    exp = tracker.create_resource("candidate", type="experiment", parent=mv)
    proxy.wait_applied(1)
    late = [r for r in _runs(client, experiment)
            if r.data.tags.get("mlflow.parentRunId") and r.data.tags.get(index.INDEX_RUN_TAG) != "True"]
    assert len(late) == 2 and {r.info.status for r in late} == {"RUNNING"}  # the fault happened
    tracker.stop()
    _assert_settled(client, experiment, workflow_runs=1, experiment_runs=1)
    # the experiment's run (the version index is a nested run too, out of the user's sight)
    [nested] = [r for r in _runs(client, experiment)
                if r.data.tags.get("mlflow.parentRunId") and r.data.tags.get(index.INDEX_RUN_TAG) != "True"]
    assert nested.info.run_id == exp.run.info.run_id


@pytest.mark.parametrize("endpoint", ["/logged-models", "/registered-models/create", "/model-versions/create"])
def test_a_lost_answer_to_a_registry_create_leaves_one_record(proxy, client, endpoint):
    experiment = f"once-{uuid.uuid4().hex[:8]}"
    model_id = f"iris_{uuid.uuid4().hex[:8]}"
    tracker = _tracker(proxy, experiment)
    mv = tracker.create_resource(model_id, type="model_version")
    SklearnModelTrainer(conf=LOGREG, metadata_tracker=tracker).build_model(iris_splits(), mv, winner=True)
    proxy.drop(endpoint)
    tracker.log_tag(mv, "status", "DEPLOYED")
    assert proxy.applied == 1, proxy.dropped
    tracker.stop()
    exp_id = client.get_experiment_by_name(experiment).experiment_id
    models = client.search_logged_models([exp_id])
    assert len(models) == 1 and str(models[0].status) == "READY", [(m.model_id, m.status) for m in models]
    versions = client.search_model_versions(f"name = '{model_id}'")
    assert [v.version for v in versions] == ["1"]
    assert {k: str(v) for k, v in client.get_registered_model(model_id).aliases.items()} == {"deployed": "1"}
    _assert_settled(client, experiment, workflow_runs=1, experiment_runs=1)


def test_a_dataset_input_whose_answer_is_lost_lands_once(proxy, client):
    """build_model_lineage logs the dataset input on the model version's run and each experiment
    run; one log_inputs whose answer is lost after the server applied it is resent, and every run
    holds the dataset input once, all before the call returns."""
    experiment = f"once-{uuid.uuid4().hex[:8]}"
    tracker = _tracker(proxy, experiment)
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": "c" * 40, "uri": "train.csv"})
    mv = tracker.create_resource("model", type="model_version")
    trials = [tracker.create_resource(f"trial_{i}", type="experiment", parent=mv) for i in range(6)]
    for trial in trials:
        tracker.clean_resource(trial, "experiment")
    proxy.reset()
    proxy.drop("/runs/log-inputs")
    tracker.build_model_lineage(mv, [dv])
    assert proxy.applied == 1, proxy.dropped
    assert proxy.counts()["POST /api/2.0/mlflow/runs/log-inputs"] == 8  # 7 runs, one of them resent
    for run_id in [mv.run.info.run_id] + [t.run.info.run_id for t in trials]:
        inputs = client.get_run(run_id).inputs.dataset_inputs
        assert [(i.dataset.name, i.dataset.digest) for i in inputs] == [("train", "c" * 36)], run_id
    tracker.stop()


def test_a_new_datasets_inputs_to_many_runs_all_land(proxy, client):
    """MLflow creates an experiment's dataset record on its first log_inputs without a lock: two
    first requests at once fail on its unique key (the reason build_model_lineage sends the runs'
    inputs in turn; sending them together was measured and gained nothing). Every
    build_model_lineage here names a dataset version the experiment has never seen, with several
    experiment runs, and all land once."""
    experiment = f"once-{uuid.uuid4().hex[:8]}"
    tracker = _tracker(proxy, experiment)
    for n in range(4):
        dv = tracker.create_resource(f"data_{n}", type="dataset_version")
        tracker.register_vc_resource(dv, {"hexsha": f"{n}" * 40, "uri": f"data_{n}.csv"})
        mv = tracker.create_resource(f"model_{n}", type="model_version")
        trials = [tracker.create_resource(f"trial_{n}_{i}", type="experiment", parent=mv) for i in range(5)]
        tracker.build_model_lineage(mv, [dv])
        for run_id in [mv.run.info.run_id] + [t.run.info.run_id for t in trials]:
            names = [i.dataset.name for i in client.get_run(run_id).inputs.dataset_inputs]
            assert names.count(f"data_{n}") == 1, (run_id, names)
    tracker.stop()
