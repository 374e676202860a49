"""Build a small lineage store with tracker calls (in this process or in a subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

# Process 1: a dataset version, a model version with three experiments (one wins), lineage.
TRAIN = r'''
import json, sys
from lolpop.components import MLFlowMetadataTracker
conf = {"config": {"mlflow_tracking_uri": sys.argv[1], "mlflow_experiment_name": sys.argv[2]}}
with MLFlowMetadataTracker(conf=conf) as t:
    dv = t.create_resource("churn_data", type="dataset_version")
    t.register_vc_resource(dv, {"hexsha": "a" * 40, "uri": "data/churn.csv"}, additional_metadata={"rows": 1000})
    mv = t.create_resource("churn_model", type="model_version")
    exps = []
    for name in ("lr", "rf", "xgb"):
        exp = t.create_resource(name, type="experiment", parent=mv)
        t.log_metadata(exp, "model_trainer", name)
        t.clean_resource(exp, type="experiment")
        exps.append(exp)
    t.log_metadata(mv, "winning_experiment_id", exps[1].id)
    t.build_model_lineage(mv, [dv])
    t.log_tag(mv, "status", "DEPLOYED")
    print("LOLPOP_RESULT", json.dumps({"run": t.run.info.run_id, "experiments": [e.id for e in exps], "winner": exps[1].id}))
'''

# Process 2: a prediction job on the deployed model version, and a second model trained on the
# first process's dataset version.
PREDICT = r'''
import json, sys
from lolpop.components import MLFlowMetadataTracker
conf = {"config": {"mlflow_tracking_uri": sys.argv[1], "mlflow_experiment_name": sys.argv[2]}}
with MLFlowMetadataTracker(conf=conf) as t:
    mv = t.get_resource("churn_model", type="model_version")
    pj = t.create_resource("churn_model_predictions", type="prediction_job", parent=mv, prediction_count=42)
    dv = t.get_resource("churn_data", type="dataset_version")
    mv2 = t.create_resource("churn_model_v2", type="model_version")
    t.build_model_lineage(mv2, [dv])
    print("LOLPOP_RESULT", json.dumps({"run": t.run.info.run_id, "mv_run": mv.run.info.run_id, "dv_run": dv.run.info.run_id}))
'''


def run_tracker_process(script: str, tracking_uri: str, experiment: str) -> dict[str, Any]:
    """Run ``script`` in a fresh Python process on the store; returns its JSON output."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])}
    proc = subprocess.run([sys.executable, "-c", script, tracking_uri, experiment], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("LOLPOP_RESULT ")]
    assert lines, proc.stdout[-2000:]
    return json.loads(lines[-1][len("LOLPOP_RESULT "):])


def build_two_process_store(tracking_uri: str, experiment: str) -> dict[str, Any]:
    first = run_tracker_process(TRAIN, tracking_uri, experiment)
    second = run_tracker_process(PREDICT, tracking_uri, experiment)
    return {"train": first, "predict": second}
