"""The audit report (``lolpop report``, ``lolpop.audit.report.build_report``): what it holds on every
backend and store client, hostile stored text inert in HTML and Markdown, and the page rendered by
headless Chromium with no network request."""

from __future__ import annotations

import dataclasses

import json
from datetime import datetime, timezone
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from markdown_it import MarkdownIt

from lolpop.audit.report import build_report, md
from lolpop.lineage.taint import TaintFinding
from lolpop.cli.main import cli
from lolpop.exceptions import InvalidInputError, ResourceNotFoundError
from lolpop.layout.ui_links import DEFAULT_UI
from lolpop.lineage.render import CSP
from lolpop.store.reader import StoreReader, open_client
from tests.audit.conftest import CYCLES, HOSTILE, run_cycle
from tests.support.chromium import dump_dom_offline

FINDING = TaintFinding("raw_events", "c" * 32, "PII leaked into column email", "alice",
                        datetime(2026, 11, 3, 9, 30, tzinfo=timezone.utc),
                        (f"raw_events@{'c' * 32}", f"breast_cancer@{'d' * 32}", f"breast_cancer_model@{'e' * 32}"))

# Stored text that would act if it were not escaped: HTML and script, a fetch to the network,
# Markdown structure (a table row, a heading, a link, an image), and terminal escapes.
ATTACK = ('</script><script>alert(1)</script><img src="http://exfil.test/a.png" onerror="alert(2)">'
          '<a href="javascript:alert(3)">x</a>\n| injected | row |\n# heading [link](http://exfil.test/b) '
          '![img](http://exfil.test/c.png) `code` *em* ' + HOSTILE)


def _reader(store):
    return StoreReader.for_experiment(open_client(store["uri"]), store["experiment"])


def test_the_report_on_every_backend(two_cycles, client, tmp_path):
    one, two = two_cycles["cycles"]
    readers = [_reader(two_cycles)]
    exp = client.get_experiment_by_name(two_cycles["experiment"]).experiment_id
    readers.append(StoreReader(client, [exp]))  # the MlflowClient adapter: the third store client
    for reader in readers:
        try:
            report = build_report(reader, "breast_cancer_model")
        finally:
            reader.close()
        assert report.run_id == two["run"] and report.status == "DEPLOYED"
        [data] = report.datasets
        assert (data.id, data.run_id) == ("breast_cancer", two["dv"].run.info.run_id)
        assert data.fields["hexsha"] == "b" * 40 and data.fields["rows"] == 469
        assert {a[0] for a in data.artifacts} >= {"data_profile", "data_checks_report"}
        assert [(c.trainer, c.winner) for c in report.candidates] == [
            (f"SklearnModelTrainer ({CYCLES[1]['trainer']})", True), ("SklearnModelTrainer (Dummy)", False)]
        assert report.winner == report.candidates[0].id and report.why[0].startswith("Recorded winner")
        assert report.metrics == {"accuracy": CYCLES[1]["accuracy"]}
        assert report.diff.a["run_id"] == one["run"]
        changed = {(r.section, r.field): (r.a, r.b) for r in report.diff.changed()}
        assert changed[("data breast_cancer", "hexsha")] == ("a" * 40, "b" * 40)
        assert [(e.old_status, e.new_status, e.inferred) for e in report.history] == [
            (None, "PROMOTED", False), ("PROMOTED", "DEPLOYED", False)]
        assert all(e.user for e in report.history)
        assert report.findings == []  # walked from the store: nothing is quarantined
        page = report.to_html()
        assert f'content="{CSP}"' in page and "none recorded" in page
        assert "bbbbbbbbbb" in page and f"runs:/{data.run_id}/breast_cancer/" in page
        text = report.to_markdown()
        assert "## Quarantine and taint" in text and "```mermaid" in text
    # the first version: no diff, said so
    reader = _reader(two_cycles)
    try:
        first = build_report(reader, "breast_cancer_model", one["run"], findings=[])
        assert first.diff is None and "first version" in first.to_html()
        assert "none recorded" in first.to_html().split("Quarantine and taint", 1)[1].split("<h2>", 1)[0]
        with pytest.raises(ResourceNotFoundError):
            build_report(reader, "breast_cancer_model", "f" * 32)
    finally:
        reader.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_cli_writes_html_and_markdown(two_cycles, tmp_path):
    one, two = two_cycles["cycles"]
    base = ["--tracking-uri", two_cycles["uri"], "--experiment", two_cycles["experiment"], "report"]
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, [*base, "breast_cancer_model", "-o", str(out)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"run {two['run']}" in result.output and two["run"] in out.read_text()
    result = CliRunner().invoke(cli, [*base, "breast_cancer_model", "--run", one["run"], "--format", "md"],
                                catch_exceptions=False)
    assert result.exit_code == 0 and result.output.startswith("# Audit report: breast\\_cancer\\_model (run")
    result = CliRunner().invoke(cli, [*base, "no_such_model"])
    assert result.exit_code == 1 and "no resource 'no_such_model'" in result.output


@pytest.mark.parametrize("backend", ["sqlite"])
def test_findings_are_shown_and_checked(two_cycles):
    reader = _reader(two_cycles)
    try:
        report = build_report(reader, "breast_cancer_model", findings=[FINDING])
        assert report.findings == [FINDING]
        page, text = report.to_html(), report.to_markdown()
        for out in (page, text):
            assert "Tainted: built from 1 quarantined dataset version(s)" in out
            assert "2026-11-03 09:30:00 UTC" in out
        assert "raw_events@cccccccc → breast_cancer@dddddddd → breast_cancer_model@eeeeeeee" in page
        with pytest.raises(InvalidInputError, match="TaintFinding"):
            build_report(reader, "breast_cancer_model", findings=[{"reason": "a mapping is not a finding"}])
    finally:
        reader.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_versions_history_is_read_from_its_own_run(two_cycles):
    """The report shows the status events of its version, which live on that version's run: no
    search of every version's run (it grew with the model's history), the same events."""
    from lolpop.audit.deployments import status_history
    from lolpop.layout import events

    one, two = two_cycles["cycles"]
    for run_id in (one["run"], two["run"]):
        reader = _reader(two_cycles)
        searched: list[str] = []
        search = reader.search
        reader.search = lambda f, *a, **k: searched.append(f) or search(f, *a, **k)
        try:
            report = build_report(reader, "breast_cancer_model", run_id, findings=[])
            assert " and ".join(events.history_clauses("breast_cancer_model")) not in searched
            assert report.history == [e for e in status_history(reader, "breast_cancer_model") if e.run_id == run_id]
            assert report.history
        finally:
            reader.close()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attrs: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs.update(name for name, _ in attrs)
        self.hrefs += [value for name, value in attrs if name == "href"]


#: Every element the report writes itself (the lineage SVG's included); stored text adds none.
REPORT_TAGS = {"a", "html", "head", "meta", "title", "style", "body", "h1", "h2", "p", "b", "code", "div", "ul", "li",
               "table", "thead", "tbody", "tr", "th", "td", "svg", "defs", "marker", "g", "rect", "text", "path",
               "title", "tspan", "polygon", "line", "circle", "span", "i"}


@pytest.fixture
def hostile_store(make_tracker, conf, tmp_path):
    cycles = [run_cycle(make_tracker, tmp_path, n + 1, c, dv_meta={"note": ATTACK, "source": ATTACK},
                        mv_meta={"metrics": {"accuracy": c["accuracy"], ATTACK[:60]: 0.5}, "owner": ATTACK})
              for n, c in enumerate(CYCLES)]
    return {"cycles": cycles, "uri": conf["config"]["mlflow_tracking_uri"],
            "experiment": conf["config"]["mlflow_experiment_name"]}


def _hostile_report(store):
    reader = _reader(store)
    try:
        return build_report(reader, "breast_cancer_model", findings=[dataclasses.replace(FINDING, reason=ATTACK, user=ATTACK)])
    finally:
        reader.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_hostile_stored_text_is_inert_in_html(hostile_store):
    page = _hostile_report(hostile_store).to_html()
    parsed = _Tags()
    parsed.feed(page)
    assert parsed.tags <= REPORT_TAGS, parsed.tags - REPORT_TAGS
    assert not {a for a in parsed.attrs if a.startswith("on") or a == "src"}
    # the only links are lolpop's own, to runs in the MLflow UI (layout/ui_links.py)
    assert parsed.hrefs and all(h.startswith(f"{DEFAULT_UI}/#/experiments/") for h in parsed.hrefs), parsed.hrefs
    for raw in ("\x1b", "\x07", "\x9b", "<script", "<img", "exfil.test/a.png\""):
        assert raw not in page, raw
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page  # shown, as text
    assert page.count('http-equiv="Content-Security-Policy"') == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_hostile_stored_text_is_inert_in_markdown(hostile_store):
    text = _hostile_report(hostile_store).to_markdown()
    for raw in ("\x1b", "\x07", "\x9b"):
        assert raw not in text
    # Rendered as a Markdown renderer does (raw HTML allowed, GFM tables): stored text makes no
    # element, no link, no image, no heading and no table row of its own.
    rendered = MarkdownIt("commonmark", {"html": True}).enable("table").render(text)
    parsed = _Tags()
    parsed.feed(rendered)
    assert parsed.tags <= {"h1", "h2", "p", "em", "strong", "code", "pre", "ul", "li", "table", "thead", "tbody",
                           "tr", "th", "td"}, parsed.tags
    assert "<script" not in rendered and "<img" not in rendered and "<a " not in rendered
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in rendered
    assert rendered.count("<h1>") == 1 and "<h1>heading" not in rendered
    tokens = MarkdownIt("commonmark").enable("table").parse(text)
    # every row of every table has as many cells as its header
    widths, cells = [], 0
    for tok in tokens:
        if tok.type == "tr_open":
            cells = 0
        elif tok.type in ("th_open", "td_open"):
            cells += 1
        elif tok.type == "tr_close":
            widths.append(cells)
        elif tok.type == "table_open":
            widths.append(-1)
    tables = " ".join(map(str, widths)).split("-1")[1:]
    assert len(tables) >= 6
    for table in tables:
        assert len(set(table.split())) == 1, table
    assert md("a|b") == "a\\|b" and md("<x>") == "\\<x\\>"
    assert md("1. item") == "1\\. item" and md("0.5") == "0.5" and md("# h") == "\\# h"


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_page_renders_in_chromium_with_no_network_request(hostile_store, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(_hostile_report(hostile_store).to_html(), encoding="utf-8")
    # The method sees a request when there is one: a page that loads an image through the proxy.
    canary = tmp_path / "canary.html"
    canary.write_text('<html><body><img src="http://canary.test/x.png">canary</body></html>', encoding="utf-8")
    _, seen, _ = dump_dom_offline(canary.as_uri(), user_data_dir=tmp_path / "profile-canary")
    assert any("canary.test/x.png" in line for line in seen), seen

    dom, seen, browser_own = dump_dom_offline(page.as_uri(), user_data_dir=tmp_path / "profile")
    assert seen == [], seen
    assert not any("exfil" in line for line in browser_own)
    assert f'content="{CSP}"' in dom
    assert "Quarantine and taint" in dom and "Candidates and the winner" in dom and "<svg" in dom
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in dom and "<script>alert" not in dom


def test_bad_input_is_a_clear_error():
    with pytest.raises(InvalidInputError, match="non-empty string"):
        build_report(None, "")
    with pytest.raises(InvalidInputError, match="report format must be one of html, md"):
        from lolpop.audit.report import AuditReport

        AuditReport.render(None, "pdf")  # type: ignore[arg-type]
    assert json.dumps(md("plain")) == '"plain"'
