"""The three read-only store clients give the same answers on the same store; the SQLite reader
falls back to MlflowClient on a schema it does not know."""

from __future__ import annotations

import shutil
import sqlite3

import pytest
from mlflow import MlflowClient

from lolpop.exceptions import InvalidInputError, ResourceNotFoundError
from lolpop.lineage import StoreReader, build_lineage, open_client
from lolpop.store.clients import sqlite as sqlite_client
from lolpop.store.clients.base import artifact_path
from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter
from lolpop.store.clients.rest import RestClient
from lolpop.store.clients.sqlite import SqliteClient, parse_filter
from lolpop.layout import versions
from lolpop.layout.filters import tag_clause
from tests.support.lineage_store import build_two_process_store

BIG = "long value " * 900  # kept as an artifact (longer than the inline limit)


@pytest.fixture
def lineage_store(conf, make_tracker, client):
    uri = conf["config"]["mlflow_tracking_uri"]
    experiment = conf["config"]["mlflow_experiment_name"]
    ids = build_two_process_store(uri, experiment)
    tracker = make_tracker()
    big = tracker.create_resource("big", type="dataset_version")
    tracker.log_metadata(big, "blob", BIG)
    mv = tracker.create_resource("m3", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    for key, value in (("accuracy", 0.5), ("accuracy", 0.9137), ("loss", 1.5)):  # the latest value counts
        client.log_metric(exp.run.info.run_id, key, value)
    tracker.log_metadata(exp, "params", {"C": 0.5, "penalty": "l2"})
    tracker.log_metadata(mv, "winning_experiment_id", exp.id)
    ids["exp"] = exp.id
    tracker.stop()
    return {"uri": uri, "experiment": experiment, **ids}


def answers(client, store):
    """Everything the CLI reads, through one client."""
    reader = StoreReader.for_experiment(client, store["experiment"])
    train = store["train"]["run"]
    try:
        graphs = [
            build_lineage(reader, reader.locate("churn_model", train)),
            build_lineage(reader, reader.locate("churn_data", train), direction="downstream"),
            build_lineage(reader, reader.locate("churn_model_predictions"), direction="upstream"),
            build_lineage(reader, reader.locate("m3")),
        ]
        exp_run = reader.locate(store["exp"]).run
        return {
            "graphs": [g.to_dict() for g in graphs],
            "versions": [r.info.run_id for r in reader.versions("churn_model")],
            "big": reader.metadata("big", reader.locate("big").run),
            "artifacts": reader.artifacts(train, "churn_model"),
            "exp_run": exp_run,
            "experiment": reader.client.get_experiment(exp_run.info.experiment_id).name,
            "requests": reader.requests,
        }
    finally:
        reader.close()


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_every_client_gives_the_same_answers(lineage_store, backend):
    uri = lineage_store["uri"]
    direct = open_client(uri)
    assert isinstance(direct, SqliteClient if backend == "sqlite" else RestClient)
    results = {kind: answers(client, lineage_store)
               for kind, client in (("direct", direct), ("mlflow", MlflowClientAdapter(MlflowClient(uri))))}
    if backend == "server":  # MlflowClient reads no range of the index's history there: it searches
        results["direct"].pop("requests"), results["mlflow"].pop("requests")
    assert results["direct"] == results["mlflow"]

    got = results["direct"]
    assert got["big"]["blob"] == BIG
    # the lineage page (and the audit report the tracker attaches at stop()), with their sizes
    paths = dict(got["artifacts"])
    assert paths.get("churn_model/lineage/lineage.html", 0) > 0
    assert got["versions"] == [lineage_store["train"]["run"]]
    run = got["exp_run"]
    assert run.data.metrics == {"accuracy": 0.9137, "loss": 1.5} and run.data.params == {"C": "0.5", "penalty": "l2"}
    assert run.info.status == "FINISHED" and run.info.run_name and got["experiment"] == lineage_store["experiment"]
    m3 = got["graphs"][3]
    assert [n["highlights"] for n in m3["nodes"] if n["type"] == "experiment"] == [{"accuracy": 0.9137, "loss": 1.5}]


@pytest.mark.parametrize("backend", ["sqlite"])
def test_unknown_schema_revision_reads_through_mlflow_client(lineage_store, monkeypatch):
    direct = answers(open_client(lineage_store["uri"]), lineage_store)
    # A store written by an MLflow newer than the revisions the direct reader was checked against.
    monkeypatch.setattr(sqlite_client, "SUPPORTED_REVISIONS", frozenset())
    client = open_client(lineage_store["uri"])
    assert isinstance(client, MlflowClientAdapter)
    assert answers(client, lineage_store) == direct


def _copy(sqlite_uri, db, *statements):
    """A copy of the session's SQLite store at ``db``, changed by ``statements``."""
    shutil.copyfile(sqlite_uri.removeprefix("sqlite:///"), db)
    conn = sqlite3.connect(db)
    for sql in statements:
        conn.execute(sql)
    conn.commit()
    conn.close()
    return db


@pytest.mark.parametrize("backend", ["sqlite"])
def test_schema_mlflow_would_change_is_refused_and_left_alone(tracker, sqlite_uri, tmp_path):
    tracker.stop()
    # An older store (revision before the direct reader's, one table missing): MLflow's SQL store
    # would create the table and run the migrations on open. Reading must not.
    db = _copy(sqlite_uri, tmp_path / "older.db", "UPDATE alembic_version SET version_num = 'c8d9e0f1a2b3'",
               "DROP TABLE scheduler_leases")
    before = db.read_bytes()
    with pytest.raises(Exception, match="lacks tables of the installed MLflow's schema") as err:
        open_client(f"sqlite:///{db}")
    assert type(err.value).__name__ == "ConfigError"
    assert db.read_bytes() == before
    # All tables, but another revision: MLflow would refuse it; so does the reader, saying why.
    db2 = _copy(sqlite_uri, tmp_path / "other.db", "UPDATE alembic_version SET version_num = 'c8d9e0f1a2b3'")
    before = db2.read_bytes()
    with pytest.raises(Exception, match="schema revision 'c8d9e0f1a2b3'.*expects"):
        open_client(f"sqlite:///{db2}")
    assert db2.read_bytes() == before


def test_direct_reader_knows_the_installed_mlflow_schema():
    """When MLflow adds a schema revision, check the tables read here and list it."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    assert _get_latest_schema_revision() in sqlite_client.SUPPORTED_REVISIONS


def test_sqlite_filter_subset():
    where, args = parse_filter(" and ".join(versions.clauses("a and b.c")))
    assert args == ["parent_run", "True", "FINISHED", "a and b.c.exists", "True"] and len(where) == 3
    where, args = parse_filter(tag_clause("x", "it's") + " and attributes.start_time <= 17")
    assert args == ["x", "it's", 17]
    assert parse_filter("tags.`k` LIKE '%'")[1] == ["k", "%"]
    assert parse_filter("")[0] == []
    for bad in ("metrics.acc > 1", "tags.k = 1", "attributes.start_time = 'x'", "tags.k = 'a' or tags.j = 'b'",
                "attributes.artifact_uri = 'x'", "tags.k = 'a' and"):
        with pytest.raises(InvalidInputError):
            parse_filter(bad)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_search_on_one_tag_is_read_from_the_tag_key_index(client, sqlite_uri, conf):
    """A used-by / made-from / parent search (one tag clause) answers as MLflow does — deleted
    runs, other experiments, runs without the tag and ``!=`` alike — from the tags' primary key,
    without a probe of every run."""
    name = conf["config"]["mlflow_experiment_name"]
    exp, other = client.create_experiment(name), client.create_experiment(f"{name}-other")
    made = {}
    for name, experiment, tags in (("a", exp, {"k": "v"}), ("b", exp, {"k": "w"}), ("c", exp, {}),
                                   ("d", exp, {"k": "v"}), ("e", other, {"k": "v"})):
        made[name] = client.create_run(experiment, tags=tags, run_name=name).info.run_id
    client.set_terminated(made["a"], "KILLED")
    client.delete_run(made["d"])
    direct, mlflow = open_client(sqlite_uri), MlflowClientAdapter(MlflowClient(sqlite_uri))
    for clause in ("tags.`k` = 'v'", "tags.`k` != 'v'", "tags.`k` LIKE '%'", "tags.`k` ILIKE 'V'"):
        got = [[r.info.run_id for r in c.search_runs([exp, other], clause, order_by=versions.ORDER_BY)]
               for c in (direct, mlflow)]
        assert got[0] == got[1] and got[0], clause
    where, args = parse_filter("tags.`k` = 'v'")
    sql = f"SELECT r.run_uuid FROM runs r WHERE {where[0]}"
    plan = " ".join(row[-1] for row in direct._conn.execute(f"EXPLAIN QUERY PLAN {sql}", args))
    assert "SCAN r" not in plan and "(key=?)" in plan, plan
    assert "EXISTS" in " ".join(parse_filter(" and ".join(versions.clauses("m")))[0])
    direct.close()


def test_artifact_paths_stay_inside_the_run():
    assert artifact_path("a/b/c.txt") == "a/b/c.txt" and artifact_path(None) == "" and artifact_path(".") == ""
    for bad in ("../x", "a/../../x", "/etc/passwd", "a\\..\\b", "a\x00b"):
        with pytest.raises(InvalidInputError):
            artifact_path(bad)


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_runs_and_experiments_by_id_and_name(tracker, client):
    tracker.stop()
    reader = open_client(tracker.url)
    name = client.get_experiment(tracker.experiment_id).name
    assert reader.get_experiment_by_name(name).experiment_id == tracker.experiment_id
    assert reader.get_experiment(tracker.experiment_id).name == name
    assert tracker.experiment_id in [e.experiment_id for e in reader.search_experiments()]
    assert reader.get_run(tracker.run.info.run_id).info.status == "FINISHED"
    assert reader.get_experiment_by_name("no such experiment") is None
    with pytest.raises(ResourceNotFoundError, match="no MLflow run '0{32}'"):
        reader.get_run("0" * 32)
    with pytest.raises(ResourceNotFoundError):
        reader.get_experiment("987654321")
    reader.close()


@pytest.mark.parametrize("backend", ["sqlite", "server"])
def test_a_range_of_metric_history_reads_the_same_through_every_client(client, tracking_uri, conf):
    """What the version index's listings read (``metric_history``): every value in a range of
    steps, by step; ``None`` beyond ``max_results``. MlflowClient reads a range by itself only on
    an SQL store (elsewhere from the whole history, so the reader does not list from it)."""
    exp = client.create_experiment(conf["config"]["mlflow_experiment_name"])
    run_id = client.create_run(exp).info.run_id
    for step, value in ((10, 1.0), (20, 2.0), (20, 3.0), (30, 4.0), (40, 5.0), (50, 6.0)):
        client.log_metric(run_id, "k", value, step=step, timestamp=step)
    history = sorted(client.get_metric_history(run_id, "k"), key=lambda m: (m.step, m.timestamp, m.value))

    def expected(lo, hi, most):
        found = [(m.value, m.step) for m in history if lo <= m.step <= hi]
        return None if len(found) > most else found

    clients = [open_client(tracking_uri), MlflowClientAdapter(MlflowClient(tracking_uri))]
    assert [c.reads_metric_ranges for c in clients] == [True, tracking_uri.startswith("sqlite")]
    for reader in clients:
        for lo, hi, most in ((0, 100, 100), (20, 40, 100), (20, 40, 3), (21, 29, 5), (20, 20, 2), (0, 100, 5)):
            assert reader.metric_history(run_id, "k", lo, hi, most) == expected(lo, hi, most), (reader, lo, hi, most)
        assert reader.metric_history(run_id, "absent", 0, 100, 10) == []
        reader.close()


@pytest.mark.parametrize("backend", ["sqlite"])
def test_a_reader_asks_the_same_search_once(lineage_store):
    """A reader is a snapshot: the same search again is answered from the first (``lolpop impact``
    walked the used-by index twice, once for the graph and once for its model versions); another
    search, or the same one with another limit, is asked."""
    reader = StoreReader(open_client(lineage_store["uri"]))
    try:
        used = reader.search(tag_clause("parent_run", "True"))
        assert used and reader.requests == 2  # the experiments, then the search
        again = reader.search(tag_clause("parent_run", "True"))
        assert [r.info.run_id for r in again] == [r.info.run_id for r in used] and reader.requests == 2
        reader.search(tag_clause("parent_run", "True"), max_results=1)
        reader.search(tag_clause("parent_run", "False"))
        assert reader.requests == 4
    finally:
        reader.close()
