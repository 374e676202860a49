"""The ``lolpop`` command through click's CliRunner, on stores built with the tracker."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from lolpop.cli.main import cli

COMMANDS = ["quickstart", "lineage", "history", "show"]


@pytest.fixture
def store(make_tracker, conf):
    """Two workflow runs: data + model (two experiments) + lineage, then a prediction job."""
    first = make_tracker()
    dv = first.create_resource("customers", type="dataset_version")
    first.register_vc_resource(dv, {"hexsha": "c" * 40, "uri": "data/customers.csv"},
                               additional_metadata={"rows": 1234, "schema": {"id": "int"}})
    mv = first.create_resource("churn_model", type="model_version")
    exps = [first.create_resource(n, type="experiment", parent=mv) for n in ("lr", "rf")]
    first.log_metadata(exps[0], "params", {"C": 0.5})
    first.log_metadata(mv, "winning_experiment_id", exps[0].id)
    first.build_model_lineage(mv, [dv])
    first.log_tag(mv, "status", "DEPLOYED")
    first.stop()
    second = make_tracker()
    pj = second.create_resource("churn_model_predictions", type="prediction_job",
                                parent=second.get_resource("churn_model", type="model_version"),
                                prediction_count=7)
    second.stop()
    return {"uri": conf["config"]["mlflow_tracking_uri"], "run": first.run.info.run_id,
            "pj_run": pj.run.info.run_id, "experiment": conf["config"]["mlflow_experiment_name"],
            "experiments": [e.id for e in exps]}


def invoke(store, *args):
    runner = CliRunner()
    scope = [] if args and args[0] == "--experiment" else ["--experiment", store["experiment"]]
    return runner.invoke(cli, ["--tracking-uri", store["uri"], *scope, *args], catch_exceptions=False,
                         env={"COLUMNS": "200"})


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_help_on_every_command(command):
    result = CliRunner().invoke(cli, ([command] if command else []) + ["--help"])
    assert result.exit_code == 0
    assert "Usage: " in result.output
    if command is None:
        for name in COMMANDS:
            assert name in result.output


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_lineage_tree_and_formats(store, tmp_path):
    result = invoke(store, "lineage", "churn_model")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "upstream (made from)" in out and "downstream (used by)" in out
    assert f"[trained] customers  dataset_version · run {store['run']}" in out
    assert f"[predicted] churn_model_predictions  prediction_job · run {store['pj_run']}" in out
    assert "[winner]" in out and "[candidate]" in out

    result = invoke(store, "lineage", "customers", "--run", store["run"], "--format", "json")
    data = json.loads(result.output)
    assert {n["id"] for n in data["nodes"]} == {"customers", "churn_model", "churn_model_predictions"}

    for fmt, marker in (("mermaid", "flowchart LR"), ("dot", "digraph lineage"), ("html", "<svg")):
        target = tmp_path / f"lineage.{fmt}"
        result = invoke(store, "lineage", "churn_model", "--format", fmt, "-o", str(target))
        assert result.exit_code == 0, result.output
        assert marker in target.read_text()


def test_lineage_direction_and_experiment_option(store):
    result = invoke(store, "--experiment", store["experiment"], "lineage", "churn_model_predictions",
                    "--direction", "upstream", "--depth", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    assert {n["id"] for n in json.loads(result.output)["nodes"]} == {"churn_model_predictions", "churn_model"}


def test_history_lists_versions(store):
    result = invoke(store, "history", "churn_model")
    assert result.exit_code == 0, result.output
    assert store["run"] in result.output and "DEPLOYED" in result.output and "FINISHED" in result.output
    assert "History of churn_model (model_version): 1 version(s)" in result.output
    result = invoke(store, "history", "customers")
    assert "cccccccccc" in result.output and "rows=1234" in result.output


def test_history_prints_metadata_highlights_one_per_line(make_tracker, conf):
    tracker = make_tracker()
    dv = tracker.create_resource("sales", type="dataset_version")
    for key, value in (("rows", 10), ("cols", 3), ("source", "warehouse")):
        tracker.log_metadata(dv, key, value)
    tracker.stop()
    result = invoke({"uri": conf["config"]["mlflow_tracking_uri"],
                     "experiment": conf["config"]["mlflow_experiment_name"]}, "history", "sales")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    for highlight in ("rows=10", "cols=3", "source=warehouse"):
        assert any(highlight in line for line in lines), highlight
    assert "\\n" not in result.output  # joined by line breaks, not by a printed backslash-n


def test_show_every_tag_metadata_and_artifact(store):
    result = invoke(store, "show", "churn_model")
    assert result.exit_code == 0, result.output
    out = result.output
    for text in ("winning_experiment_id", store["experiments"][0], "dataset_versions", "DEPLOYED",
                 "churn_model/lineage/lineage.html", "model_version", "json"):
        assert text in out, text
    # the run's page in the MLflow UI, in its Model-training view
    assert re.search(r"MLflow UI: http://127\.0\.0\.1:\d+/#/experiments/\d+/runs/[0-9a-f]{32}"
                     r"\?workflowType=machine_learning", out), out
    result = invoke(store, "show", "customers", "--run", store["run"])
    assert '{"id": "int"}' in result.output and "1234" in result.output
    result = invoke(store, "show", store["experiments"][0])
    assert result.exit_code == 0, result.output
    assert "Params" in result.output and "0.5" in result.output


@pytest.mark.parametrize("args", [
    ["lineage", "no_such_resource"], ["history", "no_such_resource"], ["show", "no_such_resource"],
    ["show", "churn_model", "--run", "0" * 32], ["lineage", "churn_model", "--run", "not-a-run"],
    ["--experiment", "no-such-experiment", "history", "churn_model"],
])
def test_unknown_resource_is_one_line_and_exit_1(store, args):
    result = CliRunner().invoke(cli, ["--tracking-uri", store["uri"], *args])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert "Traceback" not in result.output


def test_missing_sqlite_store_is_an_error_and_not_created(tmp_path):
    db = tmp_path / "absent.db"
    result = CliRunner().invoke(cli, ["--tracking-uri", f"sqlite:///{db}", "history", "x"])
    assert result.exit_code == 1 and result.output.startswith("Error: no MLflow store")
    assert not db.exists()


def test_reading_commands_do_not_write(store, client):
    exp_id = client.get_experiment_by_name(store["experiment"]).experiment_id
    before = [(r.info.run_id, r.data.tags) for r in client.search_runs([exp_id])]
    for args in (["lineage", "churn_model"], ["history", "churn_model"], ["show", "churn_model"]):
        assert invoke(store, *args).exit_code == 0
    assert [(r.info.run_id, r.data.tags) for r in client.search_runs([exp_id])] == before


def test_tracking_uri_comes_from_the_environment(store):
    result = CliRunner().invoke(cli, ["history", "churn_model"], env={"MLFLOW_TRACKING_URI": store["uri"],
                                                                      "LOLPOP_EXPERIMENT": store["experiment"]})
    assert result.exit_code == 0, result.output
    assert store["run"] in result.output
