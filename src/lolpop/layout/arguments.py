"""The checks of what callers hand lolpop — resources, ids, choices — in one place, shared by the
tracker, the readers (:class:`~lolpop.store.reader.StoreReader`), lineage and audit, so the same
bad input gets the same error wherever it is given.

Each check returns the value it accepted and raises an error from :mod:`lolpop.exceptions` that
names the argument and carries the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lolpop.exceptions import InvalidInputError, InvalidResourceIdError


def resource_pair(resource: Any, what: str = "resource") -> tuple[Any, Any]:
    """``(id, run)`` of a resource: a 2-tuple (or list) whose second element is an MLflow run
    (anything with ``info.run_id``: MLflow's ``Run`` and the readers' plain one alike).

    Raises:
        InvalidInputError: not a pair, or the second element is not a run.
    """
    if not isinstance(resource, (tuple, list)) or len(resource) != 2:
        raise InvalidInputError(f"{what} must be an (id, run) pair, got {resource!r:.200}", value=resource)
    if not isinstance(getattr(getattr(resource[1], "info", None), "run_id", None), str):
        raise InvalidInputError(f"{what} {resource[0]!r:.100}: second element is not an MLflow run",
                                resource_id=resource[0])
    return resource[0], resource[1]


def resource_id(value: Any, what: str = "resource id") -> str:
    """A resource id: a non-empty string.

    Raises:
        InvalidResourceIdError: anything else.
    """
    if not isinstance(value, str) or not value:
        raise InvalidResourceIdError(f"{what} must be a non-empty string, got {value!r:.100}", resource_id=value)
    return value


def one_of(value: Any, choices: Sequence[Any], what: str) -> Any:
    """``value`` when it is one of ``choices``.

    Raises:
        InvalidInputError: naming ``what`` and the choices.
    """
    if value not in choices:
        raise InvalidInputError(f"{what} must be one of {', '.join(map(str, choices))}, got {value!r:.100}",
                                value=value)
    return value


def depth(value: Any, what: str = "depth") -> int | None:
    """A lineage depth: ``None`` (no limit) or an int >= 0.

    Raises:
        InvalidInputError: anything else.
    """
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise InvalidInputError(f"{what} must be a non-negative int or None, got {value!r:.100}", value=value)
    return value
