"""Load: 8 processes x 5 full training cycles at once against the PostgreSQL + S3 tracking server.

Afterwards every run, tag, param and artifact each process logged is on the store with the right
value (counted exactly from the workers' manifests), and ``get_prev_resource_version`` returns each
process's own history. The figures are printed and written to ``load-figures.json`` in the test's
temporary folder (``pytest -s`` shows them).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
from mlflow import MlflowClient

from lolpop.components import MLFlowMetadataTracker
from tests.scale._load_worker import N_EXPERIMENTS
from tests.scale._verify import Count, s3_reader, start_worker, verify_runs, worker_cmd
from tests.support.version_index import without_index

PROCESSES = 8
CYCLES = 5

pytestmark = pytest.mark.postgres


def test_8_processes_x_5_cycles_lose_nothing(pg_stack, tmp_path: Path, record_property):
    uri = pg_stack.url
    experiment = f"load-{uuid.uuid4().hex[:10]}"
    go = tmp_path / "go"
    procs = []
    for p in range(PROCESSES):
        cmd = worker_cmd(uri, experiment, p, CYCLES, tmp_path / f"manifest-{p}.json",
                         go=go, ready=tmp_path / f"ready-{p}")
        procs.append(start_worker(cmd, tmp_path / f"worker-{p}.log"))
    try:
        # Workers import mlflow first, then all start logging together.
        deadline = time.monotonic() + 180
        while not all((tmp_path / f"ready-{p}").exists() for p in range(PROCESSES)):
            assert time.monotonic() < deadline, "workers did not start"
            assert all(pr.poll() is None for pr in procs), "a worker died while starting"
            time.sleep(0.1)
        started = time.monotonic()
        go.write_text("go")
        codes = [pr.wait(timeout=900) for pr in procs]
        wall = time.monotonic() - started
    finally:
        for pr in procs:
            if pr.poll() is None:
                pr.kill()
                pr.wait()
    logs = {p: (tmp_path / f"worker-{p}.log").read_text()[-3000:] for p in range(PROCESSES) if codes[p]}
    assert codes == [0] * PROCESSES, f"workers failed: {logs}"

    manifests = [json.loads((tmp_path / f"manifest-{p}.json").read_text()) for p in range(PROCESSES)]
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(experiment)
    stored = without_index(client.search_runs([exp.experiment_id], max_results=5000))  # with all tags and params
    fetched = {r.info.run_id: r for r in stored}
    read_s3 = s3_reader(pg_stack.s3, exp.experiment_id)  # artifacts as they landed in the S3 store
    count = Count()
    for m in manifests:
        verify_runs(client, m["runs"], count, fetched=fetched, read_artifact=read_s3)
    assert count.problems == [], f"{len(count.problems)} records missing or wrong: {count.problems[:20]}"

    # Exactly the runs the workers made are in the experiment, all FINISHED.
    expected_runs = PROCESSES * CYCLES * (1 + N_EXPERIMENTS)
    assert count.written["runs"] == expected_runs
    assert len(stored) == expected_runs
    assert {r.info.status for r in stored} == {"FINISHED"}
    assert {r.info.run_id for r in stored} == {rid for m in manifests for rid in m["runs"]}

    # Each process's history is its own: during the run (prev of cycle c is cycle c-1) ...
    for m in manifests:
        wf = [c["workflow_run"] for c in m["cycles"]]
        assert [c["prev_found"] for c in m["cycles"]] == [None] + wf[:-1], f"process {m['proc']}"
    # ... and afterwards, from a fresh tracker. The artifacts also read back through the server.
    with MLFlowMetadataTracker(conf={"mlflow_tracking_uri": uri, "mlflow_experiment_name": experiment}) as t:
        for m in manifests:
            mv = t.create_resource(f"p{m['proc']}_model", type="model_version")
            mv_id, runs = t.get_prev_resource_version(mv, num=CYCLES + 3)
            assert [r.info.run_id for r in runs] == [c["workflow_run"] for c in reversed(m["cycles"])]
            lineage = t.get_metadata((mv_id, runs[0]), "dataset_versions")
            assert lineage == [{"id": f"p{m['proc']}_train", "run_id": runs[0].info.run_id}]
            final = Path(t.get_artifact((mv_id, runs[0]), "model"))
            assert final.read_text() == f"final model {mv_id} process {m['proc']} cycle {CYCLES - 1}"

    figures = {
        "processes": PROCESSES, "cycles": CYCLES,
        "records_written": count.written, "records_found": count.found,
        "total_written": count.total("written"), "total_found": count.total("found"),
        "wall_seconds": round(wall, 1),
        "per_process_seconds": [round(m["seconds"], 1) for m in manifests],
    }
    (tmp_path / "load-figures.json").write_text(json.dumps(figures, indent=1))
    print("\nLOAD FIGURES", json.dumps(figures))
    record_property("load_figures", json.dumps(figures))  # lands in --junitxml reports
    assert count.written == count.found
