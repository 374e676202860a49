"""The lineage graph: exact versions, both directions, across runs and processes."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from lolpop.exceptions import InvalidInputError, ResourceNotFoundError
from lolpop.lineage import StoreReader, build_lineage
from lolpop.store.reader import USED_BY_PREFIX
from tests.support.lineage_store import build_two_process_store


def _by_id(graph):
    return {(n.id, n.run_id): n for n in graph.nodes.values()}


def _edges(graph):
    return {(graph.nodes[e.source].id, e.relation, graph.nodes[e.target].id) for e in graph.edges}


def test_lineage_both_directions_on_a_store_built_by_two_tracker_processes(conf, client):
    uri = conf["config"]["mlflow_tracking_uri"]
    experiment = conf["config"]["mlflow_experiment_name"]
    ids = build_two_process_store(uri, experiment)
    train_run, predict_run = ids["train"]["run"], ids["predict"]["run"]
    assert ids["predict"]["mv_run"] == train_run and ids["predict"]["dv_run"] == train_run

    reader = StoreReader(client, [client.get_experiment_by_name(experiment).experiment_id])
    # From the model version: upstream the exact dataset run and all experiments, downstream the job.
    graph = build_lineage(reader, reader.locate("churn_model", train_run))
    nodes = _by_id(graph)
    assert ("churn_data", train_run) in nodes
    assert {n.id for n in graph.nodes.values() if n.type == "experiment"} == set(ids["train"]["experiments"])
    winners = [n for n in graph.nodes.values() if n.winner]
    assert [n.id for n in winners] == [ids["train"]["winner"]] and winners[0].label == "rf"
    assert ("churn_model_predictions", predict_run) in nodes
    assert nodes[("churn_model_predictions", predict_run)].role == "downstream"
    assert nodes[("churn_data", train_run)].role == "upstream"
    assert ("churn_data", "trained", "churn_model") in _edges(graph)
    assert ("churn_model", "predicted", "churn_model_predictions") in _edges(graph)
    assert (ids["train"]["winner"], "winner", "churn_model") in _edges(graph)

    # From the dataset version: downstream finds both model versions (two runs, two processes)
    # and, through the first, the prediction job.
    graph = build_lineage(reader, reader.locate("churn_data", train_run), direction="downstream")
    nodes = _by_id(graph)
    assert ("churn_model", train_run) in nodes
    assert ("churn_model_v2", predict_run) in nodes
    assert ("churn_model_predictions", predict_run) in nodes
    assert all(n.role in ("root", "downstream") for n in graph.nodes.values())

    # From the prediction job: upstream reaches the exact model version run, then its data.
    graph = build_lineage(reader, reader.locate("churn_model_predictions"), direction="upstream")
    nodes = _by_id(graph)
    assert nodes[("churn_model", train_run)].depth == 1
    assert nodes[("churn_data", train_run)].depth == 2
    assert ("churn_model_v2", predict_run) not in nodes  # a sibling, not an ancestor


def test_depth_limits_hops(make_tracker, client):
    first = make_tracker()
    dv = first.create_resource("data", type="dataset_version")
    mv = first.create_resource("model", type="model_version")
    first.build_model_lineage(mv, [dv])
    first.stop()
    second = make_tracker()
    pj = second.create_resource("model_predictions", type="prediction_job",
                                parent=second.get_resource("model", type="model_version"))
    reader = StoreReader(client)
    start = reader.locate("model_predictions", pj.run.info.run_id)
    graph = build_lineage(reader, start, direction="upstream", depth=1)
    assert {n.id for n in graph.nodes.values()} == {"model_predictions", "model"}
    graph = build_lineage(reader, start, direction="upstream")
    assert {n.id for n in graph.nodes.values()} == {"model_predictions", "model", "data"}
    graph = build_lineage(reader, start, depth=0)
    assert len(graph.nodes) == 1 and not graph.edges


def test_tracker_get_lineage_and_the_used_by_index(tracker, client):
    dv = tracker.create_resource("data", type="dataset_version")
    mv = tracker.create_resource("model", type="model_version")
    exp = tracker.create_resource("exp", type="experiment", parent=mv)
    tracker.log_metadata(mv, "winning_experiment_id", exp.id)
    tracker.build_model_lineage(mv, [dv])
    run_id = tracker.run.info.run_id
    # The searchable index names the exact dataset version and the model version using it.
    tags = client.get_run(run_id).data.tags
    assert tags[f"{USED_BY_PREFIX}{run_id}.data"] == '["model"]'

    up = tracker.get_lineage(mv, direction="upstream")
    assert {(n.id, n.type) for n in up.nodes.values()} == {
        ("model", "model_version"), ("data", "dataset_version"), (exp.id, "experiment")}
    down = tracker.get_lineage(dv, direction="downstream")
    assert {n.id for n in down.nodes.values()} == {"data", "model"}
    assert down.to_dict()["edges"] == [{"source": f"data@{run_id}", "target": f"model@{run_id}",
                                        "relation": "trained"}]


def test_model_version_lineage_page_is_an_artifact_of_its_run(tracker, client, tmp_path):
    dv = tracker.create_resource("data", type="dataset_version")
    mv = tracker.create_resource("model", type="model_version")
    tracker.build_model_lineage(mv, [dv])
    files = [f.path for f in client.list_artifacts(tracker.run.info.run_id, "model/lineage")]
    assert files == ["model/lineage/lineage.html"]
    page = open(tracker.get_artifact(mv, "lineage")).read()
    assert "<svg" in page and ">data<" in page and ">model<" in page


def test_bad_arguments_are_clear_errors(tracker):
    mv = tracker.create_resource("model", type="model_version")
    with pytest.raises(InvalidInputError, match="direction"):
        tracker.get_lineage(mv, direction="sideways")
    with pytest.raises(InvalidInputError, match="depth"):
        tracker.get_lineage(mv, depth=-1)
    with pytest.raises(ResourceNotFoundError, match="nope"):
        tracker.get_lineage(("nope", mv.run))


def test_reader_never_writes(tracker, client):
    tracker.create_resource("data", type="dataset_version")
    tracker.stop()
    exp_id = tracker.experiment_id
    before = client.search_runs([exp_id])
    reader = StoreReader(MlflowClient(tracking_uri=tracker.url), [exp_id])
    build_lineage(reader, reader.locate("data"))
    with pytest.raises(ResourceNotFoundError, match="'missing'"):
        reader.locate("missing")
    after = client.search_runs([exp_id])
    assert [(r.info.run_id, r.data.tags) for r in after] == [(r.info.run_id, r.data.tags) for r in before]


def test_one_search_per_hop(tracker, client):
    dv = tracker.create_resource("data", type="dataset_version")
    mv = tracker.create_resource("model", type="model_version")
    for name in ("a", "b", "c"):
        tracker.create_resource(name, type="experiment", parent=mv)
    tracker.build_model_lineage(mv, [dv])
    reader = StoreReader(client, [tracker.experiment_id])
    start = reader.locate("model", tracker.run.info.run_id)
    reader.requests = 0
    graph = build_lineage(reader, start)
    # model: one search for its experiments, one for its prediction jobs; the dataset version is
    # in a run already read; experiments and the dataset need no search upstream.
    assert len(graph.nodes) == 5
    assert reader.requests <= 4, reader.requests
