"""Upgrading in place from the real lolpop 0.2.0 (from PyPI, in the benchmarks' throwaway venv,
``benchmarks/legacy_setup.py``): two versions it deployed stay in the deployment history, as
inferred events, before what this lolpop records.

(lolpop 0.2.0 writes ``<id>.exists`` for a model version only at ``register_vc_resource``, which
its train pipeline always calls; a version without it is no version by ``layout/versions.py`` for
any look-up, the history's included.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from lolpop.cli.main import cli

ROOT = Path(__file__).resolve().parents[2]

# lolpop 0.2.0's own calls (as its process / train / deploy pipelines make them, see
# test_lolpop020_calls.py), in its own interpreter: a dataset version, a model version with its
# training data's vc info and lineage, status PROMOTED then DEPLOYED, stop.
LEGACY_CYCLE = textwrap.dedent("""
    import json, sys
    from lolpop.component.metadata_tracker.mlflow_metadata_tracker import MLFlowMetadataTracker

    class Quiet:
        def log(self, *a, **k): pass
        def notify(self, *a, **k): pass

    uri, experiment, cycle = sys.argv[1], sys.argv[2], int(sys.argv[3])
    tracker = MLFlowMetadataTracker(conf={"config": {"mlflow_tracking_uri": uri, "mlflow_experiment_name": experiment}},
                                    is_standalone=True,
                                    dependent_integrations={"component": {"logger": Quiet(), "notifier": Quiet()}})
    dv = tracker.create_resource("train", type="dataset_version")
    tracker.register_vc_resource(dv, {"uri": "data/train.csv", "hexsha": f"{cycle:040x}"})
    mv = tracker.create_resource("churn", type="model_version")
    tracker.register_vc_resource(mv, {"uri": "data/X_train.csv", "hexsha": f"{cycle:040x}"}, key="X_train",
                                 file_type="csv")
    tracker.build_model_lineage(mv, [dv])
    tracker.log_metadata(mv, id="status", data="PROMOTED")
    tracker.log_metadata(mv, id="status", data="DEPLOYED")
    tracker.stop()
    print(json.dumps(mv[1].info.run_id))
""")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_deployments_lolpop_020_made_stay_in_the_history(make_tracker, conf):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import legacy_setup

    legacy = legacy_setup.ensure(ROOT / "build" / "bench")
    uri, experiment = conf["config"]["mlflow_tracking_uri"], conf["config"]["mlflow_experiment_name"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    old = [json.loads(subprocess.run([str(legacy), "-c", LEGACY_CYCLE, uri, experiment, str(n)], env=env,
                                     check=True, capture_output=True, text=True, timeout=300).stdout.splitlines()[-1])
           for n in (1, 2)]

    tracker = make_tracker()
    mv = tracker.create_resource("churn", type="model_version")
    tracker.log_tag(mv, "status", "PROMOTED")
    tracker.log_tag(mv, "status", "DEPLOYED")
    found = tracker.get_status_history("churn")
    assert [(e.run_id, e.old_status, e.new_status, e.inferred, e.user) for e in found] == [
        (old[0], None, "DEPLOYED", True, None), (old[1], None, "DEPLOYED", True, None),
        (mv.run.info.run_id, None, "PROMOTED", False, found[2].user),
        (mv.run.info.run_id, "PROMOTED", "DEPLOYED", False, found[3].user)]
    tracker.stop()
    out = CliRunner().invoke(cli, ["--tracking-uri", uri, "--experiment", experiment, "history", "churn",
                                   "--deployments"], catch_exceptions=False, env={"COLUMNS": "200"}).output
    assert sum(1 for line in out.splitlines() if line.startswith("≈ ") and (old[0] in line or old[1] in line)) == 2
