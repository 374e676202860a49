"""The mapping of lolpop's records to MLflow's own entities (pure functions, no store)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np

from lolpop.component.metadata_tracker import _run_note
from lolpop.layout import native
from lolpop.layout.keys import MAX_TAG_VAL_LENGTH


def test_run_names() -> None:
    moment = datetime(2024, 3, 1, 1, 2, 3, tzinfo=timezone(timedelta(hours=5)))
    assert native.workflow_run_name("churn", moment) == "churn-20240229-200203"  # UTC
    assert native.experiment_run_name("xgb", "churn_model") == "xgb"
    assert native.experiment_run_name(None, "churn_model") == "churn_model-experiment"
    assert native.experiment_run_name("  ", "churn_model") == "churn_model-experiment"


def test_metric_values_flat_and_one_level_of_splits() -> None:
    metrics, skipped = native.metric_values({
        "accuracy": 0.9, "epochs": np.int64(3), "ok": True, "np_ok": np.bool_(True), "name": "lr",
        "test": {"f1": np.float32(0.5), "flag": False, "deeper": {"x": 1}},
        "loss": float("nan"), "valid": {"auc": float("inf")},
    })
    assert metrics == {"accuracy": 0.9, "epochs": 3.0, "test_f1": 0.5}
    assert all(type(v) is float for v in metrics.values())
    assert sorted(skipped) == ["loss", "valid_auc"]
    assert native.metric_values([1, 2]) == ({}, [])
    assert native.metric_values(0.9) == ({}, [])


def test_dataset_records() -> None:
    record = native.dataset_record("customers", "a" * 64, "data/customers.csv")
    assert record.name == "customers" and record.digest == "a" * 36 and record.context == "training"
    assert (record.source_type, json.loads(record.source)) == ("local", {"uri": "data/customers.csv"})
    assert json.loads(record.profile) == {"hexsha": "a" * 64}
    assert native.dataset_source("https://x.org/d.csv") == ("http", json.dumps({"url": "https://x.org/d.csv"}))
    assert native.dataset_source("s3://b/k") == ("s3", json.dumps({"uri": "s3://b/k"}))
    assert native.dataset_source("file:///d.csv") == ("local", json.dumps({"uri": "file:///d.csv"}))
    assert native.dataset_source(None) == ("local", json.dumps({"uri": ""}))


def test_note_is_markdown_safe_and_bounded() -> None:
    summary = _run_note.Summary("exp_[1]", "1", "r" * 32, "FINISHED")
    summary.resources = [_run_note.Resource(f"d{i}", "dataset_version", [f"hexsha `{i:040d}`"]) for i in range(400)]
    summary.experiments = [("*bold* [x](y)", "e" * 32, "FINISHED", True)]
    text = _run_note.render(summary)
    assert len(text.encode("utf-8")) <= MAX_TAG_VAL_LENGTH
    assert text.rstrip().endswith("lists everything this run recorded.*")
    assert "`exp_[1]`" in text
    small = _run_note.render(_run_note.Summary("e", "1", "r" * 32, "FINISHED", experiments=summary.experiments))
    assert "\\*bold\\* \\[x\\]\\(y\\)" in small  # a name is text, never a link of its own
    assert "★ winner" in small
    # Multi-byte text is bounded in bytes too (some backends count bytes).
    wide = _run_note.Summary("é" * 10, "1", "r" * 32, "FINISHED",
                             resources=[_run_note.Resource("d", "t", ["ü" * 3000]) for _ in range(5)])
    assert len(_run_note.render(wide).encode("utf-8")) <= MAX_TAG_VAL_LENGTH
