"""The artifact listings of a run the tracker created are answered from what it uploaded
(:mod:`lolpop.store._known_artifacts`): differentially, against what the store itself lists, on
every backend; and after an upload that failed (maybe applied), the store is asked again."""

from __future__ import annotations

from pathlib import Path

from lolpop.store._known_artifacts import KnownArtifacts


def _listing(infos):
    return [(f.path, f.is_dir, f.file_size) for f in infos]


def _tree(tmp_path: Path) -> Path:
    folder = tmp_path / "bundle"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "a.txt").write_text("alpha")
    (folder / "sub" / "b.json").write_text('{"b": 1}')
    (folder / "sub" / "deeper" / "c.csv").write_text("c\n1\n2\n")
    return folder


def test_listings_from_memory_are_the_stores(tracker, client, tmp_path, sample_file):
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.log_data_profile(dv, str(sample_file))
    tracker.log_artifact(dv, "bundle", str(_tree(tmp_path)))
    tracker.log_artifact(dv, "notes", str(sample_file))
    run_id = dv[1].info.run_id
    repo = tracker._store.artifacts(run_id)
    assert isinstance(repo, KnownArtifacts)
    tracker.flush()
    paths = [None, "", "train", "train/", "train/bundle", "train/bundle/sub", "train/bundle/sub/deeper",
             "train/bundle/a.txt", "train/notes", "missing", "train/missing"]
    for path in paths:
        assert _listing(repo.list_artifacts(path)) == _listing(sorted(client.list_artifacts(run_id, path),
                                                                      key=lambda f: f.path)), path
    recursive = []
    stack = ["train"]
    while stack:
        for info in client.list_artifacts(run_id, stack.pop()):
            (stack.append(info.path) if info.is_dir else recursive.append((info.path, info.file_size)))
    assert tracker._store.known_artifacts(run_id, "train") == sorted(recursive)
    assert tracker._store.known_artifacts(run_id, "train/bundle/sub") == [
        ("train/bundle/sub/b.json", 8), ("train/bundle/sub/deeper/c.csv", 6)]


def test_a_run_the_tracker_did_not_create_is_not_answered_from_memory(make_tracker):
    first = make_tracker()
    dv = first.create_resource("train", type="dataset_version")
    first.stop()
    second = make_tracker()
    assert second._store.known_artifacts(dv[1].info.run_id, "train") is None


class _AppliedThenLost:
    """An artifact repository whose upload reaches the store and whose answer is then lost."""

    def __init__(self, repo):
        self.repo = repo

    def log_artifact(self, local_file, artifact_path=None):
        self.repo.log_artifact(local_file, artifact_path)
        raise ConnectionError("answer lost after the store applied the upload")

    def list_artifacts(self, path=None):
        return self.repo.list_artifacts(path)


def test_after_an_upload_fails_the_store_is_asked(tracker, client, sample_file):
    dv = tracker.create_resource("train", type="dataset_version")
    run_id = dv[1].info.run_id
    known = tracker._store.artifacts(run_id)
    flaky = KnownArtifacts(_AppliedThenLost(known._repo))
    try:
        flaky.log_artifact(str(sample_file), "train/profile")
    except ConnectionError:
        pass
    assert flaky.known_files("train") is None  # memory no longer claims to know
    assert [f.path for f in flaky.list_artifacts("train/profile")] == ["train/profile/report.html"]
    assert [f.path for f in client.list_artifacts(run_id, "train/profile")] == ["train/profile/report.html"]
