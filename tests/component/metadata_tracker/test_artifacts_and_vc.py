"""Artifacts, data reports and version-control info, on every backend."""

from __future__ import annotations

from pathlib import Path

import pytest

from lolpop.exceptions import (
    ArtifactNotFoundError,
    InvalidInputError,
    InvalidKeyError,
    MetadataNotFoundError,
)

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_artifact_file_round_trip_and_layout(tracker, client, sample_file):
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.log_artifact(dv, "sample", str(sample_file))
    stored = [f.path for f in client.list_artifacts(tracker.run.info.run_id, "train/sample")]
    assert stored == ["train/sample/report.html"]
    local = tracker.get_artifact(dv, "sample")
    assert Path(local).read_text() == sample_file.read_text()


def test_artifact_folder_round_trip(tracker, tmp_path):
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "a.txt").write_text("A")
    (folder / "b.txt").write_text("B")
    mv = tracker.create_resource("churn", type="model_version")
    tracker.log_artifact(mv, "model", str(folder))
    local = Path(tracker.get_artifact(mv, "model", dst_path=str(tmp_path / "out")))
    assert local.is_dir() and sorted(p.name for p in local.iterdir()) == ["a.txt", "b.txt"]
    assert (local / "b.txt").read_text() == "B"
    assert local.resolve().is_relative_to((tmp_path / "out").resolve())


def test_unknown_artifact_is_a_clear_error_listing_known_ids(tracker, sample_file):
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.log_artifact(dv, "sample", str(sample_file))
    with pytest.raises(ArtifactNotFoundError) as err:
        tracker.get_artifact(dv, "nope")
    assert "'nope'" in str(err.value) and "sample" in str(err.value)


@pytest.mark.parametrize("bad", ["", None, "../escape", "a/b", "..", "x\\y"])
def test_bad_artifact_ids(tracker, client, sample_file, bad):
    dv = tracker.create_resource("train", type="dataset_version")
    with pytest.raises(InvalidKeyError):
        tracker.log_artifact(dv, bad, str(sample_file))
    with pytest.raises(InvalidKeyError):
        tracker.get_artifact(dv, bad)
    assert client.list_artifacts(tracker.run.info.run_id, "train") == []


def test_missing_local_path(tracker, client, tmp_path):
    dv = tracker.create_resource("train", type="dataset_version")
    with pytest.raises(InvalidInputError, match="no file"):
        tracker.log_artifact(dv, "sample", str(tmp_path / "missing.csv"))


def test_data_profile_checks_and_comparison(tracker, client, tmp_path):
    dv = tracker.create_resource("data/train.csv", type="dataset_version")
    files = {}
    for name in ("profile.html", "checks.json", "model_checks.json", "comparison.html"):
        files[name] = tmp_path / name
        files[name].write_text(f"content of {name}")
    tracker.log_data_profile(dv, str(files["profile.html"]))
    tracker.log_checks(dv, str(files["checks.json"]))
    tracker.log_checks(dv, str(files["model_checks.json"]), type="model")
    tracker.log_data_comparison(dv, str(files["comparison.html"]))
    assert Path(tracker.get_data_profile(dv, "train_data_profile")).read_text() == "content of profile.html"
    assert Path(tracker.get_data_checks(dv, "train_data_checks_report")).read_text() == "content of checks.json"
    assert Path(tracker.get_data_checks(dv, "train_model_checks_report")).read_text() == "content of model_checks.json"
    assert Path(tracker.get_artifact(dv, "train_data_comparison")).read_text() == "content of comparison.html"
    with pytest.raises(ArtifactNotFoundError):
        tracker.get_data_profile(dv, "train")


def test_vc_info_round_trip_with_and_without_key(tracker, client):
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.register_vc_resource(dv, {"uri": "data/train.csv", "hexsha": SHA},
                                 additional_metadata={"rows": 100, "columns": ["a", "b"], "source": "s3"})
    assert tracker.get_vc_info(dv) == {"hexsha": SHA, "uri": "data/train.csv"}
    assert tracker.get_metadata(dv, "columns") == ["a", "b"]
    mv = tracker.create_resource("churn", type="model_version")
    tracker.register_vc_resource(mv, {"uri": "models/churn.pkl", "hexsha": SHA[::-1]}, key="train")
    assert tracker.get_vc_info(mv, key="train") == {"hexsha": SHA[::-1], "uri": "models/churn.pkl"}
    assert tracker.get_vc_info(mv, key="train_hexsha") == {"hexsha": SHA[::-1], "uri": "models/churn.pkl"}
    tags = client.get_run(tracker.run.info.run_id).data.tags
    assert tags["train.hexsha"] == SHA and tags["churn.train_hexsha"] == SHA[::-1]
    assert tags["train.exists"] == "True"


def test_vc_info_missing_and_bad_input(tracker, client):
    dv = tracker.create_resource("train", type="dataset_version")
    with pytest.raises(MetadataNotFoundError, match="train"):
        tracker.get_vc_info(dv)
    before = client.get_run(tracker.run.info.run_id).data.tags
    with pytest.raises(InvalidInputError):
        tracker.register_vc_resource(dv, "deadbeef")
    with pytest.raises(InvalidInputError):
        tracker.register_vc_resource(dv, {"hexsha": SHA}, additional_metadata=["not", "a", "dict"])
    with pytest.raises(TypeError):
        tracker.register_vc_resource(dv, {"hexsha": SHA}, additional_metadata={"bad": {1, 2}})
    assert client.get_run(tracker.run.info.run_id).data.tags == before
