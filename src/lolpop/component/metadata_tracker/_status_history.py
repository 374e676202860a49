"""Status changes of model versions: the event each one writes, the alias it moves, reading them back.

A status set on a model version (a resource recorded with ``type="model_version"``) is, in order:

1. *the registry, before anything of the status is written* (:mod:`._registry`): the registry
   version of its winning experiment is looked up, registered then if needed; then, under this
   tracker's status lock, the alias of the new status is moved to it (the alias of the old status
   dropped from it), or — for a model version without a registry version — removed from the
   older version holding it. Any failure raises here (a refusal by the server's permissions as
   :class:`~lolpop.exceptions.PermissionDeniedError` naming the registered model), having removed
   what the attempt created: nothing of the status is written;
2. *the version index*: a ``DEPLOYED`` status is indexed (:mod:`._version_index`) before its tag,
   so a deployed version is never missing from the index;
3. *the write*: the ``<id>.status`` tag and one event tag (:mod:`lolpop.layout.events`) go in the
   same ``log_batch`` — an event is never recorded without its status, nor the reverse;
4. *the model card*: once the write succeeded, the registry version's description is rewritten
   with the new status (:mod:`._model_card`; one ``update_model_version``, a failure is a warning).

If step 2 or 3 fails, the alias moves of step 1 are undone and a registry version made in it is
removed; the error is raised. An index entry written in step 2 before step 3 failed stays: the
index is verified before it is believed (a candidate whose status is not ``DEPLOYED`` sends the
look-up to the search), so it costs speed, never a wrong answer. So lolpop's status and the
registry alias change together; the one case left is an undo refused too (say the status write
failed and the user may set aliases but not remove them): a warning then names the alias and the
version it still names, and so does a note on the raised error — never silent.

In batched mode a status whose alias moved is sent at once (not held for the next flush), so the
two still change together; a status that changes nothing in the registry waits with its event for
the next flush as any other write.

Reading: the events of every run holding a version of the model id in the tracker's MLflow
experiment, whatever the run's state, with this tracker's own not-yet-sent writes included.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from lolpop.component.metadata_tracker import _model_card
from lolpop.component.metadata_tracker._registry import AliasMove, ModelRegistry, Registration, RegistryVersion
from lolpop.store import user_filters
from lolpop.store._run_store import RunStore
from lolpop.layout import events, keys
from lolpop.layout import values as _values

@dataclass
class StatusChange:
    """One status set on a model version, from its preparation to its write."""

    model_version_id: str
    run_id: str
    new_status: Any
    registration: Registration | None
    old_status: Any = None
    aliases: AliasMove | None = None
    #: the quarantined sources this status is set in spite of (``lolpop_allow_quarantined``)
    override: list[dict[str, Any]] = field(default_factory=list)

    @property
    def version(self) -> RegistryVersion | None:
        return self.registration.version if self.registration is not None else None

    @property
    def changed_registry(self) -> bool:
        """Whether the registry was changed for it (an alias moved, a version registered)."""
        return bool(self.aliases is not None and self.aliases.steps) or \
            bool(self.registration is not None and self.registration.created)

    def what(self) -> str:
        return f"status {self.new_status!r} of model version {self.model_version_id!r} not recorded"


class StatusHistory:
    """Prepares, records and reads status events for one tracker.

    Args:
        store: the run store.
        registry: the model registry mapping.
        experiment_id: the MLflow experiment whose runs hold the history.
        writer_run_id: the tracker's workflow run (recorded in each event).
        user: recorded in each event as its writer (the MLflow user, else the OS login: ``lolpop.store.who``).
    """

    def __init__(self, store: RunStore, registry: ModelRegistry, experiment_id: str, writer_run_id: str,
                 user: str) -> None:
        self.store = store
        self.registry = registry
        self.experiment_id = experiment_id
        self.writer_run_id = writer_run_id
        self.user = user
        # One status change of this tracker at a time, from reading the old status to its write:
        # the alias moved is the one of the status the write replaces.
        self._lock = threading.RLock()
        #: (model version id, run id) -> its registry version (or None) of every status this
        #: tracker set: their audit reports are written again at stop().
        self.changed: dict[tuple[str, str], RegistryVersion | None] = {}

    def _decoded(self, run_id: str, tags: Mapping[str, str], key: str) -> Any:
        return _values.decode_tag(tags, key, lambda path: self.store.big_value(run_id, path))

    def prepare(self, resource_id: str, run_id: str, items: Mapping[str, Any]) -> StatusChange | None:
        """A :class:`StatusChange` when ``items`` set the status of a model version, else ``None``;
        its winning experiment is registered now if needed.

        Raises:
            LolpopError: the registry refused or failed (see :mod:`._registry`); nothing written.
        """
        if "status" not in items:
            return None
        tags, _ = self.store.data(run_id)
        rtype = items["type"] if "type" in items else self._decoded(run_id, tags, keys.key(resource_id, "type"))
        if rtype != keys.MODEL_VERSION:
            return None
        winner_key = keys.WINNER_KEY
        winner = items[winner_key] if winner_key in items else \
            self._decoded(run_id, tags, keys.key(resource_id, winner_key))
        change = StatusChange(resource_id, run_id, items["status"], None)
        change.registration = self.registry.version_for(resource_id, run_id, winner, change.what())
        return change

    @contextmanager
    def applying(self, change: StatusChange | None) -> Iterator[None]:
        """Move the registry alias of ``change``, then run the block (the index entry and the
        status write); if the alias cannot move, raise before the block; if the block raises,
        move the alias back and remove a registry version made for ``change``."""
        if change is None:
            yield
            return
        with self._lock:
            tags, _ = self.store.data(change.run_id)
            change.old_status = self._decoded(change.run_id, tags, keys.key(change.model_version_id, "status"))
            try:
                if change.version is not None:
                    change.aliases = self.registry.move_alias(change.version, change.new_status, change.old_status,
                                                              change.what())
                else:
                    change.aliases = self.registry.clear_alias(change.model_version_id, change.new_status,
                                                               change.what())
            except BaseException:
                if change.registration is not None:
                    self.registry.discard(change.registration)
                raise
            try:
                yield
            except BaseException as exc:
                left = self.registry.undo(change.aliases)
                if change.registration is not None:
                    self.registry.discard(change.registration)
                if left:
                    exc.add_note(f"lolpop: {change.what()}, and the registry could not be put back: "
                                 + "; ".join(left))
                raise
            if change.version is not None:
                self._write_card(change)

    def _write_card(self, change: StatusChange) -> None:
        """The registry version's model card, with the status just written (after the write, so
        it never shows a status that was not recorded; read from what the tracker holds)."""
        assert change.version is not None
        try:
            tags, _ = self.store.data(change.run_id)
            card = _model_card.build(change.model_version_id, change.run_id, self.experiment_id, tags,
                                     self._decoded, self._run_of)
        except Exception as exc:  # noqa: BLE001 - the card describes the status, it never fails it
            self.registry.warn(f"building the model card of {change.model_version_id!r}", exc)
            return
        self.registry.describe(change.version, card)

    def _run_of(self, run_id: str) -> Any:
        return self.store.snapshot(run_id) or self.store.get_run(run_id)

    def event_tags(self, change: StatusChange, tags: Mapping[str, str]) -> dict[str, str]:
        """The event tag of ``change`` for a run currently holding ``tags`` (called under the run's
        write lock, so the old status is the one this write replaces)."""
        change.old_status = self._decoded(change.run_id, tags, keys.key(change.model_version_id, "status"))
        self.changed[(change.model_version_id, change.run_id)] = change.version
        key, text = events.new_event_tag(
            change.model_version_id, change.run_id, change.old_status, change.new_status,
            registry_version=int(change.version.version) if change.version is not None else None,
            user=self.user, writer_run_id=self.writer_run_id, override=change.override,
        )
        return {key: text}

    def history(self, model_id: str) -> list[events.StatusEvent]:
        """Every status event of every version of ``model_id``, oldest first (with those inferred for
        versions an older lolpop wrote: :func:`lolpop.layout.events.history_in`)."""
        runs = {r.info.run_id: r for r in self.store.search_all(
            [self.experiment_id], user_filters.combine(events.history_clauses(model_id), None))}
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
            info = runs[run_id].info if run_id in runs else None
            found.extend(events.history_in(tags, run_id, model_id, info and info.start_time, info and info.end_time))
        return events.ordered(found)
