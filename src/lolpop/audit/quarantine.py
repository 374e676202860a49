"""What a quarantine (or its lift) touched, shared by ``tracker.quarantine`` and ``lolpop
quarantine``: the event written, and the blast radius (:mod:`lolpop.audit.impact`) with which
descendants are deployed now. Their status is *not* changed: rolling back is the team's decision;
this says what must be rolled back.

Also the optional OpenLineage event: an ``OTHER`` run event of the writer's workflow run (or a
``lolpop.quarantine`` job for the CLI) whose input dataset carries the custom facet
``lolpopQuarantine`` (action, reason, who, when, the run holding the version, and what is deployed
now downstream).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from lolpop.audit.impact import Impact
from lolpop.layout.quarantine import QuarantineEvent

#: The custom facet's name and schema (OpenLineage requires a schema URL for custom facets).
FACET = "lolpopQuarantine"
FACET_SCHEMA = "https://pypi.org/project/lolpop/#/definitions/LolpopQuarantineDatasetFacet"


@dataclass(frozen=True)
class QuarantineResult:
    """The event written and what it touches downstream.

    Attributes:
        event: the :class:`~lolpop.layout.quarantine.QuarantineEvent` just recorded.
        impact: the dataset version's :class:`~lolpop.audit.impact.Impact`, read after the write
            (its ``taint`` says whether the version is quarantined now).
        redrawn: the ``(model version id, run id)`` of the touched model versions whose lineage
            page was drawn again after the event (those that had one; :mod:`lolpop.lineage.page`).
        redraw_failures: one message per touched page that could not be redrawn (a warning: the
            event is written all the same).
    """

    event: QuarantineEvent
    impact: Impact
    redrawn: list[tuple[str, str]] = field(default_factory=list)
    redraw_failures: list[str] = field(default_factory=list)

    @property
    def deployed_now(self) -> list[Any]:
        """Descendant model versions deployed now (their status was not changed)."""
        return self.impact.deployed_now

    @property
    def model_versions(self) -> list[Any]:
        return self.impact.model_versions

    @property
    def prediction_jobs(self) -> list[Any]:
        return self.impact.prediction_jobs

    def to_dict(self) -> dict[str, Any]:
        impact = self.impact.to_dict()
        return {"event": self.event.to_dict(), "deployed_now": impact["deployed_now"],
                "model_versions": impact["model_versions"], "prediction_jobs": impact["prediction_jobs"],
                "rollback": impact["rollback"], "taint": impact["taint"]}

    def to_json(self) -> str:
        # ASCII only: control characters a reason may hold come out as \u escapes, never raw.
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=True, default=str)

    def __repr__(self) -> str:
        return (f"<QuarantineResult {self.event.action} {self.event.dataset_version_id[:60]!r}@"
                f"{self.event.run_id[:8]}: {len(self.model_versions)} model version(s), "
                f"{len(self.prediction_jobs)} prediction job(s), {len(self.deployed_now)} deployed now>")


def openlineage_event(result: QuarantineResult, job_name: str, mlflow_run_id: str | None) -> Any:
    """The OpenLineage ``RunEvent`` (``OTHER``) announcing ``result``: the workflow run of the
    writer (``mlflow_run_id``; the CLI has none: a fresh run of job ``lolpop.quarantine``), input
    the dataset version with the ``lolpopQuarantine`` facet."""
    import attr
    from openlineage.client.event_v2 import InputDataset, Job, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import DatasetFacet

    from lolpop.audit.openlineage import NAMESPACE, PRODUCER, run_uuid

    @attr.define
    class LolpopQuarantineDatasetFacet(DatasetFacet):
        action: str
        reason: str | None
        user: str | None
        time: str
        mlflowRunId: str
        deployedNow: list[dict[str, str]]

        @staticmethod
        def _get_schema() -> str:
            return FACET_SCHEMA

    event = result.event
    facet = LolpopQuarantineDatasetFacet(
        action=event.action, reason=event.reason, user=event.user, time=event.time.isoformat(),
        mlflowRunId=event.run_id,
        deployedNow=[{"id": m.id, "mlflowRunId": m.run_id} for m in result.deployed_now],
        producer=PRODUCER,
    )
    return RunEvent(
        eventType=RunState.OTHER, eventTime=event.time.isoformat(),
        run=Run(runId=run_uuid(mlflow_run_id) if mlflow_run_id else str(uuid.uuid4())),
        job=Job(namespace=NAMESPACE, name=job_name),
        inputs=[InputDataset(namespace=NAMESPACE, name=event.dataset_version_id, facets={FACET: facet})],
        producer=PRODUCER,
    )
