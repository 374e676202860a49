"""Taint: a resource version built, through any number of lineage hops, from a quarantined dataset
version (:mod:`lolpop.layout.quarantine`).

The walk goes upstream from the resource version, following what the data was made from:

* a model version's recorded ``dataset_versions`` (exact dataset versions: id and run id),
* any resource's recorded parent (``parent_id`` / ``parent_run_id``): a prediction job's model
  version, a dataset version made from another one.

Experiments are not data and are not walked. A quarantine event lives on the run holding its
dataset version, so the state of every version in one hop is known from the runs of that hop:
the walk costs **one search per hop** (``attributes.run_id IN (...)`` over the reader's
experiments, for every run of the hop not read yet) plus one ``runs/get`` for each run the search
did not find (one outside those experiments). A resource version without recorded lineage costs
nothing beyond its own run.

:func:`taint_of` is the seam the tracker's gate, ``get_impact``, the CLI and the audit report
share: given a resource version and a :class:`~lolpop.store.reader.StoreReader`, its findings as
frozen dataclasses with ``to_dict()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lolpop.layout import quarantine
from lolpop.layout.keys import LINEAGE_KEY, exists_key, is_experiment_id

#: Stop after this many resource versions (a guard against runaway stores).
MAX_NODES = 10000


@dataclass(frozen=True)
class TaintFinding:
    """One quarantined dataset version a resource version was built from.

    Attributes:
        dataset_version_id: the quarantined dataset version's id.
        run_id: the run holding it (the exact version).
        reason: why it was quarantined (stored text: render it escaped).
        user: who quarantined it.
        time: when (UTC).
        path: node keys (``<id>@<run id>``) from the tainted resource version (first) to the
            quarantined dataset version (last); one element when it is the version itself.
    """

    dataset_version_id: str
    run_id: str
    reason: str | None
    user: str | None
    time: datetime
    path: tuple[str, ...]

    @property
    def hops(self) -> int:
        return len(self.path) - 1

    @property
    def source(self) -> str:
        return f"{self.dataset_version_id}@{self.run_id}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``time`` as ISO 8601 UTC text, ``path`` as a list."""
        return {"dataset_version_id": self.dataset_version_id, "run_id": self.run_id, "reason": self.reason,
                "user": self.user, "time": self.time.isoformat(), "hops": self.hops, "path": list(self.path)}

    def summary(self) -> str:
        """One line of plain text (stored text included as is: escape it where it is rendered)."""
        return (f"{self.dataset_version_id}@{self.run_id[:8]} quarantined by {self.user} "
                f"{self.time:%Y-%m-%d %H:%M:%S} UTC: {self.reason}")

    @classmethod
    def of(cls, event: quarantine.QuarantineEvent, path: tuple[str, ...]) -> TaintFinding:
        return cls(event.dataset_version_id, event.run_id, event.reason, event.user, event.time, path)


def node_key(resource_id: str, run_id: str) -> str:
    return f"{resource_id}@{run_id}"


def upstream_of(reader: Any, resource_id: str, run: Any) -> list[tuple[str, str]]:
    """``[(id, run id)]`` the resource version's data was made from (its recorded lineage and
    parent), read from ``run`` alone (no request but artifact-backed values)."""
    out: list[tuple[str, str]] = []
    lineage = reader.get(resource_id, run, LINEAGE_KEY)
    if isinstance(lineage, list):
        for item in lineage:
            if isinstance(item, dict) and isinstance(item.get("id"), str) and isinstance(item.get("run_id"), str):
                out.append((item["id"], item["run_id"]))
    parent_id = reader.get(resource_id, run, "parent_id")
    parent_run_id = reader.get(resource_id, run, "parent_run_id")
    if isinstance(parent_id, str) and isinstance(parent_run_id, str) and parent_id and parent_run_id:
        out.append((parent_id, parent_run_id))
    return [(i, r) for i, r in out if not is_experiment_id(i)]


def taint_of(reader: Any, resource_id: str, run_id: str, *, run: Any = None,
             max_nodes: int = MAX_NODES) -> list[TaintFinding]:
    """Every quarantined (and not lifted) dataset version ``resource_id`` in ``run_id`` was built
    from, through every hop the lineage records; nearest first. Empty: not tainted.

    Args:
        reader: a :class:`~lolpop.store.reader.StoreReader` (its experiments are searched).
        resource_id, run_id: the resource version (a model version, a prediction job, a dataset
            version: a quarantined one is its own first finding).
        run: the resource version's run when the caller holds it (e.g. the tracker's own state,
            with writes not sent yet); else read through ``reader``.
    """
    start = run if run is not None else reader.get_run(run_id)
    start_key = node_key(resource_id, run_id)
    findings: list[TaintFinding] = []
    own = quarantine.current(start.data.tags, run_id, resource_id)
    if own is not None:
        findings.append(TaintFinding.of(own, (start_key,)))
    seen = {start_key}
    frontier: list[tuple[str, Any, tuple[str, ...]]] = [(resource_id, start, (start_key,))]
    while frontier and len(seen) < max_nodes:
        wanted: list[tuple[str, str, tuple[str, ...]]] = []
        for rid, rrun, path in frontier:
            for uid, urun_id in upstream_of(reader, rid, rrun):
                key = node_key(uid, urun_id)
                if key in seen:
                    continue
                seen.add(key)
                wanted.append((uid, urun_id, path + (key,)))
        runs = reader.runs([r for _, r, _ in wanted]) if wanted else {}
        frontier = []
        for uid, urun_id, path in wanted:
            urun = runs.get(urun_id)
            if urun is None or urun.data.tags.get(exists_key(uid)) != "True":
                continue  # a run deleted since, or one that does not record it: nothing to follow
            event = quarantine.current(urun.data.tags, urun_id, uid)
            if event is not None:
                findings.append(TaintFinding.of(event, path))
            frontier.append((uid, urun, path))
    return findings


def override_sources(findings: list[TaintFinding]) -> list[dict[str, Any]]:
    """What a status event records of the findings it was set in spite of (the override)."""
    return [{"dataset_version_id": f.dataset_version_id, "run_id": f.run_id, "reason": f.reason,
             "user": f.user, "time": f.time.isoformat()} for f in findings]


def annotate(graph: Any, reader: Any) -> Any:
    """Set ``node.taint`` (the findings' ``to_dict()``) on every node of a lineage graph but
    experiments, and return the graph. Runs the graph walk read are in the reader's cache, so
    this costs a search only for upstream runs beyond the graph (e.g. a depth-limited one)."""
    for node in graph.nodes.values():
        if node.type == "experiment" or is_experiment_id(node.id):
            continue
        node.taint = [f.to_dict() for f in taint_of(reader, node.id, node.run_id, run=reader.get_run(node.run_id))]
    return graph
