"""The description (``mlflow.note.content``) of a workflow run: what it recorded, in Markdown.

The MLflow UI shows it on the run's page. It is built at ``stop()`` from what the tracker holds
(no request) and is bounded by MLflow's tag value limit: a longer summary is cut at a line and
says so.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field

from lolpop.layout import ui_links
from lolpop.layout.keys import MAX_TAG_VAL_LENGTH

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def md(text: str) -> str:
    """``text`` as literal Markdown (ids and names are user data, never markup)."""
    return _MD_SPECIAL.sub(r"\\\1", text)


def code(text: str) -> str:
    """An inline code span; resource ids never contain a backtick, other text loses them."""
    return f"`{text.replace('`', chr(39))}`"


def run_link(experiment_id: str, run_id: str, path: str | None = None) -> str:
    """A link the MLflow UI resolves (relative: the description is shown by the UI itself): the
    run's page, or a file in its artifacts, in the Model-training view."""
    return ui_links.run_route(experiment_id, run_id, path)


@dataclass
class Resource:
    """One resource of the workflow run, with what the summary says about it."""

    id: str
    type: str | None
    details: list[str] = field(default_factory=list)


@dataclass
class Summary:
    """What a workflow run recorded."""

    experiment_name: str
    experiment_id: str
    run_id: str
    status: str
    resources: list[Resource] = field(default_factory=list)
    #: (name, run id, status, winner) of each experiment run this tracker opened
    experiments: list[tuple[str, str, str, bool]] = field(default_factory=list)
    #: text lines about model versions of other runs whose lineage pages this run refreshed
    linked: list[str] = field(default_factory=list)


def render(summary: Summary, limit: int = MAX_TAG_VAL_LENGTH) -> str:
    """The Markdown description of ``summary``, at most ``limit`` bytes in UTF-8 (so at most
    ``limit`` characters, whichever way a backend counts)."""
    lines = [
        "### lolpop workflow run",
        f"Pipeline (MLflow experiment) {code(summary.experiment_name)} · ended **{md(summary.status)}**.",
        "",
    ]
    by_type: dict[str, list[Resource]] = defaultdict(list)
    for resource in summary.resources:
        by_type[resource.type or "other"].append(resource)
    if summary.resources or summary.experiments:
        lines.append("**Resources by type**")
        lines.append("")
    for rtype in sorted(by_type):
        items = by_type[rtype]
        lines.append(f"- **{md(rtype)}** ({len(items)})")
        for resource in items:
            details = f" — {'; '.join(resource.details)}" if resource.details else ""
            lines.append(f"  - {code(resource.id)}{details}")
    if summary.experiments:
        lines.append(f"- **experiment** ({len(summary.experiments)} nested runs)")
        size = sum(len(line.encode("utf-8")) + 1 for line in lines)
        for n, (name, run_id, status, winner) in enumerate(summary.experiments):
            if size > limit:
                # Past the limit every later line is cut (_bounded counts them, never shows
                # them): a search's thousand experiments are not formatted to be dropped.
                lines += [""] * (len(summary.experiments) - n)
                break
            star = " ★ winner" if winner else ""
            lines.append(f"  - [{md(name)}]({run_link(summary.experiment_id, run_id)}) "
                         f"{md(status)}{star}")
            size += len(lines[-1].encode("utf-8")) + 1
    if not summary.resources and not summary.experiments:
        lines.append("Nothing was recorded in this run.")
    if summary.linked:
        lines += ["", "**Lineage pages refreshed in other runs**", ""]
        lines += [f"- {line}" for line in summary.linked]
    return _bounded(lines, limit)


def _bounded(lines: list[str], limit: int) -> str:
    text = "\n".join(lines) + "\n"
    if len(text.encode("utf-8")) <= limit:
        return text
    kept: list[str] = []
    size = 0
    for i, line in enumerate(lines):
        footer = (f"\n*… {len(lines) - i} more lines left out: MLflow holds at most {MAX_TAG_VAL_LENGTH} "
                  "characters here. `lolpop show <id>` lists everything this run recorded.*\n")
        cost = len(line.encode("utf-8")) + 1
        if size + cost + len(footer.encode("utf-8")) > limit:
            return "\n".join(kept) + "\n" + footer
        kept.append(line)
        size += cost
    return "\n".join(kept) + "\n"  # pragma: no cover - the whole text fits, handled above
