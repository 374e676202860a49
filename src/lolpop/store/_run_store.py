"""The run store: the only code that talks to ``MlflowClient`` and MLflow's private APIs.

The tracker validates input and maps each seed call to a :class:`Batch` for one run; this module
sends it. It owns, for the runs a tracker opened ("owned runs"):

* the write-through cache of their tags, params and latest metrics (what the store *accepted*),
* the pending queue (batched mode, and an experiment's id tags that ride along with its run's
  next request), with a timer so nothing waits longer than ``flush_seconds``,
* sends, flushes and termination, searches and artifact repositories;
* and it hands out the Model Registry and LoggedModel requests (:attr:`RunStore.registry`,
  :mod:`~lolpop.store._registry_store`), on the same client and the same exactly-once rule.

One lock discipline: every run has a *write lock*, held from reading the run's state through the
send to updating the cache, so writers to one run (any number of threads) are one ordered
sequence and the cache never disagrees with the store; and a short *data lock* that readers take
to copy a consistent snapshot, so reads never wait for a slow request.

What the store refuses never enters the cache and is never queued again; what was queued before
a refused write is sent on its own, so one bad value cannot take good ones down with it.

Creates happen exactly once (:mod:`~lolpop.store._exactly_once`); what one call writes, and the
checks of what a store can hold, are :mod:`~lolpop.store._batch`.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from mlflow import MlflowClient
from mlflow.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from mlflow.exceptions import MlflowException
from lolpop.store import _compat as compat
from lolpop.store._batch import TERMINAL, Batch, check_batch, new_only
from lolpop.store._known_artifacts import KnownArtifacts
from lolpop.store._exactly_once import CreateOnce
from lolpop.store._registry_store import RegistryStore
from lolpop.store._retry import store_unavailable
from lolpop.store._connection import artifact_repository, warn_with_traceback
from lolpop.exceptions import ResourceNotFoundError
from lolpop.layout import filters
from lolpop.layout.keys import (
    CREATE_TOKEN_TAG,
    MAX_PARAMS_TAGS_PER_BATCH,
    MLFLOW_DATASET_CONTEXT,
    MLFLOW_RUN_NAME,
)
from lolpop.layout.native import DatasetRecord


#: MLflow accepts 1000 metrics in one log_batch; 900 leaves room for the tags riding along.
_MAX_METRICS_PER_BATCH = 900
# MLflow private names the run store reaches (listed, with their fallbacks, in store._compat).
_TRACKING_CLIENT = "mlflow.tracking.client.MlflowClient._tracking_client"
_GET_ARTIFACT_REPO = "mlflow.tracking._tracking_service.client.TrackingServiceClient._get_artifact_repo"

logger = logging.getLogger("lolpop.run_store")

T = TypeVar("T")

@dataclass
class _RunState:
    """An owned run: its entity, what the store accepted, and what waits to be sent."""

    run: Run
    tags: dict[str, str]
    params: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = "RUNNING"
    # Dataset inputs the run holds, as (name, digest, context).
    inputs: set[tuple[str, str, str]] = field(default_factory=set)
    pending: Batch = field(default_factory=Batch)
    pending_since: float | None = None
    # Full text of artifact-backed values this run holds, by artifact path (read-your-writes).
    big_values: dict[str, str] = field(default_factory=dict)
    artifact_repo: Any = None
    write_lock: threading.RLock = field(default_factory=threading.RLock)
    data_lock: threading.Lock = field(default_factory=threading.Lock)
    # Bumped (under data_lock) by every change a snapshot shows; the last snapshot is kept with
    # the version and status it was made for, so runs that have ended (a search's thousand
    # experiments) are not rebuilt at every lineage page and at stop().
    version: int = 0
    snapshot_cache: tuple[int, str, Run] | None = None


class RunStore:
    """Reads and writes runs of one MLflow store for one tracker (thread-safe).

    Args:
        client: the ``MlflowClient`` (explicit run ids only; never the fluent active run).
        tracking_uri: the store's URI (artifact repositories of owned runs are built from it).
        batched: hold writes of owned runs until a flush (see module docstring).
        flush_seconds: the longest a held write waits; a timer sends it even without new calls.
        tmp_dir: where downloaded values go.
        user: ``mlflow.user`` of every run it creates (MLflow's client sets none itself).
    """

    def __init__(self, client: MlflowClient, tracking_uri: str, *, batched: bool = False,
                 flush_seconds: float = 5.0, tmp_dir: str | None = None, user: str | None = None) -> None:
        self.client = client
        self.user = user
        self.tracking_uri = tracking_uri
        self.batched = batched
        self.flush_seconds = flush_seconds
        self._tmp_dir = tmp_dir
        self._owned: dict[str, _RunState] = {}
        self._lock = threading.Lock()  # guards _owned only
        self._timer: threading.Thread | None = None
        self._closing = threading.Event()
        #: every create of this store (runs, and the registry's) under one exactly-once rule
        self.creates = CreateOnce()
        #: the Model Registry and LoggedModel requests, on the same client and create rule
        self.registry = RegistryStore(client, self.creates)

    # -- owned runs ---------------------------------------------------------------------------
    def create_run(self, experiment_id: str, tags: Mapping[str, str], run_name: str | None = None,
                   start_time: int | None = None) -> Run:
        """Open a run (one request) and own it."""
        batch = Batch(tags=dict(tags))
        check_batch(batch)
        run = self._create_run_once(experiment_id, tags, run_name, start_time)
        with self._lock:
            self._owned[run.info.run_id] = _RunState(run, dict(run.data.tags), dict(run.data.params))
        return run

    def _create_run_once(self, experiment_id: str, tags: Mapping[str, str], run_name: str | None,
                         start_time: int | None = None) -> Run:
        token = uuid.uuid4().hex
        tags = {**({"mlflow.user": self.user} if self.user else {}), **tags, CREATE_TOKEN_TAG: token}

        def find() -> list[tuple[str, Run]]:
            runs = self.client.search_runs([experiment_id], filters.created_with(token),
                                           run_view_type=ViewType.ACTIVE_ONLY, max_results=100)
            return sorted(((r.info.run_id, r) for r in runs), key=lambda p: (p[1].info.start_time, p[0]))

        return self._create_once(
            f"run {run_name!r} (token {token})",
            lambda: self.client.create_run(experiment_id, tags=tags, run_name=run_name, start_time=start_time),
            find, lambda run: run.info.run_id, self._discard_run)

    def _create_once(self, what: str, create: Callable[[], T], find: Callable[[], list[tuple[str, T]]],
                     ident: Callable[[T], str], discard: Callable[[T], None]) -> T:
        return self.creates.run(what, create, find, ident, discard)

    def sweep(self) -> int:
        """Remove what creates applied after their lost answers were looked up
        (:meth:`~lolpop.store._exactly_once.CreateOnce.sweep`); how many were removed."""
        return self.creates.sweep()

    def _discard_run(self, run: Run) -> None:
        """A second run a lost answer left behind: deleted, or ended KILLED where the user may
        not delete runs (MLflow's EDIT permission), so it is never RUNNING for ever."""
        run_id = run.info.run_id
        try:
            self.client.delete_run(run_id)
        except MlflowException:
            self._update_run_info(run_id, "KILLED", int(time.time() * 1000), None)
        logger.warning("lolpop: removed run %s, a duplicate a lost answer left behind", run_id)

    def _state(self, run_id: str) -> _RunState | None:
        with self._lock:
            return self._owned.get(run_id)

    def owns(self, run_id: str) -> bool:
        return self._state(run_id) is not None

    def owned_run_ids(self) -> list[str]:
        with self._lock:
            return list(self._owned)

    def status(self, run_id: str) -> str | None:
        state = self._state(run_id)
        return state.status if state is not None else None

    def snapshot(self, run_id: str, status: str | None = None) -> Run | None:
        """An owned run as a ``Run`` entity of what this store holds (pending writes included),
        with ``status`` in place of its own when given; ``None`` for runs it does not own."""
        state = self._state(run_id)
        if state is None:
            return None
        with state.data_lock:
            status = status or state.status
            cached = state.snapshot_cache
            if cached is not None and cached[0] == state.version and cached[1] == status:
                return cached[2]  # nothing it shows changed (callers only read snapshots)
            tags = {**state.tags, **state.pending.tags}
            params = {**state.params, **state.pending.params}
            metrics = {**state.metrics, **state.pending.metrics}
            info = state.run.info
            version = state.version
        info = RunInfo(info.run_id, info.experiment_id, info.user_id, status, info.start_time,
                       info.end_time, info.lifecycle_stage, info.artifact_uri, info.run_name)
        data = RunData(metrics=[Metric(k, v, 0, 0) for k, v in metrics.items()],
                       params=[Param(k, v) for k, v in params.items()],
                       tags=[RunTag(k, v) for k, v in tags.items()])
        run = Run(info, data)
        with state.data_lock:
            if state.version == version:
                state.snapshot_cache = (version, status, run)
        return run

    def held_runs(self, statuses: Mapping[str, str] | None = None) -> dict[str, Run]:
        """:meth:`snapshot` of every owned run, by run id (``statuses`` overrides by run id)."""
        statuses = statuses or {}
        held = {run_id: self.snapshot(run_id, statuses.get(run_id)) for run_id in self.owned_run_ids()}
        return {run_id: run for run_id, run in held.items() if run is not None}

    def get_run(self, run_id: str) -> Run:
        """The run: the entity this store holds for an owned run, else one ``runs/get``.

        Raises:
            ResourceNotFoundError: the store has no such run.
        """
        state = self._state(run_id)
        if state is not None:
            return state.run
        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise ResourceNotFoundError(f"no MLflow run {run_id!r}", run_id=run_id) from exc
            raise

    def data(self, run_id: str) -> tuple[dict[str, str], dict[str, str]]:
        """Tags and params of a run (a snapshot): owned runs from the cache, others from the store.

        The snapshot includes writes still pending, so a tracker always reads its own writes.
        """
        state = self._state(run_id)
        if state is None:
            run = self.get_run(run_id)
            return dict(run.data.tags), dict(run.data.params)
        with state.data_lock:
            return {**state.tags, **state.pending.tags}, {**state.params, **state.pending.params}

    def big_value(self, run_id: str, path: str) -> str:
        """The text of an artifact-backed value (from memory when this store wrote it)."""
        state = self._state(run_id)
        if state is not None:
            with state.data_lock:
                cached = state.pending.uploads.get(path, state.big_values.get(path))
            if cached is not None:
                return cached
        local = self.artifacts(run_id).download_artifacts(path, tempfile.mkdtemp(dir=self._tmp_dir))
        return Path(local).read_text(encoding="utf-8")

    # -- writes -------------------------------------------------------------------------------
    def write(self, run_id: str, build: Callable[[dict[str, str], dict[str, str]], Batch],
              *, defer: bool | None = None) -> None:
        """Write what ``build(tags, params)`` returns for the run's current tags and params.

        ``build`` runs under the run's write lock with the run's current state, and may raise to
        refuse the call (nothing is written then). What the run already holds is not sent again.
        Owned runs: sent now, or held when ``defer`` (``None``: held in batched mode). Other runs:
        their state is read from the store first and the batch is sent at once.
        """
        state = self._state(run_id)
        if state is None:
            run = self.get_run(run_id)
            tags, params = dict(run.data.tags), dict(run.data.params)
            batch = new_only(build(tags, params), tags, params, run.data.metrics)
            check_batch(batch)
            self._send(run_id, batch)
            return
        with state.write_lock:
            tags, params = self.data(run_id)
            with state.data_lock:
                metrics = {**state.metrics, **state.pending.metrics}
            batch = new_only(build(tags, params), tags, params, metrics)
            check_batch(batch)
            if not batch:
                return
            if defer is None:
                defer = self.batched and state.status not in TERMINAL
            if defer:
                with state.data_lock:
                    state.pending = state.pending.merged(batch)
                    state.version += 1
                    state.pending_since = state.pending_since or time.monotonic()
                    due = state.pending.size() >= MAX_PARAMS_TAGS_PER_BATCH or \
                        time.monotonic() - state.pending_since >= self.flush_seconds
                if due:
                    self._flush_locked(run_id, state)
                elif self.batched:
                    # Immediate mode holds only a new experiment's id tags, which its run tags
                    # already state: they ride along with the run's next request, never alone.
                    self._start_timer()
                return
            self._send_with_pending(run_id, state, batch)

    def _send_with_pending(self, run_id: str, state: _RunState, batch: Batch) -> None:
        """Send ``batch`` together with what the run holds back; commit to the cache on success.

        If the store refuses the request, the entries that were pending before are valid on
        their own (each passed its call's checks): they are sent alone, and the refusal raised.
        """
        with state.data_lock:
            held = state.pending
        try:
            self._send(run_id, held.merged(batch))
        except BaseException as exc:
            if held and not store_unavailable(exc):
                try:
                    self._send(run_id, held)
                    self._commit(state, held, clear_pending=True)
                except Exception:  # noqa: BLE001 - the original refusal is the error to report
                    warn_with_traceback(logger, "lolpop: could not send held writes of run %s; kept for the next "
                                        "flush", run_id)
            raise
        self._commit(state, held.merged(batch), clear_pending=bool(held))

    def _commit(self, state: _RunState, sent: Batch, *, clear_pending: bool) -> None:
        with state.data_lock:
            state.tags.update(sent.tags)
            state.params.update(sent.params)
            state.metrics.update(sent.metrics)
            state.big_values.update(sent.uploads)
            state.version += 1
            if clear_pending:
                state.pending, state.pending_since = Batch(), None

    def _send(self, run_id: str, batch: Batch) -> None:
        """Upload artifact-backed values, then ``log_batch`` in as few requests as MLflow allows."""
        for path, text in batch.uploads.items():
            with tempfile.TemporaryDirectory(dir=self._tmp_dir) as tmp:
                local = Path(tmp) / Path(path).name
                local.write_text(text, encoding="utf-8")
                self.artifacts(run_id).log_artifact(str(local), str(Path(path).parent))
        now = int(time.time() * 1000)
        entries: list[Param | RunTag | Metric] = [Param(k, v) for k, v in batch.params.items()]
        entries += [Metric(k, v, now, 0) for k, v in batch.metrics.items()]
        entries += [RunTag(k, v) for k, v in batch.tags.items()]
        for start in range(0, len(entries), MAX_PARAMS_TAGS_PER_BATCH):
            chunk = entries[start : start + MAX_PARAMS_TAGS_PER_BATCH]
            self.client.log_batch(
                run_id,
                params=[e for e in chunk if isinstance(e, Param)],
                metrics=[e for e in chunk if isinstance(e, Metric)],
                tags=[e for e in chunk if isinstance(e, RunTag)],
                synchronous=True,
            )

    def log_inputs(self, run_id: str, records: Iterable[DatasetRecord]) -> None:
        """Log dataset inputs to a run in one ``log_inputs`` request (none when an owned run
        already holds them all). MLflow keeps one dataset per (experiment, name, digest)."""
        state = self._state(run_id)
        wanted = {(r.name, r.digest, r.context): r for r in records}
        if state is not None:
            with state.data_lock:
                wanted = {k: r for k, r in wanted.items() if k not in state.inputs}
        if not wanted:
            return
        inputs = [DatasetInput(Dataset(r.name, r.digest, r.source_type, r.source, profile=r.profile),
                               [InputTag(MLFLOW_DATASET_CONTEXT, r.context)]) for r in wanted.values()]
        self.client.log_inputs(run_id, datasets=inputs)
        if state is not None:
            with state.data_lock:
                state.inputs.update(wanted)

    def _flush_locked(self, run_id: str, state: _RunState) -> None:
        with state.data_lock:
            held = state.pending
        if not held:
            return
        try:
            self._send(run_id, held)
        except BaseException as exc:
            if not store_unavailable(exc):
                # Every held entry passed its call's checks, so this should not happen; holding
                # them would resend a refused request forever.
                with state.data_lock:
                    state.pending, state.pending_since = Batch(), None
                    state.version += 1
                logger.error("lolpop: the store refused held writes of run %s; dropped: %s",
                             run_id, sorted(held.tags) + sorted(held.params))
            raise
        self._commit(state, held, clear_pending=True)

    def flush(self, run_id: str | None = None) -> None:
        """Send what is held back, for one owned run or all."""
        for rid in [run_id] if run_id is not None else self.owned_run_ids():
            state = self._state(rid)
            if state is not None:
                with state.write_lock:
                    self._flush_locked(rid, state)

    def _start_timer(self) -> None:
        with self._lock:
            if self._timer is not None or self._closing.is_set():
                return
            self._timer = threading.Thread(target=self._timer_loop, name="lolpop-flush", daemon=True)
            self._timer.start()

    def _timer_loop(self) -> None:
        # Bounds the batched window by time alone: a process idle after its last write (or killed
        # with SIGKILL later) has lost at most flush_seconds of writes.
        tick = max(min(self.flush_seconds / 4, 1.0), 0.05)
        while not self._closing.wait(tick):
            for run_id in self.owned_run_ids():
                state = self._state(run_id)
                if state is None or state.pending_since is None:
                    continue
                if time.monotonic() - state.pending_since < self.flush_seconds:
                    continue
                if not state.write_lock.acquire(blocking=False):
                    continue  # a writer is busy with this run; it sends or the next tick does
                try:
                    self._flush_locked(run_id, state)
                except Exception:  # noqa: BLE001 - kept pending; reported, retried next tick
                    warn_with_traceback(logger, "lolpop: timed flush of run %s failed; will retry", run_id)
                finally:
                    state.write_lock.release()

    # -- run life cycle -------------------------------------------------------------------------
    def update_run(self, run_id: str, status: str | None = None, end_time: int | None = None,
                   name: str | None = None) -> None:
        """Change a run's status / end time / name in one request (after sending what it holds).

        ``MlflowClient.set_terminated`` would first fetch the run just to log its URL, and the
        client API cannot set an end time without a status; the store's ``update_run_info`` does
        both in one request.
        """
        state = self._state(run_id)
        lock = state.write_lock if state is not None else threading.RLock()
        with lock:
            if state is not None:
                self._flush_locked(run_id, state)
            if status is None:
                status = state.status if state is not None else self.get_run(run_id).info.status
            info = self._update_run_info(run_id, status, end_time, name)
            if state is not None:
                with state.data_lock:
                    state.status = status
                    state.version += 1
                    if info is not None:
                        state.run = Run(info, state.run.data, state.run.inputs)
                    if name is not None:
                        state.tags[MLFLOW_RUN_NAME] = name  # the store renamed the run's tag too

    def _update_run_info(self, run_id: str, status: str, end_time: int | None, name: str | None) -> Any:
        """The store's ``update_run_info`` (one request), reached through the client's private
        ``_tracking_client``; on an MLflow without it, the public ``set_terminated`` /
        ``update_run`` (each fetches the run first) and a ``get_run`` for the new run info."""
        if compat.available(_TRACKING_CLIENT):
            return self.client._tracking_client.store.update_run_info(
                run_id, RunStatus.from_string(status), end_time, name)
        if end_time is not None:
            self.client.set_terminated(run_id, status, end_time)
            if name is not None:
                self.client.update_run(run_id, name=name)
        else:
            self.client.update_run(run_id, status=status, name=name)
        return self.client.get_run(run_id).info

    def terminate(self, run_id: str, status: str) -> None:
        self.update_run(run_id, status, int(time.time() * 1000))

    def close(self) -> None:
        """Stop the flush timer (what is pending must have been flushed by the caller)."""
        self._closing.set()
        timer = self._timer
        if timer is not None and timer is not threading.current_thread():
            timer.join(timeout=5)

    # -- searches and artifacts ------------------------------------------------------------------
    def search(self, experiment_ids: Iterable[str], filter_string: str, order_by: list[str],
               max_results: int) -> list[Run]:
        return list(self.client.search_runs(experiment_ids=list(experiment_ids), filter_string=filter_string,
                                            order_by=order_by, max_results=max_results))

    def artifacts(self, run_id: str, artifact_uri: str | None = None) -> Any:
        """The artifact repository of a run. For owned runs (and when the caller knows the run's
        ``artifact_uri``) it is built from that URI; ``MlflowClient`` would first fetch the run to
        learn it (one request more)."""
        state = self._state(run_id)
        if state is None:
            if artifact_uri is not None:
                return artifact_repository(self.client, artifact_uri)
            if compat.available(_TRACKING_CLIENT) and compat.available(_GET_ARTIFACT_REPO):
                return self.client._tracking_client._get_artifact_repo(run_id)
            # What MLflow's _get_artifact_repo does, without its cache: fetch the run for its URI.
            return artifact_repository(self.client, self.client.get_run(run_id).info.artifact_uri)
        with state.data_lock:
            if state.artifact_repo is None:
                # A run this store created: its uploads are remembered, its listings answered here.
                state.artifact_repo = KnownArtifacts(artifact_repository(self.client, state.run.info.artifact_uri))
            return state.artifact_repo

    def known_artifacts(self, run_id: str, path: str) -> list[tuple[str, int | None]] | None:
        """The files under ``path`` of a run this store created, ``[(artifact path, size)]``, without
        a request; ``None`` for another run, or when only the store can say (see
        :mod:`lolpop.store._known_artifacts`)."""
        state = self._state(run_id)
        if state is None:
            return None
        return self.artifacts(run_id).known_files(path)

    def search_all(self, experiment_ids: Iterable[str], filter_string: str, page_size: int = 1000) -> list[Run]:
        """Every run matching ``filter_string`` (one ``runs/search`` request per page), newest first."""
        out: list[Run] = []
        token = None
        while True:
            page = self.client.search_runs(experiment_ids=list(experiment_ids), filter_string=filter_string,
                                           order_by=["attributes.start_time DESC"], max_results=page_size,
                                           page_token=token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    # -- runs and experiments this tracker does not own (the version index) ---------------------
    def fetch_run(self, run_id: str) -> Run | None:
        """One ``runs/get``, never from the cache; ``None`` when the store has no such run."""
        try:
            return self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                return None
            raise

    def experiment_tags(self, experiment_id: str) -> dict[str, str]:
        """One ``experiments/get``: the experiment's tags."""
        return self.experiment_facts(experiment_id)[0]

    def experiment_facts(self, experiment_id: str) -> tuple[dict[str, str], int | None]:
        """One ``experiments/get``: the experiment's tags and creation time (ms, the server's)."""
        experiment = self.client.get_experiment(experiment_id)
        return dict(experiment.tags), experiment.creation_time

    def set_experiment_tag(self, experiment_id: str, key: str, value: str) -> None:
        self.client.set_experiment_tag(experiment_id, key, value)

    def create_finished_run(self, experiment_id: str, tags: Mapping[str, str], run_name: str) -> Run:
        """A run this tracker does not own, created and set FINISHED at once (two requests)."""
        run = self._create_run_once(experiment_id, tags, run_name)
        self._update_run_info(run.info.run_id, "FINISHED", int(time.time() * 1000), None)
        return run

    def delete_run(self, run_id: str) -> None:
        self.client.delete_run(run_id)

    def log_unowned(self, run_id: str, metrics: Iterable[tuple[str, float, int]] = (),
                    tags: Mapping[str, str] | None = None) -> None:
        """One ``log_batch`` to a run this tracker does not own; metrics are ``(key, value, step)``
        with the step as timestamp too."""
        entries = [Metric(k, v, step, step) for k, v, step in metrics]
        tag_entries = [RunTag(k, v) for k, v in (tags or {}).items()]
        for start in range(0, max(len(entries), 1), _MAX_METRICS_PER_BATCH):
            self.client.log_batch(run_id, metrics=entries[start : start + _MAX_METRICS_PER_BATCH],
                                  tags=tag_entries if start == 0 else [], synchronous=True)
