"""Keep the benchmark code from rotting: one workload cycle on SQLite for ours (immediate and
batched write mode) and the two raw floors; the native floor writes lolpop's MLflow-native records
in lolpop's shapes.

No timing assertions — the numbers live in BENCHMARKS.md (``make bench``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))

import driver  # noqa: E402
import workload as W  # noqa: E402


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite store for the module (creating MLflow's schema is the slow part)."""
    return tmp_path_factory.mktemp("bench") / "mlflow.db"


def _runs(uri: str, experiment: str) -> list:
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return client.search_runs([exp.experiment_id], max_results=1000)


@pytest.mark.parametrize("impl", ["ours", "batched", "raw_native", "raw"])
def test_one_cycle_writes_the_records(store: Path, tmp_path: Path, impl: str) -> None:
    uri = f"sqlite:///{store}"
    cfg = {"impl": impl, "uri": uri, "experiment": f"bench-{impl}",
           "artifact_location": (tmp_path / "art").as_uri()}
    files = W.make_files(tmp_path / "files")
    out = driver.one_cycle(cfg, files, 0)

    assert len(out["experiments"]) == W.N_EXPERIMENTS
    assert out["vc"]["hexsha"] == W.hexsha("model", 0, "winner")
    assert all(v is not None for v in out["metadata"]) and len(out["metadata"]) == W.N_READS
    assert all(v is not None for v in out["tags"]) and len(out["tags"]) == W.N_READS

    runs = _runs(uri, f"bench-{impl}")
    workflow = [r for r in runs if r.data.tags.get("parent_run") == "True"]
    # the experiments' runs (the version index is a nested run too, out of the user's sight)
    nested = [r for r in runs if r.data.tags.get("mlflow.parentRunId") and r.data.tags.get("lolpop.index") != "True"]
    assert len(workflow) == 1 and len(nested) == W.N_EXPERIMENTS
    assert all(r.info.status == "FINISHED" for r in runs)
    tags = workflow[0].data.tags
    dv, mv = W.DATASET_VERSION, W.MODEL_VERSION
    assert tags[f"{dv}.exists"] == "True" and tags[f"{dv}.hexsha"] == W.hexsha("data", 0)
    assert tags[f"{mv}.status"] == "PROMOTED" and tags[f"{mv}.dataset_versions.exists"] == "True"
    # the lineage records of build_model_lineage: used-by index tag and the lineage page
    assert tags[f"_lolpop.used_by.{workflow[0].info.run_id}.{dv}"] == f'["{mv}"]'
    client = MlflowClient(uri)
    pages = client.list_artifacts(workflow[0].info.run_id, f"{mv}/lineage")
    assert [Path(f.path).name for f in pages] == ["lineage.html"]
    for run in nested:
        assert len(run.data.params) == W.N_PARAMS
        # layout v2: an experiment's own run holds its version-control info as plain `hexsha`
        assert sum(k == "hexsha" or k.endswith(".hexsha") for k in run.data.tags) == 1

    # a second cycle finds the first as the previous dataset version
    out2 = driver.one_cycle(cfg, files, 1)
    prev = out2["prev_dv"]
    assert prev is not None and prev[1].info.run_id == workflow[0].info.run_id


def test_cycles_are_timed_by_phase_and_the_profile_renders(store: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Every timed cycle is split into the phases of ``workload.PHASES`` (each call of the workload,
    the floors and the driver has one) by a timing step that reads no request counts: the counting
    proxy is read once before and once after a timed cycle, as without it. The report renders the
    profile table from those results."""
    import report

    snapshots: list[str] = []
    monkeypatch.setattr(driver, "fetch_counts", lambda url: snapshots.append(url) or {})
    impls = ("ours", "batched", "raw_native", "raw")
    cycles = {}
    for impl in impls:
        snapshots.clear()
        cfg = {"impl": impl, "mode": "cycles", "uri": f"sqlite:///{store}", "experiment": f"phases-{impl}",
               "artifact_location": (tmp_path / impl).as_uri(), "counts_url": "http://counts.invalid",
               "warmup": 0, "cycles": 1}
        res = driver.mode_cycles(cfg)
        assert len(snapshots) == 2, impl  # the cycle's before / after, nothing per call
        [phases] = res["phases"]
        assert list(phases) == [*W.PHASES, W.BETWEEN]
        assert all(v >= 0 for v in phases.values()), (impl, phases)
        assert sum(phases.values()) == pytest.approx(res["times"][0])
        for phase in ("construction", "data version", "experiments", "lineage", "reads", "stop"):
            assert phases[phase] > 0, (impl, phase)
        assert res["step_calls"] > 0 and res["step_overhead_s"] >= 0
        cycles[impl] = {**res, "step_overhead_s": [res["step_overhead_s"]]}
    with pytest.raises(KeyError, match="no phase"):
        W.phase_of("a call nobody mapped")

    table = report.profile_table({"args": {"cycles": 1}, "cycles": {"sqlite": cycles, "server": cycles}})
    assert table.startswith("## Profile: time per cycle by phase")
    headers = [line for line in table.splitlines() if line.startswith("| phase |")]
    assert len(headers) == len(report.BACKENDS)
    assert headers[0] == "| phase | " + " | ".join(report.NAMES[i] for i in impls) + \
        f" | {report.NAMES['batched']} / {report.NAMES['raw_native']} |"
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| phase |")]
    assert [r.split(" | ")[0][2:] for r in rows] == \
        [*W.PHASES[:-1], "`stop()`", W.BETWEEN, "**total**"] * len(report.BACKENDS)
    assert all(r.count(" | ") == len(impls) + 1 for r in rows)
    assert report.profile_table({"args": {"cycles": 1}, "cycles": {
        b: {i: {k: v for k, v in res.items() if k != "phases"} for i, res in cycles.items()}
        for b in report.BACKENDS}}) == ""  # results from before the phases were timed


def _inputs(run) -> list[tuple]:
    return [(i.dataset.name, i.dataset.digest, i.dataset.source_type, i.dataset.source, i.dataset.profile,
             sorted((t.key, t.value) for t in i.tags)) for i in run.inputs.dataset_inputs]


def test_the_native_floor_writes_lolpops_native_records(store: Path, tmp_path: Path) -> None:
    """Like with like: the dataset inputs as lolpop's, on the same runs; the description; a
    registry version with lolpop's tags and the status's alias; the version index lolpop reads."""
    import raw_floor

    from lolpop.layout import index, keys

    uri = f"sqlite:///{store}"
    files = W.make_files(tmp_path / "files")
    client = MlflowClient(uri)
    workflow, nested = {}, {}
    for impl in ("batched", "raw_native"):
        cfg = {"impl": impl, "uri": uri, "experiment": f"native-{impl}", "artifact_location": (tmp_path / impl).as_uri()}
        driver.one_cycle(cfg, files, 0)
        runs = _runs(uri, f"native-{impl}")
        [workflow[impl]] = [r for r in runs if r.data.tags.get("parent_run") == "True"]
        nested[impl] = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == workflow[impl].info.run_id
                        and r.data.tags.get(index.INDEX_RUN_TAG) != "True"]
        assert len(nested[impl]) == W.N_EXPERIMENTS
    ours, floor = workflow["batched"], workflow["raw_native"]

    # dataset inputs: the same one, on the model version's run and on every experiment run
    assert _inputs(floor) == _inputs(ours) and len(_inputs(ours)) == 1
    assert all(_inputs(r) == _inputs(ours) for r in nested["raw_native"] + nested["batched"])
    # the run description
    assert floor.data.tags[keys.MLFLOW_NOTE].startswith("### lolpop workflow run")

    # the registry: a version of the winner with lolpop's version tags, holding the status's alias
    name = raw_floor.registered_model_name("native-raw_native", W.MODEL_VERSION)
    winner = floor.data.tags[f"{W.MODEL_VERSION}.{keys.WINNER_KEY}"]
    [version] = client.search_model_versions(f"name = '{name}'")
    assert version.run_id == keys.split_experiment_id(winner)[0]
    assert {k: v for k, v in version.tags.items() if k.startswith("lolpop.")} == {
        keys.REGISTRY_WORKFLOW_RUN_TAG: floor.info.run_id, keys.REGISTRY_EXPERIMENT_TAG: winner,
        keys.REGISTRY_MODEL_VERSION_TAG: W.MODEL_VERSION}
    assert client.get_registered_model(name).aliases == {keys.status_alias("PROMOTED"): version.version}
    assert version.description

    # the version index: complete, nested under the workflow run, naming the cycle's versions
    for impl in ("batched", "raw_native"):
        exp = client.get_experiment_by_name(f"native-{impl}")
        idx = client.get_run(index.index_run_id(exp.tags))
        assert index.is_index_run(idx, exp.experiment_id) and index.complete(idx, exp.creation_time)
        assert idx.data.tags["mlflow.parentRunId"] == workflow[impl].info.run_id
        assert index.since(idx.data.tags) <= workflow[impl].info.start_time
        steps = index.metric_steps(idx)
        for rid in index.indexed_resource_ids(workflow[impl].data.tags):
            assert index.pointer(index.NEWEST, rid, idx.data.metrics, steps) == \
                (workflow[impl].info.run_id, workflow[impl].info.start_time), (impl, rid)
    assert sorted(client.get_run(index.index_run_id(client.get_experiment_by_name("native-raw_native").tags))
                  .data.metrics) == sorted(client.get_run(index.index_run_id(
                      client.get_experiment_by_name("native-batched").tags)).data.metrics)


def test_the_floors_spell_lolpops_names_as_lolpop_does() -> None:
    import raw_floor

    from lolpop.layout import index, keys

    for name in ("MLFLOW_PARENT", "MLFLOW_NOTE", "MLFLOW_DATASET_CONTEXT", "TRAINING_CONTEXT",
                 "MAX_DATASET_DIGEST_LENGTH", "REGISTRY_WORKFLOW_RUN_TAG", "REGISTRY_EXPERIMENT_TAG",
                 "REGISTRY_MODEL_VERSION_TAG"):
        assert getattr(raw_floor, name) == getattr(keys, name), name
    assert raw_floor.USED_BY_PREFIX + "r.d" == keys.used_by_key("r", "d")
    assert (raw_floor.INDEX_EXPERIMENT_TAG, raw_floor.INDEX_RUN_TAG, raw_floor.INDEX_SINCE_TAG,
            raw_floor.INDEX_COMPLETE_TAG, raw_floor.INDEX_RUN_NAME) == (
        index.EXPERIMENT_TAG, index.INDEX_RUN_TAG, index.SINCE_TAG, index.COMPLETE_TAG, index.INDEX_RUN_NAME)
    run_id = "0123456789abcdef0123456789abcdef"
    assert [(m.key, m.value, m.step) for m in raw_floor.index_entries(index.NEWEST, "m", run_id, 17)] == \
        index.entries(index.NEWEST, "m", run_id, 17)
    assert "PROMOTED".lower() == keys.status_alias("PROMOTED")


def test_history_generator(store: Path) -> None:
    import history

    db = store
    history.generate(db, "lookup", 0, 30)
    history.generate(db, "lookup", 30, 50)
    assert history.count_cycles(db, "lookup") == 50
    client = MlflowClient(f"sqlite:///{db}")
    exp = client.get_experiment_by_name("lookup")
    deployed = client.search_runs([exp.experiment_id], f"tags.`{W.MODEL_VERSION}.status` = 'DEPLOYED'",
                                  order_by=["attributes.start_time DESC"])
    assert len(deployed) == 5 and deployed[0].data.tags["mlflow.runName"] == "history-40"


def test_generated_index_is_the_complete_kind(store: Path) -> None:
    """The generated index is judged complete by the tracker's own rule, as the index a tracker
    builds with the experiment it creates: the "none" look-ups of the benchmark then time the
    index path (two reads), not a search."""
    import history

    from lolpop.layout import index

    history.generate(store, "lookup-complete", 0, 20)
    history.generate(store, "lookup-complete", 20, 40)  # a later step keeps the index as it was
    client = MlflowClient(f"sqlite:///{store}")
    exp = client.get_experiment_by_name("lookup-complete")
    run = client.get_run(index.index_run_id(exp.tags))
    assert run.data.tags[index.COMPLETE_TAG] == "True"
    assert index.complete(run, exp.creation_time)
    # as lolpop creates it: experiment, then its index, then ``since``, then the first version
    first = client.search_runs([exp.experiment_id], "tags.parent_run = 'True'",
                               order_by=["attributes.start_time ASC"], max_results=1)[0]
    assert exp.creation_time <= run.info.start_time < index.since(run.data.tags) <= first.info.start_time


def test_lookups_into_generated_history_take_the_index_path(store: Path) -> None:
    """ours answers every timed look-up, found and "none", from the index without a search, and
    the same as the search it replaces; the raw floor's searches agree."""
    import history

    history.generate(store, "lookup-paths", 0, 30)
    cfg = {"uri": f"sqlite:///{store}", "experiment": "lookup-paths", "reps": 2, "delete_own_run": True}
    ours = driver.mode_lookups({**cfg, "impl": "ours"})
    assert set(ours["median"]) == set(driver.ALL_LOOKUPS)
    assert ours["searches"] == {name: 0 for name in driver.ALL_LOOKUPS}
    assert all(ours["same_as_search"].values())
    for name in driver.NONE_LOOKUPS:
        assert ours["found"][name] is None
        # "none" from the complete index: the experiment and the index run, no candidate
        assert ours["client_calls"][name]["client.get_run"] == ours["reps"]
    assert ours["found"]["get_currently_deployed_model_version"]["run_name"] == "history-20"
    raw = driver.mode_lookups({**cfg, "impl": "raw"})
    assert {k: (v or {}).get("run_id") for k, v in raw["found"].items()} == \
        {k: (v or {}).get("run_id") for k, v in ours["found"].items()}


def test_cli_latency_table() -> None:
    import cli_latency

    cur = {"sqlite": {label: {"median": 0.2, "min": 0.1, "max": 0.3} for label, *_ in cli_latency.COMMANDS},
           "server": {label: {"median": 2.0, "min": 1.0, "max": 3.0}
                      for label, _, needs_store, _ in cli_latency.COMMANDS if needs_store}}
    results = {"runs": 3, "impls": {"current": cur, "baseline abc": cur}, "load": [(1, 1, 1), (1, 1, 1)],
               "python": "3.11", "cpus": 2}
    table = cli_latency.render(results)
    rows = [line for line in table.splitlines() if line.startswith("| `lolpop")]
    assert len(rows) == len(cli_latency.COMMANDS)
    assert rows[0].endswith("| ≤ 0.3 s | yes |") and rows[2].endswith("| ≤ 1.5 s | **no** |")
    assert "(reads no store)" in rows[0] and "1.00×" in rows[2]


def test_history_reads_on_a_tiny_history(tmp_path: Path) -> None:
    """The reads that still search (issue 21, item 3): every command runs on a generated history
    (the look-up benchmark's store, reused), answers what the history holds, and the section
    renders with a row per command and backend and a target row per command."""
    import history
    import history_reads

    size = 12
    db = tmp_path / "lookups" / str(size) / "mlflow.db"
    history.generate(db, history_reads.EXPERIMENT, 0, size)
    assert history_reads.holds(db, size) and not history_reads.holds(db, size - 1) \
        and not history_reads.holds(db, size + 1)
    res = history_reads.measure(tmp_path / "reads", [size], runs=1, reuse=tmp_path / "lookups",
                                backends=("sqlite",))
    assert res["stores"] == {str(size): "reused"} and not (tmp_path / "reads" / "stores").exists()
    assert res["errors"] == {}
    assert set(res["times"]["sqlite"][str(size)]) == set(res["commands"])
    assert res["impact_run"][str(size)]["cycle"] == 10
    answers = res["answers"]["sqlite"][str(size)]
    history_cmd, diff_cmd, lineage_cmd, impact_cmd = res["commands"]
    assert res["requests"] == {}  # counted on the server only
    assert answers[history_cmd].startswith(f"History of {W.MODEL_VERSION} (model_version): {size} version(s)")
    assert answers[diff_cmd].startswith(f"Diff of {W.MODEL_VERSION}:")
    assert answers[lineage_cmd].startswith(f"{W.MODEL_VERSION}  model_version")
    assert "1 model version(s), 1 prediction job(s), 1 deployed now" in answers[impact_cmd]

    section = history_reads.render(res)
    assert section.startswith("## Reads that still search (issue 21, item 3)")
    lines = section.splitlines()
    rows = [ln for ln in lines if ln.startswith("| `lolpop") and "` | SQLite file store | " in ln]
    assert len(rows) == len(history_reads.COMMANDS)  # SQLite only
    assert all(r.count(" | ") == 2 for r in rows)  # command, backend, one size (no ratio column)
    targets = [ln for ln in lines if ln.startswith("| `lolpop") and f"at {size} cycles ≤ 0.3 s, SQLite" in ln]
    assert len(targets) == len(history_reads.COMMANDS)
    assert "the target is for 100 000" in section


def test_history_reads_table() -> None:
    """Both backends, several sizes, a failed command: cells, ratios and target verdicts."""
    import history_reads

    labels = [label for label, _ in history_reads.COMMANDS]
    times = {b: {str(s): {label: {"median": m, "min": m * 0.9, "max": m * 1.1} for label in labels}
                 for s, m in ((100, 0.2), (100000, 0.5))} for b in history_reads.BACKENDS}
    del times["server"]["100000"][labels[3]]
    results = {"runs": 3, "sizes": [100, 100000], "backends": list(history_reads.BACKENDS), "commands": labels,
               "impact_run": {"100": {"cycle": 90, "run_id": "a" * 32}, "100000": {"cycle": 99990, "run_id": "b" * 32}},
               "stores": {"100": "reused", "100000": "reused"}, "times": times,
               "answers": {}, "errors": {"server": {"100000": {labels[3]: "Error: boom | bang"}}},
               "load": [(1, 1, 1), (1, 1, 1)], "python": "3.11", "cpus": 2, "elapsed_s": 12,
               "requests": {"server": {"100": {labels[0]: {"POST /api/2.0/mlflow/runs/search": 1}},
                                       "100000": {labels[0]: {"POST /api/2.0/mlflow/runs/search": 1,
                                                              "GET /api/2.0/mlflow/runs/get": 2}}}}}
    section = history_reads.render(results)
    assert f"| `{labels[0]}` | 1 | 3 | GET runs/get × 2, POST runs/search × 1 |" in section
    assert f"| `{labels[1]}` | — | — | — |" in section
    rows = [ln for ln in section.splitlines() if ln.startswith("| `lolpop")
            and any(f"` | {name} | " in ln for name in history_reads.BACKENDS.values())]
    assert len(rows) == 2 * len(labels)
    assert rows[0] == (f"| `{labels[0]}` | SQLite file store | 0.20 s (0.18 s–0.22 s) | 0.50 s (0.45 s–0.55 s) "
                       "| 2.50× |")
    assert "**error**: Error: boom / bang" in rows[-1] and rows[-1].endswith("| — |")
    verdicts = [ln for ln in section.splitlines() if ln.startswith("| `lolpop") and " cycles ≤ " in ln]
    assert len(verdicts) == 2 * len(labels)
    assert all(v.endswith("| **no** |") for v in verdicts if "SQLite file store" in v)  # 0.5 s > 0.3 s
    assert sum(v.endswith("| yes |") for v in verdicts if "mlflow server" in v) == len(labels) - 1  # 0.5 s ≤ 0.6 s
    assert "the target is for" not in section
