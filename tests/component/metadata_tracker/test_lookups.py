"""Questions asked back across workflow runs: previous versions, deployments, predictions."""

from __future__ import annotations

import pytest

from lolpop.exceptions import InvalidFilterError, MetadataNotFoundError, UnsupportedResourceTypeError
from lolpop.testing import cycle as _cycle  # one workflow run recording one resource


@pytest.mark.parametrize("rid", ["plain", "with-dash", "with space", "dotted.v1.id", "dir/file.v2.csv", "colon:id"])
def test_prev_versions_across_trackers(make_tracker, rid):
    runs = [_cycle(make_tracker, rid, n=i)[1].run.info.run_id for i in range(3)]
    current, res = _cycle(make_tracker, rid, stop=False)
    prev = current.get_prev_resource_version(res)
    assert prev.id == rid and prev.run.info.run_id == runs[-1]
    assert current.get_metadata(prev, "n") == 2
    rid2, many = current.get_prev_resource_version(res, num=5)
    assert rid2 == rid
    assert [r.info.run_id for r in many] == runs[::-1]  # newest first, only the 3 that exist
    # The previous version of the newest old one is the one before it.
    older = current.get_prev_resource_version(prev)
    assert older.run.info.run_id == runs[-2]


def test_prev_version_skips_unfinished_and_other_ids(make_tracker):
    _, done = _cycle(make_tracker, "ds")
    _cycle(make_tracker, "other")
    _cycle(make_tracker, "ds", stop=False)  # still RUNNING: not a version yet
    current, res = _cycle(make_tracker, "ds", stop=False)
    assert current.get_prev_resource_version(res).run.info.run_id == done.run.info.run_id


def test_no_prev_version_is_none(tracker):
    res = tracker.create_resource("fresh", type="dataset_version")
    assert tracker.get_prev_resource_version(res) is None
    assert tracker.get_prev_resource_version(res, num=3) is None


def test_extra_filters(make_tracker):
    _, a = _cycle(make_tracker, "ds", source="it's quoted")
    _cycle(make_tracker, "ds", source="plain")
    current, res = _cycle(make_tracker, "ds", stop=False)
    prev = current.get_prev_resource_version(res, extra_filters=['tags.`ds.source` = "it\'s quoted"'])
    assert prev.run.info.run_id == a.run.info.run_id
    assert current.get_prev_resource_version(res, extra_filters=["tags.`ds.source` = 'nothing'"]) is None


@pytest.mark.parametrize(
    "bad",
    [
        "tags.x = 'a' OR tags.y = 'b'",
        "tags.x = 'unbalanced",
        "nosuch.field = 'a'",
        "attributes.nosuch = 'a'",
        "",
        None,
        "tags.x = 'a' and",
    ],
)
def test_malformed_filters_raise_before_anything_is_sent(tracker, bad):
    res = tracker.create_resource("ds", type="dataset_version")
    with pytest.raises(InvalidFilterError):
        tracker.get_prev_resource_version(res, extra_filters=[bad])


@pytest.mark.parametrize("bad", [42, 0, False, {}, "", set()])
def test_filters_must_be_a_list(tracker, bad):
    """Falsy ones too: they must not slip through to the index look-up as "no filters"."""
    res = tracker.create_resource("ds", type="dataset_version")
    with pytest.raises(InvalidFilterError):
        tracker.get_prev_resource_version(res, extra_filters=bad)


def test_quote_in_a_filter_cannot_swallow_the_query(make_tracker):
    """A clause opening a quote must not absorb the clauses it is joined with."""
    _cycle(make_tracker, "ds")
    current, res = _cycle(make_tracker, "ds", stop=False)
    with pytest.raises(InvalidFilterError):
        current.get_prev_resource_version(res, extra_filters=["tags.a = 'x", "tags.b = 'y'"])


def test_currently_deployed_model_version(make_tracker):
    _, deployed = _cycle(make_tracker, "churn", type="model_version", status="DEPLOYED")
    _cycle(make_tracker, "churn", type="model_version", status="PROMOTED")
    _cycle(make_tracker, "churn", type="model_version")
    current, mv = _cycle(make_tracker, "churn", type="model_version", stop=False)
    got = current.get_currently_deployed_model_version(mv)
    assert got.id == "churn" and got.run.info.run_id == deployed.run.info.run_id


def test_no_deployed_version_is_none_even_if_promoted_exists(make_tracker):
    _cycle(make_tracker, "churn", type="model_version", status="PROMOTED")
    current, mv = _cycle(make_tracker, "churn", type="model_version", stop=False)
    assert current.get_currently_deployed_model_version(mv) is None


def test_prediction_job_model_version_from_a_later_tracker(make_tracker):
    trainer = make_tracker()
    mv = trainer.create_resource("churn", type="model_version")
    trainer.stop()
    predictor = make_tracker()
    pj = predictor.create_resource("churn_predictions", type="prediction_job", parent=mv)
    for job in (pj, "churn_predictions"):
        got = predictor.get_prediction_job_model_version(job)
        assert got.id == "churn"
        assert got.run.info.run_id == trainer.run.info.run_id  # the training run, not the predict run
    predictor.stop()
    third = make_tracker()
    got = third.get_prediction_job_model_version("churn_predictions")
    assert got.run.info.run_id == trainer.run.info.run_id


def test_prediction_job_recorded_without_parent_falls_back_to_stripped_id(tracker):
    pj = tracker.create_resource("churn_predictions", type="prediction_job")
    got = tracker.get_prediction_job_model_version(pj)
    assert got.id == "churn" and got.run.info.run_id == tracker.run.info.run_id


def test_latest_model_resource(make_tracker):
    first = make_tracker()
    model = first.create_resource("churn", type="model")
    first.create_resource("churn_predictions", type="prediction_job")
    first.stop()
    second = make_tracker()
    model2 = second.create_resource("churn", type="model")
    got = second.get_latest_model_resource(model2, "prediction_job")
    assert got.id == "churn_predictions" and got.run.info.run_id == first.run.info.run_id
    assert second.get_latest_model_resource(("other", second.run), "prediction_job") is None
    with pytest.raises(UnsupportedResourceTypeError):
        second.get_latest_model_resource(model, "model_version")


def test_winning_experiment(tracker):
    mv = tracker.create_resource("churn", type="model_version")
    with pytest.raises(MetadataNotFoundError, match="churn"):
        tracker.get_winning_experiment(mv)
    exps = [tracker.create_resource("e", type="experiment", parent=mv) for _ in range(3)]
    tracker.log_metadata(mv, "winning_experiment_id", exps[1].id)
    win = tracker.get_winning_experiment(mv)
    assert win.id == exps[1].id and win.run.info.run_id == exps[1].run.info.run_id


def test_model_lineage_records_exact_versions_and_is_inherited(make_tracker):
    first = make_tracker()
    train = first.create_resource("train", type="dataset_version")
    test = first.create_resource("test", type="dataset_version")
    mv = first.create_resource("churn", type="model_version")
    first.build_model_lineage(mv, [train, test])
    expected = [{"id": "train", "run_id": first.run.info.run_id}, {"id": "test", "run_id": first.run.info.run_id}]
    assert first.get_metadata(mv, "dataset_versions") == expected
    first.stop()
    second = make_tracker()
    mv2 = second.create_resource("churn", type="model_version")
    second.build_model_lineage(mv2, [])
    assert second.get_metadata(mv2, "dataset_versions") == expected


def test_model_lineage_without_history_writes_nothing(tracker, client):
    mv = tracker.create_resource("churn", type="model_version")
    tracker.build_model_lineage(mv, [])
    assert tracker.get_metadata(mv, "dataset_versions") is None
    with pytest.raises(Exception) as err:
        tracker.build_model_lineage(mv, "train")
    assert "dataset_versions" in str(err.value)
