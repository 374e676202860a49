"""The lineage page (``<model version id>/lineage/lineage.html``), and its redraw after a
quarantine event: a page drawn before a quarantine (or its lift) would otherwise keep showing the
old taint state in the MLflow UI (issue 22, item 2).

Shared by ``tracker.quarantine`` / ``lift_quarantine`` and ``lolpop quarantine``: they give the
model versions the event touches (the impact walk) and how to reach a run's artifacts; only the
model versions that already have a page get it drawn again, from the store as it is after the
event, into their own run (same path, overwritten). A failure is a warning, never the event's
failure (the event is written already).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from lolpop.layout import ui_links
from lolpop.layout.uris import redact
from lolpop.layout.native import LINEAGE_ARTIFACT_ID, LINEAGE_FILE_NAME
from lolpop.lineage.graph import build_lineage
from lolpop.lineage.render import to_html
from lolpop.lineage.taint import annotate
from lolpop.store.reader import Located

logger = logging.getLogger("lolpop.lineage")

#: Experiments drawn per model version on a lineage page (the winner and the newest others): a
#: hyper-parameter search of a thousand trials draws the same page, at the same cost, as one of
#: this many; the page says how many it left out.
PAGE_EXPERIMENTS = 25

#: ``repo(run)``: the artifact repository of a run (``list_artifacts``, ``log_artifact``).
RepoOf = Callable[[Any], Any]


def page_html(reader: Any, located: Located, direction: str, tracking_uri: str | None,
              max_experiments: int | None = None) -> str:
    """The page of the model version ``located``, its lineage read through ``reader`` and marked
    with its taint (:func:`lolpop.lineage.taint.annotate`). Text in it is escaped by the renderer."""
    graph = build_lineage(reader, located, direction,
                          max_experiments=PAGE_EXPERIMENTS if max_experiments is None else max_experiments)
    annotate(graph, reader)
    return to_html(graph, ui_base=ui_links.ui_base(tracking_uri))


def has_page(repo: Any, model_version_id: str) -> bool:
    """Whether the run's artifacts hold the model version's page (one list-artifacts request)."""
    folder = f"{model_version_id}/{LINEAGE_ARTIFACT_ID}"
    return any(Path(f.path).name == LINEAGE_FILE_NAME and not f.is_dir for f in repo.list_artifacts(folder) or [])


def redraw_pages(reader: Any, model_versions: Iterable[tuple[str, str]], repo_of: RepoOf,
                 tracking_uri: str | None) -> tuple[list[tuple[str, str]], list[str]]:
    """Draw again the page of every ``(model version id, run id)`` that has one, from ``reader``
    (the store after the event), into its own run through ``repo_of(run)``.

    Returns ``(redrawn, failures)``: the ``(model version id, run id)`` pairs whose page was
    redrawn, and one message per model version that could not be (each logged as a warning).
    Costs per model version: one list-artifacts request, and when it has a page the reads of its
    lineage walk (runs already read by ``reader`` are not read again) and one upload.
    """
    redrawn: list[tuple[str, str]] = []
    failures: list[str] = []
    seen: set[tuple[str, str]] = set()
    for rid, run_id in model_versions:
        if (rid, run_id) in seen:
            continue
        seen.add((rid, run_id))
        try:
            run = reader.get_run(run_id)
            repo = repo_of(run)
            if not has_page(repo, rid):
                continue
            text = page_html(reader, Located(rid, run), "both", tracking_uri)
            with tempfile.TemporaryDirectory(prefix="lolpop-lineage-") as tmp:
                path = Path(tmp) / LINEAGE_FILE_NAME
                path.write_text(text, encoding="utf-8")
                repo.log_artifact(str(path), f"{rid}/{LINEAGE_ARTIFACT_ID}")
        except Exception as exc:  # noqa: BLE001 - the event is written: a stale page is a warning
            # MLflow's messages embed the request URL, userinfo included: never a password in a warning.
            message = redact(f"could not redraw the lineage page of {rid!r} (run {run_id}): {type(exc).__name__}: {exc}")
            logger.warning("%s", message)
            failures.append(message)
            continue
        redrawn.append((rid, run_id))
    return redrawn, failures
