"""The MlflowClient adapter lists a run's own artifacts through the run's artifact repository
(lolpop.store.clients.mlflow_adapter): after the run was fetched, a listing is one request of that
repository, with no ``get_run`` per listing, and never the files of a LoggedModel that happens to
share the folder's name (MLflow's ``runs:/`` listing looks for one, and mixes its files in or fails)."""

from __future__ import annotations

from mlflow.exceptions import MlflowException

from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter


class _Recording:
    """The real MlflowClient, with its ``get_run`` / ``list_artifacts`` calls counted."""

    def __init__(self, client):
        self._client = client
        self.calls: list[str] = []

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name in ("get_run", "list_artifacts"):
            def counted(*args, **kwargs):
                self.calls.append(name)
                return attr(*args, **kwargs)
            return counted
        return attr


def test_a_fetched_runs_folders_are_listed_without_fetching_it_again(tracker, client, sample_file):
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.log_data_profile(dv, str(sample_file))
    tracker.log_checks(dv, str(sample_file), type="data")
    tracker.stop()
    run_id = dv[1].info.run_id
    recording = _Recording(client)
    adapter = MlflowClientAdapter(recording)
    adapter.get_run(run_id)
    folders = [f.path for f in adapter.list_artifacts(run_id, "train")]
    files = [f.path for folder in folders for f in adapter.list_artifacts(run_id, folder)]
    assert folders == sorted(f.path for f in client.list_artifacts(run_id, "train"))
    assert files == ["train/train_data_checks_report/report.html", "train/train_data_profile/report.html"]
    assert recording.calls == ["get_run"]  # the listings went to the run's repository


def test_a_logged_model_named_like_the_folder_is_not_mixed_in(tracker, client, sample_file, tmp_path):
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.log_data_profile(dv, str(sample_file))
    tracker.stop()
    run = client.get_run(dv[1].info.run_id)
    model = client.create_logged_model(run.info.experiment_id, name="train", source_run_id=run.info.run_id)
    (tmp_path / "weights.bin").write_bytes(b"\0" * 8)
    client.log_model_artifact(model.model_id, str(tmp_path / "weights.bin"))
    try:  # MLflow's runs:/ listing looks for a LoggedModel named "train" of the run too
        mixed = sorted(f.path for f in client.list_artifacts(run.info.run_id, "train"))
    except MlflowException:
        mixed = None  # ... and may fail on it
    adapter = MlflowClientAdapter(client)
    adapter.get_run(run.info.run_id)
    own = [f.path for f in adapter.list_artifacts(run.info.run_id, "train")]
    assert own == ["train/train_data_profile"]
    assert mixed != own  # what the adapter answered before: another listing, or an error
