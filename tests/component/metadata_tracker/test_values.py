"""Metadata and tags come back exactly as they were logged, on every backend."""

from __future__ import annotations

import pytest

from lolpop.exceptions import InvalidKeyError, MetadataConflictError

ROUND_TRIP = [
    "plain text",
    "",
    "123",
    "true",
    '{"looks": "like json"}',
    0,
    -17,
    2**53,
    3.25,
    True,
    False,
    None,
    [1, "two", 3.0, None, [True]],
    {"a": 1, "nested": {"b": [1, 2]}, "ünïcode": "✓"},
    [],
    {},
]


@pytest.mark.parametrize("value", ROUND_TRIP, ids=lambda v: f"{type(v).__name__}:{str(v)[:20]}")
def test_metadata_round_trips_with_type(tracker, value):
    dv = tracker.create_resource("dataset", type="dataset_version")
    tracker.log_metadata(dv, "value", value)
    got = tracker.get_metadata(dv, "value")
    assert got == value
    assert type(got) is type(value)


def test_values_read_back_by_a_later_tracker_from_the_store(make_tracker, client):
    first = make_tracker()
    dv = first.create_resource("dataset", type="dataset_version")
    values = {"i": 7, "f": 0.5, "b": False, "n": None, "l": [1, 2], "d": {"k": "v"}, "s": "7"}
    for key, value in values.items():
        first.log_metadata(dv, key, value)
    first.stop()
    second = make_tracker()
    prev = second.get_prev_resource_version(second.create_resource("dataset", type="dataset_version"))
    for key, value in values.items():
        got = second.get_metadata(prev, key)
        assert got == value and type(got) is type(value), key
    # Strings stay readable, searchable text in the store; JSON values are JSON text.
    tags = client.get_run(first.run.info.run_id).data.tags
    assert tags["dataset.s"] == "7"
    assert tags["dataset.d"] == '{"k": "v"}'


@pytest.mark.parametrize("value", ["x" * 100_000, {"blob": "y" * 100_000}], ids=["str", "dict"])
def test_100k_values_round_trip_exactly(make_tracker, value):
    first = make_tracker()
    mv = first.create_resource("model", type="model_version")
    first.log_metadata(mv, "big", value)
    assert first.get_metadata(mv, "big") == value
    first.stop()
    second = make_tracker()
    prev = second.get_prev_resource_version(second.create_resource("model", type="model_version"))
    assert second.get_metadata(prev, "big") == value  # read from the store, not the cache


def test_legacy_plain_string_tags_are_readable(tracker, client):
    """lolpop 0.2.0 wrote str(data) under <id>.<key> with no marker: it reads back as text."""
    dv = tracker.create_resource("legacy", type="dataset_version")
    client.set_tag(tracker.run.info.run_id, "legacy.rows", "1000")
    client.set_tag(tracker.run.info.run_id, "legacy.dataset_versions", "['a', 'b']")
    tracker.stop()
    from lolpop.components import MLFlowMetadataTracker

    later = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": tracker.url,
                                        "mlflow_experiment_name": client.get_experiment(
                                            tracker.experiment_id).name})
    try:
        prev = later.get_prev_resource_version(("legacy", later.run))
        assert prev.run.info.run_id == dv.run.info.run_id
        assert later.get_metadata(prev, "rows") == "1000"
        assert later.get_tag(prev, "dataset_versions") == "['a', 'b']"
    finally:
        later.stop()


def test_string_replacing_json_value_reads_back_as_string(tracker):
    dv = tracker.create_resource("d", type="dataset_version")
    tracker.log_metadata(dv, "v", 5)
    tracker.log_metadata(dv, "v", "5")
    assert tracker.get_metadata(dv, "v") == "5"


def test_tag_round_trip_and_missing_tag_is_none(tracker):
    mv = tracker.create_resource("m", type="model_version")
    tracker.log_tag(mv, "status", "PROMOTED")
    assert tracker.get_tag(mv, "status") == "PROMOTED"
    assert tracker.get_tag(mv, "never_set") is None
    assert tracker.get_metadata(mv, "never_set") is None


@pytest.mark.parametrize(
    "value",
    [{1: "int key"}, (1, 2), {1, 2}, object(), float("nan"), b"bytes"],
    ids=["int-key", "tuple", "set", "object", "nan", "bytes"],
)
def test_non_json_values_raise_type_error_and_write_nothing(tracker, client, value):
    dv = tracker.create_resource("d", type="dataset_version")
    before = client.get_run(tracker.run.info.run_id).data.tags
    with pytest.raises(TypeError, match="'d.bad'"):
        tracker.log_metadata(dv, "bad", value)
    assert client.get_run(tracker.run.info.run_id).data.tags == before
    tracker.log_metadata(dv, "good", 1)  # the tracker keeps working
    assert tracker.get_metadata(dv, "good") == 1


@pytest.mark.parametrize("key", ["", None, "bad`tick", "a'quote", "k" * 300, "semi;colon", "new\nline"])
def test_bad_keys_raise_invalid_key(tracker, key):
    dv = tracker.create_resource("d", type="dataset_version")
    with pytest.raises(InvalidKeyError):
        tracker.log_metadata(dv, key, 1)
    with pytest.raises(InvalidKeyError):
        tracker.log_tag(dv, key, "x")


# ---------------------------------------------------------------------------------------
# params
# ---------------------------------------------------------------------------------------
def test_experiment_params_are_plain_mlflow_params(tracker, client):
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    params = {"max_depth": 4, "eta": 0.1, "booster": "gbtree", "flag": True}
    tracker.log_metadata(exp, "params", params)
    run = client.get_run(exp.run.info.run_id)
    assert run.data.params == {"max_depth": "4", "eta": "0.1", "booster": "gbtree", "flag": "True"}
    assert tracker.get_metadata(exp, "params") == params


def test_workflow_run_params_are_prefixed_by_resource(tracker, client):
    a = tracker.create_resource("model_a", type="model_version")
    b = tracker.create_resource("model_b", type="model_version")
    tracker.log_metadata(a, "params", {"alpha": 1})
    tracker.log_metadata(b, "params", {"alpha": 2})  # same key, other resource: no collision
    params = client.get_run(tracker.run.info.run_id).data.params
    assert params["model_a.alpha"] == "1" and params["model_b.alpha"] == "2"


def test_identical_param_relog_is_noop(tracker, client):
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.log_metadata(exp, "params", {"a": 1, "b": "x"})
    tracker.log_metadata(exp, "params", {"a": 1, "b": "x"})
    assert client.get_run(exp.run.info.run_id).data.params == {"a": "1", "b": "x"}


def test_conflicting_param_raises_and_writes_nothing(tracker, client):
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.log_metadata(exp, "params", {"a": 1})
    before = client.get_run(exp.run.info.run_id).data
    with pytest.raises(MetadataConflictError) as err:
        tracker.log_metadata(exp, "params", {"new": 5, "a": 2})
    assert "'a'" in str(err.value) and "'1'" in str(err.value) and "'2'" in str(err.value)
    after = client.get_run(exp.run.info.run_id).data
    assert after.params == before.params == {"a": "1"}
    assert after.tags == before.tags
    assert tracker.get_metadata(exp, "params") == {"a": 1}


def test_conflict_detected_against_store_for_runs_of_other_trackers(make_tracker, client):
    first = make_tracker()
    mv = first.create_resource("m", type="model_version")
    first.log_metadata(mv, "params", {"a": 1})
    first.stop()
    second = make_tracker()
    with pytest.raises(MetadataConflictError):
        second.log_metadata(mv, "params", {"a": 3})
    assert client.get_run(mv.run.info.run_id).data.params == {"m.a": "1"}
