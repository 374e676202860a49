"""``lolpop quarantine`` and taint in every reader of the CLI (issue 22): the command writes one
event tag on the dataset version's run and creates nothing; ``lineage`` (every format), ``impact``
(table and JSON: what to roll back, deployed now first) and ``history`` show the taint and its
source; hostile reason text (HTML, terminal escapes, rich markup, Markdown) stays inert."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from lolpop.cli.main import cli
from lolpop.exceptions import QuarantinedLineageError
from lolpop.layout import quarantine

HOSTILE = ("<script>alert(1)</script><img src=x onerror=alert(2)> **bold** [bold red]boom[/bold red] "
           "\x1b]0;pwned\x07\x1b[31m\x9b2J `code` ](javascript:alert(3))")
SERVER_OR_SQLITE = pytest.mark.parametrize("backend", ["sqlite", "server"])


@pytest.fixture
def store(make_tracker, conf):
    """raw_events -> feature_model (DEPLOYED) -> its predictions -> churn_model."""
    process = make_tracker()
    raw = process.create_resource("raw_events", type="dataset_version")
    process.register_vc_resource(raw, {"hexsha": "1" * 40, "uri": "raw.csv"})
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
    uri = conf["config"]["mlflow_tracking_uri"]
    return {"uri": uri, "experiment": conf["config"]["mlflow_experiment_name"], "raw": raw.run.info.run_id,
            "features": features.run.info.run_id, "scores": scores.run.info.run_id, "churn": churn.run.info.run_id}


def _run(store, *args, ok=True):
    result = CliRunner().invoke(cli, ["--tracking-uri", store["uri"], "--experiment", store["experiment"], *args])
    if ok:
        assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def _runs_of(client, experiment):
    exp = client.get_experiment_by_name(experiment)
    return sorted(r.info.run_id for r in client.search_runs([exp.experiment_id]))


@SERVER_OR_SQLITE
def test_quarantine_command_writes_one_event_creates_nothing_and_lists_what_is_deployed(store, client):
    before = _runs_of(client, store["experiment"])
    out = _run(store, "quarantine", "raw_events", "--run", store["raw"], "--reason", "PII in column email").output
    assert "Quarantined raw_events" in out and "PII in column email" in out
    assert re.search(r"deployed now \(status NOT changed.*\): feature_model \(run " + store["features"][:8], out)
    assert _runs_of(client, store["experiment"]) == before  # no workflow run, nothing else created
    tags = client.get_run(store["raw"]).data.tags
    [event] = quarantine.events_in(tags, store["raw"], "raw_events")
    assert (event.action, event.reason, event.writer_run_id) == ("quarantine", "PII in column email", None)
    assert client.get_run(store["features"]).data.tags["feature_model.status"] == "DEPLOYED"  # not changed

    data = json.loads(_run(store, "quarantine", "raw_events", "--run", store["raw"], "--reason", "again",
                           "--format", "json").output)
    assert data["event"]["action"] == "quarantine" and data["taint"][0]["reason"] == "again"
    assert [m["id"] for m in data["deployed_now"]] == ["feature_model"]

    lifted = json.loads(_run(store, "quarantine", "raw_events", "--run", store["raw"], "--lift",
                             "--format", "json").output)
    assert lifted["event"]["action"] == "lift" and lifted["taint"] == [] and lifted["rollback"] == []
    assert [e.action for e in quarantine.events_in(client.get_run(store["raw"]).data.tags, store["raw"])] == \
        ["quarantine", "quarantine", "lift"]


@SERVER_OR_SQLITE
def test_quarantine_command_refuses_bad_input_before_writing(store, client):
    for args, message in ((["--reason", ""], "non-empty"), ([], "non-empty"),
                          (["--reason", "x" * (quarantine.MAX_REASON + 1)], "at most")):
        result = _run(store, "quarantine", "raw_events", "--run", store["raw"], *args, ok=False)
        assert result.exit_code == 1 and message in result.output
    result = _run(store, "quarantine", "nope", "--run", store["raw"], "--reason", "x", ok=False)
    assert result.exit_code == 1 and "'nope'" in result.output
    result = _run(store, "quarantine", "raw_events", "--reason", "x", ok=False)
    assert result.exit_code == 2 and "--run" in result.output
    assert not [k for k in client.get_run(store["raw"]).data.tags if k.startswith("_lolpop.quarantine.")]


@SERVER_OR_SQLITE
def test_the_gate_sees_a_quarantine_the_cli_wrote(store, make_tracker):
    _run(store, "quarantine", "raw_events", "--run", store["raw"], "--reason", "bad")
    tracker = make_tracker()
    with pytest.raises(QuarantinedLineageError, match="'raw_events'"):
        tracker.log_tag(tracker.get_resource("churn_model", type="model_version"), "status", "DEPLOYED")


@SERVER_OR_SQLITE
def test_taint_and_its_source_in_every_reader_and_hostile_text_stays_inert(store):
    _run(store, "quarantine", "raw_events", "--run", store["raw"], "--reason", HOSTILE)
    outputs = {}
    for fmt in ("tree", "json", "mermaid", "dot", "html"):
        outputs[f"lineage {fmt}"] = _run(store, "lineage", "churn_model", "--format", fmt).output
    outputs["impact table"] = _run(store, "impact", "raw_events", "--run", store["raw"]).output
    outputs["impact json"] = _run(store, "impact", "raw_events", "--run", store["raw"], "--format", "json").output
    outputs["history"] = _run(store, "history", "churn_model").output
    outputs["history raw"] = _run(store, "history", "raw_events").output
    for name, out in outputs.items():
        # no terminal control sequence reaches the output, whatever the format
        assert "\x1b" not in out and "\x9b" not in out and "\x07" not in out, name
        assert "raw_events" in out, name
    for name in ("lineage tree", "lineage mermaid", "lineage dot", "lineage html", "history"):
        assert "TAINTED" in outputs[name], name
    assert "QUARANTINED" in outputs["history raw"] and "TAINTED" in outputs["impact table"]
    # rich markup is shown as text, never applied
    assert "[bold red]boom[/bold red]" in outputs["lineage tree"] + outputs["impact table"]
    for name in ("lineage mermaid", "lineage html"):
        assert "<script" not in outputs[name] and "<img" not in outputs[name], name
        assert "&lt;script&gt;" in outputs[name], name
    html = outputs["lineage html"]
    assert "default-src 'none'" in html and "quarantined by" in html
    graph = json.loads(outputs["lineage json"])
    churn = next(n for n in graph["nodes"] if n["id"] == "churn_model")
    assert churn["taint"][0]["reason"] == HOSTILE and churn["taint"][0]["hops"] == 3
    impact = json.loads(outputs["impact json"])
    assert impact["tainted"] is True and impact["taint"][0]["reason"] == HOSTILE
    # what must be rolled back: the deployed model version first
    assert [r["id"] for r in impact["rollback"]] == ["feature_model", "churn_model", "feature_model_predictions"]
    assert impact["rollback"][0]["deployed_now"] is True


@SERVER_OR_SQLITE
def test_history_deployments_shows_an_override(store, make_tracker):
    _run(store, "quarantine", "raw_events", "--run", store["raw"], "--reason", "bad")
    tracker = make_tracker(lolpop_allow_quarantined=True)
    tracker.log_tag(tracker.get_resource("churn_model", type="model_version"), "status", "DEPLOYED")
    tracker.stop()
    out = _run(store, "history", "churn_model", "--deployments").output
    assert "OVERRIDE" in out and "raw_events@" + store["raw"][:8] in out
    data = json.loads(_run(store, "history", "churn_model", "--deployments", "--format", "json").output)
    assert data[0]["override"][0]["dataset_version_id"] == "raw_events"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_lineage_page_in_a_browser_runs_nothing_and_fetches_nothing_from_a_hostile_reason(store, tmp_path):
    """Headless Chromium opens the page: a reason holding a script, an event handler and an image
    on a local server is shown as text — no script ran, no request reached the server."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from tests.support.chromium import chromium_binary, dump_dom

    chromium_binary()
    hits = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    beacon = f"http://127.0.0.1:{server.server_address[1]}/beacon"
    reason = (f"<script>document.title='pwned'</script><img src=\"{beacon}\" onerror=\"document.title='pwned'\">"
              f"<link rel=stylesheet href=\"{beacon}.css\"> \x1b[31m")
    try:
        _run(store, "quarantine", "raw_events", "--run", store["raw"], "--reason", reason)
        page = tmp_path / "lineage.html"
        _run(store, "lineage", "churn_model", "--format", "html", "-o", str(page))
        dom = dump_dom(page.as_uri(), user_data_dir=tmp_path / "profile")
    finally:
        server.shutdown()
        server.server_close()
    assert hits == []
    assert "pwned</title>" not in dom and "<script" not in dom and "<img" not in dom
    assert "&lt;script&gt;document.title='pwned'&lt;/script&gt;" in dom and "TAINTED by raw_events@" in dom


@SERVER_OR_SQLITE
def test_the_command_redraws_the_lineage_pages_it_touches(store, client, tmp_path):
    """Issue 22 item 2: pages drawn before the quarantine show it after ``lolpop quarantine`` (and
    no longer after ``--lift``), each redrawn in its own run; hostile reason text stays escaped."""
    from pathlib import Path

    def page(run, model, name):
        (tmp_path / name).mkdir()
        return Path(client.download_artifacts(store[run], f"{model}/lineage/lineage.html",
                                              str(tmp_path / name))).read_text(encoding="utf-8")

    assert "TAINTED" not in page("churn", "churn_model", "before")
    out = _run(store, "quarantine", "raw_events", "--run", store["raw"], "--reason", HOSTILE).output
    assert "redrew the lineage page of 2 model version(s)" in out and "warning" not in out
    for run, model in (("features", "feature_model"), ("churn", "churn_model")):
        html = page(run, model, f"q-{model}")
        assert "⚠ TAINTED by raw_events@" in html and 'class="taint"' in html, model
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html and "\x1b" not in html
    out = _run(store, "quarantine", "raw_events", "--run", store["raw"], "--lift").output
    assert "redrew the lineage page of 2 model version(s)" in out
    html = page("churn", "churn_model", "lifted")
    assert "TAINTED" not in html and 'class="taint"' not in html


def test_the_command_states_its_quarantine_once_and_an_upstream_one_still(make_tracker, conf):
    """Its header says who quarantined what and why; the impact table below it repeated that as a
    "TAINTED" line. That the dataset version was itself made from a quarantined one is news, and
    is still printed."""
    t = make_tracker()
    a = t.create_resource("clicks", type="dataset_version")
    b = t.create_resource("sessions", type="dataset_version", parent=a)
    mv = t.create_resource("ctr_model", type="model_version")
    t.build_model_lineage(mv, [b])
    t.stop()
    store = {"uri": conf["config"]["mlflow_tracking_uri"], "experiment": conf["config"]["mlflow_experiment_name"]}
    first = _run(store, "quarantine", "clicks", "--run", a.run.info.run_id, "--reason", "bot traffic").output
    assert first.count("bot traffic") == 1 and "TAINTED" not in first, first
    assert "ctr_model" in first and "sessions" in first
    second = _run(store, "quarantine", "sessions", "--run", b.run.info.run_id, "--reason", "mislabelled").output
    assert second.count("mislabelled") == 1, second
    assert re.search(r"TAINTED: clicks \(run " + a.run.info.run_id[:8] + r"\) quarantined by .*: bot traffic",
                     second, re.S), second
