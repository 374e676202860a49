"""The tracker's use of the lineage package (:mod:`lolpop.lineage`): ``get_lineage`` and the extra
records ``build_model_lineage`` makes (the searchable used-by index and the HTML picture, which
``stop()`` draws again with the final state)."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from lolpop.store.entities import Run

from lolpop.layout import arguments, ui_links
from lolpop.layout.filters import tag_clause
from lolpop.layout.native import LINEAGE_ARTIFACT_ID, LINEAGE_FILE_NAME, page_path
from lolpop.layout.keys import (MAX_KEY_LENGTH, MLFLOW_PARENT, child_of_key, listed, searchable,
                               used_by_key)
from lolpop.exceptions import ResourceNotFoundError
from lolpop.lineage.graph import LineageGraph, build_lineage
from lolpop.lineage.render import to_html
from lolpop.lineage.taint import annotate
from lolpop.store.reader import Located, StoreReader

if TYPE_CHECKING:
    from lolpop.component.metadata_tracker._view import TrackerView

logger = logging.getLogger("lolpop.lineage")

#: Experiments drawn per model version on a lineage page (the winner and the newest others): a
#: hyper-parameter search of a thousand trials draws the same page, at the same cost, as one of
#: this many; the page says how many it left out.
PAGE_EXPERIMENTS = 25
#: Artifact id of the lineage page: ``<model version id>/lineage/lineage.html``.


def lineage_of(tracker: TrackerView, resource: Any, direction: str = "both",
               depth: int | None = None) -> LineageGraph:
    """The lineage graph of ``resource``, read from the tracker's store (every experiment)."""
    _, run = arguments.resource_pair(resource)
    rid = tracker.get_resource_id(resource)
    # The graph is read from the store: what this tracker still holds back goes out first.
    tracker.flush()
    reader = StoreReader(tracker.client)
    try:
        fresh = reader.get_run(run.info.run_id)
        if not reader.has_resource(rid, fresh):
            raise ResourceNotFoundError(f"run {run.info.run_id} does not record resource {rid!r}")
        return annotate(build_lineage(reader, Located(rid, fresh), direction, depth), reader)
    finally:
        reader.close()


def used_by_tags(model_version_id: str, lineage: Any, current: dict[str, str]) -> dict[str, str]:
    """Tags ``_lolpop.used_by.<dataset_run_id>.<dataset_id>`` = JSON list of the model version ids
    in this run built from that dataset version, so "which model versions used this dataset
    version" is one ``search_runs`` (``LIKE '%'`` on a known key). ``current`` is the run's tags;
    only changed tags are returned, to go out in the same request as the lineage itself."""
    tags: dict[str, str] = {}
    if not isinstance(lineage, list):
        return tags
    for item in lineage:
        if not isinstance(item, dict) or not item.get("id") or not item.get("run_id"):
            continue
        key = used_by_key(str(item["run_id"]), str(item["id"]))
        if len(key) > MAX_KEY_LENGTH:
            logger.warning("dataset id %r is too long for the used-by index; downstream lineage "
                           "of it will not find %r", item["id"], model_version_id)
            continue
        users = sorted(set(listed(current, key)) | {model_version_id})
        value = json.dumps(users)
        if current.get(key) != value:
            tags[key] = value
    return tags


def child_of_tags(child_id: str, parent_id: str, parent_run_id: str, current: dict[str, str],
                  prediction_job: bool = False) -> dict[str, str]:
    """Tag ``_lolpop.child_of.<parent_run_id>.<parent_id>`` = JSON list of the ids in this run made
    from that parent, with ``child_id`` added (empty when unchanged or when the key is too long:
    readers then find a ``prediction_job`` by a search on its recorded parent, anything else not)."""
    key = child_of_key(parent_run_id, parent_id)
    if not searchable(key):
        found = ("finds %r by a search over every prediction job of it instead" if prediction_job
                 else "will not find %r")
        logger.warning("parent id %r is too long for the made-from index; downstream lineage of it " + found,
                       parent_id, child_id)
        return {}
    value = json.dumps(sorted(set(listed(current, key)) | {child_id}))
    return {} if current.get(key) == value else {key: value}


class HeldRunsReader(StoreReader):
    """A :class:`StoreReader` that serves the runs a tracker owns from what it holds (no request;
    statuses as the tracker says, e.g. the final ones at ``stop()``), and other runs from the store.

    The experiments of a model version in an owned run are the nested runs this tracker opened
    under it, so that search is answered from ``held`` too; experiments another process opened
    under a run this tracker owns are not drawn. ``known_artifacts(run_id, path)`` (the run store's)
    answers the artifact listings of runs the tracker created (``None``: ask the store).
    ``experiment_ids``: where searches look (default: every experiment).

    ``stop()`` draws the lineage pages and writes the audit reports with one reader, which asks a
    search once (:meth:`StoreReader.search`), so a page and the report beside it walk the same
    downstream answer (one search, and the two can never disagree about what was predicted with a
    version).
    """

    def __init__(self, client: Any, held: Mapping[str, Run],
                 known_artifacts: Callable[[str, str], list[tuple[str, int | None]] | None] | None = None,
                 experiment_ids: list[str] | None = None) -> None:
        super().__init__(client, experiment_ids)
        self._known_artifacts = known_artifacts
        self._held = dict(held)
        for run in self._held.values():
            self.remember(run)
        newest_first = sorted(self._held.values(), key=lambda r: r.info.start_time or 0, reverse=True)
        # Children grouped in one pass (newest first): a model version with a thousand experiments
        # must not cost a pass over every held run per held run.
        children: dict[str, list[Run]] = {run_id: [] for run_id in self._held}
        for run in newest_first:
            parent = run.data.tags.get(MLFLOW_PARENT)
            if parent in children:
                children[parent].append(run)
        self._answers = {tag_clause(MLFLOW_PARENT, run_id): runs for run_id, runs in children.items()}

    def search(self, filter_string: str, max_results: int = 1000,
               experiment_ids: list[str] | None = None) -> list[Run]:
        if filter_string in self._answers:
            return list(self._answers[filter_string][:max_results])
        runs = super().search(filter_string, max_results, experiment_ids)
        # A held run is newer than what the store returns (pending writes, final status).
        return [self.remember(self._held.get(r.info.run_id, r)) for r in runs]

    def remember(self, run: Run) -> Run:
        # Its client is the MlflowClient adapter (the tracker's client): a run known here without
        # the adapter fetching it is listed through its own artifact repository all the same.
        self.client.knows(run)  # type: ignore[attr-defined]
        return super().remember(run)

    def holds(self, run_id: str) -> bool:
        """Whether ``run_id`` is one of the tracker's own runs (served from what it holds)."""
        return run_id in self._held

    def artifacts(self, run_id: str, path: str) -> list[tuple[str, int | None]]:
        known = self._known_artifacts(run_id, path) if self._known_artifacts is not None else None
        return known if known is not None else super().artifacts(run_id, path)


def log_lineage_page(tracker: TrackerView, model_version: Any, held: Mapping[str, Run],
                     direction: str = "upstream", reader: HeldRunsReader | None = None) -> str:
    """Render the model version's lineage as a self-contained HTML page and log it as artifact
    ``lineage`` of the model version (``<id>/lineage/lineage.html``). Returns the artifact path.

    The graph is drawn from ``held`` (the tracker's owned runs, see :class:`HeldRunsReader`) and
    the store: ``build_model_lineage`` draws what made the model version (``upstream``; nothing can
    be downstream of it yet), ``stop()`` everything around it (``both``) with the final statuses.
    At most :data:`PAGE_EXPERIMENTS` experiments per model version are drawn.
    """
    rid = tracker.get_resource_id(model_version)
    run_id = model_version[1].info.run_id
    own = reader is None
    reader = reader if reader is not None else HeldRunsReader(tracker.client, held, tracker._store.known_artifacts)
    try:
        graph = build_lineage(reader, Located(rid, reader.get_run(run_id)), direction,
                              max_experiments=PAGE_EXPERIMENTS)
        annotate(graph, reader)
    finally:
        if own:
            reader.close()
    with tempfile.TemporaryDirectory(prefix="lolpop-lineage-") as tmp:
        path = Path(tmp) / LINEAGE_FILE_NAME
        path.write_text(to_html(graph, ui_base=ui_links.ui_base(tracker.client.tracking_uri)), encoding="utf-8")
        tracker.log_artifact(model_version, LINEAGE_ARTIFACT_ID, str(path))
    return page_path(rid)


