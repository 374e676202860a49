"""Quarantine events of dataset versions: how each is stored, and how a sequence of them reads.

A quarantine (``tracker.quarantine`` / ``lolpop quarantine``) and its lift
(``tracker.lift_quarantine`` / ``lolpop quarantine --lift``) are each one *event*, stored as its
own run tag on the run holding the dataset version::

    _lolpop.quarantine.<µs since the epoch, 16 digits>.<32 hex> = {"time_us": ...,
        "dataset_version_id": ..., "run_id": ..., "action": "quarantine" | "lift",
        "reason": ..., "user": ..., "writer_run_id": ...}

Why on the dataset version's own run: a writer with no workflow run (the CLI) can add it with
one set-tag request and creates nothing, and every reader that walks the lineage has already
fetched that run, so knowing its quarantine state costs no request of its own.

One tag per event, with a key no other writer can produce (time and a random id), means
concurrent writers only ever *add* tags: none is lost, none overwritten. The order is
deterministic: by ``time_us`` (the writer's clock; strictly increasing within one process), then
by the tag key (so two writers that hit the same microsecond are still ordered the same way by
every reader). The current state of a dataset version is the action of its last event.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from lolpop.exceptions import InvalidInputError
from lolpop.layout.events import _now_us
from lolpop.layout.keys import QUARANTINE_PREFIX, quarantine_key

QUARANTINE = "quarantine"
LIFT = "lift"
ACTIONS = (QUARANTINE, LIFT)
#: The longest reason kept: an event is one tag, and MLflow's tag values are bounded.
MAX_REASON = 2000


@dataclass(frozen=True)
class QuarantineEvent:
    """One quarantine or lift of a dataset version.

    Attributes:
        time: when it was written (UTC, the writer's clock).
        dataset_version_id: the dataset version's resource id.
        run_id: the run holding that dataset version (the exact version).
        action: ``"quarantine"`` or ``"lift"``.
        reason: why (free text as given; stored data: render it escaped).
        user: who (the MLflow user on a server with authentication, else the OS login).
        writer_run_id: the workflow run of the tracker that wrote it (``None``: the CLI).
        key: the run tag holding the event (unique).
    """

    time: datetime
    dataset_version_id: str
    run_id: str
    action: str
    reason: str | None
    user: str | None
    writer_run_id: str | None
    key: str

    @property
    def time_us(self) -> int:
        return int(self.key[len(QUARANTINE_PREFIX):].split(".", 1)[0])

    @property
    def quarantined(self) -> bool:
        return self.action == QUARANTINE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``time`` as ISO 8601 UTC text."""
        return {"time": self.time.isoformat(), "dataset_version_id": self.dataset_version_id,
                "run_id": self.run_id, "action": self.action, "reason": self.reason, "user": self.user,
                "writer_run_id": self.writer_run_id}

    def __repr__(self) -> str:
        reason = repr(self.reason)
        reason = reason if len(reason) <= 40 else reason[:39] + "…"
        return (f"<QuarantineEvent {self.time:%Y-%m-%d %H:%M:%S} {self.action} "
                f"{self.dataset_version_id[:60]!r}@{self.run_id[:8]} by {self.user!r}: {reason}>")


def check_reason(reason: Any, required: bool) -> str | None:
    """``reason`` if it can be stored, else a clear error.

    Raises:
        InvalidInputError: not a string (or missing where ``required``), blank, longer than
            :data:`MAX_REASON`, or holding a NUL.
    """
    if reason is None and not required:
        return None
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInputError(f"a quarantine reason must be a non-empty string, got {reason!r:.100}",
                                value=reason)
    if len(reason) > MAX_REASON:
        raise InvalidInputError(f"a quarantine reason holds at most {MAX_REASON} characters, got {len(reason)}",
                                value=reason[:100] + "…")
    if "\x00" in reason:
        raise InvalidInputError("a quarantine reason cannot hold a NUL character", value=reason)
    return reason


def new_event_tag(dataset_version_id: str, run_id: str, action: str, reason: str | None, *,
                  user: str | None, writer_run_id: str | None) -> tuple[str, str]:
    """``(tag key, tag value)`` recording ``action`` on the dataset version now."""
    if action not in ACTIONS:
        raise InvalidInputError(f"quarantine action must be one of {ACTIONS}, got {action!r}", value=action)
    time_us = _now_us()
    key = quarantine_key(time_us, uuid.uuid4().hex)
    value = {"time_us": time_us, "dataset_version_id": dataset_version_id, "run_id": run_id, "action": action,
             "reason": reason, "user": user, "writer_run_id": writer_run_id}
    return key, json.dumps(value, ensure_ascii=False)


def events_in(tags: Mapping[str, str], run_id: str, dataset_version_id: str | None = None) -> list[QuarantineEvent]:
    """The quarantine events held by a run's ``tags`` (of one dataset version id, or all), oldest
    first. A tag that does not parse as an event, or that names another run, is skipped: readers
    never fail on a foreign or forged tag, and an event only speaks for the run holding it."""
    out = []
    for key, text in tags.items():
        if not key.startswith(QUARANTINE_PREFIX):
            continue
        try:
            value = json.loads(text)
            time_us = int(key[len(QUARANTINE_PREFIX):].split(".", 1)[0])
            action = value["action"]
            reason = value.get("reason")
            user = value.get("user")
            writer = value.get("writer_run_id")
            if action not in ACTIONS or value.get("run_id", run_id) != run_id:
                continue
            event = QuarantineEvent(
                time=datetime.fromtimestamp(time_us / 1_000_000, tz=timezone.utc),
                dataset_version_id=str(value["dataset_version_id"]), run_id=run_id, action=action,
                reason=None if reason is None else str(reason), user=None if user is None else str(user),
                writer_run_id=None if writer is None else str(writer), key=key,
            )
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            continue
        if dataset_version_id is None or event.dataset_version_id == dataset_version_id:
            out.append(event)
    return ordered(out)


def ordered(events: Iterable[QuarantineEvent]) -> list[QuarantineEvent]:
    """Oldest first: by time, then by tag key (the same order for every reader)."""
    return sorted(events, key=lambda e: (e.time_us, e.key))


def current(tags: Mapping[str, str], run_id: str, dataset_version_id: str) -> QuarantineEvent | None:
    """The event in force for the dataset version: its last quarantine when that was not lifted
    since, else ``None``."""
    found = events_in(tags, run_id, dataset_version_id)
    return found[-1] if found and found[-1].quarantined else None
