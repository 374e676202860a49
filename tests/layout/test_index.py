"""The version index's format (lolpop.layout.index): run ids survive the metric encoding exactly,
MLflow's max over the entries orders runs as MLflow's search does, and nothing read back from a
store is trusted."""

from __future__ import annotations

import random
import uuid

import pytest

from lolpop.layout import index
from lolpop.layout.keys import MAX_KEY_LENGTH


def test_run_ids_round_trip_exactly():
    ids = [uuid.uuid4().hex for _ in range(500)] + ["0" * 32, "f" * 32, "0123456789abcdef" * 2]
    for run_id in ids:
        values = index.encode(run_id)
        assert all(v == int(v) and 0 <= v < 2**53 for v in values)  # exact in a float
        assert index.decode(values) == run_id


def _mlflow_latest(entries):
    """MLflow keeps, per metric key, the entry with the greatest (step, timestamp, value)."""
    latest = {}
    for key, value, step in entries:
        if key not in latest or (step, step, value) > (latest[key][1], latest[key][1], latest[key][0]):
            latest[key] = (value, step)
    return {k: v for k, (v, _) in latest.items()}, {k: step for k, (_, step) in latest.items()}


def test_the_max_is_the_newest_start_and_on_a_tie_the_smallest_id_as_in_mlflows_search():
    rng = random.Random(7)
    for _ in range(200):
        runs = [(uuid.uuid4().hex, rng.choice([1000, 1000, 2000, 3000])) for _ in range(rng.randint(1, 6))]
        entries = [e for run_id, start in runs for e in index.entries(index.NEWEST, "ds", run_id, start)]
        found = index.pointer(index.NEWEST, "ds", *_mlflow_latest(rng.sample(entries, len(entries))))
        newest = max(start for _, start in runs)
        assert found is not None and found[1] == newest  # the step is the newest start time
        got = found[0]
        tied = sorted(run_id for run_id, start in runs if start == newest)
        # MLflow's search orders by start_time DESC, then run id ASC: its first answer is tied[0].
        # The three keys may take their maxima from different tied runs; then the id names none
        # of them, and the look-up searches.
        assert got == tied[0] or got not in {run_id for run_id, _ in runs}


@pytest.mark.parametrize("values", [
    [float("nan"), 1.0, 1.0], [-1.0, 1.0, 1.0], [1e300, 1.0, 1.0], [0.5, 1.0, 1.0], [True, 1.0, 1.0],
    ["1", 1.0, 1.0], [1.0, 1.0], [1.0, 1.0, 1.0, 1.0], [float(2**43), 0.0, 0.0], [None, 0.0, 0.0],
    [float("inf"), 0.0, 0.0],
])
def test_garbage_read_back_decodes_to_nothing(values):
    assert index.decode(values) is None


def test_an_odd_lowest_bit_is_no_run_id():
    values = index.encode("ab" * 16)
    values[-1] -= 1  # the padding bit of the last chunk set
    assert index.decode(values) is None


def test_ids_too_long_for_a_metric_key_are_never_indexed():
    longest = "x" * (MAX_KEY_LENGTH - len("lolpop.deployed..0"))
    assert index.metric_keys(index.DEPLOYED, longest) is not None
    assert index.metric_keys(index.DEPLOYED, longest + "x") is None
    assert index.entries(index.DEPLOYED, longest + "x", uuid.uuid4().hex, 1) == []
    assert index.pointer(index.DEPLOYED, longest + "x", {}, {}) is None
    assert index.entries(index.NEWEST, "ds", "not-an-mlflow-run-id", 1) == []


@pytest.mark.parametrize("text", ["", "-5", "1e9", "12.5", "٣٣", "9" * 16, " 12", "12\n", None])
def test_since_accepts_only_plain_digits(text):
    assert index.since({} if text is None else {index.SINCE_TAG: text}) is None
    assert index.since({index.SINCE_TAG: "1795800548260"}) == 1795800548260


def test_a_run_is_indexed_under_every_id_the_version_rule_finds_it_by():
    tags = {"parent_run": "True", "ds.exists": "True", "ds.rows": "3", "m.exists": "True",
            "m.dataset_versions.exists": "True", "old.exists": "False", ".exists": "True",
            "mlflow.runName": "x"}
    assert index.indexed_resource_ids(tags) == ["ds", "m", "m.dataset_versions"]


def test_entries_disagreeing_on_the_step_or_without_steps_point_nowhere():
    run_id = uuid.uuid4().hex
    metrics, steps = _mlflow_latest(index.entries(index.NEWEST, "ds", run_id, 5000))
    assert index.pointer(index.NEWEST, "ds", metrics, steps) == (run_id, 5000)
    assert index.pointer(index.NEWEST, "ds", metrics, {}) is None  # nothing to verify against
    key = sorted(steps)[0]
    assert index.pointer(index.NEWEST, "ds", metrics, {**steps, key: 5001}) is None
    assert index.pointer(index.NEWEST, "ds", metrics, {k: True for k in steps}) is None


def test_a_range_of_history_points_at_each_entrys_run_newest_first():
    a, b = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    rows = [index.entries(index.NEWEST, "m", run, start) for run, start in ((a, 5), (b, 9))]
    histories = [[(row[i][1], row[i][2]) for row in rows] for i in range(3)]
    assert index.history_pointers(histories) == [(b, 9), (a, 5)]
    assert index.history_pointers([h + h for h in histories]) == [(b, 9), (a, 5)]  # a value logged twice
    assert index.history_pointers([[], [], []]) == []


def test_a_range_that_cannot_be_paired_points_nowhere():
    a, b = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
    same_ms = [index.entries(index.NEWEST, "m", run, 7) for run in (a, b)]
    histories = [[(row[i][1], row[i][2]) for row in same_ms] for i in range(3)]
    assert index.history_pointers(histories) is None  # two versions in one millisecond
    one = [[(v, s)] for _, v, s in index.entries(index.NEWEST, "m", a, 7)]
    assert index.history_pointers(one[:2] + [[]]) is None  # a key missing at a step
    assert index.history_pointers(one[:2]) is None
    assert index.history_pointers([one[0], one[1], [(-1.0, 7)]]) is None  # garbled
    assert index.history_pointers([one[0], one[1], [(one[2][0][0], 7.5)]]) is None
