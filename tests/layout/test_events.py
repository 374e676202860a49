"""The status-event format: one tag per event, ordered by time, replayed for "status at"."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils import validation

from lolpop.layout import events, keys


def _event(mv: str, run: str, old, new, **kw) -> tuple[str, str]:
    return events.new_event_tag(mv, run, old, new, registry_version=kw.get("version"), user="ann",
                                writer_run_id="w" * 32)


def test_event_round_trips_through_its_tag():
    key, text = _event("churn", "a" * 32, "PROMOTED", "DEPLOYED", version=3)
    assert key.startswith(keys.STATUS_EVENT_PREFIX) and len(key) <= keys.MAX_KEY_LENGTH
    validation._validate_tag_name(key)  # MLflow accepts it as a tag key
    [event] = events.events_in({key: text, "churn.status": "DEPLOYED"}, "a" * 32)
    assert (event.model_version_id, event.run_id, event.old_status, event.new_status) == \
        ("churn", "a" * 32, "PROMOTED", "DEPLOYED")
    assert (event.registry_version, event.user, event.writer_run_id) == (3, "ann", "w" * 32)
    assert event.time.tzinfo is timezone.utc
    assert abs(event.time - datetime.now(timezone.utc)) < timedelta(minutes=5)
    assert json.loads(json.dumps(event.to_dict()))["time"] == event.time.isoformat()


def test_times_are_strictly_increasing_within_a_process_and_keys_unique():
    tags = dict(_event("m", "r" * 32, None, str(i)) for i in range(500))
    found = events.events_in(tags, "r" * 32)
    assert len(found) == 500
    assert [e.new_status for e in found] == [str(i) for i in range(500)]
    assert len({e.time_us for e in found}) == 500


def test_foreign_or_broken_tags_are_skipped_and_other_versions_filtered():
    good = _event("m", "r" * 32, None, "DEPLOYED")
    other = _event("other", "r" * 32, None, "DEPLOYED")
    tags = dict([good, other])
    tags[keys.STATUS_EVENT_PREFIX + "garbage"] = "{"
    tags[keys.STATUS_EVENT_PREFIX + "0000000000000001.x"] = "[]"
    assert [e.model_version_id for e in events.events_in(tags, "r" * 32, "m")] == ["m"]
    assert len(events.events_in(tags, "r" * 32)) == 2


def test_long_status_is_shortened_in_the_event_only():
    key, text = _event("m", "r" * 32, None, "x" * 5000)
    assert len(text) < keys.MAX_TAG_VAL_LENGTH
    assert events.events_in({key: text}, "r" * 32)[0].new_status.endswith("…")


def _at(mv: str, run: str, new: str, t: int) -> events.StatusEvent:
    return events.StatusEvent(datetime.fromtimestamp(t, tz=timezone.utc), mv, run, None, new, None, None, None,
                              keys.status_event_key(t * 1_000_000, "0" * 32))


def test_holding_at_replays_up_to_and_including_the_moment():
    v1, v2 = "1" * 32, "2" * 32
    history = [_at("m", v1, "DEPLOYED", 100), _at("m", v2, "PROMOTED", 200), _at("m", v2, "DEPLOYED", 300),
               _at("m", v2, "ARCHIVED", 400), _at("m", v1, "DEPLOYED", 500)]

    def deployed(t: float) -> list[str]:
        return [e.run_id for e in events.holding_at(history, datetime.fromtimestamp(t, tz=timezone.utc))]

    assert deployed(99) == []
    assert deployed(100) == [v1]  # inclusive
    assert deployed(299.5) == [v1]
    assert deployed(300) == [v2, v1]  # both hold DEPLOYED; the latest first
    assert deployed(400) == [v1]
    assert deployed(500) == [v1]
    assert events.holding_at(history, datetime.fromtimestamp(500, tz=timezone.utc))[0].time_us == 500_000_000
    # a naive moment is UTC
    assert [e.run_id for e in events.holding_at(history, datetime(1970, 1, 1, 0, 5))] == [v2, v1]
    assert [e.run_id for e in events.holding_at(history, datetime.fromtimestamp(250, tz=timezone.utc),
                                                "PROMOTED")] == [v2]


@pytest.mark.parametrize("status, alias", [
    ("DEPLOYED", "deployed"), ("Promoted", "promoted"), ("rolled back", "rolled_back"),
    ("canary-10%", "canary-10"), ("  staging ", "staging"), ("A/B test", "a_b_test"),
    ("LATEST", None), ("v2", None), ("V10", None), ("!!!", None), ("", None), ("x" * 300, None),
])
def test_status_alias_is_a_name_mlflow_accepts(status, alias):
    assert keys.status_alias(status) == alias
    if alias is not None:
        validation._validate_model_alias_name(alias)
        validation._validate_model_alias_name_reserved(alias)


@pytest.mark.parametrize("name", ["latest", "v1", "V7"])
def test_reserved_aliases_match_mlflow(name):
    with pytest.raises(MlflowException):
        validation._validate_model_alias_name_reserved(name)
    assert keys.status_alias(name) is None


@pytest.mark.parametrize("rid, ok", [("churn_model", True), ("a.b-c d", True), ("a:b", False), ("a/b", False)])
def test_registered_and_logged_model_names_match_mlflow(rid, ok):
    name = keys.registered_model_name(rid)
    assert (name is not None) is ok
    if ok:
        validation._validate_model_name(name)
    else:
        with pytest.raises(MlflowException):
            validation._validate_model_name(rid)
    validation._validate_logged_model_name(keys.logged_model_name(rid))


def test_history_in_infers_a_status_no_event_recorded():
    end_ms = 1_700_000_000_000
    at_end = datetime.fromtimestamp(end_ms / 1000, tz=timezone.utc)
    legacy = {"m.exists": "True", "m.dataset_versions": "['d']", "m.status": "DEPLOYED"}
    [e] = events.history_in(legacy, "r" * 32, "m", end_ms - 60_000, end_ms)
    assert (e.inferred, e.user, e.old_status, e.new_status, e.time, e.key) == (True, None, None, "DEPLOYED", at_end, "")
    assert e.time_us == end_ms * 1000
    # still running: its start time; no time known: nothing claimed
    assert events.history_in(legacy, "r" * 32, "m", end_ms, None)[0].time == at_end
    assert events.history_in(legacy, "r" * 32, "m", None, None) == []
    # not a model version: typed otherwise, or untyped with nothing only a model version records
    assert events.history_in({**legacy, "m.type": "dataset_version"}, "r" * 32, "m", 1, end_ms) == []
    assert events.history_in({"m.exists": "True", "m.status": "X"}, "r" * 32, "m", 1, end_ms) == []
    # a version with events: none inferred, unless its first event replaced an unrecorded status
    key, text = _event("m", "r" * 32, None, "PROMOTED")
    assert [x.inferred for x in events.history_in({**legacy, key: text}, "r" * 32, "m", 1, end_ms)] == [False]
    key, text = _event("m", "r" * 32, "DEPLOYED", "ARCHIVED")
    found = events.history_in({**legacy, key: text}, "r" * 32, "m", 1, 4_102_444_800_000)  # ends in 2100
    assert [(x.inferred, x.new_status) for x in found] == [(True, "DEPLOYED"), (False, "ARCHIVED")]
    assert found[0].time == found[1].time - timedelta(microseconds=1)  # just before, not at the run's end
    assert events.ordered(reversed(found)) == found
