"""What ``MLFlowMetadataTracker`` delegates to this package: ``get_lineage`` and the extra
records ``build_model_lineage`` makes (the searchable used-by index and the HTML picture)."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lolpop.layout.keys import MAX_KEY_LENGTH, used_by_key
from lolpop.exceptions import InvalidInputError, ResourceNotFoundError
from lolpop.lineage.graph import LineageGraph, build_lineage
from lolpop.lineage.render import to_html
from lolpop.lineage.store import Located, StoreReader

if TYPE_CHECKING:
    from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

logger = logging.getLogger("lolpop.lineage")

#: Artifact id of the lineage page: ``<model version id>/lineage/lineage.html``.
LINEAGE_ARTIFACT_ID = "lineage"
LINEAGE_FILE_NAME = "lineage.html"


def lineage_of(tracker: MLFlowMetadataTracker, resource: Any, direction: str = "both",
               depth: int | None = None) -> LineageGraph:
    """The lineage graph of ``resource``, read from the tracker's store (every experiment)."""
    rid = tracker.get_resource_id(resource)  # validates the (id, run) pair
    run = resource[1]
    if not isinstance(getattr(getattr(run, "info", None), "run_id", None), str):
        raise InvalidInputError(f"resource {rid!r}: second element is not an MLflow run")
    # The graph is read from the store: what this tracker still holds back goes out first.
    tracker.flush()
    reader = StoreReader(tracker.client)
    try:
        fresh = reader.get_run(run.info.run_id)
        if not reader.has_resource(rid, fresh):
            raise ResourceNotFoundError(f"run {run.info.run_id} does not record resource {rid!r}")
        return build_lineage(reader, Located(rid, fresh), direction, depth)
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
        try:
            users = json.loads(current.get(key, "[]"))
        except json.JSONDecodeError:
            users = []
        users = sorted(set(users if isinstance(users, list) else []) | {model_version_id})
        value = json.dumps(users)
        if current.get(key) != value:
            tags[key] = value
    return tags


def log_lineage_page(tracker: MLFlowMetadataTracker, model_version: Any) -> str:
    """Render the model version's lineage as a self-contained HTML page and log it as artifact
    ``lineage`` of the model version (``<id>/lineage/lineage.html``). Returns the artifact path."""
    # At build time nothing can be downstream of a new model version yet: draw what made it.
    graph = lineage_of(tracker, model_version, direction="upstream")
    with tempfile.TemporaryDirectory(prefix="lolpop-lineage-") as tmp:
        path = Path(tmp) / LINEAGE_FILE_NAME
        path.write_text(to_html(graph), encoding="utf-8")
        tracker.log_artifact(model_version, LINEAGE_ARTIFACT_ID, str(path))
    return f"{tracker.get_resource_id(model_version)}/{LINEAGE_ARTIFACT_ID}/{LINEAGE_FILE_NAME}"
