"""The audit report attached to a model version by the tracker: at ``stop()`` of the run that set
its status (registration included) and again at every later status change; as an artifact of the
version's run, named by its registry version's tag; with the registry off too."""

from __future__ import annotations

import pytest

from lolpop.components import SklearnModelTrainer
from lolpop.layout.keys import REGISTRY_REPORT_TAG, audit_report_path
from lolpop.store.reader import StoreReader
from tests.support.data import iris_splits

# Registered model names are global to a store that tests share: these are this file's own.
LOGREG = {"estimator": "LogisticRegression", "training_params": {"C": 0.5, "max_iter": 500}}


@pytest.fixture(scope="module")
def iris():
    return iris_splits()


def _report_text(client, run_id: str, model_id: str) -> str:
    reader = StoreReader(client)
    try:
        return reader.client.read_artifact(run_id, audit_report_path(model_id)).decode("utf-8")
    finally:
        reader.close()


def test_the_report_is_attached_at_stop_and_again_at_a_status_change(make_tracker, client, iris):
    tracker = make_tracker()
    mv = tracker.create_resource("audited", type="model_version")
    SklearnModelTrainer(conf=LOGREG, metadata_tracker=tracker).build_model(iris, mv, winner=True)
    tracker.log_tag(mv, "status", "PROMOTED")
    run_id = mv.run.info.run_id
    tracker.stop()
    uri = f"runs:/{run_id}/{audit_report_path('audited')}"
    [version] = client.search_model_versions("name = 'audited'")
    assert version.tags[REGISTRY_REPORT_TAG] == uri
    page = _report_text(client, run_id, "audited")
    assert f"Audit report: audited (run {run_id})" in page and "PROMOTED" in page and "DEPLOYED" not in page
    assert "<h2>Candidates and the winner</h2>" in page and "LogisticRegression" in page

    later = make_tracker()
    later.log_tag(later.get_resource("audited", type="model_version"), "status", "DEPLOYED")
    later.stop()
    page = _report_text(client, run_id, "audited")
    assert page.count("<td>PROMOTED</td><td>DEPLOYED</td>") == 1  # the history so far
    assert client.get_model_version("audited", version.version).tags[REGISTRY_REPORT_TAG] == uri


@pytest.mark.parametrize("backend", ["sqlite"])
def test_with_the_registry_off_the_report_is_still_attached(make_tracker, client, iris):
    tracker = make_tracker(mlflow_registry=False)
    mv = tracker.create_resource("audited_quiet", type="model_version")
    SklearnModelTrainer(conf=LOGREG, metadata_tracker=tracker).build_model(iris, mv, winner=True)
    tracker.log_tag(mv, "status", "DEPLOYED")
    tracker.stop()
    assert client.search_registered_models(filter_string="name = 'audited_quiet'") == []
    assert "<td>—</td><td>DEPLOYED</td>" in _report_text(client, mv.run.info.run_id, "audited_quiet")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_no_status_set_writes_no_report(make_tracker, client):
    tracker = make_tracker()
    mv = tracker.create_resource("audited_plain", type="model_version")
    tracker.stop()
    assert [a.path for a in client.list_artifacts(mv.run.info.run_id)] == []


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_report_shows_what_the_lineage_page_beside_it_shows(make_tracker, client, iris, conf):
    """A prediction job recorded in another MLflow experiment is downstream of the model version
    on its lineage page, and so in its audit report: both are drawn at stop() from one reader."""
    from lolpop.layout.native import page_path

    tracker = make_tracker()
    dv = tracker.create_resource("audited_data", type="dataset_version")
    mv = tracker.create_resource("audited_scope", type="model_version")
    tracker.build_model_lineage(mv, [dv])
    tracker.log_tag(mv, "status", "PROMOTED")
    elsewhere = make_tracker(mlflow_experiment_name=conf["config"]["mlflow_experiment_name"] + "-serving")
    elsewhere.create_resource("audited_scope_predictions", type="prediction_job", parent=mv)
    elsewhere.stop()
    run_id = mv.run.info.run_id
    tracker.stop()
    page = client.download_artifacts(run_id, page_path("audited_scope"))
    assert "audited_scope_predictions" in open(page, encoding="utf-8").read()
    assert "audited_scope_predictions" in _report_text(client, run_id, "audited_scope")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_the_report_at_stop_compares_with_the_version_before_without_searching_the_versions(make_tracker, client):
    """The report attached at stop() diffs the version with the one before it as the tracker's
    get_prev_resource_version finds it (the version index), never with a search of the model's
    versions, which grows with its history; the answer is the search's (version_pair's)."""
    from lolpop.audit.diff import version_pair
    from lolpop.layout import versions

    runs = []
    for n in range(3):
        tracker = make_tracker()
        mv = tracker.create_resource("audited_diffed", type="model_version")
        tracker.log_metadata(mv, "cycle", n)
        tracker.log_tag(mv, "status", "PROMOTED")
        searched: list[str] = []
        search = tracker.client.search_runs  # a recording wrapper: the real search still runs
        tracker.client.search_runs = lambda *a, **k: searched.append(repr((a, k))) or search(*a, **k)
        tracker.stop()
        runs.append(mv.run.info.run_id)
        assert not [f for f in searched if versions.clauses("audited_diffed")[-1] in f], searched
        page = _report_text(client, runs[-1], "audited_diffed")
        if n == 0:
            assert "This is the first version of the model" in page
            continue
        reader = StoreReader(client)
        try:
            older, _ = version_pair(reader, "audited_diffed", (runs[-1],))
        finally:
            reader.close()
        assert older.run_id == runs[-2]
        assert f"<td>run_id</td><td>{runs[-2]}</td><td>{runs[-1]}</td>" in page.replace("<code>", "").replace("</code>", "")
