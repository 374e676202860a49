"""User search clauses (``extra_filters``) checked with MLflow's own search parser before use.

Lives in the store-access package because the check is MLflow's parser: a clause lolpop sends
must parse the way the store will parse it, and must not change the meaning of lolpop's own
clauses it is joined to. The clauses lolpop builds from ids are in :mod:`lolpop.layout.filters`.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Sequence

from lolpop.exceptions import InvalidFilterError

# MLflow's parser tolerates a dangling AND; a clause that has one was cut off or glued wrong.
_DANGLING_AND = re.compile(r"^\s*and\b|\band\s*$", re.IGNORECASE)
_AND = re.compile(r"\band\b", re.IGNORECASE)

#: Most comparisons ``extra_filters`` may hold. Each tag/param comparison is a join in MLflow's
#: query: SQLite refuses 200 of them and SQLAlchemy's compiler recurses too deep at a few hundred.
MAX_EXTRA_COMPARISONS = 50


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
        raise InvalidFilterError(f"invalid filter {clause!r:.200}: {exc.message:.300}", clause=clause) from exc
    except RecursionError as exc:
        raise InvalidFilterError(f"filter {clause!r:.200} is nested too deeply to parse", clause=clause) from exc
    except Exception as exc:  # sqlparse can fail in its own ways on garbage input
        raise InvalidFilterError(f"invalid filter {clause!r:.200}: {exc!s:.300}", clause=clause) from exc


def _comparisons(clause: object) -> list[dict]:
    """The parsed comparisons of one clause, which must be a non-empty string without a dangling AND."""
    if not isinstance(clause, str) or not clause.strip():
        raise InvalidFilterError(f"filter clause must be a non-empty string, got {clause!r:.200}")
    if _DANGLING_AND.search(clause):
        raise InvalidFilterError(f"filter clause {clause!r:.200} starts or ends with a dangling AND", clause=clause)
    if "\x00" in clause:
        raise InvalidFilterError(f"filter clause {clause!r:.200} holds a NUL character", clause=clause)
    parsed = _parse(clause)
    if not parsed:
        raise InvalidFilterError(f"filter clause {clause!r:.200} has no comparison", clause=clause)
    return parsed


def combine(base: Sequence[str], extra: Sequence[str] | str | None) -> str:
    """AND ``base`` clauses with the user's ``extra`` ones, after checking every extra clause.

    Each extra clause must parse on its own, and the joined filter must parse to exactly the
    clauses of its parts, so no clause (an unbalanced quote, say) can swallow or alter another.

    Raises:
        InvalidFilterError: a clause is not a non-empty string, is malformed, or leaks; or the
            extra clauses hold more than :data:`MAX_EXTRA_COMPARISONS` comparisons.
    """
    if extra is None:
        extra = []
    elif isinstance(extra, str):
        extra = [extra]
    elif not isinstance(extra, (list, tuple)):
        raise InvalidFilterError(f"extra_filters must be a list of strings, not {type(extra).__name__}")
    # A rough count first (an "and" inside a quoted value counts too, hence the slack):
    # parsing hundreds of comparisons alone takes seconds.
    rough = sum(1 + len(_AND.findall(c)) for c in extra if isinstance(c, str))
    if len(extra) > MAX_EXTRA_COMPARISONS or rough > MAX_EXTRA_COMPARISONS * 2:
        raise _too_many(max(len(extra), rough))
    base_parsed = [c for clause in base for c in _comparisons(clause)]
    extra_parsed = [c for clause in extra for c in _comparisons(clause)]
    if len(extra_parsed) > MAX_EXTRA_COMPARISONS:
        raise _too_many(len(extra_parsed))
    expected = base_parsed + extra_parsed
    joined = " and ".join(f"{c}" for c in list(base) + list(extra))
    # Our own clauses quote every key and value, so only user clauses can leak into others.
    if extra and _parse(joined) != expected:
        raise InvalidFilterError(f"filters {list(extra)!r:.500} change each other's meaning when combined")
    return joined


def _too_many(count: int) -> InvalidFilterError:
    return InvalidFilterError(
        f"extra_filters hold {count} comparisons; at most {MAX_EXTRA_COMPARISONS} are allowed "
        "(each becomes a join in MLflow's query): narrow the search"
    )
