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
