"""What was made from a model version, its prediction jobs included, by the made-from index
(issue 21): the downstream walk reads one tag key (``_lolpop.child_of.<run>.<id>``) instead of
searching the recorded parent of every prediction job of the model, and finds what that search
found: in an experiment whose creator marked it as indexing prediction jobs from the index alone,
elsewhere by that search too (an experiment created before lolpop indexed them, or by another tool)."""

from __future__ import annotations

import json
import logging
import uuid

from mlflow import MlflowClient

from lolpop.components import MLFlowMetadataTracker
from lolpop.layout import keys
from lolpop.layout.filters import tag_clause
from lolpop.lineage import StoreReader, build_lineage, open_client

MODEL = "churn"
JOB = keys.prediction_job_id(MODEL)


class RecordingReader(StoreReader):
    """A reader that notes every search it asks the store: (filter, experiments)."""

    def __init__(self, client, experiment_ids=None):
        super().__init__(client, experiment_ids)
        self.asked: list[tuple[str, tuple[str, ...]]] = []

    def search(self, filter_string, max_results=1000, experiment_ids=None):
        scope = experiment_ids if experiment_ids is not None else self.experiment_ids
        self.asked.append((filter_string, tuple(scope)))
        return super().search(filter_string, max_results, experiment_ids)


def _train(config: dict) -> str:
    """A workflow run with a dataset version and model version ``MODEL`` trained on it; its run id."""
    with MLFlowMetadataTracker(conf={"config": config}) as t:
        dv = t.create_resource("train", type="dataset_version")
        mv = t.create_resource(MODEL, type="model_version")
        t.build_model_lineage(mv, [dv])
        return t.run.info.run_id


def _predict(config: dict, model: str = MODEL, status: str = "FINISHED") -> str:
    """A workflow run predicting with the newest version of ``model``, ended ``status``; its run id."""
    t = MLFlowMetadataTracker(conf={"config": config})
    mv = t.get_resource(model, type="model_version")
    t.create_resource(keys.prediction_job_id(model), type="prediction_job", parent=mv, prediction_count=3)
    t.stop(status=status)
    return t.run.info.run_id


def _older_writer_job(client: MlflowClient, experiment_id: str, model: str, model_run: str) -> str:
    """A prediction job as a lolpop that did not index them recorded it: its parent only."""
    job = keys.prediction_job_id(model)
    run = client.create_run(experiment_id, tags={
        "parent_run": "True", f"{job}.exists": "True", f"{job}.type": "prediction_job",
        f"{job}.parent_id": model, f"{job}.parent_run_id": model_run})
    client.set_terminated(run.info.run_id)
    return run.info.run_id


def _predicted(graph, model_run: str) -> set[tuple[str, str]]:
    root = next(k for k, n in graph.nodes.items() if n.run_id == model_run and n.role == "root")
    return {(graph.nodes[e.target].id, graph.nodes[e.target].run_id) for e in graph.edges
            if e.source == root and e.relation == "predicted"}


def _by_parent_search(reader: StoreReader, model: str, model_run: str) -> set[tuple[str, str]]:
    """What the search the index replaces finds: every job whose recorded parent is the version."""
    job = keys.prediction_job_id(model)
    return {(job, r.info.run_id) for r in reader.search(tag_clause(f"{job}.parent_run_id", model_run))
            if reader.get(job, r, "parent_id") == model}


def _parent_searches(reader: RecordingReader) -> list[tuple[str, ...]]:
    return [scope for text, scope in reader.asked if "parent_run_id" in text]


def test_a_prediction_job_is_found_by_the_made_from_index_without_searching_its_parent(conf, client):
    config = conf["config"]
    train_run = _train(config)
    predict_run = _predict(config)
    killed_run = _predict(config, status="KILLED")  # a job of a run that did not finish is still downstream
    experiment = client.get_experiment_by_name(config["mlflow_experiment_name"])
    # The writer indexes the job with its own tags; the experiment's creator vouched for every writer.
    tags = client.get_run(predict_run).data.tags
    assert json.loads(tags[keys.child_of_key(train_run, MODEL)]) == [JOB]
    assert experiment.tags[keys.MADE_FROM_EXPERIMENT_TAG] == keys.MADE_FROM_INDEXED

    # every experiment, as the CLI's and stop()'s readers; through MlflowClient and the CLI's client
    for reader in (RecordingReader(client), RecordingReader(open_client(config["mlflow_tracking_uri"]))):
        graph = build_lineage(reader, reader.locate(MODEL, train_run), direction="downstream")
        assert _predicted(graph, train_run) == {(JOB, predict_run), (JOB, killed_run)}
        # The marked experiment is never searched by the jobs' parent (other tests' experiments on
        # a shared server may be, when they are not marked and hold runs).
        assert all(experiment.experiment_id not in scope for scope in _parent_searches(reader)), reader.asked
        assert _predicted(graph, train_run) == _by_parent_search(StoreReader(client), MODEL, train_run)
        reader.close()


def test_jobs_an_older_lolpop_recorded_are_found_where_no_creator_vouched_for_the_index(tracking_uri, client):
    name = f"unmarked-{uuid.uuid4().hex[:12]}"
    experiment_id = client.create_experiment(name)  # made by another tool: no made-from mark
    config = {"mlflow_tracking_uri": tracking_uri, "mlflow_experiment_name": name}
    train_run = _train(config)
    old_job_run = _older_writer_job(client, experiment_id, MODEL, train_run)
    new_job_run = _predict(config)
    assert keys.MADE_FROM_EXPERIMENT_TAG not in client.get_experiment(experiment_id).tags

    for reader in (RecordingReader(client), RecordingReader(open_client(tracking_uri))):
        graph = build_lineage(reader, reader.locate(MODEL, train_run), direction="downstream")
        assert _predicted(graph, train_run) == {(JOB, old_job_run), (JOB, new_job_run)}
        assert _predicted(graph, train_run) == _by_parent_search(StoreReader(client), MODEL, train_run)
        assert any(experiment_id in scope for scope in _parent_searches(reader)), reader.asked
        reader.close()


def test_a_forged_made_from_entry_is_not_believed(conf, client):
    """Anyone may write an index tag: a job is drawn only where it records the version as its parent."""
    config = conf["config"]
    train_run = _train(config)
    other_run = _train(config)  # a later version of the same model
    predict_run = _predict(config)  # predicts with the newest: other_run's version
    experiment_id = client.get_experiment_by_name(config["mlflow_experiment_name"]).experiment_id
    forged = client.create_run(experiment_id, tags={
        keys.child_of_key(train_run, MODEL): json.dumps([JOB, "dv", 7]),
        f"{JOB}.exists": "True", f"{JOB}.parent_id": MODEL, f"{JOB}.parent_run_id": other_run})
    garbled = client.create_run(experiment_id, tags={keys.child_of_key(train_run, MODEL): "{not json"})
    for run in (forged, garbled):
        client.set_terminated(run.info.run_id)
    reader = StoreReader(client, [experiment_id])
    first = build_lineage(reader, reader.locate(MODEL, train_run), direction="downstream")
    assert _predicted(first, train_run) == set()
    assert len(first.nodes) == 1
    second = build_lineage(reader, reader.locate(MODEL, other_run), direction="downstream")
    # The forged run records other_run's version as its parent, but not in that version's index:
    # no lolpop writes one without the other in a marked experiment, so it is not looked for.
    assert _predicted(second, other_run) == {(JOB, predict_run)}


def test_a_model_id_too_long_for_the_index_key_is_found_by_the_parent_search(conf, client, caplog):
    """``_lolpop.child_of.<run id>.<id>`` is 50 characters longer than the id: a model version id
    whose job's own tags fit MLflow's 250-character keys but whose index key does not is written
    unindexed (with a warning), and readers search the jobs' parent for it in every experiment."""
    config = conf["config"]
    model = "m" * 210
    with MLFlowMetadataTracker(conf={"config": config}) as t:
        mv = t.create_resource(model, type="model_version")
        train_run = t.run.info.run_id
    with caplog.at_level(logging.WARNING):
        predict_run = _predict(config, model)
    assert "too long for the made-from index" in caplog.text and "by a search" in caplog.text
    assert not [k for k in client.get_run(predict_run).data.tags if k.startswith(keys.CHILD_OF_PREFIX)]
    reader = RecordingReader(client)
    graph = build_lineage(reader, reader.locate(model, train_run), direction="downstream")
    assert _predicted(graph, train_run) == {(keys.prediction_job_id(model), predict_run)}
    assert _parent_searches(reader) == [tuple(reader.experiment_ids)]
    assert mv[0] == model
