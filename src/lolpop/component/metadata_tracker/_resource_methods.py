"""The tracker's resource methods: creating a resource (an experiment gets a nested run of its
own; every other resource lives in the workflow run), finding one, updating and cleaning it."""

from __future__ import annotations

from typing import Any

from lolpop.store._connection import translating
from lolpop.store._batch import RUN_STATUSES, TERMINAL, check_key
from lolpop.component.metadata_tracker.base_metadata_tracker import Resource
from lolpop.exceptions import (
    InvalidInputError,
    InvalidResourceIdError,
    ResourceNotFoundError,
)
from lolpop.layout import keys, native
from lolpop.layout import values as _values
from lolpop.layout.keys import EXPERIMENT, RUN_ID
from lolpop.component.metadata_tracker._lineage_hooks import child_of_tags

#: What ``update_resource`` changes on a run the resource owns (anything else is metadata).
_RUN_KEYS = ("status", "end_time", "name")


class ResourceMethods:
    """Resources: create, find, update, clean (part of :class:`MLFlowMetadataTracker`).

    A mixin: it uses the tracker's validation (``_rid``, ``_check_open``), its run store
    (``_store``) and the other state :class:`MLFlowMetadataTracker` sets up; it is not used alone.
    """

    # ------------------------------------------------------------------------------------
    # resources
    # ------------------------------------------------------------------------------------
    def _check_new_id(self, id: Any) -> str:
        if not isinstance(id, str) or not id.strip():
            raise InvalidResourceIdError(f"resource id must be a non-empty string, got {id!r:.100}", resource_id=id)
        rid = keys.resource_id(id)
        if not rid or rid.startswith(keys.RESERVED_PREFIX):
            raise InvalidResourceIdError(
                f"resource id {id!r} is empty or uses the reserved {keys.RESERVED_PREFIX!r} prefix", resource_id=id
            )
        check_key(keys.exists_key(rid), f"resource id {id!r}", InvalidResourceIdError)
        return rid

    @translating
    def create_resource(self, id: str, type: str | None = None, parent: Resource | None = None,
                        *args: Any, **kwargs: Any) -> Resource:
        """An experiment opens a nested run under ``parent``'s run (id ``<nested_run_id>.<parent_id>``);
        any other type lives in the workflow run. ``type``, ``parent`` and extra keyword arguments
        are recorded as metadata, and ``<id>.exists = True`` is set at once."""
        self._check_open()
        if type is not None and not isinstance(type, str):
            raise InvalidInputError(f"resource type must be a string or None, got {type!r:.100}", value=type)
        parent_id = parent_run_id = None
        if parent is not None:
            parent_id, parent_run_id = self._rid(parent, "parent")
        meta: dict[str, Any] = {"exists": "True"}
        if type is not None:
            meta["type"] = type
        if parent is not None:
            meta["parent_id"], meta["parent_run_id"] = parent_id, parent_run_id
        reserved = sorted(set(kwargs) & set(meta))
        if reserved:
            raise InvalidInputError(f"create_resource {id!r}: keyword {reserved[0]!r} is reserved", key=reserved[0])
        meta.update(kwargs)
        if type == EXPERIMENT:
            if parent is None:
                raise InvalidInputError(f"experiment resource {id!r} needs a parent (the model version)",
                                        resource_id=id)
            # Check the id this experiment will have before opening a run for it.
            check_key(keys.exists_key(keys.experiment_id("0" * 32, parent_id)), f"experiment under {parent_id!r}",
                      InvalidResourceIdError)
            keys.check_own_keys(id, kwargs)  # before a run is opened for it
            # Layout v2: the run's own keys are plain, and its creation tags are its structure.
            run = self._store.create_run(self.experiment_id, {
                keys.MLFLOW_PARENT: parent_run_id, keys.RESOURCE_TYPE_TAG: EXPERIMENT,
                keys.PARENT_ID_TAG: parent_id, keys.LAYOUT_TAG: keys.OWN_RUN_LAYOUT,
            }, native.experiment_run_name(id, parent_id))
            rid = keys.experiment_id(run.info.run_id, parent_id)
            if kwargs:
                self._write_metadata(rid, run.info.run_id, dict(kwargs))
            return Resource(rid, run)
        rid = self._check_new_id(id)
        also = None
        if parent is not None:
            # "made from": searchable from the parent (lolpop.layout.keys.CHILD_OF_PREFIX), same request
            job = type == keys.PREDICTION_JOB
            also = lambda tags: child_of_tags(rid, parent_id, parent_run_id, tags, job)  # noqa: E731
        self._write_metadata(rid, self.run.info.run_id, meta, also=also)
        if type == keys.PREDICTION_JOB and parent_run_id is not None and not self._store.owns(parent_run_id):
            self._linked_model_versions[(parent_id, parent_run_id)] = None
        if type == keys.PREDICTION_JOB and parent is not None:
            # MLflow's model lineage: the job's run used the parent's LoggedModel (extra request).
            self._registry.record_model_input(self.run.info.run_id, parent_id, parent_run_id)
        return Resource(id, self.run)

    @translating
    def get_resource(self, id: str, type: str | None, parent: Resource | None = None,
                     *args: Any, **kwargs: Any) -> Resource:
        """An experiment id resolves to its nested run; any other id to this tracker's workflow
        run when created here, else ``parent``'s run when recorded there, else its newest version."""
        if not isinstance(id, str) or not id:
            raise InvalidResourceIdError(f"resource id must be a non-empty string, got {id!r:.100}", resource_id=id)
        if type == EXPERIMENT:
            run_id, _ = keys.split_experiment_id(id)
            if not RUN_ID.match(run_id) or "." not in id:
                raise InvalidResourceIdError(f"experiment id {id!r} is not of the form <run_id>.<parent_id>",
                                             resource_id=id)
            return Resource(id, self._store.get_run(run_id))
        rid = self._check_new_id(id)
        key = keys.exists_key(rid)
        if self._store.data(self.run.info.run_id)[0].get(key) == "True":
            return Resource(id, self.run)
        if parent is not None:
            _, prun = self._unpack(parent, "parent")
            if self._store.data(prun.info.run_id)[0].get(key) == "True":
                return Resource(id, prun)
        newest = self._lookups.newest(rid)
        if newest is None:
            raise ResourceNotFoundError(
                f"resource {id!r} is not recorded in experiment {self.experiment_id} (type={type!r}); "
                "create it with create_resource", resource_id=id,
            )
        return Resource(id, newest)

    @translating
    def update_resource(self, resource: Resource, updates: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """For a resource owning its run (an experiment), ``status`` (an MLflow run status),
        ``end_time`` (ms since epoch) and ``name`` change the run; every other key — and those
        three for resources sharing the workflow run — is recorded as metadata."""
        self._check_open()
        rid, run_id = self._rid(resource)
        if not isinstance(updates, dict):
            raise InvalidInputError(f"updates must be a dict, got {type(updates).__name__}", resource_id=rid)
        run_updates = {k: updates[k] for k in _RUN_KEYS if k in updates} if self._is_experiment(rid, run_id) else {}
        status = run_updates.get("status")
        if status is not None and (not isinstance(status, str) or status.upper() not in RUN_STATUSES):
            raise InvalidInputError(
                f"update_resource {rid!r}: status {status!r} is not an MLflow run status ({', '.join(RUN_STATUSES)})",
                key="status", value=status, resource_id=rid,
            )
        end_time = run_updates.get("end_time")
        if end_time is not None:
            try:
                end_time = _values.epoch_millis(end_time)  # epoch ms, or a datetime (naive = UTC)
            except (TypeError, ValueError) as exc:
                raise InvalidInputError(f"update_resource {rid!r}: end_time {exc}", key="end_time",
                                        value=end_time, resource_id=rid) from None
        name = run_updates.get("name")
        if name is not None and not isinstance(name, str):
            raise InvalidInputError(f"update_resource {rid!r}: name must be a string, got {name!r}",
                                    key="name", value=name, resource_id=rid)
        meta = {k: v for k, v in updates.items() if k not in run_updates}
        if meta:
            self._write_metadata(rid, run_id, meta)
        if run_updates:
            self._store.update_run(run_id, status.upper() if status else None, end_time, name)

    @translating
    def clean_resource(self, resource: Resource, type: str | None = None, *args: Any, **kwargs: Any) -> None:
        """An experiment's nested run ends FINISHED; other resources share the workflow run,
        which ``stop()`` ends, so for them this does nothing."""
        rid, run_id = self._rid(resource)
        if not self._is_experiment(rid, run_id) or self._store.status(run_id) in TERMINAL:
            return
        self._check_open()
        self._store.terminate(run_id, "FINISHED")
