"""One model version with many experiments (a hyper-parameter search): what ``build_model_lineage``
and ``stop()`` do with them stays bounded — the lineage page draws the winner and the newest
experiments and says how many it left out, the run's description formats only what fits, and the
tracker's snapshots of runs that have not changed are reused. Timing lives in
``benchmarks/many_experiments.py``; these check the behaviour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lolpop.component.metadata_tracker import _run_note
from lolpop.layout.keys import MAX_TAG_VAL_LENGTH, MLFLOW_NOTE
from lolpop.component.metadata_tracker import _lineage_hooks as tracker_hooks

PAGE = "{mv}/lineage/lineage.html"


def _page(client: MlflowClient, run_id: str, mv: str, tmp_path: Path) -> str:
    dst = tmp_path / f"page-{run_id}"
    dst.mkdir(exist_ok=True)
    return Path(client.download_artifacts(run_id, PAGE.format(mv=mv), str(dst))).read_text(encoding="utf-8")


def _search(tracker, mv, n: int) -> list:
    exps = []
    for i in range(n):
        exp = tracker.create_resource(f"trial_{i}", type="experiment", parent=mv)
        tracker.log_metadata(exp, "model_trainer", f"trainer_{i}")
        tracker.clean_resource(exp)
        exps.append(exp)
    return exps


def test_the_page_draws_the_winner_and_the_newest_experiments_and_says_how_many_it_left_out(
        tracker, client, tmp_path, monkeypatch):
    monkeypatch.setattr(tracker_hooks, "PAGE_EXPERIMENTS", 3)
    dv = tracker.create_resource("customers", type="dataset_version")
    mv = tracker.create_resource("churn_model", type="model_version")
    exps = _search(tracker, mv, 6)
    tracker.log_metadata(mv, "winning_experiment_id", exps[0][0])  # the oldest trial won
    tracker.build_model_lineage(mv, [dv])
    tracker.stop()

    page = _page(client, tracker.run.info.run_id, "churn_model", tmp_path)
    drawn = set(re.findall(r"trainer_\d", page))
    assert drawn == {"trainer_0", "trainer_4", "trainer_5"}  # the winner, then the newest
    assert "3 more experiments of <code>churn_model</code> not drawn" in page
    # The graph itself (get_lineage, `lolpop lineage`) still holds every experiment.
    graph = tracker.get_lineage(mv)
    assert sum(node.type == "experiment" for node in graph.nodes.values()) == 6 and not graph.omitted


def test_a_page_within_the_limit_draws_every_experiment_and_mentions_none_left_out(tracker, client, tmp_path):
    dv = tracker.create_resource("customers", type="dataset_version")
    mv = tracker.create_resource("churn_model", type="model_version")
    _search(tracker, mv, 3)
    tracker.build_model_lineage(mv, [dv])
    tracker.stop()
    page = _page(client, tracker.run.info.run_id, "churn_model", tmp_path)
    assert set(re.findall(r"trainer_\d", page)) == {"trainer_0", "trainer_1", "trainer_2"}
    assert "not drawn" not in page


def test_the_description_of_many_experiments_is_the_same_cut_text():
    """Only the experiment lines that can show are formatted; the text is what formatting all of
    them and cutting would give (same lines kept, same count of lines left out)."""
    summary = _run_note.Summary("search", "1", "a" * 32, "FINISHED")
    summary.experiments = [(f"trial_{i}", f"{i:032x}", "FINISHED", i == 7) for i in range(1000)]
    text = _run_note.render(summary)
    full = _run_note._bounded(
        ["### lolpop workflow run", "Pipeline (MLflow experiment) `search` · ended **FINISHED**.", "",
         "**Resources by type**", "", "- **experiment** (1000 nested runs)"]
        + [f"  - [{_run_note.md(n)}]({_run_note.run_link('1', r)}) {_run_note.md(s)}{' ★ winner' if w else ''}"
           for n, r, s, w in summary.experiments], MAX_TAG_VAL_LENGTH)
    assert text == full
    assert len(text.encode("utf-8")) <= MAX_TAG_VAL_LENGTH and "more lines left out" in text


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_snapshot_is_reused_only_while_nothing_it_shows_changed(make_tracker, client):
    tracker = make_tracker(mlflow_write_mode="batched", mlflow_flush_seconds=3600)
    mv = tracker.create_resource("churn_model", type="model_version")
    exp = tracker.create_resource("trial", type="experiment", parent=mv)
    store, run_id = tracker._store, exp.run.info.run_id
    first = store.snapshot(run_id)
    assert store.snapshot(run_id) is first  # unchanged: the same snapshot
    tracker.log_metadata(exp, "lr", 0.1)  # held back (batched)
    held = store.snapshot(run_id)
    lr_key = "lr"  # layout v2: the experiment's own run keeps plain keys
    assert held is not first and held.data.tags[lr_key] == "0.1"
    tracker.clean_resource(exp)  # sends what is held and ends the run
    ended = store.snapshot(run_id)
    assert ended.info.status == "FINISHED" and ended.data.tags[lr_key] == "0.1"
    assert store.snapshot(run_id) is ended
    assert store.snapshot(run_id, "KILLED").info.status == "KILLED"  # another status: another snapshot
    assert store.snapshot(run_id).info.status == "FINISHED"
    tracker.stop()
    assert MLFLOW_NOTE in client.get_run(tracker.run.info.run_id).data.tags
