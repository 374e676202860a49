"""The taint seam for audit readers (the tracker's gate, ``get_impact``, the CLI, the audit
report): :func:`taint_of` a resource version on a :class:`~lolpop.store.reader.StoreReader`, as
frozen :class:`TaintFinding` dataclasses with ``to_dict()``. The walk itself lives with the other
store walks, in :mod:`lolpop.lineage.taint`."""

from lolpop.lineage.taint import MAX_NODES, TaintFinding, annotate, override_sources, taint_of, upstream_of

__all__ = ["MAX_NODES", "TaintFinding", "annotate", "override_sources", "taint_of", "upstream_of"]
