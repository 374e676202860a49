"""Layout v2 (DESIGN.md, "An experiment's own run"): an experiment's nested run holds its keys
without the ``<run_id>.<parent_id>.`` prefix, says so in ``lolpop.layout``, refuses keys in
MLflow's and lolpop's namespaces, and every reader — the tracker, the lineage reader through each
read client, ``lolpop show`` — reads it and the runs of earlier layouts (lolpop 0.2.0, and v1 as
``main`` wrote it before v2) alike. Runs on every backend."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from mlflow import MlflowClient
from mlflow.entities import RunTag

from lolpop.cli.main import cli
from lolpop.exceptions import InvalidKeyError
from lolpop.layout import keys
from lolpop.layout import values as _values
from lolpop.lineage import StoreReader, build_lineage, open_client
from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter

SHA = "3f2c8a9d0b1e4f5a6b7c8d9e0f1a2b3c4d5e6f70"
PARAMS = {"C": 0.5, "penalty": "l2", "grid": [1, 2]}


def _readers(uri: str):
    """The lineage reader over each read client: the direct one (SQLite file / REST) and MLflow's."""
    return {"direct": StoreReader(open_client(uri)), "mlflow": StoreReader(MlflowClientAdapter(MlflowClient(uri)))}


def _experiment(make_tracker):
    tracker = make_tracker()
    mv = tracker.create_resource("churn_model", type="model_version")
    exp = tracker.create_resource("trial_1", type="experiment", parent=mv, trial=1)
    tracker.log_metadata(exp, keys.TRAINER_KEY, "SklearnModelTrainer")
    tracker.log_metadata(exp, keys.PARAMS_KEY, PARAMS)
    tracker.log_metadata(exp, "metrics", {"accuracy": 0.91})
    tracker.register_vc_resource(exp, {"hexsha": SHA, "uri": "data/train.csv"}, key="train")
    tracker.update_resource(exp, {"note": "best so far"})
    tracker.log_metadata(mv, keys.WINNER_KEY, exp.id)
    return tracker, mv, exp


def test_an_experiment_run_holds_plain_keys_and_reads_back_everywhere(make_tracker, client, conf):
    tracker, mv, exp = _experiment(make_tracker)
    run_id = exp.run.info.run_id
    tracker.stop()

    tags = client.get_run(run_id).data.tags
    assert tags[keys.LAYOUT_TAG] == "2"
    assert tags[keys.TRAINER_KEY] == "SklearnModelTrainer"
    assert tags[keys.PARAMS_KEY] == '{"C": 0.5, "penalty": "l2", "grid": [1, 2]}'
    assert tags["train_hexsha"] == SHA and tags["trial"] == "1" and tags["note"] == "best so far"
    assert not [k for k in tags if k.startswith(run_id)], "no key carries the run id any more"
    assert not {"exists", "type", "parent_id", "parent_run_id"} & set(tags), "the creation tags say it"
    assert client.get_run(run_id).data.params == {"C": "0.5", "penalty": "l2", "grid": "[1, 2]"}

    # the tracker, from a fresh process's point of view
    reader = make_tracker()
    again = reader.get_resource(exp.id, type="experiment")
    assert reader.get_metadata(again, keys.PARAMS_KEY) == PARAMS
    assert reader.get_metadata(again, "trial") == 1
    assert reader.get_tag(again, "type") == "experiment" and reader.get_tag(again, "exists") == "True"
    assert reader.get_metadata(again, "parent_id") == "churn_model"
    assert reader.get_metadata(again, "parent_run_id") == mv.run.info.run_id
    assert reader.get_vc_info(again, key="train") == {"hexsha": SHA, "uri": "data/train.csv"}
    assert reader.get_parent_id(again) == "churn_model"
    assert reader.get_winning_experiment(reader.get_resource("churn_model", type="model_version")).id == exp.id

    # the lineage reader through every read client
    for kind, store in _readers(conf["config"]["mlflow_tracking_uri"]).items():
        try:
            run = store.locate(exp.id).run
            assert store.has_resource(exp.id, run), kind
            assert store.resource_ids(run) == [exp.id], kind
            meta = store.metadata(exp.id, run)
            assert meta[keys.PARAMS_KEY] == PARAMS and meta["train_uri"] == "data/train.csv", kind
            assert meta["type"] == "experiment" and meta["parent_id"] == "churn_model", kind
            assert store.metadata(exp.id, run, structural=False).keys() == {
                keys.TRAINER_KEY, keys.PARAMS_KEY, "metrics", "train_hexsha", "train_uri", "trial", "note"}, kind
            graph = build_lineage(store, store.locate("churn_model", mv.run.info.run_id)).to_dict()
            [node] = [n for n in graph["nodes"] if n["type"] == "experiment"]
            assert node["id"] == exp.id, kind
            assert [e["relation"] for e in graph["edges"] if node["key"] in (e["source"], e["target"])] == \
                ["winner"], kind
        finally:
            store.close()

    shown = CliRunner().invoke(cli, ["--tracking-uri", conf["config"]["mlflow_tracking_uri"], "show", exp.id],
                               env={"COLUMNS": "160"})
    assert shown.exit_code == 0, shown.output
    assert "training_params" in shown.output and "SklearnModelTrainer" in shown.output
    assert "best so far" in shown.output


@pytest.mark.parametrize("name", ["mlflow.note.content", "mlflow.runName", "lolpop.layout", "lolpop.parent_id",
                                  "_lolpop.types", "_lolpop_x", "exists", "type", "parent_id", "parent_run_id"])
def test_keys_in_reserved_namespaces_are_refused_and_nothing_is_written(make_tracker, client, name):
    tracker = make_tracker()
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.log_metadata(exp, "kept", 1)
    tracker.flush()
    before = client.get_run(exp.run.info.run_id).data.tags
    for call in (lambda: tracker.log_metadata(exp, name, "x"), lambda: tracker.log_tag(exp, name, "x"),
                 lambda: tracker.update_resource(exp, {"fine": 1, name: "x"})):
        with pytest.raises(InvalidKeyError, match="reserved") as err:
            call()
        assert err.value.key == name and err.value.resource_id == exp.id
    tracker.flush()
    assert client.get_run(exp.run.info.run_id).data.tags == before
    tracker.log_metadata(exp, "still_works", 2)  # the tracker keeps working
    assert tracker.get_metadata(exp, "still_works") == 2
    tracker.stop()


def test_a_reserved_keyword_refuses_the_experiment_before_its_run_opens(make_tracker, client):
    tracker = make_tracker()
    mv = tracker.create_resource("m", type="model_version")
    with pytest.raises(InvalidKeyError, match="'mlflow.source.name'"):
        tracker.create_resource("e", type="experiment", parent=mv, **{"mlflow.source.name": "x"})
    assert client.search_runs([tracker.experiment_id], "tags.`lolpop.resource_type` = 'experiment'") == []
    tracker.stop()


def _nested_run(client, experiment_id: str, parent_run_id: str, creation_tags: dict[str, str],
                tags: dict[str, str]) -> str:
    run = client.create_run(experiment_id, start_time=int(time.time() * 1000) - 60_000,
                            tags={keys.MLFLOW_PARENT: parent_run_id, **creation_tags})
    client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def _read_back(make_tracker, conf, exp_id: str, expect: dict) -> None:
    reader = make_tracker()
    exp = reader.get_resource(exp_id, type="experiment")
    for name, value in expect.items():
        assert reader.get_metadata(exp, name) == value, name
    assert reader.get_vc_info(exp, key="train") == {"hexsha": SHA, "uri": "data/train.csv"}
    for kind, store in _readers(conf["config"]["mlflow_tracking_uri"]).items():
        try:
            run = store.locate(exp_id).run
            assert store.resource_ids(run) == [exp_id], kind
            meta = store.metadata(exp_id, run)
            assert {k: meta[k] for k in expect} == expect, kind
        finally:
            store.close()
    reader.stop()


def test_an_experiment_run_written_by_todays_main_layout_v1_reads_back_exactly(make_tracker, client, conf):
    """v1, as ``main`` wrote experiment runs before layout v2: creation tags without
    ``lolpop.layout``, then every key ``<run_id>.<parent_id>.<key>`` with the typed-value
    bookkeeping of lolpop.layout.values (the encoder both versions share)."""
    tracker = make_tracker()
    mv = tracker.create_resource("churn_model", type="model_version")
    tracker.stop()
    parent_run = mv.run.info.run_id
    run = client.create_run(tracker.experiment_id, tags={
        keys.MLFLOW_PARENT: parent_run, keys.RESOURCE_TYPE_TAG: "experiment", keys.PARENT_ID_TAG: "churn_model"})
    rid = keys.experiment_id(run.info.run_id, "churn_model")
    values = {"exists": "True", "type": "experiment", "parent_id": "churn_model", "parent_run_id": parent_run,
              keys.TRAINER_KEY: "SklearnModelTrainer", keys.PARAMS_KEY: PARAMS, "trial": 1,
              "train_hexsha": SHA, "train_uri": "data/train.csv"}
    encoded = _values.encode_items({}, {keys.key(rid, k): v for k, v in values.items()})
    client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in encoded.tags.items()])
    client.set_terminated(run.info.run_id, "FINISHED")
    _read_back(make_tracker, conf, rid, {keys.TRAINER_KEY: "SklearnModelTrainer", keys.PARAMS_KEY: PARAMS,
                                         "trial": 1, "type": "experiment", "parent_id": "churn_model"})
    # a v2 tracker writing into a v1 run keeps its layout
    writer = make_tracker()
    exp = writer.get_resource(rid, type="experiment")
    writer.log_metadata(exp, "note", {"checked": True})
    writer.stop()
    assert client.get_run(run.info.run_id).data.tags[keys.key(rid, "note")] == '{"checked": true}'
    assert "note" not in client.get_run(run.info.run_id).data.tags


def test_an_experiment_run_written_by_lolpop_020_reads_back_as_strings(make_tracker, client, conf):
    tracker = make_tracker()
    mv = tracker.create_resource("churn_model", type="model_version")
    tracker.stop()
    run = client.create_run(tracker.experiment_id, tags={keys.MLFLOW_PARENT: mv.run.info.run_id})
    rid = keys.experiment_id(run.info.run_id, "churn_model")
    client.log_batch(run.info.run_id, tags=[RunTag(keys.key(rid, k), v) for k, v in {
        "exists": "True", "model_trainer": "SklearnModelTrainer", "training_params": str({"C": 0.5}),
        "train_hexsha": SHA, "train_uri": "data/train.csv"}.items()])
    client.set_terminated(run.info.run_id, "FINISHED")
    _read_back(make_tracker, conf, rid, {"model_trainer": "SklearnModelTrainer", "training_params": "{'C': 0.5}"})
