"""Stores for the audit tests: two quickstart-like cycles, and a two-hop chain, built with the
tracker (real MLflow backends)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from lolpop.component.model_trainer._winner import BuildRecord, record_build, record_winner

HOSTILE = "\x1b]0;pwned\x07\x1b[31m[bold red]boom[/bold red]\x9b2J"

CYCLES = [
    {"rows": 350, "hexsha": "a" * 40, "trainer": "GradientBoostingClassifier",
     "params": {"n_estimators": 60, "max_depth": 2}, "accuracy": 0.9773, "profile": "<html>one</html>"},
    {"rows": 469, "hexsha": "b" * 40, "trainer": "LogisticRegression",
     "params": {"C": 1.0, "max_iter": 2000}, "accuracy": 0.9831, "profile": "<html>cycle two</html>"},
]


def run_cycle(make_tracker: Any, tmp: Path, n: int, cycle: dict[str, Any], hostile: bool = False,
              dv_meta: dict[str, Any] | None = None, mv_meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """One cycle like the quickstart's: process (dataset version, profile, checks), train (two
    experiments, a winner with its build record), deploy, then predict in a second workflow run.
    ``dv_meta`` / ``mv_meta``: more metadata of the dataset version / model version."""
    tracker = make_tracker()
    dv = tracker.create_resource("breast_cancer", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": cycle["hexsha"], "uri": "data/bc.csv"},
                                 additional_metadata={"rows": cycle["rows"], "columns": 30, **(dv_meta or {})})
    if hostile:
        tracker.log_metadata(dv, "note", HOSTILE)
    profile = tmp / f"profile_cycle{n}.html"
    profile.write_text(cycle["profile"], encoding="utf-8")
    checks = tmp / "checks.json"
    checks.write_text(json.dumps({"passed": True}), encoding="utf-8")
    tracker.log_data_profile(dv, str(profile))
    tracker.log_checks(dv, str(checks), type="data")
    mv = tracker.create_resource("breast_cancer_model", type="model_version")
    winner = None
    for name, params in ((cycle["trainer"], cycle["params"]), ("Dummy", {"strategy": "prior"})):
        exp = tracker.create_resource(name, type="experiment", parent=mv)
        record_build(tracker, exp, BuildRecord("SklearnModelTrainer", {"estimator": name}, params))
        winner = winner or exp
    record_winner(tracker, mv, winner)
    tracker.log_metadata(mv, "metrics", {"accuracy": cycle["accuracy"]})
    for key, value in (mv_meta or {}).items():
        tracker.log_metadata(mv, key, value)
    tracker.register_vc_resource(mv, {"hexsha": cycle["hexsha"], "uri": "data/bc.csv"}, key="train")
    tracker.build_model_lineage(mv, [dv])
    tracker.log_tag(mv, "status", "PROMOTED")
    tracker.log_tag(mv, "status", "DEPLOYED")
    tracker.stop()
    predictor = make_tracker()
    deployed = predictor.get_resource("breast_cancer_model", type="model_version")
    pj = predictor.create_resource("breast_cancer_model_predictions", type="prediction_job", parent=deployed,
                                   prediction_count=100)
    predictor.stop()
    return {"dv": dv, "mv": mv, "pj": pj, "run": mv.run.info.run_id, "pj_run": pj.run.info.run_id,
            "tracker": tracker}


@pytest.fixture
def two_cycles(make_tracker, conf, tmp_path) -> dict[str, Any]:
    """Two quickstart-like cycles in the test's experiment."""
    cycles = [run_cycle(make_tracker, tmp_path, n + 1, c) for n, c in enumerate(CYCLES)]
    return {"cycles": cycles, "uri": conf["config"]["mlflow_tracking_uri"],
            "experiment": conf["config"]["mlflow_experiment_name"]}


@pytest.fixture
def hostile_cycles(make_tracker, conf, tmp_path) -> dict[str, Any]:
    """Two cycles whose second dataset version holds terminal escapes and rich markup."""
    cycles = [run_cycle(make_tracker, tmp_path, n + 1, c, hostile=n == 1) for n, c in enumerate(CYCLES)]
    return {"cycles": cycles, "uri": conf["config"]["mlflow_tracking_uri"],
            "experiment": conf["config"]["mlflow_experiment_name"]}
