"""The version index (lolpop.layout.index): look-ups read it instead of searching, and give the
search's answer in every case — concurrent finishers, killed and failed runs, deleted, missing,
half-built and hostile indexes, and stores that never had one. Runs on every backend.

Each test compares the public look-ups with the search they replace (``Lookups.search``, the
pre-index code path) on a fresh reader, and counts whether the reader searched at all.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from mlflow import MlflowClient

import lolpop
from lolpop.exceptions import LolpopError, ResourceNotFoundError, TrackerUnavailableError
from lolpop.component.metadata_tracker._lookups import deployed_clause
from lolpop.layout import index
from tests.support.version_index import ui_runs_list

SHARED = "shared"


def _searches(tracker) -> list:
    """Record the run store's searches of ``tracker`` (the real searches still run)."""
    calls: list = []
    original = tracker._store.search

    def recording(*args, **kwargs):
        calls.append(args)
        return original(*args, **kwargs)

    tracker._store.search = recording
    return calls


def _id(resource):
    return None if resource is None else resource.run.info.run_id


def _expected(reader) -> dict[str, str | None]:
    """What the search (the code path before the index) answers."""
    own = reader.run
    search = reader._lookups.search

    def first(runs):
        return runs[0].info.run_id if runs else None

    return {
        "prev": first(search("data", 1, before=own)),
        "deployed": first(search("m", 1, [deployed_clause("m")], before=own)),
        "latest_job": first(search("m_predictions", 1, before=own, include_before=True)),
        "newest": first(search("data", 1)),
    }


def _check(make_tracker, expect_index: bool | None = None) -> dict[str, str | None]:
    """A fresh reader's look-ups equal the search's; ``expect_index`` asserts whether they read
    the index only (True) or searched (False)."""
    reader = make_tracker()
    dv = reader.create_resource("data", type="dataset_version")
    mv = reader.create_resource("m", type="model_version")
    expected = _expected(reader)
    calls = _searches(reader)
    got = {
        "prev": _id(reader.get_prev_resource_version(dv)),
        "deployed": _id(reader.get_currently_deployed_model_version(mv)),
        # "<model>_predictions" of a model "m" recorded in the reader's run
        "latest_job": _id(reader.get_latest_model_resource(("m", reader.run), "prediction_job")),
    }
    newest_reader = make_tracker()
    newest_calls = _searches(newest_reader)
    try:
        got["newest"] = _id(newest_reader.get_resource("data", type="dataset_version"))
    except ResourceNotFoundError:
        got["newest"] = None
    assert got == expected
    if expect_index is True:
        # "No such version" is read from a complete index (built with its experiment); from any
        # other, those answers search.
        complete = _complete(reader)
        nones = 0 if complete else sum(got[k] is None for k in ("prev", "deployed", "latest_job"))
        assert len(calls) == nones and len(newest_calls) == (got["newest"] is None and not complete), \
            "the index should have answered every look-up with an answer"
    elif expect_index is False:
        assert calls, "without a usable index the look-ups must search"
    return got


def _complete(tracker) -> bool:
    """Whether the experiment's index is the complete one (lolpop.layout.index.complete)."""
    client = tracker.client
    experiment = client.get_experiment(tracker.experiment_id)
    index_id = experiment.tags.get(index.EXPERIMENT_TAG)
    return index_id is not None and index.complete(client.get_run(index_id), experiment.creation_time)


def _cycle(make_tracker, *, deploy: bool = False, status: str = "FINISHED", stop: bool = True):
    """One workflow run recording the dataset version, model version and prediction job."""
    t = make_tracker()
    t.create_resource("data", type="dataset_version")
    mv = t.create_resource("m", type="model_version")
    t.create_resource("m_predictions", type="prediction_job", parent=mv)
    if deploy:
        t.log_tag(mv, "status", "DEPLOYED")
    if stop:
        t.stop(status=status)
    return t, mv


def test_look_ups_read_the_index_and_answer_as_the_search(make_tracker):
    _cycle(make_tracker)
    _, deployed = _cycle(make_tracker, deploy=True)
    _cycle(make_tracker)
    got = _check(make_tracker, expect_index=True)
    assert got["deployed"] == deployed.run.info.run_id
    assert None not in got.values()


def test_a_fresh_experiment_answers_none_without_error(make_tracker):
    got = _check(make_tracker)
    assert got == {"prev": None, "deployed": None, "latest_job": None, "newest": None}


def test_failed_killed_and_running_runs_are_never_answers(make_tracker):
    _, finished = _cycle(make_tracker, deploy=True)
    _cycle(make_tracker, deploy=True, status="FAILED")
    _cycle(make_tracker, deploy=True, status="KILLED")
    _cycle(make_tracker, deploy=True, stop=False)  # still RUNNING (and indexed as DEPLOYED)
    got = _check(make_tracker)
    assert got["prev"] == got["deployed"] == got["newest"] == finished.run.info.run_id


def test_undeploying_the_newest_deployed_falls_back_to_the_older_one(make_tracker):
    _, older = _cycle(make_tracker, deploy=True)
    newer_tracker, newer = _cycle(make_tracker, deploy=True)
    changer = make_tracker()
    changer.log_tag(newer, "status", "ARCHIVED")  # a later workflow run retires it
    changer.stop()
    got = _check(make_tracker, expect_index=None)
    assert got["deployed"] == older.run.info.run_id


def test_deploying_an_older_version_later_is_indexed(make_tracker):
    _cycle(make_tracker)  # builds the index: versions that started before it are never trusted
    _, first = _cycle(make_tracker)
    _cycle(make_tracker)
    deployer = make_tracker()
    deployer.log_tag(first, "status", "DEPLOYED")
    deployer.stop()
    got = _check(make_tracker, expect_index=True)
    assert got["deployed"] == first.run.info.run_id


def test_a_run_that_started_later_but_finished_first(make_tracker):
    _, first = _cycle(make_tracker)  # builds the index
    early = make_tracker()
    early_dv = early.create_resource("data", type="dataset_version")
    late, _ = _cycle(make_tracker, stop=False)
    late.stop()
    # ``late`` started after ``early``: it is not ``early``'s previous version.
    assert early.get_prev_resource_version(early_dv).run.info.run_id == first.run.info.run_id
    early.stop()
    got = _check(make_tracker, expect_index=True)
    assert got["prev"] == late.run.info.run_id  # the newest start wins, not the last to finish


def test_a_random_history_always_answers_as_the_search(make_tracker):
    """Interleaved trackers, deploys and retirements, failures: after every step the look-ups
    equal the search's (the index may or may not answer)."""
    rng = random.Random(20261127)
    open_trackers: list = []
    finished: list = []
    for _ in range(14):
        action = rng.choice(["open", "open", "finish", "finish", "fail", "deploy", "retire"])
        if action == "open" or not open_trackers and action in ("finish", "fail"):
            open_trackers.append(_cycle(make_tracker, stop=False, deploy=rng.random() < 0.3))
        elif action in ("finish", "fail"):
            t, mv = open_trackers.pop(rng.randrange(len(open_trackers)))
            t.stop(status="FINISHED" if action == "finish" else "FAILED")
            if action == "finish":
                finished.append(mv)
        elif finished:
            other = make_tracker()
            other.log_tag(rng.choice(finished), "status", "DEPLOYED" if action == "deploy" else "RETIRED")
            other.stop()
        _check(make_tracker)


def _child_env() -> dict[str, str]:
    src = str(Path(lolpop.__file__).resolve().parents[1])
    root = str(Path(__file__).resolve().parents[3])
    return {**os.environ, "PYTHONPATH": os.pathsep.join([src, root, os.environ.get("PYTHONPATH", "")])}


FINISHER = textwrap.dedent("""
    import json, os, sys
    from lolpop.components import MLFlowMetadataTracker

    conf, cycles, crash = json.loads(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    for i in range(cycles):
        tracker = MLFlowMetadataTracker(conf=conf)
        tracker.create_resource("data", type="dataset_version")
        mv = tracker.create_resource("m", type="model_version")
        tracker.create_resource("m_predictions", type="prediction_job", parent=mv)
        if i % 2:
            tracker.log_tag(mv, "status", "DEPLOYED")
        if crash == "after-index" and i == cycles - 1:
            # Killed after indexing, before the run is FINISHED (the narrowest window there is).
            tracker._store.terminate = lambda *a, **k: os._exit(9)
        tracker.stop()
""")


def _run_finishers(tmp_path, conf, n, cycles, crash="none"):
    script = tmp_path / "finisher.py"
    script.write_text(FINISHER)
    procs = [subprocess.Popen([sys.executable, str(script), json.dumps(conf["config"]), str(cycles), crash],
                              env=_child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(n)]
    codes = []
    for proc in procs:
        _, err = proc.communicate(timeout=900)
        codes.append((proc.returncode, err[-2000:]))
    return codes


def test_processes_finishing_at_once_leave_the_index_right(make_tracker, conf, tmp_path):
    _cycle(make_tracker)  # the index exists before they race
    for code, err in _run_finishers(tmp_path, conf, n=4, cycles=3):
        assert code == 0, err
    got = _check(make_tracker, expect_index=True)
    assert None not in got.values()


def test_processes_racing_to_build_the_first_index_leave_answers_right(make_tracker, conf, tmp_path):
    for code, err in _run_finishers(tmp_path, conf, n=3, cycles=2):
        assert code == 0, err
    _check(make_tracker)
    _cycle(make_tracker)  # a version started after the surviving index began
    _check(make_tracker, expect_index=True)


def test_four_writers_starting_together_on_a_new_experiment_leave_one_index(make_tracker, conf, tmp_path, client):
    """Issue 18 item 8: 4 writers starting together left 2-5 index runs (losers of the race to
    build the first index, FINISHED or deleted). The experiment's creator builds it now: one
    index run, none deleted, and the look-ups read it."""
    from mlflow.entities import ViewType

    for code, err in _run_finishers(tmp_path, conf, n=4, cycles=3):
        assert code == 0, err
    experiment_id = client.get_experiment_by_name(conf["config"]["mlflow_experiment_name"]).experiment_id
    runs = client.search_runs([experiment_id], run_view_type=ViewType.ALL, max_results=1000)
    indexes = [r for r in runs if r.data.tags.get(index.INDEX_RUN_TAG) == "True"]
    assert [r.info.run_id for r in indexes] == [_index_run(client, experiment_id)]
    assert indexes[0].info.lifecycle_stage == "active"
    _assert_out_of_sight(client, experiment_id)
    got = _check(make_tracker, expect_index=True)
    assert None not in got.values()


def test_a_run_killed_after_indexing_is_never_previous(make_tracker, conf, tmp_path, client):
    _, finished = _cycle(make_tracker)
    [(code, _)] = _run_finishers(tmp_path, conf, n=1, cycles=1, crash="after-index")
    assert code == 9
    running = client.search_runs([finished.run.info.experiment_id], "attributes.status = 'RUNNING'")
    assert len(running) == 1  # indexed as newest, never FINISHED
    got = _check(make_tracker, expect_index=False)
    assert got["prev"] == finished.run.info.run_id


def _index_run(client: MlflowClient, experiment_id: str) -> str:
    return client.get_experiment(experiment_id).tags[index.EXPERIMENT_TAG]


def test_a_deleted_index_is_rebuilt_and_answers_stay_right(make_tracker, client):
    t, _ = _cycle(make_tracker)
    experiment_id = t.experiment_id
    old = _index_run(client, experiment_id)
    client.delete_run(old)
    _check(make_tracker, expect_index=False)
    _cycle(make_tracker)  # writes into a new index; its own version started before that index
    new = _index_run(client, experiment_id)
    assert new != old
    _check(make_tracker)
    _cycle(make_tracker)  # started after the new index began: trusted again
    _check(make_tracker, expect_index=True)


def test_a_store_without_index_searches_then_builds_one(make_tracker, client):
    t, _ = _cycle(make_tracker)
    _cycle(make_tracker)
    # As a store written by lolpop 0.2.0 or an earlier main: no index tag at all.
    client.delete_experiment_tag(t.experiment_id, index.EXPERIMENT_TAG)
    _check(make_tracker, expect_index=False)
    _cycle(make_tracker)
    _cycle(make_tracker)
    _check(make_tracker, expect_index=True)


def test_an_index_missing_since_is_repaired_by_a_reader(make_tracker, client):
    t, _ = _cycle(make_tracker)
    _cycle(make_tracker)
    index_run = _index_run(client, t.experiment_id)
    client.delete_tag(index_run, index.SINCE_TAG)  # its creator died before writing it
    _check(make_tracker, expect_index=False)
    assert index.since(client.get_run(index_run).data.tags) is not None
    _cycle(make_tracker)
    _check(make_tracker, expect_index=True)


@pytest.mark.parametrize("tamper", ["tag-names-a-workflow-run", "tag-is-garbage", "since-garbage",
                                    "pointer-garbage", "pointer-to-failed-run", "pointer-to-other-experiment"])
def test_a_hostile_index_never_changes_an_answer(make_tracker, client, tamper):
    t, mv = _cycle(make_tracker, deploy=True)
    _cycle(make_tracker)
    failed, _ = _cycle(make_tracker, status="FAILED")
    experiment_id = t.experiment_id
    index_run = _index_run(client, experiment_id)
    if tamper == "tag-names-a-workflow-run":
        client.set_experiment_tag(experiment_id, index.EXPERIMENT_TAG, mv.run.info.run_id)
    elif tamper == "tag-is-garbage":
        client.set_experiment_tag(experiment_id, index.EXPERIMENT_TAG, "../../etc/passwd\x1b[31m")
    elif tamper == "since-garbage":
        client.set_tag(index_run, index.SINCE_TAG, "1e999; rm -rf /")
    else:
        if tamper == "pointer-garbage":
            values = [float("nan"), -1.0, 1e300]
        elif tamper == "pointer-to-failed-run":
            values = index.encode(failed.run.info.run_id)
        else:
            other = client.create_run(client.create_experiment(f"other-{experiment_id}")).info.run_id
            client.set_terminated(other)
            values = index.encode(other)
        for kind, rid in ((index.NEWEST, "data"), (index.DEPLOYED, "m"), (index.NEWEST, "m_predictions")):
            for key, value in zip(index.metric_keys(kind, rid), values):
                client.log_metric(index_run, key, value, step=2**62, timestamp=2**62)
    _check(make_tracker)


def test_the_index_run_is_no_version_and_says_what_it_is(make_tracker, client):
    t, _ = _cycle(make_tracker)
    run = client.get_run(_index_run(client, t.experiment_id))
    assert run.info.status == "FINISHED" and run.info.run_name == index.INDEX_RUN_NAME
    assert run.data.tags.get("parent_run") is None  # never a workflow run, never a version
    assert "version index" in run.data.tags["mlflow.note.content"]
    assert index.pointer(index.NEWEST, "data", run.data.metrics, index.metric_steps(run)) == (
        t.run.info.run_id, t.run.info.start_time)


def test_a_store_refusing_the_index_write_ends_no_run(make_tracker, client):
    _cycle(make_tracker)
    t, _ = _cycle(make_tracker, stop=False)
    index_calls = []
    original = t._store.log_unowned

    def refuse(*args, **kwargs):
        index_calls.append(args)
        raise TrackerUnavailableError("the store refused the index write (simulated)")

    t._store.log_unowned = refuse
    with pytest.raises(LolpopError):
        t.stop()
    assert index_calls
    assert client.get_run(t.run.info.run_id).info.status == "RUNNING"  # not a version, unindexed
    t._store.log_unowned = original
    t.stop()  # once the store answers again
    assert client.get_run(t.run.info.run_id).info.status == "FINISHED"
    _check(make_tracker, expect_index=True)


def test_a_far_future_entry_naming_an_old_version_pins_nothing_and_is_retired(make_tracker, client):
    """Issue 18 item 2: one ``log_metric`` per index key with a far-future step, naming an
    older real version, used to win MLflow's max for good: every later deployment was hidden.
    Now the entry's step must be its run's start time: the look-ups search (right answer), the
    tracker that saw it replaces the index, and later versions are indexed and read again."""
    _cycle(make_tracker)  # builds the index: the versions below started after its ``since``
    _, old = _cycle(make_tracker, deploy=True)
    t2, newer = _cycle(make_tracker, deploy=True)
    index_run = _index_run(client, t2.experiment_id)
    values = index.encode(old.run.info.run_id)
    for kind, rid in ((index.NEWEST, "data"), (index.NEWEST, "m"), (index.DEPLOYED, "m")):
        for key, value in zip(index.metric_keys(kind, rid), values):
            client.log_metric(index_run, key, value, step=2**50, timestamp=2**50)
    got = _check(make_tracker)  # the right answers (the search's), not the pinned old version
    assert got["deployed"] == newer.run.info.run_id and got["newest"] == t2.run.info.run_id
    assert _index_run(client, t2.experiment_id) != index_run  # retired: a new index replaced it
    _, newest = _cycle(make_tracker, deploy=True)
    got = _check(make_tracker, expect_index=True)  # read from the new index again: no search
    assert got["deployed"] == newest.run.info.run_id


def test_none_answers_of_an_experiments_own_index_search_nothing(make_tracker):
    """Issue 21: the index built with its experiment holds every version, so "no such version"
    (never deployed, no earlier version, no prediction job) is read from it, not searched."""
    _cycle(make_tracker)  # versions of data, m and m_predictions; nothing DEPLOYED
    reader = make_tracker()
    assert _complete(reader)
    calls = _searches(reader)
    mv = reader.create_resource("m", type="model_version")
    first = reader.create_resource("never_seen", type="dataset_version")
    assert reader.get_currently_deployed_model_version(mv) is None
    assert reader.get_prev_resource_version(first) is None
    assert reader.get_latest_model_resource(("never_seen", reader.run), "prediction_job") is None
    assert calls == []
    assert _expected(reader)["deployed"] is None  # the search agrees


def test_a_replacement_index_claiming_to_be_complete_is_not_believed(make_tracker, client):
    """Anyone may tag a run; a run's start time is fixed at creation. An index that started long
    after its experiment (a rebuilt one, or one made by hand) is not complete, whatever its tags
    say: "none" answers search, and find the versions it does not hold."""
    t, _ = _cycle(make_tracker, deploy=True)
    experiment = client.get_experiment(t.experiment_id)
    fake = client.create_run(t.experiment_id, start_time=experiment.creation_time + 10 * 60_000,
                             tags={index.INDEX_RUN_TAG: "True", index.COMPLETE_TAG: "True",
                                   index.SINCE_TAG: "1"})
    client.set_terminated(fake.info.run_id)
    client.set_experiment_tag(t.experiment_id, index.EXPERIMENT_TAG, fake.info.run_id)
    got = _check(make_tracker, expect_index=False)  # it holds no entry: every look-up searches
    assert got["deployed"] is not None and got["prev"] == t.run.info.run_id


def _assert_out_of_sight(client, experiment_id: str) -> None:
    """The UI's runs list (and so its Chart view) shows no index run and none of its metrics."""
    rows = ui_runs_list(client, experiment_id)
    assert rows, "the runs list shows the workflow runs"
    assert [r for r in rows if r.data.tags.get(index.INDEX_RUN_TAG) == "True"] == []
    assert all(r.data.tags.get("parent_run") == "True" for r in rows)
    assert not [k for r in rows for k in r.data.metrics if k.startswith("lolpop.")]


def test_the_index_is_folded_under_the_newest_finished_workflow_run(make_tracker, client):
    """Issue 20 item 2: the index run sat in the runs list and its metrics filled the Chart view.
    It is a nested run of a workflow run now, folded away by MLflow's UI."""
    first, _ = _cycle(make_tracker, stop=False)  # creates the experiment and its index
    experiment_id = first.experiment_id
    index_run = client.get_run(_index_run(client, experiment_id))
    assert index_run.data.tags["mlflow.parentRunId"] == first.run.info.run_id  # nested from the start
    _assert_out_of_sight(client, experiment_id)
    first.stop()
    second, _ = _cycle(make_tracker)
    assert client.get_run(_index_run(client, experiment_id)).data.tags["mlflow.parentRunId"] == \
        second.run.info.run_id
    _assert_out_of_sight(client, experiment_id)
    _check(make_tracker, expect_index=True)


def test_an_index_of_an_older_store_goes_out_of_sight_at_the_next_stop(make_tracker, client):
    """An index written by an earlier lolpop is a top-level run: still read, and nested by the
    next finished run without an extra request (the tag rides with the index write)."""
    first, _ = _cycle(make_tracker)
    experiment_id = first.experiment_id
    old = _index_run(client, experiment_id)
    client.delete_tag(old, "mlflow.parentRunId")
    assert [r.info.run_id for r in ui_runs_list(client, experiment_id)
            if r.data.tags.get(index.INDEX_RUN_TAG) == "True"] == [old]
    _check(make_tracker, expect_index=True)  # still read
    _cycle(make_tracker)
    assert _index_run(client, experiment_id) == old
    _assert_out_of_sight(client, experiment_id)


def test_an_index_whose_workflow_run_was_deleted_moves_under_a_live_one(make_tracker, client):
    first, _ = _cycle(make_tracker)
    experiment_id = first.experiment_id
    client.delete_run(first.run.info.run_id)
    _cycle(make_tracker)
    parent = client.get_run(_index_run(client, experiment_id)).data.tags["mlflow.parentRunId"]
    assert client.get_run(parent).info.lifecycle_stage == "active"
    _assert_out_of_sight(client, experiment_id)
