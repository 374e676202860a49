"""``tracker.get_impact`` / :func:`lolpop.audit.impact.impact_of`: the blast radius of a dataset."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_impact_of_each_cycle_and_what_is_deployed_now(two_cycles, make_tracker):
    one, two = two_cycles["cycles"]
    tracker = make_tracker()
    first = tracker.get_impact(one["dv"])
    assert [(m.id, m.run_id, m.hops) for m in first.model_versions] == [("breast_cancer_model", one["run"], 1)]
    assert [(p.id, p.run_id, p.hops) for p in first.prediction_jobs] == [
        ("breast_cancer_model_predictions", one["pj_run"], 2)]
    # cycle 1's version is still tagged DEPLOYED, but cycle 2's newer deployment replaced it
    assert first.model_versions[0].status == "DEPLOYED"
    assert first.deployed_now == []
    second = tracker.get_impact(two["dv"])
    assert [(m.run_id, m.deployed_now) for m in second.model_versions] == [(two["run"], True)]
    data = json.loads(second.to_json())
    assert data["deployed_now"][0]["run_id"] == two["run"]
    assert "DEPLOYED" in data["deployed_rule"]


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_impact_through_two_hops(make_tracker):
    """raw data -> feature model -> its predictions, used as data by another pipeline -> a second
    model -> its predictions; and a third model trained directly on the first model version."""
    process = make_tracker()
    raw = process.create_resource("raw_events", type="dataset_version")
    process.register_vc_resource(raw, {"hexsha": "1" * 40, "uri": "raw.csv"})
    features = process.create_resource("feature_model", type="model_version")
    process.build_model_lineage(features, [raw])
    process.log_tag(features, "status", "DEPLOYED")
    process.stop()
    scoring = make_tracker()
    scores = scoring.create_resource("feature_model_predictions", type="prediction_job",
                                     parent=scoring.get_resource("feature_model", type="model_version"))
    scoring.stop()
    downstream = make_tracker()
    churn = downstream.create_resource("churn_model", type="model_version")
    downstream.build_model_lineage(churn, [scores])  # the predictions are this pipeline's data
    stacked = downstream.create_resource("stacked_model", type="model_version")
    downstream.build_model_lineage(stacked, [features])  # a model version used as data
    downstream.log_tag(churn, "status", "DEPLOYED")
    downstream.stop()
    late = make_tracker()
    churn_preds = late.create_resource("churn_model_predictions", type="prediction_job",
                                       parent=late.get_resource("churn_model", type="model_version"))
    late.stop()

    impact = make_tracker().get_impact(raw)
    models = {(m.id, m.hops, m.deployed_now) for m in impact.model_versions}
    assert models == {("feature_model", 1, True), ("churn_model", 3, True), ("stacked_model", 2, False)}
    jobs = {(p.id, p.run_id, p.hops) for p in impact.prediction_jobs}
    assert jobs == {("feature_model_predictions", scores.run.info.run_id, 2),
                    ("churn_model_predictions", churn_preds.run.info.run_id, 4)}
    churn_row = next(m for m in impact.model_versions if m.id == "churn_model")
    assert churn_row.via == f"feature_model_predictions@{scores.run.info.run_id}"
