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
    # No network: nothing is loaded from anywhere (only the SVG namespace identifier); the only
    # links are each run's page in the MLflow UI, in its Model-training view, opened in a new tab.
    assert not re.findall(r"""src\s*=""", page)
    hrefs = re.findall(r"""href\s*=\s*["']([^"']+)""", page)
    assert {node.run_id for node in graph.nodes.values()} == {h.split("/runs/")[1].split("?")[0] for h in hrefs}
    assert all(re.fullmatch(r"http://127\.0\.0\.1:5000/#/experiments/\d+/runs/[0-9a-f]{32}"
                            r"\?workflowType=machine_learning", h) for h in hrefs), hrefs
    assert page.count('target="_blank" rel="noopener noreferrer"') == len(hrefs)
    served = render(graph, "html", ui_base="https://mlflow.example.com/p")
    assert "https://mlflow.example.com/p/#/experiments/" in served
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


# ---------------------------------------------------------------------------------------------
# edge labels never overlap edges, boxes or each other
# ---------------------------------------------------------------------------------------------
def _node(key: str, rtype: str, winner: bool = False):
    from lolpop.lineage.graph import LineageNode

    return LineageNode(key=key, id=key.split("@")[0], run_id="0" * 32, type=rtype, experiment_id="1",
                       run_status="FINISHED", start_time="2024-01-01T00:00:00+00:00", label=key.split("@")[0],
                       winner=winner)


def _synthetic(experiments: int, jobs: int, dataset_parent: bool):
    """A model version with many experiments, a dataset version (with a parent dataset that also
    feeds the model version directly: edges that skip a column), and several prediction jobs."""
    from lolpop.lineage.graph import LineageGraph

    graph = LineageGraph(root="mv@r", direction="both", depth=None)
    graph.nodes["dv@r"] = _node("dv@r", "dataset_version")
    graph.nodes["mv@r"] = _node("mv@r", "model_version")
    graph.add_edge("dv@r", "mv@r", "trained")
    if dataset_parent:
        graph.nodes["ds@r"] = _node("ds@r", "dataset")
        graph.add_edge("ds@r", "dv@r", "parent")
        graph.add_edge("ds@r", "mv@r", "parent")
    for i in range(experiments):
        key = f"e{i}@x{i}"
        graph.nodes[key] = _node(key, "experiment", winner=i == 1)
        graph.add_edge(key, "mv@r", "winner" if i == 1 else "candidate")
    for i in range(jobs):
        key = f"pj@p{i}"
        graph.nodes[key] = _node(key, "prediction_job")
        graph.add_edge("mv@r", key, "predicted")
        if dataset_parent:
            graph.add_edge("ds@r", key, "parent")  # skips two columns
    return graph


def _bezier(p0, p1, p2, p3, steps=40):
    for i in range(steps + 1):
        t = i / steps
        yield tuple((1 - t) ** 3 * a + 3 * (1 - t) ** 2 * t * b + 3 * (1 - t) * t ** 2 * c + t ** 3 * d
                    for a, b, c, d in zip(p0, p1, p2, p3))


def _path_points(d: str):
    """Points along an SVG path of M / H / C commands (what render.py draws), every pixel or so."""
    tokens = re.findall(r"[MHC]|-?\d+(?:\.\d+)?", d)
    points, i, cur = [], 0, (0.0, 0.0)
    while i < len(tokens):
        cmd = tokens[i]
        if cmd == "M":
            cur = (float(tokens[i + 1]), float(tokens[i + 2]))
            points.append(cur)
            i += 3
        elif cmd == "H":
            x = float(tokens[i + 1])
            n = max(1, int(abs(x - cur[0])))
            points += [(cur[0] + (x - cur[0]) * k / n, cur[1]) for k in range(n + 1)]
            cur = (x, cur[1])
            i += 2
        elif cmd == "C":
            nums = [float(t) for t in tokens[i + 1:i + 7]]
            ctrl = [cur, (nums[0], nums[1]), (nums[2], nums[3]), (nums[4], nums[5])]
            points += list(_bezier(*ctrl, steps=200))
            cur = ctrl[3]
            i += 7
        else:
            raise AssertionError(f"unexpected path command {cmd!r}")
    return points


def _svg_geometry(svg: str):
    """Edge paths (as points), edge-label boxes (a generous estimate of the text's extent) and node
    boxes, read back from the SVG text."""
    from lolpop.lineage.svg import LABEL_FONT

    edges = [_path_points(d) for d in re.findall(r'<path class="edge[^"]*" d="([^"]+)"', svg)]
    labels = []
    for x, y, text in re.findall(r'<text class="edge-label" x="([\d.]+)" y="([\d.]+)">([^<]*)</text>', svg):
        x, y = float(x), float(y)
        # ascent 0.95 em, descent 0.25 em, at most 0.62 em per character (Helvetica/Arial lowercase)
        labels.append((text, (x, y - 0.95 * LABEL_FONT, x + 0.62 * LABEL_FONT * len(text), y + 0.25 * LABEL_FONT)))
    boxes = [tuple(map(float, m)) for m in re.findall(
        r'<rect x="([\d.]+)" y="([\d.]+)" width="([\d.]+)" height="([\d.]+)"', svg)]
    return edges, labels, [(x, y, x + w, y + h) for x, y, w, h in boxes]


def _inside(point, box, pad):
    x, y = point
    return box[0] - pad < x < box[2] + pad and box[1] - pad < y < box[3] + pad


def _overlap(a, b):
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("shape", [(2, 1, False), (1, 0, False), (8, 3, True), (3, 5, True), (0, 1, True)])
def test_edge_labels_never_overlap_edges_boxes_or_each_other(shape):
    from lolpop.lineage.svg import to_svg

    graph = _synthetic(*shape)
    edges, labels, boxes = _svg_geometry(to_svg(graph))
    assert len(edges) == len(labels) == len(graph.edges)
    stroke = 1.3  # half the widest edge stroke (winner: 2.4) plus anti-aliasing
    for text, label in labels:
        assert not any(_inside(p, label, stroke) for points in edges for p in points), text
        assert not any(_overlap(label, box) for box in boxes), text
    for i, (_, a) in enumerate(labels):
        for _, b in labels[i + 1:]:
            assert not _overlap(a, b)
    # No edge passes through a box it does not start or end at.
    for points in edges:
        inner = points[1:-1]
        crossing = [box for box in boxes if sum(_inside(p, box, -1.0) for p in inner) > 0]
        assert crossing == [], crossing


@pytest.mark.parametrize("backend", ["sqlite"])
def test_edge_labels_of_a_tracker_lineage_never_overlap(graph):
    from lolpop.lineage.svg import to_svg

    edges, labels, boxes = _svg_geometry(to_svg(graph))
    assert {t for t, _ in labels} == {"trained", "winner", "candidate", "predicted"}
    for text, label in labels:
        assert not any(_inside(p, label, 1.3) for points in edges for p in points), text


_MEASURE = """
<script>
const labels = [...document.querySelectorAll("text.edge-label")].map(t => t.getBBox());
const hits = [];
document.querySelectorAll("path.edge").forEach(path => {
  const pad = parseFloat(getComputedStyle(path).strokeWidth) / 2;
  const n = Math.ceil(path.getTotalLength());
  for (let i = 0; i <= n; i += 0.5) {
    const p = path.getPointAtLength(i);
    labels.forEach((b, k) => {
      if (p.x > b.x - pad && p.x < b.x + b.width + pad && p.y > b.y - pad && p.y < b.y + b.height + pad) hits.push(k);
    });
  }
});
document.getElementById("out").textContent = JSON.stringify({labels: labels.length, hits: [...new Set(hits)]});
</script>
"""


@pytest.mark.parametrize("shape", [(3, 1, False), (8, 3, True)])
def test_edge_labels_clear_of_edges_as_chromium_lays_out_the_text(shape, chromium, tmp_path):
    """The same check with the browser's own text metrics (the page itself runs no script; this
    copy of its picture does, to measure)."""
    from lolpop.lineage.render import _CSS
    from lolpop.lineage.svg import to_svg

    graph = _synthetic(*shape)
    page = tmp_path / "measure.html"
    page.write_text(f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{_CSS}</style></head><body>"
                    f"{to_svg(graph)}<pre id='out'></pre>{_MEASURE}</body></html>", encoding="utf-8")
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    match = re.search(r"<pre id=\"out\">([^<]*)</pre>", proc.stdout)
    assert match, proc.stdout[-2000:]
    result = json.loads(match.group(1))
    assert result == {"labels": len(graph.edges), "hits": []}


def _hostile_graph():
    from lolpop.lineage.graph import LineageGraph, LineageNode

    evil = '<script>alert(1)</script>" onload="alert(2)" x=\'<a href="javascript:alert(3)">j</a>\u202e\x1b[2J'
    nodes = [
        LineageNode(key=f"{evil}@{'a' * 32}", id=evil, run_id="a" * 32, type=evil, experiment_id="1",
                    run_status=evil, start_time=evil, label=evil, highlights={"status": evil, evil: 1}),
        # ids read from a store are data: a hostile run or experiment id must not escape its link
        LineageNode(key=f"m@{'b' * 32}", id="m", run_id='b" onclick="alert(5)', type="model_version",
                    experiment_id="1?workflowType=genai#x",
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
                           "tbody", "tr", "th", "td", "a"}, parsed.tags
    names = {name for name, _ in parsed.attrs}
    assert not {n for n in names if n.startswith("on")} and not names & {"src", "xlink:href"}, names
    # the only links are the two run links lolpop made, ids percent-encoded inside them
    hrefs = [value for name, value in parsed.attrs if name == "href"]
    assert len(hrefs) == 2 and all(h.startswith("http://127.0.0.1:5000/#/experiments/") for h in hrefs), hrefs
    assert all(h.endswith("?workflowType=machine_learning") and h.count("?") == 1 and "#" not in h[8:].split("#", 1)[1]
               and '"' not in h for h in hrefs), hrefs
    assert "/#/experiments/1%3FworkflowType%3Dgenai%23x/runs/b%22%20onclick%3D%22alert%285%29?" in hrefs[1]
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


def test_notebook_fragments_escape_stored_text():
    """What Jupyter shows for a LineageGraph (and, through html_table, for a diff, an impact, a
    status history): stored text is text there too, and the CSS stays inside the fragment."""
    from html.parser import HTMLParser

    from lolpop.lineage.render import html_table

    class Elements(HTMLParser):
        def __init__(self):
            super().__init__()
            self.tags, self.attrs, self.text, self.closed = [], [], [], []

        def handle_starttag(self, tag, attrs):
            self.tags.append(tag)
            self.attrs += attrs

        def handle_endtag(self, tag):
            self.closed.append(tag)

        def handle_data(self, data):
            self.text.append(data)

    hostile = '</table></td><script>alert(1)</script><img src=x onerror="alert(2)">\x1b[2J'
    graph = _hostile_graph()
    for fragment in (graph._repr_html_(),
                     html_table(hostile, [hostile, "b"], [(hostile, {"k": hostile}), (None, 3)], note=hostile)):
        parsed = Elements()
        parsed.feed(fragment)
        assert "script" not in parsed.tags and "img" not in parsed.tags and "html" not in parsed.tags
        assert not any(name.startswith("on") for name, _ in parsed.attrs)
        assert parsed.tags.count("table") == parsed.closed.count("table") == 1
        assert "\x1b" not in fragment and "\u202e" not in fragment
        css = fragment.split("<style>", 1)[1].split("</style>", 1)[0]
        assert all(line.startswith(".lolpop") for line in css.splitlines())
    text = "".join(parsed.text)
    assert text.count(hostile.replace("\x1b", "\\x1b")) == 4 and '{"k": "</table>' in text
