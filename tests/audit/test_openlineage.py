"""OpenLineage: ``lolpop lineage --format openlineage`` and the tracker's live events, every event
validated against the 2-0-2 spec's requirements (tests/audit/openlineage_schema.py), delivered to a
real HTTP endpoint on 127.0.0.1 — also when it is down at first, or never up."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from lolpop.audit import openlineage as ol
from lolpop.cli.main import cli
from lolpop.exceptions import ConfigError
from tests.audit.openlineage_schema import SCHEMAS

RUN_EVENT = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


def _registry() -> Registry:
    return Registry().with_resources([(schema["$id"], Resource.from_contents(schema)) for schema in SCHEMAS])


REGISTRY = _registry()


def _validate_ref(ref: str, instance: object) -> None:
    Draft202012Validator({"$ref": ref}, registry=REGISTRY,
                         format_checker=Draft202012Validator.FORMAT_CHECKER).validate(instance)


def validate(event: dict) -> None:
    """The event against RunEvent, and every facet against the schema its ``_schemaURL`` names."""
    _validate_ref(RUN_EVENT, event)
    facets = [*event["run"].get("facets", {}).values(), *event["job"].get("facets", {}).values()]
    for dataset in event.get("inputs", []) + event.get("outputs", []):
        facets += dataset.get("facets", {}).values()
    assert facets
    for facet in facets:
        assert facet["_schemaURL"].split("#")[0] in {r for r in REGISTRY}, facet["_schemaURL"]
        _validate_ref(facet["_schemaURL"], facet)


def test_schema_validation_can_fail():
    event = ol.workflow_event("START", "exp", uuid.uuid4().hex)
    good = json.loads(ol.to_json(event))
    validate(good)
    for broken in ({**good, "eventType": "DONE"}, {**good, "run": {"runId": "not-a-uuid"}},
                   {**good, "job": {"namespace": "lolpop"}}):
        with pytest.raises(Exception):
            validate(broken)


# -- the CLI export ----------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_lineage_as_openlineage_events(two_cycles):
    one, two = two_cycles["cycles"]
    result = CliRunner().invoke(cli, ["--tracking-uri", two_cycles["uri"], "--experiment", two_cycles["experiment"],
                                      "lineage", "breast_cancer_model", "--format", "openlineage"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.output.splitlines()]
    for event in events:
        validate(event)
    by_job: dict[str, list[dict]] = {}
    for event in events:
        by_job.setdefault(event["job"]["name"], []).append(event)
    assert {"process.breast_cancer", "train.breast_cancer_model", "predict.breast_cancer_model_predictions",
            "train.breast_cancer_model.LogisticRegression", "train.breast_cancer_model.Dummy"} <= set(by_job)
    # every run: one START, one COMPLETE, in that order
    runs: dict[str, list[str]] = {}
    for event in events:
        runs.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert all(states == ["START", "COMPLETE"] for states in runs.values()), runs
    train = by_job["train.breast_cancer_model"][-1]
    assert [(d["name"], d["facets"]["version"]["datasetVersion"]) for d in train["inputs"]] == [
        ("breast_cancer", "b" * 40)]
    assert [(d["name"], d["facets"]["version"]["datasetVersion"]) for d in train["outputs"]] == [
        ("breast_cancer_model", two["run"])]
    workflow = train["run"]["facets"]["parent"]
    assert workflow["job"]["name"] == two_cycles["experiment"]
    assert workflow["run"]["runId"] == str(uuid.UUID(two["run"]))
    experiment = by_job["train.breast_cancer_model.LogisticRegression"][-1]
    assert experiment["run"]["facets"]["parent"]["run"]["runId"] == train["run"]["runId"]
    predict = by_job["predict.breast_cancer_model_predictions"][-1]
    assert predict["inputs"][0]["facets"]["version"]["datasetVersion"] == two["run"]
    assert predict["run"]["facets"]["parent"]["run"]["runId"] == str(uuid.UUID(two["pj_run"]))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_openlineage_export_of_a_hostile_store_is_ascii_json(hostile_cycles):
    result = CliRunner().invoke(cli, ["--tracking-uri", hostile_cycles["uri"], "--experiment",
                                      hostile_cycles["experiment"], "lineage", "breast_cancer", "--format",
                                      "openlineage"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output.isascii() and "\x1b" not in result.output
    for line in result.output.splitlines():
        validate(json.loads(line))


# -- live events over HTTP ---------------------------------------------------------------------
class Receiver:
    """An OpenLineage endpoint on 127.0.0.1 that records what it receives (and answers each event
    ``delay`` seconds after it has read it)."""

    def __init__(self, port: int = 0, delay: float = 0.0) -> None:
        received = self.events = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append((self.path, json.loads(body)))
                time.sleep(delay)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    server = Receiver()
    yield server
    server.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _states(received, run_id):
    return [e["eventType"] for path, e in received if e["run"]["runId"] == str(uuid.UUID(run_id))]


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_tracker_sends_start_and_complete(make_tracker, receiver, conf):
    tracker = make_tracker(openlineage_url=receiver.url)
    run_id = tracker.run.info.run_id
    assert _states(receiver.events, run_id) == ["START"]  # sent at construction
    tracker.log_metadata(tracker.create_resource("d", type="dataset_version"), "rows", 1)
    tracker.stop()
    assert _states(receiver.events, run_id) == ["START", "COMPLETE"]
    for path, event in receiver.events:
        assert path == "/api/v1/lineage"
        validate(event)
        assert event["job"]["name"] == conf["config"]["mlflow_experiment_name"]


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize(("status", "event"), [("FAILED", "FAIL"), ("KILLED", "ABORT")])
def test_failed_and_killed_runs(make_tracker, receiver, status, event):
    tracker = make_tracker(openlineage_url=receiver.url)
    tracker.stop(status=status)
    assert _states(receiver.events, tracker.run.info.run_id) == ["START", event]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_url_from_the_environment(make_tracker, receiver, monkeypatch):
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    tracker = make_tracker()
    tracker.stop()
    assert _states(receiver.events, tracker.run.info.run_id) == ["START", "COMPLETE"]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_endpoint_down_then_up_loses_nothing_and_sends_nothing_twice(make_tracker, caplog):
    port = free_port()
    with caplog.at_level(logging.WARNING, logger="lolpop.openlineage"):
        tracker = make_tracker(openlineage_url=f"http://127.0.0.1:{port}")
    assert "could not send START" in caplog.text
    dv = tracker.create_resource("d", type="dataset_version")  # tracking goes on
    tracker.log_metadata(dv, "rows", 1)
    late = Receiver(port)
    try:
        tracker.stop()
        assert _states(late.events, tracker.run.info.run_id) == ["START", "COMPLETE"]
        assert tracker._openlineage.pending == deque_empty()
    finally:
        late.stop()


def deque_empty():
    from collections import deque

    return deque()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_endpoint_never_up_is_logged_and_tracking_works(make_tracker, client, caplog):
    with caplog.at_level(logging.WARNING, logger="lolpop.openlineage"):
        tracker = make_tracker(openlineage_url=f"http://127.0.0.1:{free_port()}")
        dv = tracker.create_resource("d", type="dataset_version")
        tracker.log_metadata(dv, "rows", 7)
        tracker.stop()
    assert client.get_run(tracker.run.info.run_id).info.status == "FINISHED"
    assert client.get_run(tracker.run.info.run_id).data.tags["d.rows"] == "7"
    assert "2 event(s) could not be delivered and are lost" in caplog.text
    assert [e.eventType.value for e in tracker._openlineage.pending] == ["START", "COMPLETE"]


def test_pending_events_are_bounded(monkeypatch, caplog):
    monkeypatch.setattr(ol, "MAX_PENDING", 3)
    emitter = ol.Emitter(f"http://127.0.0.1:{free_port()}", timeout=1)
    run_ids = [uuid.uuid4().hex for _ in range(5)]
    with caplog.at_level(logging.WARNING, logger="lolpop.openlineage"):
        for run_id in run_ids:
            assert emitter.emit(ol.workflow_event("START", "exp", run_id)) is False
    assert [e.run.runId for e in emitter.pending] == [str(uuid.UUID(r)) for r in run_ids[2:]]
    assert emitter.dropped == 2 and "dropped the oldest" in caplog.text
    receiver = Receiver()
    try:
        emitter.transport = ol.Emitter(receiver.url).transport
        assert emitter.retry() is True
        assert [e["run"]["runId"] for _, e in receiver.events] == [str(uuid.UUID(r)) for r in run_ids[2:]]
    finally:
        receiver.stop()


@pytest.mark.parametrize("backend", ["sqlite"])
@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "127.0.0.1:5000", 5000])
def test_bad_url_is_a_config_error(make_tracker, url):
    with pytest.raises(ConfigError, match="openlineage_url"):
        make_tracker(openlineage_url=url)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_quarantine_is_announced_with_the_lolpop_quarantine_facet(make_tracker, receiver, monkeypatch, conf):
    """Issue 22: with OpenLineage configured, quarantine (tracker and CLI) sends an OTHER event whose
    input dataset carries the custom facet (action, reason, who, what is deployed now)."""
    earlier = make_tracker()
    dv = earlier.create_resource("train", type="dataset_version")
    mv = earlier.create_resource("m", type="model_version")
    earlier.build_model_lineage(mv, [dv])
    earlier.log_tag(mv, "status", "DEPLOYED")
    earlier.stop()  # deployed now: the newest finished version whose status is DEPLOYED
    tracker = make_tracker(openlineage_url=receiver.url)
    tracker.quarantine(dv, "<b>bad</b>")
    [(path, event)] = [(p, e) for p, e in receiver.events if e["eventType"] == "OTHER"]
    _validate_ref(RUN_EVENT, event)  # a RunEvent; the custom facet's schema is lolpop's own
    assert event["run"]["runId"] == str(uuid.UUID(tracker.run.info.run_id))
    facet = event["inputs"][0]["facets"]["lolpopQuarantine"]
    assert event["inputs"][0]["name"] == "train"
    assert (facet["action"], facet["reason"], facet["user"], facet["mlflowRunId"]) == \
        ("quarantine", "<b>bad</b>", tracker.user, dv.run.info.run_id)
    assert facet["deployedNow"] == [{"id": "m", "mlflowRunId": mv.run.info.run_id}]
    assert facet["_schemaURL"].startswith("https://") and facet["_producer"]
    tracker.stop()
    monkeypatch.setenv("OPENLINEAGE_URL", receiver.url)
    result = CliRunner().invoke(cli, ["--tracking-uri", conf["config"]["mlflow_tracking_uri"], "quarantine", "train",
                                      "--run", dv.run.info.run_id, "--lift"])
    assert result.exit_code == 0, result.output
    lifts = [e for _, e in receiver.events if e["eventType"] == "OTHER"
             and e["inputs"][0]["facets"]["lolpopQuarantine"]["action"] == "lift"]
    assert len(lifts) == 1 and lifts[0]["job"]["name"] == "lolpop.quarantine"
