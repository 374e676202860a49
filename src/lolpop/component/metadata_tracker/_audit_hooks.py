"""The tracker's use of the audit package: ``diff`` and ``get_impact`` (:mod:`lolpop.audit`), read
from the tracker's store (every experiment) after what it still holds back has gone out."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lolpop.audit.diff import VersionDiff, diff_versions
from lolpop.audit.impact import Impact, impact_of
from lolpop.exceptions import ResourceNotFoundError
from lolpop.layout import arguments

if TYPE_CHECKING:
    from lolpop.component.metadata_tracker._view import TrackerView


def _located(tracker: TrackerView, reader: Any, resource: Any, what: str) -> Any:
    from lolpop.store.reader import Located

    arguments.resource_pair(resource, what)
    rid = tracker.get_resource_id(resource)
    run_id = resource[1].info.run_id
    fresh = reader.get_run(run_id)
    if not reader.has_resource(rid, fresh):
        raise ResourceNotFoundError(f"run {run_id} does not record resource {rid!r}")
    return Located(rid, fresh)


def _reader(tracker: TrackerView) -> Any:
    from lolpop.store.reader import StoreReader

    tracker.flush()  # the store is read: what this tracker holds back goes out first
    return StoreReader(tracker.client)


def diff_of(tracker: TrackerView, a: Any, b: Any) -> VersionDiff:
    """:func:`lolpop.audit.diff.diff_versions` of two model version resources."""
    reader = _reader(tracker)
    try:
        return diff_versions(reader, _located(tracker, reader, a, "a"), _located(tracker, reader, b, "b"))
    finally:
        reader.close()


def quarantine_result(tracker: TrackerView, dataset_version: Any, event: Any, repo_of: Any) -> Any:
    """The :class:`~lolpop.audit.quarantine.QuarantineResult` of an event just written: the impact
    read from the store after it, and the lineage page of every touched model version that has
    one drawn again (:func:`lolpop.lineage.page.redraw_pages`, uploads through ``repo_of(run)``)."""
    from lolpop.audit.quarantine import QuarantineResult
    from lolpop.lineage.page import redraw_pages

    reader = _reader(tracker)
    try:
        impact = impact_of(reader, _located(tracker, reader, dataset_version, "dataset_version"))
        redrawn, failures = redraw_pages(reader, [(m.id, m.run_id) for m in impact.model_versions], repo_of,
                                         tracker.client.tracking_uri)
    finally:
        reader.close()
    return QuarantineResult(event, impact, redrawn, failures)


def impact_of_resource(tracker: TrackerView, dataset_version: Any) -> Impact:
    """:func:`lolpop.audit.impact.impact_of` a dataset version resource."""
    reader = _reader(tracker)
    try:
        return impact_of(reader, _located(tracker, reader, dataset_version, "dataset_version"))
    finally:
        reader.close()


#: MLflow's end status of the workflow run -> the OpenLineage event at ``stop()``.
_END_EVENTS = {"FINISHED": "COMPLETE", "FAILED": "FAIL", "KILLED": "ABORT"}


def start_openlineage(tracker: TrackerView, url: str | None) -> Any:
    """An :class:`lolpop.audit.openlineage.Emitter` for ``url`` (``None``: no export) that has sent
    (or kept, when the endpoint is down) the workflow run's START."""
    if url is None:
        return None
    from lolpop.audit.openlineage import Emitter, workflow_event

    emitter = Emitter(url)
    emitter.emit(workflow_event("START", tracker.experiment_name, tracker.run.info.run_id))
    return emitter


def end_openlineage(tracker: TrackerView, emitter: Any, status: str) -> None:
    """Send the workflow run's COMPLETE / FAIL / ABORT (after what is still kept) and close."""
    if emitter is None:
        return
    from lolpop.audit.openlineage import workflow_event

    emitter.emit(workflow_event(_END_EVENTS.get(status, "OTHER"), tracker.experiment_name, tracker.run.info.run_id))
    emitter.close()
