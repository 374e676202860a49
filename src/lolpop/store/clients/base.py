"""The protocol every read-only store client implements, and the light records it returns.

The records carry what lolpop reads of MLflow's entities under the same attribute names
(``run.info.run_id``, ``run.data.tags``...), so code written against ``mlflow.entities.Run`` reads
them unchanged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from lolpop.exceptions import InvalidInputError

#: Seconds one request to the store may take, retries included, unless the caller says otherwise.
DEFAULT_TIMEOUT = 10.0
#: ``run_view_type`` of every search: deleted runs are not versions of anything.
ACTIVE = "active"
#: Newest first; MLflow breaks ties by run id.
DEFAULT_ORDER = ["attributes.start_time DESC"]
#: Most values :meth:`StoreClient.metric_history` reads at once (below the 2 500 MLflow's server
#: returns per run from ``metrics/get-history-bulk-interval``).
MAX_HISTORY_RESULTS = 2000
#: An artifact-backed value larger than this is refused rather than read into memory.
MAX_ARTIFACT_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    experiment_id: str
    status: str
    start_time: int | None
    end_time: int | None
    artifact_uri: str
    lifecycle_stage: str = ACTIVE
    run_name: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class RunData:
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    #: Latest value of each metric (NaN stays NaN).
    metrics: dict[str, float] = field(default_factory=dict)
    #: Step of each latest metric (the version index verifies its entries by it).
    metric_steps: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Run:
    """One MLflow run as the readers see it."""

    info: RunInfo
    data: RunData


@dataclass(frozen=True)
class Experiment:
    experiment_id: str
    name: str
    artifact_location: str | None = None
    lifecycle_stage: str = ACTIVE
    tags: dict[str, str] = field(default_factory=dict)
    #: ms since epoch, the store's (whether the version index is complete: lolpop.layout.index.complete)
    creation_time: int | None = None


@dataclass(frozen=True)
class FileInfo:
    """An artifact entry; ``path`` is relative to the run's artifact root, like MLflow's."""

    path: str
    is_dir: bool
    file_size: int | None = None


class StoreClient:
    """Read-only access to one MLflow store. Subclasses implement every method.

    Errors are lolpop's: :class:`~lolpop.exceptions.ResourceNotFoundError` for a missing run or
    experiment, :class:`~lolpop.exceptions.TrackerUnavailableError` (or its
    :class:`~lolpop.exceptions.AuthenticationError`) when the store cannot be read,
    :class:`~lolpop.exceptions.ConfigError` when the URI does not name a readable MLflow store.
    """

    #: The tracking URI as given (may hold credentials: pass it through ``redact`` to show it).
    tracking_uri: str = ""
    #: Whether :meth:`metric_history` reads a range of steps without reading the whole history
    #: (else the reader lists versions by searching, not from the version index's history).
    reads_metric_ranges: bool = True

    def search_runs(self, experiment_ids: list[str], filter_string: str = "", max_results: int = 1000,
                    order_by: list[str] | None = None) -> list[Run]:
        """Active runs of ``experiment_ids`` matching an MLflow filter, newest first."""
        raise NotImplementedError

    def get_run(self, run_id: str) -> Run:
        raise NotImplementedError

    def metric_history(self, run_id: str, key: str, start_step: int, end_step: int,
                       max_results: int) -> list[tuple[float, int]] | None:
        """Every value logged to metric ``key`` of the run with ``start_step <= step <= end_step``,
        as ``(value, step)`` by step (then timestamp, value); ``None`` when there are more than
        ``max_results`` (at most :data:`MAX_HISTORY_RESULTS`) of them.

        The version index's earlier entries (:mod:`lolpop.layout.index`) are read this way: a range
        of steps is one look-up of MLflow's ``metrics(run_uuid, key, step)`` index, however long
        the history."""
        raise NotImplementedError

    def search_experiments(self) -> list[Experiment]:
        """Every active experiment."""
        raise NotImplementedError

    def get_experiment(self, experiment_id: str) -> Experiment:
        raise NotImplementedError

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        raise NotImplementedError

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """The entries directly under ``path`` in the run's artifacts (``[]`` when none)."""
        raise NotImplementedError

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The content of the artifact file ``path`` of the run."""
        raise NotImplementedError

    def close(self) -> None:
        """Release connections; the client is not used afterwards."""

    def __enter__(self) -> StoreClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def artifact_path(path: str | None) -> str:
    """``path`` as a relative POSIX path inside a run's artifacts ("" for the root).

    Paths come from the store (pointer tags) and from the command line: neither may leave the
    run's artifact folder.

    Raises:
        InvalidInputError: an absolute path, ``..``, a backslash or a NUL character.
    """
    if not path:
        return ""
    if "\\" in path or "\x00" in path:
        raise InvalidInputError(f"artifact path {path!r} holds a backslash or NUL character")
    pure = PurePosixPath(path)
    if pure.is_absolute() or ".." in pure.parts:
        raise InvalidInputError(f"artifact path {path!r} leaves the run's artifact folder")
    text = str(pure)
    return "" if text == "." else text


def metric_value(value: Any, is_nan: bool = False) -> float:
    """A stored metric value as MLflow returns it (NaN for NaN, JSON's ``"NaN"`` text included)."""
    if is_nan:
        return math.nan
    return float(value)
