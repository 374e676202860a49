"""lolpop in a notebook: one-line reprs, HTML tables (stored text escaped), and the read-only
entry point the docs document (docs/getting-started.md) — on stores written by real trackers."""

from __future__ import annotations

import contextlib
import io
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from mlflow.entities import ViewType

from lolpop.audit import StatusHistory, diff_versions, impact_of, status_history, version_pair
from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.layout import events
from lolpop.lineage import StoreReader, build_lineage, open_client
from tests.audit.conftest import CYCLES, run_cycle

ROOT = Path(__file__).resolve().parents[2]
#: Closes the table it lands in, then runs a script, twice over.
HOSTILE = "</table></td><script>alert(1)</script><img src=x onerror=alert(2)>\"'&\x1b[31m"


def reader_for(store: dict[str, Any]) -> StoreReader:
    return StoreReader.for_experiment(open_client(store["uri"]), store["experiment"])


# -- reprs -------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_resource_repr_is_one_short_line(tracker):
    mv = tracker.create_resource("breast_cancer_model", type="model_version")
    run_id = mv.run.info.run_id
    assert repr(mv) == f"Resource(id='breast_cancer_model', run=<Run {run_id[:8]}… RUNNING>)"
    # still the named tuple it was: unpacking, indexing, equality and hashing of a tuple
    rid, run = mv
    assert (rid, run) == mv and mv[1] is run and hash(mv) == hash(("breast_cancer_model", run))
    assert mv._replace(id="x") == ("x", run) and isinstance(mv, tuple)
    # any handle, and hostile ids, stay one short line (repr escapes control characters)
    handle = {"k": "v" * 500}
    assert repr(Resource("a\x1bb", handle)) == f"Resource(id='a\\x1bb', run={repr(handle)[:79]}…)"
    assert len(repr(Resource("x" * 1000, None))) < 300


@pytest.mark.parametrize("backend", ["sqlite"])
def test_audit_results_have_one_line_reprs(two_cycles):
    one, two = two_cycles["cycles"]
    reader = reader_for(two_cycles)
    try:
        history = status_history(reader, "breast_cancer_model")
        diff = diff_versions(reader, *version_pair(reader, "breast_cancer_model"))
        impact = impact_of(reader, reader.locate("breast_cancer"))
    finally:
        reader.close()
    assert isinstance(history, StatusHistory) and isinstance(history, list) and history == list(history)
    event = history[1]
    assert repr(event) == (f"<StatusEvent {event.time:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" 'breast_cancer_model'"
                           f"@{one['run'][:8]} 'PROMOTED' -> 'DEPLOYED' by {event.user!r}>")
    assert repr(diff) == (f"<VersionDiff 'breast_cancer_model': run {one['run'][:8]} -> {two['run'][:8]}, "
                          f"{len(diff.changed())} of {len(diff.rows)} field(s) changed>")
    assert repr(impact) == (f"<Impact of 'breast_cancer'@{two['run'][:8]}: 1 model version(s), "
                            "1 prediction job(s), 1 deployed now>")


# -- HTML ------------------------------------------------------------------------------------
class _Tags(HTMLParser):
    """The elements of an HTML fragment, as a parser (a browser's) sees them."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[str] = []
        self.closed: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.opened.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag: str) -> None:
        self.closed.append(tag)


def assert_inert(fragment: str, tables: int, whole: bool = True) -> None:
    """Stored text in ``fragment`` is text: no element or attribute came from it. ``whole``: the
    hostile value is shown whole (the lineage picture's highlights show its first 32 characters)."""
    tags = _Tags()
    tags.feed(fragment)
    assert "script" not in tags.opened and "img" not in tags.opened
    assert not any(name.startswith("on") for name, _ in tags.attrs)
    assert tags.opened.count("table") == tags.closed.count("table") == tables
    assert tags.closed.count("td") == tags.opened.count("td")
    assert "&lt;/table&gt;&lt;/td&gt;&lt;script&gt;alert(1)" in fragment
    assert "\x1b" not in fragment
    if whole:
        assert "&lt;img src=x onerror=alert(2)&gt;&quot;&#x27;&amp;\\x1b[31m" in fragment  # escapes shown


@pytest.fixture
def hostile_store(make_tracker, conf, client, tmp_path) -> dict[str, Any]:
    """Two cycles; the second's dataset version and model version hold hostile metadata, its
    model version a hostile status (and a status event saying so, by a hostile user), and a
    resource names a hostile parent id (a node of the lineage graph)."""
    cycles = [run_cycle(make_tracker, tmp_path, n, c, dv_meta={"note": HOSTILE} if n == 2 else None,
                        mv_meta={"note": HOSTILE} if n == 2 else None)
              for n, c in enumerate(CYCLES, start=1)]
    tracker = make_tracker()
    tracker.create_resource("victim", type="dataset")
    victim_run = tracker.run.info.run_id
    tracker.stop()
    # What a hostile writer can put in the store directly.
    run = cycles[1]["run"]
    client.set_tag(run, "breast_cancer_model.status", HOSTILE)
    key, value = events.new_event_tag("breast_cancer_model", run, "DEPLOYED", HOSTILE, registry_version=None,
                                      user=HOSTILE, writer_run_id=run)
    client.set_tag(run, key, value)
    client.set_tag(victim_run, "victim.parent_id", HOSTILE)
    client.set_tag(victim_run, "victim.parent_run_id", victim_run)
    return {"uri": conf["config"]["mlflow_tracking_uri"], "experiment": conf["config"]["mlflow_experiment_name"],
            "cycles": cycles, "victim_run": victim_run}


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_notebook_html_shows_stored_text_as_text(hostile_store):
    reader = reader_for(hostile_store)
    try:
        graph = build_lineage(reader, reader.locate("breast_cancer_model"))
        victim = build_lineage(reader, reader.locate("victim"), "upstream")
        history = status_history(reader, "breast_cancer_model")
        diff = diff_versions(reader, *version_pair(reader, "breast_cancer_model"))
        impact = impact_of(reader, reader.locate("breast_cancer"))
    finally:
        reader.close()
    assert history[-1].new_status == HOSTILE and graph.root_node.highlights["status"] == HOSTILE
    assert any(n.id == HOSTILE for n in victim.nodes.values())
    for fragment, whole in ((graph._repr_html_(), False), (victim._repr_html_(), True), (history._repr_html_(), True),
                            (diff._repr_html_(), True), (impact._repr_html_(), True)):
        assert_inert(fragment, 1, whole)
        # A fragment for a notebook page: its CSS is scoped to it, it is not a page of its own.
        assert fragment.startswith('<div class="lolpop">') and "<html" not in fragment and "<body" not in fragment
        css = re.search(r"<style>(.*?)</style>", fragment, re.S).group(1)
        assert all(line.startswith(".lolpop") for line in css.splitlines()), css
    assert "<svg" in graph._repr_html_() and "LogisticRegression" in graph._repr_html_()


# -- the read-only entry point (docs/getting-started.md) ------------------------------------------
def readme_snippet() -> str:
    """The documented read-only snippet: the python block after its marker comment."""
    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    start = text.index("<!-- read-only snippet: tests/audit/test_notebook.py -->")
    block = re.search(r"```python\n(.*?)```", text[start:], re.S)
    assert block is not None
    return block.group(1)


def _counts(client: Any) -> tuple[int, int]:
    experiments = client.search_experiments(view_type=ViewType.ALL)
    runs = client.search_runs([e.experiment_id for e in experiments], run_view_type=ViewType.ALL, max_results=10000)
    return len(experiments), len(runs)


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_readme_read_only_snippet_runs_and_creates_no_run(two_cycles, client):
    code = readme_snippet()
    assert '"sqlite:///mlflow.db"' in code and '"lolpop-quickstart"' in code
    code = code.replace('"sqlite:///mlflow.db"', repr(two_cycles["uri"]))
    code = code.replace('"lolpop-quickstart"', repr(two_cycles["experiment"]))
    before = _counts(client)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "docs/getting-started.md", "exec"), {})  # noqa: S102 - the documented snippet itself
    assert _counts(client) == before
    printed = out.getvalue().splitlines()
    one, two = two_cycles["cycles"]
    assert printed[0].startswith(f"<VersionDiff 'breast_cancer_model': run {one['run'][:8]} -> {two['run'][:8]}")
    assert printed[1].startswith("<Impact of 'breast_cancer'@") and printed[1].endswith("1 deployed now>")
    assert printed[2].startswith("<StatusEvent ") and "'PROMOTED' -> 'DEPLOYED' by " in printed[2]


def test_the_trackers_status_history_renders_as_a_table(make_tracker):
    t = make_tracker()
    mv = t.create_resource("nb_model", type="model_version")
    t.log_tag(mv, "status", "DEPLOYED")
    history = t.get_status_history(mv)
    assert [(e.old_status, e.new_status) for e in history] == [(None, "DEPLOYED")]
    assert "<table" in history._repr_html_() and "DEPLOYED" in history._repr_html_()
