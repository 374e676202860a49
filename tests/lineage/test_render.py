"""Lineage pictures: Mermaid, DOT, JSON, tree, and the self-contained HTML page in Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess

import pytest
from rich.console import Console

from lolpop.lineage import StoreReader, build_lineage, render
from lolpop.lineage.render import FORMATS

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.fixture
def graph(tracker, client):
    dv = tracker.create_resource("customers", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": "b" * 40, "uri": "data/c.csv"})
    mv = tracker.create_resource("churn_model", type="model_version")
    exps = [tracker.create_resource(n, type="experiment", parent=mv) for n in ("lr", "xgb")]
    for exp, name in zip(exps, ("LogisticRegression", "XGBoost <\"fast\">")):
        tracker.log_metadata(exp, "model_trainer", name)
    tracker.log_metadata(mv, "winning_experiment_id", exps[1].id)
    tracker.build_model_lineage(mv, [dv])
    tracker.create_resource("churn_model_predictions", type="prediction_job", parent=mv)
    reader = StoreReader(client, [tracker.experiment_id])
    return build_lineage(reader, reader.locate("churn_model", tracker.run.info.run_id))


@pytest.mark.parametrize("backend", ["sqlite"])
def test_text_formats(graph):
    mermaid = render(graph, "mermaid")
    assert mermaid.startswith("flowchart LR")
    assert "-->|trained|" in mermaid and "-->|winner|" in mermaid and "-->|predicted|" in mermaid
    assert "XGBoost &lt;#quot;fast#quot;&gt;" in mermaid  # escaped, so the diagram parses
    dot = render(graph, "dot")
    assert dot.startswith("digraph lineage {") and dot.rstrip().endswith("}")
    assert '\\"fast\\"' in dot and dot.count(" -> ") == len(graph.edges) == 4
    data = json.loads(render(graph, "json"))
    assert {n["id"] for n in data["nodes"]} >= {"customers", "churn_model", "churn_model_predictions"}
    console = Console(record=True, width=200)
    console.print(render(graph, "tree"))
    text = console.export_text()
    assert "upstream (made from)" in text and "[winner] XGBoost" in text and "[predicted]" in text
    with pytest.raises(Exception, match="unknown lineage format"):
        render(graph, "png")
    assert set(FORMATS) == {"tree", "json", "mermaid", "dot", "html"}


@pytest.mark.parametrize("backend", ["sqlite"])
def test_html_page_is_self_contained(graph):
    page = render(graph, "html")
    assert "<svg" in page and "customers" in page and "churn_model_predictions" in page
    assert "<script" not in page
    # No network: no external URL is referenced anywhere (only the SVG namespace identifier).
    urls = set(re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page))
    assert urls == set(), urls
    assert "XGBoost &lt;&quot;fast&quot;&gt;" in page


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's chromium: installed by the test setup under CI=true; skipped elsewhere when absent."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and IN_CI:
        subprocess.run(["apt-get", "update", "-qq"], check=False, timeout=600)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, timeout=1200,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        found = shutil.which("chromium")
    if found is None:
        if IN_CI:
            pytest.fail("chromium is required under CI=true and could not be installed (apt-get install chromium)")
        pytest.skip("chromium is not installed (apt-get install chromium) — the HTML page is not rendered")
    return found


@pytest.mark.parametrize("backend", ["sqlite"])
def test_html_page_renders_in_headless_chromium(graph, chromium, tmp_path):
    page = tmp_path / "lineage.html"
    page.write_text(render(graph, "html"), encoding="utf-8")
    shot = tmp_path / "lineage.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900",
           f"--screenshot={shot}", "--dump-dom", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    for label in ("customers", "churn_model", "LogisticRegression", "churn_model_predictions", "★ winner"):
        assert label in dom, label
    assert shot.exists() and shot.stat().st_size > 10_000
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _hostile_graph():
    from lolpop.lineage.graph import LineageGraph, LineageNode

    evil = '<script>alert(1)</script>" onload="alert(2)" x=\'<a href="javascript:alert(3)">j</a>\u202e\x1b[2J'
    nodes = [
        LineageNode(key=f"{evil}@{'a' * 32}", id=evil, run_id="a" * 32, type=evil, experiment_id="1",
                    run_status=evil, start_time=evil, label=evil, highlights={"status": evil, evil: 1}),
        LineageNode(key=f"m@{'b' * 32}", id="m", run_id="b" * 32, type="model_version", experiment_id="1",
                    run_status="FINISHED", start_time="2024", label="m\nclick n0 href \"javascript:alert(4)\"",
                    role="downstream", depth=1),
    ]
    graph = LineageGraph(root=nodes[0].key, direction="both", depth=None)
    graph.nodes = {n.key: n for n in nodes}
    graph.add_edge(nodes[0].key, nodes[1].key, "trained")
    return graph


def test_html_page_escapes_stored_text():
    from html.parser import HTMLParser

    class Elements(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.attrs, self.text = set(), [], []

        def handle_starttag(self, tag, attrs):
            self.tags.add(tag)
            self.attrs += attrs

        def handle_data(self, data):
            self.text.append(data)

    page = render(_hostile_graph(), "html")
    parsed = Elements()
    parsed.feed(page)
    # stored text made no element and no attribute: no script, no link, no event handler
    assert parsed.tags <= {"html", "head", "meta", "title", "style", "body", "h1", "p", "code", "span", "i",
                           "div", "svg", "defs", "marker", "path", "g", "rect", "text", "table", "thead",
                           "tbody", "tr", "th", "td"}, parsed.tags
    names = {name for name, _ in parsed.attrs}
    assert not {n for n in names if n.startswith("on")} and not names & {"href", "src", "xlink:href"}, names
    # it is all there as text, control characters escaped
    text = "".join(parsed.text)
    assert '<script>alert(1)</script>" onload="alert(2)"' in text and 'href="javascript:alert(3)"' in text
    assert "\u202e" not in page and "\x1b" not in page and "\\u202e" in text


def test_mermaid_and_dot_keep_stored_text_inside_labels():
    graph = _hostile_graph()
    mermaid = render(graph, "mermaid")
    assert not any(line.strip().startswith("click") for line in mermaid.splitlines())
    assert "\x1b" not in mermaid and "\u202e" not in mermaid
    dot = render(graph, "dot")
    assert "\x1b" not in dot and "\u202e" not in dot
    # each node statement is one line and every stored quote is escaped
    assert len([ln for ln in dot.splitlines() if "fillcolor=" in ln]) == 2
    console = Console(record=True, width=300, color_system=None)
    console.print(render(graph, "tree"))
    tree = console.export_text()
    assert "\x1b" not in tree and "<script>alert(1)</script>" in tree
