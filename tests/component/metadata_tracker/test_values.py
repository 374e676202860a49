"""Metadata and tags come back exactly as they were logged, on every backend."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import numpy as np
import pandas as pd
import pytest

from lolpop.exceptions import InvalidInputError, InvalidKeyError, MetadataConflictError
from lolpop.layout.keys import MAX_KEY_LENGTH

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


# The values real ML code sends (issue "The values and calls real ML code sends").
ML_VALUES = {
    "np_int": (np.int64(3), 3),
    "np_float": (np.float64(0.875), 0.875),
    "np_bool": (np.bool_(True), True),
    "np_array": (np.array([1.0, 2.0]), [1.0, 2.0]),
    "value_counts": (pd.Series([0, 1, 1]).value_counts().to_dict(), {1: 2, 0: 1}),
    "class_distribution": ({np.int64(0): np.float64(0.25), np.int64(1): np.float64(0.75)}, {0: 0.25, 1: 0.75}),
    "bool_keys": ({True: 10, False: 3}, {True: 10, False: 3}),
    "float_keys": ({0.5: 0.1, 0.9: 0.7}, {0.5: 0.1, 0.9: 0.7}),
    "datetime": (dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1)),
    "aware_datetime": (dt.datetime(2026, 1, 1, 8, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
                       dt.datetime(2026, 1, 1, 8, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))),
    "timestamp": (pd.Timestamp("2026-03-04 05:06:07.123456", tz="UTC"),
                  pd.Timestamp("2026-03-04 05:06:07.123456", tz="UTC").to_pydatetime()),
    "naive_timestamp": (pd.Timestamp("2026-03-04 05:06"), dt.datetime(2026, 3, 4, 5, 6)),
    "date": (dt.date(2026, 1, 2), dt.date(2026, 1, 2)),
    "series": (pd.Series([1, 2]), [1, 2]),
    "indexed_series": (pd.Series([0.5, 0.25], index=["auc", "f1"]), {"auc": 0.5, "f1": 0.25}),
    "shape": ((569, 30), (569, 30)),
    "nested": ({"train": {"auc": np.float64(0.9)}, "when": dt.date(2026, 1, 1)},
               {"train": {"auc": 0.9}, "when": dt.date(2026, 1, 1)}),
    "nan": (float("nan"), float("nan")),
}


def _same(got, want) -> bool:
    if isinstance(want, float) and want != want:
        return isinstance(got, float) and got != got
    if type(got) is not type(want) or got != want:
        return False
    if isinstance(want, dict):
        return all(type(a) is type(b) for a, b in zip(got, want)) and all(
            _same(got[k], want[k]) for k in want)
    if isinstance(want, dt.datetime):
        return got.tzinfo == want.tzinfo
    return True


def test_real_ml_values_round_trip_through_the_store(make_tracker, client):
    first = make_tracker()
    mv = first.create_resource("churn", type="model_version")
    for key, (value, _) in ML_VALUES.items():
        first.log_metadata(mv, key, value)
    for key, (_, want) in ML_VALUES.items():  # from the cache
        assert _same(first.get_metadata(mv, key), want), key
    first.stop()
    second = make_tracker()
    prev = second.get_prev_resource_version(second.create_resource("churn", type="model_version"))
    for key, (_, want) in ML_VALUES.items():  # from the store
        assert _same(second.get_metadata(prev, key), want), key
    tags = client.get_run(first.run.info.run_id).data.tags
    assert tags["churn.np_int"] == "3" and tags["churn.np_array"] == "[1.0, 2.0]"
    assert tags["churn.datetime"] == "2026-01-01T00:00:00"
    assert tags["churn.value_counts"] == '{"1": 2, "0": 1}'


def test_numpy_params_are_plain_mlflow_params(tracker, client):
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.log_metadata(exp, "params", {"max_depth": np.int64(4), "eta": np.float64(0.1), "es": np.bool_(True)})
    assert client.get_run(exp.run.info.run_id).data.params == {"max_depth": "4", "eta": "0.1", "es": "True"}
    assert tracker.get_metadata(exp, "params") == {"max_depth": 4, "eta": 0.1, "es": True}


def test_the_tag_list_shows_each_fact_once(tracker, client):
    dv = tracker.create_resource("train", type="dataset_version")
    mv = tracker.create_resource("churn", type="model_version")
    tracker.log_metadata(dv, "rows", 569)
    tracker.log_metadata(dv, "columns", ["a", "b"])
    tracker.log_metadata(dv, "window", {"start": dt.date(2026, 1, 1)})
    tracker.log_metadata(mv, "metrics", {"auc": np.float64(0.93)})
    tracker.log_tag(mv, "status", "DEPLOYED")
    tags = client.get_run(tracker.run.info.run_id).data.tags
    assert not [k for k in tags if k.startswith("_lolpop.enc.")]
    # Type information: one bookkeeping tag for the run. The only other lolpop tag is the status
    # change itself, an event of the deployment history (one per change, not one per value).
    book = sorted(k for k in tags if k.startswith("_lolpop"))
    assert book[-1] == "_lolpop.types" and len(book) == 2 and book[0].startswith("_lolpop.status_event.")
    assert tags["train.rows"] == "569" and tags["train.columns"] == '["a", "b"]'
    assert tags["churn.metrics"] == '{"auc": 0.93}' and tags["churn.status"] == "DEPLOYED"
    for clause in ("tags.`churn.status` = 'DEPLOYED'", "tags.`train.rows` = '569'"):
        found = client.search_runs([tracker.experiment_id], clause)
        assert [r.info.run_id for r in found] == [tracker.run.info.run_id], clause


def test_two_thousand_typed_keys_in_one_run(make_tracker, client):
    from lolpop.store.reader import StoreReader

    first = make_tracker()
    dv = first.create_resource("wide", type="dataset_version")
    items = {f"col_{i}_mean": (float(i) / 3 if i % 2 else i) for i in range(2000)}
    first.register_vc_resource(dv, None, additional_metadata=items)
    first.log_metadata(dv, "col_0_mean", "zero")  # a type change after the split
    items["col_0_mean"] = "zero"
    first.stop()
    tags = client.get_run(first.run.info.run_id).data.tags
    book = [k for k in tags if k.startswith("_lolpop")]
    assert 1 < len(book) <= 17, book
    reader = StoreReader(client)
    got = reader.metadata("wide", reader.get_run(first.run.info.run_id), structural=False)
    assert got == items and all(type(got[k]) is type(v) for k, v in items.items())
    second = make_tracker()
    prev = second.get_prev_resource_version(second.create_resource("wide", type="dataset_version"))
    for key in ("col_0_mean", "col_1_mean", "col_1998_mean", "col_1999_mean"):
        assert second.get_metadata(prev, key) == items[key]


def test_writing_to_an_earlier_run_keeps_its_bookkeeping(make_tracker, client):
    first = make_tracker()
    dv = first.create_resource("d", type="dataset_version")
    first.log_metadata(dv, "kept", [1, 2])
    first.log_metadata(dv, "changed", 5)
    first.stop()
    second = make_tracker()  # writes to a run it does not own
    second.log_metadata(dv, "changed", "5")
    second.log_metadata(dv, "added", {0: "zero"})
    third = make_tracker()
    assert third.get_metadata(dv, "kept") == [1, 2]
    assert third.get_metadata(dv, "changed") == "5"
    assert third.get_metadata(dv, "added") == {0: "zero"}


def test_typed_value_allows_the_same_key_length_as_a_string(tracker, client):
    dv = tracker.create_resource("d", type="dataset_version")
    key = "k" * (MAX_KEY_LENGTH - len("d."))
    tracker.log_metadata(dv, key, 42)
    assert tracker.get_metadata(dv, key) == 42
    assert client.get_run(tracker.run.info.run_id).data.tags[f"d.{key}"] == "42"
    with pytest.raises(InvalidKeyError):
        tracker.log_metadata(dv, key + "k", 42)


# ---------------------------------------------------------------------------------------
# update_resource: the times lolpop 0.2.0's optuna tuner sends
# ---------------------------------------------------------------------------------------
def test_update_resource_takes_datetimes(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    start, end = dt.datetime(2026, 1, 1, 10, 0, 0), dt.datetime(2026, 1, 1, 10, 5, 30, 250000)
    tracker.update_resource(exp, {"start_time": start, "end_time": end})
    run = client.get_run(exp.run.info.run_id)
    assert run.info.end_time == int(end.replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
    assert tracker.get_metadata(exp, "start_time") == start  # MLflow cannot change it: recorded
    aware = dt.datetime(2026, 1, 1, 12, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    tracker.update_resource(exp, {"end_time": aware})
    assert client.get_run(exp.run.info.run_id).info.end_time == 1767261600000
    tracker.update_resource(mv, {"start_time": start, "end_time": end})  # shares the workflow run
    assert tracker.get_metadata(mv, "end_time") == end and tracker.get_metadata(mv, "start_time") == start


@pytest.mark.parametrize("end_time", [1.5e12, "2026-01-01", True, -5])
def test_update_resource_refuses_other_end_times(tracker, client, end_time):
    mv = tracker.create_resource("churn", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    before = client.get_run(exp.run.info.run_id)
    with pytest.raises(InvalidInputError, match="end_time"):
        tracker.update_resource(exp, {"end_time": end_time, "note": "x"})
    after = client.get_run(exp.run.info.run_id)
    assert after.data.tags == before.data.tags and after.info.end_time == before.info.end_time


# ---------------------------------------------------------------------------------------
# one tag key, two resources (resource "sales" key "2024.rows" vs resource "sales.2024" key "rows")
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("order", ["outer-first", "inner-first"])
def test_dotted_ids_never_share_a_tag_key(tracker, client, order):
    if order == "outer-first":
        sales = tracker.create_resource("sales", type="dataset")
        tracker.log_metadata(sales, "2024.rows", 10)
        before = client.get_run(tracker.run.info.run_id).data.tags
        with pytest.raises(MetadataConflictError) as err:
            tracker.create_resource("sales.2024", type="dataset_version")
        assert tracker.get_metadata(sales, "2024.rows") == 10
    else:
        inner = tracker.create_resource("sales.2024", type="dataset_version")
        tracker.log_metadata(inner, "rows", "x")
        before = client.get_run(tracker.run.info.run_id).data.tags
        with pytest.raises(MetadataConflictError) as err:
            tracker.create_resource("sales", type="dataset")
        with pytest.raises(MetadataConflictError):
            tracker.log_metadata(("sales", tracker.run), "2024.rows", 10)
        assert tracker.get_metadata(inner, "rows") == "x"
    assert "'sales'" in str(err.value) and "'sales.2024'" in str(err.value)
    assert client.get_run(tracker.run.info.run_id).data.tags == before
    tracker.log_metadata(("other", tracker.run), "n", 1)  # the tracker keeps working


def test_dotted_ids_of_experiments_and_lineage_flags_still_work(tracker):
    mv = tracker.create_resource("churn.v2", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.log_metadata(exp, "score", 0.5)
    dv = tracker.create_resource("train.v2", type="dataset_version")
    tracker.build_model_lineage(mv, [dv])
    tracker.log_metadata(mv, "dataset_versions.note", "ok")
    assert tracker.get_metadata(exp, "score") == 0.5
    assert tracker.get_metadata(mv, "dataset_versions.exists") == "True"


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
    [pd.DataFrame({"a": [1, 2]}), {1, 2}, object(), b"bytes", 1 + 2j, {(1, 2): "tuple key"}],
    ids=["dataframe", "set", "object", "bytes", "complex", "tuple-key"],
)
def test_unstorable_values_raise_type_error_and_write_nothing(tracker, client, value):
    dv = tracker.create_resource("d", type="dataset_version")
    before = client.get_run(tracker.run.info.run_id).data.tags
    with pytest.raises(TypeError, match="'d.bad'") as err:
        tracker.log_metadata(dv, "bad", value)
    if isinstance(value, (pd.DataFrame, object)) and not isinstance(value, (set, bytes, complex, dict)):
        assert "log_artifact" in str(err.value)
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
