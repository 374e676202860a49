"""Lineage as OpenLineage run events (spec 2-0-2), written with the ``openlineage-python`` package.

Mapping (one OpenLineage *run* per resource version, a START and a final event each):

* a dataset version is the output of a ``process.<id>`` job run; its version facet
  (``DatasetVersionDatasetFacet``) is the recorded ``hexsha`` (the run id when there is none);
* a model version is the output of a ``train.<id>`` job run whose inputs are the dataset versions
  it was trained on; as a dataset its version is its MLflow run id;
* a prediction job is a ``predict.<id>`` job run: input the model version, output the job itself;
* an experiment (a nested MLflow run) is a ``train.<model id>.<label>`` job run whose
  ``ParentRunFacet`` names the train run of its model version;
* every other run's ``ParentRunFacet`` names the lolpop *workflow run* that holds it: job
  ``<MLflow experiment name>``, run id = the MLflow run id as a UUID — the same job and run the
  tracker's live START / COMPLETE events (:class:`Emitter`) use.

Jobs and datasets share one namespace (:data:`NAMESPACE`). The final event follows the MLflow
run status: FINISHED -> COMPLETE, FAILED -> FAIL, KILLED -> ABORT (a running run has only START).

:class:`Emitter` sends events to an OpenLineage HTTP endpoint through the package's
``HttpTransport``, built from the URL alone (no config file, no environment lookup). Sending never
fails tracking, and never holds it up for long: each event's request has a total deadline
(:data:`EVENT_DEADLINE`, 5 s), one call all its events together another (:data:`CALL_DEADLINE`,
10 s), whatever the endpoint does — down, silent, or answering a byte at a time. An event that
cannot be delivered is logged and kept (at most :data:`MAX_PENDING`, oldest dropped first), and
sent again, in order, before the next event. Delivery is at-least-once (see :class:`Emitter`).
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from lolpop.layout.keys import EXPERIMENT, MODEL_VERSION, PREDICTION_JOB, is_experiment_id

logger = logging.getLogger("lolpop.openlineage")

NAMESPACE = "lolpop"
PRODUCER = "https://pypi.org/project/lolpop/"
INTEGRATION = "LOLPOP"
#: Undelivered events kept for the next attempt (oldest dropped first, with a warning).
MAX_PENDING = 1000
#: Seconds one event's HTTP request may take in all — connecting, sending, the whole answer —
#: however the endpoint behaves (also the per-read socket timeout). Past it the request is cut off
#: and the event stays kept.
EVENT_DEADLINE = 5.0
#: Seconds one call (:meth:`Emitter.emit` / :meth:`Emitter.retry`) may spend on all the events it
#: sends, kept ones included; what it could not send by then stays kept for the next call.
CALL_DEADLINE = 10.0
#: The name :data:`EVENT_DEADLINE` had when it was only a per-read timeout.
HTTP_TIMEOUT = EVENT_DEADLINE
FINAL_STATES = {"FINISHED": "COMPLETE", "FAILED": "FAIL", "KILLED": "ABORT"}
_STEPS = {"dataset_version": "process", MODEL_VERSION: "train", PREDICTION_JOB: "predict"}
_RUN_NS = uuid.UUID("6c0b2a5e-4f7e-5b1c-9f1e-6c6f6c706f70")


def run_uuid(mlflow_run_id: str) -> str:
    """An MLflow run id (32 hex digits) as the UUID OpenLineage wants."""
    return str(uuid.UUID(hex=mlflow_run_id))


def step_uuid(node_key: str) -> str:
    """A stable UUID for the step of one resource version (several share an MLflow run)."""
    return str(uuid.uuid5(_RUN_NS, node_key))


def _iso(ms: int | None) -> str:
    return datetime.fromtimestamp((ms or 0) / 1000, tz=timezone.utc).isoformat()


def _version(node: Any) -> str:
    hexsha = node.highlights.get("hexsha") if node.type not in (MODEL_VERSION, PREDICTION_JOB) else None
    return str(hexsha) if hexsha else node.run_id


def _dataset(cls: Any, node: Any) -> Any:
    from openlineage.client.facet_v2 import dataset_version_dataset

    return cls(namespace=NAMESPACE, name=node.id, facets={
        "version": dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=_version(node),
                                                                       producer=PRODUCER)})


def _job_type(kind: str) -> Any:
    from openlineage.client.facet_v2 import job_type_job

    return job_type_job.JobTypeJobFacet(processingType="BATCH", integration=INTEGRATION,
                                        jobType=kind.upper(), producer=PRODUCER)


def _parent(job_name: str, run_id: str) -> Any:
    from openlineage.client.facet_v2 import parent_run

    return parent_run.ParentRunFacet(run=parent_run.Run(runId=run_id),
                                     job=parent_run.Job(namespace=NAMESPACE, name=job_name), producer=PRODUCER)


def workflow_event(event_type: str, experiment_name: str, mlflow_run_id: str, when: datetime | None = None) -> Any:
    """The event of a lolpop workflow run (job = the MLflow experiment name)."""
    from openlineage.client.event_v2 import Job, Run, RunEvent, RunState

    return RunEvent(
        eventType=RunState(event_type), eventTime=(when or datetime.now(timezone.utc)).isoformat(),
        run=Run(runId=run_uuid(mlflow_run_id)),
        job=Job(namespace=NAMESPACE, name=experiment_name, facets={"jobType": _job_type("workflow")}),
        producer=PRODUCER,
    )


def lineage_events(graph: Any, get_run: Callable[[str], Any],
                   experiment_name: Callable[[str], str]) -> list[Any]:
    """OpenLineage ``RunEvent`` objects for every node of a :class:`~lolpop.lineage.graph.LineageGraph`,
    oldest first: a START and (unless the run is still running) a final event per node.

    Args:
        graph: the lineage graph.
        get_run: the MLflow run of a run id (for start / end times; a reader's cached ``get_run``).
        experiment_name: the MLflow experiment name of an experiment id (the workflow job's name).
    """
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState

    events: list[tuple[str, int, Any]] = []
    for node in graph.nodes.values():
        mlflow_run = get_run(node.run_id)
        inputs: list[Any] = []
        outputs: list[Any] = []
        facets: dict[str, Any] = {}
        if node.type == EXPERIMENT or is_experiment_id(node.id) and node.id.startswith(node.run_id):
            model = next((graph.nodes[e.target] for e in graph.children(node.key)), None)
            model_id = model.id if model is not None else node.id.split(".", 1)[1]
            kind, name, run_id = "train", f"train.{model_id}.{node.label}", run_uuid(node.run_id)
            if model is not None:
                facets["parent"] = _parent(f"train.{model.id}", step_uuid(model.key))
        else:
            kind = _STEPS.get(node.type or "", node.type or "resource")
            name, run_id = f"{kind}.{node.id}", step_uuid(node.key)
            facets["parent"] = _parent(experiment_name(node.experiment_id), run_uuid(node.run_id))
            for edge in graph.parents(node.key):
                source = graph.nodes[edge.source]
                if source.type != EXPERIMENT and not is_experiment_id(source.id):
                    inputs.append(_dataset(InputDataset, source))
            outputs.append(_dataset(OutputDataset, node))
        job = Job(namespace=NAMESPACE, name=name, facets={"jobType": _job_type(kind)})
        start_ms = mlflow_run.info.start_time or 0
        states = [("START", start_ms)]
        final = FINAL_STATES.get(mlflow_run.info.status)
        if final is not None:
            states.append((final, mlflow_run.info.end_time or start_ms))
        for state, ms in states:
            events.append((_iso(ms), 0 if state == "START" else 1, RunEvent(
                eventType=RunState(state), eventTime=_iso(ms), run=Run(runId=run_id, facets=dict(facets)),
                job=job, inputs=list(inputs), outputs=list(outputs), producer=PRODUCER)))
    events.sort(key=lambda e: (e[0], e[1]))
    return [e[2] for e in events]


def to_json(event: Any) -> str:
    """One event as one line of JSON (ASCII: control characters from a store are escaped)."""
    from openlineage.client.serde import Serde

    return json.dumps(Serde.to_dict(event), sort_keys=True, ensure_ascii=True)


def to_ndjson(events: list[Any]) -> str:
    """Events as NDJSON: one JSON event per line."""
    return "".join(to_json(e) + "\n" for e in events)


def graph_ndjson(graph: Any, reader: Any) -> str:
    """The lineage graph as OpenLineage NDJSON, run times and experiment names read through
    ``reader`` (a :class:`~lolpop.store.reader.StoreReader`; its runs are cached)."""
    names: dict[str, str] = {}

    def experiment_name(exp_id: str) -> str:
        if exp_id not in names:
            try:
                names[exp_id] = str(reader.client.get_experiment(exp_id).name)
            except Exception:  # noqa: BLE001 - a name is a nicety; the id still identifies it
                names[exp_id] = f"mlflow-experiment-{exp_id}"
        return names[exp_id]

    return to_ndjson(lineage_events(graph, reader.get_run, experiment_name))


# The attempt running on the current thread: the connections of the watched adapter hand it their
# socket, so that the attempt's deadline can shut that socket down.
_local = threading.local()


def _shutdown(sock: socket.socket) -> None:
    # socket.socket's own shutdown, also for an SSLSocket: it acts on the file descriptor without
    # touching the TLS state another thread is blocked in; a blocked read or write then returns.
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass  # already closed (or detached by the TLS wrap, which is watched in turn)


def _watched(sock: Any) -> Any:
    attempt = getattr(_local, "attempt", None)
    if attempt is not None:
        attempt.watch(sock)
    return sock


def _watched_adapter() -> Any:
    """A ``requests`` adapter for the transport whose connections hand every socket they open to
    the attempt running on their thread, and that never retries (a retried request could deliver
    an event twice; the kept queue retries at the next call instead)."""
    import urllib3
    from requests.adapters import HTTPAdapter
    from urllib3.connection import HTTPConnection, HTTPSConnection
    from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

    class Connection(HTTPConnection):
        def _new_conn(self) -> socket.socket:
            return _watched(super()._new_conn())

    class TLSConnection(HTTPSConnection):
        def _new_conn(self) -> socket.socket:
            return _watched(super()._new_conn())  # the TLS handshake is under the deadline too

        def connect(self) -> None:
            super().connect()
            _watched(self.sock)  # the TLS socket took over the file descriptor of the plain one

    class Pool(HTTPConnectionPool):
        ConnectionCls = Connection

    class TLSPool(HTTPSConnectionPool):
        ConnectionCls = TLSConnection

    pools = {"http": Pool, "https": TLSPool}

    class Adapter(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            super().init_poolmanager(*args, **kwargs)
            self.poolmanager.pool_classes_by_scheme = pools

        def proxy_manager_for(self, proxy: str, **kwargs: Any) -> Any:
            manager = super().proxy_manager_for(proxy, **kwargs)
            if type(manager) is urllib3.ProxyManager:  # a SOCKS manager keeps its own pools
                manager.pool_classes_by_scheme = pools
            return manager

    return Adapter(max_retries=urllib3.util.Retry(total=0, connect=0, read=0, status_forcelist=[]))


class _Attempt:
    """One event's HTTP request, on its own daemon thread, cut off at its deadline.

    The request runs off the caller's thread so that the caller waits on a clock, not on a socket:
    a per-read timeout never fires against an endpoint that sends a byte now and then, and name
    resolution has no timeout at all. At the deadline a timer shuts the request's socket down,
    which ends a blocked read or write at once, so the thread does not outlive its deadline by
    more than a moment. Should it anyway (in name resolution), it is still the emitter's only
    request in flight: no other starts until it has ended.
    """

    def __init__(self, transport: Any, event: Any, deadline: float) -> None:
        self.transport = transport
        self.event = event
        self.deadline = deadline
        self.error: BaseException | None = None
        self.cut_off = False
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(deadline, self.cut)
        self._timer.name = "lolpop-openlineage-deadline"
        self._timer.daemon = True
        # Daemon: an interpreter exiting must never wait for an endpoint.
        thread = threading.Thread(target=self._run, name="lolpop-openlineage", daemon=True)
        # Both start or neither does: a request never runs without its deadline, nor unaccounted.
        self._timer.start()
        try:
            thread.start()
        except BaseException:
            self._timer.cancel()
            raise

    def _run(self) -> None:
        _local.attempt = self
        try:
            self.transport.emit(self.event)
        except BaseException as exc:  # noqa: BLE001 - reported by the emitter, on the caller's thread
            self.error = exc
        finally:
            _local.attempt = None
            self._timer.cancel()
            # No connection outlives its attempt: the next attempt then opens its own, on its own
            # thread, so that it is watched by its own deadline (a kept-alive one would not be).
            try:
                self.transport.close()
            except Exception:  # noqa: BLE001
                pass
            self.done.set()

    def watch(self, sock: socket.socket) -> None:
        """Take ``sock`` under the deadline (shut down at once if the deadline has passed)."""
        with self._lock:
            self._sockets.append(sock)
            cut_off = self.cut_off
        if cut_off:
            _shutdown(sock)

    def cut(self) -> None:
        """The deadline: shut the request's sockets down (its thread then ends with an error)."""
        with self._lock:
            self.cut_off = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


class Emitter:
    """Sends events to an OpenLineage HTTP endpoint (``<url>/api/v1/lineage``), never raising, and
    never waiting on it longer than its deadlines.

    Bounds: :meth:`emit` and :meth:`retry` return within ``call_deadline`` (:data:`CALL_DEADLINE`,
    10 s) whatever the endpoint does, each request being cut off after ``timeout``
    (:data:`EVENT_DEADLINE`, 5 s) in total; :meth:`close` sends nothing and does not wait.

    Order: an event that cannot be delivered is logged and kept; each call sends the kept events
    first, oldest first, then the new one, one request at a time, and stops at the first failure.
    The next request starts only when the previous one has ended — also across calls: a request
    still open when its call's budget ran out is waited for, and its answer taken, by the next
    call before anything else is sent. An event leaves the queue only on a 2xx answer to its own
    request. At most :data:`MAX_PENDING` are kept (the oldest are dropped, with a warning).

    Delivery is at-least-once, by choice: a request that failed after it was sent — cut off at its
    deadline, or its answer lost — may still have been applied by the endpoint, and its event is
    sent again (the same event: same ``runId``, ``eventType`` and ``eventTime``, by which OpenLineage
    consumers such as Marquez de-duplicate, so the resend is harmless). An endpoint that refused
    or never read a request (down, restarting) gets every event exactly once, in order. The
    opposite choice (drop whatever was cut off) would lose the events of a merely slow endpoint.
    Likewise, an event that :meth:`close` reports as lost while its request is still open (until
    its own deadline) may yet arrive.

    Args:
        url: the endpoint's base URL, e.g. ``http://127.0.0.1:5000``.
        timeout: seconds one event's request may take in all (also the per-read timeout).
        call_deadline: seconds one :meth:`emit` / :meth:`retry` may spend on all its events.
    """

    def __init__(self, url: str, timeout: float = EVENT_DEADLINE, call_deadline: float = CALL_DEADLINE) -> None:
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        self.transport = HttpTransport(HttpConfig(url=url, timeout=timeout, adapter=_watched_adapter()))
        self.timeout = timeout
        self.call_deadline = call_deadline
        self.pending: deque[Any] = deque()
        self.sent = 0
        self.dropped = 0
        # The request in flight, if any: at most one, ever (the order argument above rests on it).
        self._inflight: _Attempt | None = None
        # Guards pending and _inflight; never held while waiting on the network.
        self._lock = threading.Lock()

    def emit(self, event: Any) -> bool:
        """Queue ``event`` and send everything queued, oldest first; ``True`` when nothing is left.
        Returns within ``call_deadline``."""
        with self._lock:
            if len(self.pending) >= MAX_PENDING:
                self.pending.popleft()
                self.dropped += 1
                logger.warning("OpenLineage: %d undelivered event(s) kept; dropped the oldest", MAX_PENDING)
            self.pending.append(event)
        return self.retry()

    def retry(self) -> bool:
        """Send the kept events, oldest first, until one fails or ``call_deadline`` has passed;
        ``True`` when none is left."""
        try:
            return self._send_kept(time.monotonic() + self.call_deadline)
        except Exception as exc:  # noqa: BLE001 - lineage export never fails tracking (e.g. no thread left)
            logger.warning("OpenLineage: could not send (%d kept for the next attempt): %s", len(self.pending),
                           " ".join(str(exc).split())[:300])
            return False

    def _send_kept(self, end: float) -> bool:
        while True:
            with self._lock:
                attempt = self._inflight
                if attempt is None:
                    if not self.pending:
                        return True
                    if time.monotonic() >= end:
                        return self._out_of_time()
                    attempt = self._inflight = _Attempt(self.transport, self.pending[0], self.timeout)
            if not attempt.done.wait(max(0.0, end - time.monotonic())):
                # Still in flight (its own deadline will cut it): its outcome counts at the next call.
                with self._lock:
                    return self._out_of_time()
            with self._lock:
                if self._inflight is not attempt:
                    continue  # another thread took this outcome
                if not self._settle(attempt):
                    return False

    def _settle(self, attempt: _Attempt) -> bool:
        """Take the outcome of the finished ``attempt`` (under the lock); ``True`` if delivered."""
        self._inflight = None
        if attempt.error is None:
            # Only if still first: MAX_PENDING may have dropped it while it was in flight.
            if self.pending and self.pending[0] is attempt.event:
                self.pending.popleft()
            self.sent += 1
            return True
        self._warn(attempt)
        return False

    def _out_of_time(self) -> bool:
        logger.warning("OpenLineage: %d event(s) not sent within this call's %g s; kept for the next attempt",
                       len(self.pending), self.call_deadline)
        return False

    def _warn(self, attempt: _Attempt) -> None:
        what = getattr(getattr(attempt.event, "eventType", None), "value", "an")
        if attempt.cut_off:
            logger.warning("OpenLineage: could not send %s event within its %g s deadline (it may still have "
                           "reached the endpoint; %d kept and sent again at the next attempt)",
                           what, attempt.deadline, len(self.pending))
        else:
            logger.warning("OpenLineage: could not send %s event (%d kept for the next attempt): %s", what,
                           len(self.pending), " ".join(str(attempt.error).split())[:300])

    def close(self) -> None:
        """Log what is still kept as lost, and release the transport. No request and no wait:
        the tracker calls it right after :meth:`emit` has just tried (a second try at once would
        only double the wait); call :meth:`retry` first for a last attempt."""
        with self._lock:
            attempt = self._inflight
            if attempt is not None and attempt.done.is_set():
                self._settle(attempt)  # it ended after its call gave up waiting: it may have delivered
                attempt = None
            lost = len(self.pending)
        if lost:
            logger.warning("OpenLineage: %d event(s) could not be delivered and are lost%s", lost,
                           "" if attempt is None else
                           " (the first one's request is still open until its deadline: it may yet arrive)")
        if attempt is None:  # an open request closes the transport itself when it ends
            try:
                self.transport.close()
            except Exception:  # noqa: BLE001
                pass
