"""Deployment history from a store: the status events of a model's versions, and what was
deployed when (the reading twin of ``MLFlowMetadataTracker.get_status_history`` /
``get_deployed_at``, by the same rules of :mod:`lolpop.layout.events`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lolpop.exceptions import InvalidInputError
from lolpop.layout import arguments, events
from lolpop.layout.events import StatusEvent
from lolpop.layout.keys import resource_id

#: Shown for the user of an inferred event (nobody was recorded); its time is shown with "≈".
INFERRED_USER = "(inferred: not recorded)"

#: Runs read per look-up (MLflow's largest page); a model with more versions reads the newest.
MAX_RUNS = 50000


class StatusHistory(list):  # type: ignore[type-arg]
    """A list of :class:`~lolpop.layout.events.StatusEvent` (what :func:`status_history` and
    :func:`deployed_at` return) that Jupyter shows as a table. It is a plain ``list`` otherwise:
    indexing, ``==`` with a list, JSON (:func:`to_json`) work as before."""

    def _repr_html_(self) -> str:
        from lolpop.lineage.render import html_table

        rows = [(("≈ " if e.inferred else "") + f"{e.time:%Y-%m-%d %H:%M:%S.%f}"[:-3], e.model_version_id, e.run_id,
                 "" if e.registry_version is None else f"v{e.registry_version}",
                 "—" if e.old_status is None else e.old_status, e.new_status,
                 INFERRED_USER if e.inferred else e.user) for e in self]
        return html_table(f"{len(self)} status change(s)",
                          ["time (UTC)", "model version", "version run id", "registry", "old", "new", "user"], rows)


def status_history(reader: Any, model_id: str) -> StatusHistory:
    """Every status event of every version of ``model_id`` in the reader's experiments, oldest first,
    with those inferred for versions written before status events existed (``inferred=True``,
    :func:`lolpop.layout.events.history_in`).

    Args:
        reader: a :class:`~lolpop.store.reader.StoreReader`.
        model_id: the model (version) resource id.

    Example:
        >>> [e.new_status for e in status_history(reader, "breast_cancer_model")]
        ['PROMOTED', 'DEPLOYED', 'PROMOTED', 'DEPLOYED']
    """
    rid = resource_id(arguments.resource_id(model_id, "model id"))
    # Our own clauses, each quoted by filters.tag_clause: nothing to check, so they are joined
    # as they are. user_filters.combine would parse them with MLflow's search parser, which imports
    # all of MLflow (about 1.3 s) in a command that otherwise reads the store without it.
    runs = reader.search(" and ".join(events.history_clauses(rid)), max_results=MAX_RUNS)
    found: list[StatusEvent] = []
    for run in runs:
        found.extend(events.history_in(run.data.tags, run.info.run_id, rid, run.info.start_time, run.info.end_time))
    return StatusHistory(events.ordered(found))


def version_history(run: Any, model_id: str) -> StatusHistory:
    """The status events of one version of ``model_id``, read from its own ``run`` (no request),
    oldest first: what :func:`status_history` finds for that run. Events are stored on the
    version's run (:mod:`lolpop.layout.events`), so one version's history needs no search of
    every version's run, which grows with the model's history."""
    rid = resource_id(arguments.resource_id(model_id, "model id"))
    return StatusHistory(events.history_in(run.data.tags, run.info.run_id, rid, run.info.start_time,
                                           run.info.end_time))


def deployed_at(reader: Any, model_id: str, when: datetime) -> StatusHistory:
    """The versions of ``model_id`` whose status at ``when`` was ``DEPLOYED``, most recently
    deployed first, each as the event that deployed it (naive ``when``: UTC)."""
    return StatusHistory(events.holding_at(status_history(reader, model_id), when, events.DEPLOYED))


def parse_when(text: str) -> datetime:
    """An ISO 8601 moment (``2026-11-01T12:00``, ``2026-11-01 12:00:00+01:00``, ``2026-11-01``) as
    aware UTC; without an offset it is UTC, as the CLI prints times.

    Raises:
        InvalidInputError: not an ISO 8601 date or time.
    """
    try:
        return events.as_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except (ValueError, AttributeError) as exc:
        raise InvalidInputError(f"--at {text!r} is not an ISO 8601 time such as 2026-11-01T12:00",
                                value=text) from exc


def to_json(found: Sequence[StatusEvent]) -> str:
    """The events as a JSON list of :meth:`StatusEvent.to_dict` objects."""
    # ASCII only, as lolpop diff's JSON: json.dumps escapes C0 controls but would print a stored
    # C1 control (\x9b, a terminal's CSI) raw; as \u escapes no stored text reaches the terminal.
    return json.dumps([e.to_dict() for e in found], indent=2, ensure_ascii=True, default=str)
