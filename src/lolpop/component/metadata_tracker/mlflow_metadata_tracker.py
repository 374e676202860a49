"""The MLflow-backed metadata tracker.

Storage layout (compatible with stores written by lolpop 0.2.0):

* The tracker opens one *workflow run* (tag ``parent_run = True``). Every non-experiment resource
  lives inside it as tags ``<id>.<key>``; ``<id>.exists = True`` marks its presence.
* An experiment resource owns a nested run; its id is ``<nested_run_id>.<parent_id>``.
* Non-string values are JSON with a marker tag; long values go to an artifact (see ``_values``).
* Artifact ``aid`` of resource ``id`` lives at ``<id>/<aid>/<file name>`` in the run's artifacts.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlflow.entities import Param, Run, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import (
    MAX_PARAM_VAL_LENGTH,
    MAX_PARAMS_TAGS_PER_BATCH,
    _validate_tag_name,
)

from lolpop.component.base import ConfLike
from lolpop.component.metadata_tracker._connection import artifact_repository, open_store, redact, translating
from lolpop.component.metadata_tracker.base_metadata_tracker import BaseMetadataTracker, Resource
from lolpop.layout import filters as _filters
from lolpop.layout import values as _values
from lolpop.layout.keys import EXPERIMENT, MAX_KEY_LENGTH, PARENT_RUN_TAG, RUN_ID
from lolpop.exceptions import (
    ArtifactNotFoundError,
    ConfigError,
    InvalidInputError,
    InvalidKeyError,
    InvalidResourceIdError,
    MetadataConflictError,
    MetadataNotFoundError,
    ResourceNotFoundError,
    TrackerStoppedError,
    UnsupportedResourceTypeError,
)

_RUN_KEYS = ("status", "end_time", "name")
_TERMINAL = {"FINISHED", "FAILED", "KILLED"}


@dataclass
class _RunState:
    """What this tracker knows of a run it owns (write-through: updated after each write)."""

    run: Run
    tags: dict[str, str]
    params: dict[str, str]
    status: str = "RUNNING"
    big_values: dict[str, str] = field(default_factory=dict)
    # Written to the cache but not yet sent; goes out with the run's next request.
    pending_tags: dict[str, str] = field(default_factory=dict)
    pending_params: dict[str, str] = field(default_factory=dict)
    pending_since: float | None = None
    artifact_repo: Any = None


_WRITE_MODES = ("immediate", "batched")


def _flush_at_exit(ref: weakref.ref[MLFlowMetadataTracker]) -> None:
    tracker = ref()
    if tracker is not None and not tracker._stopped:
        try:
            tracker.flush()
        except Exception:  # exiting anyway: report, never raise from an atexit hook
            tracker.logger.exception("lolpop: could not flush pending metadata at exit")


class MLFlowMetadataTracker(BaseMetadataTracker):
    """lolpop's metadata tracker on MLflow: resources are runs and namespaced run tags.

    Configuration (``conf`` is ``{"config": {...}}``, the flat dict, or a YAML file path):

    * ``mlflow_tracking_uri`` (required): e.g. ``sqlite:///mlflow.db`` or ``http://127.0.0.1:5000``.
    * ``mlflow_experiment_name`` (required): the MLflow experiment holding the workflow runs.
    * ``mlflow_artifact_location`` (optional): artifact root for a *new* experiment; for SQLite
      stores it defaults to ``mlartifacts/`` beside the database file.
    * ``mlflow_write_mode`` (optional): ``"immediate"`` (default) sends every write call as one
      request before it returns. ``"batched"`` keeps writes in the cache and sends them together
      — when an experiment is cleaned, at ``flush()``/``stop()``/exit, when a batch is full
      (100 entries) or older than ``mlflow_flush_seconds`` (default 5): a fraction of the round
      trips, at the price that a hard kill loses the unsent window.
    * ``mlflow_request_timeout`` (optional, seconds, default 30) and ``mlflow_max_retries``
      (optional, default 5): bound every request to an ``http(s)://`` tracking server (tracking,
      registry, proxied artifacts) and the reachability probe at construction: a server that is
      down or never answers raises ``TrackerUnavailableError`` instead of blocking for MLflow's
      20 minutes. Other MLflow clients in the process keep MLflow's own settings.

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

    __REQUIRED_CONF__ = ["mlflow_tracking_uri", "mlflow_experiment_name"]

    def __init__(self, conf: ConfLike = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(conf, **kwargs)
        uri = self._get_config("mlflow_tracking_uri")
        experiment_name = self._get_config("mlflow_experiment_name")
        for key, value in (("mlflow_tracking_uri", uri), ("mlflow_experiment_name", experiment_name)):
            if not isinstance(value, str):
                raise ConfigError(f"{self.name}: {key} must be a string, not {type(value).__name__}")
        self.url: str = uri
        self._lock = threading.RLock()
        self._owned: dict[str, _RunState] = {}
        self._stopped = False
        self._tmp = tempfile.TemporaryDirectory(prefix="lolpop-")
        mode = self._get_config("mlflow_write_mode", "immediate")
        if mode not in _WRITE_MODES:
            raise ConfigError(f"{self.name}: mlflow_write_mode must be one of {_WRITE_MODES}, not {mode!r}")
        flush_seconds = self._get_config("mlflow_flush_seconds", 5.0)
        if not isinstance(flush_seconds, (int, float)) or isinstance(flush_seconds, bool) or flush_seconds < 0:
            raise ConfigError(f"{self.name}: mlflow_flush_seconds must be a number >= 0, not {flush_seconds!r}")
        self._batched = mode == "batched"
        self._flush_seconds = float(flush_seconds)
        self._connect(uri, experiment_name)
        atexit.register(_flush_at_exit, weakref.ref(self))

    @translating
    def _connect(self, uri: str, experiment_name: str) -> None:
        self.client, self.experiment_id = open_store(
            uri, experiment_name, self._get_config("mlflow_artifact_location"),
            timeout=self._get_config("mlflow_request_timeout"),
            max_retries=self._get_config("mlflow_max_retries"),
        )
        run = self.client.create_run(self.experiment_id, tags={PARENT_RUN_TAG: "True"})
        self.run: Run = run
        self._own(run)
        self.logger.info(
            "Using MLflow experiment %r at %s, workflow run %s",
            experiment_name,
            redact(uri),
            run.info.run_id,
        )

    def __repr__(self) -> str:
        state = "stopped" if self._stopped else "running"
        run_id = getattr(getattr(self, "run", None), "info", None)
        return f"<{self.name} url={redact(self.url)!r} run={getattr(run_id, 'run_id', None)} {state}>"

    def __enter__(self) -> MLFlowMetadataTracker:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.stop(status="FAILED" if exc_type is not None else "FINISHED")

    # ------------------------------------------------------------------------------------
    # internals: resources, run state, reads and writes
    # ------------------------------------------------------------------------------------
    def _own(self, run: Run) -> _RunState:
        state = _RunState(run=run, tags=dict(run.data.tags), params=dict(run.data.params))
        with self._lock:
            self._owned[run.info.run_id] = state
        return state

    def _check_open(self) -> None:
        if self._stopped:
            raise TrackerStoppedError(
                f"{self.name} was stopped (run {self.run.info.run_id}); create a new tracker to log more"
            )

    @staticmethod
    def _unpack(resource: Any, what: str = "resource") -> tuple[Any, Run]:
        if not isinstance(resource, (tuple, list)) or len(resource) != 2:
            raise InvalidInputError(f"{what} must be an (id, run) pair, got {resource!r:.200}")
        run = resource[1]
        run_id = getattr(getattr(run, "info", None), "run_id", None)
        if not isinstance(run_id, str):
            raise InvalidInputError(f"{what} {resource[0]!r:.100}: second element is not an MLflow run")
        return resource[0], run

    def _rid(self, resource: Any, what: str = "resource") -> tuple[str, str]:
        """Return ``(resource_id, run_id)`` of a resource, validating both."""
        _, run = self._unpack(resource, what)
        rid = self.get_resource_id(resource)
        if rid in (".", "..") or "\x00" in rid:  # would name a folder outside its artifacts / reach the store
            raise InvalidResourceIdError(f"{what} id {rid!r} cannot be used: it is '.', '..' or holds a NUL")
        return rid, run.info.run_id

    @staticmethod
    def _check_key(key: Any, what: str = "key") -> str:
        if not isinstance(key, str) or not key:
            raise InvalidKeyError(f"{what} must be a non-empty string, got {key!r:.100}")
        return key

    @staticmethod
    def _check_tag_name(full_key: str, what: str, error: type[InvalidInputError] = InvalidKeyError) -> None:
        if len(full_key) > MAX_KEY_LENGTH:
            raise error(
                f"{what}: tag key {full_key[:60]!r}... is {len(full_key)} characters; "
                f"MLflow allows {MAX_KEY_LENGTH}"
            )
        try:
            _validate_tag_name(full_key)
        except MlflowException as exc:
            raise error(
                f"{what}: {full_key!r} cannot be an MLflow tag key (use letters, digits, "
                "'_', '-', '.', ' ', ':' and no path tricks)"
            ) from exc

    def _is_experiment(self, rid: str, run_id: str) -> bool:
        return rid.startswith(run_id + ".")

    def _run_data(self, run_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """Tags and params of a run: from the cache for owned runs, else from the store."""
        with self._lock:
            state = self._owned.get(run_id)
            if state is not None:
                return state.tags, state.params
        run = self.client.get_run(run_id)
        return dict(run.data.tags), dict(run.data.params)

    def _artifacts(self, run_id: str) -> Any:
        """The artifact repository of a run. For owned runs it is built from the artifact URI we
        already hold; ``MlflowClient`` would first fetch the run to learn it (one request more)."""
        with self._lock:
            state = self._owned.get(run_id)
            if state is not None and state.artifact_repo is None:
                state.artifact_repo = artifact_repository(self.client, state.run.info.artifact_uri)
            if state is not None:
                return state.artifact_repo
        return self.client._tracking_client._get_artifact_repo(run_id)

    def _terminate(self, run_id: str, status: str) -> None:
        """End a run in one request (``set_terminated`` fetches the run first just to log its URL)."""
        self._flush_run(run_id)
        store = self.client._tracking_client.store
        store.update_run_info(run_id, RunStatus.from_string(status), int(time.time() * 1000), None)
        self._mark_status(run_id, status)

    def _get_run(self, run_id: str) -> Run:
        with self._lock:
            state = self._owned.get(run_id)
        if state is not None:
            return state.run
        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise ResourceNotFoundError(f"no MLflow run {run_id!r}") from exc
            raise

    def _encode(self, run_id: str, full_key: str, value: Any, known: dict[str, str] | None,
                tags: dict[str, str], uploads: dict[str, str]) -> None:
        """Add the tags (and artifact uploads) that store ``value`` under ``full_key``."""
        text, encoding = _values.encode(full_key, value)
        marker = _values.marker_key(full_key)
        if len(text) > _values.INLINE_LIMIT:
            path = _values.artifact_path_for(full_key)
            uploads[path] = text
            tags[full_key] = _values.POINTER_PREFIX + path
            tags[marker] = "artifact:" + (encoding or "str")
            return
        tags[full_key] = text
        if encoding is not None:
            tags[marker] = encoding
        elif known is None or marker in known:
            # A plain string replaces an earlier encoded value: the marker must say so.
            tags[marker] = "str"

    def _decode(self, run_id: str, full_key: str, tags: dict[str, str]) -> Any:
        def fetch(path: str) -> str:
            with self._lock:
                state = self._owned.get(run_id)
                cached = state.big_values.get(full_key) if state else None
            if cached is not None:
                return cached
            local = self._artifacts(run_id).download_artifacts(path, tempfile.mkdtemp(dir=self._tmp.name))
            return Path(local).read_text(encoding="utf-8")

        return _values.decode_tag(tags, full_key, fetch)

    def _write(self, run_id: str, tags: dict[str, str], params: dict[str, str] | None = None,
               uploads: dict[str, str] | None = None, defer: bool | None = None) -> None:
        """Store tags/params of a run and update the cache.

        Sent now (with whatever is pending for the run, in as few ``log_batch`` requests as MLflow
        allows) unless deferred: ``defer=None`` defers in batched mode for runs this tracker owns.
        """
        self._check_open()
        params = params or {}
        uploads = uploads or {}
        for key in list(tags) + list(params):
            self._check_tag_name(key, "write")
        for key, text in uploads.items():
            local_dir = Path(tempfile.mkdtemp(dir=self._tmp.name))
            local = local_dir / Path(key).name
            local.write_text(text, encoding="utf-8")
            self._artifacts(run_id).log_artifact(str(local), str(Path(key).parent))
        with self._lock:
            state = self._owned.get(run_id)
            if state is not None:
                # What this run already holds (sent or pending) need not be sent again.
                tags = {k: v for k, v in tags.items() if state.tags.get(k) != v}
                params = {k: v for k, v in params.items() if state.params.get(k) != v}
                state.tags.update(tags)
                state.params.update(params)
                for key, text in uploads.items():
                    for tag, value in tags.items():
                        if value == _values.POINTER_PREFIX + key:
                            state.big_values[tag] = text
                if defer is None:
                    defer = self._batched and state.status not in _TERMINAL
                if defer:
                    state.pending_tags.update(tags)
                    state.pending_params.update(params)
                    state.pending_since = state.pending_since or time.monotonic()
                    full = len(state.pending_tags) + len(state.pending_params) >= MAX_PARAMS_TAGS_PER_BATCH
                    if not full and time.monotonic() - state.pending_since < self._flush_seconds:
                        return
                tags = {**state.pending_tags, **tags}
                params = {**state.pending_params, **params}
                state.pending_tags, state.pending_params, state.pending_since = {}, {}, None
        try:
            self._send(run_id, tags, params)
        except BaseException:
            # Nothing is dropped: what was pending stays pending for the next attempt.
            if state is not None:
                with self._lock:
                    state.pending_tags = {**tags, **state.pending_tags}
                    state.pending_params = {**params, **state.pending_params}
                    state.pending_since = state.pending_since or time.monotonic()
            raise

    def _send(self, run_id: str, tags: dict[str, str], params: dict[str, str]) -> None:
        entries: list[Param | RunTag] = [Param(k, v) for k, v in params.items()]
        entries += [RunTag(k, v) for k, v in tags.items()]
        for start in range(0, len(entries), MAX_PARAMS_TAGS_PER_BATCH):
            chunk = entries[start : start + MAX_PARAMS_TAGS_PER_BATCH]
            self.client.log_batch(
                run_id,
                params=[e for e in chunk if isinstance(e, Param)],
                tags=[e for e in chunk if isinstance(e, RunTag)],
                synchronous=True,
            )

    def _flush_run(self, run_id: str) -> None:
        with self._lock:
            state = self._owned.get(run_id)
            if state is None or not (state.pending_tags or state.pending_params):
                return
        self._write(run_id, {}, defer=False)

    @translating
    def flush(self) -> None:
        """Send every write still pending (batched mode, new experiments' id tags).

        Example:
            >>> tracker.flush()
        """
        with self._lock:
            run_ids = list(self._owned)
        for run_id in run_ids:
            self._flush_run(run_id)

    def _known_tags(self, run_id: str) -> dict[str, str] | None:
        with self._lock:
            state = self._owned.get(run_id)
            return state.tags if state is not None else None

    def _metadata_tags(self, rid: str, run_id: str, items: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
        tags: dict[str, str] = {}
        uploads: dict[str, str] = {}
        known = self._known_tags(run_id)
        for key, value in items.items():
            self._check_key(key, "metadata id")
            self._encode(run_id, f"{rid}.{key}", value, known, tags, uploads)
        return tags, uploads

    # ------------------------------------------------------------------------------------
    # artifacts
    # ------------------------------------------------------------------------------------
    @staticmethod
    def _check_artifact_id(id: Any) -> str:
        if not isinstance(id, str) or not id or id in (".", "..") or "/" in id or "\\" in id or "\x00" in id:
            raise InvalidKeyError(
                f"artifact id must be one non-empty path segment (no '/', '\\\\', '..'), got {id!r:.100}"
            )
        return id

    @translating
    def log_artifact(self, resource: Resource, id: str, path: str, *args: Any, **kwargs: Any) -> None:
        """Store the file or folder at ``path`` as artifact ``id`` of ``resource``.

        It lands at ``<resource id>/<id>/<file name>`` in the resource's run artifacts.

        Args:
            resource: the resource the artifact belongs to.
            id: artifact id, one path segment.
            path: a local file or folder.

        Raises:
            InvalidKeyError: ``id`` is not a single safe path segment.
            InvalidInputError: ``path`` does not exist.

        Example:
            >>> tracker.log_artifact(dv, "sample", "data/sample.csv")
        """
        self._check_open()
        rid, run_id = self._rid(resource)
        self._check_artifact_id(id)
        if not isinstance(path, (str, os.PathLike)) or not Path(path).exists():
            raise InvalidInputError(f"log_artifact {id!r}: no file or folder at {path!r}")
        dest = f"{rid}/{id}"
        if Path(path).is_dir():
            self._artifacts(run_id).log_artifacts(str(path), dest)
        else:
            self._artifacts(run_id).log_artifact(str(path), dest)

    @translating
    def get_artifact(self, resource: Resource, id: str, *args: Any, dst_path: str | None = None,
                     **kwargs: Any) -> str:
        """Download artifact ``id`` of ``resource`` and return the local path.

        Args:
            resource: the resource the artifact belongs to.
            id: the artifact id given to ``log_artifact``.
            dst_path: folder to download into (default: a fresh temporary folder).

        Returns:
            The file's path, or the folder's path when the artifact holds several files.

        Raises:
            ArtifactNotFoundError: nothing is stored under ``id`` (the message lists what is).
            InvalidInputError: ``dst_path`` cannot be a folder (e.g. it lies under a file).

        Example:
            >>> open(tracker.get_artifact(dv, "sample")).read()
        """
        rid, run_id = self._rid(resource)
        self._check_artifact_id(id)
        repo = self._artifacts(run_id)
        files = repo.list_artifacts(f"{rid}/{id}")
        if not files:
            known = sorted(Path(f.path).name for f in repo.list_artifacts(rid) if f.is_dir)
            raise ArtifactNotFoundError(
                f"resource {rid!r} (run {run_id}) has no artifact {id!r}; it has: {known or 'none'}"
            )
        target = dst_path or tempfile.mkdtemp(dir=self._tmp.name)
        try:
            Path(target).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInputError(f"get_artifact {id!r}: dst_path {str(target)!r} cannot be a folder: "
                                    f"{exc.strerror}", path=str(target)) from exc
        local = Path(repo.download_artifacts(f"{rid}/{id}", target))
        target_root = Path(target).resolve()
        if not local.resolve().is_relative_to(target_root):
            raise InvalidKeyError(f"artifact {id!r} would be written outside {target!r}")
        entries = list(local.iterdir()) if local.is_dir() else [local]
        if len(entries) == 1 and entries[0].is_file():
            return str(entries[0])
        return str(local)

    # ------------------------------------------------------------------------------------
    # tags and metadata
    # ------------------------------------------------------------------------------------
    @translating
    def log_tag(self, resource: Resource, key: str, value: Any, *args: Any, **kwargs: Any) -> None:
        """Set tag ``key`` of ``resource`` (MLflow tag ``<id>.<key>``) to ``value``.

        Strings are stored as they are; other JSON values round-trip through ``get_tag``.

        Raises:
            InvalidKeyError: ``key`` is empty or makes an invalid MLflow tag key.
            TypeError: ``value`` cannot be stored as JSON.

        Example:
            >>> tracker.log_tag(mv, "status", "PROMOTED")
        """
        self._check_open()
        rid, run_id = self._rid(resource)
        tags, uploads = self._metadata_tags(rid, run_id, {key: value})
        self._write(run_id, tags, uploads=uploads)

    @translating
    def get_tag(self, resource: Resource, key: str, *args: Any, **kwargs: Any) -> Any:
        """Return tag ``key`` of ``resource``, or ``None`` when it was never set.

        Example:
            >>> tracker.get_tag(mv, "status")
            'PROMOTED'
        """
        rid, run_id = self._rid(resource)
        self._check_key(key)
        tags, _ = self._run_data(run_id)
        return self._decode(run_id, f"{rid}.{key}", tags)

    @translating
    def log_metadata(self, resource: Resource, id: str, data: Any, *args: Any, **kwargs: Any) -> None:
        """Record ``data`` under ``id`` for ``resource``; ``get_metadata`` returns it unchanged.

        When ``id`` contains ``"param"`` and ``data`` is a dict, every item is also logged as an
        MLflow param (plain keys in an experiment's own run, ``<id>.``-prefixed in the shared
        workflow run), in the same request. Re-logging an identical param is a no-op.

        Raises:
            TypeError: ``data`` cannot be stored as JSON (non-str dict keys, sets, objects...).
            MetadataConflictError: a param already holds a different value; nothing is written.

        Example:
            >>> tracker.log_metadata(exp, "params", {"max_depth": 4, "eta": 0.1})
        """
        self._check_open()
        rid, run_id = self._rid(resource)
        self._check_key(id, "metadata id")
        tags, uploads = self._metadata_tags(rid, run_id, {id: data})
        params: dict[str, str] = {}
        if "param" in id and isinstance(data, dict):
            prefix = "" if self._is_experiment(rid, run_id) else f"{rid}."
            _, existing = self._run_data(run_id)
            for k, v in data.items():
                text = _values.param_text(f"{rid}.{id}", v)
                if len(text) > MAX_PARAM_VAL_LENGTH:
                    raise InvalidInputError(
                        f"param {k!r} of {rid!r}: value is {len(text)} characters; "
                        f"MLflow params hold at most {MAX_PARAM_VAL_LENGTH}"
                    )
                pkey = f"{prefix}{k}"
                if pkey in existing:
                    if existing[pkey] != text:
                        raise MetadataConflictError(
                            f"param {pkey!r} of run {run_id} is already {existing[pkey]!r}; "
                            f"cannot change it to {text!r} (MLflow params are write-once)"
                        )
                    continue
                params[pkey] = text
        self._write(run_id, tags, params, uploads)

    @translating
    def get_metadata(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> Any:
        """Return what ``log_metadata`` recorded under ``id`` (same type), or ``None``.

        Values written by lolpop 0.2.0 (plain ``str(data)``) come back as strings.

        Example:
            >>> tracker.get_metadata(exp, "params")
            {'max_depth': 4, 'eta': 0.1}
        """
        return self.get_tag(resource, id)

    # ------------------------------------------------------------------------------------
    # resources
    # ------------------------------------------------------------------------------------
    def _check_new_id(self, id: Any) -> str:
        if not isinstance(id, str) or not id.strip():
            raise InvalidResourceIdError(f"resource id must be a non-empty string, got {id!r:.100}")
        rid = self.get_resource_id((id, None))
        if not rid or rid.startswith("_lolpop"):
            raise InvalidResourceIdError(f"resource id {id!r} is empty or uses the reserved '_lolpop' prefix")
        self._check_tag_name(f"{rid}.exists", f"resource id {id!r}", InvalidResourceIdError)
        return rid

    @translating
    def create_resource(self, id: str, type: str | None = None, parent: Resource | None = None,
                        *args: Any, **kwargs: Any) -> Resource:
        """Create resource ``id`` and return ``Resource(id, run)``.

        ``type="experiment"`` opens a nested run under ``parent``'s run; the resource id is then
        ``<nested_run_id>.<parent_id>``. Any other type lives in the workflow run. ``type``,
        ``parent`` and extra keyword arguments are recorded as metadata (``<id>.type``,
        ``<id>.parent_id``, ``<id>.parent_run_id``), and ``<id>.exists = True`` is set at once.

        Raises:
            InvalidResourceIdError: ``id`` is empty or cannot be an MLflow tag key.
            InvalidInputError: an experiment without a parent.

        Example:
            >>> mv = tracker.create_resource("churn_model", type="model_version")
            >>> exp = tracker.create_resource("xgb", type="experiment", parent=mv)
        """
        self._check_open()
        if type is not None and not isinstance(type, str):
            raise InvalidInputError(f"resource type must be a string or None, got {type!r:.100}")
        parent_id = parent_run_id = None
        if parent is not None:
            parent_id, parent_run_id = self._rid(parent, "parent")
        extra = {k: v for k, v in kwargs.items()}
        if type == EXPERIMENT:
            if parent is None:
                raise InvalidInputError(f"experiment resource {id!r} needs a parent (the model version)")
            # Check the id this experiment will have before opening a run for it.
            self._check_tag_name(f"{'0' * 32}.{parent_id}.exists", f"experiment under {parent_id!r}",
                                 InvalidResourceIdError)
            run = self.client.create_run(
                self.experiment_id,
                tags={"mlflow.parentRunId": parent_run_id, "lolpop.resource_type": EXPERIMENT,
                      "lolpop.parent_id": parent_id},
            )
            self._own(run)
            rid = f"{run.info.run_id}.{parent_id}"
        else:
            rid = self._check_new_id(id)
            run = self.run
        meta: dict[str, Any] = {"exists": "True"}
        if type is not None:
            meta["type"] = type
        if parent is not None:
            meta["parent_id"] = parent_id
            meta["parent_run_id"] = parent_run_id
        for key in extra:
            if key in meta:
                raise InvalidInputError(f"create_resource {id!r}: keyword {key!r} is reserved")
        meta.update(extra)
        tags, uploads = self._metadata_tags(rid, run.info.run_id, meta)
        # A new experiment's id tags ride along with its run's next request (create_run
        # cannot carry them: they name the run id). Its run tags already say the same.
        self._write(run.info.run_id, tags, uploads=uploads,
                    defer=True if type == EXPERIMENT and not extra else None)
        return Resource(rid if type == EXPERIMENT else id, run)

    @translating
    def get_resource(self, id: str, type: str | None, parent: Resource | None = None,
                     *args: Any, **kwargs: Any) -> Resource:
        """Return resource ``id`` of ``type``.

        An experiment id (``<run_id>.<parent_id>``) resolves to its nested run. Any other id
        resolves to this tracker's workflow run when it was created here, else to ``parent``'s
        run when the resource is recorded there, else to the newest FINISHED workflow run of the
        experiment that recorded it.

        Raises:
            ResourceNotFoundError: no run records the resource.

        Example:
            >>> tracker.get_resource(exp.id, type="experiment")
        """
        if not isinstance(id, str) or not id:
            raise InvalidResourceIdError(f"resource id must be a non-empty string, got {id!r:.100}")
        if type == EXPERIMENT:
            run_id = id.split(".", 1)[0]
            if not RUN_ID.match(run_id) or "." not in id:
                raise InvalidResourceIdError(f"experiment id {id!r} is not of the form <run_id>.<parent_id>")
            return Resource(id, self._get_run(run_id))
        rid = self._check_new_id(id)
        key = f"{rid}.exists"
        if self._known_tags(self.run.info.run_id).get(key) == "True":
            return Resource(id, self.run)
        if parent is not None:
            _, prun = self._unpack(parent, "parent")
            tags, _ = self._run_data(prun.info.run_id)
            if tags.get(key) == "True":
                return Resource(id, prun)
        runs = self._search([_filters.tag_clause(key, "True")], 1)
        if not runs:
            raise ResourceNotFoundError(
                f"resource {id!r} is not recorded in experiment {self.experiment_id} "
                f"(type={type!r}); create it with create_resource"
            )
        return Resource(id, runs[0])

    @translating
    def update_resource(self, resource: Resource, updates: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        """Apply ``updates`` to ``resource``. Nothing is silently dropped.

        For a resource that owns its run (an experiment), ``status`` (an MLflow run status),
        ``end_time`` (ms since epoch) and ``name`` change the run itself. Every other key — and
        those three for resources that share the workflow run — is recorded as metadata.

        Raises:
            InvalidInputError: ``updates`` is not a dict, or ``status`` is not a run status.

        Example:
            >>> tracker.update_resource(exp, {"status": "FAILED", "reason": "diverged"})
        """
        self._check_open()
        rid, run_id = self._rid(resource)
        if not isinstance(updates, dict):
            raise InvalidInputError(f"updates must be a dict, got {type(updates).__name__}")
        run_updates: dict[str, Any] = {}
        if self._is_experiment(rid, run_id):
            run_updates = {k: updates[k] for k in _RUN_KEYS if k in updates}
        status = run_updates.get("status")
        if status is not None and (not isinstance(status, str) or status.upper() not in RunStatus._STRING_TO_STATUS):
            raise InvalidInputError(
                f"update_resource {rid!r}: status {status!r} is not an MLflow run status "
                f"({', '.join(RunStatus._STRING_TO_STATUS)})"
            )
        end_time = run_updates.get("end_time")
        if end_time is not None and (not isinstance(end_time, int) or isinstance(end_time, bool)):
            raise InvalidInputError(f"update_resource {rid!r}: end_time must be int milliseconds, got {end_time!r}")
        name = run_updates.get("name")
        if name is not None and not isinstance(name, str):
            raise InvalidInputError(f"update_resource {rid!r}: name must be a string, got {name!r}")
        meta = {k: v for k, v in updates.items() if k not in run_updates}
        tags, uploads = self._metadata_tags(rid, run_id, meta)
        if tags or uploads:
            self._write(run_id, tags, uploads=uploads)
        if run_updates:
            self._flush_run(run_id)
            store = self.client._tracking_client.store  # UpdateRun carries end_time; the client API does not
            current = self._get_run(run_id)
            new_status = RunStatus.from_string(status.upper()) if status else RunStatus.from_string(current.info.status)
            info = store.update_run_info(run_id, new_status, end_time, name)
            self._mark_status(run_id, RunStatus.to_string(new_status), info)

    def _mark_status(self, run_id: str, status: str, info: Any = None) -> None:
        with self._lock:
            state = self._owned.get(run_id)
            if state is not None:
                state.status = status
                if info is not None:
                    state.run = Run(info, state.run.data, state.run.inputs)

    @translating
    def clean_resource(self, resource: Resource, type: str | None = None, *args: Any, **kwargs: Any) -> None:
        """Finish ``resource``: an experiment's nested run ends FINISHED; other resources share
        the workflow run, which ``stop()`` ends, so for them this does nothing.

        Example:
            >>> tracker.clean_resource(exp, type="experiment")
        """
        rid, run_id = self._rid(resource)
        if not self._is_experiment(rid, run_id):
            return
        with self._lock:
            state = self._owned.get(run_id)
            if state is not None and state.status in _TERMINAL:
                return
        self._check_open()
        self._terminate(run_id, "FINISHED")

    # ------------------------------------------------------------------------------------
    # look-ups
    # ------------------------------------------------------------------------------------
    def _search(self, clauses: list[str], num: int, extra: Sequence[str] | str | None = None,
                before: Run | None = None) -> list[Run]:
        base = [f"tags.`{PARENT_RUN_TAG}` = 'True'", "attributes.status = 'FINISHED'"] + clauses
        exclude = None
        if before is not None:
            base.append(f"attributes.start_time <= {int(before.info.start_time)}")
            exclude = before.info.run_id
        filter_string = _filters.combine(base, extra)
        runs = self.client.search_runs(
            experiment_ids=[before.info.experiment_id if before is not None else self.experiment_id],
            filter_string=filter_string,
            order_by=["attributes.start_time DESC"],
            max_results=num + (1 if exclude else 0),
        )
        return [r for r in runs if r.info.run_id != exclude][:num]

    @translating
    def get_prev_resource_version(self, resource: Resource, extra_filters: Sequence[str] | None = None,
                                  num: int = 1, *args: Any, **kwargs: Any) -> Any:
        """Return the previous version(s) of ``resource``: the same id in earlier FINISHED
        workflow runs of the same MLflow experiment, newest first.

        Args:
            resource: the resource whose history to search.
            extra_filters: MLflow search clauses ANDed to the search, e.g.
                ``["tags.`churn.status` = 'DEPLOYED'"]``; each is checked before anything is sent.
            num: how many versions to return.

        Returns:
            ``Resource(id, run)`` for ``num == 1``, ``(id, [runs])`` for ``num > 1``, or ``None``
            when there is no earlier version.

        Raises:
            InvalidFilterError: a clause is malformed or would change the query's meaning.

        Example:
            >>> prev = tracker.get_prev_resource_version(dv)
            >>> prev.run.info.run_id
        """
        _, run = self._unpack(resource)
        rid = self.get_resource_id(resource)
        if not isinstance(num, int) or isinstance(num, bool) or num < 1:
            raise InvalidInputError(f"num must be a positive int, got {num!r}")
        run = self._get_run(run.info.run_id)
        runs = self._search([_filters.tag_clause(f"{rid}.exists", "True")], num, extra_filters, before=run)
        if not runs:
            return None
        if num == 1:
            return Resource(resource[0], runs[0])
        return (resource[0], runs)

    @translating
    def get_currently_deployed_model_version(self, model_version: Resource, *args: Any, **kwargs: Any) -> Resource | None:
        """Return the newest earlier version of ``model_version`` whose ``status`` is
        ``DEPLOYED``, or ``None``. No fallback to PROMOTED or to any previous version.

        Example:
            >>> deployed = tracker.get_currently_deployed_model_version(mv)
        """
        rid = self.get_resource_id(model_version)
        return self.get_prev_resource_version(
            model_version, extra_filters=[_filters.tag_clause(f"{rid}.status", "DEPLOYED")]
        )

    @translating
    def get_prediction_job_model_version(self, prediction_job: Resource | str, *args: Any, **kwargs: Any) -> Resource:
        """Return the model version a prediction job used, with the run it was trained in.

        Args:
            prediction_job: the prediction job resource, or its bare id (``<model>_predictions``).

        Returns:
            ``Resource(model_version_id, run)`` where ``run`` is the model version's run recorded
            as the job's parent; for jobs recorded without a parent (lolpop 0.2.0), the id with
            ``_predictions`` stripped and the job's own run.

        Raises:
            ResourceNotFoundError: a bare id that no run records.

        Example:
            >>> mv = tracker.get_prediction_job_model_version(pj)
        """
        if isinstance(prediction_job, str):
            prediction_job = self.get_resource(prediction_job, type="prediction_job")
        rid, run_id = self._rid(prediction_job, "prediction_job")
        tags, _ = self._run_data(run_id)
        parent_id = self._decode(run_id, f"{rid}.parent_id", tags)
        parent_run_id = self._decode(run_id, f"{rid}.parent_run_id", tags)
        if parent_id and parent_run_id:
            return Resource(parent_id, self._get_run(parent_run_id))
        mv_id = prediction_job[0]
        if mv_id.endswith("_predictions"):
            mv_id = mv_id[: -len("_predictions")]
        return Resource(mv_id, prediction_job[1])

    @translating
    def get_latest_model_resource(self, model: Resource, type: str, *args: Any, **kwargs: Any) -> Resource | None:
        """Return the newest ``<model id>_predictions`` resource from earlier FINISHED workflow
        runs when ``type == "prediction_job"``, or ``None`` when there is none.

        Raises:
            UnsupportedResourceTypeError: any other ``type``.

        Example:
            >>> tracker.get_latest_model_resource(model, "prediction_job")
        """
        rid = self.get_resource_id(model)
        if type != "prediction_job":
            raise UnsupportedResourceTypeError(
                f"get_latest_model_resource supports type='prediction_job', not {type!r}"
            )
        pid = f"{rid}_predictions"
        _, run = self._unpack(model, "model")
        runs = self._search([_filters.tag_clause(f"{pid}.exists", "True")], 1,
                            before=self._get_run(run.info.run_id))
        return Resource(pid, runs[0]) if runs else None

    @translating
    def get_winning_experiment(self, model_version: Resource, *args: Any, **kwargs: Any) -> Resource:
        """Return the experiment recorded as ``winning_experiment_id`` of ``model_version``.

        Raises:
            MetadataNotFoundError: no winning experiment was recorded.
            ResourceNotFoundError: the recorded experiment's run is gone.

        Example:
            >>> exp = tracker.get_winning_experiment(mv)
        """
        exp_id = self.get_metadata(model_version, "winning_experiment_id")
        if not exp_id:
            raise MetadataNotFoundError(
                f"model version {self.get_resource_id(model_version)!r} has no winning_experiment_id"
            )
        return self.get_resource(str(exp_id), type=EXPERIMENT)

    @translating
    def build_model_lineage(self, model_version: Resource, dataset_versions: Sequence[Resource],
                            *args: Any, **kwargs: Any) -> None:
        """Record the dataset versions that built ``model_version``, as metadata
        ``dataset_versions`` = ``[{"id": ..., "run_id": ...}, ...]`` plus the searchable tag
        ``<id>.dataset_versions.exists``, and for each dataset version the searchable index tag
        ``_lolpop.used_by.<dataset_run_id>.<dataset_id>`` (downstream lineage) — one request.
        The lineage picture is then logged as artifact ``lineage`` (``<id>/lineage/lineage.html``),
        shown in the MLflow UI's artifact view. With an empty list, the previous model version's
        lineage is inherited (nothing is written when there is none).

        Example:
            >>> tracker.build_model_lineage(mv, [train_dv])
            >>> tracker.get_metadata(mv, "dataset_versions")
            [{'id': 'train', 'run_id': '...'}]
        """
        self._check_open()
        rid, run_id = self._rid(model_version, "model_version")
        if not isinstance(dataset_versions, (list, tuple)):
            raise InvalidInputError(
                f"dataset_versions must be a list of resources, got {type(dataset_versions).__name__}"
            )
        lineage: Any
        if dataset_versions:
            lineage = []
            for i, dv in enumerate(dataset_versions):
                did, drun = self._rid(dv, f"dataset_versions[{i}]")
                lineage.append({"id": did, "run_id": drun})
        else:
            prev = self.get_prev_resource_version(
                model_version, extra_filters=[_filters.tag_clause(f"{rid}.dataset_versions.exists", "True")]
            )
            if prev is None:
                self.logger.warning("No previous version of %r has lineage to inherit", rid)
                return
            lineage = self.get_metadata(prev, "dataset_versions")
            if lineage is None:
                return
        from lolpop.lineage.tracker_hooks import log_lineage_page, used_by_tags

        tags, uploads = self._metadata_tags(rid, run_id, {"dataset_versions": lineage,
                                                          "dataset_versions.exists": "True"})
        current, _ = self._run_data(run_id)
        tags.update(used_by_tags(rid, lineage, current))
        self._write(run_id, tags, uploads=uploads)
        log_lineage_page(self, model_version)

    @translating
    def get_lineage(self, resource: Resource, direction: str = "both", depth: int | None = None,
                    *args: Any, **kwargs: Any) -> Any:
        """Return the lineage graph of exact resource versions around ``resource``.

        Upstream: the dataset versions (exact runs) a model version was built from, its winning
        and candidate experiments, the model version a prediction job used. Downstream: the model
        versions built from a dataset version, the prediction jobs that used a model version.
        Every MLflow experiment of the store is searched; at most one search per hop.

        Args:
            resource: the resource version to start from.
            direction: ``"both"`` (default), ``"upstream"`` or ``"downstream"``.
            depth: maximum hops from ``resource``; ``None`` for no limit.

        Returns:
            :class:`lolpop.lineage.LineageGraph` (``nodes``, ``edges``, ``to_dict()``; render it
            with :func:`lolpop.lineage.render`).

        Raises:
            InvalidInputError: bad ``direction`` or ``depth``.
            ResourceNotFoundError: the resource's run does not record it.

        Example:
            >>> graph = tracker.get_lineage(mv, direction="upstream")
            >>> sorted(n.type for n in graph.nodes.values())
            ['dataset_version', 'experiment', 'experiment', 'model_version']
        """
        from lolpop.lineage.tracker_hooks import lineage_of

        return lineage_of(self, resource, direction, depth)

    def get_resource_id(self, resource: Resource, *args: Any, **kwargs: Any) -> str:
        """Return the id ``resource`` is recorded under: its first element, or for a path
        (contains ``/``) the file stem with ``.`` replaced by ``_``.

        Example:
            >>> tracker.get_resource_id(("data/train.v2.csv", run))
            'train_v2'
        """
        if not isinstance(resource, (tuple, list)) or len(resource) != 2:
            raise InvalidInputError(f"resource must be an (id, run) pair, got {resource!r:.200}")
        rid = resource[0]
        if not isinstance(rid, str) or not rid:
            raise InvalidResourceIdError(f"resource id must be a non-empty string, got {rid!r:.100}")
        if "/" in rid:
            rid = Path(rid).stem.replace(".", "_")
        return rid

    def get_parent_id(self, resource: Resource, type: str | None = None, *args: Any, **kwargs: Any) -> str | None:
        """Return the parent id of ``resource``: for an experiment the part after the run id,
        otherwise the recorded ``<id>.parent_id`` (``None`` when there is none).

        Example:
            >>> tracker.get_parent_id(exp, type="experiment")
            'churn_model'
        """
        rid = self.get_resource_id(resource)
        _, run = self._unpack(resource)
        if type == EXPERIMENT or self._is_experiment(rid, run.info.run_id):
            if "." not in rid:
                raise InvalidResourceIdError(f"experiment id {rid!r} is not of the form <run_id>.<parent_id>")
            return rid.split(".", 1)[1]
        return self._parent_id(rid, run.info.run_id)

    @translating
    def _parent_id(self, rid: str, run_id: str) -> str | None:
        tags, _ = self._run_data(run_id)
        return self._decode(run_id, f"{rid}.parent_id", tags)

    # ------------------------------------------------------------------------------------
    # version control
    # ------------------------------------------------------------------------------------
    @translating
    def register_vc_resource(self, resource: Resource, vc_info: dict[str, Any] | None, key: str | None = None,
                             additional_metadata: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> None:
        """Record version-control info and extra metadata for ``resource`` in one request.

        ``vc_info["hexsha"]`` / ``["uri"]`` go to ``<id>.hexsha`` / ``<id>.uri`` (or
        ``<id>.<key>_hexsha`` / ``<id>.<key>_uri``); ``<id>.exists`` is set; every item of
        ``additional_metadata`` is recorded as with ``log_metadata``.

        Raises:
            InvalidInputError: ``vc_info`` or ``additional_metadata`` is not a dict.

        Example:
            >>> tracker.register_vc_resource(dv, {"uri": "data/train.csv", "hexsha": sha},
            ...                              additional_metadata={"rows": 1000})
        """
        self._check_open()
        rid, run_id = self._rid(resource)
        if vc_info is not None and not isinstance(vc_info, dict):
            raise InvalidInputError(f"vc_info must be a dict or None, got {type(vc_info).__name__}")
        if additional_metadata is not None and not isinstance(additional_metadata, dict):
            raise InvalidInputError(
                f"additional_metadata must be a dict, got {type(additional_metadata).__name__}"
            )
        if key is not None:
            self._check_key(key, "vc key")
        prefix = f"{key}_" if key else ""
        items: dict[str, Any] = {"exists": "True"}
        for field_name in ("hexsha", "uri"):
            if vc_info and vc_info.get(field_name) is not None:
                items[prefix + field_name] = str(vc_info[field_name])
        for k, v in (additional_metadata or {}).items():
            items[k] = v
        tags, uploads = self._metadata_tags(rid, run_id, items)
        self._write(run_id, tags, uploads=uploads)

    @translating
    def get_vc_info(self, resource: Resource, key: str | None = "hexsha", *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Return ``{"hexsha": ..., "uri": ...}`` recorded by ``register_vc_resource``.

        ``key`` is the ``key`` given there (``"train"``), its full form (``"train_hexsha"``, as
        lolpop 0.2.0 needed), or ``"hexsha"``/``None`` for the unkeyed info.

        Raises:
            MetadataNotFoundError: no hexsha was recorded under that key.

        Example:
            >>> tracker.get_vc_info(mv, key="train")
            {'hexsha': '3f2c...', 'uri': 'models/model.pkl'}
        """
        rid, run_id = self._rid(resource)
        if key in (None, "", "hexsha"):
            prefix = ""
        else:
            self._check_key(key, "vc key")
            base = key[: -len("_hexsha")] if key.endswith("_hexsha") else key
            prefix = f"{base}_"
        tags, _ = self._run_data(run_id)
        hexsha = self._decode(run_id, f"{rid}.{prefix}hexsha", tags)
        if hexsha is None:
            raise MetadataNotFoundError(
                f"resource {rid!r} (run {run_id}) has no version-control info under key {key!r}"
            )
        return {"hexsha": hexsha, "uri": self._decode(run_id, f"{rid}.{prefix}uri", tags)}

    # ------------------------------------------------------------------------------------
    # data reports
    # ------------------------------------------------------------------------------------
    def log_data_profile(self, resource: Resource, file_path: str, *args: Any, **kwargs: Any) -> None:
        """Store a data profile as artifact ``<id>_data_profile`` of ``resource``.

        Example:
            >>> tracker.log_data_profile(dv, "profile.html")
        """
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_data_profile", file_path)

    def get_data_profile(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        """Download the data profile stored under ``id`` (``<resource id>_data_profile``).

        Example:
            >>> tracker.get_data_profile(dv, "train_data_profile")
        """
        return self.get_artifact(resource, id, **kwargs)

    def log_checks(self, resource: Resource, file_path: str, type: str = "data", *args: Any, **kwargs: Any) -> None:
        """Store a checks report as artifact ``<id>_<type>_checks_report`` of ``resource``.

        Example:
            >>> tracker.log_checks(dv, "checks.html", type="data")
        """
        self._check_key(type, "check type")
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_{type}_checks_report", file_path)

    def get_data_checks(self, resource: Resource, id: str, *args: Any, **kwargs: Any) -> str:
        """Download the checks report stored under ``id`` (``<resource id>_<type>_checks_report``).

        Example:
            >>> tracker.get_data_checks(dv, "train_data_checks_report")
        """
        return self.get_artifact(resource, id, **kwargs)

    def log_data_comparison(self, resource: Resource, file_path: str, *args: Any, **kwargs: Any) -> None:
        """Store a data comparison as artifact ``<id>_data_comparison`` of ``resource``.

        Example:
            >>> tracker.log_data_comparison(dv, "drift.html")
        """
        self.log_artifact(resource, f"{self.get_resource_id(resource)}_data_comparison", file_path)

    # ------------------------------------------------------------------------------------
    # life cycle
    # ------------------------------------------------------------------------------------
    @translating
    def stop(self, *args: Any, status: str = "FINISHED", **kwargs: Any) -> None:
        """End the workflow run and every nested run this tracker left open. Idempotent.

        Args:
            status: the final status, ``"FINISHED"`` (default), ``"FAILED"`` or ``"KILLED"``.

        Example:
            >>> tracker.stop()
        """
        if status not in _TERMINAL:
            raise InvalidInputError(f"stop status must be one of {sorted(_TERMINAL)}, got {status!r}")
        with self._lock:
            if self._stopped:
                return
            open_runs = [rid for rid, s in self._owned.items()
                         if s.status not in _TERMINAL and rid != self.run.info.run_id]
        self.flush()
        for run_id in open_runs + [self.run.info.run_id]:
            self._terminate(run_id, status)
        with self._lock:
            self._stopped = True

    def load_model(self, model_obj: Any, model_version: Resource, ref_model: Any,
                   pipeline_config: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> Any:
        """Rebuild a model trainer from what was recorded about ``model_version``.

        The trainer and feature transformer classes are the registry names recorded as
        ``winning_experiment_model_trainer`` / ``winning_experiment_feature_transformer``
        (resolved by :mod:`lolpop.registry`, never imported as a path read from the store); the
        fitted model and transformer come from the ``winning_experiment_id`` experiment's artifacts.

        Args:
            model_obj: a fitted model to use instead of the stored one (``None``: load it).
            model_version: the model version resource.
            ref_model: a trainer whose config and params the new one inherits (``None``: those
                recorded on the winning experiment).
            pipeline_config: passed to the new trainer as ``pipeline_config``.

        Returns:
            The model trainer, ready to ``predict``.

        Raises:
            UnknownComponentError: a recorded class name is not registered (the message lists
                the known names); nothing is imported or executed.
            MetadataNotFoundError: the model version records no trainer and no ``ref_model``
                was given, or no winning experiment.

        Example:
            >>> trainer = tracker.load_model(None, model_version, None)
            >>> trainer.predict(X_new)
        """
        from lolpop.component.metadata_tracker._model_loading import load_model

        return load_model(self, model_obj, model_version, ref_model, pipeline_config)
