"""GitResourceVersionControl: files become real commits and read back byte for byte."""

from __future__ import annotations

import os

import git
import pandas as pd
import pytest

from lolpop.components import GitResourceVersionControl
from lolpop.exceptions import ConfigError, InvalidInputError, ResourceNotFoundError


@pytest.fixture
def repo(tmp_path):
    r = git.Repo.init(tmp_path / "repo")
    with r.config_writer() as cw:
        cw.set_value("user", "name", "Test User")
        cw.set_value("user", "email", "test@example.com")
    return r


@pytest.fixture
def vc(repo):
    return GitResourceVersionControl(conf={"vc_repo_path": repo.working_tree_dir})


def test_version_and_read_back_byte_identical(vc, repo, tmp_path):
    payload = os.urandom(4096) + b"\x00\r\n\xff tail"
    src = tmp_path / "model.bin"
    src.write_bytes(payload)
    info = vc.version_file(src, "models/model.bin")
    assert info["uri"] == "models/model.bin"
    commit = repo.commit(info["hexsha"])  # a real commit of the repository
    assert commit.hexsha == info["hexsha"] == repo.head.commit.hexsha
    assert commit.author.name == "Test User"
    assert (commit.tree / "models/model.bin").data_stream.read() == payload
    assert vc.read_file(info) == payload
    out = vc.checkout_file(info, tmp_path / "out" / "model.bin")
    assert open(out, "rb").read() == payload


def test_each_version_reads_its_own_content(vc, tmp_path):
    src = tmp_path / "data.csv"
    infos = []
    for i in range(3):
        src.write_text(f"a,b\n{i},{i * i}\n")
        infos.append(vc.version_file(src))
    assert len({i["hexsha"] for i in infos}) == 3
    assert all(i["uri"] == "lolpop/data.csv" for i in infos)
    for i, info in enumerate(infos):
        assert vc.read_file(info) == f"a,b\n{i},{i * i}\n".encode()


def test_unchanged_file_makes_no_new_commit(vc, repo, tmp_path):
    src = tmp_path / "same.txt"
    src.write_text("same")
    first = vc.version_file(src)
    other = tmp_path / "other.txt"
    other.write_text("other")
    vc.version_file(other)
    again = vc.version_file(src)
    assert again["hexsha"] == first["hexsha"]
    assert len(list(repo.iter_commits())) == 2


def test_only_the_versioned_file_is_committed(vc, repo, tmp_path):
    staged = os.path.join(repo.working_tree_dir, "user_work.txt")
    with open(staged, "w") as f:
        f.write("not ours")
    repo.index.add(["user_work.txt"])
    src = tmp_path / "x.txt"
    src.write_text("x")
    info = vc.version_file(src)
    assert list(repo.commit(info["hexsha"]).stats.files) == ["lolpop/x.txt"]
    assert "user_work.txt" in [d.a_path for d in repo.index.diff("HEAD")]  # still staged, not committed


def test_works_without_a_configured_identity(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))  # no global git identity
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    vc = GitResourceVersionControl(conf={"vc_repo_path": str(tmp_path / "new"), "init_repo": True})
    src = tmp_path / "f.txt"
    src.write_text("hi")
    info = vc.version_file(src)
    assert vc.repo.commit(info["hexsha"]).author.email == "lolpop@localhost"


def test_non_repo_path_is_a_clear_error(tmp_path):
    (tmp_path / "plain").mkdir()
    for path in (tmp_path / "plain", tmp_path / "missing"):
        with pytest.raises(ConfigError, match="not a git repository"):
            GitResourceVersionControl(conf={"vc_repo_path": str(path)})
    with pytest.raises(ConfigError, match="vc_repo_path"):
        GitResourceVersionControl(conf={})


@pytest.mark.parametrize("dest", ["../escape.txt", "/etc/passwd", ".git/config", "a/../../b", ""])
def test_dest_must_stay_inside_the_repository(vc, tmp_path, dest):
    src = tmp_path / "f.txt"
    src.write_text("x")
    with pytest.raises(InvalidInputError):
        vc.version_file(src, dest)


def test_bad_lookups(vc, tmp_path):
    src = tmp_path / "f.txt"
    src.write_text("x")
    info = vc.version_file(src)
    with pytest.raises(ResourceNotFoundError, match="no commit"):
        vc.read_file({"hexsha": "0" * 40, "uri": info["uri"]})
    with pytest.raises(ResourceNotFoundError, match="has no file"):
        vc.read_file({"hexsha": info["hexsha"], "uri": "lolpop/nope.txt"})
    for bad in ({"hexsha": "HEAD", "uri": "x"}, {"hexsha": info["hexsha"], "uri": "../x"}, "abc", {}):
        with pytest.raises(InvalidInputError):
            vc.read_file(bad)
    with pytest.raises(InvalidInputError, match="no file"):
        vc.version_file(tmp_path / "missing.txt")


def test_dataset_through_the_tracker(tracker, vc, repo):
    df = pd.DataFrame({"x": [1.5, 2.25, -3.0], "label": ["a", "b", "c"]})
    dv = tracker.create_resource("iris_train", type="dataset_version")
    info = vc.version_data(dv, df, key="train")
    assert info["uri"] == "lolpop/data/iris_train_train.csv"
    tracker.register_vc_resource(dv, info, key="train")
    recorded = tracker.get_vc_info(dv, key="train")
    assert recorded == info
    assert repo.commit(recorded["hexsha"])
    pd.testing.assert_frame_equal(vc.get_data(dv, recorded), df)
    tracked = GitResourceVersionControl(conf={"vc_repo_path": repo.working_tree_dir}, metadata_tracker=tracker)
    pd.testing.assert_frame_equal(tracked.get_data(dv, key="train"), df)
