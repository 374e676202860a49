"""Test helpers around the version index (lolpop.layout.index)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lolpop.components import MLFlowMetadataTracker
from lolpop.layout import index


def build_index(config: dict[str, Any]) -> None:
    """Give the experiment of ``config`` its version index, as any earlier finished workflow run
    would, so a test counting one call's requests sees only that call's."""
    earlier = MLFlowMetadataTracker(conf=config)
    earlier.create_resource("earlier", type="dataset_version")
    earlier.stop()


def without_index(runs: Iterable[Any]) -> list[Any]:
    """``runs`` without the experiment's index run (a run of its own, never a workflow run)."""
    return [r for r in runs if r.data.tags.get(index.INDEX_RUN_TAG) != "True"]


def ui_runs_list(client: Any, experiment_id: str) -> list[Any]:
    """The rows MLflow 3.17's UI shows in an experiment's runs list and draws in its Chart view,
    by default (newest first, no filter, nested runs folded), as its own code builds them
    (``mlflow/server/js``: ``searchRuns`` with ``shouldFetchParents``, then the runs table's
    nesting): one ``runs/search`` of active runs; a parent named by ``mlflow.parentRunId`` that
    the answer lacks is fetched with ``runs/get`` (any lifecycle stage) and added; a run whose
    parent is in the list is folded under it, unless it names itself."""
    from mlflow.entities import ViewType
    from mlflow.exceptions import MlflowException

    runs = list(client.search_runs([experiment_id], run_view_type=ViewType.ACTIVE_ONLY,
                                   order_by=["attributes.start_time DESC"], max_results=1000))
    present = {r.info.run_id for r in runs}
    for parent in {r.data.tags.get("mlflow.parentRunId") for r in runs} - present - {None}:
        try:
            runs.append(client.get_run(parent))
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
    present = {r.info.run_id for r in runs}
    return [r for r in runs
            if r.data.tags.get("mlflow.parentRunId") in (None, r.info.run_id)
            or r.data.tags.get("mlflow.parentRunId") not in present]
