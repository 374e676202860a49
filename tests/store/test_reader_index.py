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


def _forge(client, index_run, run_id, step, timestamp=None):
    """Write the index's ``newest`` entry of "data" as a writer (honest or not) would: ``run_id``'s
    chunks at ``step``."""
    for key, value in zip(index.metric_keys(index.NEWEST, "data"), index.encode(run_id)):
        client.log_metric(index_run, key, value, step=step, timestamp=timestamp)


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
    _forge(client, index_run, failed.run.info.run_id, step=2**62, timestamp=2**62)
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


def _listing(conf, resource_id="data"):
    """What ``versions`` answers through each reader, checked against the plain search (limits
    and ``before`` bounds alike); returns, per reader, the filters it searched with."""
    from lolpop.layout import versions

    searched = []
    for reader in _readers(conf):
        plain = StoreReader(reader.client, reader._experiment_ids)
        filters = []
        original = reader.search
        reader.search = lambda f, *a, **k: (filters.append(f), original(f, *a, **k))[1]
        everything = plain.search(" and ".join(versions.clauses(resource_id)), max_results=1000)
        starts = [r.info.start_time for r in everything]
        # The bounds where an answer changes shape: none, the newest, the second, one in the
        # middle, the oldest, and before the oldest. Every start and five limits made one of these
        # tests take 92-238 s on the server and PostgreSQL lanes (session 7's whole-suite run).
        bounds = sorted({*starts[:2], *starts[len(starts) // 2:][:1], *starts[-1:]}, reverse=True)
        for limit in (1, 2, 1000):
            for before in (None, *bounds, (starts or [0])[-1] - 1):
                clauses = versions.clauses(resource_id) + ([versions.before_clause(before)] if before else [])
                want = [r.info.run_id for r in plain.search(" and ".join(clauses), max_results=limit)]
                got = [r.info.run_id for r in reader.versions(resource_id, limit=limit, before=before)]
                assert got == want, (type(reader.client).__name__, limit, before)
        searched.append((type(reader.client).__name__, len(reader.experiment_ids), filters))
        reader.close()
    return searched


def _searched_versions(searched, resource_id="data"):
    """Per reader of one experiment: whether it searched for the versions (not by run ids)."""
    from lolpop.layout.keys import exists_key

    return {name: any(exists_key(resource_id) in f for f in filters) for name, n, filters in searched if n == 1}


def test_version_listings_from_the_index_are_the_searchs(make_tracker, conf, client, tracking_uri):
    """Killed, failed and deleted runs are left out, the order is the search's, every limit and
    ``before`` bound answers as the search does; the clients that read a range of the index's
    history (all but MlflowClient on a server) send no search for the versions."""
    made = [_cycle(make_tracker) for _ in range(4)]
    _cycle(make_tracker, status="FAILED")
    _cycle(make_tracker, status="KILLED")
    deleted = _cycle(make_tracker)
    client.delete_run(deleted.run.info.run_id)
    made.append(_cycle(make_tracker))
    searched = _listing(conf)
    expected = {"SqliteClient": False, "RestClient": False,
                "MlflowClientAdapter": not tracking_uri.startswith(("sqlite", "postgres"))}
    assert _searched_versions(searched) == {k: v for k, v in expected.items() if k in _searched_versions(searched)}
    assert len(made) == 5


def test_without_a_usable_index_the_listing_searches(make_tracker, conf, client):
    first = _cycle(make_tracker)
    _cycle(make_tracker)
    failed = _cycle(make_tracker, status="FAILED")
    index_run = client.get_experiment(first.experiment_id).tags[index.EXPERIMENT_TAG]
    # A forged entry: the newest ever, far in the future, naming a run that failed.
    _forge(client, index_run, failed.run.info.run_id, step=2**50, timestamp=2**50)
    _listing(conf)
    # An entry whose step is not its run's start: never believed, the version is still listed.
    _forge(client, index_run, first.run.info.run_id, step=first.run.info.start_time + 1)
    _listing(conf)
    # Two entries in one millisecond cannot be paired: the listing searches.
    second = _cycle(make_tracker)
    _forge(client, index_run, "0" * 31 + "1", step=second.run.info.start_time)
    assert all(_searched_versions(_listing(conf)).values())
    # An older store: no index at all.
    client.delete_experiment_tag(first.experiment_id, index.EXPERIMENT_TAG)
    assert all(_searched_versions(_listing(conf)).values())


def test_a_listing_sends_the_same_requests_however_long_the_history(mlflow_server):
    """Through the REST reader, the newest versions are a range of the index's history (three
    reads) and their runs by id (one search): the same requests at 3 and at 9 versions, none of
    them a search whose cost grows with the history."""
    import uuid

    from lolpop.components import MLFlowMetadataTracker
    from tests.support.http_proxy import HttpProxy

    conf = {"mlflow_tracking_uri": mlflow_server.url, "mlflow_experiment_name": f"listing-{uuid.uuid4().hex[:8]}"}

    def cycles(n):
        for _ in range(n):
            t = MLFlowMetadataTracker(conf=conf)
            t.create_resource("data", type="dataset_version")
            t.stop()

    counts = []
    with HttpProxy(mlflow_server.url) as proxy:
        for n in (3, 6):
            cycles(n)
            proxy.reset()
            reader = StoreReader.for_experiment(open_client(proxy.url), conf["mlflow_experiment_name"])
            assert len(reader.versions("data", limit=2)) == 2
            reader.close()
            counts.append(proxy.counts())
    assert counts[0] == counts[1], counts
    assert counts[0]["GET /api/2.0/mlflow/metrics/get-history-bulk-interval"] == 3, counts[0]
    assert counts[0]["POST /api/2.0/mlflow/runs/search"] == 1, counts[0]


def _deployed_check(conf, expect_index):
    from lolpop.layout import filters, versions

    answers = set()
    for reader in _readers(conf):
        plain = StoreReader(reader.client, reader._experiment_ids)
        clauses = versions.clauses("m") + [filters.tag_clause("m.status", "DEPLOYED")]
        want = [r.info.run_id for r in plain.search(" and ".join(clauses), max_results=1)]
        searches = []
        original = reader.search
        reader.search = lambda f, *a, **k: (searches.append(f), original(f, *a, **k))[1]
        got = reader.newest("m", deployed=True)
        assert [got.info.run_id] == want
        if len(reader.experiment_ids) == 1:
            assert (not any("m.exists" in f for f in searches)) is expect_index, searches
        answers.add(got.info.run_id)
        reader.close()
    assert len(answers) == 1
    return answers.pop()


def test_what_is_deployed_now_comes_from_the_index_as_the_search_finds_it(make_tracker, conf, client):
    """``newest(deployed=True)`` (``impact``'s "deployed now"): the index's DEPLOYED entry where
    it vouches for it; a version no longer DEPLOYED is refused and the search answers."""
    runs = []
    for status in ("DEPLOYED", "DEPLOYED", "PROMOTED"):
        t = make_tracker()
        mv = t.create_resource("m", type="model_version")
        t.log_tag(mv, "status", status)
        t.stop()
        runs.append(t.run.info.run_id)
    assert _deployed_check(conf, expect_index=True) == runs[1]
    client.set_tag(runs[1], "m.status", "ARCHIVED")  # retired by hand: the index still names it
    assert _deployed_check(conf, expect_index=False) == runs[0]


def test_versions_older_than_the_index_since_are_listed_too(make_tracker, conf, client):
    """Versions that started before the index's ``since``: read from the rest of a complete
    index's history (no search), searched for in any other index — listed either way."""
    made = [_cycle(make_tracker) for _ in range(4)]
    index_run = client.get_experiment(made[0].experiment_id).tags[index.EXPERIMENT_TAG]
    client.set_tag(index_run, index.SINCE_TAG, str(made[2].run.info.start_time))
    searched = _searched_versions(_listing(conf))  # complete: built with its experiment
    assert not searched["RestClient" if "RestClient" in searched else "SqliteClient"], searched
    client.set_tag(index_run, index.COMPLETE_TAG, "False")
    assert all(_searched_versions(_listing(conf)).values())  # a bounded search for the two before it
