"""The lineage picture as an inline SVG: a layered left-to-right layout computed in Python (no
script, no font or network request), edges routed with their relation labels."""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from lolpop.lineage.labels import COLORS, DEFAULT_COLOR, TAINT_STROKE, node_lines
from lolpop.lineage.model import GraphView, LineageEdge
from lolpop.lineage.safe_text import printable

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


def _layers(graph: GraphView) -> dict[str, int]:
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


def layout(graph: GraphView) -> tuple[dict[str, Slot], list[Route]]:
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


def to_svg(graph: GraphView) -> str:
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
        fill, stroke = COLORS.get(node.type or "", DEFAULT_COLOR)
        classes = ["node"] + (["root"] if key == graph.root else []) + (["winner"] if node.winner else []) \
            + (["tainted"] if node.taint else [])
        lines = node_lines(node)
        top = y + (slot.height - BOX_H) / 2  # the text block sits in the middle of a tall box
        parts.append(f'<g class="{" ".join(classes)}" data-key="{esc(key)}">')
        parts.append(f"<title>{esc(node.id)} (run {esc(node.run_id)})</title>")
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" height="{slot.height:.0f}" rx="8" '
            f'fill="{fill}" stroke="{TAINT_STROKE if node.taint else "#f9a825" if node.winner else stroke}"/>'
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
