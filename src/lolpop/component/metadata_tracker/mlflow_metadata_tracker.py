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
import os
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from lolpop.store.entities import Run

from lolpop.component.base import ConfLike
from lolpop.component.metadata_tracker import _lifecycle
from lolpop.store._connection import open_store, redact, translating
from lolpop.component.metadata_tracker._lookups import DEPLOYED, Lookups
from lolpop.component.metadata_tracker._registry import ModelRegistry
from lolpop.store._batch import RUN_STATUSES, TERMINAL, Batch, check_key
from lolpop.store._run_store import RunStore
from lolpop.component.metadata_tracker._settings import TrackerSettings
from lolpop.component.metadata_tracker._status_history import StatusHistory
from lolpop.store.who import who
from lolpop.component.metadata_tracker._version_index import VersionIndex
from lolpop.component.metadata_tracker.base_metadata_tracker import BaseMetadataTracker, Resource
from lolpop.exceptions import (
    ArtifactNotFoundError,
    InvalidInputError,
    InvalidKeyError,
    InvalidResourceIdError,
    MetadataConflictError,
    MetadataNotFoundError,
    QuarantinedLineageError,
    QuarantinedLineageWarning,
    ResourceNotFoundError,
    TrackerStoppedError,
    UnsupportedResourceTypeError,
)
from lolpop.component.metadata_tracker import _native
from lolpop.component.metadata_tracker import _audit_report
from lolpop.layout import arguments, events, filters, index, keys, native, quarantine
from lolpop.layout import values as _values
from lolpop.layout.keys import EXPERIMENT, PARENT_RUN_TAG, RUN_ID
from lolpop.component.metadata_tracker._audit_hooks import end_openlineage, start_openlineage
from lolpop.component.metadata_tracker._lineage_hooks import child_of_tags, lineage_of, log_lineage_page, used_by_tags

_RUN_KEYS = ("status", "end_time", "name")
#: Statuses refused on a model version built from a quarantined dataset version (the gate).
_GATED = ("PROMOTED", "DEPLOYED")


class MLFlowMetadataTracker(BaseMetadataTracker):
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
        if "dataset_versions" in items or "parent_id" in items:
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
    # artifacts
    # ------------------------------------------------------------------------------------
    @staticmethod
    def _check_artifact_id(id: Any) -> str:
        if not isinstance(id, str) or not id or id in (".", "..") or "/" in id or "\\" in id or "\x00" in id:
            raise InvalidKeyError(
                f"artifact id must be one non-empty path segment (no '/', '\\\\', '..'), got {id!r:.100}", key=id
            )
        return id

    @translating
    def log_artifact(self, resource: Resource, id: str, path: str, *args: Any, **kwargs: Any) -> None:
        """Store ``path`` at ``<resource id>/<id>/<file name>`` in the resource's run artifacts."""
        self._check_open()
        rid, run_id = self._rid(resource)
        self._check_artifact_id(id)
        if not isinstance(path, (str, os.PathLike)) or not Path(path).exists():
            raise InvalidInputError(f"log_artifact {id!r}: no file or folder at {path!r}", key=id, value=path)
        # The resource's run names its artifact root: no request to look it up.
        repo = self._store.artifacts(run_id, getattr(resource[1].info, "artifact_uri", None))
        if Path(path).is_dir():
            repo.log_artifacts(str(path), f"{rid}/{id}")
        else:
            repo.log_artifact(str(path), f"{rid}/{id}")

    @translating
    def get_artifact(self, resource: Resource, id: str, *args: Any, dst_path: str | None = None,
                     **kwargs: Any) -> str:
        """Download artifact ``id`` (into ``dst_path``, default a fresh temporary folder)."""
        rid, run_id = self._rid(resource)
        self._check_artifact_id(id)
        repo = self._store.artifacts(run_id)
        files = repo.list_artifacts(f"{rid}/{id}")
        if not files:
            known = sorted(Path(f.path).name for f in repo.list_artifacts(rid) if f.is_dir)
            raise ArtifactNotFoundError(
                f"resource {rid!r} (run {run_id}) has no artifact {id!r}; it has: {known or 'none'}",
                key=id, resource_id=rid, run_id=run_id,
            )
        target = dst_path or tempfile.mkdtemp(dir=self._tmp.name)
        try:
            Path(target).mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a local problem, not the store's: name the path
            raise InvalidInputError(f"get_artifact {id!r}: dst_path {str(target)!r} cannot be a folder: "
                                    f"{exc.strerror}", path=str(target)) from exc
        local = Path(repo.download_artifacts(f"{rid}/{id}", target))
        if not local.resolve().is_relative_to(Path(target).resolve()):
            raise InvalidKeyError(f"artifact {id!r} would be written outside {target!r}", key=id)
        entries = list(local.iterdir()) if local.is_dir() else [local]
        if len(entries) == 1 and entries[0].is_file():
            return str(entries[0])
        return str(local)

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
        if parent is not None and type != keys.PREDICTION_JOB:
            # "made from": searchable from the parent (lolpop.layout.keys.CHILD_OF_PREFIX), same request
            also = lambda tags: child_of_tags(rid, parent_id, parent_run_id, tags)  # noqa: E731
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
        mv_id = prediction_job[0].removesuffix("_predictions")
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
        pid = f"{rid}_predictions"
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
        exp_id = self.get_metadata(model_version, keys.WINNER_KEY)
        if not exp_id:
            rid = self.get_resource_id(model_version)
            raise MetadataNotFoundError(f"model version {rid!r} has no {keys.WINNER_KEY}",
                                        resource_id=rid, key=keys.WINNER_KEY)
        return self.get_resource(str(exp_id), type=EXPERIMENT)

    @translating
    def build_model_lineage(self, model_version: Resource, dataset_versions: Sequence[Resource],
                            *args: Any, **kwargs: Any) -> None:
        """Record metadata ``dataset_versions`` = ``[{"id", "run_id"}, ...]``, the searchable tag
        ``<id>.dataset_versions.exists`` and the used-by index ``_lolpop.used_by.<dataset_run_id>.
        <dataset_id>`` in one request; then the dataset versions with version-control info as
        MLflow dataset inputs (context ``training``) of the model version's run and of the
        experiment runs this tracker opened under it (one ``log_inputs`` request per run); then
        the lineage page as artifact ``lineage`` (drawn from what the tracker holds; ``stop()``
        draws it again with the run's final state). With an empty list the previous version's
        lineage is inherited (nothing is written when there is none)."""
        self._check_open()
        rid, run_id = self._rid(model_version, "model_version")
        if not isinstance(dataset_versions, (list, tuple)):
            raise InvalidInputError(
                f"dataset_versions must be a list of resources, got {type(dataset_versions).__name__}",
                resource_id=rid,
            )
        lineage: Any
        if dataset_versions:
            lineage = []
            for i, dv in enumerate(dataset_versions):
                did, drun = self._rid(dv, f"dataset_versions[{i}]")
                lineage.append({"id": did, "run_id": drun})
        else:
            prev = self.get_prev_resource_version(
                model_version, extra_filters=[filters.tag_clause(keys.key(rid, "dataset_versions.exists"), "True")]
            )
            if prev is None:
                self.logger.warning("No previous version of %r has lineage to inherit", rid)
                return
            lineage = self.get_metadata(prev, "dataset_versions")
            if lineage is None:
                return
        def build(tags: dict[str, str], params: dict[str, str]) -> Batch:
            batch = self._encode_items(rid, run_id, {"dataset_versions": lineage, "dataset_versions.exists": "True"},
                                       tags)
            batch.tags.update(used_by_tags(rid, lineage, tags))
            return batch

        self._store.write(run_id, build)
        _native.log_training_inputs(self, rid, run_id, lineage)
        # What the lineage names goes out now (experiments' id tags, batched writes), so readers
        # of the store see the graph the page shows.
        self._store.flush()
        log_lineage_page(self, model_version, self._store.held_runs())

    @translating
    def get_lineage(self, resource: Resource, direction: str = "both", depth: int | None = None,
                    *args: Any, **kwargs: Any) -> Any:
        """The :class:`lolpop.lineage.LineageGraph` of exact resource versions around ``resource``
        (``direction`` ``"both"``/``"upstream"``/``"downstream"``, ``depth`` hops or ``None``)."""
        return lineage_of(self, resource, direction, depth)

    @translating
    def diff(self, a: Resource, b: Resource, *args: Any, **kwargs: Any) -> Any:
        """What changed from model version ``a`` to ``b``: a :class:`lolpop.audit.diff.VersionDiff`
        (rows of section, field, A, B, changed: dataset versions, data artifacts, the winning
        trainer and its params, metrics, vc info, status; ``to_dict()`` is JSON-serialisable)."""
        from lolpop.component.metadata_tracker._audit_hooks import diff_of

        return diff_of(self, a, b)

    @translating
    def get_impact(self, dataset_version: Resource, *args: Any, **kwargs: Any) -> Any:
        """The blast radius of ``dataset_version``: a :class:`lolpop.audit.impact.Impact` with every
        model version built from it (through every hop the lineage records), every prediction job
        that used them, and which model versions are deployed now (the newest version of their id
        whose status is ``DEPLOYED``)."""
        from lolpop.component.metadata_tracker._audit_hooks import impact_of_resource

        return impact_of_resource(self, dataset_version)

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
    # version control
    # ------------------------------------------------------------------------------------
    @translating
    def register_vc_resource(self, resource: Resource, vc_info: dict[str, Any] | None, key: str | None = None,
                             additional_metadata: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        """``vc_info["hexsha"]``/``["uri"]`` go to ``<id>.hexsha``/``<id>.uri`` (or
        ``<id>.<key>_hexsha``/``<id>.<key>_uri``), with ``<id>.exists`` and every item of
        ``additional_metadata``, in one request."""
        rid, run_id = self._rid(resource)
        if vc_info is not None and not isinstance(vc_info, dict):
            raise InvalidInputError(f"vc_info must be a dict or None, got {type(vc_info).__name__}", resource_id=rid)
        if additional_metadata is not None and not isinstance(additional_metadata, dict):
            raise InvalidInputError(
                f"additional_metadata must be a dict, got {type(additional_metadata).__name__}", resource_id=rid
            )
        if key is not None:
            self._check_key(key, "vc key")
        prefix = f"{key}_" if key else ""
        # An experiment's layout-v2 run records its presence in its creation tags.
        owns = self._is_experiment(rid, run_id) and keys.owns_run(self._store.data(run_id)[0], run_id, rid)
        items: dict[str, Any] = {} if owns else {"exists": "True"}
        for field_name in ("hexsha", "uri"):
            if vc_info and vc_info.get(field_name) is not None:
                items[prefix + field_name] = str(vc_info[field_name])
        items.update(additional_metadata or {})
        self._write_metadata(rid, run_id, items)

    @translating
    def get_vc_info(self, resource: Resource, key: str | None = "hexsha", *args: Any, **kwargs: Any) -> dict[str, Any]:
        """``{"hexsha", "uri"}`` recorded under ``key`` (``"train"``, its full form
        ``"train_hexsha"`` as lolpop 0.2.0 needed, or ``"hexsha"``/``None`` for the unkeyed info)."""
        rid, run_id = self._rid(resource)
        if key in (None, "", "hexsha"):
            prefix = ""
        else:
            self._check_key(key, "vc key")
            prefix = f"{key.removesuffix('_hexsha')}_"
        tags, _ = self._store.data(run_id)
        hexsha = self._value(run_id, keys.tag_key(tags, run_id, rid, f"{prefix}hexsha"), tags)
        if hexsha is None:
            raise MetadataNotFoundError(
                f"resource {rid!r} (run {run_id}) has no version-control info under key {key!r}",
                resource_id=rid, run_id=run_id, key=key,
            )
        return {"hexsha": hexsha, "uri": self._value(run_id, keys.tag_key(tags, run_id, rid, f"{prefix}uri"), tags)}

    # ------------------------------------------------------------------------------------
    # data reports: artifacts under fixed ids
    # ------------------------------------------------------------------------------------
    def log_data_profile(self, resource: Resource, file_path: str, *args: Any, **kwargs: Any) -> None:
        """Stored as artifact ``<id>_data_profile``."""
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_data_profile", file_path)

    def get_data_profile(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        return self.get_artifact(resource, id, **kwargs)

    def log_checks(self, resource: Resource, file_path: str, type: str = "data", *args: Any, **kwargs: Any) -> None:
        """Stored as artifact ``<id>_<type>_checks_report``."""
        self._check_key(type, "check type")
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_{type}_checks_report", file_path)

    def get_data_checks(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        return self.get_artifact(resource, id, **kwargs)

    def log_data_comparison(self, resource: Resource, file_path: str, *args: Any, **kwargs: Any) -> None:
        """Stored as artifact ``<id>_data_comparison``."""
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_data_comparison", file_path)

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
        _native.refresh_lineage_pages(self, pages, final)
        _audit_report.write_reports(self, self._statuses.changed, final)
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
            logging.getLogger("lolpop").warning("lolpop: could not remove records left by lost answers",
                                                exc_info=True)
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
