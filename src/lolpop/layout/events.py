"""Status events of model versions: how each is stored, and how a sequence of them reads.

Every status set on a model version (``log_metadata``/``log_tag``/``update_resource`` with
``status``) is one *event*, stored as its own run tag on the model version's run, in the same
request as the ``<id>.status`` tag::

    _lolpop.status_event.<µs since the epoch, 16 digits>.<32 hex> = {"time_us": ..., "model_version_id": ...,
        "run_id": ..., "old_status": ..., "new_status": ..., "registry_version": ..., "user": ...,
        "writer_run_id": ..., "override": [...]}

``override`` (only when present) lists the quarantined dataset versions a ``PROMOTED`` /
``DEPLOYED`` status was set in spite of, under config ``lolpop_allow_quarantined: true``
(:mod:`lolpop.layout.quarantine`): the override is recorded in the same tag as the status event,
so the two can never be separated.

One tag per event, with a key no other writer can produce, means concurrent writers (threads,
processes, machines) only ever *add* tags: no read-modify-write, so no event is lost. Events are
ordered by their time (the writer's clock; within one process strictly increasing), then by key.

Re-setting the status a version already has is an event too: a rollback that sets ``DEPLOYED``
again on an older version is a deployment.

**Inferred events (the past before events).** lolpop 0.2.0 and earlier wrote only the
``<id>.status`` tag. For such a version :func:`history_in` infers one event from that tag, marked
``inferred=True``, with no user, no registry version and no old status (none was recorded). Its
time is approximate: the run's *end* time (its start time while it is still running). The status
was set inside the workflow run that trained the version (that is what those versions' pipelines
did), so the end time is the first moment at which it surely held; the start time would date a
deployment before the model existed, which a ``deployed_at`` question must never answer. A
version that has real events gets no inferred duplicate: only when its first real event replaced
a status that no event recorded (``old_status`` not ``None``, i.e. set by an older lolpop before
the upgrade) is that earlier status inferred, just before the first real event.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from lolpop.layout import filters
from lolpop.layout.keys import (
    LINEAGE_KEY,
    LEGACY_TRAINER_KEY,
    MODEL_VERSION,
    PARENT_RUN_TAG,
    STATUS_EVENT_PREFIX,
    WINNER_KEY,
    exists_key,
    status_event_key,
)
from lolpop.layout.keys import key as tag_key

#: Status text longer than this is shortened in an event (the ``<id>.status`` tag keeps it whole).
MAX_STATUS_TEXT = 1000
DEPLOYED = "DEPLOYED"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: What only a model version records: an untyped resource (lolpop 0.2.0 wrote no ``<id>.type``)
#: holding one of these keys is a model version, so its ``status`` tag is a status to infer.
MODEL_VERSION_KEYS = (LINEAGE_KEY, WINNER_KEY, LEGACY_TRAINER_KEY)
#: An override keeps at most this many sources, each reason at most this long (one tag).
MAX_OVERRIDE_SOURCES = 5
MAX_OVERRIDE_REASON = 300

_clock_lock = threading.Lock()
_last_us = 0


def _now_us() -> int:
    """Microseconds since the epoch, strictly increasing within this process (so two events of
    one process never share a time, whatever the clock's resolution)."""
    global _last_us
    with _clock_lock:
        _last_us = max(time.time_ns() // 1000, _last_us + 1)
        return _last_us


@dataclass(frozen=True)
class StatusEvent:
    """One status set on a model version.

    Attributes:
        time: when it was written (UTC, the writer's clock).
        model_version_id: the model version's resource id (the model id).
        run_id: the run holding the model version (one version of the model).
        old_status: its status before (``None`` when it had none).
        new_status: the status set.
        registry_version: the MLflow registered model version it maps to, or ``None``.
        user: who wrote it (the writer's ``mlflow.user``).
        writer_run_id: the workflow run of the tracker that wrote it.
        key: the run tag holding the event (unique); ``""`` for an inferred event (no tag holds it).
        inferred: not recorded but inferred from a version's ``status`` tag and its run's times
            (a store written before status events existed): ``user`` is ``None`` and ``time``
            approximate (see the module's documentation).
        override: the quarantined sources this status was set in spite of (``[{"dataset_version_id",
            "run_id", "reason", "user", "time"}]``), or ``()``: not an override.
    """

    time: datetime
    model_version_id: str
    run_id: str
    old_status: Any
    new_status: Any
    registry_version: int | None
    user: str | None
    writer_run_id: str | None
    key: str
    inferred: bool = False
    override: tuple[dict[str, Any], ...] = ()

    @property
    def time_us(self) -> int:
        if self.inferred:
            return (self.time - _EPOCH) // timedelta(microseconds=1)
        return int(self.key[len(STATUS_EVENT_PREFIX):].split(".", 1)[0])

    def __repr__(self) -> str:
        # One line a reader can scan in a list of them (the field-by-field repr ran to ~400
        # characters an event); statuses and user as repr() (escaped), cut to 40 characters.
        def brief(value: Any) -> str:
            text = repr(value)
            return text if len(text) <= 40 else text[:39] + "…"

        version = "" if self.registry_version is None else f" v{self.registry_version}"
        return (f"<StatusEvent {self.time:%Y-%m-%d %H:%M:%S.%f}"[:-3] + f" {brief(self.model_version_id)}@"
                f"{str(self.run_id)[:8]}{version} {brief(self.old_status)} -> {brief(self.new_status)}"
                f" by {brief(self.user)}{' (inferred)' if self.inferred else ''}{' OVERRIDE' if self.override else ''}>")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``time`` as ISO 8601 UTC text; ``override`` only on an override."""
        return {"time": self.time.isoformat(), "model_version_id": self.model_version_id, "run_id": self.run_id,
                "registry_version": self.registry_version, "old_status": self.old_status,
                "new_status": self.new_status, "user": self.user, "writer_run_id": self.writer_run_id,
                "inferred": self.inferred} | ({"override": [dict(o) for o in self.override]} if self.override else {})


def _short(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_STATUS_TEXT:
        return value[:MAX_STATUS_TEXT] + "…"
    if not isinstance(value, (str, int, float, bool, type(None))):
        text = json.dumps(value, ensure_ascii=False, default=str)
        return value if len(text) <= MAX_STATUS_TEXT else text[:MAX_STATUS_TEXT] + "…"
    return value


def new_event_tag(model_version_id: str, run_id: str, old_status: Any, new_status: Any, *,
                  registry_version: int | None, user: str | None, writer_run_id: str | None,
                  override: Iterable[Mapping[str, Any]] = ()) -> tuple[str, str]:
    """``(tag key, tag value)`` recording a status set now (``override``: the quarantined
    sources it was set in spite of, each reason cut to :data:`MAX_OVERRIDE_REASON`)."""
    time_us = _now_us()
    key = status_event_key(time_us, uuid.uuid4().hex)
    value = {"time_us": time_us, "model_version_id": model_version_id, "run_id": run_id,
             "old_status": _short(old_status), "new_status": _short(new_status),
             "registry_version": registry_version, "user": user, "writer_run_id": writer_run_id}
    sources = [{k: _short_reason(v) if k == "reason" else v for k, v in o.items()}
               for o in list(override)[:MAX_OVERRIDE_SOURCES]]
    if sources:
        value["override"] = sources
    return key, json.dumps(value, ensure_ascii=False)


def _short_reason(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_OVERRIDE_REASON:
        return value[:MAX_OVERRIDE_REASON] + "…"
    return value


def events_in(tags: Mapping[str, str], run_id: str, model_version_id: str | None = None) -> list[StatusEvent]:
    """The status events held by a run's ``tags`` (of one model version id, or all), oldest first.

    A tag that does not parse as an event is skipped: readers never fail on a foreign tag.
    """
    out = []
    for key, text in tags.items():
        if not key.startswith(STATUS_EVENT_PREFIX):
            continue
        try:
            value = json.loads(text)
            time_us = int(key[len(STATUS_EVENT_PREFIX):].split(".", 1)[0])
            event = StatusEvent(
                time=datetime.fromtimestamp(time_us / 1_000_000, tz=timezone.utc),
                model_version_id=str(value["model_version_id"]), run_id=run_id,
                old_status=value.get("old_status"), new_status=value.get("new_status"),
                registry_version=value.get("registry_version"), user=value.get("user"),
                writer_run_id=value.get("writer_run_id"), key=key,
                override=_overrides(value.get("override")),
            )
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
            continue
        if model_version_id is None or event.model_version_id == model_version_id:
            out.append(event)
    return ordered(out)


def is_model_version(tags: Mapping[str, str], model_version_id: str) -> bool:
    """Whether ``tags`` record ``model_version_id`` as a model version: typed so, or untyped (as
    lolpop 0.2.0 wrote every resource) with a key only model versions hold."""
    rtype = tags.get(tag_key(model_version_id, "type"))
    if rtype is not None:
        return rtype == MODEL_VERSION
    return any(tag_key(model_version_id, k) in tags for k in MODEL_VERSION_KEYS)


def _inferred(model_version_id: str, run_id: str, status: Any, when: datetime) -> StatusEvent:
    return StatusEvent(time=when, model_version_id=model_version_id, run_id=run_id, old_status=None,
                       new_status=_short(status), registry_version=None, user=None, writer_run_id=None, key="",
                       inferred=True)


def history_in(tags: Mapping[str, str], run_id: str, model_version_id: str, start_time_ms: int | None,
               end_time_ms: int | None) -> list[StatusEvent]:
    """The status events of ``model_version_id`` in one run, oldest first: the recorded ones
    (:func:`events_in`) and, for a status no event records, one inferred event (see the module's
    documentation for which and when). ``start_time_ms`` / ``end_time_ms``: the run's times
    (MLflow's milliseconds; ``None`` when unknown)."""
    real = events_in(tags, run_id, model_version_id)
    ms = end_time_ms or start_time_ms
    when = datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms else None
    if real:
        first = real[0]
        if first.old_status is None:
            return real
        # Set by an older lolpop before this one's first event: just before that event at the latest.
        just_before = first.time - timedelta(microseconds=1)
        return [_inferred(model_version_id, run_id, first.old_status,
                          just_before if when is None else min(when, just_before))] + real
    status = tags.get(tag_key(model_version_id, "status"))
    if status is None or when is None or not is_model_version(tags, model_version_id):
        return []
    return [_inferred(model_version_id, run_id, status, when)]
def _overrides(value: Any) -> tuple[dict[str, Any], ...]:
    """The override list of a stored event: only its dict entries, with text values as text."""
    if not isinstance(value, list):
        return ()
    return tuple({str(k): v if isinstance(v, (str, int, float, bool, type(None))) else str(v)
                  for k, v in item.items()} for item in value if isinstance(item, dict))


def ordered(events: Iterable[StatusEvent]) -> list[StatusEvent]:
    """Oldest first: by time, then by tag key (ties across processes in a fixed order)."""
    return sorted(events, key=lambda e: (e.time_us, e.key))


def history_clauses(model_id: str) -> list[str]:
    """Search clauses for every workflow run holding a version of ``model_id``, whatever the run's
    state: a status set while a run is still RUNNING (or in a run that later FAILED) happened."""
    return [filters.tag_clause(PARENT_RUN_TAG, "True"), filters.tag_clause(exists_key(model_id), "True")]


def as_utc(when: datetime) -> datetime:
    """``when`` as an aware UTC datetime; a naive one is taken to be UTC (as the CLI prints times)."""
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when.astimezone(timezone.utc)


def holding_at(events: Iterable[StatusEvent], when: datetime, status: Any = DEPLOYED) -> list[StatusEvent]:
    """The versions whose status at ``when`` was ``status``, each as the event that set it,
    most recently set first.

    Replays ``events`` up to and including ``when``: a version holds the status of its last event
    by then. Several versions can hold it at once (lolpop never clears the status of an older
    version by itself); the first one is the latest to have received it.
    """
    limit = as_utc(when)
    last: dict[tuple[str, str], StatusEvent] = {}
    for event in ordered(events):
        if event.time > limit:
            break
        last[(event.model_version_id, event.run_id)] = event
    holding = [e for e in last.values() if e.new_status == status]
    return sorted(holding, key=lambda e: (e.time_us, e.key), reverse=True)
