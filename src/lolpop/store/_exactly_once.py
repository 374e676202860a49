"""Creates happen exactly once (DESIGN.md, Lifecycle).

Each run, LoggedModel and registry version is created with a fresh
:data:`~lolpop.layout.keys.CREATE_TOKEN_TAG`; the request layer never resends a create whose answer
may have been lost (:class:`~lolpop.store._bounded_client.AnswerLost`), and :meth:`CreateOnce.run`
then looks the token up and creates again only when the store holds nothing under it. What the
server applied after that look-up is found by :meth:`CreateOnce.sweep` (at ``stop()``) and removed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lolpop.store._bounded_client import AnswerLost

logger = logging.getLogger("lolpop.run_store")

T = TypeVar("T")

#: Creates of one record after lost answers: each attempt rides out an absent server on its own.
_CREATE_ATTEMPTS = 4


@dataclass
class _Uncertain:
    """A create that lost an answer: how to find the records made under its token, which one
    is kept (``None`` until a create answered), and how to remove the others."""

    find: Callable[[], list[tuple[str, Any]]]
    discard: Callable[[Any], None]
    kept: str | None = None


class CreateOnce:
    """The exactly-once rule of one store's creates, and the creates that lost an answer (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._uncertain: list[_Uncertain] = []

    def run(self, what: str, create: Callable[[], T], find: Callable[[], list[tuple[str, T]]],
            ident: Callable[[T], str], discard: Callable[[T], None]) -> T:
        """``create()`` exactly once: after a lost answer, the record is looked up by its token
        (``find``: ``(id, record)`` pairs, the one to keep first) before it is created again.
        A create that lost an answer is remembered for :meth:`sweep`."""
        uncertain: _Uncertain | None = None
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                made = create()
            except AnswerLost:
                if uncertain is None:
                    uncertain = _Uncertain(find, discard)
                    with self._lock:
                        self._uncertain.append(uncertain)
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                found = find()
                if not found:
                    logger.info("lolpop: creating %s lost its answer and the store has no record of it; "
                                "creating it again", what)
                    continue
                (uncertain.kept, made), *extra = found
                for _, record in extra:
                    discard(record)
                logger.info("lolpop: creating %s lost its answer; the store had applied it (%s)", what,
                            uncertain.kept)
                return made
            if uncertain is not None:
                uncertain.kept = ident(made)
            return made
        raise AssertionError("unreachable: the last attempt returns or raises")

    def sweep(self) -> int:
        """Remove records that a create applied after its lost answer was looked up (one look-up
        per such create; none at all when no answer was lost). Returns how many were removed."""
        with self._lock:
            uncertain, self._uncertain = self._uncertain, []
        removed = 0
        for entry in uncertain:
            for record_id, record in entry.find():
                if record_id != entry.kept:  # none kept (every attempt failed): all are leftovers
                    entry.discard(record)
                    removed += 1
        return removed
