"""Construction, stop, context manager, and independence across trackers, threads, processes."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from lolpop.components import BaseMetadataTracker, MLFlowMetadataTracker
from lolpop.exceptions import ConfigError, LolpopError, TrackerStoppedError
from tests.support.version_index import without_index


def test_is_a_base_metadata_tracker_with_seed_attributes(tracker, tracking_uri):
    assert isinstance(tracker, BaseMetadataTracker)
    assert isinstance(tracker.client, MlflowClient)
    assert tracker.url == tracking_uri
    assert tracker.run.data.tags["parent_run"] == "True"


@pytest.mark.parametrize("missing", ["mlflow_tracking_uri", "mlflow_experiment_name"])
def test_missing_required_config_names_key_and_class(conf, missing):
    cfg = {"config": {k: v for k, v in conf["config"].items() if k != missing}}
    with pytest.raises(ConfigError, match=missing) as err:
        MLFlowMetadataTracker(conf=cfg)
    assert "MLFlowMetadataTracker" in str(err.value)


def test_flat_yaml_and_env_config_forms(conf, tmp_path, monkeypatch):
    flat = dict(conf["config"])
    snapshot = dict(flat)
    t1 = MLFlowMetadataTracker(conf=flat)
    t1.stop()
    assert flat == snapshot  # configuration is never mutated
    monkeypatch.setenv("LOLPOP_TEST_URI", flat["mlflow_tracking_uri"])
    path = tmp_path / "tracker.yaml"
    path.write_text(yaml.safe_dump({"config": {"mlflow_tracking_uri": "${LOLPOP_TEST_URI}",
                                               "mlflow_experiment_name": flat["mlflow_experiment_name"]}}))
    t2 = MLFlowMetadataTracker(conf=str(path))
    assert t2.url == flat["mlflow_tracking_uri"]
    assert t2.experiment_id == t1.experiment_id
    t2.stop()


def test_bad_config_sources(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        MLFlowMetadataTracker(conf=str(tmp_path / "missing.yaml"))
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE"):
        MLFlowMetadataTracker(conf={"mlflow_tracking_uri": "${NOT_SET_ANYWHERE}", "mlflow_experiment_name": "x"})
    with pytest.raises(ConfigError):
        MLFlowMetadataTracker(conf=42)
    with pytest.raises(ConfigError, match="mlflow_experiment_name"):
        MLFlowMetadataTracker(conf={"mlflow_tracking_uri": "sqlite:///x.db", "mlflow_experiment_name": 5})


def test_stop_is_idempotent_and_writes_after_stop_fail(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.stop()
    tracker.stop()
    assert client.get_run(tracker.run.info.run_id).info.status == "FINISHED"
    assert client.get_run(exp.run.info.run_id).info.status == "FINISHED"  # left open: ended too
    for call in (lambda: tracker.log_tag(mv, "k", "v"), lambda: tracker.create_resource("x"),
                 lambda: tracker.log_metadata(mv, "k", 1)):
        with pytest.raises(TrackerStoppedError):
            call()
    assert client.get_run(tracker.run.info.run_id).info.status == "FINISHED"  # not reopened
    assert tracker.get_metadata(mv, "type") == "model_version"  # reads still work


def test_context_manager_finished_and_failed(conf, client):
    with MLFlowMetadataTracker(conf=conf) as ok:
        ok.create_resource("d")
    assert client.get_run(ok.run.info.run_id).info.status == "FINISHED"
    with pytest.raises(RuntimeError):
        with MLFlowMetadataTracker(conf=conf) as bad:
            bad.create_resource("d")
            raise RuntimeError("boom")
    assert client.get_run(bad.run.info.run_id).info.status == "FAILED"


def test_failed_run_is_not_a_previous_version(conf):
    with pytest.raises(RuntimeError):
        with MLFlowMetadataTracker(conf=conf) as bad:
            bad.create_resource("d")
            raise RuntimeError("boom")
    with MLFlowMetadataTracker(conf=conf) as t:
        assert t.get_prev_resource_version(t.create_resource("d")) is None


def test_two_trackers_in_one_process_stay_independent(tracking_uri, client):
    a = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": tracking_uri, "mlflow_experiment_name": f"a-{uuid.uuid4().hex}"})
    b = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": tracking_uri, "mlflow_experiment_name": f"b-{uuid.uuid4().hex}"})
    try:
        assert a.experiment_id != b.experiment_id
        ra = a.create_resource("shared", type="dataset_version")
        rb = b.create_resource("shared", type="dataset_version")
        a.log_metadata(ra, "who", "a")
        b.log_metadata(rb, "who", "b")
        a.stop()
        assert client.get_run(b.run.info.run_id).info.status == "RUNNING"
        assert client.get_run(a.run.info.run_id).data.tags["shared.who"] == "a"
        assert client.get_run(b.run.info.run_id).data.tags["shared.who"] == "b"
        assert client.get_run(a.run.info.run_id).info.experiment_id == a.experiment_id
    finally:
        a.stop()
        b.stop()


def test_four_threads_creating_experiments(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    made: list = []
    errors: list = []

    def work(n: int) -> None:
        try:
            for i in range(5):
                exp = tracker.create_resource("e", type="experiment", parent=mv)
                tracker.log_metadata(exp, "params", {"thread": n, "i": i})
                tracker.log_metadata(exp, "score", n * 10 + i)
                tracker.clean_resource(exp, type="experiment")
                made.append((exp, n * 10 + i))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len({exp.id for exp, _ in made}) == 20
    for exp, score in made:
        run = client.get_run(exp.run.info.run_id)
        assert run.info.status == "FINISHED"
        assert run.data.tags["score"] == str(score)
        assert run.data.params["i"] == str(score % 10)


WORKER = textwrap.dedent(
    """
    import sys
    from lolpop.components import MLFlowMetadataTracker
    uri, name = sys.argv[1], sys.argv[2]
    with MLFlowMetadataTracker(conf={"mlflow_tracking_uri": uri, "mlflow_experiment_name": name}) as t:
        t.log_metadata(t.create_resource("d"), "who", sys.argv[3])
    print("OK")
    """
)


def test_eight_processes_on_a_brand_new_sqlite_file(tmp_path):
    """MLflow alone fails most of these with schema-creation races; our file lock serialises them."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    uri = f"sqlite:///{tmp_path / 'brand-new.db'}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[3] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, str(script), uri, "race", str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for i in range(8)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    failures = [err[-2000:] for out, err, rc in results if rc != 0 or "OK" not in out]
    assert failures == []
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name("race")
    runs = without_index(client.search_runs([exp.experiment_id], "attributes.status = 'FINISHED'"))
    assert sorted(r.data.tags["d.who"] for r in runs) == [str(i) for i in range(8)]


def test_exception_hierarchy():
    import lolpop.exceptions as ex

    for name in ex.__all__:
        cls = getattr(ex, name)
        # every error is a LolpopError; the warnings lolpop issues are UserWarnings
        assert issubclass(cls, LolpopError) or issubclass(cls, UserWarning) and name.endswith("Warning"), name
        assert name in ex.__doc__  # drawn in the module docstring
    assert issubclass(ex.InvalidInputError, ValueError)
    assert issubclass(ex.NotFoundError, LookupError)
    assert issubclass(ex.AuthenticationError, ex.TrackerUnavailableError)
    assert issubclass(ex.QuarantinedLineageError, LolpopError) and not issubclass(ex.QuarantinedLineageError, ValueError)


def test_processes_creating_the_same_experiment_at_once(tracking_uri, tmp_path):
    """get-or-create survives a race: every process ends up in the one experiment."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    name = f"same-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[3] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    procs = [subprocess.Popen([sys.executable, str(script), tracking_uri, name, str(i)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for i in range(4)]
    results = [p.communicate(timeout=300) + (p.returncode,) for p in procs]
    assert [err[-2000:] for out, err, rc in results if rc != 0 or "OK" not in out] == []
    client = MlflowClient(tracking_uri=tracking_uri)
    experiments = [e for e in client.search_experiments() if e.name == name]
    assert len(experiments) == 1
    runs = without_index(client.search_runs([experiments[0].experiment_id]))
    assert sorted(r.data.tags["d.who"] for r in runs) == ["0", "1", "2", "3"]
