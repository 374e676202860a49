"""A lineage page that cannot be redrawn after a quarantine is a warning, and the warning never
shows a password: MLflow's messages embed the request URL with its userinfo (lolpop.lineage.page)."""

from __future__ import annotations

import logging

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from lolpop.components import MLFlowMetadataTracker
from lolpop.lineage.page import has_page, redraw_pages
from lolpop.store import StoreReader
from lolpop.store._connection import artifact_repository

SECRET = "s3cret-Pa55"
CREDENTIALED = f"http://alice:{SECRET}@127.0.0.1:5000/api/2.0/mlflow-artifacts/artifacts/x"


class _UploadFails:
    """A run's real artifact repository whose upload fails the way MLflow reports a transport
    failure: with the request URL, credentials included."""

    def __init__(self, repo):
        self.repo = repo

    def list_artifacts(self, path=None):
        return self.repo.list_artifacts(path)

    def log_artifact(self, local_file, artifact_path=None):
        raise MlflowException(f"API request to {CREDENTIALED} failed with exception ConnectionResetError")


def test_a_failed_redraw_names_the_page_but_no_password(sqlite_uri, caplog):
    tracker = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": sqlite_uri, "mlflow_experiment_name": "pages"})
    dv = tracker.create_resource("d", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": "c" * 40, "uri": "d.csv"})
    mv = tracker.create_resource("m", type="model_version")
    tracker.build_model_lineage(mv, [dv])
    tracker.stop()
    client = MlflowClient(tracking_uri=sqlite_uri)
    run_id = mv[1].info.run_id

    def repo_of(run):
        repo = _UploadFails(artifact_repository(client, run.info.artifact_uri))
        assert has_page(repo, "m")
        return repo

    reader = StoreReader(client)
    with caplog.at_level(logging.WARNING):
        redrawn, failures = redraw_pages(reader, [("m", run_id)], repo_of, sqlite_uri)
    assert redrawn == [] and len(failures) == 1
    assert "'m'" in failures[0] and run_id in failures[0] and "http://***@127.0.0.1:5000" in failures[0]
    assert SECRET not in failures[0] and SECRET not in caplog.text

