"""The tracker's look-ups: earlier versions, the deployed version, a prediction job's model
version, the newest prediction job, the winning experiment and the status history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lolpop.store._connection import translating
from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.exceptions import (
    InvalidInputError,
    InvalidResourceIdError,
    MetadataNotFoundError,
    UnsupportedResourceTypeError,
)
from lolpop.layout import events, keys
from lolpop.layout.keys import EXPERIMENT


class LookupMethods:
    """Look-ups of versions, deployments and status history (part of :class:`MLFlowMetadataTracker`).

    A mixin: it uses the tracker's validation (``_rid``, ``_check_open``), its run store
    (``_store``) and the other state :class:`MLFlowMetadataTracker` sets up; it is not used alone.
    """

    # ------------------------------------------------------------------------------------
    # look-ups
    # ------------------------------------------------------------------------------------
    @translating
    def get_prev_resource_version(self, resource: Resource, extra_filters: Sequence[str] | None = None,
                                  num: int = 1, *args: Any, **kwargs: Any) -> Any:
        """The same id in earlier FINISHED workflow runs of the same MLflow experiment, newest first;
        ``extra_filters`` are MLflow search clauses, each checked before anything is sent."""
        _, run = self._unpack(resource)
        rid = self.get_resource_id(resource)
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            raise InvalidInputError(f"num must be a positive int, got {num!r}", value=num)
        before = self._store.get_run(run.info.run_id)
        if num == 1 and (extra_filters is None or isinstance(extra_filters, (list, tuple)) and not extra_filters):
            newest = self._lookups.newest(rid, before=before)
            return Resource(resource[0], newest) if newest is not None else None
        runs = self._lookups.search(rid, num, extra_filters, before=before)
        if not runs:
            return None
        return Resource(resource[0], runs[0]) if num == 1 else (resource[0], runs)

    @translating
    def get_currently_deployed_model_version(self, model_version: Resource, *args: Any,
                                             **kwargs: Any) -> Resource | None:
        """The newest earlier version whose ``status`` is ``DEPLOYED`` (strictly), or ``None``."""
        _, run = self._unpack(model_version, "model_version")
        rid = self.get_resource_id(model_version)
        found = self._lookups.newest(rid, before=self._store.get_run(run.info.run_id), deployed=True)
        return Resource(model_version[0], found) if found is not None else None

    @translating
    def get_prediction_job_model_version(self, prediction_job: Resource | str, *args: Any, **kwargs: Any) -> Resource:
        """The model version a prediction job used, with the run it was trained in (the recorded
        parent); for jobs recorded without one (lolpop 0.2.0), the id without ``_predictions``
        and the job's own run."""
        if isinstance(prediction_job, str):
            prediction_job = self.get_resource(prediction_job, type=keys.PREDICTION_JOB)
        rid, run_id = self._rid(prediction_job, "prediction_job")
        tags, _ = self._store.data(run_id)
        parent_id = self._value(run_id, keys.key(rid, "parent_id"), tags)
        parent_run_id = self._value(run_id, keys.key(rid, "parent_run_id"), tags)
        if parent_id and parent_run_id:
            return Resource(parent_id, self._store.get_run(parent_run_id))
        mv_id = prediction_job[0].removesuffix(keys.PREDICTIONS_SUFFIX)
        return Resource(mv_id, prediction_job[1])

    @translating
    def get_latest_model_resource(self, model: Resource, type: str, *args: Any, **kwargs: Any) -> Resource | None:
        """The newest ``<model id>_predictions`` of FINISHED workflow runs up to the model's own, for
        ``type="prediction_job"``; other types raise :class:`UnsupportedResourceTypeError`."""
        rid = self.get_resource_id(model)
        if type != keys.PREDICTION_JOB:
            raise UnsupportedResourceTypeError(
                f"get_latest_model_resource supports type='prediction_job', not {type!r}", value=type
            )
        pid = keys.prediction_job_id(rid)
        _, run = self._unpack(model, "model")
        # The model's own run counts: lolpop 0.2.0 pipelines predict in the run that trained.
        found = self._lookups.newest(pid, before=self._store.get_run(run.info.run_id), include_before=True)
        return Resource(pid, found) if found is not None else None

    # ------------------------------------------------------------------------------------
    # deployment history
    # ------------------------------------------------------------------------------------
    def _model_id(self, model: Resource | str) -> str:
        if isinstance(model, str):
            if not model:
                raise InvalidResourceIdError("model id must be a non-empty string", resource_id=model)
            return keys.resource_id(model)
        return self.get_resource_id(model)

    @translating
    def get_status_history(self, model: Resource | str, *args: Any, **kwargs: Any) -> list[events.StatusEvent]:
        """Every status set on any version of a model, oldest first.

        Args:
            model: a model version resource, or its id.

        Returns:
            :class:`lolpop.layout.events.StatusEvent` list (time, model version id, its run id,
            registry version, old and new status, user, writing workflow run), from every run of
            this MLflow experiment holding a version of the id, whatever process wrote them. A version
            an older lolpop wrote (a ``status`` tag, no events) shows as one event with
            ``inferred=True``: no user, the run's end time (:func:`lolpop.layout.events.history_in`).

        Example:
            >>> [(e.old_status, e.new_status) for e in tracker.get_status_history("churn_model")]
            [(None, 'PROMOTED'), ('PROMOTED', 'DEPLOYED')]

        The list is a :class:`lolpop.audit.StatusHistory`: a notebook shows it as a table.
        """
        from lolpop.audit.deployments import StatusHistory

        return StatusHistory(self._statuses.history(self._model_id(model)))

    @translating
    def get_deployed_at(self, model: Resource | str, when: datetime, *args: Any,
                        **kwargs: Any) -> list[events.StatusEvent]:
        """What was ``DEPLOYED`` at ``when``: the versions of the model whose status at that moment
        was ``DEPLOYED``, each as the event that deployed it, most recently deployed first (empty
        when none). A naive ``when`` is taken as UTC.

        Example:
            >>> tracker.get_deployed_at("churn_model", datetime(2026, 11, 1, 12, 0))[0].run_id
            '3f2c...'
        """
        if not isinstance(when, datetime):
            raise InvalidInputError(f"when must be a datetime, got {type(when).__name__}", value=when)
        return events.holding_at(self.get_status_history(model), when, events.DEPLOYED)

    @translating
    def get_winning_experiment(self, model_version: Resource, *args: Any, **kwargs: Any) -> Resource:
        """The experiment recorded as the model version's winner (``winning_experiment_id``).

        Raises:
            MetadataNotFoundError: no winner was recorded.
        """
        exp_id = self.get_metadata(model_version, keys.WINNER_KEY)
        if not exp_id:
            rid = self.get_resource_id(model_version)
            raise MetadataNotFoundError(f"model version {rid!r} has no {keys.WINNER_KEY}",
                                        resource_id=rid, key=keys.WINNER_KEY)
        return self.get_resource(str(exp_id), type=EXPERIMENT)
