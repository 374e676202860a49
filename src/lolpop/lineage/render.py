"""Render a :class:`~lolpop.lineage.graph.LineageGraph` as a tree, JSON, Mermaid, DOT or HTML.

The HTML page is self-contained: inline CSS and an inline SVG drawn here (a layered left-to-right
layout computed in Python). It has no script and makes no network request.

Every stored text (ids, labels, metadata) goes through :func:`~lolpop.lineage.safe_text.printable`
(no control characters) and then the format's own escaping (HTML, DOT, Mermaid); the tree is built
from rich ``Text`` objects, never parsed as markup.
"""

from __future__ import annotations

import html
from collections import defaultdict
from typing import Any

from typing import TYPE_CHECKING

from lolpop.exceptions import InvalidInputError
from lolpop.lineage.graph import LineageGraph, LineageNode, highlight_text
from lolpop.lineage.safe_text import printable

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree

FORMATS = ("tree", "json", "mermaid", "dot", "html")

_COLORS = {  # fill, stroke
    "dataset_version": ("#e3f2fd", "#1e88e5"),
    "dataset": ("#e3f2fd", "#1e88e5"),
    "model_version": ("#e8f5e9", "#43a047"),
    "experiment": ("#f3e5f5", "#8e24aa"),
    "prediction_job": ("#fff3e0", "#fb8c00"),
}
_DEFAULT_COLOR = ("#f5f5f5", "#757575")
_RICH_STYLE = {
    "dataset_version": "blue", "dataset": "blue", "model_version": "green",
    "experiment": "magenta", "prediction_job": "dark_orange",
}


def _short_run(run_id: str) -> str:
    return run_id[:8]


def node_lines(node: LineageNode) -> list[str]:
    """The text lines drawn for a node: label, ``type · run``, highlights."""
    lines = [printable(node.label) + ("  ★ winner" if node.winner else "")]
    lines.append(printable(f"{node.type or 'resource'} · run {_short_run(node.run_id)}"))
    extra = highlight_text(node)
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
        text.append(f"  {printable(extra)}")
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
        width = "3px" if key == graph.root else "1px"
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
        pen = 3 if key == graph.root else 1
        lines.append(f'  "{esc(key)}" [label="{label}", fillcolor="{fill}", color="{stroke}", penwidth={pen}];')
    for edge in graph.edges:
        lines.append(f'  "{esc(edge.source)}" -> "{esc(edge.target)}" [label="{esc(edge.relation)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# html (inline SVG)
# ---------------------------------------------------------------------------------------------
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 250, 66, 110, 26, 30


def layout(graph: LineageGraph) -> dict[str, tuple[float, float]]:
    """Top-left corner of each node box: layers by longest path from the sources, left to right."""
    layer: dict[str, int] = {key: 0 for key in graph.nodes}
    for _ in range(len(graph.nodes)):  # longest path (the graph is a DAG; bounded for safety)
        changed = False
        for edge in graph.edges:
            if layer[edge.target] < layer[edge.source] + 1:
                layer[edge.target] = layer[edge.source] + 1
                changed = True
        if not changed:
            break
    columns: dict[int, list[str]] = defaultdict(list)
    order = {key: i for i, key in enumerate(graph.nodes)}
    for key in graph.nodes:
        columns[layer[key]].append(key)
    position: dict[str, float] = {}
    for col in sorted(columns):
        def weight(key: str) -> tuple[float, int]:
            parents = [position[e.source] for e in graph.parents(key) if e.source in position]
            return (sum(parents) / len(parents) if parents else -1.0, order[key])

        columns[col].sort(key=weight)
        for row, key in enumerate(columns[col]):
            position[key] = row
    height = max((len(keys) for keys in columns.values()), default=1)
    out = {}
    for col, keys in columns.items():
        offset = (height - len(keys)) * (BOX_H + GAP_Y) / 2
        for row, key in enumerate(keys):
            out[key] = (MARGIN + col * (BOX_W + GAP_X), MARGIN + offset + row * (BOX_H + GAP_Y))
    return out


def _truncate(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def to_svg(graph: LineageGraph) -> str:
    """The lineage picture as a standalone inline ``<svg>`` element."""
    pos = layout(graph)
    width = max((x for x, _ in pos.values()), default=0) + BOX_W + MARGIN
    height = max((y for _, y in pos.values()), default=0) + BOX_H + MARGIN

    def esc(value: str) -> str:
        return html.escape(printable(value))

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="lineage graph">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" '
        'markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#607d8b"/>'
        "</marker></defs>",
    ]
    for edge in graph.edges:
        x1, y1 = pos[edge.source]
        x2, y2 = pos[edge.target]
        sx, sy, tx, ty = x1 + BOX_W, y1 + BOX_H / 2, x2, y2 + BOX_H / 2
        mid = (sx + tx) / 2
        cls = "edge winner" if edge.relation == "winner" else "edge"
        parts.append(
            f'<path class="{cls}" d="M {sx:.1f} {sy:.1f} C {mid:.1f} {sy:.1f}, {mid:.1f} {ty:.1f}, '
            f'{tx:.1f} {ty:.1f}" marker-end="url(#arrow)"/>'
        )
        parts.append(
            f'<text class="edge-label" x="{mid:.1f}" y="{(sy + ty) / 2 - 4:.1f}" '
            f'text-anchor="middle">{esc(edge.relation)}</text>'
        )
    for key, node in graph.nodes.items():
        x, y = pos[key]
        fill, stroke = _COLORS.get(node.type or "", _DEFAULT_COLOR)
        classes = ["node"] + (["root"] if key == graph.root else []) + (["winner"] if node.winner else [])
        lines = node_lines(node)
        parts.append(f'<g class="{" ".join(classes)}" data-key="{esc(key)}">')
        parts.append(f"<title>{esc(node.id)} (run {esc(node.run_id)})</title>")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{BOX_H}" rx="8" '
            f'fill="{fill}" stroke="{"#f9a825" if node.winner else stroke}"/>'
        )
        for i, line in enumerate(lines):
            cls = "label" if i == 0 else "detail"
            parts.append(
                f'<text class="{cls}" x="{x + 10:.1f}" y="{y + 20 + i * 18:.1f}">'
                f"{esc(_truncate(line, 36 if i == 0 else 42))}</text>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return "\n".join(parts)


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
svg .edge-label { font-size: 10px; fill: #78909c; }
svg .node rect { stroke-width: 1.5; }
svg .node.root rect { stroke-width: 3.5; }
svg .node.winner rect { stroke-width: 2.5; }
table { border-collapse: collapse; margin-top: 18px; font-size: 12px; }
th, td { border: 1px solid #cfd8dc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eceff1; }
td code { font-size: 11px; }
.legend span { display: inline-block; margin-right: 14px; font-size: 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 3px; margin-right: 4px;
            vertical-align: -2px; border: 1px solid; }
"""


def to_html(graph: LineageGraph, title: str | None = None) -> str:
    """A self-contained HTML page: inline CSS, inline SVG, a table of every node. No scripts,
    no external resources."""

    def esc(value: str) -> str:
        return html.escape(printable(value))

    root = graph.root_node
    title = title or f"Lineage of {root.label}"
    legend = "".join(
        f'<span><i style="background:{fill};border-color:{stroke}"></i>{esc(t)}</span>'
        for t, (fill, stroke) in _COLORS.items() if t != "dataset"
    )
    rows = []
    for key, node in graph.nodes.items():
        rows.append(
            "<tr>"
            f"<td>{esc(node.label)}{' ★' if node.winner else ''}</td>"
            f"<td>{esc(node.type or '')}</td><td>{esc(node.role)}</td>"
            f"<td><code>{esc(node.id)}</code></td><td><code>{esc(node.run_id)}</code></td>"
            f"<td>{esc(node.run_status)}</td><td>{esc(node.start_time)}</td>"
            f"<td>{esc(highlight_text(node, limit=8))}</td>"
            "</tr>"
        )
    depth = "unlimited" if graph.depth is None else str(graph.depth)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>{esc(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<h1>{esc(title)}</h1>
<p class="sub">{esc(root.type or 'resource')} <code>{esc(root.id)}</code> in run <code>{esc(root.run_id)}</code>
 · direction {esc(graph.direction)} · depth {esc(depth)} · {len(graph.nodes)} nodes, {len(graph.edges)} edges
 · generated by lolpop</p>
<p class="legend">{legend}<span>★ winning experiment</span></p>
<div class="graph">
{to_svg(graph)}
</div>
<table>
<thead><tr><th>resource</th><th>type</th><th>role</th><th>id</th><th>run</th><th>run status</th><th>start (UTC)</th><th>highlights</th></tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</body>
</html>
"""


def render(graph: LineageGraph, fmt: str) -> Any:
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
        return to_html(graph)
    raise InvalidInputError(f"unknown lineage format {fmt!r}; use one of {', '.join(FORMATS)}")
