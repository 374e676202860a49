"""The value encoding on its own (pure functions, no MLflow): text, bookkeeping, round trips."""

from __future__ import annotations

import datetime as dt
import json
import math
import subprocess
import sys
import zoneinfo
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lolpop.exceptions import MetadataConflictError
from lolpop.layout import keys, values
from lolpop.layout.keys import MAX_KEY_LENGTH, MAX_TAG_VAL_LENGTH

PARIS = zoneinfo.ZoneInfo("Europe/Paris")


def _no_fetch(path: str) -> str:
    raise AssertionError(f"inline value fetched an artifact: {path}")


def store(items: dict, tags: dict | None = None) -> dict:
    """The run's tags after writing ``items`` (``{tag key: value}``) to a run holding ``tags``."""
    tags = dict(tags or {})
    before = dict(tags)
    encoded = values.encode_items(tags, items)
    assert tags == before, "encode_items changed the tags it was given"
    assert not encoded.uploads
    tags.update(encoded.tags)
    return tags


def read(tags: dict, key: str):
    return values.decode_tag(tags, key, _no_fetch)


def bookkeeping(tags: dict) -> dict:
    return {k: v for k, v in tags.items() if k.startswith("_lolpop")}


# (value, what comes back, the tag's text)
ISSUE_TABLE = [
    (np.int64(3), 3, "3"),
    (np.float64(0.25), 0.25, "0.25"),
    (np.float32(0.5), 0.5, "0.5"),
    (np.bool_(True), True, "true"),
    (np.array([1.0, 2.0]), [1.0, 2.0], "[1.0, 2.0]"),
    (np.array([[1, 2], [3, 4]]), [[1, 2], [3, 4]], "[[1, 2], [3, 4]]"),
    (pd.Series([0, 1, 1]).value_counts().to_dict(), {1: 2, 0: 1}, '{"1": 2, "0": 1}'),
    ({np.int64(0): np.float64(0.4), np.int64(1): np.float64(0.6)}, {0: 0.4, 1: 0.6}, '{"0": 0.4, "1": 0.6}'),
    (dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 1), "2026-01-01T00:00:00"),
    (dt.datetime(2026, 1, 1, 9, 30, 0, 123456, tzinfo=dt.timezone.utc),
     dt.datetime(2026, 1, 1, 9, 30, 0, 123456, tzinfo=dt.timezone.utc), "2026-01-01T09:30:00.123456+00:00"),
    (pd.Timestamp("2026-01-01 10:00"), dt.datetime(2026, 1, 1, 10), "2026-01-01T10:00:00"),
    (pd.Timestamp("2026-07-01 10:00", tz="Europe/Paris"), dt.datetime(2026, 7, 1, 10, tzinfo=PARIS),
     "2026-07-01T10:00:00+02:00[Europe/Paris]"),
    (dt.date(2026, 1, 2), dt.date(2026, 1, 2), "2026-01-02"),
    (np.datetime64("2026-01-01T12:00"), dt.datetime(2026, 1, 1, 12), "2026-01-01T12:00:00"),
    (pd.Series([1, 2]), [1, 2], "[1, 2]"),
    (pd.Series([1.5, 2.5], index=["a", "b"]), {"a": 1.5, "b": 2.5}, '{"a": 1.5, "b": 2.5}'),
    (pd.Series([7], index=[3]), {3: 7}, '{"3": 7}'),
    (pd.Index(["age", "income"]), ["age", "income"], '["age", "income"]'),
    ({True: 1, False: 2}, {True: 1, False: 2}, '{"true": 1, "false": 2}'),
    ({0.5: "half", 1.0: "one"}, {0.5: "half", 1.0: "one"}, '{"0.5": "half", "1.0": "one"}'),
    ({1: "a", "b": 2, None: 3}, {1: "a", "b": 2, None: 3}, '{"1": "a", "b": 2, "null": 3}'),
    ({"train": {0: 5, 1: 3}, "valid": {0: 2}}, {"train": {0: 5, 1: 3}, "valid": {0: 2}},
     '{"train": {"0": 5, "1": 3}, "valid": {"0": 2}}'),
    ({"start": dt.date(2026, 1, 1), "rows": 10}, {"start": dt.date(2026, 1, 1), "rows": 10},
     '{"start": "2026-01-01", "rows": 10}'),
    ((569, 30), (569, 30), "[569, 30]"),
    ([(1, 2), [3]], [(1, 2), [3]], "[[1, 2], [3]]"),
    ({pd.Timestamp("2026-01-01"): 1}, {dt.datetime(2026, 1, 1): 1}, '{"2026-01-01T00:00:00": 1}'),
]


@pytest.mark.parametrize("value,expected,text", ISSUE_TABLE, ids=lambda v: type(v).__name__)
def test_real_ml_values_round_trip_as_natural_text(value, expected, text):
    tags = store({"m.v": value})
    assert tags["m.v"] == text
    got = read(tags, "m.v")
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, dict):
        assert [type(k) for k in got] == [type(k) for k in expected]
        assert [type(v) for v in got.values()] == [type(v) for v in expected.values()]
    if isinstance(expected, dt.datetime):
        assert got.tzinfo == expected.tzinfo and got.utcoffset() == expected.utcoffset()


def test_numpy_scalars_come_back_as_python_types():
    tags = store({"m.i": np.int64(3), "m.f": np.float64(1.5), "m.b": np.bool_(False), "m.u": np.uint8(7)})
    assert [type(read(tags, k)) for k in ("m.i", "m.f", "m.b", "m.u")] == [int, float, bool, int]


@pytest.mark.parametrize("value,text", [(float("nan"), "NaN"), (float("inf"), "Infinity"),
                                        (float("-inf"), "-Infinity"), ([1.0, float("nan")], "[1.0, NaN]")])
def test_nan_and_infinity_are_stored_losslessly(value, text):
    tags = store({"m.x": value})
    assert tags["m.x"] == text
    got = read(tags, "m.x")
    flat = got if isinstance(got, list) else [got]
    want = value if isinstance(value, list) else [value]
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(flat, want))


def test_strings_are_stored_exactly_and_need_no_bookkeeping():
    values_ = {"m.status": "DEPLOYED", "m.num": "3", "m.json": '{"a": 1}', "m.empty": "", "m.uni": "ünï ✓",
               "m.np": np.str_("np text")}
    tags = store(values_)
    assert {k: tags[k] for k in values_} == {k: str(v) for k, v in values_.items()}
    assert bookkeeping(tags) == {}
    for key, value in values_.items():
        got = read(tags, key)
        assert got == value and type(got) is str


@pytest.mark.parametrize("value", [pd.DataFrame({"a": [1]}), {1, 2}, object(), b"bytes", 1 + 2j,
                                   dt.timedelta(days=1), {(1, 2): "tuple key"}, {1: "a", "1": "b"},
                                   pd.Series([1, 2], index=["a", "a"])],
                         ids=["dataframe", "set", "object", "bytes", "complex", "timedelta", "tuple-key",
                              "clashing-keys", "duplicate-index"])
def test_unstorable_values_raise_type_error_naming_the_key(value):
    with pytest.raises(TypeError, match="'m.bad'"):
        values.encode_items({}, {"m.ok": 1, "m.bad": value})


def test_dataframe_error_points_to_log_artifact():
    with pytest.raises(TypeError, match="log_artifact"):
        values.encode_items({}, {"m.df": pd.DataFrame({"a": [1]})})
    with pytest.raises(TypeError, match="log_artifact"):
        values.encode_items({}, {"m.obj": object()})


def test_few_values_use_one_bookkeeping_tag_and_no_companions():
    tags = store({f"m.k{i}": i for i in range(50)})
    assert list(bookkeeping(tags)) == [values.TYPES_TAG]
    assert not any(k.startswith(values.MARKER_PREFIX) for k in tags)


def test_two_thousand_typed_keys_in_a_bounded_number_of_tags():
    items = {f"resource_{i % 7}.metric_{i}": (i if i % 3 else [i, float(i)]) for i in range(2000)}
    tags = store(dict(list(items.items())[:1000]))
    tags = store(dict(list(items.items())[1000:]), tags)
    book = bookkeeping(tags)
    assert len(book) <= 17, sorted(book)
    assert all(len(text) <= MAX_TAG_VAL_LENGTH for text in book.values())
    assert all(len(k) < 30 for k in book)
    for key, value in items.items():
        got = read(tags, key)
        assert got == value and type(got) is type(value), key


def test_each_write_returns_only_changed_bookkeeping():
    tags = store({"m.a": 1})
    again = values.encode_items(tags, {"m.a": 1}).tags
    assert again == {"m.a": "1"}  # the entry is already there: no bookkeeping to write
    assert values.encode_items(tags, {"m.s": "text"}).tags == {"m.s": "text"}


@pytest.mark.parametrize("sequence", [[5, "5", 5], ["5", 5, "5"], [[1], "x", dt.date(2026, 1, 1), "y"]])
def test_a_value_that_changes_type_reads_back_right(sequence):
    tags: dict = {}
    for value in sequence:
        tags = store({"m.v": value}, tags)
        got = read(tags, "m.v")
        assert got == value and type(got) is type(value)


def test_long_key_typed_value_needs_no_longer_key():
    key = "r." + "k" * (MAX_KEY_LENGTH - 2)
    encoded = values.encode_items({}, {key: 12})
    assert max(len(k) for k in encoded.tags) == MAX_KEY_LENGTH
    assert read(encoded.tags, key) == 12


def test_long_values_go_to_an_artifact():
    text = "x" * (values.INLINE_LIMIT + 1)
    encoded = values.encode_items({}, {"m.big": text, "m.bigdict": {"k": text}})
    assert set(encoded.uploads) == {values.artifact_path_for("m.big"), values.artifact_path_for("m.bigdict")}
    files = dict(encoded.uploads)
    fetch = lambda path: files[path]  # noqa: E731
    assert values.decode_tag(encoded.tags, "m.big", fetch) == text
    assert values.decode_tag(encoded.tags, "m.bigdict", fetch) == {"k": text}
    assert encoded.tags["m.big"].startswith(values.POINTER_PREFIX)


# ---------------------------------------------------------------------------------------
# stores written before
# ---------------------------------------------------------------------------------------
def test_lolpop_020_plain_text_reads_as_strings():
    tags = {"dv.rows": "1000", "mv.dataset_versions": "['a', 'b']", "mv.flag": "True"}
    assert read(tags, "dv.rows") == "1000"
    assert read(tags, "mv.dataset_versions") == "['a', 'b']"
    assert read(tags, "mv.flag") == "True"


def test_marker_tags_of_earlier_stores_still_read():
    tags = {"m.i": "7", "_lolpop.enc.m.i": "json", "m.s": "7", "_lolpop.enc.m.s": "str",
            "m.l": "[1, 2]", "_lolpop.enc.m.l": "json", "m.big": "lolpop-artifact:_lolpop/values/a.txt",
            "_lolpop.enc.m.big": "artifact:json"}
    assert read(tags, "m.i") == 7 and read(tags, "m.s") == "7" and read(tags, "m.l") == [1, 2]
    assert values.decode_tag(tags, "m.big", lambda path: '{"k": 1}') == {"k": 1}


def test_writing_a_string_over_a_marked_value_overrides_the_marker():
    tags = {"m.v": "5", "_lolpop.enc.m.v": "json"}
    tags = store({"m.v": "5"}, tags)
    assert read(tags, "m.v") == "5"
    tags = store({"m.v": 6}, tags)
    assert read(tags, "m.v") == 6


def test_damaged_text_reads_as_text():
    tags = store({"m.v": 1})
    tags["m.v"] = "not json"
    assert read(tags, "m.v") == "not json"
    tags[values.TYPES_TAG] = "{broken"
    assert read(tags, "m.v") == "not json"


# ---------------------------------------------------------------------------------------
# params, time, imports
# ---------------------------------------------------------------------------------------
def test_param_text_is_mlflow_like():
    assert values.param_text("k", np.int64(4)) == "4"
    assert values.param_text("k", np.float64(0.1)) == "0.1"
    assert values.param_text("k", np.bool_(True)) == "True"
    assert values.param_text("k", [1, 2]) == "[1, 2]"
    assert values.param_text("k", dt.date(2026, 1, 1)) == "2026-01-01"
    assert values.param_text("k", "x") == "x"


@pytest.mark.parametrize("value,ms", [
    (1_700_000_000_000, 1_700_000_000_000),
    (np.int64(5), 5),
    (dt.datetime(2026, 1, 1), 1767225600000),
    (dt.datetime(2026, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))), 1767225600000),
    (pd.Timestamp("2026-01-01"), 1767225600000),
])
def test_epoch_millis(value, ms):
    assert values.epoch_millis(value) == ms


@pytest.mark.parametrize("value", ["soon", 1.5, True, None, dt.date(2026, 1, 1), -1])
def test_epoch_millis_refuses(value):
    with pytest.raises((TypeError, ValueError)):
        values.epoch_millis(value)


def test_layout_does_not_import_numpy_or_pandas():
    src = str(Path(values.__file__).resolve().parents[2])
    code = ("import sys, lolpop.layout, lolpop.layout.values, lolpop.layout.keys, lolpop.layout.filters;"
            "print(sorted(m for m in ('numpy', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={"PYTHONPATH": src, "PATH": ""})
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.replace("'", '"')) == []


# ---------------------------------------------------------------------------------------
# one tag key, two resources
# ---------------------------------------------------------------------------------------
def test_key_reaching_into_another_resource_is_refused():
    tags = {"sales.exists": "True", "sales.2024.exists": "True"}
    with pytest.raises(MetadataConflictError) as err:
        keys.check_namespace(tags, "sales.2024", ["rows"])
    message = str(err.value)
    assert "'sales.2024.rows'" in message and "'sales'" in message and "'2024.rows'" in message


def test_inner_resource_cannot_be_created_inside_an_outer_one():
    with pytest.raises(MetadataConflictError, match="'sales'"):
        keys.check_namespace({"sales.exists": "True"}, "sales.2024", ["exists", "type"])


def test_outer_resource_cannot_be_created_around_an_inner_one():
    with pytest.raises(MetadataConflictError, match="'sales.2024'"):
        keys.check_namespace({"sales.2024.exists": "True"}, "sales", ["exists", "type"])
    with pytest.raises(MetadataConflictError, match="'sales.2024'"):
        keys.check_namespace({"sales.2024.exists": "True"}, "sales", ["2024.rows"])


def test_own_dotted_keys_and_lineage_flag_are_fine():
    tags = {"mv.exists": "True", "mv.dataset_versions.exists": "True", "dotted.v1.exists": "True"}
    keys.check_namespace(tags, "mv", ["dataset_versions", "dataset_versions.exists", "a.b.c"])
    keys.check_namespace(tags, "dotted.v1", ["rows"])
    keys.check_namespace({"mv.dataset_versions.exists": "True"}, "mv", ["exists", "type"])
    keys.check_namespace({}, "a.b.c", ["x.y"])


@pytest.mark.parametrize("value", [
    [{"at": dt.datetime(2026, 1, 1 + i % 28), "n": i} if i % 3 else {"at": None, "n": i} for i in range(100)],
    [{0: i} if i % 2 else {} for i in range(300)],
    [dt.date(2026, 1, 1), None] * 200,
    {f"day{i}": (dt.date(2026, 1, 1 + i % 28) if i % 5 else None) for i in range(150)},
    [[], [dt.date(2026, 1, 1)], ()],
    [(), []],
], ids=["records-with-optional-datetimes", "sparse-int-keyed", "dates-and-nones", "dict-of-optional-dates",
        "empty-list-among-lists", "empty-tuple-and-list"])
def test_long_regular_values_keep_a_short_type(value):
    tags = store({"m.v": value})
    assert len(tags[values.TYPES_TAG]) < 200
    got = read(tags, "m.v")
    assert got == value
    assert [type(x) for x in (got if isinstance(got, list) else got.values())] == \
        [type(x) for x in (value if isinstance(value, list) else value.values())]
