"""Regenerate the audit report examples in docs/ from real runs (tests/audit/test_report_docs.py
checks that the committed files are what this produces, up to run ids and times).

    python docs/report_example.py [OUT_DIR]     # default: docs/

* ``report-example.md`` / ``report-example-page.html``: ``lolpop report breast_cancer_model`` on the
  store ``lolpop quickstart`` builds (two cycles; the newest model version).
* ``report-history-example.txt``: ``lolpop history churn --deployments`` on a store written by
  an older lolpop (a status tag per version, no status events; written with raw MLflow calls as
  lolpop 0.2.0 did) and then upgraded in place: a new version promoted and deployed.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from click.testing import CliRunner

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
DOCS = Path(__file__).resolve().parent


def _lolpop(uri: str, *args: str) -> str:
    from lolpop.cli.main import cli

    result = CliRunner().invoke(cli, ["--tracking-uri", uri, *args], catch_exceptions=False, env={"COLUMNS": "110"})
    if result.exit_code != 0:
        raise SystemExit(f"lolpop {' '.join(args)} failed: {result.output}")
    return result.output


def report_examples(out: Path, work: Path) -> None:
    uri = f"sqlite:///{work / 'quickstart' / 'mlflow.db'}"
    _lolpop(uri, "quickstart", "--dir", str(work / "quickstart"))
    (out / "report-example.md").write_text(_lolpop(uri, "report", "breast_cancer_model", "--format", "md"),
                                           encoding="utf-8")
    _lolpop(uri, "report", "breast_cancer_model", "-o", str(out / "report-example-page.html"))


def history_example(out: Path, work: Path) -> None:
    from mlflow import MlflowClient
    from mlflow.entities import RunTag

    from lolpop.components import MLFlowMetadataTracker

    uri = f"sqlite:///{work / 'upgraded.db'}"
    client = MlflowClient(uri)
    experiment_id = client.create_experiment("churn-pipeline")
    now = int(time.time() * 1000)
    for n, start in enumerate((now - 7 * 86_400_000, now - 86_400_000)):
        # What lolpop 0.2.0 left: resource tags, the status as a plain tag, no event.
        run = client.create_run(experiment_id, start_time=start, tags={"parent_run": "True"})
        client.log_batch(run.info.run_id, tags=[RunTag(k, v) for k, v in {
            "train.exists": "True", "train.hexsha": f"{n + 1:040x}", "churn.exists": "True",
            "churn.dataset_versions": str(["train"]), "churn.status": "DEPLOYED"}.items()])
        client.set_terminated(run.info.run_id, "FINISHED", end_time=start + 120_000)
    tracker = MLFlowMetadataTracker(conf={"mlflow_tracking_uri": uri, "mlflow_experiment_name": "churn-pipeline",
                                          "mlflow_registry": False})
    mv = tracker.create_resource("churn", type="model_version")
    tracker.log_tag(mv, "status", "PROMOTED")
    tracker.log_tag(mv, "status", "DEPLOYED")
    tracker.stop()
    text = "$ lolpop history churn --deployments\n" + _lolpop(uri, "--experiment", "churn-pipeline", "history",
                                                               "churn", "--deployments")
    (out / "report-history-example.txt").write_text(text, encoding="utf-8")


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lolpop-docs-") as tmp:
        report_examples(out, Path(tmp))
        history_example(out, Path(tmp))


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DOCS)
