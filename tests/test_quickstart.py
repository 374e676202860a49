"""``lolpop quickstart`` for real: a subprocess in a temp dir, then lineage / history / show on
what it recorded (also subprocesses: the console script as a user runs it)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow import MlflowClient

ROOT = Path(__file__).resolve().parents[1]


def lolpop(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "LOLPOP_EXPERIMENT")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    env["COLUMNS"] = "200"
    return subprocess.run([sys.executable, "-m", "lolpop.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def quickstart_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("quickstart")
    return cwd, lolpop(cwd, "quickstart", "--dir", "quickstart")


def test_quickstart_runs_and_summarises(quickstart_dir):
    cwd, proc = quickstart_dir
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "What the quickstart recorded" in out
    assert "mlflow ui --backend-store-uri sqlite:///mlflow.db" in out
    assert "breast_cancer_model/lineage/lineage.html" in out
    # the UI links open MLflow 3.17's Model-training view, not the GenAI overview
    exp_id = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}").get_experiment_by_name(
        "lolpop-quickstart").experiment_id
    assert f"  runs: http://127.0.0.1:5000/#/experiments/{exp_id}?workflowType=machine_learning\n" in out
    lineage = re.search(r"  lineage page: (\S+)\n", out).group(1)
    assert re.fullmatch(rf"http://127\.0\.0\.1:5000/#/experiments/{exp_id}/runs/[0-9a-f]{{32}}/artifacts/"
                        r"breast_cancer_model/lineage/lineage\.html\?workflowType=machine_learning", lineage)
    assert out.count("DEPLOYED") == 2
    assert "Traceback" not in proc.stderr
    assert (cwd / "mlflow.db").exists() and (cwd / "quickstart" / "data_repo" / ".git").is_dir()


def test_quickstart_store_content(quickstart_dir):
    cwd, proc = quickstart_dir
    assert proc.returncode == 0
    client = MlflowClient(tracking_uri=f"sqlite:///{cwd / 'mlflow.db'}")
    exp = client.get_experiment_by_name("lolpop-quickstart")
    runs = client.search_runs([exp.experiment_id], "tags.`parent_run` = 'True'", order_by=["attributes.start_time ASC"])
    assert len(runs) == 4 and all(r.info.status == "FINISHED" for r in runs)
    train1, predict1, train2, predict2 = runs
    # Real git hexsha of the committed dataset, deterministic (fixed commit dates).
    import git

    repo = git.Repo(cwd / "quickstart" / "data_repo")
    shas = [c.hexsha for c in repo.iter_commits()][::-1]
    assert [train1.data.tags["breast_cancer.hexsha"], train2.data.tags["breast_cancer.hexsha"]] == shas
    # Data profile and checks as artifacts; the second cycle compared with the first.
    paths = {f.path for f in client.list_artifacts(train2.info.run_id, "breast_cancer")}
    assert paths == {"breast_cancer/breast_cancer_data_profile", "breast_cancer/breast_cancer_data_checks_report",
                     "breast_cancer/breast_cancer_data_comparison"}
    assert train2.data.tags["breast_cancer.previous_run_id"] == train1.info.run_id
    assert train2.data.tags["breast_cancer_model.previous_deployed_run_id"] == train1.info.run_id
    # Prediction jobs record the exact model version run they used.
    assert predict1.data.tags["breast_cancer_model_predictions.parent_run_id"] == train1.info.run_id
    assert predict2.data.tags["breast_cancer_model_predictions.parent_run_id"] == train2.info.run_id
    # Three experiments per model version, models saved as MLflow sklearn folders.
    nested = client.search_runs([exp.experiment_id], f"tags.`mlflow.parentRunId` = '{train2.info.run_id}'")
    assert len(nested) == 3
    winner = train2.data.tags["breast_cancer_model.winning_experiment_id"]
    wrun = client.get_run(winner.split(".")[0])
    files = {f.path.rsplit("/", 1)[-1] for f in client.list_artifacts(wrun.info.run_id, f"{winner}/model")}
    assert "MLmodel" in files
    # Metrics of every candidate are MLflow metrics (the UI's columns and compare charts).
    for run in nested:
        assert {"test_accuracy", "test_f1", "test_rocauc", "train_accuracy"} <= set(run.data.metrics)
    assert train2.data.metrics["breast_cancer_model.accuracy"] == round(wrun.data.metrics["test_accuracy"], 4)
    # Names in the UI: the workflow runs after the experiment and start time, the candidates by estimator.
    assert all(re.fullmatch(r"lolpop-quickstart-\d{8}-\d{6}", r.info.run_name) for r in runs)
    assert {r.info.run_name for r in nested} == {"LogisticRegression", "RandomForestClassifier",
                                                 "GradientBoostingClassifier"}
    # The training data is each model run's dataset input (UI Dataset column, dataset.name search).
    trained_on = client.search_runs([exp.experiment_id], "dataset.name = 'breast_cancer'")
    assert {r.info.run_id for r in trained_on} >= {train1.info.run_id, train2.info.run_id, wrun.info.run_id}
    digest = train2.inputs.dataset_inputs[0].dataset.digest
    assert train2.data.tags["breast_cancer.hexsha"].startswith(digest)
    # The description summarises the run.
    note = train2.data.tags["mlflow.note.content"]
    assert "status **DEPLOYED**" in note and "breast_cancer_model/lineage/lineage.html" in note
    assert "`breast_cancer_model_predictions`" in predict2.data.tags["mlflow.note.content"]
    # The winner is the best of the three (build_model no longer claims the win each time), and
    # records its own trainer (the registered component), so load_model can rebuild it.
    assert wrun.data.metrics["test_accuracy"] == max(r.data.metrics["test_accuracy"] for r in nested)
    # layout v2: an experiment's own run holds its keys plain (lolpop.layout = 2)
    assert wrun.data.tags["lolpop.layout"] == "2" and wrun.data.tags["model_trainer"] == "SklearnModelTrainer"
    # The lineage page is an artifact of the model version's run (shown by the MLflow UI).
    local = client.download_artifacts(train2.info.run_id, "breast_cancer_model/lineage/lineage.html", str(cwd))
    page = Path(local).read_text()
    assert "<svg" in page and "breast_cancer" in page and "★ winner" in page
    # Drawn again when the later prediction run used the model version: the page shows that job.
    assert predict2.info.run_id in page and "RUNNING" not in page
    (cwd / "first").mkdir(exist_ok=True)
    first = Path(client.download_artifacts(train1.info.run_id, "breast_cancer_model/lineage/lineage.html",
                                           str(cwd / "first"))).read_text()
    assert predict1.info.run_id in first


def test_lineage_history_show_on_quickstart_store(quickstart_dir, tmp_path):
    cwd, proc = quickstart_dir
    assert proc.returncode == 0
    run_ids = re.findall(r"\b[0-9a-f]{32}\b", lolpop(cwd, "history", "breast_cancer").stdout)
    assert len(run_ids) == 2
    newest, oldest = run_ids

    tree = lolpop(cwd, "lineage", "breast_cancer_model")
    assert tree.returncode == 0, tree.stderr
    assert f"[trained] breast_cancer  dataset_version · run {newest}" in tree.stdout
    assert tree.stdout.count("[candidate]") == 2 and tree.stdout.count("[winner]") == 1
    assert "[predicted] breast_cancer_model_predictions" in tree.stdout

    down = lolpop(cwd, "lineage", "breast_cancer", "--run", oldest, "--format", "json")
    data = json.loads(down.stdout)
    ids = {(n["id"], n["role"]) for n in data["nodes"]}
    assert ("breast_cancer_model", "downstream") in ids and ("breast_cancer_model_predictions", "downstream") in ids
    assert all(n["run_id"] != newest for n in data["nodes"] if n["id"] == "breast_cancer_model")

    html = tmp_path / "lineage.html"
    assert lolpop(cwd, "lineage", "breast_cancer_model", "--format", "html", "-o", str(html)).returncode == 0
    assert "<svg" in html.read_text()

    history = lolpop(cwd, "history", "breast_cancer_model")
    assert history.returncode == 0 and history.stdout.count("DEPLOYED") == 2

    show = lolpop(cwd, "show", "breast_cancer")
    assert show.returncode == 0, show.stderr
    for text in ("hexsha", "rows", "469", "breast_cancer_data_profile", "profile_cycle2.html",
                 "checks_cycle2.json", "comparison.json"):
        assert text in show.stdout, text

    missing = lolpop(cwd, "lineage", "nope")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [missing.stderr.strip()] and missing.stderr.startswith("Error: ")
    assert "Traceback" not in missing.stderr


def test_printed_commands_work_as_printed_without_an_activated_venv(quickstart_dir):
    """The closing commands name this environment's scripts by path when the shell would not
    find them (a user who ran `make quickstart` has not activated .venv)."""
    import shlex
    import shutil

    cwd, proc = quickstart_dir
    lines = [line.strip() for line in proc.stdout.splitlines()]
    ui = lines[lines.index("Look at it in the MLflow UI:") + 1]
    commands = lines[lines.index("Or here:") + 1:lines.index("Or here:") + 5]
    bare_path = "/usr/bin:/bin"
    assert shutil.which(shlex.split(ui)[0], path=bare_path) or Path(shlex.split(ui)[0]).is_file()
    env = {"PATH": bare_path, "HOME": os.environ.get("HOME", "/root"), "COLUMNS": "200",
           "MLFLOW_DISABLE_TELEMETRY": "true"}
    for command in (commands[0], commands[2]):  # lineage, history
        run = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, (command, run.stderr[-2000:])
        assert "breast_cancer" in run.stdout


def test_audit_commands_on_quickstart_store(quickstart_dir):
    """The closing text names ``lolpop diff`` / ``lolpop impact``, and both answer on its store."""
    cwd, proc = quickstart_dir
    assert "lolpop diff breast_cancer_model" in proc.stdout
    assert "lolpop impact breast_cancer" in proc.stdout
    diff = lolpop(cwd, "diff", "breast_cancer_model", "--format", "json")
    assert diff.returncode == 0, diff.stderr[-2000:]
    rows = {(r["section"], r["field"]): r for r in json.loads(diff.stdout)["rows"]}
    assert (rows[("data breast_cancer", "rows")]["a"], rows[("data breast_cancer", "rows")]["b"]) == (350, 469)
    assert rows[("winner", "trainer")]["b"] == "SklearnModelTrainer"
    impact = lolpop(cwd, "impact", "breast_cancer")
    assert impact.returncode == 0, impact.stderr[-2000:]
    assert "1 model version(s), 1 prediction job(s), 1 deployed now" in impact.stdout
