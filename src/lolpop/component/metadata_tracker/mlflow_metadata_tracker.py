"""The MLflow-backed metadata tracker: validates each seed call and maps it onto the run store.

Layers (docs/architecture.md)::

    MLFlowMetadataTracker   validates input, maps resources to tag keys (lolpop.layout)
          │
    RunStore (_run_store)   the only code that talks to MlflowClient: cache, queue, sends
          │
    MlflowClient            SQLite file, tracking server, PostgreSQL + S3

Storage layout (compatible with stores written by lolpop 0.2.0; see :mod:`lolpop.layout`):

* The tracker opens one *workflow run* (tag ``parent_run = True``). Every non-experiment resource
  lives inside it as tags ``<id>.<key>``; ``<id>.exists = True`` marks its presence.
* An experiment resource owns a nested run; its id is ``<nested_run_id>.<parent_id>``.
* Values are their readable text; a few ``_lolpop.types`` tags per run say which are not plain
  strings; long values go to an artifact (see :mod:`lolpop.layout.values`).
* Artifact ``aid`` of resource ``id`` lives at ``<id>/<aid>/<file name>`` in the run's artifacts.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Mapping
from typing import Any

from lolpop.store.entities import Run

from lolpop.component.base import ConfLike
from lolpop.component.metadata_tracker import _lifecycle
from lolpop.store._connection import open_store, redact, translating, warn_with_traceback
from lolpop.component.metadata_tracker._lookups import DEPLOYED, Lookups
from lolpop.component.metadata_tracker._registry import ModelRegistry
from lolpop.store._batch import TERMINAL, Batch, check_key
from lolpop.store._run_store import RunStore
from lolpop.component.metadata_tracker._artifact_methods import ArtifactMethods
from lolpop.component.metadata_tracker._lineage_methods import LineageMethods
from lolpop.component.metadata_tracker._lookup_methods import LookupMethods
from lolpop.component.metadata_tracker._resource_methods import ResourceMethods
from lolpop.component.metadata_tracker._settings import TrackerSettings
from lolpop.component.metadata_tracker._vc_methods import VersionControlMethods
from lolpop.component.metadata_tracker._status_history import StatusHistory
from lolpop.store.who import who
from lolpop.component.metadata_tracker._version_index import VersionIndex
from lolpop.component.metadata_tracker.base_metadata_tracker import BaseMetadataTracker, Resource
from lolpop.exceptions import (
    InvalidInputError,
    InvalidKeyError,
    InvalidResourceIdError,
    MetadataConflictError,
    QuarantinedLineageError,
    QuarantinedLineageWarning,
    ResourceNotFoundError,
    TrackerStoppedError,
)
from lolpop.component.metadata_tracker import _native
from lolpop.component.metadata_tracker import _audit_report
from lolpop.layout import arguments, index, keys, native, quarantine
from lolpop.layout import values as _values
from lolpop.layout.keys import EXPERIMENT, PARENT_RUN_TAG
from lolpop.component.metadata_tracker._audit_hooks import end_openlineage, start_openlineage
from lolpop.component.metadata_tracker._lineage_hooks import HeldRunsReader

#: Statuses refused on a model version built from a quarantined dataset version (the gate).
_GATED = ("PROMOTED", "DEPLOYED")


class MLFlowMetadataTracker(ResourceMethods, ArtifactMethods, LookupMethods, LineageMethods,
                            VersionControlMethods, BaseMetadataTracker):
    """lolpop's metadata tracker on MLflow: resources are runs and namespaced run tags.

    Every method is documented on :class:`BaseMetadataTracker`; this class adds what is
    MLflow-specific.

    Configuration (``conf`` is ``{"config": {...}}``, the flat dict, or a YAML file path):

    * ``mlflow_tracking_uri`` (required): e.g. ``sqlite:///mlflow.db`` or ``http://127.0.0.1:5000``.
    * ``mlflow_experiment_name`` (required): the MLflow experiment holding the workflow runs.
    * ``mlflow_artifact_location`` (optional): artifact root for a *new* experiment; for SQLite
      stores it defaults to ``mlartifacts/`` beside the database file.
    * ``mlflow_write_mode`` (optional): ``"immediate"`` (default) sends every write call as one
      request before it returns. ``"batched"`` holds writes and sends them together — when an
      experiment is cleaned, at ``flush()``/``stop()``/exit/SIGTERM, when a batch is full (100
      entries), and at the latest ``mlflow_flush_seconds`` (default 5) after the oldest held write,
      by a timer: a fraction of the round trips, at the price that a hard kill (SIGKILL, power
      loss) loses the unsent window.
    * ``mlflow_request_timeout`` (optional, seconds, default 30) and ``mlflow_max_retries``
      (optional, default 8): bound every request to an ``http(s)://`` tracking server (tracking,
      registry, proxied artifacts) and the reachability probe at construction: a server that is
      down or never answers raises ``TrackerUnavailableError`` instead of blocking for MLflow's
      20 minutes. Other MLflow clients in the process keep MLflow's own settings.
    * ``mlflow_run_name`` (optional): the workflow run's name in the MLflow UI; default
      ``<mlflow_experiment_name>-<UTC yyyymmdd-HHMMSS>``.
    * ``openlineage_url`` (optional; default ``$OPENLINEAGE_URL``): an OpenLineage HTTP endpoint
      (``http(s)://host:port``) that receives the workflow run's START at construction and its
      COMPLETE / FAIL / ABORT at ``stop()`` (:mod:`lolpop.audit.openlineage`); an endpoint that is
      down is logged and retried at the next event, never a failure.
    * ``mlflow_registry`` (optional, default ``True``): model versions enter MLflow's Model
      Registry at their first status, and each status moves the alias ``lower(status)``
      (:mod:`~lolpop.component.metadata_tracker._registry`); ``False`` for stores without a
      registry. The status and its alias change together: a registry that refuses (a permission:
      ``PermissionDeniedError``) or fails makes the status call raise, having written nothing.
    * ``lolpop_allow_quarantined`` (optional, default ``False``): the gate. Setting status
      ``PROMOTED`` or ``DEPLOYED`` on a model version built (through any number of lineage hops)
      from a quarantined dataset version raises ``QuarantinedLineageError`` and writes nothing;
      ``True`` lets it through, and the status event records the override (the sources it was
      set in spite of).

    Who (status events, quarantine events, ``mlflow.user`` of the runs it creates): the MLflow
    user requests authenticate as on a tracking server (``MLFLOW_TRACKING_USERNAME``, the
    credentials file, or the URI's ``user:password@``), else the OS login.

    What MLflow's own UI shows (DESIGN.md, "MLflow-native records"): run names (an experiment's
    nested run is named by the id given to ``create_resource``), the workflow run's description
    (written at ``stop()``), numeric metadata ``metrics`` as MLflow metrics, and dataset versions
    with version-control info as the dataset inputs of the model versions trained on them.

    Attributes:
        client: the ``MlflowClient`` (always used with explicit run ids).
        run: the workflow run this tracker opened.
        url: the tracking URI.

    Example:
        >>> with MLFlowMetadataTracker(conf={"mlflow_tracking_uri": "sqlite:///mlflow.db",
        ...                                  "mlflow_experiment_name": "churn"}) as t:
        ...     dv = t.create_resource("train.csv", type="dataset_version")
        ...     t.log_metadata(dv, "rows", 1000)
    """

    # One list of keys: the settings object's (the base class warns about any other key).
    __REQUIRED_CONF__ = TrackerSettings.required_config_keys()
    __OPTIONAL_CONF__ = TrackerSettings.optional_config_keys()

    def __init__(self, conf: ConfLike = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(conf, **kwargs)
        #: the configuration, validated and parsed once (:class:`TrackerSettings`; frozen)
        self.settings = TrackerSettings.from_config(self.config, self.name)
        uri, experiment_name = self.settings.tracking_uri, self.settings.experiment_name
        self.url: str = uri
        self._stopped = False
        self.experiment_name: str = experiment_name
        # Model versions of other (finished) runs that a prediction job of this run links to:
        # their lineage pages are refreshed at stop() (an ordered set of (id, run id)).
        self._linked_model_versions: dict[tuple[str, str], None] = {}
        self.user: str = who(uri)
        self._openlineage: Any = None
        self._tmp = tempfile.TemporaryDirectory(prefix="lolpop-")
        self._connect(uri, experiment_name, self.settings.batched, self.settings.flush_seconds,
                      self.settings.run_name or native.workflow_run_name(experiment_name))
        _lifecycle.register(self)
        self._openlineage = start_openlineage(self, self.settings.openlineage_url)

    @translating
    def _connect(self, uri: str, experiment_name: str, batched: bool, flush_seconds: float,
                 run_name: str) -> None:
        # The run starts before the experiment's index tag is read (lolpop.layout.index, "Since").
        start_time = int(time.time() * 1000)
        self.client, self.experiment_id, experiment_tags, created = open_store(
            uri, experiment_name, self.settings.artifact_location,
            timeout=self.settings.request_timeout, max_retries=self.settings.max_retries,
        )
        self._store = RunStore(self.client, uri, batched=batched, flush_seconds=flush_seconds,
                               tmp_dir=self._tmp.name, user=self.user)
        self._index = VersionIndex(self._store, self.experiment_id, experiment_tags, seen_at=start_time)
        if created:
            # Exactly one writer creates an experiment, so its index is made here, once: writers
            # starting together never race to build it (lolpop.layout.index, "Where").
            start_time = self._index.create_first()
        self.run: Run = self._store.create_run(self.experiment_id, {PARENT_RUN_TAG: "True"}, run_name,
                                               start_time=start_time)
        self._index.adopt(self.run.info.run_id)
        self._lookups = Lookups(self._store, self.experiment_id, self._index)
        self._registry = ModelRegistry(self._store, enabled=self.settings.registry,
                                       tmp_dir=self._tmp.name, logger=self.logger)
        self._statuses = StatusHistory(self._store, self._registry, self.experiment_id, self.run.info.run_id,
                                       self.user)
        self.logger.info("Using MLflow experiment %r at %s, workflow run %s",
                         experiment_name, redact(uri), self.run.info.run_id)

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        run_id = getattr(getattr(getattr(self, "run", None), "info", None), "run_id", None)
        return f"<{self.name} url={redact(self.url)!r} run={run_id} {state}>"

    def __enter__(self) -> MLFlowMetadataTracker:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop(status="FAILED" if exc_type is not None else "FINISHED")

    # ------------------------------------------------------------------------------------
    # validation and mapping
    # ------------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._stopped:
            raise TrackerStoppedError(
                f"{self.name} was stopped (run {self.run.info.run_id}); create a new tracker to log more",
                run_id=self.run.info.run_id,
            )

    @staticmethod
    def _unpack(resource: Any, what: str = "resource") -> tuple[Any, Run]:
        return arguments.resource_pair(resource, what)

    def _rid(self, resource: Any, what: str = "resource") -> tuple[str, str]:
        """Return ``(resource_id, run_id)`` of a resource, validating both."""
        _, run = self._unpack(resource, what)
        rid = self.get_resource_id(resource)
        if rid in (".", "..") or "\x00" in rid:  # would name a folder outside its artifacts / reach the store
            raise InvalidResourceIdError(f"{what} id {rid!r} cannot be used: it is '.', '..' or holds a NUL",
                                         resource_id=rid)
        return rid, run.info.run_id

    @staticmethod
    def _check_key(key: Any, what: str = "key") -> str:
        if not isinstance(key, str) or not key:
            raise InvalidKeyError(f"{what} must be a non-empty string, got {key!r:.100}", key=key)
        return key

    @staticmethod
    def _is_experiment(rid: str, run_id: str) -> bool:
        return rid.startswith(run_id + ".")

    def _encode_items(self, rid: str, run_id: str, items: Mapping[str, Any], tags: Mapping[str, str]) -> Batch:
        """The batch that stores ``items`` as metadata of ``rid`` in run ``run_id`` holding ``tags``.

        Raises:
            InvalidKeyError: a key is empty or makes a tag key MLflow cannot hold.
            MetadataConflictError: a tag key would also belong to another resource of the run.
            TypeError: a value cannot be stored (the message names the key).
        """
        for key in items:
            self._check_key(key, "metadata id")
        if keys.owns_run(tags, run_id, rid):  # layout v2: the run's own keys are plain
            keys.check_own_keys(rid, items, run_id)
        else:
            for key in items:
                check_key(keys.key(rid, key), f"metadata {key!r} of {rid!r}")
            keys.check_namespace(tags, rid, items, run_id)
        for key in items:
            check_key(keys.tag_key(tags, run_id, rid, key), f"metadata {key!r} of {rid!r}")
        encoded = _values.encode_items(tags, {keys.tag_key(tags, run_id, rid, key): value
                                              for key, value in items.items()})
        return Batch(tags=dict(encoded.tags), uploads=dict(encoded.uploads))

    def _value(self, run_id: str, full_key: str, tags: Mapping[str, str] | None = None) -> Any:
        if tags is None:
            tags, _ = self._store.data(run_id)
        return _values.decode_tag(tags, full_key, lambda path: self._store.big_value(run_id, path))

    def _write_metadata(self, rid: str, run_id: str, items: Mapping[str, Any], *,
                        extra: Batch | None = None, defer: bool | None = None,
                        also: Any = None) -> None:
        """Write ``items`` as metadata of ``rid``. A ``status`` of a model version also writes its
        status event in the same batch, after its registry alias moved (:mod:`._status_history`:
        the two change together, or the call raises having written nothing of the status)."""
        self._check_open()
        change = None
        sets_status = "status" in items and not self._is_experiment(rid, run_id)
        if sets_status:
            self._encode_items(rid, run_id, items, {})  # refuse bad input before the registry hears of it
            # The gate, before the registry hears of it: a refusal writes nothing at all.
            overridden = self._gate(rid, run_id, items)
            change = self._statuses.prepare(rid, run_id, items)
            if change is not None and overridden:
                from lolpop.audit.taint import override_sources

                change.override = override_sources(overridden)

        def build(tags: dict[str, str], params: dict[str, str]) -> Batch:
            batch = self._encode_items(rid, run_id, items, tags)
            if keys.METRICS_ID in items:
                batch.metrics.update(_native.metrics(self, rid, run_id, items[keys.METRICS_ID]))
            if change is not None:
                batch.tags.update(self._statuses.event_tags(change, tags))
            if also is not None:  # tags outside the resource's namespace, from the run's current tags
                batch.tags.update(also(tags))
            return batch.merged(extra) if extra is not None else batch

        with self._statuses.applying(change):  # the alias moves first; it moves back if this block fails
            if sets_status and items["status"] == DEPLOYED:
                # Indexed before the tag is written: a DEPLOYED version is never missing from the index.
                self._index.record(index.DEPLOYED, [(rid, run_id, self._store.get_run(run_id).info.start_time)])
            if change is not None and change.changed_registry:
                defer = False  # batched mode too: the alias already moved, the status goes with it
            self._store.write(run_id, build, defer=defer)

    def _run_as_held(self, run_id: str) -> Any:
        """The run as this tracker holds it (writes not sent yet included), else from the store."""
        return self._store.snapshot(run_id) or self._store.get_run(run_id)

    def _taint(self, rid: str, run_id: str, run: Any = None) -> list[Any]:
        """:func:`lolpop.audit.taint.taint_of` the resource version: its own run as held here, every
        upstream run read fresh from the store (a quarantine another process wrote a moment ago
        counts): one search per lineage hop over this experiment."""
        from lolpop.audit.taint import taint_of
        from lolpop.store.reader import StoreReader

        reader = StoreReader(self.client, [self.experiment_id])
        try:
            return taint_of(reader, rid, run_id, run=run if run is not None else self._run_as_held(run_id))
        finally:
            reader.close()

    def _gate(self, rid: str, run_id: str, items: Mapping[str, Any]) -> list[Any]:
        """The taint findings a ``PROMOTED``/``DEPLOYED`` status of a model version is set in spite
        of (``lolpop_allow_quarantined``), ``[]`` when untainted or not gated.

        Raises:
            QuarantinedLineageError: tainted, and the configuration does not allow it.
        """
        if items.get("status") not in _GATED:
            return []
        run = self._run_as_held(run_id)
        tags = run.data.tags
        rtype = items["type"] if "type" in items else self._value(run_id, keys.key(rid, "type"), tags)
        if rtype != keys.MODEL_VERSION:
            return []
        if keys.LINEAGE_KEY in items or "parent_id" in items:
            # Lineage set in this very call: judge what the version will hold after it.
            from types import SimpleNamespace

            held = {**tags, **self._encode_items(rid, run_id, items, tags).tags}
            run = SimpleNamespace(info=run.info, data=SimpleNamespace(tags=held))
        return self._gate_findings(rid, run_id, items, self._taint(rid, run_id, run))

    def _gate_findings(self, rid: str, run_id: str, items: Mapping[str, Any], findings: list[Any]) -> list[Any]:
        if not findings or self.settings.allow_quarantined:
            if findings:
                self.logger.warning("lolpop_allow_quarantined: status %r of model version %r set in spite of "
                                    "quarantined %s", items["status"], rid, findings[0].source)
            return findings
        first = findings[0]
        more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
        raise QuarantinedLineageError(
            f"status {items['status']!r} of model version {rid!r} (run {run_id}) refused: it was built from "
            f"dataset version {first.dataset_version_id!r} (run {first.run_id}), quarantined by {first.user!r} "
            f"at {first.time:%Y-%m-%d %H:%M:%S} UTC: {first.reason!r}{more}; lift the quarantine or set "
            "lolpop_allow_quarantined: true to override (recorded). Nothing was written.",
            resource_id=rid, run_id=run_id, value=items["status"], dataset_version_id=first.dataset_version_id,
            dataset_run_id=first.run_id, reason=first.reason, findings=tuple(findings),
        )


    # ------------------------------------------------------------------------------------
    # tags and metadata
    # ------------------------------------------------------------------------------------
    @translating
    def log_tag(self, resource: Resource, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        """Set MLflow tag ``<id>.<key>``; strings as they are, other values round-trip typed."""
        rid, run_id = self._rid(resource)
        self._write_metadata(rid, run_id, {key: value})

    @translating
    def get_tag(self, resource: Resource, key: str, *args: Any, **kwargs: Any) -> Any:
        rid, run_id = self._rid(resource)
        self._check_key(key)
        tags, _ = self._store.data(run_id)
        if key == "exists" and keys.owns_run(tags, run_id, rid):  # v2: no tag of its own
            return "True" if keys.has_resource(tags, run_id, rid) else None
        return self._value(run_id, keys.tag_key(tags, run_id, rid, key), tags)

    @translating
    def log_metadata(self, resource: Resource, id: str, data: Any, *args: Any, **kwargs: Any) -> None:
        """Record ``data``; for an ``id`` containing ``"param"`` and a dict, items are also MLflow
        params (plain keys in an experiment's own run, ``<id>.``-prefixed in the workflow run), in
        the same request. Re-logging an identical param is a no-op; a different value raises
        :class:`MetadataConflictError` (``err.key``, ``err.old``, ``err.new``) and writes nothing."""
        rid, run_id = self._rid(resource)
        self._check_key(id, "metadata id")
        if not ("param" in id and isinstance(data, dict)):
            self._write_metadata(rid, run_id, {id: data})
            return
        prefix = "" if self._is_experiment(rid, run_id) else f"{rid}."
        texts = {f"{prefix}{k}": _values.param_text(keys.key(rid, id), v) for k, v in data.items()}
        self._check_open()

        def build(tags: dict[str, str], params: dict[str, str]) -> Batch:
            for pkey, text in texts.items():
                if pkey in params and params[pkey] != text:
                    raise MetadataConflictError(
                        f"param {pkey!r} of run {run_id} is already {params[pkey]!r}; cannot change it "
                        f"to {text!r} (MLflow params are write-once)",
                        key=pkey, run_id=run_id, resource_id=rid, old=params[pkey], new=text,
                    )
            batch = self._encode_items(rid, run_id, {id: data}, tags)
            batch.params = {k: v for k, v in texts.items() if k not in params}
            return batch

        self._store.write(run_id, build)

    @translating
    def get_metadata(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> Any:
        return self.get_tag(resource, id)


    @translating
    def quarantine(self, dataset_version: Resource, reason: str, *args: Any, **kwargs: Any) -> Any:
        """Quarantine one exact dataset version (id and its run): who (this tracker's user), when,
        why. An event in the store (:mod:`lolpop.layout.quarantine`: one new tag on the dataset
        version's own run, one request), never overwriting another. Model versions built from it
        through any number of lineage hops are tainted from now on: ``PROMOTED`` / ``DEPLOYED``
        on them raise :class:`~lolpop.exceptions.QuarantinedLineageError`.

        Returns:
            :class:`lolpop.audit.quarantine.QuarantineResult`: the event, and what it touches
            (every model version and prediction job downstream; ``deployed_now`` lists those
            deployed now, whose status this does *not* change). With OpenLineage configured, an
            event with the ``lolpopQuarantine`` facet is sent (within its deadlines). The
            lineage page of every touched model version that has one is drawn again with the
            new taint state (``redrawn``; one list-artifacts request and one upload each; a
            failure is a logged warning in ``redraw_failures``, never this call's failure).

        Raises:
            InvalidInputError: ``reason`` is not a non-empty string of at most 2000 characters,
                or the resource is an experiment.
            ResourceNotFoundError: the run does not record the dataset version.

        Example:
            >>> result = tracker.quarantine(dv, "labels shifted by one row")
            >>> [m.id for m in result.deployed_now]
            ['churn_model']
        """
        return self._quarantine_event(dataset_version, quarantine.QUARANTINE, quarantine.check_reason(reason, True))

    @translating
    def lift_quarantine(self, dataset_version: Resource, reason: str | None = None, *args: Any,
                        **kwargs: Any) -> Any:
        """End the quarantine of one exact dataset version, as a new event (the history of both
        is kept). A lift of a version that is not quarantined is recorded too (concurrent writers
        never refuse each other); the state is the last event's. Returns and raises as
        :meth:`quarantine`."""
        return self._quarantine_event(dataset_version, quarantine.LIFT, quarantine.check_reason(reason, False))

    def _quarantine_event(self, dataset_version: Resource, action: str, reason: str | None) -> Any:
        self._check_open()
        rid, run_id = self._rid(dataset_version, "dataset_version")
        if self._is_experiment(rid, run_id):
            raise InvalidInputError(f"{rid!r} is an experiment; quarantine applies to dataset versions",
                                    resource_id=rid, run_id=run_id)
        key, text = quarantine.new_event_tag(rid, run_id, action, reason, user=self.user,
                                             writer_run_id=self.run.info.run_id)

        def build(tags: dict[str, str], params: dict[str, str]) -> Batch:
            if tags.get(keys.exists_key(rid)) != "True":
                raise ResourceNotFoundError(f"run {run_id} does not record dataset version {rid!r}",
                                            resource_id=rid, run_id=run_id)
            return Batch(tags={key: text})

        self._store.write(run_id, build, defer=False)  # never held back: other writers gate on it now
        from lolpop.component.metadata_tracker._audit_hooks import quarantine_result

        event = quarantine.events_in({key: text}, run_id)[0]
        # The lineage pages of the touched model versions that have one are drawn again (each in
        # its own run, owned or not): the MLflow UI shows the new taint state.
        result = quarantine_result(self, dataset_version, event,
                                   lambda run: self._store.artifacts(run.info.run_id, run.info.artifact_uri))
        if self._openlineage is not None:
            from lolpop.audit.quarantine import openlineage_event

            self._openlineage.emit(openlineage_event(result, self.experiment_name, self.run.info.run_id))
        return result

    @translating
    def get_taint(self, resource: Resource, *args: Any, **kwargs: Any) -> list[Any]:
        """The quarantined dataset versions ``resource`` (a model version, prediction job or dataset
        version) was built from, through every lineage hop, nearest first: a list of
        :class:`lolpop.audit.taint.TaintFinding` (source id and run id, reason, who, when, path);
        empty when it is not tainted. One search per lineage hop."""
        rid, run_id = self._rid(resource)
        return self._taint(rid, run_id)

    def get_resource_id(self, resource: Resource, *args: Any, **kwargs: Any) -> str:
        if not isinstance(resource, (tuple, list)) or len(resource) != 2:
            raise InvalidInputError(f"resource must be an (id, run) pair, got {resource!r:.200}", value=resource)
        return keys.resource_id(arguments.resource_id(resource[0]))

    @translating
    def get_parent_id(self, resource: Resource, type: str | None = None, *args: Any, **kwargs: Any) -> str | None:
        """For an experiment the part after the run id; otherwise the recorded ``<id>.parent_id``."""
        rid = self.get_resource_id(resource)
        _, run = self._unpack(resource)
        if type == EXPERIMENT or self._is_experiment(rid, run.info.run_id):
            if "." not in rid:
                raise InvalidResourceIdError(f"experiment id {rid!r} is not of the form <run_id>.<parent_id>",
                                             resource_id=rid)
            return keys.split_experiment_id(rid)[1]
        return self._value(run.info.run_id, keys.key(rid, "parent_id"))


    # ------------------------------------------------------------------------------------
    # life cycle
    # ------------------------------------------------------------------------------------
    @translating
    def flush(self) -> None:
        """Send every write still held back (batched mode, new experiments' id tags)."""
        self._store.flush()

    @translating
    def stop(self, *args: Any, status: str = "FINISHED", **kwargs: Any) -> None:
        """End the workflow run and every nested run this tracker left open, with ``status``
        (``"FINISHED"``, ``"FAILED"`` or ``"KILLED"``). Idempotent.

        Before the runs end: the workflow run's description (``mlflow.note.content``) goes out
        with the writes still held back, and the lineage pages of this run's model versions (and
        of other runs' model versions a prediction job here used) are drawn again with the final
        state, and so is the audit report of every model version whose status this tracker set
        (:mod:`._audit_report`). None of these can keep the runs from ending: a failure there is
        logged as a warning.
        With ``FINISHED``, the run's versions then go into the version index
        (:mod:`lolpop.layout.index`) before the run ends; if the store refuses that, ``stop()``
        raises, no run has ended, and it can be called again."""
        if status not in TERMINAL:
            raise InvalidInputError(f"stop status must be one of {sorted(TERMINAL)}, got {status!r}", value=status)
        if self._stopped:
            return
        workflow = self.run.info.run_id
        open_runs = [r for r in self._store.owned_run_ids() if r != workflow and self._store.status(r) not in TERMINAL]
        final = {run_id: status for run_id in open_runs + [workflow]}
        # The description goes out with what is still held back, in the same request.
        pages = _native.write_note(self, final)
        self._store.flush()
        # One reader for the pages and the reports: what they both read is asked once.
        reader = HeldRunsReader(self.client, self._store.held_runs(final), self._store.known_artifacts)
        try:
            _native.refresh_lineage_pages(self, pages, reader)
            _audit_report.write_reports(self, self._statuses.changed, reader)
        finally:
            reader.close()
        if status == "FINISHED":
            # Indexed before the run is FINISHED: a version is never missing from the index. If
            # this fails, no run ends and stop() can be called again.
            self._index.record(index.NEWEST, [(rid, workflow, self.run.info.start_time)
                                              for rid in index.indexed_resource_ids(self._store.data(workflow)[0])])
        for run_id in open_runs + [workflow]:
            self._store.terminate(run_id, status)
        try:
            # A create the server applied after its lost answer was looked up left a second
            # record: remove it (nothing to do, and no request, when no answer was lost).
            self._store.sweep()
        except Exception:  # noqa: BLE001 - the runs have ended; a leftover is logged, not fatal
            warn_with_traceback(logging.getLogger("lolpop"), "lolpop: could not remove records left by lost answers")
        self._stopped = True
        self._store.close()
        end_openlineage(self, self._openlineage, status)

    def load_model(self, model_obj: Any, model_version: Resource, ref_model: Any,
                   pipeline_config: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        """Rebuild a model trainer from what was recorded about ``model_version`` (see
        :mod:`lolpop.component.metadata_tracker._model_loading`): class names are resolved through
        :mod:`lolpop.registry`, never imported from a path read from the store."""
        import warnings

        from lolpop.component.metadata_tracker._model_loading import load_model

        rid, run_id = self._rid(model_version, "model_version")
        findings = self._taint(rid, run_id)
        if findings:
            first = findings[0]
            more = f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""
            warnings.warn(QuarantinedLineageWarning(
                f"model version {rid!r} (run {run_id}) was built from quarantined dataset version "
                f"{first.dataset_version_id!r} (run {first.run_id}): {first.reason!r}{more}", findings), stacklevel=2)
        return load_model(self, model_obj, model_version, ref_model, pipeline_config)
