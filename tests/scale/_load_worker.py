"""One load-test worker process: runs full training cycles through MLFlowMetadataTracker and writes
a JSON manifest of every record it logged (raw MLflow tags, params, artifacts per run), so the
test can count them exactly against the store afterwards.

Usage: python _load_worker.py --uri URI --experiment NAME --proc P --cycles N --manifest FILE
       [--go FILE] [--ready FILE] [--partial]

``--go``: after imports, write ``--ready`` and wait for the ``--go`` file, so all workers start
together. ``--partial``: after the full cycles, start one more cycle, log part of it, write the
manifest (section ``partial``) and the ``--ready`` file again as ``<ready>.partial``, then sleep
until killed (the SIGKILL fault test).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from lolpop.components import MLFlowMetadataTracker
from lolpop.layout.values import encode_items

N_EXPERIMENTS = 5
N_PARAMS = 20


class Recorder:
    """What this process logged, in MLflow's raw form (DESIGN.md tag layout)."""

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, Any]] = {}

    def run(self, run_id: str, kind: str) -> dict[str, Any]:
        return self.runs.setdefault(run_id, {"kind": kind, "tags": {}, "params": {}, "artifacts": {}})

    def meta(self, run_id: str, key: str, value: Any) -> None:
        """The tags the tracker writes for ``value``: its text, and the run's bookkeeping tags
        as the layout's own (pure) encoder computes them from what the run already holds."""
        tags = self.runs[run_id]["tags"]
        tags.update(encode_items(tags, {key: value}).tags)


def _file(folder: Path, name: str, content: str) -> str:
    path = folder / name
    path.write_text(content, encoding="utf-8")
    return str(path)


def cycle(args: argparse.Namespace, c: int, rec: Recorder, tmp: Path, partial: bool = False,
          on_stage: Any = None) -> dict[str, Any]:
    """One full training cycle; ``on_stage(name)`` is called between stages (fault tests)."""
    p = args.proc
    on_stage = on_stage or (lambda name: None)
    conf = {"mlflow_tracking_uri": args.uri, "mlflow_experiment_name": args.experiment,
            "mlflow_request_timeout": 30, "mlflow_max_retries": 5}
    t = MLFlowMetadataTracker(conf=conf)
    wf = t.run.info.run_id
    rec.run(wf, "workflow")["tags"]["parent_run"] = "True"
    info: dict[str, Any] = {"cycle": c, "workflow_run": wf, "experiment_runs": []}
    folder = Path(tempfile.mkdtemp(dir=tmp))

    # dataset version + version-control info + a data profile artifact
    ds = f"p{p}_train"
    dv = t.create_resource(ds, type="dataset_version")
    rec.meta(wf, f"{ds}.exists", "True")
    rec.meta(wf, f"{ds}.type", "dataset_version")
    sha = hashlib.sha1(f"{p}-{c}".encode()).hexdigest()
    t.register_vc_resource(dv, {"uri": f"data/p{p}/train.csv", "hexsha": sha},
                           additional_metadata={"rows": 1000 + c, "cycle": c})
    for key, value in (("hexsha", sha), ("uri", f"data/p{p}/train.csv"), ("rows", 1000 + c), ("cycle", c)):
        rec.meta(wf, f"{ds}.{key}", value)
    content = f"profile of {ds} process {p} cycle {c}"
    t.log_data_profile(dv, _file(folder, "profile.html", content))
    rec.runs[wf]["artifacts"][f"{ds}/{ds}_data_profile/profile.html"] = content

    on_stage("dataset_logged")

    # model version with experiments
    mv_id = f"p{p}_model"
    mv = t.create_resource(mv_id, type="model_version")
    rec.meta(wf, f"{mv_id}.exists", "True")
    rec.meta(wf, f"{mv_id}.type", "model_version")
    n_exp = 1 if partial else N_EXPERIMENTS
    best = None
    for e in range(n_exp):
        exp = t.create_resource(f"exp{e}", type="experiment", parent=mv)
        er = exp.run.info.run_id
        info["experiment_runs"].append(er)
        r = rec.run(er, "experiment")
        # layout v2: the creation tags are its structure, its own keys plain
        r["tags"].update({"mlflow.parentRunId": wf, "lolpop.layout": "2", "lolpop.parent_id": mv_id,
                          "lolpop.resource_type": "experiment"})
        params = {f"param_{k:02d}": f"{p}.{c}.{e}.{k}" for k in range(N_PARAMS)}
        t.log_metadata(exp, "params", params)
        r["params"].update(params)
        rec.meta(er, "params", params)
        score = round(0.5 + e / 100 + p / 1000, 6)
        t.log_metadata(exp, "score", score)
        rec.meta(er, "score", score)
        content = f"model {mv_id} exp {e} process {p} cycle {c}"
        t.log_artifact(exp, "model", _file(folder, f"model{e}.pkl", content))
        r["artifacts"][f"{exp.id}/model/model{e}.pkl"] = content
        if partial:
            break
        t.clean_resource(exp, type="experiment")
        best = exp
        on_stage(f"experiment_{e}_logged")
    if partial:
        return info

    t.log_metadata(mv, "winning_experiment_id", best.id)
    rec.meta(wf, f"{mv_id}.winning_experiment_id", best.id)
    t.build_model_lineage(mv, [dv])
    rec.meta(wf, f"{mv_id}.dataset_versions", [{"id": ds, "run_id": wf}])
    rec.meta(wf, f"{mv_id}.dataset_versions.exists", "True")
    content = f"final model {mv_id} process {p} cycle {c}"
    t.log_artifact(mv, "model", _file(folder, "model.pkl", content))
    rec.runs[wf]["artifacts"][f"{mv_id}/model/model.pkl"] = content
    t.log_tag(mv, "status", "PROMOTED")
    rec.meta(wf, f"{mv_id}.status", "PROMOTED")

    prev = t.get_prev_resource_version(mv)
    info["prev_found"] = prev.run.info.run_id if prev is not None else None
    t.stop()
    return info


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--experiment", required=True)
    ap.add_argument("--proc", type=int, required=True)
    ap.add_argument("--cycles", type=int, required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--go")
    ap.add_argument("--ready")
    ap.add_argument("--partial", action="store_true")
    args = ap.parse_args()

    if args.ready:
        Path(args.ready).write_text(str(os.getpid()))
    if args.go:
        while not Path(args.go).exists():
            time.sleep(0.05)
    rec = Recorder()
    cycles: list[dict[str, Any]] = []
    manifest: dict[str, Any] = {"proc": args.proc, "cycles": cycles, "runs": rec.runs}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(args.cycles):
            cycles.append(cycle(args, c, rec, Path(tmp)))
        manifest["seconds"] = time.monotonic() - started
        if args.partial:
            manifest["partial"] = cycle(args, args.cycles, rec, Path(tmp), partial=True)
        out = Path(args.manifest)
        out.with_suffix(".tmp").write_text(json.dumps(manifest, indent=1))
        out.with_suffix(".tmp").replace(out)
        if args.partial:
            Path(f"{args.ready}.partial").write_text("logged")
            time.sleep(600)  # waiting for SIGKILL
    return 0


if __name__ == "__main__":
    sys.exit(main())
