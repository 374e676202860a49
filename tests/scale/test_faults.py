"""Faults: server down at construction, a server that stops answering mid-run, server restarted
mid-cycle, worker SIGKILLed mid-cycle."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.store.tracking.rest_store import RestStore
from mlflow.tracking._tracking_service import utils as tracking_utils

from lolpop.components import MLFlowMetadataTracker
from lolpop.exceptions import ConfigError, TrackerUnavailableError
from tests.scale._load_worker import Recorder, cycle
from tests.scale._verify import Count, start_worker, verify_runs, worker_cmd
from tests.support.faulty_proxy import FaultyProxy
from tests.support.mlflow_server import free_port
from tests.support.version_index import without_index

SECRET = "pw-Secr3t-9d1f"


# ---------------------------------------------------------------------------------------------
# server down at construction
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_server_down_at_construction_fails_fast_naming_the_redacted_uri(kind, caplog):
    """``refused``: nothing listens on the port. ``silent``: a socket accepts connections but
    never answers (a hung server), so only the request timeout bounds the wait."""
    caplog.set_level("DEBUG")
    listener = None
    port = free_port()
    if kind == "silent":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        port = listener.getsockname()[1]
    uri = f"http://alice:{SECRET}@127.0.0.1:{port}"
    conf = {"mlflow_tracking_uri": uri, "mlflow_experiment_name": "never",
            "mlflow_request_timeout": 1, "mlflow_max_retries": 1}
    started = time.monotonic()
    try:
        with pytest.raises(TrackerUnavailableError) as info:
            MLFlowMetadataTracker(conf=conf)
    finally:
        if listener is not None:
            listener.close()
    elapsed = time.monotonic() - started
    # 2 attempts x 1 s timeout + 0.5 s pause, plus slack for a loaded CI machine
    assert elapsed < 10, f"took {elapsed:.1f}s"
    message = str(info.value)
    assert f"http://***@127.0.0.1:{port}" in message
    assert SECRET not in message and "alice" not in message
    assert "mlflow_request_timeout" in message  # tells the user which knob bounds the wait
    assert SECRET not in caplog.text


@pytest.mark.parametrize(("key", "value"), [("mlflow_request_timeout", 0), ("mlflow_request_timeout", "10"),
                                            ("mlflow_request_timeout", float("inf")),
                                            ("mlflow_max_retries", -1), ("mlflow_max_retries", 1.5),
                                            ("mlflow_max_retries", True), ("mlflow_max_retries", 11)])
def test_bad_connection_settings_are_config_errors(key, value):
    conf = {"mlflow_tracking_uri": f"http://127.0.0.1:{free_port()}", "mlflow_experiment_name": "x", key: value}
    with pytest.raises(ConfigError, match=key):
        MLFlowMetadataTracker(conf=conf)


# ---------------------------------------------------------------------------------------------
# a server that stops answering mid-run: every request is bounded, not only the start-up probe
# ---------------------------------------------------------------------------------------------
# 2 attempts of 5 s each (generous for a loaded CI machine). pytest-timeout turns MLflow's own
# bound (8 attempts of 120 s) into a failure instead of a 20-minute hang.
BOUND = {"mlflow_request_timeout": 5, "mlflow_max_retries": 1}
ATTEMPTS = 2


@pytest.fixture
def proxy(mlflow_server):
    """A relay in front of the session's real ``mlflow server`` (artifacts proxied by it too)."""
    with FaultyProxy(mlflow_server.port) as relay:
        yield relay


class _Run:
    """A tracker on the relay with a dataset version, an experiment, an artifact, and a resource
    in another tracker's run (so reads that must ask the store have something to ask for)."""

    def __init__(self, proxy: FaultyProxy, tmp_path: Path) -> None:
        experiment = f"hung-{uuid.uuid4().hex[:10]}"
        conf = {"mlflow_tracking_uri": proxy.url, "mlflow_experiment_name": experiment, **BOUND}
        self.file = tmp_path / "report.html"
        self.file.write_text("<html>ok</html>")
        self.tmp = tmp_path
        other = MLFlowMetadataTracker(conf=conf)
        self.other_dv = other.create_resource("elsewhere", type="dataset_version")
        other.log_metadata(self.other_dv, "rows", 7)
        other.log_artifact(self.other_dv, "theirs", str(self.file))
        other.stop()
        self.t = MLFlowMetadataTracker(conf=conf)
        self.dv = self.t.create_resource("train", type="dataset_version")
        self.mv = self.t.create_resource("model", type="model_version")
        self.exp = self.t.create_resource("xgb", type="experiment", parent=self.mv)
        self.t.log_artifact(self.dv, "stored", str(self.file))


HUNG_CALLS = {
    "write": lambda r: r.t.log_metadata(r.dv, "rows", 1),
    "search": lambda r: r.t.get_prev_resource_version(r.dv),
    "read-another-run": lambda r: r.t.get_metadata(r.other_dv, "rows"),
    "end-experiment-run": lambda r: r.t.clean_resource(r.exp, type="experiment"),
    "artifact-upload": lambda r: r.t.log_artifact(r.dv, "new", str(r.file)),
    "artifact-download": lambda r: r.t.get_artifact(r.dv, "stored", dst_path=str(r.tmp / "dl")),
    "artifact-download-another-run": lambda r: r.t.get_artifact(r.other_dv, "theirs", dst_path=str(r.tmp / "dl")),
}


@pytest.mark.timeout(300)
@pytest.mark.parametrize("call", list(HUNG_CALLS))
def test_a_server_that_stops_answering_fails_each_call_within_the_bound(proxy, tmp_path, call):
    run = _Run(proxy, tmp_path)
    try:
        proxy.set_mode("silent")
        with pytest.raises(TrackerUnavailableError) as info:
            HUNG_CALLS[call](run)
        # The request was tried exactly max_retries + 1 times, each cut off by the timeout.
        assert proxy.attempts == ATTEMPTS
        assert info.value.uri == proxy.url
        assert "mlflow_request_timeout" in str(info.value)
        # The server answers again: the tracker keeps working, nothing was lost.
        proxy.set_mode("forward")
        run.t.log_metadata(run.dv, "after", "ok")
        assert run.t.get_metadata(run.dv, "after") == "ok"
        assert MlflowClient(proxy.url).get_run(run.t.run.info.run_id).data.tags["train.after"] == "ok"
    finally:
        proxy.set_mode("forward")
        run.t.stop()


@pytest.mark.timeout(300)
def test_a_server_answering_503_fails_a_write_after_the_bounded_retries(proxy, tmp_path):
    run = _Run(proxy, tmp_path)
    try:
        proxy.set_mode("503")
        with pytest.raises(TrackerUnavailableError) as info:
            run.t.log_metadata(run.dv, "rows", 1)
        assert proxy.attempts == ATTEMPTS
        assert "503" in str(info.value)
    finally:
        proxy.set_mode("forward")
        run.t.stop()


@pytest.mark.timeout(300)
def test_the_bound_never_reaches_other_mlflow_clients(proxy, tmp_path, monkeypatch):
    """lolpop's bound is per client: no environment variable, no module attribute and no entry of
    MLflow's process-wide artifact-repository cache changes; a plain ``MlflowClient`` in the same
    process still follows MLflow's own settings."""
    mlflow_env = {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")}
    run = _Run(proxy, tmp_path)
    try:
        assert Path(run.t.get_artifact(run.dv, "stored")).read_text() == "<html>ok</html>"
        assert Path(run.t.get_artifact(run.other_dv, "theirs")).read_text() == "<html>ok</html>"
        assert {k: v for k, v in os.environ.items() if k.startswith("MLFLOW_")} == mlflow_env

        plain = MlflowClient(proxy.url)
        assert type(plain._tracking_client.store) is RestStore
        for run_id in (run.t.run.info.run_id, run.other_dv.run.info.run_id):
            plain.log_artifact(run_id, str(run.file), "plain")  # goes through MLflow's cache
            cached = tracking_utils._artifact_repos_cache[run_id]
            assert not hasattr(cached, "bound"), "a lolpop repository leaked into MLflow's cache"

        # The user's own MLflow settings still rule the plain client: 2 retries -> 3 attempts,
        # where lolpop's tracker (max_retries 1) makes 2.
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
        proxy.set_mode("silent")
        with pytest.raises(MlflowException):
            plain.get_run(run.t.run.info.run_id)
        assert proxy.attempts == 3
        proxy.set_mode("silent")
        with pytest.raises(TrackerUnavailableError):
            run.t.get_metadata(run.other_dv, "rows")
        assert proxy.attempts == ATTEMPTS
    finally:
        proxy.set_mode("forward")
        run.t.stop()


# ---------------------------------------------------------------------------------------------
# server restarted mid-cycle
# ---------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_server_restart_mid_cycle_completes_with_nothing_lost(pg_stack, tmp_path: Path):
    server = pg_stack.new_server(workers=1).start()  # its own server: restarting it disturbs no other test
    try:
        experiment = f"restart-{uuid.uuid4().hex[:10]}"
        args = argparse.Namespace(uri=server.url, experiment=experiment, proc=0)
        rec = Recorder()
        events: list[str] = []
        restarter: list[threading.Thread] = []

        def on_stage(stage: str) -> None:
            if stage != "experiment_1_logged":
                return
            server.stop()  # the server is gone: the next request is refused
            events.append("stopped")

            def restart() -> None:
                time.sleep(2)
                server.start()
                events.append("restarted")

            restarter.append(threading.Thread(target=restart))
            restarter[0].start()

        first = cycle(args, 0, rec, tmp_path)
        second = cycle(args, 1, rec, tmp_path, on_stage=on_stage)
        restarter[0].join(timeout=300)
        assert events == ["stopped", "restarted"]
        assert second["prev_found"] == first["workflow_run"]

        client = MlflowClient(tracking_uri=server.url)
        count = Count()
        verify_runs(client, rec.runs, count)
        assert count.problems == []
        assert count.written == count.found
        exp = client.get_experiment_by_name(experiment)
        runs = without_index(client.search_runs([exp.experiment_id], max_results=100))
        # Nothing duplicated by the client's retries either: 2 cycles x (1 + 5 experiments) runs.
        assert sorted(r.info.run_id for r in runs) == sorted(rec.runs)
        assert {r.info.status for r in runs} == {"FINISHED"}
    finally:
        server.stop()


# ---------------------------------------------------------------------------------------------
# SIGKILL mid-cycle
# ---------------------------------------------------------------------------------------------
@pytest.mark.postgres
def test_sigkill_mid_cycle_later_lookups_ignore_the_half_finished_run(pg_stack, tmp_path: Path):
    uri = pg_stack.url
    experiment = f"sigkill-{uuid.uuid4().hex[:10]}"
    manifest = tmp_path / "manifest.json"
    ready = tmp_path / "ready"
    proc = start_worker(worker_cmd(uri, experiment, 0, 1, manifest, ready=ready, partial=True),
                        tmp_path / "worker.log")
    try:
        deadline = time.monotonic() + 300
        while not Path(f"{ready}.partial").exists():
            assert proc.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "worker never reached the middle of its second cycle"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    m = json.loads(manifest.read_text())
    finished = m["cycles"][0]["workflow_run"]
    killed = m["partial"]["workflow_run"]
    client = MlflowClient(tracking_uri=uri)
    # The killed run's records that reached the server are intact (it stays RUNNING).
    count = Count()
    verify_runs(client, m["runs"], count)
    assert count.problems == []
    assert client.get_run(killed).info.status == "RUNNING"
    assert client.get_run(m["partial"]["experiment_runs"][0]).info.status == "RUNNING"
    assert client.get_run(finished).info.status == "FINISHED"

    # A later tracker's look-ups skip the half-finished run and find the last finished version.
    with MLFlowMetadataTracker(conf={"mlflow_tracking_uri": uri, "mlflow_experiment_name": experiment}) as t:
        dv = t.create_resource("p0_train", type="dataset_version")
        prev = t.get_prev_resource_version(dv)
        assert prev.run.info.run_id == finished
        assert t.get_vc_info(prev)["hexsha"] == m["runs"][finished]["tags"]["p0_train.hexsha"]
        mv = t.create_resource("p0_model", type="model_version")
        assert t.get_prev_resource_version(mv).run.info.run_id == finished
        _, history = t.get_prev_resource_version(mv, num=5)
        assert [r.info.run_id for r in history] == [finished]
        other = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": uri, "mlflow_experiment_name": experiment})
        try:
            assert other.get_resource("p0_train", type="dataset_version").run.info.run_id == finished
        finally:
            other.stop()


# ---------------------------------------------------------------------------------------------
# a 45 s restart under four writers (the defaults ride out 63 s of absence)
# ---------------------------------------------------------------------------------------------
def test_a_45s_restart_under_four_writers_loses_nothing(tmp_path: Path):
    from tests.support.mlflow_server import MlflowServer

    started = time.monotonic()
    server = MlflowServer(tmp_path / "server").start()
    start_up = time.monotonic() - started
    experiment = f"restart45-{uuid.uuid4().hex[:8]}"
    conf = {"mlflow_tracking_uri": server.url, "mlflow_experiment_name": experiment}  # default bounds
    MLFlowMetadataTracker(conf=conf).stop()  # the experiment and its index exist before the outage
    errors: list[BaseException] = []
    written: list[str] = []
    lock = threading.Lock()
    outage = threading.Event()

    def writer(w: int) -> None:
        try:
            for c in range(3):
                if c == 1:
                    outage.wait(120)  # every writer's second cycle starts while the server is away
                t = MLFlowMetadataTracker(conf=conf)
                dv = t.create_resource(f"data_{w}", type="dataset_version")
                t.log_metadata(dv, "rows", 100 + c)
                mv = t.create_resource(f"model_{w}", type="model_version")
                exp = t.create_resource(f"est_{w}", type="experiment", parent=mv)
                t.log_metadata(exp, "metrics", {"accuracy": 0.5 + c / 10})
                t.clean_resource(exp, type="experiment")
                t.build_model_lineage(mv, [dv])
                t.log_tag(mv, "status", "DEPLOYED")
                t.stop()
                with lock:
                    written.extend([t.run.info.run_id, exp.run.info.run_id])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    try:
        for th in threads:
            th.start()
        time.sleep(3)
        server.stop()
        down = time.monotonic()
        outage.set()
        time.sleep(max(45 - start_up, 0))  # away for 45 s, its start-up included
        server.start()
        print(f"server away for {time.monotonic() - down:.1f} s (start-up {start_up:.1f} s)")
        for th in threads:
            th.join(timeout=600)
        assert errors == []
        client = MlflowClient(tracking_uri=server.url)
        exp_id = client.get_experiment_by_name(experiment).experiment_id
        runs = without_index(client.search_runs([exp_id], max_results=1000))
        mine = [r for r in runs if r.info.run_id in written]
        assert len(written) == 24 and len(mine) == 24
        assert {r.info.status for r in runs} == {"FINISHED"}
        assert len(runs) == 25  # 24 + the first, empty workflow run: no duplicate from a retry
        for w in range(4):
            t = MLFlowMetadataTracker(conf=conf)
            deployed = t.get_currently_deployed_model_version(t.create_resource(f"model_{w}", type="model_version"))
            assert deployed is not None
            assert t.get_metadata((f"data_{w}", deployed[1]), "rows") == 102
            t.stop()
    finally:
        server.stop()
