"""Lineage of exact resource versions: graph building (``graph``), pictures (``render``: tree,
JSON, Mermaid, DOT, self-contained HTML), and ``safe_text`` for showing stored text. The store is
read through :mod:`lolpop.store` (``StoreReader`` and ``open_client`` are re-exported here).

Importing it is cheap: MLflow, SQLAlchemy, requests and rich are imported only where used.
"""

from lolpop.store.clients.base import StoreClient
from lolpop.lineage.graph import LineageEdge, LineageGraph, LineageNode, build_lineage
from lolpop.lineage.render import FORMATS, render, to_dot, to_html, to_mermaid, to_tree
from lolpop.store.reader import Located, StoreReader, open_client

__all__ = [
    "FORMATS", "LineageEdge", "LineageGraph", "LineageNode", "Located", "StoreClient", "StoreReader",
    "build_lineage", "open_client", "render", "to_dot", "to_html", "to_mermaid", "to_tree",
]
