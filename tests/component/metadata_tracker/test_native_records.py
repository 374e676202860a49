"""What lolpop records is also MLflow's own (DESIGN.md, "MLflow-native records"): run names, the
workflow run's description, metrics, dataset inputs, and a lineage page that shows the final
state. Every check reads the store through a separate ``MlflowClient``."""

from __future__ import annotations

import json
import logging
import math
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from lolpop.exceptions import ConfigError
from lolpop.layout.keys import MAX_TAG_VAL_LENGTH, MLFLOW_NOTE

PAGE = "{mv}/lineage/lineage.html"


def _page(client: MlflowClient, run_id: str, mv: str, tmp_path: Path) -> str:
    dst = tmp_path / f"page-{run_id}"
    dst.mkdir(exist_ok=True)
    return Path(client.download_artifacts(run_id, PAGE.format(mv=mv), str(dst))).read_text(encoding="utf-8")


def _table_row(page: str, resource: str) -> str:
    """The row of the page's table for ``resource`` (its first cell)."""
    match = re.search(rf"<tr><td>{re.escape(resource)}(?: ★)?</td>.*?</tr>", page)
    assert match, f"no row for {resource!r}"
    return match.group(0)


# -- names ------------------------------------------------------------------------------------
def test_workflow_run_is_named_after_the_experiment_and_the_utc_start(make_tracker, conf, client):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    tracker = make_tracker()
    after = datetime.now(timezone.utc)
    name = client.get_run(tracker.run.info.run_id).info.run_name
    experiment = conf["config"]["mlflow_experiment_name"]
    match = re.fullmatch(rf"{re.escape(experiment)}-(\d{{8}}-\d{{6}})", name)
    assert match, name
    started = datetime.strptime(match.group(1), "%Y%m%d-%H%M%S").replace(tzinfo=timezone.utc)
    assert before <= started <= after


def test_a_configured_run_name_wins_and_a_bad_one_is_a_clear_error(make_tracker, client):
    tracker = make_tracker(mlflow_run_name="nightly retrain")
    assert client.get_run(tracker.run.info.run_id).info.run_name == "nightly retrain"
    for bad in ("", "  ", 42):
        with pytest.raises(ConfigError, match="mlflow_run_name"):
            make_tracker(mlflow_run_name=bad)


def test_an_experiment_run_is_named_by_the_id_given_to_create_resource(tracker, client):
    mv = tracker.create_resource("churn_model", type="model_version")
    xgb = tracker.create_resource("xgb", type="experiment", parent=mv)
    unnamed = tracker.create_resource(None, type="experiment", parent=mv)  # as lolpop 0.2.0 calls it
    tracker.flush()
    assert client.get_run(xgb.run.info.run_id).info.run_name == "xgb"
    assert client.get_run(unnamed.run.info.run_id).info.run_name == "churn_model-experiment"
    # The id stays what lolpop's layout says it is.
    assert xgb.id == f"{xgb.run.info.run_id}.churn_model"


# -- metrics ----------------------------------------------------------------------------------
def test_numeric_metrics_metadata_are_mlflow_metrics(tracker, client):
    mv = tracker.create_resource("churn_model", type="model_version")
    dv = tracker.create_resource("customers", type="dataset_version")
    exp = tracker.create_resource("xgb", type="experiment", parent=mv)
    tracker.log_metadata(exp, "metrics", {
        # np.float64 is what scikit-learn's metrics return (other numpy numbers: tests/layout/test_native.py)
        "train": {"accuracy": 0.99, "f1": np.float64(0.98), "support": 300, "ok": True},
        "test": {"accuracy": 0.9, "note": "held out"},
        "epochs": 12,
        "converged": False,
    })
    # Shared workflow run: prefixed by the resource id, so two resources never collide.
    tracker.log_metadata(mv, "metrics", {"accuracy": 0.91, "rows": 3})
    tracker.log_metadata(dv, "metrics", {"rows": 1000})

    assert client.get_run(exp.run.info.run_id).data.metrics == {
        "train_accuracy": 0.99, "train_f1": 0.98, "train_support": 300.0, "test_accuracy": 0.9, "epochs": 12.0,
    }
    workflow = client.get_run(tracker.run.info.run_id).data.metrics
    assert workflow == {"churn_model.accuracy": 0.91, "churn_model.rows": 3.0, "customers.rows": 1000.0}
    # The metadata itself is unchanged.
    assert tracker.get_metadata(exp, "metrics")["test"] == {"accuracy": 0.9, "note": "held out"}


def test_metrics_written_through_update_resource_as_build_model_does(tracker, client):
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("LogisticRegression", type="experiment", parent=mv)
    tracker.update_resource(exp, {"model_trainer": "SklearnModelTrainer", "metrics": {"test": {"rocauc": 0.97}}})
    assert client.get_run(exp.run.info.run_id).data.metrics == {"test_rocauc": 0.97}


def test_relogging_metrics_adds_a_point_only_when_a_value_changes(tracker, client):
    mv = tracker.create_resource("m", type="model_version")
    run_id = tracker.run.info.run_id
    tracker.log_metadata(mv, "metrics", {"accuracy": 0.8})
    tracker.log_metadata(mv, "metrics", {"accuracy": 0.8})
    assert [m.value for m in client.get_metric_history(run_id, "m.accuracy")] == [0.8]
    tracker.log_metadata(mv, "metrics", {"accuracy": 0.85})
    assert sorted(m.value for m in client.get_metric_history(run_id, "m.accuracy")) == [0.8, 0.85]
    assert client.get_run(run_id).data.metrics["m.accuracy"] == 0.85


def test_metrics_mlflow_cannot_hold_are_left_out_with_a_warning(tracker, client, caplog):
    mv = tracker.create_resource("m", type="model_version")
    caplog.set_level(logging.WARNING, logger="lolpop.native")
    tracker.log_metadata(mv, "metrics", {"accuracy": 0.8, "bad name?": 1.0})
    assert client.get_run(tracker.run.info.run_id).data.metrics == {"m.accuracy": 0.8}
    assert "bad name?" in caplog.text
    assert tracker.get_metadata(mv, "metrics") == {"accuracy": 0.8, "bad name?": 1.0}
    # NaN is kept as metadata (it round-trips) but is no MLflow metric: left out with a warning.
    tracker.log_metadata(mv, "metrics", {"loss": float("nan"), "recall": 0.5})
    stored = client.get_run(tracker.run.info.run_id).data.metrics
    assert stored["m.recall"] == 0.5 and "m.loss" not in stored
    assert math.isnan(tracker.get_metadata(mv, "metrics")["loss"])
    assert "loss" in caplog.text


def test_batched_metrics_go_out_with_the_run_s_other_writes(make_tracker, client):
    tracker = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=3600)
    mv = tracker.create_resource("m", type="model_version")
    tracker.log_metadata(mv, "metrics", {"accuracy": 0.8})
    assert client.get_run(tracker.run.info.run_id).data.metrics == {}
    tracker.flush()
    assert client.get_run(tracker.run.info.run_id).data.metrics == {"m.accuracy": 0.8}


# -- dataset inputs ---------------------------------------------------------------------------
def _inputs(client: MlflowClient, run_id: str) -> dict[str, tuple[str, str, str, dict[str, str]]]:
    run = client.get_run(run_id)
    return {i.dataset.name: (i.dataset.digest, i.dataset.source_type, i.dataset.source,
                             {t.key: t.value for t in i.tags}) for i in run.inputs.dataset_inputs}


def test_dataset_versions_become_training_inputs_of_the_model_version_and_its_experiments(tracker, client):
    dv = tracker.create_resource("customers", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": "a1" * 20, "uri": "data/customers.csv"})
    web = tracker.create_resource("prices", type="dataset_version")
    tracker.register_vc_resource(web, {"hexsha": "f" * 64, "uri": "https://example.org/prices.csv"})
    plain = tracker.create_resource("notes", type="dataset_version")  # no vc info: not an MLflow dataset
    mv = tracker.create_resource("churn_model", type="model_version")
    exps = [tracker.create_resource(n, type="experiment", parent=mv) for n in ("lr", "xgb")]
    other_mv = tracker.create_resource("other_model", type="model_version")
    other_exp = tracker.create_resource("rf", type="experiment", parent=other_mv)
    tracker.clean_resource(exps[0], type="experiment")  # a finished run still takes inputs

    tracker.build_model_lineage(mv, [dv, web, plain])

    expected = {
        "customers": ("a1" * 18, "local", json.dumps({"uri": "data/customers.csv"}), {"mlflow.data.context": "training"}),
        "prices": ("f" * 36, "http", json.dumps({"url": "https://example.org/prices.csv"}),
                   {"mlflow.data.context": "training"}),
    }
    workflow = tracker.run.info.run_id
    for run_id in (workflow, exps[0].run.info.run_id, exps[1].run.info.run_id):
        assert _inputs(client, run_id) == expected
    assert _inputs(client, other_exp.run.info.run_id) == {}  # another model version's experiment
    profile = client.get_run(workflow).inputs.dataset_inputs[0].dataset.profile
    assert json.loads(profile)["hexsha"] in ("a1" * 20, "f" * 64)  # the full hexsha

    found = client.search_runs([tracker.experiment_id], "dataset.name = 'customers'")
    assert {r.info.run_id for r in found} == {workflow, exps[0].run.info.run_id, exps[1].run.info.run_id}
    found = client.search_runs([tracker.experiment_id], f"dataset.digest = '{'a1' * 18}'")
    assert len(found) == 3

    # Building the lineage again logs nothing twice.
    tracker.build_model_lineage(mv, [dv, web, plain])
    assert len(client.get_run(workflow).inputs.dataset_inputs) == 2


def test_inputs_from_a_dataset_version_of_an_earlier_run_and_inherited_lineage(make_tracker, client):
    first = make_tracker()
    dv = first.create_resource("customers", type="dataset_version")
    first.register_vc_resource(dv, {"hexsha": "c" * 40, "uri": "s3://bucket/customers.parquet"})
    mv = first.create_resource("churn_model", type="model_version")
    first.build_model_lineage(mv, [dv])
    first.stop()

    second = make_tracker()
    old_dv = second.get_resource("customers", type="dataset_version")
    assert old_dv.run.info.run_id == first.run.info.run_id
    mv2 = second.create_resource("churn_model", type="model_version")
    exp = second.create_resource("xgb", type="experiment", parent=mv2)
    second.build_model_lineage(mv2, [])  # inherits the first version's lineage
    expected = {"customers": ("c" * 36, "s3", json.dumps({"uri": "s3://bucket/customers.parquet"}),
                              {"mlflow.data.context": "training"})}
    assert _inputs(client, second.run.info.run_id) == expected
    assert _inputs(client, exp.run.info.run_id) == expected


# -- the workflow run's description -------------------------------------------------------------
def test_the_description_summarises_what_the_run_recorded(make_tracker, client):
    tracker = make_tracker()
    dv = tracker.create_resource("customers", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": "0123456789ab" + "0" * 28, "uri": "data/c.csv"})
    mv = tracker.create_resource("churn_model", type="model_version")
    lr = tracker.create_resource("LogisticRegression", type="experiment", parent=mv)
    xgb = tracker.create_resource("xgb", type="experiment", parent=mv)
    tracker.clean_resource(lr, type="experiment")
    tracker.log_metadata(mv, "winning_experiment_id", xgb.id)
    tracker.build_model_lineage(mv, [dv])
    tracker.log_tag(mv, "status", "DEPLOYED")
    run_id, exp_id = tracker.run.info.run_id, tracker.experiment_id
    assert MLFLOW_NOTE not in client.get_run(run_id).data.tags  # written at stop()
    tracker.stop()

    note = client.get_run(run_id).data.tags[MLFLOW_NOTE]
    assert "**dataset\\_version** (1)" in note and "**model\\_version** (1)" in note
    assert "`customers` — hexsha `0123456789ab`" in note
    assert "status **DEPLOYED**" in note
    ml = "?workflowType=machine_learning"  # MLflow 3.17's Model-training view, not GenAI
    assert f"winning experiment [xgb](#/experiments/{exp_id}/runs/{xgb.run.info.run_id}{ml})" in note
    path = "churn_model/lineage/lineage.html"
    assert f"lineage page [`{path}`](#/experiments/{exp_id}/runs/{run_id}/artifacts/{path}{ml})" in note
    assert "**experiment** (2 nested runs)" in note
    assert f"[LogisticRegression](#/experiments/{exp_id}/runs/{lr.run.info.run_id}{ml}) FINISHED\n" in note
    assert f"[xgb](#/experiments/{exp_id}/runs/{xgb.run.info.run_id}{ml}) FINISHED ★ winner" in note
    # every link in the description opens the Model-training view
    links = re.findall(r"\]\((#/[^)]*)\)", note)
    assert links and all(link.endswith(ml) for link in links)
    assert "ended **FINISHED**" in note


def test_the_description_of_a_failed_run_says_so(make_tracker, client):
    with pytest.raises(RuntimeError):
        with make_tracker() as tracker:
            tracker.create_resource("customers", type="dataset_version")
            raise RuntimeError("boom")
    note = client.get_run(tracker.run.info.run_id).data.tags[MLFLOW_NOTE]
    assert "ended **FAILED**" in note and "`customers`" in note


def test_a_long_description_is_cut_within_mlflow_s_limit_and_says_so(make_tracker, client):
    tracker = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=3600)
    for i in range(60):
        tracker.create_resource(f"dataset_{i:03d}_" + "x" * 150, type="dataset_version")
    tracker.stop()
    note = client.get_run(tracker.run.info.run_id).data.tags[MLFLOW_NOTE]
    assert len(note.encode("utf-8")) <= MAX_TAG_VAL_LENGTH
    assert "more lines left out" in note and "`dataset_000_" in note and "`dataset_059_" not in note


def test_the_description_goes_out_with_the_held_writes(make_tracker, client):
    tracker = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=3600)
    dv = tracker.create_resource("customers", type="dataset_version")
    tracker.log_metadata(dv, "rows", 3)
    tracker.stop()
    tags = client.get_run(tracker.run.info.run_id).data.tags
    assert tags["customers.rows"] == "3" and "`customers`" in tags[MLFLOW_NOTE]


# -- the lineage page shows the final state -----------------------------------------------------
def test_the_lineage_page_is_drawn_again_at_stop_with_statuses_and_prediction_jobs(tracker, client, tmp_path):
    dv = tracker.create_resource("customers", type="dataset_version")
    mv = tracker.create_resource("churn_model", type="model_version")
    tracker.build_model_lineage(mv, [dv])
    run_id = tracker.run.info.run_id
    early = _page(client, run_id, "churn_model", tmp_path)
    assert "churn_model_predictions" not in early and "RUNNING" in _table_row(early, "churn_model")

    tracker.log_tag(mv, "status", "DEPLOYED")
    tracker.create_resource("churn_model_predictions", type="prediction_job", parent=mv, prediction_count=7)
    tracker.stop()

    page = _page(client, run_id, "churn_model", tmp_path)
    assert "status=DEPLOYED" in _table_row(page, "churn_model")
    assert "FINISHED" in _table_row(page, "churn_model") and "RUNNING" not in page
    job = _table_row(page, "churn_model_predictions")
    assert "downstream" in job and "prediction_count=7" in job and run_id in job
    assert ">predicted</text>" in page


def test_a_later_prediction_job_redraws_the_model_version_s_page_in_its_own_run(make_tracker, client, tmp_path):
    first = make_tracker()
    dv = first.create_resource("customers", type="dataset_version")
    mv = first.create_resource("churn_model", type="model_version")
    first.build_model_lineage(mv, [dv])
    first.log_tag(mv, "status", "DEPLOYED")
    first.stop()
    train_run = first.run.info.run_id
    assert "churn_model_predictions" not in _page(client, train_run, "churn_model", tmp_path)

    second = make_tracker()
    deployed = second.get_resource("churn_model", type="model_version")
    second.create_resource("churn_model_predictions", type="prediction_job", parent=deployed)
    second.stop()

    page = _page(client, train_run, "churn_model", tmp_path)
    job = _table_row(page, "churn_model_predictions")
    assert second.run.info.run_id in job and "FINISHED" in job
    # Only the model version's own run holds its page; the prediction run holds none.
    assert client.list_artifacts(second.run.info.run_id, "churn_model") == []


def test_a_prediction_job_on_a_running_model_version_leaves_the_page_to_that_run(make_tracker, client, tmp_path):
    first = make_tracker()
    dv = first.create_resource("customers", type="dataset_version")
    mv = first.create_resource("churn_model", type="model_version")
    first.build_model_lineage(mv, [dv])
    second = make_tracker()
    second.create_resource("churn_model_predictions", type="prediction_job", parent=mv)
    second.stop()  # the first run is still running: its own stop() draws the page
    assert "churn_model_predictions" not in _page(client, first.run.info.run_id, "churn_model", tmp_path)
    first.stop()
    page = _page(client, first.run.info.run_id, "churn_model", tmp_path)
    assert second.run.info.run_id in _table_row(page, "churn_model_predictions")


def test_a_failing_page_never_keeps_the_runs_from_ending(make_tracker, client, caplog, monkeypatch):
    tracker = make_tracker()
    dv = tracker.create_resource("customers", type="dataset_version")
    mv = tracker.create_resource("churn_model", type="model_version")
    tracker.build_model_lineage(mv, [dv])
    exp = tracker.create_resource("xgb", type="experiment", parent=mv)

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("lolpop.component.metadata_tracker._native.log_lineage_page", broken)
    caplog.set_level(logging.WARNING, logger="lolpop.native")
    tracker.stop()
    assert "could not redraw the lineage page" in caplog.text
    assert client.get_run(tracker.run.info.run_id).info.status == "FINISHED"
    assert client.get_run(exp.run.info.run_id).info.status == "FINISHED"
    assert MLFLOW_NOTE in client.get_run(tracker.run.info.run_id).data.tags


def test_an_experiment_lolpop_creates_says_it_holds_training_runs(make_tracker, client):
    """MLflow 3's UI opens an experiment on its GenAI overview unless the experiment says what it
    is: lolpop's hold training runs (issue 20)."""
    t = make_tracker()
    assert client.get_experiment(t.experiment_id).tags["mlflow.experimentKind"] == "custom_model_development"
