"""Lineage of exact resource versions: graph building (``graph``), read-only store access
(``store``, over the clients in ``clients``), pictures (``render``: tree, JSON, Mermaid, DOT,
self-contained HTML), and ``safe_text`` for showing stored text.

Importing it is cheap: MLflow, SQLAlchemy, requests and rich are imported only where used.
"""

from lolpop.lineage.clients.base import StoreClient
from lolpop.lineage.graph import LineageEdge, LineageGraph, LineageNode, build_lineage
from lolpop.lineage.render import FORMATS, render, to_dot, to_html, to_mermaid, to_tree
from lolpop.lineage.store import Located, StoreReader, open_client

__all__ = [
    "FORMATS", "LineageEdge", "LineageGraph", "LineageNode", "Located", "StoreClient", "StoreReader",
    "build_lineage", "open_client", "render", "to_dot", "to_html", "to_mermaid", "to_tree",
]
