"""``mlflow_write_mode: batched``: fewer requests, same records, nothing lost on a normal exit."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lolpop.components import MLFlowMetadataTracker
from lolpop.exceptions import ConfigError, MetadataConflictError

SRC = str(Path(__file__).parents[3] / "src")


@pytest.fixture
def batched(make_tracker):
    return make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=3600)


def test_batched_writes_are_readable_at_once_and_stored_at_flush(batched, client):
    mv = batched.create_resource("churn", type="model_version")
    batched.log_metadata(mv, "accuracy", 0.9)
    batched.log_metadata(mv, "params", {"alpha": 1})
    assert batched.get_metadata(mv, "accuracy") == 0.9  # served from the cache
    stored = client.get_run(batched.run.info.run_id).data
    assert "churn.accuracy" not in stored.tags and stored.params == {}
    batched.flush()
    stored = client.get_run(batched.run.info.run_id).data
    assert stored.tags["churn.accuracy"] == "0.9" and stored.params == {"churn.alpha": "1"}


def test_cleaning_an_experiment_sends_its_batch(batched, client):
    mv = batched.create_resource("churn", type="model_version")
    exp = batched.create_resource("e", type="experiment", parent=mv)
    batched.log_metadata(exp, "params", {f"p{i}": i for i in range(20)})
    batched.log_metadata(exp, "score", 3)
    batched.clean_resource(exp, type="experiment")
    run = client.get_run(exp.run.info.run_id)
    assert run.info.status == "FINISHED"
    assert len(run.data.params) == 20 and run.data.tags["score"] == "3"
    assert run.data.tags["lolpop.layout"] == "2"


def test_pending_params_still_conflict(batched, client):
    mv = batched.create_resource("churn", type="model_version")
    batched.log_metadata(mv, "params", {"alpha": 1})
    with pytest.raises(MetadataConflictError):
        batched.log_metadata(mv, "params", {"alpha": 2})
    batched.flush()
    assert client.get_run(batched.run.info.run_id).data.params == {"churn.alpha": "1"}


def test_full_batch_is_sent_without_waiting(batched, client):
    dv = batched.create_resource("d", type="dataset_version")
    for i in range(120):
        batched.log_metadata(dv, f"k{i}", i)
    tags = client.get_run(batched.run.info.run_id).data.tags
    assert "d.k0" in tags  # the first full batch went out on its own


def test_stop_sends_everything_and_history_works(make_tracker, client):
    first = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=3600)
    dv = first.create_resource("d", type="dataset_version")
    first.log_metadata(dv, "rows", 10)
    first.stop()
    assert client.get_run(first.run.info.run_id).data.tags["d.rows"] == "10"
    second = make_tracker(mlflow_write_mode="batched")
    prev = second.get_prev_resource_version(second.create_resource("d", type="dataset_version"))
    assert second.get_metadata(prev, "rows") == 10


def test_pending_writes_are_sent_at_interpreter_exit_without_stop(conf, client, tmp_path):
    script = tmp_path / "forgetful.py"
    script.write_text(textwrap.dedent(
        f"""
        from lolpop.components import MLFlowMetadataTracker
        cfg = {dict(conf['config'], mlflow_write_mode='batched', mlflow_flush_seconds=3600)!r}
        t = MLFlowMetadataTracker(conf=cfg)
        t.log_metadata(t.create_resource("d"), "rows", 7)
        print(t.run.info.run_id)
        """
    ))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([SRC, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    run_id = out.stdout.strip().splitlines()[-1]
    assert client.get_run(run_id).data.tags["d.rows"] == "7"


@pytest.mark.parametrize("bad", [{"mlflow_write_mode": "eventually"}, {"mlflow_flush_seconds": -1},
                                 {"mlflow_flush_seconds": "soon"}])
def test_bad_write_mode_config(conf, bad):
    with pytest.raises(ConfigError, match=next(iter(bad))):
        MLFlowMetadataTracker(conf={"config": {**conf["config"], **bad}})
