"""Deployment history: every status set on a model version is an event stored with the status, read
back by any process, none lost to concurrent writers, and "what was DEPLOYED at T" answered."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import lolpop
from lolpop.audit import deployed_at, status_history
from lolpop.cli.main import cli
from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.components import MLFlowMetadataTracker
from lolpop.exceptions import InvalidInputError
from lolpop.store.reader import StoreReader, open_client
from tests.support.version_index import build_index

SERVER_OR_SQLITE = pytest.mark.parametrize("backend", ["sqlite", "server"])


def _changes(found):
    return [(e.old_status, e.new_status) for e in found]


@SERVER_OR_SQLITE
def test_each_status_set_is_an_event_with_who_when_and_where(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    tracker.log_tag(mv, "status", "PROMOTED")
    tracker.log_metadata(mv, "status", "DEPLOYED")
    tracker.update_resource(mv, {"status": "ARCHIVED"})
    tracker.log_tag(mv, "status", "DEPLOYED")
    tracker.log_tag(mv, "status", "DEPLOYED")  # re-setting is an event too (a redeploy)
    found = tracker.get_status_history("churn")
    assert _changes(found) == [(None, "PROMOTED"), ("PROMOTED", "DEPLOYED"), ("DEPLOYED", "ARCHIVED"),
                               ("ARCHIVED", "DEPLOYED"), ("DEPLOYED", "DEPLOYED")]
    run_id = tracker.run.info.run_id
    assert {(e.model_version_id, e.run_id, e.writer_run_id, e.user, e.registry_version) for e in found} == \
        {("churn", run_id, run_id, getpass.getuser(), None)}
    assert [e.time for e in found] == sorted(e.time for e in found)
    assert tracker.get_status_history(mv) == found
    # In the store: the status tag as before, and one tag per event.
    tags = client.get_run(run_id).data.tags
    assert tags["churn.status"] == "DEPLOYED"
    assert sorted(k for k in tags if k.startswith("_lolpop.status_event.")) == [e.key for e in found]


def test_only_model_versions_have_status_events(tracker):
    dv = tracker.create_resource("data", type="dataset_version")
    tracker.log_tag(dv, "status", "VALIDATED")
    untyped = tracker.create_resource("legacy")
    tracker.log_tag(untyped, "status", "DEPLOYED")
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.log_metadata(exp, "status", "DEPLOYED")
    tracker.update_resource(exp, {"status": "FINISHED"})
    assert tracker.get_status_history("data") == tracker.get_status_history("legacy") == []
    assert tracker.get_status_history("m") == [] and tracker.get_status_history("nothing") == []
    # A model version created with its status records that first status as an event.
    tracker.create_resource("born", type="model_version", status="PROMOTED")
    assert _changes(tracker.get_status_history("born")) == [(None, "PROMOTED")]


def test_a_refused_status_writes_no_event(tracker):
    mv = tracker.create_resource("m", type="model_version")
    with pytest.raises(TypeError):
        tracker.log_metadata(mv, "status", object())
    with pytest.raises(InvalidInputError):
        tracker.log_tag(mv, "status", "bad\x00status")
    assert tracker.get_status_history(mv) == []
    tracker.log_tag(mv, "status", "PROMOTED")
    assert _changes(tracker.get_status_history(mv)) == [(None, "PROMOTED")]


def test_batched_mode_sends_the_event_with_its_status(make_tracker, client):
    tracker = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=60)
    mv = tracker.create_resource("m", type="model_version")
    tracker.log_tag(mv, "status", "DEPLOYED")
    # The writer reads its own pending writes; the store has neither the status nor the event yet.
    assert _changes(tracker.get_status_history("m")) == [(None, "DEPLOYED")]
    assert "m.status" not in client.get_run(tracker.run.info.run_id).data.tags
    tracker.flush()
    tags = client.get_run(tracker.run.info.run_id).data.tags
    assert tags["m.status"] == "DEPLOYED"
    assert [k for k in tags if k.startswith("_lolpop.status_event.")] == [tracker.get_status_history("m")[0].key]


def test_the_status_and_its_event_are_one_write_request(mlflow_server):
    from tests.support.http_proxy import HttpProxy

    proxy = HttpProxy(mlflow_server.url)
    conf = {"mlflow_tracking_uri": proxy.url, "mlflow_experiment_name": f"budget-{uuid.uuid4().hex[:8]}"}
    build_index(conf)
    tracker = MLFlowMetadataTracker(conf=conf)
    try:
        mv = tracker.create_resource("m", type="model_version")
        for status in ("PROMOTED", "DEPLOYED", "DEPLOYED"):
            proxy.reset()
            tracker.log_tag(mv, "status", status)
            writes = {k: v for k, v in proxy.counts().items() if not k.startswith(("GET ", "POST /api/2.0/mlflow/runs/search"))}
            # DEPLOYED is indexed first, in one log_batch to the index run (lolpop.layout.index).
            assert writes == {"POST /api/2.0/mlflow/runs/log-batch": 2 if status == "DEPLOYED" else 1}
    finally:
        tracker.stop()
        proxy.close()


WRITER = textwrap.dedent("""
    import json, sys
    from lolpop.components import MLFlowMetadataTracker

    conf, label, count = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    with MLFlowMetadataTracker(conf=conf) as tracker:
        mv = tracker.get_resource("shared", type="model_version")
        for i in range(count):
            tracker.log_tag(mv, "status", f"{label}-{i}")
""")


def _env() -> dict[str, str]:
    src = str(Path(lolpop.__file__).resolve().parents[1])
    root = str(Path(__file__).resolve().parents[3])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, root, os.environ.get("PYTHONPATH", "")])}


@SERVER_OR_SQLITE
def test_concurrent_processes_lose_no_event_and_every_process_reads_them(make_tracker, conf, tmp_path):
    first = make_tracker()
    mv = first.create_resource("shared", type="model_version")
    first.log_tag(mv, "status", "TRAINED")
    first.stop()
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    count = 15
    procs = [subprocess.Popen([sys.executable, str(script), json.dumps(conf["config"]), label, str(count)],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for label in ("A", "B")]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]

    reader_tracker = make_tracker()
    found = reader_tracker.get_status_history("shared")
    assert len(found) == 1 + 2 * count
    assert found[0].new_status == "TRAINED"
    assert {e.run_id for e in found} == {mv.run.info.run_id}
    for label in ("A", "B"):
        mine = [e for e in found if str(e.new_status).startswith(label + "-")]
        assert [e.new_status for e in mine] == [f"{label}-{i}" for i in range(count)]  # each writer's order
        assert len({e.writer_run_id for e in mine}) == 1
    assert [e.time_us for e in found] == sorted(e.time_us for e in found)
    # The read side (CLI, no tracker) sees the same events in the same order.
    reader = StoreReader.for_experiment(open_client(conf["config"]["mlflow_tracking_uri"]),
                                        conf["config"]["mlflow_experiment_name"])
    assert [e.key for e in status_history(reader, "shared")] == [e.key for e in found]


def test_concurrent_threads_lose_no_event_and_keep_the_chain(make_tracker):
    tracker = make_tracker()
    mv = tracker.create_resource("m", type="model_version")
    threads, count = 6, 20

    def work(t: int) -> None:
        for i in range(count):
            tracker.log_tag(mv, "status", f"T{t}-{i}")

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    found = tracker.get_status_history(mv)
    assert len(found) == threads * count
    # Writers of one run are one ordered sequence: each event's old status is the previous one's new.
    assert [e.old_status for e in found[1:]] == [e.new_status for e in found[:-1]]
    assert tracker.get_tag(mv, "status") == found[-1].new_status
    # Threads writing to a run this tracker does not own (another process's finished run).
    tracker.stop()
    other = make_tracker()
    theirs = other.get_resource("m", type="model_version")
    pool = [threading.Thread(target=lambda t=t: [other.log_tag(theirs, "status", f"U{t}-{i}") for i in range(10)])
            for t in range(4)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert len(other.get_status_history("m")) == threads * count + 40


@SERVER_OR_SQLITE
def test_deployed_at_answers_what_was_deployed_at_a_moment(make_tracker, conf):
    one = make_tracker()
    v1 = one.create_resource("m", type="model_version")
    one.log_tag(v1, "status", "PROMOTED")
    one.log_tag(v1, "status", "DEPLOYED")
    one.stop()
    two = make_tracker()
    v2 = two.create_resource("m", type="model_version")
    two.log_tag(v2, "status", "PROMOTED")
    two.log_tag(v2, "status", "DEPLOYED")
    two.log_tag(v2, "status", "ROLLED_BACK")
    two.stop()
    three = make_tracker()
    three.log_tag(Resource("m", v1.run), "status", "DEPLOYED")  # the rollback, from a third run

    found = three.get_status_history("m")
    assert [(e.run_id == v1.run.info.run_id, e.new_status) for e in found] == [
        (True, "PROMOTED"), (True, "DEPLOYED"), (False, "PROMOTED"), (False, "DEPLOYED"),
        (False, "ROLLED_BACK"), (True, "DEPLOYED")]
    v1_deploy, v2_deploy, v2_back, v1_again = found[1], found[3], found[4], found[5]
    tiny = timedelta(microseconds=1)

    def deployed(when):
        return [e.run_id for e in three.get_deployed_at("m", when)]

    assert deployed(found[0].time) == []
    assert deployed(v1_deploy.time - tiny) == []
    assert deployed(v1_deploy.time) == [v1.run.info.run_id]
    assert deployed(v2_deploy.time) == [v2.run.info.run_id, v1.run.info.run_id]  # both, newest first
    assert deployed(v2_back.time) == [v1.run.info.run_id]
    assert three.get_deployed_at("m", v1_again.time) == [v1_again]
    assert three.get_deployed_at(v1, v1_again.time.replace(tzinfo=None)) == [v1_again]  # naive = UTC
    with pytest.raises(InvalidInputError, match="datetime"):
        three.get_deployed_at("m", "2026-11-01")

    reader = StoreReader.for_experiment(open_client(conf["config"]["mlflow_tracking_uri"]),
                                        conf["config"]["mlflow_experiment_name"])
    assert [e.key for e in deployed_at(reader, "m", v2_deploy.time)] == [v2_deploy.key, v1_deploy.key]

    # The CLI: the history table, JSON, and --at.
    runner = CliRunner()
    base = ["--tracking-uri", conf["config"]["mlflow_tracking_uri"], "--experiment",
            conf["config"]["mlflow_experiment_name"], "history", "m", "--deployments"]
    table = runner.invoke(cli, base, env={"COLUMNS": "250"})
    assert table.exit_code == 0, table.output
    assert "6 change(s)" in table.output and "ROLLED_BACK" in table.output
    assert v1.run.info.run_id in table.output and v2.run.info.run_id in table.output
    as_json = runner.invoke(cli, base + ["--format", "json"])
    assert as_json.exit_code == 0, as_json.output
    assert [(d["run_id"], d["old_status"], d["new_status"]) for d in json.loads(as_json.output)] == \
        [(e.run_id, e.old_status, e.new_status) for e in found]
    at = runner.invoke(cli, base + ["--at", v2_back.time.isoformat(), "--format", "json"])
    assert [d["run_id"] for d in json.loads(at.output)] == [v1.run.info.run_id]
    at_table = runner.invoke(cli, base + ["--at", (v1_deploy.time - tiny).isoformat()], env={"COLUMNS": "250"})
    assert at_table.exit_code == 0 and "nothing" in at_table.output
    bad = runner.invoke(cli, base + ["--at", "yesterday"])
    assert bad.exit_code == 1 and "--at 'yesterday'" in bad.output
