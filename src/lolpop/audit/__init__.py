"""Audit trails read straight from a store, without a tracker (the CLI's read side).

* :func:`status_history`: every status set on any version of a model, oldest first.
* :func:`deployed_at`: what was ``DEPLOYED`` at a moment.

Both work on a read-only :class:`~lolpop.lineage.store.StoreReader`; the event format is
:mod:`lolpop.layout.events`.
"""

from lolpop.audit.deployments import deployed_at, parse_when, status_history, to_json
from lolpop.layout.events import StatusEvent

__all__ = ["StatusEvent", "deployed_at", "parse_when", "status_history", "to_json"]
