"""Read-only access to a lolpop tracking store: find resources, decode their metadata.

Nothing here writes to the store or opens a run, so the CLI can look at a store without adding to
its history. :func:`open_client` picks the fastest reader for a tracking URI (see
:mod:`lolpop.store.clients`): the REST API of a tracking server, an MLflow SQLite file read
directly, or ``MlflowClient`` for anything else; :class:`StoreReader` works the same over all of
them. Values are decoded with the storage format's rules (:mod:`lolpop.layout.values`): plain
strings, typed values named in the run's ``_lolpop.types`` bookkeeping tags (or an older store's
``_lolpop.enc.<key>`` markers), and long values kept as artifacts.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lolpop.exceptions import ConfigError, InvalidResourceIdError, ResourceNotFoundError
from lolpop.layout import values as _values
from lolpop.layout import arguments, filters, index, keys, versions
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
from lolpop.store.clients.base import DEFAULT_TIMEOUT, MAX_HISTORY_RESULTS, Experiment, Run, StoreClient

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*):")


def _mlflow_http_only() -> bool:
    """Whether MLflow's client would do what the REST reader does not: an auth plugin, AWS
    signatures, a workspace header. Then the store is read through MlflowClient."""
    sigv4 = os.environ.get("MLFLOW_TRACKING_AWS_SIGV4", "").lower() in ("true", "1")
    return sigv4 or bool(os.environ.get("MLFLOW_TRACKING_AUTH") or os.environ.get("MLFLOW_WORKSPACE", "").strip())


def open_client(tracking_uri: str, timeout: float = DEFAULT_TIMEOUT) -> StoreClient:
    """A read-only client on an *existing* store; it never creates or changes anything.

    * ``http(s)://``: :class:`~lolpop.store.clients.rest.RestClient` (requests bounded by ``timeout``).
    * ``sqlite:///``: :class:`~lolpop.store.clients.sqlite.SqliteClient`, or ``MlflowClient``
      when the file's schema revision is not one the direct reader knows.
    * anything else (PostgreSQL, MySQL, a file store folder, Databricks...): ``MlflowClient``,
      after checking that opening the database creates nothing.

    Raises:
        ConfigError: the URI names no MLflow store (a missing, empty or non-SQLite file, an empty
            database, a plain file path given instead of ``sqlite:///`` ...); the message says why.
    """
    from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter

    uri = tracking_uri.strip()
    if not uri:
        raise ConfigError("the tracking URI is empty")
    match = _SCHEME.match(uri)
    scheme = match.group(1).lower() if match and len(match.group(1)) > 1 else ""
    if scheme in ("http", "https"):
        if _mlflow_http_only():
            return MlflowClientAdapter.open(uri, timeout)
        from lolpop.store.clients.rest import RestClient

        return RestClient(uri, timeout)
    if scheme == "sqlite":
        from lolpop.store.clients.sqlite import SqliteClient, UnknownSchema

        db = sqlite_path(uri)
        if db is None:
            raise ConfigError(f"{redact(uri)} is an in-memory SQLite store: there is nothing to read")
        try:
            return SqliteClient.open(db, uri, timeout)
        except UnknownSchema:
            return MlflowClientAdapter.open(uri, timeout)
    if scheme in ("", "file"):
        return MlflowClientAdapter.open(_file_store(uri, scheme), timeout)
    return MlflowClientAdapter.open(uri, timeout)


def _file_store(uri: str, scheme: str) -> str:
    """``uri`` when it names an existing MLflow file-store folder; a plain path to a file gets the
    ``sqlite:///`` hint.

    Raises:
        ConfigError: not an existing file store (MLflow would create one).
    """
    from lolpop.store.clients.sqlite import local_artifact_root

    path = local_artifact_root(uri) if scheme else Path(uri).expanduser()
    if path is None:
        raise ConfigError(f"no MLflow store at {redact(uri)}")
    if not scheme and (path.is_file() or path.suffix.lower() in (".db", ".sqlite", ".sqlite3")):
        raise ConfigError(f"{uri!r} is a file path, not a tracking URI: an SQLite store is written "
                          f"sqlite:///{uri}")
    if not (path / ".trash").is_dir():
        what = "does not exist" if not path.exists() else "is not an MLflow file store"
        raise ConfigError(f"no MLflow store at {redact(uri)} ({path} {what}); an SQLite store is "
                          "written sqlite:///path/to/mlflow.db")
    return uri


@dataclass
class Located:
    """A resource found in the store: ``(id, run)`` plus its type."""

    id: str
    run: Run

    @property
    def run_id(self) -> str:
        return self.run.info.run_id


#: Above this many experiments with a version index, one search is cheaper than reading each index.
MAX_INDEXED_EXPERIMENTS = 4
#: Ranges of an index's history read for one listing before it is searched instead.
_MAX_INDEX_RANGES = 24
#: Below any start time (MLflow's steps are 64-bit).
_MIN_STEP = -(2**63)


def _search_order(run: Run) -> tuple[int, str]:
    """MLflow's search order: newest start first, then the smallest run id."""
    return -(run.info.start_time or 0), run.info.run_id


class StoreReader:
    """Reads (never writes) resources from an MLflow store through a read-only client.

    Runs fetched once, and searches asked once, are cached for the reader's lifetime, so a graph
    walk asks the store for each run and each search at most once.

    Args:
        client: a :class:`~lolpop.store.clients.base.StoreClient` (see :func:`open_client`), or
            an ``MlflowClient``, which is wrapped.
        experiment_ids: MLflow experiments searched for resources; ``None`` means every active one.

    Example:
        >>> reader = StoreReader(open_client("sqlite:///mlflow.db"))
        >>> dv = reader.locate("breast_cancer")
        >>> reader.metadata(dv.id, dv.run)["rows"]
        569
    """

    def __init__(self, client: Any, experiment_ids: list[str] | None = None) -> None:
        if not isinstance(client, StoreClient):
            from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter

            client = MlflowClientAdapter(client)
        self.client: StoreClient = client
        self._experiment_ids = experiment_ids
        self._runs: dict[str, Run] = {}
        self._experiments: dict[str, Experiment] = {}
        self._artifacts: dict[tuple[str, str], list[tuple[str, int | None]]] = {}
        self._searched: dict[tuple[str, int, tuple[str, ...]], list[Run]] = {}
        self.requests = 0

    @classmethod
    def for_experiment(cls, client: Any, experiment: str | None) -> StoreReader:
        """A reader limited to the MLflow experiment named ``experiment`` (all when ``None``).

        Raises:
            ResourceNotFoundError: no experiment has that name.
        """
        reader = cls(client)
        if experiment is not None:
            reader.requests += 1
            exp = reader.client.get_experiment_by_name(experiment)
            if exp is None:
                raise ResourceNotFoundError(f"no MLflow experiment named {experiment!r}")
            reader._experiments[exp.experiment_id] = exp
            reader._experiment_ids = [exp.experiment_id]
        return reader

    # -- runs --------------------------------------------------------------------------------
    @property
    def experiment_ids(self) -> list[str]:
        if self._experiment_ids is None:
            self.requests += 1
            exps = self.client.search_experiments()
            self._experiments.update((e.experiment_id, e) for e in exps)
            self._experiment_ids = [e.experiment_id for e in exps]
        return self._experiment_ids

    def experiment(self, experiment_id: str) -> Experiment:
        """The MLflow experiment ``experiment_id`` (cached; known already after a search)."""
        if experiment_id not in self._experiments:
            self.requests += 1
            self._experiments[experiment_id] = self.client.get_experiment(experiment_id)
        return self._experiments[experiment_id]

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
        return self.remember(self.client.get_run(run_id))

    def search(self, filter_string: str, max_results: int = 1000, experiment_ids: list[str] | None = None) -> list[Run]:
        """One ``search_runs`` request over the reader's experiments, newest first; the same search
        again is answered from the first (a reader is a snapshot, as its run cache is: ``impact``
        and the graph walk beside it, or ``stop()``'s lineage pages and audit reports, ask once)."""
        ids = experiment_ids if experiment_ids is not None else self.experiment_ids
        if not ids:
            return []
        asked = (filter_string, max_results, tuple(ids))
        if asked not in self._searched:
            self.requests += 1
            self._searched[asked] = self.client.search_runs(ids, filter_string, max_results=max_results,
                                                            order_by=versions.ORDER_BY)
        return [self.remember(r) for r in self._searched[asked]]

    def runs(self, run_ids: list[str]) -> dict[str, Run]:
        """The runs ``run_ids`` by id: cached ones from the cache, the rest by one search on their
        ids over the reader's experiments (per 100 ids), then one ``get_run`` for each the search
        did not find (a run in another experiment). Ids that are no run are left out."""
        out = {r: self._runs[r] for r in run_ids if r in self._runs}
        missing = sorted({r for r in run_ids if r not in out and isinstance(r, str) and RUN_ID.match(r)})
        for start in range(0, len(missing), 100):
            chunk = missing[start:start + 100]
            clause = "attributes.run_id IN (" + ", ".join(f"'{r}'" for r in chunk) + ")"
            out.update((run.info.run_id, run) for run in self.search(clause, max_results=len(chunk)))
        for run_id in missing:
            if run_id not in out:
                try:
                    out[run_id] = self.get_run(run_id)
                except ResourceNotFoundError:
                    continue
        return out

    def has_resource(self, resource_id: str, run: Run) -> bool:
        return keys.has_resource(run.data.tags, run.info.run_id, resource_id)

    def locate(self, resource_id: str, run_id: str | None = None) -> Located:
        """Find resource ``resource_id``: in run ``run_id`` when given, else its newest version.

        An experiment id (``<run_id>.<parent_id>``) resolves to its own nested run.

        Raises:
            ResourceNotFoundError: no run records the resource (or ``run_id`` does not).
        """
        arguments.resource_id(resource_id)
        if run_id is None and is_experiment_id(resource_id):
            run_id = resource_id.split(".", 1)[0]
        if run_id is not None:
            run = self.get_run(run_id)
            if not self.has_resource(resource_id, run):
                raise ResourceNotFoundError(f"run {run_id} does not record resource {resource_id!r}")
            return Located(resource_id, run)
        newest = self.newest(resource_id)
        if newest is None:
            raise ResourceNotFoundError(
                f"no resource {resource_id!r} in {redact(self.client.tracking_uri)}"
                f" (searched {len(self.experiment_ids)} experiment(s))"
            )
        return Located(resource_id, newest)

    def _index_runs(self, resource_id: str, kind: str = index.NEWEST,
                    experiment_ids: list[str] | None = None) -> dict[str, str]:
        """``{experiment id: index run id}`` of the reader's experiments (or ``experiment_ids``) whose
        index may answer for ``resource_id``; empty when none, or when reading each would cost more
        than one search."""
        if is_experiment_id(resource_id) or index.metric_keys(kind, resource_id) is None:
            return {}
        ids = self.experiment_ids if experiment_ids is None else experiment_ids
        indexed = {e: i for e in ids if (i := index.index_run_id(self.experiment(e).tags)) is not None}
        return indexed if len(indexed) <= MAX_INDEXED_EXPERIMENTS else {}

    def _index_run(self, experiment_id: str, index_run_id: str) -> tuple[Run, int, bool] | None:
        """``(index run, since, complete)`` of ``experiment_id`` when its index may be read, else
        ``None``; ``complete``: every version of the experiment is in it (:func:`lolpop.layout.index.complete`)."""
        try:
            index_run = self.get_run(index_run_id)
        except ResourceNotFoundError:
            return None
        since = index.since(index_run.data.tags)
        if not index.is_index_run(index_run, experiment_id) or since is None:
            return None
        return index_run, since, index.complete(index_run, self.experiment(experiment_id).creation_time)

    def _search_unindexed(self, filter_string: str, limit: int, experiment_ids: list[str], probe: bool) -> list[Run]:
        """The search over the experiments an index did not answer for. With ``probe`` (another
        experiment's index answered: these are likely side experiments, MLflow's empty Default one
        above all) a search without a filter asks first whether they hold any run: MLflow's
        server joins each clause's tags before it looks at the experiment (0.4 s for an empty
        experiment beside 100 000 runs), a search without clauses only reads the runs table."""
        if not experiment_ids or (probe and not self.search("", max_results=1, experiment_ids=experiment_ids)):
            return []
        return self.search(filter_string, max_results=limit, experiment_ids=experiment_ids)

    def made_from(self, parent_id: str, parent_run_id: str, predictions: bool = False) -> list[tuple[str, Run]]:
        """``[(child id, run)]`` of what may have been made from version ``parent_id`` of run
        ``parent_run_id`` (created with ``parent=``), in the search's order; each is still to be
        checked against the parent the child records (anyone may write an index tag).

        One search on the made-from index (:data:`lolpop.layout.keys.CHILD_OF_PREFIX`: one key, so
        it does not grow with the parent's history). With ``predictions`` (a model version), also
        the prediction jobs an experiment without
        :data:`~lolpop.layout.keys.MADE_FROM_EXPERIMENT_TAG` may hold unindexed (written by a
        lolpop that did not index them, or with a parent id too long for the index's key): the
        search on their ``parent_run_id`` over those experiments only, after asking whether they
        hold any run (MLflow's empty Default experiment, above all; :meth:`_search_unindexed`).
        """
        made_from = keys.child_of_key(parent_run_id, parent_id)
        indexable = keys.searchable(made_from)
        out: list[tuple[str, Run]] = []
        for run in self.search(f"tags.`{made_from}` LIKE '%'") if indexable else []:
            out += [(c, run) for c in keys.listed(run.data.tags, made_from) if isinstance(c, str)]
        if predictions:
            pid = keys.prediction_job_id(parent_id)
            unindexed = [e for e in self.experiment_ids if not indexable or self.experiment(e).tags.get(
                keys.MADE_FROM_EXPERIMENT_TAG) != keys.MADE_FROM_INDEXED]
            seen = {(c, r.info.run_id) for c, r in out}
            clause = filters.tag_clause(f"{pid}.parent_run_id", parent_run_id)
            out += [(pid, r) for r in self._search_unindexed(clause, 1000, unindexed, probe=indexable)
                    if (pid, r.info.run_id) not in seen]
            out.sort(key=lambda found: _search_order(found[1]))
        return out

    def newest(self, resource_id: str, deployed: bool = False) -> Run | None:
        """The newest version of ``resource_id`` in the reader's experiments, as
        ``versions(resource_id, 1)`` finds it (``deployed``: the newest whose ``status`` is exactly
        ``DEPLOYED``): from an experiment's version index where it vouches for the answer
        (:mod:`lolpop.layout.index`; two ``runs/get``), by one search over the rest
        (:meth:`_search_unindexed`)."""
        kind = index.DEPLOYED if deployed else index.NEWEST
        indexed = self._index_runs(resource_id, kind)
        if not indexed:
            if deployed:
                runs = self.search(" and ".join(self._clauses(resource_id, deployed)), max_results=1)
            else:
                runs = self.versions(resource_id, limit=1)
            return runs[0] if runs else None
        found = [run for e, i in indexed.items() if (run := self._indexed(resource_id, e, i, kind)) is not None]
        answered = {r.info.experiment_id for r in found}
        rest = [e for e in self.experiment_ids if e not in answered]
        if rest:
            found += self._search_unindexed(" and ".join(self._clauses(resource_id, deployed)), 1, rest,
                                            probe=bool(found))
        return min(found, key=_search_order, default=None)

    def _indexed(self, resource_id: str, experiment_id: str, index_run_id: str, kind: str = index.NEWEST) -> Run | None:
        """The version the index of ``experiment_id`` vouches for as the newest (``kind``), or ``None``."""
        opened = self._index_run(experiment_id, index_run_id)
        if opened is None:
            return None
        index_run, since, _ = opened
        entry = index.pointer(kind, resource_id, index_run.data.metrics, index.metric_steps(index_run))
        if entry is None:
            return None
        try:
            run = self.get_run(entry[0])
        except ResourceNotFoundError:
            return None
        ok = index.answers(run, since, resource_id, experiment_id, step=entry[1], deployed=kind == index.DEPLOYED)
        return run if ok else None

    @staticmethod
    def _clauses(resource_id: str, deployed: bool = False) -> list[str]:
        """The search for the versions (``deployed``: the DEPLOYED ones, whose refusal of a
        backtick is the filter's own, as impact's search always had it)."""
        if deployed:
            return versions.clauses(resource_id) + [filters.tag_clause(keys.key(resource_id, "status"),
                                                                       index.DEPLOYED_STATUS)]
        if "`" in resource_id:
            raise InvalidResourceIdError(f"resource id {resource_id!r} contains a backtick")
        return versions.clauses(resource_id)

    def versions(self, resource_id: str, limit: int = 1000, before: int | None = None,
                 experiment_ids: list[str] | None = None) -> list[Run]:
        """The versions of ``resource_id`` (:mod:`lolpop.layout.versions`), newest first, as one
        search finds them; ``before``: only those that started no later than it (ms);
        ``experiment_ids``: looked in instead of the reader's experiments. Read from an
        experiment's version index where it vouches for them (a range of its history, each entry
        checked; :meth:`_indexed_versions`), by one search over the other experiments
        (:meth:`_search_unindexed`)."""
        if is_experiment_id(resource_id):
            try:
                run = self.get_run(resource_id.split(".", 1)[0])
            except ResourceNotFoundError:
                return []
            return [run] if self.has_resource(resource_id, run) else []
        clauses = self._clauses(resource_id)
        bound = [versions.before_clause(before)] if before is not None else []
        scope = self.experiment_ids if experiment_ids is None else list(experiment_ids)
        # A client that reads no range of a metric's history (MlflowClient on a server) would read
        # the experiment and its index for nothing: it searches at once.
        indexed = (self._index_runs(resource_id, experiment_ids=scope)
                   if limit > 0 and self.client.reads_metric_ranges else {})
        found: list[Run] = []
        answered = []
        for e, i in indexed.items():
            runs = self._indexed_versions(resource_id, e, i, limit, before)
            if runs is not None:
                found += runs
                answered.append(e)
        rest = [e for e in scope if e not in answered]
        if not indexed:
            return self.search(" and ".join(clauses + bound), max_results=limit, experiment_ids=scope)
        found += self._search_unindexed(" and ".join(clauses + bound), limit, rest, probe=bool(answered))
        return sorted(found, key=_search_order)[:limit]

    def _indexed_versions(self, resource_id: str, experiment_id: str, index_run_id: str, limit: int,
                          before: int | None) -> list[Run] | None:
        """The newest ``limit`` versions of ``resource_id`` in ``experiment_id`` that started no
        later than ``before``, from its index's history, or ``None`` when the index cannot vouch
        for them (then the caller searches).

        Walks back from the newest entry in ranges of steps (:func:`lolpop.layout.index.
        history_pointers`), each entry checked by :func:`lolpop.layout.index.answers`. Every
        version that started at or after ``since`` is in the history, so once ``limit`` checked
        versions are found, every version between them and the newest one is known; a walk that
        reaches ``since`` first adds the versions that started before it: from the rest of a
        complete index's history (it holds every version of its experiment), else by a search
        bounded there.
        """
        opened = self._index_run(experiment_id, index_run_id)
        if opened is None:
            return None
        index_run, since, complete = opened
        metric_keys = index.metric_keys(index.NEWEST, resource_id)
        entry = index.pointer(index.NEWEST, resource_id, index_run.data.metrics, index.metric_steps(index_run))
        if metric_keys is None or entry is None:
            return None
        end = entry[1] if before is None else min(entry[1], before)
        found: dict[str, Run] = {}
        width = max(limit, 1) * 1000  # a first guess: a version a second
        for _ in range(_MAX_INDEX_RANGES):
            if end < since or len(found) >= limit:
                break
            low = max(since, end - width + 1)
            histories = self._histories(index_run_id, metric_keys, low, end)
            if not self.client.reads_metric_ranges:  # learnt just now (a server without range reads)
                return None
            if any(h is None for h in histories):  # more entries than one read holds: a narrower range
                if width == 1:
                    return None
                width = max(1, width // 8)
                continue
            pointers = index.history_pointers(histories)  # type: ignore[arg-type]
            if pointers is None:
                return None
            vouched = self._vouched(pointers, since, resource_id, experiment_id)
            found.update((run.info.run_id, run) for run in vouched)
            checked = len(vouched)
            end = low - 1
            # Widen towards the versions still missing, by what this range held (at most 64 times).
            width *= min(64, max(2, -(-2 * (limit - len(found)) // max(checked, 1))))
        else:
            return None
        out = sorted(found.values(), key=_search_order)
        if len(out) >= limit:
            return out[:limit]
        # The walk reached ``since``. Versions that started before it are in a complete index (one
        # read of the rest of its history; ``since`` only guards its max, and each entry is checked
        # here); any other index may lack them: a search bounded there.
        bound = since - 1 if before is None else min(before, since - 1)
        if complete:
            histories = self._histories(index_run_id, metric_keys, _MIN_STEP, bound)
            pointers = None if any(h is None for h in histories) else index.history_pointers(histories)  # type: ignore[arg-type]
            if pointers is not None:
                out += sorted(self._vouched(pointers, _MIN_STEP, resource_id, experiment_id), key=_search_order)
                return out[:limit]
        clauses = self._clauses(resource_id) + [versions.before_clause(bound)]
        out += self.search(" and ".join(clauses), max_results=limit - len(out), experiment_ids=[experiment_id])
        return out[:limit]

    def _histories(self, index_run_id: str, metric_keys: list[str], low: int,
                   high: int) -> list[list[tuple[float, int]] | None]:
        """The entries of each of an id's index keys with ``low <= step <= high`` (one read each)."""
        self.requests += len(metric_keys)
        return [self.client.metric_history(index_run_id, k, low, high, MAX_HISTORY_RESULTS) for k in metric_keys]

    def _vouched(self, pointers: list[tuple[str, int]], since: int, resource_id: str,
                 experiment_id: str) -> list[Run]:
        """The runs of ``pointers`` (run id, step) the index may answer with (:func:`lolpop.layout.
        index.answers`), in their order; their runs read by id, at most one search per 100."""
        runs = self.runs([run_id for run_id, _ in pointers])
        return [run for run_id, step in pointers if (run := runs.get(run_id)) is not None
                and index.answers(run, since, resource_id, experiment_id, step=step)]

    # -- values ------------------------------------------------------------------------------
    def value(self, run: Run, full_key: str) -> Any:
        """The decoded value of tag ``full_key`` in ``run`` (``None`` when absent)."""

        def fetch(path: str) -> str:
            self.requests += 1
            return self.client.read_artifact(run.info.run_id, path).decode("utf-8")

        return _values.decode_tag(run.data.tags, full_key, fetch)

    def get(self, resource_id: str, run: Run, key: str) -> Any:
        """Metadata ``key`` of resource ``resource_id`` in ``run``, decoded (either layout)."""
        if key == "exists" and keys.owns_run(run.data.tags, run.info.run_id, resource_id):  # v2: no tag
            return "True" if self.has_resource(resource_id, run) else None
        return self.value(run, self.tag_key(resource_id, run, key))

    @staticmethod
    def tag_key(resource_id: str, run: Run, key: str) -> str:
        """The tag of ``run`` holding metadata ``key`` of ``resource_id`` (lolpop.layout.keys.tag_key)."""
        return keys.tag_key(run.data.tags, run.info.run_id, resource_id, key)

    def resource_ids(self, run: Run) -> list[str]:
        """Ids of the resources recorded in ``run`` (``<id>.exists = True`` with a type or parent)."""
        tags = run.data.tags
        out = []
        own = keys.own_resource_id(tags, run.info.run_id)
        if own is not None:
            out.append(own)
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
        if keys.owns_run(tags, run.info.run_id, resource_id):
            own = {k: self.value(run, k) for k in keys.own_keys(tags)}
            if structural:
                own.update({name: self.get(resource_id, run, name) for name in STRUCTURAL if name != "exists"})
                own["exists"] = "True"
            return dict(sorted(own.items()))
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
        """Files under ``path`` in the run's artifacts, recursively: ``[(path, size)]``; asked once
        per reader (a report reads a dataset version's folders for its table and again for its diff)."""
        cached = self._artifacts.get((run_id, path))
        if cached is not None:
            return list(cached)
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
        self._artifacts[(run_id, path)] = sorted(out)
        return sorted(out)

    def close(self) -> None:
        self.client.close()


def _exists_prefixes(tags: dict[str, str]) -> list[str]:
    return [k[: -len(".exists")] for k, v in tags.items() if k.endswith(".exists") and v == "True"]
