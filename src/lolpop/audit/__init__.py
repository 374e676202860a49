"""Audit trails read straight from a store, without a tracker (the CLI's read side).

* :func:`status_history`: every status set on any version of a model, oldest first.
* :func:`deployed_at`: what was ``DEPLOYED`` at a moment.
* :func:`diff_versions`: what changed between two versions of a model (:mod:`.diff`).
* :func:`impact_of`: everything built downstream of a dataset version, and what of it is
  deployed now (:mod:`.impact`).

All work on a read-only :class:`~lolpop.store.reader.StoreReader`; the event format is
:mod:`lolpop.layout.events`. OpenLineage export lives in :mod:`.openlineage`.
"""

from lolpop.audit.deployments import StatusHistory, deployed_at, parse_when, status_history, to_json
from lolpop.audit.diff import DiffRow, VersionDiff, diff_versions, version_pair
from lolpop.audit.impact import Affected, Impact, impact_of
from lolpop.layout.events import StatusEvent

__all__ = ["Affected", "DiffRow", "Impact", "StatusEvent", "StatusHistory", "VersionDiff", "deployed_at", "diff_versions",
           "impact_of", "parse_when", "status_history", "to_json", "version_pair"]
