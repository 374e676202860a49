"""The blast radius of a dataset version: every model version built from it (through any number
of hops the lineage records), every prediction job that used those, and which are deployed now.

The walk goes downstream from the dataset version:

* the lineage graph's own hops (:func:`lolpop.lineage.graph.build_lineage`, one hop at a time):
  dataset version -> model versions trained on it (the used-by index), model version ->
  prediction jobs (their recorded parent);
* and, for model versions and prediction jobs, the same used-by index: a model version or a
  prediction job that another pipeline passed to ``build_model_lineage`` as a dataset counts as
  the data of what was trained on it.

"Deployed now" (one rule, the tracker's ``get_currently_deployed_model_version``): a model version
is deployed now when it is the *newest* version of its id (:mod:`lolpop.layout.versions`) whose
``status`` is ``DEPLOYED``. An older version still tagged ``DEPLOYED`` was replaced by a newer
deployment and is not. One look-up per model id: the version index's ``deployed`` entry where it
vouches for the answer (:meth:`lolpop.store.reader.StoreReader.newest`), else one search.
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from lolpop.exceptions import InvalidInputError
from lolpop.layout.keys import LINEAGE_KEY, exists_key, is_experiment_id, listed, used_by_key

MODEL_VERSION = "model_version"
PREDICTION_JOB = "prediction_job"
#: The rule :func:`impact_of` applies for ``deployed_now`` (also in the JSON output).
DEPLOYED_RULE = "newest finished version of the model id whose status is DEPLOYED"


@dataclass
class Affected:
    """One resource version downstream of the dataset version."""

    id: str
    run_id: str
    type: str | None
    hops: int
    via: str  # node key (``<id>@<run id>``) it was reached from
    status: str | None = None
    deployed_now: bool | None = None  # model versions only
    tainted: bool = False  # built from a quarantined dataset version (Impact.taint names it)


@dataclass
class Impact:
    """What :func:`impact_of` found; ``to_dict()`` / ``to_json()`` for machines."""

    dataset: dict[str, Any]
    model_versions: list[Affected] = field(default_factory=list)
    prediction_jobs: list[Affected] = field(default_factory=list)
    other: list[Affected] = field(default_factory=list)
    deployed_rule: str = DEPLOYED_RULE
    #: The quarantined dataset versions the start is (or was built from): :class:`~lolpop.audit.taint.
    #: TaintFinding` list; non-empty means everything downstream is tainted.
    taint: list[Any] = field(default_factory=list)

    @property
    def deployed_now(self) -> list[Affected]:
        return [m for m in self.model_versions if m.deployed_now]

    @property
    def rollback(self) -> list[Affected]:
        """What must be rolled back when the start is tainted: model versions deployed now first,
        then the other model versions, then prediction jobs (each by hops); empty when not tainted."""
        if not self.taint:
            return []
        models = sorted(self.model_versions, key=lambda m: (not m.deployed_now, m.hops, m.id, m.run_id))
        return models + sorted(self.prediction_jobs, key=lambda p: (p.hops, p.id, p.run_id))

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "model_versions": [asdict(m) for m in self.model_versions],
            "prediction_jobs": [asdict(p) for p in self.prediction_jobs],
            "other": [asdict(o) for o in self.other],
            "deployed_now": [asdict(m) for m in self.deployed_now],
            "deployed_rule": self.deployed_rule,
            "tainted": bool(self.taint),
            "taint": [f.to_dict() for f in self.taint],
            "rollback": [asdict(r) for r in self.rollback],
        }

    def to_json(self) -> str:
        # ASCII only: control characters a store may hold come out as \u escapes, never raw.
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=True, default=str)

    def __repr__(self) -> str:
        # One line: the default repr held every affected version.
        return (f"<Impact of {str(self.dataset.get('id'))[:100]!r}@{str(self.dataset.get('run_id'))[:8]}: "
                f"{len(self.model_versions)} model version(s), {len(self.prediction_jobs)} prediction job(s), "
                f"{len(self.deployed_now)} deployed now{', TAINTED' if self.taint else ''}>")

    def _repr_html_(self) -> str:
        """Jupyter shows the impact as a table (stored text escaped, as in the lineage page)."""
        from lolpop.lineage.render import html_table

        ds = self.dataset
        caption = (f"Impact of {ds.get('id')} (run {ds.get('run_id')}, hexsha {ds.get('hexsha')}): "
                   f"{len(self.model_versions)} model version(s), {len(self.prediction_jobs)} prediction job(s), "
                   f"{len(self.deployed_now)} deployed now")
        now = {True: "● yes", False: "no", None: ""}
        if self.taint:
            caption += "; TAINTED by " + "; ".join(f.summary() for f in self.taint)
        rows = [(a.hops, a.type, a.id, a.run_id, a.status, now[a.deployed_now], a.via)
                for a in sorted(self.model_versions + self.prediction_jobs + self.other,
                                key=lambda r: (r.hops, r.type or "", r.id, r.run_id))]
        return html_table(caption, ["hops", "type", "resource", "run id", "status", "deployed now", "via"], rows,
                          note=f"deployed now = {self.deployed_rule}")


def _users(reader: Any, rid: str, run_id: str) -> list[tuple[str, Any]]:
    """Model versions whose recorded lineage names ``rid`` in ``run_id`` (the used-by index)."""
    index = used_by_key(run_id, rid)
    out: list[tuple[str, Any]] = []
    if "`" in index:  # not searchable; build_model_lineage never indexes such an id either
        return out
    for mrun in reader.search(f"tags.`{index}` LIKE '%'"):
        for mv_id in listed(mrun.data.tags, index):
            lineage = reader.get(str(mv_id), mrun, LINEAGE_KEY)
            if isinstance(lineage, list) and any(
                isinstance(i, dict) and i.get("id") == rid and i.get("run_id") == run_id for i in lineage
            ):
                out.append((str(mv_id), mrun))
    return out


def _next(reader: Any, rid: str, run: Any) -> list[tuple[str, Any]]:
    """One hop downstream of ``rid`` in ``run``: the lineage graph's hop plus the used-by index."""
    from lolpop.lineage.graph import build_lineage
    from lolpop.store.reader import Located

    graph = build_lineage(reader, Located(rid, run), "downstream", depth=1)
    found = [(n.id, reader.get_run(n.run_id)) for n in graph.nodes.values() if n.key != graph.root]
    found += _users(reader, rid, run.info.run_id)  # the graph follows it only from datasets
    return found


def _deployed_run(reader: Any, model_id: str, cache: dict[str, str | None]) -> str | None:
    if model_id not in cache:
        # The version index's DEPLOYED entry where it vouches for it, else the search (1.1 s at
        # 100 000 versions on SQLite).
        run = reader.newest(model_id, deployed=True)
        cache[model_id] = run.info.run_id if run is not None else None
    return cache[model_id]


def impact_of(reader: Any, dataset: Any, max_nodes: int = 10000) -> Impact:
    """Everything built downstream of ``dataset`` (a :class:`~lolpop.store.reader.Located`).

    Args:
        reader: a :class:`~lolpop.store.reader.StoreReader`.
        dataset: the dataset version (any resource version works: its downstream is followed).
        max_nodes: stop after this many resource versions (a guard against runaway stores).

    Raises:
        InvalidInputError: ``dataset`` is an experiment.
    """
    if is_experiment_id(dataset.id):
        raise InvalidInputError(f"{dataset.id!r} is an experiment; impact starts from a dataset version")
    reader.remember(dataset.run)
    start = f"{dataset.id}@{dataset.run_id}"
    result = Impact(dataset={"id": dataset.id, "run_id": dataset.run_id,
                             "hexsha": reader.get(dataset.id, dataset.run, "hexsha")})
    seen = {start}
    queue: deque[tuple[str, Any, int]] = deque([(dataset.id, dataset.run, 0)])
    deployed: dict[str, str | None] = {}
    while queue and len(seen) < max_nodes:
        rid, run, hops = queue.popleft()
        for nid, nrun in _next(reader, rid, run):
            node = f"{nid}@{nrun.info.run_id}"
            if node in seen or is_experiment_id(nid) or nrun.data.tags.get(exists_key(nid)) != "True":
                continue
            seen.add(node)
            ntype = reader.get(nid, nrun, "type")
            status = reader.get(nid, nrun, "status")
            found = Affected(id=nid, run_id=nrun.info.run_id, type=None if ntype is None else str(ntype),
                             hops=hops + 1, via=f"{rid}@{run.info.run_id}",
                             status=None if status is None else str(status))
            if found.type == MODEL_VERSION or reader.get(nid, nrun, LINEAGE_KEY) is not None:
                found.deployed_now = _deployed_run(reader, nid, deployed) == found.run_id
                result.model_versions.append(found)
            elif found.type == PREDICTION_JOB:
                result.prediction_jobs.append(found)
            else:
                result.other.append(found)
            queue.append((nid, nrun, hops + 1))
    from lolpop.audit.taint import taint_of

    result.taint = taint_of(reader, dataset.id, dataset.run_id, run=dataset.run)
    for affected in result.model_versions + result.prediction_jobs + result.other:
        affected.tainted = bool(result.taint)
    return result
