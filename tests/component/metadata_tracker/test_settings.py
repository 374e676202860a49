"""The tracker's configuration is parsed once into a frozen TrackerSettings, validated before any
store is touched, and the user's dict is never changed."""

from __future__ import annotations

import copy
import dataclasses

import pytest

from lolpop.component.metadata_tracker._settings import TrackerSettings
from lolpop.components import MLFlowMetadataTracker
from lolpop.exceptions import ConfigError

BASE = {"mlflow_tracking_uri": "sqlite:///never-created.db", "mlflow_experiment_name": "e"}


def test_defaults_and_frozen():
    settings = TrackerSettings.from_config(BASE)
    assert (settings.write_mode, settings.flush_seconds, settings.request_timeout, settings.max_retries,
            settings.registry, settings.allow_quarantined, settings.run_name) == (
        "immediate", 5.0, 30.0, 8, True, False, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.max_retries = 3  # type: ignore[misc]


@pytest.mark.parametrize(("key", "value"), [
    ("mlflow_tracking_uri", 3), ("mlflow_experiment_name", ""), ("mlflow_write_mode", "sometimes"),
    ("mlflow_flush_seconds", -1), ("mlflow_flush_seconds", True), ("mlflow_request_timeout", 0),
    ("mlflow_max_retries", 11), ("mlflow_max_retries", 2.5), ("mlflow_run_name", "  "),
    ("mlflow_registry", "yes"), ("lolpop_allow_quarantined", 1), ("openlineage_url", "ftp://x"),
    ("mlflow_artifact_location", 5),
])
def test_a_bad_value_is_refused_naming_the_key_before_any_store_is_touched(key, value, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    conf = {**BASE, key: value}
    given = copy.deepcopy(conf)
    with pytest.raises(ConfigError, match=key) as err:
        MLFlowMetadataTracker(conf=conf)
    assert err.value.key == key
    assert conf == given  # the user's dict is untouched
    assert list(tmp_path.iterdir()) == []  # no store file was made


def test_the_tracker_reads_its_settings_not_the_dict(conf, make_tracker):
    tracker = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=1)
    assert isinstance(tracker.settings, TrackerSettings)
    assert tracker.settings.batched and tracker.settings.flush_seconds == 1.0
    assert tracker._store.batched and tracker._store.flush_seconds == 1.0
    assert set(MLFlowMetadataTracker.known_config_keys()) == set(TrackerSettings.config_keys())
