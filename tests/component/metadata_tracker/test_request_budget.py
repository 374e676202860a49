"""At most one write request per seed call, counted on the wire between the tracker and a real
``mlflow server`` (``tests.support.http_proxy.HttpProxy`` forwards every request and counts it by
endpoint)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from lolpop.components import MLFlowMetadataTracker
from tests.support.http_proxy import HttpProxy
from tests.support.mlflow_server import MlflowServer
from tests.support.version_index import build_index


READS = ("GET ", "POST /api/2.0/mlflow/runs/search", "POST /api/2.0/mlflow/experiments/search")
LOG_BATCH, LOG_INPUTS = "POST /api/2.0/mlflow/runs/log-batch", "POST /api/2.0/mlflow/runs/log-inputs"
UPDATE, UPLOAD = "POST /api/2.0/mlflow/runs/update", "PUT /api/2.0/mlflow-artifacts/artifacts/*"

#: The calls that make more than one write request, with exactly the requests they make and why
#: (DESIGN.md, "MLflow-native records"; lolpop/component/metadata_tracker/_native.py).
DOCUMENTED = {
    # The lineage tags in one log_batch; MLflow dataset inputs need their own request per run
    # (log_batch cannot carry them): the model version's run and its one experiment run here;
    # then the lineage page (an artifact upload).
    "build_model_lineage": {LOG_BATCH: 1, LOG_INPUTS: 2, UPLOAD: 1},
    # The run's description (mlflow.note.content) rides with what is still held back in one
    # log_batch (runs/update, which ends the run, cannot carry tags); the model version's lineage
    # page is drawn again with the final state (one upload); its audit report, since this tracker
    # set its status (one upload; a registry version would add its set-tag: see the test below);
    # the run's versions go into the version index (one log_batch to the index run,
    # lolpop.layout.index); then the run ends.
    "stop": {LOG_BATCH: 2, UPLOAD: 2, UPDATE: 1},
}
CREATE, SET_EXPERIMENT_TAG = "POST /api/2.0/mlflow/runs/create", "POST /api/2.0/mlflow/experiments/set-experiment-tag"


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """This module's own server. stop()'s lineage page walks every experiment of the store and
    searches the prediction jobs' recorded parent in those its creator did not mark as indexing
    them (StoreReader.made_from) when they hold any run: on the session's shared server that
    depends on which tests ran before, and the counts here are exact."""
    server = MlflowServer(tmp_path_factory.mktemp("budget-server")).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def counted(mlflow_server):
    proxy = HttpProxy(mlflow_server.url)
    conf = {"mlflow_tracking_uri": proxy.url, "mlflow_experiment_name": f"budget-{uuid.uuid4().hex[:8]}"}
    build_index(conf)  # as any earlier workflow run would have
    tracker = MLFlowMetadataTracker(conf=conf)
    try:
        yield tracker, proxy
    finally:
        tracker.stop()
        proxy.close()


def _writes(proxy: HttpProxy) -> dict[str, int]:
    return _writes_of(proxy.counts())


def _writes_of(counts: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in counts.items() if not k.startswith(READS)}


def test_each_seed_write_call_is_at_most_one_write_request(counted, tmp_path):
    tracker, proxy = counted
    report = tmp_path / "r.txt"
    report.write_text("x")
    state: dict = {}

    calls = {
        "create_resource(dataset_version)": lambda: state.update(dv=tracker.create_resource("train",
                                                                                             type="dataset_version")),
        "create_resource(model_version)": lambda: state.update(mv=tracker.create_resource("m", type="model_version")),
        "log_metadata": lambda: tracker.log_metadata(state["dv"], "rows", 3),
        "log_metadata(params)": lambda: tracker.log_metadata(state["mv"], "params", {"a": 1, "b": [1, 2]}),
        "log_tag": lambda: tracker.log_tag(state["mv"], "status", "PROMOTED"),
        "register_vc_resource": lambda: tracker.register_vc_resource(state["dv"], {"hexsha": "a" * 40, "uri": "d.csv"},
                                                                     additional_metadata={"rows": 4, "cols": 2}),
        "create_resource(experiment)": lambda: state.update(exp=tracker.create_resource("e", type="experiment",
                                                                                        parent=state["mv"])),
        "log_metadata(experiment params)": lambda: tracker.log_metadata(state["exp"], "params", {"lr": 0.1}),
        "update_resource(metadata)": lambda: tracker.update_resource(state["exp"], {"note": "ok"}),
        "clean_resource(experiment)": lambda: tracker.clean_resource(state["exp"], type="experiment"),
        "build_model_lineage": lambda: tracker.build_model_lineage(state["mv"], [state["dv"]]),
        "log_artifact": lambda: tracker.log_artifact(state["dv"], "sample", str(report)),
        "log_metadata(identical again)": lambda: tracker.log_metadata(state["dv"], "cols", 2),
        "stop": tracker.stop,
    }
    over = {}
    for name, call in calls.items():
        proxy.reset()
        call()
        writes = _writes(proxy)
        if name in DOCUMENTED:
            if writes != DOCUMENTED[name]:
                over[name] = writes
        elif sum(writes.values()) > 1:
            over[name] = writes
        if name == "log_metadata(identical again)" and writes:
            over[name] = writes  # re-logging what the run holds sends nothing
    assert over == {}


def test_the_writer_creating_an_experiment_builds_its_index_once(mlflow_server):
    """The index run is created once per experiment, by the writer that creates the experiment,
    before its own run: one run created and ended, the experiment tag naming it, its ``since``
    tag; every stop adds one log_batch (DOCUMENTED)."""
    proxy = HttpProxy(mlflow_server.url)
    try:
        conf = {"mlflow_tracking_uri": proxy.url, "mlflow_experiment_name": f"budget-{uuid.uuid4().hex[:8]}"}
        first = MLFlowMetadataTracker(conf=conf)
        # experiments/create; the index run (create, update, experiment tag, since); the workflow
        # run; then the index nested under it (one log_batch, once per experiment: layout.index,
        # "Out of sight")
        assert _writes(proxy) == {"POST /api/2.0/mlflow/experiments/create": 1, CREATE: 2, UPDATE: 1,
                                  SET_EXPERIMENT_TAG: 1, LOG_BATCH: 2}
        first.create_resource("train", type="dataset_version")
        proxy.reset()
        first.stop()
        assert _writes(proxy) == {LOG_BATCH: 2, UPDATE: 1}
        second = MLFlowMetadataTracker(conf=conf)
        second.create_resource("train", type="dataset_version")
        proxy.reset()
        second.stop()
        assert _writes(proxy) == {LOG_BATCH: 2, UPDATE: 1}
    finally:
        proxy.close()


SEARCH = "POST /api/2.0/mlflow/runs/search"
LIST = "GET /api/2.0/mlflow-artifacts/artifacts"


def test_the_quarantine_gate_costs_one_search_per_lineage_hop(counted, mlflow_server, monkeypatch):
    """PROMOTED / DEPLOYED of a model version reads its taint (lolpop.lineage.taint): no request
    for a version without lineage; one runs/search per lineage hop (all upstream runs of the hop in
    one search on their ids), whatever the number of dataset versions in it. A quarantine is one
    write request (the event tag), then per touched model version that has a lineage page one
    list-artifacts, one upload and the reads of its lineage walk (the page redrawn)."""
    tracker, proxy = counted

    def searches(call) -> tuple[int, dict[str, int]]:
        proxy.reset()
        call()
        return proxy.counts().get(SEARCH, 0), _writes(proxy)

    bare = tracker.create_resource("bare", type="model_version")
    base, _ = searches(lambda: tracker.log_tag(bare, "status", "PROMOTED"))
    # one hop, three dataset versions (two in this run, one in an earlier run): one search
    earlier = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": proxy.url,
                                          "mlflow_experiment_name": tracker.experiment_name})
    raw = earlier.create_resource("raw", type="dataset_version")
    earlier.stop()
    a = tracker.create_resource("a", type="dataset_version")
    b = tracker.create_resource("b", type="dataset_version", parent=raw)  # b was made from raw: hop 2
    mv = tracker.create_resource("m", type="model_version")
    tracker.build_model_lineage(mv, [a, b])
    one_hop = tracker.create_resource("m1", type="model_version")
    tracker.build_model_lineage(one_hop, [a])
    assert searches(lambda: tracker.log_tag(one_hop, "status", "PROMOTED"))[0] == base + 1
    assert searches(lambda: tracker.log_tag(mv, "status", "PROMOTED"))[0] == base + 2  # a, b; then raw
    from lolpop.lineage import page

    with monkeypatch.context() as patched:
        patched.setattr(page, "redraw_pages", lambda *a: ([], []))
        proxy.reset()
        tracker.quarantine(raw, "bad")
        without = proxy.counts()
    assert _writes_of(without) == {LOG_BATCH: 1}
    # Then the lineage page of each touched model version is drawn again (lolpop.lineage.page): mv
    # is touched (one_hop is not, it was not made from raw) and has a page. Per such model version
    # one upload, and the reads of its lineage walk that the impact walk did not already make (here
    # one runs/search, its experiments; what is built from it the impact walk searched already, and
    # the reader asks a search once); whether it has a page is known without a list-artifacts
    # request here, since this tracker created its run (lolpop.store._known_artifacts).
    proxy.reset()
    result = tracker.quarantine(raw, "bad")
    assert result.redrawn == [("m", mv[1].info.run_id)]
    extra = {k: v - without.get(k, 0) for k, v in proxy.counts().items() if v != without.get(k, 0)}
    assert extra == {UPLOAD: 1, SEARCH: 1}
    assert searches(lambda: pytest.raises(Exception, tracker.log_tag, mv, "status", "DEPLOYED"))[1] == {}


def test_the_lineage_page_shows_taint_without_a_request_of_its_own(counted):
    """The lineage pages (build_model_lineage, stop) mark quarantined / tainted nodes from the runs
    the graph walk read already: the reads are what they were before taint existed (measured on
    the branch point: two runs/get at build_model_lineage; at stop one runs/get, one
    experiments/search and one runs/search), a dataset version of an earlier run included."""
    tracker, proxy = counted
    earlier = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": proxy.url,
                                          "mlflow_experiment_name": tracker.experiment_name})
    ext = earlier.create_resource("ext", type="dataset_version")
    earlier.quarantine(ext, "bad")
    earlier.stop()
    dv = tracker.create_resource("train", type="dataset_version", parent=ext)
    mv = tracker.create_resource("m", type="model_version")

    def reads(call) -> dict[str, int]:
        proxy.reset()
        call()
        return {k: v for k, v in proxy.counts().items() if k.startswith(READS)}

    assert reads(lambda: tracker.build_model_lineage(mv, [dv, ext])) == {"GET /api/2.0/mlflow/runs/get": 2}
    # the downstream walk: the made-from search, and whether MLflow's Default experiment (not
    # marked as indexing prediction jobs) holds a run (StoreReader.made_from)
    assert reads(tracker.stop) == {"GET /api/2.0/mlflow/runs/get": 1, SEARCH: 2,
                                   "POST /api/2.0/mlflow/experiments/search": 1}


def test_a_status_change_s_model_card_costs_one_write_and_no_read(counted, monkeypatch):
    """The model card of a registered version (``_model_card.py``) is one ``update_model_version``
    after the status write (MLflow's client reads the registered model first), built from what
    the tracker holds: no read of its own (compared with the same status change without it)."""
    from lolpop.component.metadata_tracker._status_history import StatusHistory
    from lolpop.components import SklearnModelTrainer
    from tests.support.data import iris_splits

    tracker, proxy = counted
    dv = tracker.create_resource("iris_data", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": "a" * 40, "uri": "d.csv"})
    mv = tracker.create_resource("carded", type="model_version")
    SklearnModelTrainer(conf={"estimator": "LogisticRegression", "training_params": {"max_iter": 500}},
                        metadata_tracker=tracker).build_model(iris_splits(), mv, winner=True)
    tracker.build_model_lineage(mv, [dv])
    tracker.log_tag(mv, "status", "PROMOTED")  # registers it (its requests: test_registry.py)
    card = "PATCH /api/2.0/mlflow/model-versions/update"

    def change(status: str) -> tuple[dict[str, int], dict[str, int]]:
        proxy.reset()
        tracker.log_tag(mv, "status", status)
        counts = proxy.counts()
        return {k: v for k, v in counts.items() if k.startswith(READS)}, _writes(proxy)

    with monkeypatch.context() as patched:
        patched.setattr(StatusHistory, "_write_card", lambda self, change: None)
        reads_without, writes_without = change("CANARY")
    reads, writes = change("STAGED")
    assert card not in writes_without and writes == {**writes_without, card: 1}
    # MlflowClient.update_model_version first reads the registered model (its check that the name
    # is not a prompt): that one read is the card's; the card's content needs none (runs held).
    get_model = "GET /api/2.0/mlflow/registered-models/get"
    assert reads == {**reads_without, get_model: reads_without.get(get_model, 0) + 1}


def test_the_audit_report_at_stop(counted):
    """The audit report of a registered model version whose status this run set: one upload, one
    set-tag on its registry version, and the report's reads (lolpop.audit.report), bounded here."""
    from lolpop.components import SklearnModelTrainer
    from tests.support.data import iris_splits

    tracker, proxy = counted
    # its own registered model name: the server's store is shared by the session's tests
    mv = tracker.create_resource("budget_reported", type="model_version")
    SklearnModelTrainer(conf={"estimator": "LogisticRegression", "training_params": {"max_iter": 500}},
                        metadata_tracker=tracker).build_model(iris_splits(), mv, winner=True)
    tracker.log_tag(mv, "status", "PROMOTED")
    proxy.reset()
    tracker.stop()
    counts = proxy.counts()
    writes = _writes(proxy)
    assert writes.pop("POST /api/2.0/mlflow/model-versions/set-tag") == 1
    assert writes == {LOG_BATCH: 2, UPLOAD: 1, UPDATE: 1}  # no lineage recorded: no lineage page
    reads = {k: v for k, v in counts.items() if k.startswith(READS)}
    # exactly: a new read in stop() shows up here
    assert reads == REPORT_READS, reads


#: Reads of stop() in the test above, as measured (docs/report.md lists them): the report's
#: downstream walk (what was made from the version, prediction jobs included, for the lineage
#: picture, in every experiment as on the lineage page, so one experiments/search): the made-from
#: index's search, and one asking whether MLflow's Default experiment, which no lolpop marked as
#: indexing prediction jobs, holds any run (StoreReader.made_from); the version before it as
#: get_prev_resource_version finds it, from the version index (the experiment's tags and the index run: the index is complete
#: and holds no version of it, so "none" without a search); its status history is its own run's and
#: its experiments come from what the tracker holds; and the registered-model read MLflow's
#: set_model_version_tag makes itself (it refuses to tag a prompt).
REPORT_READS = {"POST /api/2.0/mlflow/runs/search": 2, "POST /api/2.0/mlflow/experiments/search": 1,
                "GET /api/2.0/mlflow/experiments/get": 1, "GET /api/2.0/mlflow/runs/get": 1,
                "GET /api/2.0/mlflow/registered-models/get": 1}


REGISTRY_LOOKUPS = ("GET /api/2.0/mlflow/model-versions/search", "POST /api/2.0/mlflow/logged-models/search")


def test_the_trackers_own_artifacts_are_listed_from_memory(counted, tmp_path):
    """Issue 21: a status change whose winning experiment (in this tracker's run) saved no model
    asks the registry nothing but the alias it may have to clear, and the audit report at
    ``stop()`` lists no folder of the tracker's own dataset version; it still shows its artifacts."""
    from mlflow import MlflowClient

    tracker, proxy = counted
    profile = tmp_path / "profile.html"
    profile.write_text("<p>rows: 3</p>")
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.register_vc_resource(dv, {"hexsha": "b" * 40, "uri": "d.csv"})
    tracker.log_data_profile(dv, str(profile))
    mv = tracker.create_resource("m", type="model_version")
    exp = tracker.create_resource("e", type="experiment", parent=mv)
    tracker.log_artifact(exp, "notes", str(profile))
    tracker.clean_resource(exp, "experiment")
    tracker.log_metadata(mv, "winning_experiment_id", exp[0])
    tracker.build_model_lineage(mv, [dv])
    proxy.reset()
    tracker.log_tag(mv, "status", "PROMOTED")
    status = proxy.counts()
    assert not [k for k in status if k in REGISTRY_LOOKUPS or k == LIST], status
    proxy.reset()
    tracker.stop()
    assert LIST not in proxy.counts(), proxy.counts()
    client = MlflowClient(tracking_uri=tracker.client.tracking_uri)
    local = client.download_artifacts(mv[1].info.run_id, "m/audit_report", str(tmp_path / "dl"))
    page = next(Path(local).rglob("*.html")).read_text()
    assert "train_data_profile" in page and "profile.html" in page


def test_the_report_at_stop_diffs_with_the_version_before_at_a_constant_cost(counted, tmp_path):
    """Issue 21: the report a stop() attaches compares the version with the one before it, found as
    get_prev_resource_version finds it (the experiment's tags, the index run, the candidate: no
    search that grows with the model's history), and lists that version's dataset folders through
    its run's own artifact repository (no second fetch of the run). Its lineage page and it walk
    downstream once (one experiments/search; the made-from search and the Default experiment's
    probe); the winner of the version before is read for the diff (one runs/get). Measured on the version's second cycle; exact, so a new read
    shows up here."""
    tracker, proxy = counted
    profile = tmp_path / "profile.html"
    profile.write_text("<p>rows: 3</p>")

    def cycle(t: MLFlowMetadataTracker, n: int) -> None:
        dv = t.create_resource("train", type="dataset_version")
        t.register_vc_resource(dv, {"hexsha": f"{n}" * 40, "uri": "d.csv"})
        t.log_data_profile(dv, str(profile))
        mv = t.create_resource("m", type="model_version")
        exp = t.create_resource("e", type="experiment", parent=mv)
        t.clean_resource(exp, "experiment")
        t.log_metadata(mv, "winning_experiment_id", exp[0])
        t.build_model_lineage(mv, [dv])
        t.log_tag(mv, "status", "PROMOTED")

    conf = {"mlflow_tracking_uri": proxy.url, "mlflow_experiment_name": tracker.experiment_name}
    earlier = MLFlowMetadataTracker(conf=conf)
    cycle(earlier, 1)
    earlier.stop()
    later = MLFlowMetadataTracker(conf=conf)  # started after the earlier version: it has one before it
    cycle(later, 2)
    proxy.reset()
    later.stop()
    reads = {k: v for k, v in proxy.counts().items() if k.startswith(READS)}
    assert reads == {"POST /api/2.0/mlflow/experiments/search": 1, SEARCH: 2,
                     "GET /api/2.0/mlflow/experiments/get": 1, "GET /api/2.0/mlflow/runs/get": 3,
                     LIST: 2}, reads
