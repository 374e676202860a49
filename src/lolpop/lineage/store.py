"""Read-only access to a lolpop tracking store: find resources, decode their metadata.

Nothing here writes to the store or opens a run, so the CLI can look at a store without adding to
its history. Values are decoded with the storage format's rules (:mod:`lolpop.layout.values`): plain
strings, typed values named in the run's ``_lolpop.types`` bookkeeping tags (or an older store's
``_lolpop.enc.<key>`` markers), and long values kept as artifacts.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Run, ViewType
from mlflow.exceptions import MlflowException

from lolpop.layout import values as _values
from lolpop.layout import versions
from lolpop.layout.keys import (  # noqa: F401 - re-exported for readers of this module
    MLFLOW_PARENT,
    PARENT_RUN_TAG,
    RUN_ID,
    STRUCTURAL,
    USED_BY_PREFIX,
    exists_key,
    is_experiment_id,
    used_by_key,
)
from lolpop.layout.uris import redact, sqlite_path
from lolpop.exceptions import ConfigError, InvalidResourceIdError, ResourceNotFoundError

def open_client(tracking_uri: str) -> MlflowClient:
    """An ``MlflowClient`` on an *existing* store: a missing SQLite file is an error, not a new store.

    Raises:
        ConfigError: the SQLite database file does not exist.
    """
    db = sqlite_path(tracking_uri)
    if tracking_uri.startswith("sqlite:") and db is not None and not db.exists():
        raise ConfigError(
            f"no MLflow store at {redact(tracking_uri)} ({db} does not exist); "
            "run `lolpop quickstart` or pass --tracking-uri"
        )
    return MlflowClient(tracking_uri=tracking_uri)


@dataclass
class Located:
    """A resource found in the store: ``(id, run)`` plus its type."""

    id: str
    run: Run

    @property
    def run_id(self) -> str:
        return self.run.info.run_id


class StoreReader:
    """Reads (never writes) resources from an MLflow store through an ``MlflowClient``.

    Runs fetched once are cached for the reader's lifetime, so a graph walk asks the store for each
    run at most once.

    Args:
        client: the ``MlflowClient``.
        experiment_ids: MLflow experiments searched for resources; ``None`` means every active one.

    Example:
        >>> reader = StoreReader(MlflowClient("sqlite:///mlflow.db"))
        >>> dv = reader.locate("breast_cancer")
        >>> reader.metadata(dv.id, dv.run)["rows"]
        569
    """

    def __init__(self, client: MlflowClient, experiment_ids: list[str] | None = None) -> None:
        self.client = client
        self._experiment_ids = experiment_ids
        self._runs: dict[str, Run] = {}
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.requests = 0

    @classmethod
    def for_experiment(cls, client: MlflowClient, experiment: str | None) -> StoreReader:
        """A reader limited to the MLflow experiment named ``experiment`` (all when ``None``).

        Raises:
            ResourceNotFoundError: no experiment has that name.
        """
        if experiment is None:
            return cls(client)
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            raise ResourceNotFoundError(f"no MLflow experiment named {experiment!r}")
        return cls(client, [exp.experiment_id])

    # -- runs --------------------------------------------------------------------------------
    @property
    def experiment_ids(self) -> list[str]:
        if self._experiment_ids is None:
            self.requests += 1
            exps = self.client.search_experiments(view_type=ViewType.ACTIVE_ONLY, max_results=50000)
            self._experiment_ids = [e.experiment_id for e in exps]
        return self._experiment_ids

    def remember(self, run: Run) -> Run:
        self._runs[run.info.run_id] = run
        return run

    def get_run(self, run_id: str) -> Run:
        """The run ``run_id`` (cached).

        Raises:
            ResourceNotFoundError: no such run.
        """
        if run_id in self._runs:
            return self._runs[run_id]
        if not isinstance(run_id, str) or not RUN_ID.match(run_id):
            raise ResourceNotFoundError(f"{run_id!r} is not an MLflow run id (32 hex digits)")
        self.requests += 1
        try:
            run = self.client.get_run(run_id)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise ResourceNotFoundError(f"no MLflow run {run_id!r}") from exc
            raise
        return self.remember(run)

    def search(self, filter_string: str, max_results: int = 1000, experiment_ids: list[str] | None = None) -> list[Run]:
        """One ``search_runs`` request over the reader's experiments, newest first."""
        ids = experiment_ids if experiment_ids is not None else self.experiment_ids
        if not ids:
            return []
        self.requests += 1
        runs = self.client.search_runs(
            experiment_ids=ids, filter_string=filter_string, run_view_type=ViewType.ACTIVE_ONLY,
            order_by=["attributes.start_time DESC"], max_results=max_results,
        )
        return [self.remember(r) for r in runs]

    # -- resources ---------------------------------------------------------------------------
    def has_resource(self, resource_id: str, run: Run) -> bool:
        return run.data.tags.get(exists_key(resource_id)) == "True"

    def locate(self, resource_id: str, run_id: str | None = None) -> Located:
        """Find resource ``resource_id``: in run ``run_id`` when given, else its newest version.

        An experiment id (``<run_id>.<parent_id>``) resolves to its own nested run.

        Raises:
            ResourceNotFoundError: no run records the resource (or ``run_id`` does not).
        """
        if not isinstance(resource_id, str) or not resource_id:
            raise InvalidResourceIdError(f"resource id must be a non-empty string, got {resource_id!r}")
        if run_id is None and is_experiment_id(resource_id):
            run_id = resource_id.split(".", 1)[0]
        if run_id is not None:
            run = self.get_run(run_id)
            if not self.has_resource(resource_id, run):
                raise ResourceNotFoundError(f"run {run_id} does not record resource {resource_id!r}")
            return Located(resource_id, run)
        runs = self.versions(resource_id, limit=1)
        if not runs:
            raise ResourceNotFoundError(
                f"no resource {resource_id!r} in {redact(str(self.client.tracking_uri))}"
                f" (searched {len(self.experiment_ids)} experiment(s))"
            )
        return Located(resource_id, runs[0])

    def versions(self, resource_id: str, limit: int = 1000) -> list[Run]:
        """The versions of ``resource_id`` (:mod:`lolpop.layout.versions`), newest first (one search)."""
        if is_experiment_id(resource_id):
            try:
                run = self.get_run(resource_id.split(".", 1)[0])
            except ResourceNotFoundError:
                return []
            return [run] if self.has_resource(resource_id, run) else []
        if "`" in resource_id:
            raise InvalidResourceIdError(f"resource id {resource_id!r} contains a backtick")
        return self.search(" and ".join(versions.clauses(resource_id)), max_results=limit)

    # -- values ------------------------------------------------------------------------------
    def value(self, run: Run, full_key: str) -> Any:
        """The decoded value of tag ``full_key`` in ``run`` (``None`` when absent)."""

        def fetch(path: str) -> str:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="lolpop-read-")
            self.requests += 1
            local = self.client.download_artifacts(run.info.run_id, path, tempfile.mkdtemp(dir=self._tmp.name))
            return Path(local).read_text(encoding="utf-8")

        return _values.decode_tag(run.data.tags, full_key, fetch)

    def get(self, resource_id: str, run: Run, key: str) -> Any:
        """Metadata ``key`` of resource ``resource_id`` in ``run``, decoded."""
        return self.value(run, f"{resource_id}.{key}")

    def resource_ids(self, run: Run) -> list[str]:
        """Ids of the resources recorded in ``run`` (``<id>.exists = True`` with a type or parent)."""
        tags = run.data.tags
        out = []
        for key, value in tags.items():
            if key.endswith(".exists") and value == "True" and not key.startswith("_lolpop."):
                rid = key[: -len(".exists")]
                if f"{rid}.type" in tags or f"{rid}.parent_id" in tags or not any(
                    rid.startswith(o + ".") for o in _exists_prefixes(tags)
                ):
                    out.append(rid)
        return sorted(out)

    def metadata(self, resource_id: str, run: Run, structural: bool = True) -> dict[str, Any]:
        """Every metadata value of ``resource_id`` in ``run``, decoded, keys without the prefix.

        Keys belonging to another resource whose id extends this one (``a`` and ``a.b``) are
        left out.
        """
        tags = run.data.tags
        prefix = resource_id + "."
        others = [r + "." for r in self.resource_ids(run) if r != resource_id and r.startswith(prefix)]
        out: dict[str, Any] = {}
        for key in sorted(tags):
            if not key.startswith(prefix) or any(key.startswith(o) for o in others):
                continue
            short = key[len(prefix):]
            if not structural and short in STRUCTURAL:
                continue
            out[short] = self.value(run, key)
        return out

    def artifacts(self, run_id: str, path: str) -> list[tuple[str, int | None]]:
        """Files under ``path`` in the run's artifacts, recursively: ``[(path, size)]``."""
        out: list[tuple[str, int | None]] = []
        stack = [path]
        while stack:
            current = stack.pop()
            self.requests += 1
            for info in self.client.list_artifacts(run_id, current):
                if info.is_dir:
                    stack.append(info.path)
                else:
                    out.append((info.path, info.file_size))
        return sorted(out)

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _exists_prefixes(tags: dict[str, str]) -> list[str]:
    return [k[: -len(".exists")] for k, v in tags.items() if k.endswith(".exists") and v == "True"]
