"""Quarantine, taint and the gate (issue 22, items 1-3): a quarantined dataset version taints every
model version built from it through every lineage hop; PROMOTED / DEPLOYED on a tainted version
is refused and writes nothing (no tag, no alias, no registry version, no index entry, no event)
unless ``lolpop_allow_quarantined`` (then recorded as an override); lifting ends it. Events are
tags no other writer can produce: concurrent writers lose none. Real stores, all backends."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
import uuid
import warnings
from pathlib import Path

import pytest

import lolpop
from lolpop.audit.taint import taint_of
from lolpop.components import SklearnModelTrainer
from lolpop.exceptions import (
    InvalidInputError,
    QuarantinedLineageError,
    QuarantinedLineageWarning,
    ResourceNotFoundError,
)
from lolpop.layout import index, quarantine
from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter
from lolpop.store.reader import StoreReader, open_client
from tests.support.data import iris_splits

LOGREG = {"estimator": "LogisticRegression", "training_params": {"C": 0.5, "max_iter": 500}}
HOSTILE = "<script>alert(1)</script> **bold** [red]x[/red] \x1b]0;pwned\x07\x1b[31m `code` <img src=x onerror=1>"


@pytest.fixture(scope="module")
def iris():
    return iris_splits()


def _winner(tracker, model_id, data):
    """A model version whose winning experiment saved a model (so it has a registry version)."""
    mv = tracker.create_resource(model_id, type="model_version")
    SklearnModelTrainer(conf=LOGREG, metadata_tracker=tracker).build_model(data, mv, winner=True)
    return mv


def _nothing_written(client, tracker, mv, model_id):
    run_id = mv.run.info.run_id
    tags = client.get_run(run_id).data.tags
    assert f"{model_id}.status" not in tags
    assert not [k for k in tags if k.startswith("_lolpop.status_event.")]
    assert tracker.get_status_history(model_id) == []
    # the registry never heard of it: no registered version, no alias
    assert client.search_model_versions(f"name = '{model_id}'") == []
    # no DEPLOYED entry in the version index
    index_run = index.index_run_id(client.get_experiment(tracker.experiment_id).tags)
    if index_run is not None:
        metrics = client.get_run(index_run).data.metrics
        assert not set(index.metric_keys(index.DEPLOYED, model_id) or []) & set(metrics)


def test_quarantine_gate_refuses_writes_nothing_then_lift_allows(make_tracker, client, iris):
    tracker = make_tracker()
    model_id = f"churn_{uuid.uuid4().hex[:6]}"
    dv = tracker.create_resource("train", type="dataset_version")
    mv = _winner(tracker, model_id, iris)
    tracker.build_model_lineage(mv, [dv])

    result = tracker.quarantine(dv, "labels shifted by one row")
    assert (result.event.action, result.event.dataset_version_id, result.event.run_id, result.event.user) == \
        (quarantine.QUARANTINE, "train", dv.run.info.run_id, tracker.user)
    assert [(m.id, m.tainted, m.deployed_now) for m in result.model_versions] == [(model_id, True, False)]
    [finding] = tracker.get_taint(mv)
    assert (finding.dataset_version_id, finding.run_id, finding.reason, finding.hops) == \
        ("train", dv.run.info.run_id, "labels shifted by one row", 1)

    for status, call in (("DEPLOYED", lambda s: tracker.log_tag(mv, "status", s)),
                         ("PROMOTED", lambda s: tracker.log_metadata(mv, "status", s)),
                         ("DEPLOYED", lambda s: tracker.update_resource(mv, {"status": s}))):
        with pytest.raises(QuarantinedLineageError) as info:
            call(status)
        err = info.value
        assert (err.resource_id, err.run_id, err.dataset_version_id, err.dataset_run_id, err.reason) == \
            (model_id, mv.run.info.run_id, "train", dv.run.info.run_id, "labels shifted by one row")
        assert "'train'" in str(err) and "labels shifted by one row" in str(err) and status in str(err)
        _nothing_written(client, tracker, mv, model_id)
    tracker.log_tag(mv, "status", "STAGED")  # other statuses are not gated
    assert tracker.get_tag(mv, "status") == "STAGED"

    lifted = tracker.lift_quarantine(dv, "relabelled upstream")
    assert lifted.event.action == quarantine.LIFT and lifted.impact.taint == []
    assert tracker.get_taint(mv) == []
    tracker.log_tag(mv, "status", "DEPLOYED")
    assert tracker.get_tag(mv, "status") == "DEPLOYED"
    assert {a: str(v) for a, v in client.get_registered_model(model_id).aliases.items()} == {"deployed": "1"}
    # the history of both is kept, in order, on the dataset version's own run
    found = quarantine.events_in(client.get_run(dv.run.info.run_id).data.tags, dv.run.info.run_id, "train")
    assert [(e.action, e.reason) for e in found] == [("quarantine", "labels shifted by one row"),
                                                      ("lift", "relabelled upstream")]


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_bad_quarantine_input_is_refused_and_writes_nothing(tracker, client):
    dv = tracker.create_resource("d", type="dataset_version")
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    for reason in (None, "", "   ", 3, "x" * (quarantine.MAX_REASON + 1), "a\x00b"):
        with pytest.raises(InvalidInputError):
            tracker.quarantine(dv, reason)
    with pytest.raises(InvalidInputError, match="experiment"):
        tracker.quarantine(exp, "why")
    with pytest.raises(ResourceNotFoundError, match="'nope'"):
        tracker.quarantine(("nope", tracker.run), "why")
    assert not [k for k in client.get_run(tracker.run.info.run_id).data.tags if k.startswith("_lolpop.quarantine.")]


def _two_hop_chain(make_tracker):
    """raw data -> feature_model -> its predictions, used as data by another pipeline -> churn_model."""
    process = make_tracker()
    raw = process.create_resource("raw_events", type="dataset_version")
    features = process.create_resource("feature_model", type="model_version")
    process.build_model_lineage(features, [raw])
    process.log_tag(features, "status", "DEPLOYED")
    process.stop()
    scoring = make_tracker()
    scores = scoring.create_resource("feature_model_predictions", type="prediction_job",
                                     parent=scoring.get_resource("feature_model", type="model_version"))
    scoring.stop()
    downstream = make_tracker()
    churn = downstream.create_resource("churn_model", type="model_version")
    downstream.build_model_lineage(churn, [scores])
    downstream.stop()
    return raw, features, scores, churn


def test_taint_follows_two_hops_and_prediction_jobs(make_tracker):
    raw, features, scores, churn = _two_hop_chain(make_tracker)
    owner = make_tracker()
    result = owner.quarantine(raw, "PII found in column email")
    # feature_model is deployed now: said, and its status left alone
    assert [(m.id, m.run_id) for m in result.deployed_now] == [("feature_model", features.run.info.run_id)]
    assert owner.get_tag(features, "status") == "DEPLOYED"
    assert {m.id for m in result.model_versions} == {"feature_model", "churn_model"}
    assert result.impact.rollback[0].id == "feature_model"  # deployed now first

    tracker = make_tracker()
    mv = tracker.get_resource("churn_model", type="model_version")
    [finding] = tracker.get_taint(mv)
    assert finding.path == (f"churn_model@{churn.run.info.run_id}",
                            f"feature_model_predictions@{scores.run.info.run_id}",
                            f"feature_model@{features.run.info.run_id}",
                            f"raw_events@{raw.run.info.run_id}")
    assert finding.hops == 3 and finding.user == owner.user
    assert tracker.get_taint(tracker.get_resource("feature_model_predictions", type="prediction_job"))
    with pytest.raises(QuarantinedLineageError, match="raw_events"):
        tracker.log_tag(mv, "status", "PROMOTED")
    assert tracker.get_tag(mv, "status") is None
    owner.lift_quarantine(raw)
    tracker.log_tag(mv, "status", "PROMOTED")
    assert tracker.get_tag(mv, "status") == "PROMOTED"


def test_the_override_goes_through_and_is_recorded(make_tracker, caplog):
    tracker = make_tracker(lolpop_allow_quarantined=True)
    dv = tracker.create_resource("train", type="dataset_version")
    mv = tracker.create_resource("m", type="model_version")
    tracker.build_model_lineage(mv, [dv])
    tracker.quarantine(dv, HOSTILE)
    with caplog.at_level(logging.WARNING, logger="lolpop"):
        tracker.log_tag(mv, "status", "DEPLOYED")
    assert tracker.get_tag(mv, "status") == "DEPLOYED"
    [event] = make_tracker().get_status_history("m")
    assert event.new_status == "DEPLOYED"
    [source] = event.override
    assert (source["dataset_version_id"], source["run_id"], source["user"]) == \
        ("train", dv.run.info.run_id, tracker.user)
    assert source["reason"] == HOSTILE[:300]
    assert event.to_dict()["override"] == [source]
    assert "lolpop_allow_quarantined" in caplog.text
    with pytest.raises(Exception, match="lolpop_allow_quarantined"):
        make_tracker(lolpop_allow_quarantined="yes")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_load_model_of_a_tainted_version_warns_naming_the_source(make_tracker, iris):
    tracker = make_tracker()
    dv = tracker.create_resource("train", type="dataset_version")
    mv = _winner(tracker, "iris_model", iris)
    tracker.build_model_lineage(mv, [dv])
    with warnings.catch_warnings():
        warnings.simplefilter("error", QuarantinedLineageWarning)
        tracker.load_model(None, mv, None)  # untainted: no warning
    tracker.quarantine(dv, "drifted")
    with pytest.warns(QuarantinedLineageWarning, match="'train'.*drifted") as record:
        trainer = tracker.load_model(None, mv, None)
    assert trainer is not None and record[0].message.findings[0].dataset_version_id == "train"
    assert issubclass(QuarantinedLineageWarning, UserWarning)


WRITER = textwrap.dedent("""
    import json, sys
    from lolpop.components import MLFlowMetadataTracker

    conf, run_id, count = json.loads(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    with MLFlowMetadataTracker(conf=conf) as tracker:
        dv = ("shared", tracker._store.get_run(run_id))
        for i in range(count):
            tracker.quarantine(dv, f"{tracker.run.info.run_id} q{i}")
            tracker.lift_quarantine(dv, f"{tracker.run.info.run_id} l{i}")
""")


def test_two_processes_quarantining_and_lifting_at_once_lose_no_event(make_tracker, conf, client):
    owner = make_tracker()
    dv = owner.create_resource("shared", type="dataset_version")
    owner.stop()
    run_id, count = dv.run.info.run_id, 6
    src = str(Path(lolpop.__file__).parents[1])
    env = {**__import__("os").environ, "PYTHONPATH": src + ":" + str(Path(__file__).parents[3])}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, json.dumps(conf), run_id, str(count)], env=env,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for proc in procs:
        assert proc.wait(timeout=600) == 0, proc.stderr.read()[-3000:]
    found = quarantine.events_in(client.get_run(run_id).data.tags, run_id, "shared")
    assert len(found) == 2 * 2 * count and len({e.key for e in found}) == len(found)
    by_writer: dict[str, list[str]] = {}
    for event in found:
        by_writer.setdefault(event.writer_run_id, []).append(event.reason.split()[1])
    assert sorted(by_writer.values()) == [[f"{a}{i}" for i in range(count) for a in "ql"]] * 2
    # every reader orders them the same way, and the state is the last one's (a lift)
    assert quarantine.current(client.get_run(run_id).data.tags, run_id, "shared") is None


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_every_store_client_reads_the_same_events_and_taint(make_tracker, conf):
    raw, features, scores, churn = _two_hop_chain(make_tracker)
    make_tracker().quarantine(raw, HOSTILE)
    uri = conf["config"]["mlflow_tracking_uri"]
    from mlflow import MlflowClient

    answers = {}
    for kind, store_client in (("direct", open_client(uri)), ("mlflow", MlflowClientAdapter(MlflowClient(uri)))):
        reader = StoreReader.for_experiment(store_client, conf["config"]["mlflow_experiment_name"])
        try:
            answers[kind] = (
                [f.to_dict() for f in taint_of(reader, "churn_model", churn.run.info.run_id)],
                [e.to_dict() for e in quarantine.events_in(reader.get_run(raw.run.info.run_id).data.tags,
                                                           raw.run.info.run_id)],
            )
        finally:
            reader.close()
    assert answers["direct"] == answers["mlflow"]
    assert answers["direct"][0][0]["reason"] == HOSTILE and len(answers["direct"][1]) == 1


def test_forged_or_foreign_event_tags_are_skipped():
    run_id = "a" * 32
    key, text = quarantine.new_event_tag("d", run_id, "quarantine", "why", user="u", writer_run_id=None)
    tags = {key: text, quarantine.QUARANTINE_PREFIX + "junk": "{", quarantine.QUARANTINE_PREFIX + "1.x": "[]",
            quarantine.QUARANTINE_PREFIX + "0000000000000001.y": json.dumps({"action": "quarantine",
                                                                             "dataset_version_id": "d",
                                                                             "run_id": "b" * 32})}
    assert [e.key for e in quarantine.events_in(tags, run_id)] == [key]
    # same microsecond: the key decides, for every reader alike
    a = quarantine.QUARANTINE_PREFIX + "0000000000000005." + "1" * 32
    b = quarantine.QUARANTINE_PREFIX + "0000000000000005." + "2" * 32
    value = {"dataset_version_id": "d", "run_id": run_id}
    tags = {b: json.dumps({**value, "action": "lift"}), a: json.dumps({**value, "action": "quarantine"})}
    assert quarantine.current(tags, run_id, "d") is None


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_the_lineage_page_shows_taint_and_hostile_reason_text_is_inert(make_tracker, client, tmp_path):
    tracker = make_tracker()
    dv = tracker.create_resource("train", type="dataset_version")
    mv = tracker.create_resource("m", type="model_version")
    tracker.build_model_lineage(mv, [dv])
    tracker.quarantine(dv, HOSTILE)
    graph = tracker.get_lineage(mv)
    assert graph.root_node.taint[0]["reason"] == HOSTILE
    tracker.stop()  # draws the page again, with the final state
    page = Path(client.download_artifacts(mv.run.info.run_id, "m/lineage/lineage.html", str(tmp_path)))
    html = page.read_text(encoding="utf-8")
    assert "⚠ TAINTED by train@" in html and "⚠ QUARANTINED" in html and 'class="taint"' in html
    assert "default-src 'none'" in html  # the same CSP: no script runs, nothing is fetched
    for raw in ("<script", "<img", "\x1b", "\x07", "\x9b"):
        assert raw not in html, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def _page(client, mv, tmp_path, name):
    dst = tmp_path / name
    dst.mkdir()
    return Path(client.download_artifacts(mv.run.info.run_id, f"{mv[0]}/lineage/lineage.html",
                                          str(dst))).read_text(encoding="utf-8")


def test_a_quarantine_and_its_lift_redraw_the_pages_that_exist(make_tracker, client, tmp_path):
    """Issue 22 item 2: a page drawn before the quarantine is drawn again (in its own run, a run
    of another process included) with the taint and the reason (escaped); after the lift without
    it. A model version without a page gets none."""
    builder = make_tracker()
    dv = builder.create_resource("train", type="dataset_version")
    mv = builder.create_resource("m", type="model_version")
    builder.build_model_lineage(mv, [dv])
    builder.stop()  # its page: drawn before any quarantine, untainted
    assert "TAINTED" not in _page(client, mv, tmp_path, "before")
    other = make_tracker()
    bare = other.create_resource("bare", type="model_version", parent=dv)  # touched (made from it), no page
    other.flush()
    tracker = make_tracker()
    result = tracker.quarantine(dv, HOSTILE)
    assert ("bare", bare.run.info.run_id) in [(m.id, m.run_id) for m in result.model_versions]
    assert result.redrawn == [("m", mv.run.info.run_id)] and result.redraw_failures == []
    html = _page(client, mv, tmp_path, "quarantined")
    assert "⚠ TAINTED by train@" in html and 'class="taint"' in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html and "\x1b" not in html
    assert client.list_artifacts(bare.run.info.run_id, "bare/lineage") == []  # none created
    lifted = tracker.lift_quarantine(dv, "fixed")
    assert lifted.redrawn == [("m", mv.run.info.run_id)]
    html = _page(client, mv, tmp_path, "lifted")
    assert "TAINTED" not in html and 'class="taint"' not in html
    other.stop()
    tracker.stop()


def test_a_page_that_cannot_be_redrawn_is_a_warning_not_a_failure(make_tracker, client, monkeypatch, caplog):
    from lolpop.lineage import page

    builder = make_tracker()
    dv = builder.create_resource("train", type="dataset_version")
    mv = builder.create_resource("m", type="model_version")
    builder.build_model_lineage(mv, [dv])
    builder.stop()
    tracker = make_tracker()

    def broken(repo, rid):
        raise OSError("artifact store down")

    monkeypatch.setattr(page, "has_page", broken)
    with caplog.at_level(logging.WARNING, logger="lolpop.lineage"):
        result = tracker.quarantine(dv, "bad")
    assert result.redrawn == [] and len(result.redraw_failures) == 1 and "artifact store down" in caplog.text
    assert [e.action for e in quarantine.events_in(client.get_run(dv.run.info.run_id).data.tags,
                                                   dv.run.info.run_id)] == ["quarantine"]  # written all the same
    tracker.stop()
