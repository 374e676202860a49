"""lolpop's storage format on MLflow: tag keys, value encoding, search filters, URIs.

This package is *neutral*: the tracker writes the format, the lineage reader and the CLI read it,
and all three import it — it imports none of them (and not MLflow at import time, so the CLI
starts fast). Modules:

* :mod:`lolpop.layout.keys`: constants and tag-key builders (``<id>.<key>``, ``<id>.exists``,
  the used-by index, lolpop's run tags), the resource-id rules, the one-tag-key-one-resource check.
* :mod:`lolpop.layout.values`: how values become readable tag text, with their types in a few
  ``_lolpop.types`` bookkeeping tags per run, and come back unchanged.
* :mod:`lolpop.layout.filters`: MLflow search clauses built from ids, and checks of user clauses.
* :mod:`lolpop.layout.versions`: the one rule for which runs are versions of a resource.
* :mod:`lolpop.layout.index`: the version index (newest and DEPLOYED version per id) that lets
  look-ups skip the search.
* :mod:`lolpop.layout.uris`: tracking-URI helpers (redaction, SQLite paths, the embedded default).
* :mod:`lolpop.layout.access`: the one mapping of a store's 401 / 403 answers to lolpop errors
  (credentials rejected vs. permission denied on a named object), for the tracker and readers.
"""
