"""Building MLflow search filters from resource ids and user clauses, safely."""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Sequence

from lolpop.exceptions import InvalidFilterError


# MLflow's parser tolerates a dangling AND; a clause that has one was cut off or glued wrong.
_DANGLING_AND = re.compile(r"^\s*and\b|\band\s*$", re.IGNORECASE)


def tag_clause(key: str, value: str) -> str:
    """``tags.`key` = 'value'`` — ids are validated tag names, which never contain a backtick."""
    if "`" in key:
        raise InvalidFilterError(f"tag key {key!r} contains a backtick")
    if "'" not in value:
        quoted = f"'{value}'"
    elif '"' not in value:
        quoted = f'"{value}"'
    else:
        raise InvalidFilterError(f"value {value!r} holds both quote characters; MLflow cannot match it")
    return f"tags.`{key}` = {quoted}"


def model_version_filter(name: str, run_id: str) -> str:
    """``search_model_versions`` filter for the versions of registered model ``name`` made from
    run ``run_id``."""
    if "'" in name or "'" in run_id:
        raise InvalidFilterError(f"registered model name {name!r} or run id {run_id!r} contains a quote")
    return f"name = '{name}' and run_id = '{run_id}'"


def _parse(clause: str) -> list[dict]:
    # sqlparse costs ~ms per clause; look-ups repeat the same clauses, so parse each once.
    return copy.deepcopy(_parse_cached(clause))


@functools.lru_cache(maxsize=2048)
def _parse_cached(clause: str) -> list[dict]:
    # MLflow is imported only when a filter is parsed: readers that never parse start faster.
    from mlflow.exceptions import MlflowException
    from mlflow.utils.search_utils import SearchUtils

    try:
        return SearchUtils.parse_search_filter(clause)
    except MlflowException as exc:
        raise InvalidFilterError(f"invalid filter {clause!r}: {exc.message}") from exc
    except Exception as exc:  # sqlparse can fail in its own ways on garbage input
        raise InvalidFilterError(f"invalid filter {clause!r}: {exc}") from exc


def combine(base: Sequence[str], extra: Sequence[str] | str | None) -> str:
    """AND ``base`` clauses with the user's ``extra`` ones, after checking every extra clause.

    Each extra clause must parse on its own, and the joined filter must parse to exactly the
    clauses of its parts, so no clause (an unbalanced quote, say) can swallow or alter another.

    Raises:
        InvalidFilterError: a clause is not a non-empty string, is malformed, or leaks.
    """
    if extra is None:
        extra = []
    elif isinstance(extra, str):
        extra = [extra]
    elif not isinstance(extra, (list, tuple)):
        raise InvalidFilterError(f"extra_filters must be a list of strings, not {type(extra).__name__}")
    expected: list[dict] = []
    for clause in list(base) + list(extra):
        if not isinstance(clause, str) or not clause.strip():
            raise InvalidFilterError(f"filter clause must be a non-empty string, got {clause!r}")
        if _DANGLING_AND.search(clause):
            raise InvalidFilterError(f"filter clause {clause!r} starts or ends with a dangling AND")
        parsed = _parse(clause)
        if not parsed:
            raise InvalidFilterError(f"filter clause {clause!r} has no comparison")
        expected.extend(parsed)
    joined = " and ".join(f"{c}" for c in list(base) + list(extra))
    # Our own clauses quote every key and value, so only user clauses can leak into others.
    if extra and _parse(joined) != expected:
        raise InvalidFilterError(f"filters {list(extra)!r} change each other's meaning when combined")
    return joined
