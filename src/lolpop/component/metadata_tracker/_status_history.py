"""Status changes of model versions: the event each one writes, the alias it moves, reading them back.

A status set on a model version (a resource recorded with ``type="model_version"``) is, in order:

1. *before the write*: the registry version of its winning experiment is looked up (registered
   then if needed, :mod:`._registry`), so the event can name it;
2. *the write*: the ``<id>.status`` tag and one event tag (:mod:`lolpop.layout.events`) go in the
   same ``log_batch`` — an event is never recorded without its status, nor the reverse;
3. *after the write*: the alias of the new status moves to the registry version.

In batched mode the status and its event wait together for the next flush; the registry requests
are made at the call.

Reading: the events of every run holding a version of the model id in the tracker's MLflow
experiment, whatever the run's state, with this tracker's own not-yet-sent writes included.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lolpop.component.metadata_tracker._registry import ModelRegistry, RegistryVersion
from lolpop.component.metadata_tracker._run_store import RunStore
from lolpop.layout import events, filters, keys
from lolpop.layout import values as _values

_MLFLOW_USER = "mlflow.user"


@dataclass
class StatusChange:
    """One status set on a model version, between its preparation and its write."""

    model_version_id: str
    run_id: str
    new_status: Any
    version: RegistryVersion | None
    old_status: Any = None


def writer_name(workflow_tags: Mapping[str, str]) -> str:
    """Who writes: the workflow run's ``mlflow.user``, else the login name as MLflow itself uses."""
    user = workflow_tags.get(_MLFLOW_USER)
    if user:
        return user
    try:
        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return "unknown"


class StatusHistory:
    """Prepares, records and reads status events for one tracker.

    Args:
        store: the run store.
        registry: the model registry mapping.
        experiment_id: the MLflow experiment whose runs hold the history.
        writer_run_id: the tracker's workflow run (recorded in each event).
        user: recorded in each event as its writer.
    """

    def __init__(self, store: RunStore, registry: ModelRegistry, experiment_id: str, writer_run_id: str,
                 user: str) -> None:
        self.store = store
        self.registry = registry
        self.experiment_id = experiment_id
        self.writer_run_id = writer_run_id
        self.user = user

    def _decoded(self, run_id: str, tags: Mapping[str, str], key: str) -> Any:
        return _values.decode_tag(tags, key, lambda path: self.store.big_value(run_id, path))

    def prepare(self, resource_id: str, run_id: str, items: Mapping[str, Any]) -> StatusChange | None:
        """A :class:`StatusChange` when ``items`` set the status of a model version, else ``None``."""
        if "status" not in items:
            return None
        tags, _ = self.store.data(run_id)
        rtype = items["type"] if "type" in items else self._decoded(run_id, tags, keys.key(resource_id, "type"))
        if rtype != keys.MODEL_VERSION:
            return None
        winner_key = keys.WINNER_KEY
        winner = items[winner_key] if winner_key in items else \
            self._decoded(run_id, tags, keys.key(resource_id, winner_key))
        version = self.registry.version_for(resource_id, run_id, winner)
        return StatusChange(resource_id, run_id, items["status"], version)

    def event_tags(self, change: StatusChange, tags: Mapping[str, str]) -> dict[str, str]:
        """The event tag of ``change`` for a run currently holding ``tags`` (called under the run's
        write lock, so the old status is the one this write replaces)."""
        change.old_status = self._decoded(change.run_id, tags, keys.key(change.model_version_id, "status"))
        key, text = events.new_event_tag(
            change.model_version_id, change.run_id, change.old_status, change.new_status,
            registry_version=int(change.version.version) if change.version is not None else None,
            user=self.user, writer_run_id=self.writer_run_id,
        )
        return {key: text}

    def written(self, change: StatusChange) -> None:
        """After the status is stored: move the registry alias."""
        if change.version is not None:
            self.registry.move_alias(change.version, change.new_status, change.old_status)

    def history(self, model_id: str) -> list[events.StatusEvent]:
        """Every status event of every version of ``model_id``, oldest first."""
        runs = {r.info.run_id: r for r in self.store.search_all(
            [self.experiment_id], filters.combine(events.history_clauses(model_id), None))}
        found: list[events.StatusEvent] = []
        exists = keys.exists_key(model_id)
        owned = [r for r in self.store.owned_run_ids() if r not in runs]
        for run_id in list(runs) + owned:
            if self.store.owns(run_id):
                tags, _ = self.store.data(run_id)  # includes writes not sent yet
                if tags.get(exists) != "True":
                    continue
            else:
                tags = runs[run_id].data.tags
            found.extend(events.events_in(tags, run_id, model_id))
        return events.ordered(found)
