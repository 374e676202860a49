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
fails tracking: an event that cannot be delivered is logged and kept (at most
:data:`MAX_PENDING`, oldest dropped first), and sent again, in order, before the next event.
"""

from __future__ import annotations

import json
import logging
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
#: Seconds per HTTP attempt; a down endpoint costs at most this per emission.
HTTP_TIMEOUT = 5.0
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
    ``reader`` (a :class:`~lolpop.lineage.store.StoreReader`; its runs are cached)."""
    names: dict[str, str] = {}

    def experiment_name(exp_id: str) -> str:
        if exp_id not in names:
            try:
                names[exp_id] = str(reader.client.get_experiment(exp_id).name)
            except Exception:  # noqa: BLE001 - a name is a nicety; the id still identifies it
                names[exp_id] = f"mlflow-experiment-{exp_id}"
        return names[exp_id]

    return to_ndjson(lineage_events(graph, reader.get_run, experiment_name))


class Emitter:
    """Sends events to an OpenLineage HTTP endpoint (``<url>/api/v1/lineage``), never raising.

    An event that cannot be delivered is logged and kept; before each new event, and at
    :meth:`close`, the kept ones are sent first, in order, so a restarted endpoint receives every
    event once and in order. At most :data:`MAX_PENDING` are kept (the oldest are dropped, with a
    warning).

    Args:
        url: the endpoint's base URL, e.g. ``http://127.0.0.1:5000``.
        timeout: seconds per HTTP attempt.
    """

    def __init__(self, url: str, timeout: float = HTTP_TIMEOUT) -> None:
        from openlineage.client.transport.http import HttpConfig, HttpTransport

        # No retries inside the transport: a read retry could deliver an event twice; the pending
        # queue retries at the next emission instead.
        config = HttpConfig(url=url, timeout=timeout,
                            retry={"total": 0, "connect": 0, "read": 0, "status_forcelist": []})
        self.transport = HttpTransport(config)
        self.pending: deque[Any] = deque()
        self.sent = 0
        self.dropped = 0

    def emit(self, event: Any) -> bool:
        """Queue ``event`` and send everything queued, oldest first; ``True`` when nothing is left."""
        if len(self.pending) >= MAX_PENDING:
            self.pending.popleft()
            self.dropped += 1
            logger.warning("OpenLineage: %d undelivered event(s) kept; dropped the oldest", MAX_PENDING)
        self.pending.append(event)
        return self.retry()

    def retry(self) -> bool:
        """Send the kept events, oldest first, until one fails; ``True`` when none is left."""
        while self.pending:
            event = self.pending[0]
            try:
                self.transport.emit(event)
            except Exception as exc:  # noqa: BLE001 - lineage export never fails tracking
                logger.warning("OpenLineage: could not send %s event (%d kept for the next attempt): %s",
                               getattr(getattr(event, "eventType", None), "value", "an"), len(self.pending),
                               " ".join(str(exc).split())[:300])
                return False
            self.pending.popleft()
            self.sent += 1
        return True

    def close(self) -> None:
        """A last attempt for the kept events; what is still undeliverable is logged as lost."""
        if not self.retry():
            logger.warning("OpenLineage: %d event(s) could not be delivered and are lost", len(self.pending))
        try:
            self.transport.close()
        except Exception:  # noqa: BLE001
            pass
