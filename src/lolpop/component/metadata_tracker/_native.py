"""The tracker's MLflow-native records (DESIGN.md, "MLflow-native records"): MLflow metrics from
metadata ``metrics``, dataset inputs of trained model versions, the workflow run's description,
and lineage pages kept current at ``stop()``.

The mapping rules are :mod:`lolpop.layout.native`; every request goes through the tracker's run
store. Requests beyond "one per seed call" (each documented where it is made):

* ``build_model_lineage``: one ``log_inputs`` per run that gains dataset inputs (the model
  version's run and each of its experiment runs, one after another: sending them at once was
  measured and gained nothing on a tracking server, whose store takes the writes in turn); a
  dataset version in a run this tracker does not own costs one ``runs/get`` to read its hexsha
  and URI.
* ``stop()``: the description rides with what is held back (one ``log_batch``, sent even when
  nothing else is held); each lineage page drawn again costs one upload and its reads (one
  ``search_runs`` for prediction jobs, one ``search_experiments`` per ``stop()``, and for a model
  version of another run one ``runs/get`` and one ``search_runs`` for its experiments); the audit
  reports drawn next read through the same reader, so they ask none of these again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lolpop.store.entities import Run

from lolpop.component.metadata_tracker import _run_note
from lolpop.component.metadata_tracker._run_note import code, md, run_link
from lolpop.store._batch import TERMINAL, Batch, check_key
from lolpop.store._connection import warn_with_traceback
from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.exceptions import InvalidKeyError, ResourceNotFoundError
from lolpop.layout import keys, native
from lolpop.store.reader import StoreReader
from lolpop.component.metadata_tracker._lineage_hooks import HeldRunsReader, log_lineage_page

if TYPE_CHECKING:
    from lolpop.component.metadata_tracker._view import TrackerView

logger = logging.getLogger("lolpop.native")


# -- metrics ----------------------------------------------------------------------------------
def metrics(tracker: TrackerView, rid: str, run_id: str, data: Any) -> dict[str, float]:
    """The MLflow metrics of metadata ``metrics`` of ``rid``: plain names in an experiment's own
    run (so MLflow's compare view lines them up), ``<id>.``-prefixed in the shared workflow run.
    Numbers MLflow cannot hold as metrics are left out with a warning; the metadata keeps them."""
    values, skipped = native.metric_values(data)
    prefix = "" if tracker._is_experiment(rid, run_id) else f"{rid}."
    out: dict[str, float] = {}
    for name, value in values.items():
        try:
            check_key(prefix + name, f"metric {name!r} of {rid!r}")
        except InvalidKeyError:
            skipped.append(name)
            continue
        out[prefix + name] = value
    if skipped:
        logger.warning("metadata 'metrics' of %r: %s not logged as MLflow metrics (not a finite number, or "
                       "not a valid metric name); the metadata keeps them", rid, ", ".join(sorted(skipped)))
    return out


# -- dataset inputs ---------------------------------------------------------------------------
def _experiment_runs(tracker: TrackerView, rid: str, run_id: str) -> list[str]:
    """The experiment runs this tracker opened with ``parent`` = the model version ``(rid, run_id)``."""
    out = []
    for owned in tracker._store.owned_run_ids():
        tags, _ = tracker._store.data(owned)
        if tags.get(keys.MLFLOW_PARENT) == run_id and tags.get(keys.PARENT_ID_TAG) == rid:
            out.append(owned)
    return out


def log_training_inputs(tracker: TrackerView, rid: str, run_id: str, lineage: Any) -> None:
    """Log the dataset versions of ``lineage`` that have version-control info as MLflow dataset
    inputs (context ``training``) of the model version's run and its experiment runs, so the UI's
    Dataset column and ``search_runs(filter_string="dataset.name = '<id>'")`` find them."""
    records: list[native.DatasetRecord] = []
    tags_of: dict[str, dict[str, str]] = {}
    for item in lineage if isinstance(lineage, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("id"), str) or not isinstance(item.get("run_id"), str):
            continue
        did, drun = item["id"], item["run_id"]
        if drun not in tags_of:
            try:
                tags_of[drun] = tracker._store.data(drun)[0]
            except ResourceNotFoundError:
                logger.warning("dataset version %r: run %s is gone; it is not logged as a dataset input", did, drun)
                tags_of[drun] = {}
        hexsha = tracker._value(drun, keys.key(did, "hexsha"), tags_of[drun])
        if hexsha is None or str(hexsha) == "":
            continue  # no version-control info: nothing identifies the data
        uri = tracker._value(drun, keys.key(did, "uri"), tags_of[drun])
        record = native.dataset_record(did, str(hexsha), None if uri is None else str(uri))
        if len(record.name) > keys.MAX_DATASET_NAME_LENGTH or len(record.source) > keys.MAX_DATASET_SOURCE_LENGTH:
            logger.warning("dataset version %r: its id or URI is too long for an MLflow dataset; not logged as "
                           "a dataset input", did)
            continue
        records.append(record)
    if not records:
        return
    for target in [run_id] + _experiment_runs(tracker, rid, run_id):
        tracker._store.log_inputs(target, records)


# -- the workflow run's description -------------------------------------------------------------
def lineage_pages(tracker: TrackerView) -> list[tuple[str, str]]:
    """``(model version id, run id)`` of each lineage page ``stop()`` draws again: the model versions
    with lineage in this run, then those of other runs that prediction jobs here used."""
    workflow = tracker.run.info.run_id
    run = tracker._store.snapshot(workflow)
    own = [(rid, workflow) for rid in (_resource_ids(tracker, run) if run is not None else [])
           if run is not None and run.data.tags.get(keys.key(rid, keys.LINEAGE_FLAG)) == "True"]
    return own + [pair for pair in tracker._linked_model_versions if pair not in own]


def _resource_ids(tracker: TrackerView, run: Run) -> list[str]:
    """The resources a run records, by the reading side's rule (no request)."""
    return StoreReader(tracker.client).resource_ids(run)


def summary(tracker: TrackerView, statuses: Mapping[str, str]) -> _run_note.Summary:
    """What the workflow run recorded, from what the tracker holds (no request)."""
    workflow = tracker.run.info.run_id
    held = tracker._store.held_runs(statuses)
    run = held[workflow]
    tags = run.data.tags
    eid = tracker.experiment_id

    def value(rid: str, key: str) -> Any:
        return tracker._value(workflow, keys.key(rid, key), tags)

    out = _run_note.Summary(tracker.experiment_name, eid, workflow, run.info.status)
    winners: set[str] = set()
    for rid in _resource_ids(tracker, run):
        rtype = value(rid, "type")
        details: list[str] = []
        status = value(rid, "status")
        if status is not None:
            details.append(f"status **{md(str(status))}**")
        winner = value(rid, keys.WINNER_KEY)
        if isinstance(winner, str) and keys.is_experiment_id(winner):
            winners.add(winner)
            wrun = keys.split_experiment_id(winner)[0]
            name = held[wrun].info.run_name if wrun in held else wrun[:8]
            details.append(f"winning experiment [{md(name or wrun[:8])}]({run_link(eid, wrun)})")
        if tags.get(keys.key(rid, keys.LINEAGE_FLAG)) == "True":
            path = native.page_path(rid)
            details.append(f"lineage page [{code(path)}]({run_link(eid, workflow, path)})")
        hexsha = value(rid, "hexsha")
        if hexsha is not None:
            details.append(f"hexsha {code(str(hexsha)[:12])}")
        parent_id, parent_run = value(rid, "parent_id"), value(rid, "parent_run_id")
        if parent_id is not None and parent_run is not None:
            where = "this run" if parent_run == workflow else f"run {code(str(parent_run))}"
            details.append(f"from {code(str(parent_id))} in {where}")
        out.resources.append(_run_note.Resource(rid, None if rtype is None else str(rtype), details))
    for run_id, nested in held.items():
        if nested.data.tags.get(keys.RESOURCE_TYPE_TAG) != keys.EXPERIMENT:
            continue
        exp_id = keys.experiment_id(run_id, nested.data.tags.get(keys.PARENT_ID_TAG, ""))
        out.experiments.append((nested.info.run_name or run_id[:8], run_id, nested.info.status, exp_id in winners))
    return out


def write_note(tracker: TrackerView, statuses: Mapping[str, str]) -> list[tuple[str, str]]:
    """Hold the workflow run's description (``mlflow.note.content``) back with its other pending
    writes, so the flush at ``stop()`` sends them in one request; returns :func:`lineage_pages`."""
    workflow = tracker.run.info.run_id
    try:
        text = _run_note.render(summary(tracker, statuses))
        tracker._store.write(workflow, lambda tags, params: Batch(tags={keys.MLFLOW_NOTE: text}), defer=True)
    except Exception:  # noqa: BLE001 - a description must never keep a run from ending
        warn_with_traceback(logger, "lolpop: could not write the description of run %s", workflow)
    try:
        return lineage_pages(tracker)
    except Exception:  # noqa: BLE001 - as above
        warn_with_traceback(logger, "lolpop: could not list the lineage pages of run %s", workflow)
        return []


# -- lineage pages ----------------------------------------------------------------------------
def refresh_lineage_pages(tracker: TrackerView, pages: list[tuple[str, str]], reader: HeldRunsReader) -> None:
    """Draw each page of ``pages`` again (everything around the model version, final statuses)
    into the model version's own run, read through ``reader`` (``stop()``'s, holding the final
    statuses; the audit reports read through it next). A model version of another run is drawn
    only when that run has ended (a running one draws its own at its ``stop()``) and has lineage.
    Failures are warnings: the runs end anyway."""
    for mv_id, run_id in pages:
        try:
            run = reader.get_run(run_id)
            if not reader.holds(run_id) and (run.info.status not in TERMINAL
                                             or run.data.tags.get(keys.key(mv_id, keys.LINEAGE_FLAG)) != "True"):
                continue
            log_lineage_page(tracker, Resource(mv_id, run), {}, direction="both", reader=reader)
        except Exception:  # noqa: BLE001 - a picture must never keep a run from ending
            warn_with_traceback(logger, "lolpop: could not redraw the lineage page of %r (run %s)", mv_id, run_id)
