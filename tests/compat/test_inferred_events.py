"""Upgrading in place: versions an older lolpop deployed (a ``status`` tag, no status events) stay
in the deployment history, as inferred events, next to what this lolpop records — read by the
tracker, by every store client, and by ``lolpop history --deployments``."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from mlflow.entities import RunTag

from lolpop.audit import deployed_at, status_history
from lolpop.cli.main import cli
from lolpop.store.reader import StoreReader, open_client

SHA = "3f2c8a9d0b1e4f5a6b7c8d9e0f1a2b3c4d5e6f70"


def _old_run(client, experiment_id: str, start_ms: int, tags: dict[str, str]) -> tuple[str, int]:
    """A workflow run written as an older lolpop did (raw client calls); ``(run id, end time ms)``."""
    run = client.create_run(experiment_id, start_time=start_ms, tags={"parent_run": "True"})
    client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in tags.items()])
    end_ms = start_ms + 5_000
    client.set_terminated(run.info.run_id, "FINISHED", end_time=end_ms)
    return run.info.run_id, end_ms


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def test_an_upgraded_store_keeps_the_earlier_deployments_marked_inferred(make_tracker, client, conf):
    client.create_experiment(conf["config"]["mlflow_experiment_name"])
    first = make_tracker()
    experiment_id = first.experiment_id
    first.stop()
    now = int(time.time() * 1000)
    # lolpop 0.2.0: untyped resources; the model version known by its recorded lineage.
    v1, end1 = _old_run(client, experiment_id, now - 600_000, {
        "train.exists": "True", "train.hexsha": SHA, "churn.exists": "True",
        "churn.dataset_versions": str(["train"]), "churn.dataset_versions.exists": "True",
        "churn.status": "DEPLOYED",
    })
    # earlier lolpop: typed resources, still no status events.
    v2, end2 = _old_run(client, experiment_id, now - 300_000, {
        "churn.exists": "True", "churn.type": "model_version", "churn.status": "DEPLOYED",
        # an untyped resource with a status but nothing of a model version: no history
        "notes.exists": "True", "notes.status": "DEPLOYED",
    })
    # This lolpop, in place: a new version promoted and deployed, then a rollback to v2.
    tracker = make_tracker()
    mv = tracker.create_resource("churn", type="model_version")
    tracker.log_tag(mv, "status", "PROMOTED")
    tracker.log_tag(mv, "status", "DEPLOYED")
    prev = tracker.get_prev_resource_version(mv)
    assert prev.run.info.run_id == v2
    tracker.log_tag(prev, "status", "DEPLOYED")
    v3 = mv.run.info.run_id

    expected = [(v1, None, "DEPLOYED", True), (v2, None, "DEPLOYED", True), (v3, None, "PROMOTED", False),
                (v3, "PROMOTED", "DEPLOYED", False), (v2, "DEPLOYED", "DEPLOYED", False)]

    def shape(found):
        return [(e.run_id, e.old_status, e.new_status, e.inferred) for e in found]

    found = tracker.get_status_history("churn")
    assert shape(found) == expected
    inferred = [e for e in found if e.inferred]
    # no user, the run's end time, nothing pretending to be a stored tag
    assert [(e.user, e.registry_version, e.writer_run_id, e.key) for e in inferred] == [(None, None, None, "")] * 2
    assert [e.time for e in inferred] == [_utc(end1), _utc(end2)]
    assert "(inferred)" in repr(inferred[0]) and inferred[0].to_dict()["inferred"] is True
    assert tracker.get_status_history("notes") == []
    # "what was deployed" between the two old versions' runs: v1, by its inferred event
    assert [e.run_id for e in tracker.get_deployed_at("churn", _utc(end1) + timedelta(seconds=1))] == [v1]
    assert [e.run_id for e in tracker.get_deployed_at("churn", _utc(end1) - timedelta(seconds=1))] == []
    tracker.stop()

    uri = conf["config"]["mlflow_tracking_uri"]
    # Every store client reads the same history: the direct one for the URI, and MlflowClient.
    for reader in (StoreReader(open_client(uri), [experiment_id]), StoreReader(client, [experiment_id])):
        try:
            assert status_history(reader, "churn") == found, type(reader.client).__name__
            assert [e.run_id for e in deployed_at(reader, "churn", _utc(end2) + timedelta(seconds=1))] == [v2, v1]
        finally:
            reader.close()

    args = ["--tracking-uri", uri, "--experiment", conf["config"]["mlflow_experiment_name"], "history", "churn",
            "--deployments"]
    table = CliRunner().invoke(cli, args, catch_exceptions=False, env={"COLUMNS": "200"}).output
    rows = [line for line in table.splitlines() if v1 in line or v2 in line]
    assert len(rows) == 3 and sum("≈" in r for r in rows) == 2, table
    assert "(inferred: not recorded)" in table and "≈ inferred: written before lolpop recorded" in table
    data = json.loads(CliRunner().invoke(cli, [*args, "--format", "json"], catch_exceptions=False).output)
    assert [(d["run_id"], d["inferred"], d["user"]) for d in data][:2] == [(v1, True, None), (v2, True, None)]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_hostile_legacy_status_is_shown_inert(make_tracker, client, conf):
    from lolpop.audit.report import build_report
    from tests.audit.conftest import HOSTILE

    client.create_experiment(conf["config"]["mlflow_experiment_name"])
    tracker = make_tracker()
    experiment_id = tracker.experiment_id
    tracker.stop()
    status = "<script>alert(1)</script>|" + HOSTILE
    run_id, _ = _old_run(client, experiment_id, int(time.time() * 1000) - 60_000, {
        "churn.exists": "True", "churn.dataset_versions": "[]", "churn.status": status})
    uri = conf["config"]["mlflow_tracking_uri"]
    base = ["--tracking-uri", uri, "--experiment", conf["config"]["mlflow_experiment_name"]]
    for args in (["history", "churn", "--deployments"], ["history", "churn", "--deployments", "--format", "json"],
                 ["report", "churn", "--format", "md"], ["report", "churn"]):
        out = CliRunner().invoke(cli, [*base, *args], catch_exceptions=False, env={"COLUMNS": "200"}).output
        assert run_id in out, args
        # terminal and JSON show it as text; HTML and Markdown must escape it too
        for raw in ("\x1b", "\x07", "\x9b", *(("<script>",) if args[0] == "report" else ())):
            assert raw not in out, (args, raw)
    reader = StoreReader(open_client(uri), [experiment_id])
    try:
        [event] = build_report(reader, "churn").history
        assert event.inferred and event.new_status == status
    finally:
        reader.close()
