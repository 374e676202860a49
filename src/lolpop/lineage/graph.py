"""The lineage graph of exact resource versions, built from the tracker's tag layout.

A node is one resource *version*: a resource id in one MLflow run. Edges follow the data:

* ``dataset version --trained--> model version`` (from the model version's ``dataset_versions``
  metadata, which names the exact dataset runs; downstream via the searchable
  ``_lolpop.used_by.<dataset_run_id>.<dataset_id>`` tag written next to it),
* ``experiment --winner|candidate--> model version`` (experiments are nested runs whose parent is
  the model version; the winner is the model version's ``winning_experiment_id``),
* ``model version --predicted--> prediction job`` (the job's recorded ``parent_id`` /
  ``parent_run_id``),
* ``parent --parent--> child`` for any other resource created with a ``parent``.

Downstream, what was made from a version (prediction jobs included) is found by the searchable
``_lolpop.child_of.<parent_run_id>.<parent_id>`` tag written with the child
(:meth:`~lolpop.store.reader.StoreReader.made_from`; in an experiment whose writers may not have
written it, a model version's prediction jobs also by a search on their ``parent_run_id``).

*Upstream* of a node is what it was made from, *downstream* what was made from it. Expanding a
node costs at most one ``search_runs`` request per direction (plus cached ``get_run`` reads).
"""

from __future__ import annotations

import json
from collections import deque
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from lolpop.lineage.labels import highlight_text  # noqa: F401 - re-exported (__all__)
from lolpop.lineage.model import LineageEdge, LineageNode
from lolpop.store.clients.base import Run
from lolpop.layout import arguments
from lolpop.layout import filters as _filters
from lolpop.layout.keys import LINEAGE_KEY, WINNER_KEY, listed, prediction_job_id
from lolpop.store.reader import (
    MLFLOW_PARENT,
    STRUCTURAL,
    Located,
    StoreReader,
    is_experiment_id,
    used_by_key,
)

DIRECTIONS = ("both", "upstream", "downstream")
EXPERIMENT = "experiment"
MODEL_VERSION = "model_version"
PREDICTION_JOB = "prediction_job"
_HIGHLIGHT_KEYS = ("status", "hexsha", "rows", "prediction_count", "accuracy", "model_trainer")


@dataclass
class LineageGraph:
    """Nodes and edges around ``root``. ``to_dict()`` gives the JSON form."""

    root: str
    direction: str
    depth: int | None
    nodes: dict[str, LineageNode] = field(default_factory=dict)
    edges: list[LineageEdge] = field(default_factory=list)
    #: ``(source, target)`` of ``edges``, so adding an edge does not scan them all (a model version
    #: with a thousand experiments has a thousand edges); rebuilt when ``edges`` was changed directly.
    _pairs: set[tuple[str, str]] = field(default_factory=set, init=False, repr=False, compare=False)
    #: experiments left out per model version node key (``max_experiments`` of the builder)
    omitted: dict[str, int] = field(default_factory=dict)

    @property
    def root_node(self) -> LineageNode:
        return self.nodes[self.root]

    def add_edge(self, source: str, target: str, relation: str) -> None:
        if len(self._pairs) != len(self.edges):
            self._pairs = {(e.source, e.target) for e in self.edges}
        if (source, target) in self._pairs:
            return
        self.edges.append(LineageEdge(source, target, relation))
        self._pairs.add((source, target))

    def parents(self, key: str) -> list[LineageEdge]:
        return [e for e in self.edges if e.target == key]

    def children(self, key: str) -> list[LineageEdge]:
        return [e for e in self.edges if e.source == key]

    def to_dict(self) -> dict[str, Any]:
        return {
            "root": self.root,
            "direction": self.direction,
            "depth": self.depth,
            "nodes": [asdict(n) for n in self.nodes.values()],
            "edges": [asdict(e) for e in self.edges],
        } | ({"omitted_experiments": dict(self.omitted)} if self.omitted else {})

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=str)

    def _repr_html_(self) -> str:
        """Jupyter shows the graph as the lineage page's picture and table (stored text escaped)."""
        from lolpop.lineage.render import to_html_fragment

        return to_html_fragment(self)


def node_key(resource_id: str, run_id: str) -> str:
    return f"{resource_id}@{run_id}"


class LineageBuilder:
    """Walks the store from one resource version, upstream and/or downstream.

    Args:
        reader: a :class:`StoreReader` (read-only).
        direction: ``"both"``, ``"upstream"`` or ``"downstream"``.
        depth: maximum hops from the root, ``None`` for no limit.
        max_experiments: at most this many experiments per model version (the winner and the
            newest others); how many were left out is in ``graph.omitted``. ``None``: all.
    """

    def __init__(self, reader: StoreReader, direction: str = "both", depth: int | None = None,
                 max_experiments: int | None = None) -> None:
        self.reader = reader
        self.direction = arguments.one_of(direction, DIRECTIONS, "direction")
        self.depth = arguments.depth(depth)
        self.max_experiments = max_experiments
        self.omitted: dict[str, int] = {}

    # -- nodes -------------------------------------------------------------------------------
    def _type(self, rid: str, run: Run) -> str | None:
        recorded = self.reader.get(rid, run, "type")
        if recorded:
            return str(recorded)
        return EXPERIMENT if is_experiment_id(rid) and rid.startswith(run.info.run_id) else None

    def _node(self, rid: str, run: Run, role: str, depth: int) -> LineageNode:
        rtype = self._type(rid, run)
        meta = self.reader.metadata(rid, run, structural=False)
        highlights: dict[str, Any] = {}
        if rtype == EXPERIMENT:
            highlights.update({k: round(v, 4) for k, v in sorted(run.data.metrics.items())[:3]})
        for key in _HIGHLIGHT_KEYS:
            if key == "model_trainer" and rtype == EXPERIMENT:
                continue  # it is the experiment's label
            value = meta.get(key)
            if value is not None and key not in highlights and not isinstance(value, (dict, list)):
                highlights[key] = value
        if rtype == EXPERIMENT:
            config = meta.get("model_trainer_config")
            estimator = config.get("estimator") if isinstance(config, dict) else None
            label = str(estimator or meta.get("model_trainer") or run.info.run_name or rid.split(".", 1)[0][:8])
        else:
            label = rid
        start = datetime.fromtimestamp((run.info.start_time or 0) / 1000, tz=timezone.utc)
        return LineageNode(
            key=node_key(rid, run.info.run_id), id=rid, run_id=run.info.run_id, type=rtype,
            experiment_id=run.info.experiment_id, run_status=run.info.status,
            start_time=start.isoformat(timespec="seconds"), label=label, highlights=highlights,
            role=role, depth=depth,
        )

    # -- hops --------------------------------------------------------------------------------
    def _upstream(self, node: LineageNode) -> list[tuple[str, Run, str, str]]:
        """``[(id, run, relation, edge_direction)]`` of what ``node`` was made from."""
        run = self.reader.get_run(node.run_id)
        out: list[tuple[str, Run, str, str]] = []
        if node.type == EXPERIMENT:
            return out
        lineage = self.reader.get(node.id, run, LINEAGE_KEY)
        if isinstance(lineage, list):
            for item in lineage:
                if isinstance(item, dict) and item.get("id") and item.get("run_id"):
                    drun = self.reader.get_run(str(item["run_id"]))
                    out.append((str(item["id"]), drun, "trained", "in"))
        if node.type == MODEL_VERSION or lineage is not None:
            winner = self.reader.get(node.id, run, WINNER_KEY)
            experiments = []
            for erun in self.reader.search(
                _filters.tag_clause(MLFLOW_PARENT, node.run_id), experiment_ids=[node.experiment_id]
            ):
                eid = f"{erun.info.run_id}.{node.id}"
                if self.reader.has_resource(eid, erun):
                    experiments.append((eid, erun, "winner" if eid == winner else "candidate", "in"))
            limit = self.max_experiments
            if limit is not None and len(experiments) > limit:
                # The winner, then the newest others (the search answers newest first): a page of
                # a thousand-trial search stays readable and costs the same as one of ten.
                kept = [e for e in experiments if e[2] == "winner"][:limit]
                kept += [e for e in experiments if e[2] != "winner"][: limit - len(kept)]
                self.omitted[node.key] = len(experiments) - len(kept)
                ids = {e[0] for e in kept}
                experiments = [e for e in experiments if e[0] in ids]
            out += experiments
        parent_id = self.reader.get(node.id, run, "parent_id")
        parent_run_id = self.reader.get(node.id, run, "parent_run_id")
        if parent_id and parent_run_id:
            prun = self.reader.get_run(str(parent_run_id))
            relation = "predicted" if node.type == PREDICTION_JOB else "parent"
            out.append((str(parent_id), prun, relation, "in"))
        return out

    def _downstream(self, node: LineageNode) -> list[tuple[str, Run, str, str]]:
        """``[(id, run, relation, edge_direction)]`` of what was made from ``node``."""
        run = self.reader.get_run(node.run_id)
        out: list[tuple[str, Run, str, str]] = []
        if node.type == EXPERIMENT:
            parent_id = self.reader.get(node.id, run, "parent_id") or node.id.split(".", 1)[1]
            parent_run_id = self.reader.get(node.id, run, "parent_run_id") or run.data.tags.get(MLFLOW_PARENT)
            if parent_id and parent_run_id:
                mv_run = self.reader.get_run(str(parent_run_id))
                winner = self.reader.get(str(parent_id), mv_run, WINNER_KEY)
                out.append((str(parent_id), mv_run, "winner" if winner == node.id else "candidate", "out"))
            return out
        if node.type == PREDICTION_JOB:
            return out
        # What was made from it (created with parent=); a model version's prediction jobs among them.
        predicted = node.type == MODEL_VERSION or self.reader.get(node.id, run, LINEAGE_KEY) is not None
        pid = prediction_job_id(node.id)
        for cid, crun in self.reader.made_from(node.id, node.run_id, predictions=predicted):
            if (self.reader.get(cid, crun, "parent_id") == node.id
                    and self.reader.get(cid, crun, "parent_run_id") == node.run_id):
                job = cid == pid or self.reader.get(cid, crun, "type") == PREDICTION_JOB
                out.append((cid, crun, "predicted" if job else "parent", "out"))
        if predicted:
            return out
        # ... and may be a dataset version some model version was trained on.
        used_by = used_by_key(node.run_id, node.id)
        for mrun in self.reader.search(f"tags.`{used_by}` LIKE '%'"):
            for mv_id in listed(mrun.data.tags, used_by):
                lineage = self.reader.get(str(mv_id), mrun, LINEAGE_KEY)
                if isinstance(lineage, list) and any(
                    isinstance(i, dict) and i.get("id") == node.id and i.get("run_id") == node.run_id
                    for i in lineage
                ):
                    out.append((str(mv_id), mrun, "trained", "out"))
        return out

    # -- walk --------------------------------------------------------------------------------
    def build(self, start: Located) -> LineageGraph:
        """Return the lineage graph around ``start``."""
        self.reader.remember(start.run)
        root = self._node(start.id, start.run, "root", 0)
        graph = LineageGraph(root=root.key, direction=self.direction, depth=self.depth)
        self.omitted = graph.omitted
        graph.nodes[root.key] = root
        walks = []
        if self.direction in ("both", "upstream"):
            walks.append(("upstream", self._upstream))
        if self.direction in ("both", "downstream"):
            walks.append(("downstream", self._downstream))
        for role, hop in walks:
            seen = {root.key}
            queue: deque[LineageNode] = deque([root])
            while queue:
                node = queue.popleft()
                if self.depth is not None and node.depth >= self.depth:
                    continue
                for rid, run, relation, way in hop(node):
                    key = node_key(rid, run.info.run_id)
                    if key not in graph.nodes:
                        graph.nodes[key] = self._node(rid, run, role, node.depth + 1)
                    other = graph.nodes[key]
                    if relation == "winner":
                        (other if other.type == EXPERIMENT else node).winner = True
                    if way == "in":
                        graph.add_edge(key, node.key, relation)
                    else:
                        graph.add_edge(node.key, key, relation)
                    if key not in seen:
                        seen.add(key)
                        queue.append(other)
        return graph


def build_lineage(reader: StoreReader, start: Located, direction: str = "both",
                  depth: int | None = None, max_experiments: int | None = None) -> LineageGraph:
    """Build the lineage graph of ``start`` (see :class:`LineageBuilder`)."""
    return LineageBuilder(reader, direction, depth, max_experiments).build(start)


__all__ = [
    "LineageBuilder", "LineageEdge", "LineageGraph", "LineageNode", "STRUCTURAL",
    "build_lineage", "highlight_text", "node_key",
]
