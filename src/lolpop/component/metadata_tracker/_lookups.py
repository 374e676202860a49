"""Version look-ups: "the newest version of X (before Y)", from the version index when it can vouch
for the answer, else by MLflow search (:mod:`lolpop.layout.versions` is the rule both follow).

Constant-time (index): the newest version of an id (``get_resource`` of an id recorded elsewhere),
the previous version (``get_prev_resource_version`` with ``num=1`` and no ``extra_filters``),
the deployed version (``get_currently_deployed_model_version``) and the newest prediction job
(``get_latest_model_resource``). An indexed answer is used only when it passes every condition
of the search it replaces; otherwise, and for ``num > 1`` or ``extra_filters``, the search runs.
"""

from __future__ import annotations

from collections.abc import Sequence

from lolpop.store.entities import Run

from lolpop.store import user_filters
from lolpop.store._run_store import RunStore
from lolpop.component.metadata_tracker._version_index import VersionIndex
from lolpop.layout import filters, index, versions
from lolpop.layout.keys import key

DEPLOYED = index.DEPLOYED_STATUS


def deployed_clause(resource_id: str) -> str:
    """The search clause of "whose status is DEPLOYED" (strictly: the tag's exact text)."""
    return filters.tag_clause(key(resource_id, "status"), DEPLOYED)


class Lookups:
    """Look-ups of one tracker (``experiment_id`` is used when no ``before`` run is given)."""

    def __init__(self, store: RunStore, experiment_id: str, version_index: VersionIndex) -> None:
        self.store = store
        self.experiment_id = experiment_id
        self.index = version_index

    def search(self, resource_id: str, num: int, extra: Sequence[str] | str | None = None,
               before: Run | None = None, include_before: bool = False) -> list[Run]:
        """Versions of ``resource_id``, newest first, that started no later than ``before``
        (``before`` itself only with ``include_before``): one ``runs/search``."""
        clauses = versions.clauses(resource_id)
        if before is not None:
            clauses.append(versions.before_clause(before.info.start_time))
        runs = self.store.search(
            [before.info.experiment_id if before is not None else self.experiment_id],
            user_filters.combine(clauses, extra), versions.ORDER_BY, num + (1 if before is not None else 0),
        )
        exclude = before.info.run_id if before is not None and not include_before else None
        return [r for r in runs if r.info.run_id != exclude][:num]

    def newest(self, resource_id: str, before: Run | None = None, include_before: bool = False,
               deployed: bool = False) -> Run | None:
        """What ``search(resource_id, 1, …)`` returns first (with the DEPLOYED clause when
        ``deployed``), or ``None``."""
        experiment_id = before.info.experiment_id if before is not None else self.experiment_id
        # An id the search could not take (a backtick, a NUL) is refused here as it was by the
        # search, also when the index answers without one.
        versions.clauses(resource_id)
        found = self.index.candidate(index.DEPLOYED if deployed else index.NEWEST, resource_id, experiment_id)
        if found is not None:
            if found.run is None:
                if found.complete:
                    return None  # every version is indexed, and none of this id: no search
            elif index.answers(found.run, found.since, resource_id, experiment_id, step=found.step, before=before,
                               include_before=include_before, deployed=deployed):
                return found.run
        runs = self.search(resource_id, 1, [deployed_clause(resource_id)] if deployed else None,
                           before, include_before)
        return runs[0] if runs else None
