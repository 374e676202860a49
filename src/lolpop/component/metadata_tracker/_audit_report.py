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
tracker owns are served from what it holds: three searches for a version with no dataset), one
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
    from lolpop.component.metadata_tracker._registry import RegistryVersion
    from lolpop.component.metadata_tracker._view import TrackerView

logger = logging.getLogger("lolpop.audit")


def write_reports(tracker: TrackerView, changed: Mapping[tuple[str, str], RegistryVersion | None],
                  statuses: Mapping[str, str]) -> list[str]:
    """Write the audit report of every model version in ``changed`` (``(id, run id)`` -> its
    registry version or ``None``: those whose status ``tracker`` set); returns the ``runs:/`` URIs
    written. ``statuses``: the final status of each owned run."""
    changed = dict(changed)
    if not changed:
        return []
    from lolpop.audit.report import build_report
    from lolpop.component.metadata_tracker._lineage_hooks import HeldRunsReader

    # The tracker's history is its MLflow experiment's (get_status_history): the report's too.
    reader = HeldRunsReader(tracker.client, tracker._store.held_runs(statuses), tracker._store.known_artifacts,
                            experiment_ids=[tracker.experiment_id])
    written = []
    try:
        for (mv_id, run_id), version in sorted(changed.items()):
            try:
                report = build_report(reader, mv_id, run_id)
                with tempfile.TemporaryDirectory(prefix="lolpop-report-") as tmp:
                    path = Path(tmp) / keys.AUDIT_REPORT_FILE_NAME
                    path.write_text(report.to_html(), encoding="utf-8")
                    tracker.log_artifact(Resource(mv_id, reader.get_run(run_id)), keys.AUDIT_REPORT_ARTIFACT_ID,
                                         str(path))
                uri = f"runs:/{run_id}/{keys.audit_report_path(mv_id)}"
                if version is not None:
                    tracker._store.registry.set_version_tag(version.name, version.version, keys.REGISTRY_REPORT_TAG, uri)
                written.append(uri)
            except Exception:  # noqa: BLE001 - a report must never keep a run from ending
                warn_with_traceback(logger, "lolpop: could not write the audit report of %r (run %s)", mv_id, run_id)
    finally:
        reader.close()
    return written
