"""The tracker's side of the version index (:mod:`lolpop.layout.index` explains the format and
why it is safe): writing entries, and reading the index's candidate for a look-up.

Every request goes through the run store. The index run's id is cached with the time just
before it was read (``seen_at``); an entry for a run that started later is written only after
reading the experiment's tag again, which is what keeps the ``since`` rule sound.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lolpop.store.entities import Run
from lolpop.store.entities import MlflowException

from lolpop.store._run_store import RunStore
from lolpop.exceptions import ResourceNotFoundError
from lolpop.layout import index
from lolpop.layout.keys import MLFLOW_NOTE

logger = logging.getLogger("lolpop.version_index")

#: Error codes a log_batch to a deleted run (or to no run at all) gets.
_GONE = frozenset({"INVALID_PARAMETER_VALUE", "INVALID_STATE", "RESOURCE_DOES_NOT_EXIST"})


def _now() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True)
class Indexed:
    """What an index says about one id: ``run`` named by its entry (``None``: the index holds no
    entry for the id), the index's ``since``, the entry's ``step``, and whether the index is
    :func:`~lolpop.layout.index.complete` (then "no entry" means "no such version")."""

    run: Run | None
    since: int
    step: int
    complete: bool


class VersionIndex:
    """The version index of one experiment, for one tracker (thread-safe).

    Args:
        store: the tracker's run store.
        experiment_id: the tracker's experiment.
        experiment_tags: its tags, read no earlier than ``seen_at``.
        seen_at: ms since epoch, taken before ``experiment_tags`` were read.
    """

    def __init__(self, store: RunStore, experiment_id: str, experiment_tags: Mapping[str, str],
                 seen_at: int) -> None:
        self.store = store
        self.experiment_id = experiment_id
        self._index_id = index.index_run_id(experiment_tags)
        self._seen_at = seen_at
        self._since = 0  # the ``since`` of the index this tracker created, if it did
        self._lock = threading.Lock()
        # The workflow run the index rides under (lolpop.layout.index, "Out of sight"); unknown
        # until the tracker's run exists, which is after the first index of an experiment.
        self._parent: str | None = None
        self._created_first: str | None = None

    def adopt(self, workflow_run_id: str) -> None:
        """Nest the index under ``workflow_run_id`` (the tracker's own run) from now on. The first
        index of an experiment was made before that run existed: it is moved under it here (one
        request, once per experiment); every other index write carries the tag at no cost."""
        with self._lock:
            self._parent = workflow_run_id
            first, self._created_first = self._created_first, None
        if first is not None:
            try:
                self.store.log_unowned(first, tags=index.nesting_tags(workflow_run_id))
            except MlflowException as exc:  # only sight is at stake: the next stop() nests it
                logger.info("could not nest version index run %s: %s", first, exc)

    # -- writing -----------------------------------------------------------------------------
    def record(self, kind: str, runs: Iterable[tuple[str, str, int]]) -> None:
        """Index each ``(resource id, run id, start time)`` as ``kind``: one ``log_batch`` (plus,
        rarely, a read of the experiment's tag or the creation of the index run). Raises what
        the store raises: the caller must not let the indexed change happen then."""
        metrics = [e for rid, run_id, start in runs for e in index.entries(kind, rid, run_id, start)]
        if not metrics:
            return
        newest = max(step for _, _, step in metrics)
        with self._lock:
            if self._index_id is None or newest > self._seen_at:
                self._refresh()
            if self._index_id is None:
                self._create()
            # The same request moves the index under this writer's run, so an index of an older
            # store (top-level in the runs list) or one whose workflow run was deleted goes out
            # of sight at the next stop().
            nest = index.nesting_tags(self._parent) if self._parent else None
            try:
                self.store.log_unowned(self._index_id, metrics, tags=nest)
            except MlflowException as exc:
                if exc.error_code not in _GONE or self._alive(self._index_id):
                    raise
                logger.info("version index run %s is gone (%s); starting a new one", self._index_id,
                            exc.error_code)
                self._create()
                self.store.log_unowned(self._index_id, metrics, tags=nest)

    def create_first(self) -> int:
        """Build the index of an experiment this tracker just created (before any run of it can
        have started), marked complete; returns the earliest time a run may start to be indexed
        usably (its ``since``)."""
        with self._lock:
            self._create(complete=True)
            self._created_first = self._index_id
            return max(_now(), self._since)

    def _alive(self, run_id: str) -> bool:
        run = self.store.fetch_run(run_id)
        return run is not None and run.info.lifecycle_stage == "active"

    def _refresh(self) -> None:
        seen_at = _now()
        self._index_id = index.index_run_id(self.store.experiment_tags(self.experiment_id))
        self._seen_at = seen_at

    def _create(self, complete: bool = False) -> None:
        tags = {index.INDEX_RUN_TAG: "True", MLFLOW_NOTE: index.INDEX_RUN_NOTE}
        if complete:
            tags[index.COMPLETE_TAG] = "True"
        if self._parent:
            tags.update(index.nesting_tags(self._parent))
        run = self.store.create_finished_run(self.experiment_id, tags, index.INDEX_RUN_NAME)
        seen_at = _now()
        try:
            self.store.set_experiment_tag(self.experiment_id, index.EXPERIMENT_TAG, run.info.run_id)
        except MlflowException:
            # Another writer named its index at the same moment: PostgreSQL refuses the second
            # insert of a new tag key (MLflow's merge is read-then-insert). Theirs stands.
            seen_at = _now()
            current = index.index_run_id(self.store.experiment_tags(self.experiment_id))
            if current is None or current == run.info.run_id:
                raise
            self._discard(run.info.run_id)
            self._index_id, self._seen_at = current, seen_at
            return
        # Written after the tag took effect: whoever read the tag before still saw the old index,
        # and their versions started before this time (module docstring of lolpop.layout.index).
        self._since = _now() + 1
        self.store.log_unowned(run.info.run_id, tags={index.SINCE_TAG: str(self._since)})
        self._index_id, self._seen_at = run.info.run_id, seen_at
        # Another writer may have named its own index at the same time; the last name stands.
        # A loser deletes its run (nothing in it is needed: ``since`` covers what it would hold).
        seen_at = _now()
        current = index.index_run_id(self.store.experiment_tags(self.experiment_id))
        if current is not None and current != run.info.run_id:
            self._discard(run.info.run_id)
            self._index_id, self._seen_at = current, seen_at

    def _discard(self, run_id: str) -> None:
        """Delete an index run that lost the race to be the experiment's; a user who may not
        delete runs (MLflow's EDIT permission) leaves it, FINISHED and named by nothing."""
        try:
            self.store.delete_run(run_id)
        except MlflowException as exc:
            logger.warning("lolpop: could not delete version index run %s, which lost the race to be the "
                           "experiment's index: %s", run_id, exc)

    # -- reading -----------------------------------------------------------------------------
    def candidate(self, kind: str, resource_id: str, experiment_id: str) -> Indexed | None:
        """What the index of ``experiment_id`` says of ``kind`` of ``resource_id`` (:class:`Indexed`);
        ``None`` when it has no usable answer. Three reads: the experiment, the index run and the
        candidate (two when there is no entry). The caller checks the candidate; a forged entry
        (:func:`lolpop.layout.index.forged`) in this tracker's own experiment retires the index."""
        if index.metric_keys(kind, resource_id) is None:
            return None
        seen_at = _now()
        tags, created = self.store.experiment_facts(experiment_id)
        index_id = index.index_run_id(tags)
        if experiment_id == self.experiment_id:
            with self._lock:
                if seen_at > self._seen_at:
                    self._index_id, self._seen_at = index_id, seen_at
        if index_id is None:
            return None
        run = self.store.fetch_run(index_id)
        if run is None or not index.is_index_run(run, experiment_id):
            return None
        since = index.since(run.data.tags)
        if since is None:
            # Its creator stopped between naming it and writing ``since``: any time from now on
            # is safe (the tag was read before), so write it; this look-up searches either way.
            try:
                self.store.log_unowned(index_id, tags={index.SINCE_TAG: str(_now() + 1)})
            except MlflowException as exc:
                logger.info("could not write the missing since of version index %s: %s", index_id, exc)
            return None
        complete = index.complete(run, created)
        if not index.has_entry(kind, resource_id, run.data.metrics):
            return Indexed(None, since, 0, complete)
        entry = index.pointer(kind, resource_id, run.data.metrics, index.metric_steps(run))
        if entry is None or self.store.owns(entry[0]):  # this tracker's runs are still open: no versions
            return None
        run_id, step = entry
        try:
            candidate = self.store.get_run(run_id)
        except ResourceNotFoundError:
            return None
        if index.forged(candidate, step) and experiment_id == self.experiment_id:
            self.retire(index_id, f"entry {kind} of {resource_id!r} names run {run_id} at step {step}, "
                                  f"but that run started at {candidate.info.start_time}")
        return Indexed(candidate, since, step, complete)

    def retire(self, index_id: str, why: str) -> None:
        """Replace a tampered index by a new one (its entries can never be overtaken: MLflow keeps
        the greatest step). Look-ups search until the new index holds their answers. Best effort:
        a store that refuses leaves the look-ups searching."""
        logger.warning("lolpop: version index run %s holds an entry lolpop did not write (%s); a new "
                       "index replaces it", index_id, why)
        with self._lock:
            try:
                self._refresh()
                if self._index_id == index_id:
                    self._create()
            except MlflowException as exc:
                logger.warning("lolpop: could not replace version index run %s: %s", index_id, exc)
