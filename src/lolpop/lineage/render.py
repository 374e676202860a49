"""Render a :class:`~lolpop.lineage.graph.LineageGraph` as a tree, JSON, Mermaid, DOT or HTML.

The HTML page is self-contained: inline CSS and an inline SVG drawn here (a layered left-to-right
layout computed in Python). It has no script and makes no network request.

Every stored text (ids, labels, metadata) goes through :func:`~lolpop.lineage.safe_text.printable`
(no control characters) and then the format's own escaping (HTML, DOT, Mermaid); the tree is built
from rich ``Text`` objects, never parsed as markup.
"""

from __future__ import annotations

import html
import json
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from lolpop.exceptions import InvalidInputError
from lolpop.layout import ui_links
from lolpop.lineage.model import LineageEdge, LineageNode
from lolpop.lineage.safe_text import printable

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree


FORMATS = ("tree", "json", "mermaid", "dot", "html")


class LineageGraph(Protocol):
    """What the renderers read of a graph (:class:`lolpop.lineage.graph.LineageGraph`): named
    structurally, so the builder can import the renderers for its ``_repr_html_`` without a cycle."""

    root: str
    direction: str
    depth: int | None
    nodes: dict[str, LineageNode]
    edges: list[LineageEdge]
    omitted: dict[str, int]

    @property
    def root_node(self) -> LineageNode: ...

    def parents(self, key: str) -> list[LineageEdge]: ...

    def children(self, key: str) -> list[LineageEdge]: ...

    def to_json(self, indent: int | None = 2) -> str: ...

_COLORS = {  # fill, stroke
    "dataset_version": ("#e3f2fd", "#1e88e5"),
    "dataset": ("#e3f2fd", "#1e88e5"),
    "model_version": ("#e8f5e9", "#43a047"),
    "experiment": ("#f3e5f5", "#8e24aa"),
    "prediction_job": ("#fff3e0", "#fb8c00"),
}
_DEFAULT_COLOR = ("#f5f5f5", "#757575")
#: Stroke of a quarantined or tainted node (with a dashed outline in the HTML page).
_TAINT_STROKE = "#c62828"
_RICH_STYLE = {
    "dataset_version": "blue", "dataset": "blue", "model_version": "green",
    "experiment": "magenta", "prediction_job": "dark_orange",
}


def _short_run(run_id: str) -> str:
    return run_id[:8]


def highlight_text(node: LineageNode, limit: int = 3) -> str:
    """``k=v`` of a node's first highlights, for labels."""
    parts = []
    for key, value in list(node.highlights.items())[:limit]:
        text = str(value)
        if key == "hexsha":
            text = text[:8]
        parts.append(f"{key}={text[:32]}")
    return ", ".join(parts)


def taint_text(node: LineageNode) -> str:
    """``⚠ QUARANTINED: <reason>`` for a quarantined node, ``⚠ TAINTED by <id>@<run>`` for one
    built from a quarantined dataset version, else ``""`` (stored text: escape where drawn)."""
    if not node.taint:
        return ""
    first = node.taint[0]
    if first.get("hops") == 0:
        return f"⚠ QUARANTINED: {first.get('reason')}"
    more = f" (+{len(node.taint) - 1})" if len(node.taint) > 1 else ""
    return f"⚠ TAINTED by {first.get('dataset_version_id')}@{str(first.get('run_id'))[:8]}{more}"


def node_lines(node: LineageNode) -> list[str]:
    """The text lines drawn for a node: label, ``type · run``, then its taint when it has one,
    else its highlights."""
    lines = [printable(node.label) + ("  ★ winner" if node.winner else "")]
    lines.append(printable(f"{node.type or 'resource'} · run {_short_run(node.run_id)}"))
    extra = taint_text(node) or highlight_text(node)
    if extra:
        lines.append(printable(extra))
    return lines


# ---------------------------------------------------------------------------------------------
# tree (rich)
# ---------------------------------------------------------------------------------------------
def _tree_label(node: LineageNode, relation: str | None = None) -> Text:
    from rich.text import Text

    text = Text()
    if relation:
        text.append(f"[{printable(relation)}] ", style="dim")
    text.append(printable(node.label), style=f"bold {_RICH_STYLE.get(node.type or '', 'white')}")
    if node.winner:
        text.append(" ★", style="yellow")
    text.append(printable(f"  {node.type or 'resource'} · run {node.run_id}"), style="dim")
    extra = highlight_text(node)
    if extra:
        # On a line of its own: every node reads the same at any width (after the run id, the
        # highlights broke wherever the terminal ended, often in the middle of one).
        text.append(f"\n{printable(extra)}")
    taint = taint_text(node)
    if taint:
        text.append(f"\n{printable(taint)}", style="bold red")
    return text


def to_tree(graph: LineageGraph) -> Tree:
    """A rich ``Tree``: the root, then what it was made from and what was made from it."""
    from rich.text import Text
    from rich.tree import Tree

    root = graph.root_node
    tree = Tree(_tree_label(root))

    def walk(branch: Tree, key: str, up: bool, seen: set[str]) -> None:
        edges = graph.parents(key) if up else graph.children(key)
        for edge in edges:
            other = edge.source if up else edge.target
            child = branch.add(_tree_label(graph.nodes[other], edge.relation))
            if other not in seen:
                walk(child, other, up, seen | {other})

    if graph.direction in ("both", "upstream"):
        up = tree.add(Text("upstream (made from)", style="italic"))
        walk(up, root.key, True, {root.key})
        if not graph.parents(root.key):
            up.add(Text("nothing recorded", style="dim"))
    if graph.direction in ("both", "downstream"):
        down = tree.add(Text("downstream (used by)", style="italic"))
        walk(down, root.key, False, {root.key})
        if not graph.children(root.key):
            down.add(Text("nothing recorded", style="dim"))
    return tree


# ---------------------------------------------------------------------------------------------
# mermaid / dot
# ---------------------------------------------------------------------------------------------
def _ids(graph: LineageGraph) -> dict[str, str]:
    return {key: f"n{i}" for i, key in enumerate(graph.nodes)}


def to_mermaid(graph: LineageGraph) -> str:
    """A Mermaid ``flowchart LR`` (paste into GitHub markdown or mermaid.live)."""
    ids = _ids(graph)

    def esc(s: str) -> str:
        return html.escape(s, quote=True).replace("&quot;", "#quot;")

    lines = ["flowchart LR"]
    for key, node in graph.nodes.items():
        label = "<br/>".join(esc(line) for line in node_lines(node))
        lines.append(f'    {ids[key]}["{label}"]')
    for edge in graph.edges:
        lines.append(f"    {ids[edge.source]} -->|{esc(printable(edge.relation))}| {ids[edge.target]}")
    for key, node in graph.nodes.items():
        fill, stroke = _COLORS.get(node.type or "", _DEFAULT_COLOR)
        stroke = _TAINT_STROKE if node.taint else stroke
        width = "3px" if key == graph.root or node.taint else "1px"
        lines.append(f"    style {ids[key]} fill:{fill},stroke:{stroke},stroke-width:{width}")
    return "\n".join(lines) + "\n"


def to_dot(graph: LineageGraph) -> str:
    """A Graphviz ``digraph`` (``dot -Tsvg lineage.dot > lineage.svg``)."""

    def esc(s: str) -> str:
        return printable(s).replace("\\", "\\\\").replace('"', '\\"')

    lines = [
        "digraph lineage {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [fontname="Helvetica", fontsize=9];',
    ]
    for key, node in graph.nodes.items():
        fill, stroke = _COLORS.get(node.type or "", _DEFAULT_COLOR)
        label = "\\n".join(esc(line) for line in node_lines(node))
        pen = 3 if key == graph.root or node.taint else 1
        stroke = _TAINT_STROKE if node.taint else stroke
        lines.append(f'  "{esc(key)}" [label="{label}", fillcolor="{fill}", color="{stroke}", penwidth={pen}];')
    for edge in graph.edges:
        lines.append(f'  "{esc(edge.source)}" -> "{esc(edge.target)}" [label="{esc(edge.relation)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# html (inline SVG)
# ---------------------------------------------------------------------------------------------
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 250, 66, 150, 26, 30
#: Vertical distance between the edge ends on one side of a box (one label row each).
PORT_GAP = 22
#: Every edge ends in a straight run this long into its target; its label sits above that run,
#: where no other edge can pass (curves stay between the runs, labels of one target in their rows).
STUB_IN = 84
#: Every edge leaves its source in a short straight run.
STUB_OUT = 14
LABEL_FONT = 10
#: Labels longer than this are cut, so they fit above the final run (``STUB_IN``); the relations
#: drawn (trained, winner, candidate, predicted, parent) are shorter.
LABEL_CHARS = 10


@dataclass
class Slot:
    """A place in a column: a node box, or a waypoint of an edge that skips columns."""

    key: str
    col: int
    height: float
    y: float = 0.0

    @property
    def x(self) -> float:
        return MARGIN + self.col * (BOX_W + GAP_X)


@dataclass
class Route:
    """One edge: the slots it passes through (source, waypoints, target) and its end heights."""

    edge: LineageEdge
    slots: list[str]
    out_y: float = 0.0
    in_y: float = 0.0
    #: for each waypoint: the height the edge runs at through it
    via_y: list[float] = field(default_factory=list)


def _layers(graph: LineageGraph) -> dict[str, int]:
    """Longest path from the sources, then each source moved next to its nearest child, so an
    experiment sits beside its model version even when the dataset beside it has a parent."""
    layer: dict[str, int] = {key: 0 for key in graph.nodes}
    for _ in range(len(graph.nodes)):  # longest path (the graph is a DAG; bounded for safety)
        changed = False
        for edge in graph.edges:
            if layer[edge.target] < layer[edge.source] + 1:
                layer[edge.target] = layer[edge.source] + 1
                changed = True
        if not changed:
            break
    # Adjacency in one pass over the edges (graph.children / parents scan every edge per node).
    children: dict[str, list[str]] = defaultdict(list)
    has_parent: set[str] = set()
    for edge in graph.edges:
        children[edge.source].append(edge.target)
        has_parent.add(edge.target)
    for key in graph.nodes:
        below = [layer[target] for target in children[key]]
        if key not in has_parent and below:
            layer[key] = max(layer[key], min(below) - 1)
    return layer


def layout(graph: LineageGraph) -> tuple[dict[str, Slot], list[Route]]:
    """Slots (node boxes and waypoints) and edge routes: layers left to right, edges that skip a
    layer pass through a waypoint slot in each layer between, so no edge crosses a box."""
    layer = _layers(graph)
    order = {key: i for i, key in enumerate(graph.nodes)}
    slots: dict[str, Slot] = {}
    routes: list[Route] = []
    in_deg: dict[str, int] = defaultdict(int)
    out_deg: dict[str, int] = defaultdict(int)
    for i, edge in enumerate(graph.edges):
        src, dst = layer[edge.source], layer[edge.target]
        if dst <= src:  # only a malformed store has a cycle: draw it as a plain forward hop
            dst = src + 1
            layer[edge.target] = max(layer[edge.target], dst)
        via = []
        for col in range(src + 1, dst):
            key = f"\x00via{i}:{col}"
            slots[key] = Slot(key, col, PORT_GAP)
            order[key] = len(order)
            via.append(key)
        routes.append(Route(edge, [edge.source, *via, edge.target]))
        out_deg[edge.source] += 1
        in_deg[edge.target] += 1
    for key in graph.nodes:
        ports = max(in_deg[key], out_deg[key])
        slots[key] = Slot(key, layer[key], max(float(BOX_H), (ports + 1) * PORT_GAP))

    # Order each column by the mean position of its neighbours (a few barycenter sweeps).
    columns: dict[int, list[str]] = defaultdict(list)
    for key in sorted(slots, key=lambda k: order[k]):
        columns[slots[key].col].append(key)
    hops = [(r.slots[j], r.slots[j + 1]) for r in routes for j in range(len(r.slots) - 1)]
    left: dict[str, list[str]] = defaultdict(list)
    right: dict[str, list[str]] = defaultdict(list)
    for a, b in hops:
        right[a].append(b)
        left[b].append(a)
    rank = {key: float(row) for col in columns.values() for row, key in enumerate(col)}
    cols = sorted(columns)
    for sweep, neighbours in ((cols[1:], left), (cols[-2::-1], right), (cols[1:], left)):
        for col in sweep:

            def weight(key: str, nb: dict[str, list[str]] = neighbours) -> tuple[float, float]:
                near = [rank[k] for k in nb[key]]
                return (sum(near) / len(near) if near else rank[key], order[key])

            columns[col].sort(key=weight)
            for row, key in enumerate(columns[col]):
                rank[key] = float(row)

    heights = {col: sum(slots[k].height for k in keys) + GAP_Y * (len(keys) - 1) for col, keys in columns.items()}
    tallest = max(heights.values(), default=0.0)
    for col, keys in columns.items():
        y = MARGIN + (tallest - heights[col]) / 2
        for key in keys:
            slots[key].y = y
            y += slots[key].height + GAP_Y

    # Ports: the ends on each side of a slot, ordered by the height of the other end (no crossings
    # at the box), one label row apart, centred on the slot.
    def centre(key: str) -> float:
        return slots[key].y + slots[key].height / 2

    def spread(key: str, ends: list[tuple[float, int, Any]]) -> list[tuple[Any, float]]:
        ends.sort(key=lambda e: (e[0], e[1]))
        mid = centre(key)
        return [(item, mid + (i - (len(ends) - 1) / 2) * PORT_GAP) for i, (_, _, item) in enumerate(ends)]

    incoming: dict[str, list[tuple[float, int, Any]]] = defaultdict(list)
    outgoing: dict[str, list[tuple[float, int, Any]]] = defaultdict(list)
    for n, route in enumerate(routes):
        outgoing[route.slots[0]].append((centre(route.slots[1]), n, route))
        incoming[route.slots[-1]].append((centre(route.slots[-2]), n, route))
    for key, ends in outgoing.items():
        for route, y in spread(key, ends):
            route.out_y = y
    for key, ends in incoming.items():
        for route, y in spread(key, ends):
            route.in_y = y
    for route in routes:
        route.via_y = [centre(k) for k in route.slots[1:-1]]
    return slots, routes


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _route_path(route: Route, slots: dict[str, Slot]) -> str:
    """The SVG path of a route: a straight start, a curve into each next column ending in a
    straight run of ``STUB_IN``, straight through waypoints."""
    first = slots[route.slots[0]]
    x, y = first.x + BOX_W, route.out_y
    d = [f"M {x:.1f} {y:.1f}", f"H {x + STUB_OUT:.1f}"]
    x += STUB_OUT
    ys = route.via_y + [route.in_y]
    for key, ty in zip(route.slots[1:], ys):
        slot = slots[key]
        end = slot.x - STUB_IN
        mid = (x + end) / 2
        d.append(f"C {mid:.1f} {y:.1f}, {mid:.1f} {ty:.1f}, {end:.1f} {ty:.1f}")
        d.append(f"H {slot.x:.1f}")
        x, y = slot.x, ty
        if key != route.slots[-1]:  # a waypoint: straight through its column, then on
            x += BOX_W + STUB_OUT
            d.append(f"H {x:.1f}")
    return " ".join(d)


def label_box(route: Route, slots: dict[str, Slot]) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)``: where an edge's label is drawn, above the final straight run into its
    target and clear of the arrowhead. Nothing else is drawn there: other edges end in their own
    runs at least ``PORT_GAP`` apart, and curves stay left of every run."""
    target = slots[route.slots[-1]]
    return (target.x - STUB_IN + 6, route.in_y - LABEL_FONT - 5, target.x - 12, route.in_y - 2)


def to_svg(graph: LineageGraph) -> str:
    """The lineage picture as a standalone inline ``<svg>`` element."""
    slots, routes = layout(graph)
    boxes = [slots[k] for k in graph.nodes]
    width = max((s.x for s in boxes), default=0) + BOX_W + MARGIN
    height = max((s.y + s.height for s in slots.values()), default=0) + MARGIN

    def esc(value: str) -> str:
        return html.escape(printable(value))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="lineage graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="9" '
        'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#607d8b"/></marker></defs>',
    ]
    for route in routes:
        edge = route.edge
        cls = "edge winner" if edge.relation == "winner" else "edge"
        parts.append(f'<path class="{cls}" d="{_route_path(route, slots)}" marker-end="url(#arrow)"/>')
        x0, _, _, _ = label_box(route, slots)
        parts.append(
            f'<text class="edge-label" x="{x0:.1f}" y="{route.in_y - 5:.1f}">'
            f"{esc(_truncate(edge.relation, LABEL_CHARS))}</text>"
        )
    for key, node in graph.nodes.items():
        slot = slots[key]
        x, y = slot.x, slot.y
        fill, stroke = _COLORS.get(node.type or "", _DEFAULT_COLOR)
        classes = ["node"] + (["root"] if key == graph.root else []) + (["winner"] if node.winner else []) \
            + (["tainted"] if node.taint else [])
        lines = node_lines(node)
        top = y + (slot.height - BOX_H) / 2  # the text block sits in the middle of a tall box
        parts.append(f'<g class="{" ".join(classes)}" data-key="{esc(key)}">')
        parts.append(f"<title>{esc(node.id)} (run {esc(node.run_id)})</title>")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{slot.height:.0f}" rx="8" '
            f'fill="{fill}" stroke="{_TAINT_STROKE if node.taint else "#f9a825" if node.winner else stroke}"/>'
        )
        for i, line in enumerate(lines):
            cls = "label" if i == 0 else "detail"
            parts.append(
                f'<text class="{cls}" x="{x + 10:.1f}" y="{top + 20 + i * 18:.1f}">'
                f"{esc(_truncate(line, 36 if i == 0 else 42))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


#: The Content-Security-Policy of every page lolpop writes (lineage page, audit report): nothing
#: is loaded, nothing runs; only inline CSS and data: images.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 24px; color: #263238; }
h1 { font-size: 20px; margin: 0 0 4px 0; }
p.sub { color: #607d8b; margin: 0 0 16px 0; font-size: 13px; }
.graph { overflow-x: auto; border: 1px solid #cfd8dc; border-radius: 8px; padding: 8px; background: #fafafa; }
svg text { font-family: inherit; }
svg .label { font-size: 13px; font-weight: 600; fill: #263238; }
svg .detail { font-size: 11px; fill: #546e7a; }
svg .edge { fill: none; stroke: #90a4ae; stroke-width: 1.6; }
svg .edge.winner { stroke: #f9a825; stroke-width: 2.4; }
svg .edge-label { font-size: 10px; fill: #78909c; }  /* LABEL_FONT */
svg .node rect { stroke-width: 1.5; }
svg .node.root rect { stroke-width: 3.5; }
svg .node.winner rect { stroke-width: 2.5; }
svg .node.tainted rect { stroke-width: 3.5; stroke-dasharray: 6 3; }
svg .node.tainted .detail { fill: #b71c1c; }
p.taint { color: #b71c1c; font-weight: 600; margin: 4px 0; font-size: 13px; }
table { border-collapse: collapse; margin-top: 18px; font-size: 12px; }
th, td { border: 1px solid #cfd8dc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eceff1; }
td code { font-size: 11px; }
p.caption { font-weight: 600; margin: 8px 0 4px 0; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px;
            vertical-align: -2px; border: 1px solid; }
"""


def to_html(graph: LineageGraph, title: str | None = None, ui_base: str | None = None) -> str:
    """A self-contained HTML page: inline CSS, inline SVG, a table of every node (each run a link
    to its page in the MLflow UI at ``ui_base``, default ``mlflow ui``'s address, in the
    Model-training view). No scripts, no external resources."""

    def esc(value: str) -> str:
        return html.escape(printable(value))

    root = graph.root_node
    title = title or f"Lineage of {root.label}"
    legend = "".join(
        f'<span><i style="background:{fill};border-color:{stroke}"></i>{esc(t)}</span>'
        for t, (fill, stroke) in _COLORS.items() if t != "dataset"
    )
    depth = "unlimited" if graph.depth is None else str(graph.depth)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="sub">{esc(root.type or 'resource')} <code>{esc(root.id)}</code> in run <code>{esc(root.run_id)}</code>
 · direction {esc(graph.direction)} · depth {esc(depth)} · {len(graph.nodes)} nodes, {len(graph.edges)} edges
 · generated by lolpop</p>{_omitted(graph)}
<p class="legend">{legend}<span>★ winning experiment</span><span>⚠ quarantined / tainted (dashed red)</span></p>{_taint_lines(graph)}
<div class="graph">
{to_svg(graph)}
</div>
{_nodes_table(graph, ui_base)}
</body>
</html>
"""


def _omitted(graph: LineageGraph) -> str:
    """A line per model version whose experiments were not all drawn (empty when none was left out)."""
    lines = []
    for key, n in graph.omitted.items():
        node = graph.nodes.get(key)
        name = node.id if node is not None else key
        lines.append(f'\n<p class="sub">{n} more experiment{"s" if n != 1 else ""} of <code>'
                     f'{html.escape(printable(name))}</code> not drawn (the winner and the newest are); '
                     "<code>lolpop lineage</code> lists them all.</p>")
    return "".join(lines)


def _taint_lines(graph: LineageGraph) -> str:
    """A line per quarantined source the graph's nodes are tainted by (stored text escaped)."""
    sources: dict[tuple[str, str], dict[str, Any]] = {}
    for node in graph.nodes.values():
        for finding in node.taint:
            sources.setdefault((str(finding.get("dataset_version_id")), str(finding.get("run_id"))), finding)
    lines = []
    for (dv, run), finding in sources.items():
        tainted = sum(1 for n in graph.nodes.values() if any(
            (str(f.get("dataset_version_id")), str(f.get("run_id"))) == (dv, run) and f.get("hops") for f in n.taint))
        lines.append(f'\n<p class="taint">⚠ <code>{html.escape(printable(dv))}</code> (run '
                     f'<code>{html.escape(printable(run))}</code>) is quarantined by '
                     f'{html.escape(printable(str(finding.get("user"))))} at '
                     f'{html.escape(printable(str(finding.get("time"))))}: '
                     f'{html.escape(printable(str(finding.get("reason"))))} — {tainted} node(s) here built from it '
                     "are tainted.</p>")
    return "".join(lines)


def _nodes_table(graph: LineageGraph, ui_base: str | None = None) -> str:
    """The HTML table of every node of ``graph`` (stored text escaped, ids in links encoded)."""

    def esc(value: str) -> str:
        return html.escape(printable(value))

    rows = []
    for node in graph.nodes.values():
        rows.append(
            "<tr>"
            f"<td>{esc(node.label)}{' ★' if node.winner else ''}</td>"
            f"<td>{esc(node.type or '')}</td><td>{esc(node.role)}</td>"
            f"<td><code>{esc(node.id)}</code></td><td>{_run_anchor(node, ui_base)}</td>"
            f"<td>{esc(node.run_status)}</td><td>{esc(node.start_time)}</td>"
            f"<td>{esc(highlight_text(node, limit=8))}</td>"
            f"<td>{esc(taint_text(node))}</td>"
            "</tr>"
        )
    return f"""<table>
<thead><tr><th>resource</th><th>type</th><th>role</th><th>id</th><th>run</th><th>run status</th><th>start (UTC)</th><th>highlights</th><th>quarantine / taint</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>"""


def _run_anchor(node: LineageNode, ui_base: str | None) -> str:
    """The node's run id as a link to the run's page in the MLflow UI (Model-training view). A new
    tab: the page itself may be shown inside MLflow's artifact viewer."""
    link = ui_links.url(ui_links.run_route(node.experiment_id, node.run_id), ui_base)
    return (f'<a href="{html.escape(link, quote=True)}" target="_blank" rel="noopener noreferrer">'
            f"<code>{html.escape(printable(node.run_id))}</code></a>")


# ---------------------------------------------------------------------------------------------
# notebooks: HTML fragments for _repr_html_
# ---------------------------------------------------------------------------------------------
#: The class every notebook fragment sits in: its CSS applies inside it only (a notebook page
#: shows many outputs, and a <style> in one of them applies to the whole page).
SCOPE = "lolpop"
#: Longest text shown in one cell of a notebook table; the objects keep the whole value.
MAX_CELL = 1000


def _scoped_css(css: str, scope: str) -> str:
    """``css`` with every selector limited to elements inside ``.{scope}`` (``body`` becomes the
    scope itself)."""

    def rule(match: re.Match[str]) -> str:
        selectors = [sel.strip() for sel in match.group(1).split(",")]
        scoped = [f".{scope}" if sel == "body" else f".{scope} {sel}" for sel in selectors]
        return f"{', '.join(scoped)} {{ {' '.join(match.group(2).split())} }}\n"

    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    # A fragment sits in the notebook's own flow: no page margin.
    return re.sub(r"\s*([^{}]+?)\s*\{([^{}]*)\}", rule, css.strip()) + f".{scope} {{ margin: 0; }}"


def cell(value: Any) -> str:
    """A stored value as escaped HTML text: ``None`` empty, dicts and lists as JSON, control
    characters shown as escapes (:func:`printable`), at most :data:`MAX_CELL` characters."""
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, default=str)
    shown = printable(value)
    if len(shown) > MAX_CELL:
        shown = shown[: MAX_CELL - 1] + "…"
    return html.escape(shown)


def html_table(caption: str, headers: Sequence[str], rows: Iterable[Sequence[Any]],
               note: str | None = None) -> str:
    """An HTML fragment for a notebook: ``caption`` above a table, ``note`` below. Every caption,
    header and cell is escaped (:func:`cell`): stored text is shown, never read as HTML."""
    head = "".join(f"<th>{cell(h)}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    below = f'\n<p class="sub">{cell(note)}</p>' if note else ""
    return (f'<div class="{SCOPE}">\n<style>{_scoped_css(_CSS, SCOPE)}</style>\n'
            f'<p class="caption">{cell(caption)}</p>\n'
            f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody>\n</table>{below}\n</div>")


def to_html_fragment(graph: LineageGraph) -> str:
    """The lineage picture and its table of nodes as an HTML fragment for a notebook (what
    :func:`to_html` puts in a page, without the page; its CSS scoped to the fragment)."""

    def esc(value: str) -> str:
        return html.escape(printable(value))

    root = graph.root_node
    depth = "unlimited" if graph.depth is None else str(graph.depth)
    return f"""<div class="{SCOPE}">
<style>{_scoped_css(_CSS, SCOPE)}</style>
<p class="caption">Lineage of {esc(root.label)}</p>
<p class="sub">{esc(root.type or 'resource')} <code>{esc(root.id)}</code> in run <code>{esc(root.run_id)}</code>
 · direction {esc(graph.direction)} · depth {esc(depth)} · {len(graph.nodes)} nodes, {len(graph.edges)} edges</p>
<div class="graph">
{to_svg(graph)}
</div>
{_nodes_table(graph)}
</div>"""


def render(graph: LineageGraph, fmt: str, ui_base: str | None = None) -> Any:
    """Render ``graph`` as ``fmt`` (one of :data:`FORMATS`): a rich ``Tree`` for ``tree``, else text.

    Raises:
        InvalidInputError: unknown format.
    """
    if fmt == "tree":
        return to_tree(graph)
    if fmt == "json":
        return graph.to_json() + "\n"
    if fmt == "mermaid":
        return to_mermaid(graph)
    if fmt == "dot":
        return to_dot(graph)
    if fmt == "html":
        return to_html(graph, ui_base=ui_base)
    raise InvalidInputError(f"unknown lineage format {fmt!r}; use one of {', '.join(FORMATS)}")
