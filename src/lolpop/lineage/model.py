"""The parts of a lineage graph: a node is one resource version, an edge says how one was made
from another. A leaf module, so the renderers can name them without importing the builder."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class LineageNode:
    """One resource version.

    Attributes:
        key: unique node key, ``<resource id>@<run id>``.
        id: the resource id.
        run_id: the MLflow run that records this version.
        type: the recorded resource type (``experiment`` for nested runs), or ``None``.
        experiment_id: the MLflow experiment of the run.
        run_status: the run's MLflow status (``FINISHED``, ``RUNNING``...).
        start_time: run start, ISO 8601 UTC.
        label: a short human name (experiments: their trainer or run name).
        highlights: a few key metadata values (status, hexsha, metrics...).
        winner: for experiments, whether it is the model version's winning experiment.
        role: ``root``, ``upstream`` or ``downstream`` relative to the queried resource.
        depth: hops from the root.
        taint: the quarantined dataset versions it is (hops 0) or was built from
            (:func:`lolpop.lineage.taint.annotate`; ``TaintFinding.to_dict()`` each), nearest first.
    """

    key: str
    id: str
    run_id: str
    type: str | None
    experiment_id: str
    run_status: str
    start_time: str
    label: str
    highlights: dict[str, Any] = field(default_factory=dict)
    winner: bool = False
    role: str = "root"
    depth: int = 0
    taint: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class LineageEdge:
    """``source`` was used to make ``target`` (node keys); ``relation`` says how."""

    source: str
    target: str
    relation: str


class GraphView(Protocol):
    """What the renderers read of a graph (:class:`lolpop.lineage.graph.LineageGraph`): named
    structurally, so the builder can import the renderers for its ``_repr_html_`` without a cycle."""

    root: str
    direction: str
    depth: int | None
    nodes: dict[str, LineageNode]
    edges: list[LineageEdge]
    omitted: dict[str, int]

    @property
    def root_node(self) -> LineageNode: ...

    def parents(self, key: str) -> list[LineageEdge]: ...

    def children(self, key: str) -> list[LineageEdge]: ...

    def to_json(self, indent: int | None = 2) -> str: ...
