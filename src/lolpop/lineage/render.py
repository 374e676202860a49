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
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from lolpop.exceptions import InvalidInputError
from lolpop.layout import ui_links
from lolpop.lineage.labels import COLORS, DEFAULT_COLOR, TAINT_STROKE, highlight_text, node_lines, taint_text
from lolpop.lineage.model import GraphView, LineageNode
from lolpop.lineage.svg import to_svg
from lolpop.lineage.safe_text import printable

if TYPE_CHECKING:
    from rich.text import Text
    from rich.tree import Tree


FORMATS = ("tree", "json", "mermaid", "dot", "html")
_RICH_STYLE = {
    "dataset_version": "blue", "dataset": "blue", "model_version": "green",
    "experiment": "magenta", "prediction_job": "dark_orange",
}


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


def to_tree(graph: GraphView) -> Tree:
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
def _ids(graph: GraphView) -> dict[str, str]:
    return {key: f"n{i}" for i, key in enumerate(graph.nodes)}


def to_mermaid(graph: GraphView) -> str:
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
        fill, stroke = COLORS.get(node.type or "", DEFAULT_COLOR)
        stroke = TAINT_STROKE if node.taint else stroke
        width = "3px" if key == graph.root or node.taint else "1px"
        lines.append(f"    style {ids[key]} fill:{fill},stroke:{stroke},stroke-width:{width}")
    return "\n".join(lines) + "\n"


def to_dot(graph: GraphView) -> str:
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
        fill, stroke = COLORS.get(node.type or "", DEFAULT_COLOR)
        label = "\\n".join(esc(line) for line in node_lines(node))
        pen = 3 if key == graph.root or node.taint else 1
        stroke = TAINT_STROKE if node.taint else stroke
        lines.append(f'  "{esc(key)}" [label="{label}", fillcolor="{fill}", color="{stroke}", penwidth={pen}];')
    for edge in graph.edges:
        lines.append(f'  "{esc(edge.source)}" -> "{esc(edge.target)}" [label="{esc(edge.relation)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


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


def to_html(graph: GraphView, title: str | None = None, ui_base: str | None = None) -> str:
    """A self-contained HTML page: inline CSS, inline SVG, a table of every node (each run a link
    to its page in the MLflow UI at ``ui_base``, default ``mlflow ui``'s address, in the
    Model-training view). No scripts, no external resources."""

    def esc(value: str) -> str:
        return html.escape(printable(value))

    root = graph.root_node
    title = title or f"Lineage of {root.label}"
    legend = "".join(
        f'<span><i style="background:{fill};border-color:{stroke}"></i>{esc(t)}</span>'
        for t, (fill, stroke) in COLORS.items() if t != "dataset"
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


def _omitted(graph: GraphView) -> str:
    """A line per model version whose experiments were not all drawn (empty when none was left out)."""
    lines = []
    for key, n in graph.omitted.items():
        node = graph.nodes.get(key)
        name = node.id if node is not None else key
        lines.append(f'\n<p class="sub">{n} more experiment{"s" if n != 1 else ""} of <code>'
                     f'{html.escape(printable(name))}</code> not drawn (the winner and the newest are); '
                     "<code>lolpop lineage</code> lists them all.</p>")
    return "".join(lines)


def _taint_lines(graph: GraphView) -> str:
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


def _nodes_table(graph: GraphView, ui_base: str | None = None) -> str:
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


def to_html_fragment(graph: GraphView) -> str:
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


def render(graph: GraphView, fmt: str, ui_base: str | None = None) -> Any:
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
