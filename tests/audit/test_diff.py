"""``tracker.diff`` / :func:`lolpop.audit.diff.diff_versions`: what changed between two versions."""

from __future__ import annotations

import json

import pytest

from lolpop.audit import diff as audit_diff
from lolpop.component.model_trainer import _winner
from lolpop.exceptions import InvalidInputError, ResourceNotFoundError
from lolpop.store.reader import StoreReader


def _rows(result):
    return {(r.section, r.field): r for r in result.rows}


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_diff_of_two_cycles(two_cycles, make_tracker):
    one, two = two_cycles["cycles"]
    tracker = make_tracker()
    result = tracker.diff(one["mv"], two["mv"])
    rows = _rows(result)
    data = rows[("data breast_cancer", "hexsha")]
    assert (data.a, data.b, data.changed) == ("a" * 40, "b" * 40, True)
    assert (rows[("data breast_cancer", "rows")].a, rows[("data breast_cancer", "rows")].b) == (350, 469)
    assert not rows[("data breast_cancer", "columns")].changed
    assert rows[("data breast_cancer", "run_id")].b == two["run"]
    # the winner record: trainer, estimator, params
    assert rows[("winner", "trainer")].a == rows[("winner", "trainer")].b == "SklearnModelTrainer"
    assert not rows[("winner", "trainer")].changed
    assert (rows[("winner", "estimator")].a, rows[("winner", "estimator")].b) == (
        "GradientBoostingClassifier", "LogisticRegression")
    assert (rows[("winner", "training_params.C")].a, rows[("winner", "training_params.C")].b) == (None, 1.0)
    assert rows[("winner", "training_params.max_depth")].a == 2
    assert rows[("metrics", "accuracy")].changed
    assert rows[("vc", "train_hexsha")].b == "b" * 40
    assert not rows[("version", "status")].changed and rows[("version", "status")].b == "DEPLOYED"
    # artifacts: the profile changed (name and size), the checks report did not
    profile = rows[("artifacts breast_cancer", "data_profile")]
    assert profile.changed and "profile_cycle1.html" in profile.a and "profile_cycle2.html" in profile.b
    assert not rows[("artifacts breast_cancer", "data_checks_report")].changed
    # JSON-serialisable, and the same from both sides
    data = json.loads(result.to_json())
    assert data["a"]["run_id"] == one["run"] and data["b"]["run_id"] == two["run"]
    assert data["changed"] == len(result.changed()) > 0


@pytest.mark.parametrize("backend", ["sqlite"])
def test_same_version_has_no_changes(two_cycles, make_tracker):
    _, two = two_cycles["cycles"]
    assert make_tracker().diff(two["mv"], two["mv"]).changed() == []


@pytest.mark.parametrize("backend", ["sqlite"])
def test_version_pair_defaults_to_newest_and_the_one_before(two_cycles, client):
    one, two = two_cycles["cycles"]
    reader = StoreReader.for_experiment(client, two_cycles["experiment"])
    a, b = audit_diff.version_pair(reader, "breast_cancer_model")
    assert (a.run_id, b.run_id) == (one["run"], two["run"])
    a, b = audit_diff.version_pair(reader, "breast_cancer_model", [two["run"]])
    assert (a.run_id, b.run_id) == (one["run"], two["run"])
    a, b = audit_diff.version_pair(reader, "breast_cancer_model", [two["run"], one["run"]])
    assert (a.run_id, b.run_id) == (two["run"], one["run"])
    with pytest.raises(ResourceNotFoundError, match="no version before"):
        audit_diff.version_pair(reader, "breast_cancer_model", [one["run"]])
    with pytest.raises(InvalidInputError, match="at most two"):
        audit_diff.version_pair(reader, "breast_cancer_model", ["x", "y", "z"])


@pytest.mark.parametrize("backend", ["sqlite"])
def test_diff_rejects_non_resources(two_cycles, make_tracker):
    one, _ = two_cycles["cycles"]
    with pytest.raises(InvalidInputError):
        make_tracker().diff(one["mv"], "breast_cancer_model")


def test_winner_keys_match_the_winner_record():
    """One spelling: the audit reader and the winner record take the keys from lolpop.layout."""
    for name in ("WINNER_KEY", "TRAINER_KEY", "TRAINER_CONFIG_KEY", "PARAMS_KEY", "TRANSFORMER_KEY",
                 "TRANSFORMER_CONFIG_KEY", "LEGACY_TRAINER_KEY"):
        assert getattr(audit_diff, name) == getattr(_winner, name)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_default_pair_reads_two_versions_not_the_history(two_cycles, client):
    """``lolpop diff MODEL`` (newest against the one before) asks the store for two versions, and a
    given version is compared with the one before it from a few rows: a search of up to 1 000
    versions grew with the history (issue 21, item 3: 1.97 s at 1 000 cycles on a server). Both
    come from the version index's history: the two runs by id, then nothing more (cached)."""
    one, two = two_cycles["cycles"]
    asked: list[int] = []

    class Recording(StoreReader):
        def search(self, filter_string, max_results=1000, experiment_ids=None):
            asked.append(max_results)
            return super().search(filter_string, max_results, experiment_ids)

    reader = Recording.for_experiment(client, two_cycles["experiment"])
    a, b = audit_diff.version_pair(reader, "breast_cancer_model")
    assert (a.run_id, b.run_id) == (one["run"], two["run"])
    assert asked == [2]
    a, b = audit_diff.version_pair(reader, "breast_cancer_model", [two["run"]])  # the report's call
    assert (a.run_id, b.run_id) == (one["run"], two["run"])
    assert asked == [2]  # those started no later than the version: itself and the one before, read
