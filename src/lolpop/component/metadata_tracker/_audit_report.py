"""The audit report attached to each model version whose status this tracker set, at ``stop()``.

When: at ``stop()``, for every model version this tracker set a status on — so once by the run
that registers a version (registration happens at its first status) and again by every later run
that changes its status (a promotion, a deployment, a rollback), each time with the history so
far. Where: the HTML page (:mod:`lolpop.audit.report`) as artifact ``audit_report`` of the model
version's own run (``<id>/audit_report/report.html``, :func:`lolpop.layout.keys.audit_report_path`),
which exists with or without the registry; with the registry on (``mlflow_registry``) and a
registry version, that version's tag ``lolpop.audit_report`` names it (``runs:/<run>/<path>``),
so the registry page leads to it. Nothing here can keep the runs from ending: a failure is a
warning.

Requests per such model version: the report's reads (:mod:`lolpop.audit.report`; the runs this
tracker owns are served from what it holds, and a search the lineage page beside it made is not
made again: for a version with no dataset, the downstream search; its status history is its own
run's; the version before it is the tracker's ``get_prev_resource_version`` answer, from the
version index: no search that grows with history), one
artifact upload, and, when it has a registry version, one ``set-tag`` (plus the
``registered-models/get`` MLflow's ``set_model_version_tag`` makes itself to refuse a prompt).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.layout import keys
from lolpop.store._connection import warn_with_traceback

if TYPE_CHECKING:
    from lolpop.component.metadata_tracker._lineage_hooks import HeldRunsReader
    from lolpop.component.metadata_tracker._registry import RegistryVersion
    from lolpop.component.metadata_tracker._view import TrackerView

logger = logging.getLogger("lolpop.audit")


def write_reports(tracker: TrackerView, changed: Mapping[tuple[str, str], RegistryVersion | None],
                  reader: HeldRunsReader) -> list[str]:
    """Write the audit report of every model version in ``changed`` (``(id, run id)`` -> its
    registry version or ``None``: those whose status ``tracker`` set), read through ``reader``
    (``stop()``'s, holding the final statuses, which drew the lineage pages just before: a report
    shows what the page beside it shows, from the same searches); returns the ``runs:/`` URIs
    written."""
    changed = dict(changed)
    if not changed:
        return []
    from lolpop.audit.report import build_report

    written = []
    for (mv_id, run_id), version in sorted(changed.items()):
        try:
            # The version before it as get_prev_resource_version finds it: from the version index
            # (flat), where a search of the model's versions would grow with its history.
            run = reader.get_run(run_id)
            previous = tracker.get_prev_resource_version(Resource(mv_id, run))
            report = build_report(reader, mv_id, run_id, previous=None if previous is None else previous.run)
            with tempfile.TemporaryDirectory(prefix="lolpop-report-") as tmp:
                path = Path(tmp) / keys.AUDIT_REPORT_FILE_NAME
                path.write_text(report.to_html(), encoding="utf-8")
                tracker.log_artifact(Resource(mv_id, run), keys.AUDIT_REPORT_ARTIFACT_ID, str(path))
            uri = f"runs:/{run_id}/{keys.audit_report_path(mv_id)}"
            if version is not None:
                tracker._store.registry.set_version_tag(version.name, version.version, keys.REGISTRY_REPORT_TAG, uri)
            written.append(uri)
        except Exception:  # noqa: BLE001 - a report must never keep a run from ending
            warn_with_traceback(logger, "lolpop: could not write the audit report of %r (run %s)", mv_id, run_id)
    return written
