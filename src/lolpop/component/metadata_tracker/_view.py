"""What the tracker's helper modules (``_native``, ``_lineage_hooks``, ``_audit_hooks``) may use
of a tracker, as a protocol in a leaf module (structlog's way "to avoid import loops"): they are
handed the tracker, but depend on this view of it, not on ``mlflow_metadata_tracker``, which
imports them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from lolpop.store._run_store import RunStore
from lolpop.store.entities import Run


class TrackerView(Protocol):
    """The parts of :class:`~lolpop.component.metadata_tracker.MLFlowMetadataTracker` its helper
    modules use: the workflow run and experiment, the run store, and four of its methods."""

    run: Run
    client: Any
    experiment_id: str
    experiment_name: str
    _store: RunStore
    _linked_model_versions: dict[tuple[str, str], None]

    def get_resource_id(self, resource: Any) -> str: ...

    def flush(self) -> None: ...

    def log_artifact(self, resource: Any, id: str, path: str, *args: Any, **kwargs: Any) -> None: ...

    def get_prev_resource_version(self, resource: Any, *args: Any, **kwargs: Any) -> Any: ...

    def _value(self, run_id: str, full_key: str, tags: Mapping[str, str] | None = None) -> Any: ...

    @staticmethod
    def _is_experiment(rid: str, run_id: str) -> bool: ...
