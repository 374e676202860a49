"""Stores written before this version read back alike: lolpop 0.2.0's plain ``str(data)`` tags and
the ``_lolpop.enc.<key>`` marker tags of earlier lolpop, both written here with a raw
``MlflowClient`` exactly as those versions did — through the tracker, the lineage reader and
``lolpop show``."""

from __future__ import annotations

import hashlib
import time

from click.testing import CliRunner
from mlflow.entities import RunTag

from lolpop.cli.main import cli
from lolpop.store.reader import StoreReader

SHA = "3f2c8a9d0b1e4f5a6b7c8d9e0f1a2b3c4d5e6f70"


def _finished_run(client, experiment_id: str, tags: dict[str, str]) -> str:
    """A workflow run with ``tags`` (one batch), started a little earlier than whatever follows."""
    run = client.create_run(experiment_id, start_time=int(time.time() * 1000) - 60_000, tags={"parent_run": "True"})
    client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    client.set_terminated(run.info.run_id, "FINISHED")
    return run.info.run_id


def _later_tracker(make_tracker, client, conf):
    """A tracker of this version opening an experiment an earlier lolpop created (so it has no
    complete version index: lolpop.layout.index.complete)."""
    client.create_experiment(conf["config"]["mlflow_experiment_name"])
    tracker = make_tracker()
    return tracker, tracker.experiment_id


def test_a_lolpop_020_store_reads_back_as_strings(make_tracker, client, conf):
    tracker, experiment_id = _later_tracker(make_tracker, client, conf)
    # lolpop 0.2.0: log_tag -> client.set_tag(run_id, "<id>.<key>", value), MLflow str()s the value
    run_id = _finished_run(client, experiment_id, {
        "train.exists": "True", "train.hexsha": SHA, "train.uri": "data/train.csv", "train.rows": str(1000),
        "churn.exists": "True", "churn.X_train_hexsha": SHA, "churn.X_train_uri": "data/X_train.csv",
        "churn.dataset_versions": str(["train"]), "churn.dataset_versions.exists": "True",
        "churn.status": "DEPLOYED", "churn.performance_metric_value": str(0.91),
        "churn.training_params": str({"max_depth": 4, "flag": True}),
    })
    mv = tracker.create_resource("churn", type="model_version")
    prev = tracker.get_prev_resource_version(mv)
    assert prev.run.info.run_id == run_id
    assert tracker.get_currently_deployed_model_version(mv).run.info.run_id == run_id
    assert tracker.get_metadata(prev, "dataset_versions") == "['train']"
    assert tracker.get_metadata(prev, "performance_metric_value") == "0.91"
    assert tracker.get_metadata(prev, "training_params") == "{'max_depth': 4, 'flag': True}"
    assert tracker.get_vc_info(prev, key="X_train_hexsha") == {"hexsha": SHA, "uri": "data/X_train.csv"}
    dv = tracker.get_prev_resource_version(tracker.create_resource("train", type="dataset_version"))
    assert tracker.get_metadata(dv, "rows") == "1000" and tracker.get_vc_info(dv)["hexsha"] == SHA
    reader = StoreReader(client)
    assert reader.metadata("churn", reader.get_run(run_id))["status"] == "DEPLOYED"
    assert reader.get("train", reader.get_run(run_id), "rows") == "1000"
    # a new tracker writing into that run keeps the old values as they were
    tracker.log_metadata(prev, "note", {"checked": True})
    assert tracker.get_metadata(prev, "note") == {"checked": True}
    assert tracker.get_metadata(prev, "training_params") == "{'max_depth': 4, 'flag': True}"


def test_a_store_with_marker_tags_reads_back_typed(make_tracker, client, conf, tmp_path):
    tracker, experiment_id = _later_tracker(make_tracker, client, conf)
    big = {"blob": "y" * 5000}
    path = f"_lolpop/values/{hashlib.sha256(b'churn.big').hexdigest()[:24]}.txt"
    run_id = _finished_run(client, experiment_id, {
        "churn.exists": "True", "churn.type": "model_version",
        "churn.n": "3", "_lolpop.enc.churn.n": "json",
        "churn.metrics": '{"auc": 0.9}', "_lolpop.enc.churn.metrics": "json",
        "churn.flag": "true", "_lolpop.enc.churn.flag": "json",
        "churn.s": "3", "_lolpop.enc.churn.s": "str",
        "churn.status": "DEPLOYED",
        "churn.big": "lolpop-artifact:" + path, "_lolpop.enc.churn.big": "artifact:json",
    })
    local = tmp_path / path.rsplit("/", 1)[1]
    import json

    local.write_text(json.dumps(big))
    client.log_artifact(run_id, str(local), "_lolpop/values")

    mv = tracker.create_resource("churn", type="model_version")
    prev = tracker.get_prev_resource_version(mv)
    assert prev.run.info.run_id == run_id
    assert tracker.get_metadata(prev, "n") == 3
    assert tracker.get_metadata(prev, "metrics") == {"auc": 0.9}
    assert tracker.get_metadata(prev, "flag") is True
    assert tracker.get_metadata(prev, "s") == "3"
    assert tracker.get_metadata(prev, "status") == "DEPLOYED"
    assert tracker.get_metadata(prev, "big") == big
    reader = StoreReader(client)
    got = reader.metadata("churn", reader.get_run(run_id), structural=False)
    assert got == {"n": 3, "metrics": {"auc": 0.9}, "flag": True, "s": "3", "status": "DEPLOYED", "big": big}
    reader.close()

    # a new tracker writes over marked values in that earlier run: types change correctly
    tracker.log_metadata(prev, "n", "three")
    tracker.log_metadata(prev, "s", 4)
    later = make_tracker()
    assert later.get_metadata(prev, "n") == "three"
    assert later.get_metadata(prev, "s") == 4
    assert later.get_metadata(prev, "metrics") == {"auc": 0.9}

    result = CliRunner().invoke(cli, ["--tracking-uri", tracker.url, "show", "churn", "--run", run_id])
    assert result.exit_code == 0, result.output
    assert "three" in result.output and "auc" in result.output
