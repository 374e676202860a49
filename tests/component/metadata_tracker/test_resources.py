"""create/get/update/clean resources and their ids, on every backend."""

from __future__ import annotations

import pytest

from lolpop.exceptions import (
    InvalidInputError,
    InvalidResourceIdError,
    ResourceNotFoundError,
)


def test_create_resource_marks_presence_type_parent_and_kwargs(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    pj = tracker.create_resource("churn_predictions", type="prediction_job", parent=mv, prediction_count=42)
    assert pj == ("churn_predictions", tracker.run)
    tags = client.get_run(tracker.run.info.run_id).data.tags
    assert tags["parent_run"] == "True"
    assert tags["churn.exists"] == "True" and tags["churn.type"] == "model_version"
    assert tags["churn_predictions.exists"] == "True"
    assert tags["churn_predictions.parent_id"] == "churn"
    assert tags["churn_predictions.parent_run_id"] == tracker.run.info.run_id
    assert tracker.get_metadata(pj, "prediction_count") == 42


def test_experiment_resource_owns_a_nested_run(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    exp = tracker.create_resource("ignored", type="experiment", parent=mv)
    run_id = exp.run.info.run_id
    assert exp.id == f"{run_id}.churn"
    assert run_id != tracker.run.info.run_id
    nested = client.get_run(run_id)
    assert nested.data.tags["mlflow.parentRunId"] == tracker.run.info.run_id
    assert "parent_run" not in nested.data.tags  # never mistaken for a workflow run
    assert nested.data.tags["lolpop.parent_id"] == "churn"
    # Layout v2: the creation tags are the experiment's structure; no id-keyed tags follow.
    assert nested.data.tags["lolpop.layout"] == "2" and nested.data.tags["lolpop.resource_type"] == "experiment"
    tracker.clean_resource(exp, type="experiment")
    tags = client.get_run(run_id).data.tags
    assert not [k for k in tags if k.startswith(run_id)]
    assert tracker.get_metadata(exp, "parent_run_id") == tracker.run.info.run_id
    assert tracker.get_metadata(exp, "exists") == "True" and tracker.get_metadata(exp, "type") == "experiment"
    assert tracker.get_parent_id(exp, type="experiment") == "churn"
    assert tracker.get_parent_id(exp) == "churn"


def test_experiment_needs_parent(tracker):
    with pytest.raises(InvalidInputError, match="parent"):
        tracker.create_resource("e", type="experiment")


@pytest.mark.parametrize("bad", [None, 5, "", "   ", "quote'd", "back`tick", "_lolpop_x"])
def test_bad_resource_ids_are_refused(tracker, client, bad):
    before = client.get_run(tracker.run.info.run_id).data.tags
    with pytest.raises(InvalidResourceIdError):
        tracker.create_resource(bad, type="dataset_version")
    assert client.get_run(tracker.run.info.run_id).data.tags == before


def test_get_resource_id_rules(tracker):
    assert tracker.get_resource_id(("plain", None)) == "plain"
    assert tracker.get_resource_id(("data/raw/train.v2.csv", None)) == "train_v2"
    with pytest.raises(InvalidInputError):
        tracker.get_resource_id("not a tuple")
    with pytest.raises(InvalidResourceIdError):
        tracker.get_resource_id((None, None))


def test_path_ids_are_recorded_under_their_stem(tracker, client):
    dv = tracker.create_resource("data/train.v2.csv", type="dataset_version")
    tracker.log_metadata(dv, "rows", 10)
    assert dv.id == "data/train.v2.csv"
    assert client.get_run(tracker.run.info.run_id).data.tags["train_v2.rows"] == "10"


def test_get_resource_experiment_and_others(make_tracker):
    first = make_tracker()
    mv = first.create_resource("churn", type="model_version")
    exp = first.create_resource("e", type="experiment", parent=mv)
    got = first.get_resource(exp.id, type="experiment")
    assert got.id == exp.id and got.run.info.run_id == exp.run.info.run_id
    assert first.get_resource("churn", type="model_version").run.info.run_id == first.run.info.run_id
    first.stop()
    second = make_tracker()
    # Not created here: resolves to the newest finished workflow run that recorded it.
    assert second.get_resource("churn", type="model_version").run.info.run_id == first.run.info.run_id
    # An experiment from another tracker is read from the store.
    assert second.get_resource(exp.id, type="experiment").run.info.run_id == exp.run.info.run_id


def test_get_resource_not_found(tracker):
    with pytest.raises(ResourceNotFoundError, match="nope"):
        tracker.get_resource("nope", type="model_version")
    with pytest.raises(ResourceNotFoundError):
        tracker.get_resource("0" * 32 + ".churn", type="experiment")
    with pytest.raises(InvalidResourceIdError):
        tracker.get_resource("not-a-run-id.churn", type="experiment")


def test_update_resource_changes_owned_run_and_records_the_rest(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.update_resource(exp, {"status": "FAILED", "name": "xgb-1", "end_time": 1_700_000_000_000,
                                  "reason": "diverged"})
    run = client.get_run(exp.run.info.run_id)
    assert run.info.status == "FAILED"
    assert run.info.run_name == "xgb-1"
    assert run.info.end_time == 1_700_000_000_000
    assert tracker.get_metadata(exp, "reason") == "diverged"


def test_update_resource_on_shared_run_records_status_as_metadata(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    tracker.update_resource(mv, {"status": "PROMOTED", "accuracy": 0.93})
    run = client.get_run(tracker.run.info.run_id)
    assert run.info.status == "RUNNING"  # the workflow run is not this resource's to end
    assert run.data.tags["churn.status"] == "PROMOTED"
    assert tracker.get_metadata(mv, "accuracy") == 0.93


@pytest.mark.parametrize("updates", [{"status": "DONE-ISH", "x": 1}, "status=FAILED", {"end_time": "soon"}])
def test_update_resource_bad_input_writes_nothing(tracker, client, updates):
    mv = tracker.create_resource("churn", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    before = client.get_run(exp.run.info.run_id)
    with pytest.raises(InvalidInputError):
        tracker.update_resource(exp, updates)
    after = client.get_run(exp.run.info.run_id)
    assert after.data.tags == before.data.tags and after.info.status == before.info.status


def test_clean_resource_ends_experiment_run_only(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.clean_resource(exp, type="experiment")
    tracker.clean_resource(exp, type="experiment")  # idempotent
    tracker.clean_resource(mv, type="model_version")  # shares the workflow run: nothing to end
    assert client.get_run(exp.run.info.run_id).info.status == "FINISHED"
    assert client.get_run(tracker.run.info.run_id).info.status == "RUNNING"
    with pytest.raises(InvalidInputError):
        tracker.clean_resource(("e", "not a run"), type="experiment")
