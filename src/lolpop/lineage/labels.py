"""How a lineage node is labelled and coloured, shared by every picture (tree, SVG, Mermaid, DOT,
the HTML page): its text lines, highlights and taint, stored text made printable (escape it where
it is drawn)."""

from __future__ import annotations

from lolpop.lineage.model import LineageNode
from lolpop.lineage.safe_text import printable

COLORS = {  # fill, stroke
    "dataset_version": ("#e3f2fd", "#1e88e5"),
    "dataset": ("#e3f2fd", "#1e88e5"),
    "model_version": ("#e8f5e9", "#43a047"),
    "experiment": ("#f3e5f5", "#8e24aa"),
    "prediction_job": ("#fff3e0", "#fb8c00"),
}
DEFAULT_COLOR = ("#f5f5f5", "#757575")
#: Stroke of a quarantined or tainted node (with a dashed outline in the HTML page).
TAINT_STROKE = "#c62828"


def short_run(run_id: str) -> str:
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
    lines.append(printable(f"{node.type or 'resource'} · run {short_run(node.run_id)}"))
    extra = taint_text(node) or highlight_text(node)
    if extra:
        lines.append(printable(extra))
    return lines
