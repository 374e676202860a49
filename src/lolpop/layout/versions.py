"""The one rule for which runs are versions of a resource (DESIGN.md, "Words").

A version of a non-experiment resource is a *workflow run* (tag ``parent_run = True``) in state
FINISHED that records it (``<id>.exists = True``). The tracker's look-ups ("previous version")
and the lineage reader / CLI ("newest version", "history") all search with these clauses, so they
agree on what counts: a RUNNING, FAILED or KILLED run is never a version.
"""

from __future__ import annotations

from typing import Any

from lolpop.layout import filters
from lolpop.layout.keys import PARENT_RUN_TAG, exists_key

FINISHED = "FINISHED"
#: Newest first.
ORDER_BY = ["attributes.start_time DESC"]


def clauses(resource_id: str) -> list[str]:
    """Search clauses selecting the versions of ``resource_id``."""
    return [
        filters.tag_clause(PARENT_RUN_TAG, "True"),
        f"attributes.status = '{FINISHED}'",
        filters.tag_clause(exists_key(resource_id), "True"),
    ]


def before_clause(start_time: int) -> str:
    """Only runs that started no later than ``start_time`` (ms); the run itself is excluded by id."""
    return f"attributes.start_time <= {int(start_time)}"


def is_version(run: Any, resource_id: str) -> bool:
    """Whether a fetched run is a version of ``resource_id`` by the same rule as :func:`clauses`."""
    tags = run.data.tags
    return (
        tags.get(PARENT_RUN_TAG) == "True"
        and run.info.status == FINISHED
        and tags.get(exists_key(resource_id)) == "True"
    )
