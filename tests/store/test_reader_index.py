"""The read side (StoreReader, so every ``lolpop`` command) finds a resource's newest version
through the experiment's version index, with the search's answer, through each of its clients:
SQLite read directly, MLflow's REST API, and MlflowClient."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from lolpop.layout import index
from lolpop.lineage import StoreReader, open_client
from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter


def _cycle(make_tracker, status="FINISHED"):
    t = make_tracker()
    t.create_resource("data", type="dataset_version")
    t.stop(status=status)
    return t


def _readers(conf):
    uri, name = conf["config"]["mlflow_tracking_uri"], conf["config"]["mlflow_experiment_name"]
    for client in (open_client(uri), MlflowClientAdapter(MlflowClient(uri))):
        yield StoreReader.for_experiment(client, name)
    yield StoreReader(open_client(uri))  # every experiment of the store


def _check(conf, expect_index):
    answers = set()
    for reader in _readers(conf):
        searches = []
        original = reader.search
        reader.search = lambda *a, **k: (searches.append(a), original(*a, **k))[1]
        located = reader.locate("data").run.info.run_id
        reader.search = original
        assert located == reader.versions("data", limit=1)[0].info.run_id
        if len(reader.experiment_ids) == 1:
            assert (searches == []) is expect_index, searches
        answers.add(located)
        reader.close()
    assert len(answers) == 1
    return answers.pop()


def test_the_reader_uses_the_index_and_finds_what_the_search_finds(make_tracker, conf):
    _cycle(make_tracker)
    _cycle(make_tracker)
    newest = _cycle(make_tracker)
    _cycle(make_tracker, status="FAILED")
    assert _check(conf, expect_index=True) == newest.run.info.run_id


def test_without_a_usable_index_the_reader_searches(make_tracker, conf, client):
    first = _cycle(make_tracker)
    _cycle(make_tracker)
    # The index names a run that failed: never trusted, the search answers.
    failed = _cycle(make_tracker, status="FAILED")
    index_run = client.get_experiment(first.experiment_id).tags[index.EXPERIMENT_TAG]
    for key, value in zip(index.metric_keys(index.NEWEST, "data"), index.encode(failed.run.info.run_id)):
        client.log_metric(index_run, key, value, step=2**62, timestamp=2**62)
    _check(conf, expect_index=False)
    client.delete_experiment_tag(first.experiment_id, index.EXPERIMENT_TAG)
    _check(conf, expect_index=False)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_the_direct_sqlite_reader_reads_experiment_tags(make_tracker, conf, client):
    t = _cycle(make_tracker)
    reader = open_client(conf["config"]["mlflow_tracking_uri"])
    expected = client.get_experiment(t.experiment_id).tags
    assert reader.get_experiment(t.experiment_id).tags == expected
    assert reader.get_experiment_by_name(conf["config"]["mlflow_experiment_name"]).tags == expected
    assert {e.experiment_id: e.tags for e in reader.search_experiments()}[t.experiment_id] == expected
    reader.close()
