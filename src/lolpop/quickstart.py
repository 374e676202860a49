"""A whole lolpop-style workflow on scikit-learn's breast cancer dataset, in under a minute.

Two cycles, each: **process** (a dataset version committed to a local git repo, its real hexsha,
a data profile and data checks as artifacts, a comparison with the previous version), **train**
(three experiments, the best by test accuracy wins, models saved as MLflow sklearn folders), **promote
and deploy** (status tags), **predict** (a prediction job in its own workflow run whose parent is
the deployed model version). The second cycle has more data, so previous-version look-ups find
the first one. ``build_model_lineage`` logs the lineage page into the model version's run.

Everything goes through :class:`~lolpop.components.MLFlowMetadataTracker` (never MLflow's fluent
API). Training goes through ``SklearnModelTrainer`` (one experiment per candidate) and
``GitResourceVersionControl`` versions the data, so hexshas are real commits; prediction
rebuilds the deployed model with ``load_model``. Seeds are fixed.

Example:
    >>> from lolpop.quickstart import run_quickstart
    >>> summary = run_quickstart("quickstart")
    >>> summary.ui_command
    'mlflow ui --backend-store-uri sqlite:///mlflow.db'
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lolpop.layout.keys import prediction_job_id
from lolpop.layout.uris import EMBEDDED_URI  # the embedded default store, in the current folder

DATASET_ID = "breast_cancer"
MODEL_ID = "breast_cancer_model"
PREDICTION_JOB_ID = prediction_job_id(MODEL_ID)
DEFAULT_EXPERIMENT = "lolpop-quickstart"
DATA_FILE = "data/breast_cancer.csv"
QUALITY_GATE = 0.90  # minimum test accuracy to promote
#: (train rows, prediction rows) per cycle, out of 569 shuffled rows.
CYCLES = ((350, 100), (469, 100))
STEPS = ("process", "train", "deploy", "predict")
TOTAL_STEPS = len(CYCLES) * len(STEPS)

Progress = Callable[[str], None]


@dataclass
class CycleSummary:
    """What one cycle recorded."""

    cycle: int
    dataset_run_id: str
    hexsha: str
    rows: int
    winner: str
    accuracy: float
    experiment_id: str
    model_version_run_id: str
    status: str
    previous_deployed_run_id: str | None
    prediction_run_id: str
    predictions: int
    #: the MLflow experiment holding the cycle's runs (links into the UI need it)
    mlflow_experiment_id: str = ""


@dataclass
class QuickstartSummary:
    """The result of :func:`run_quickstart`."""

    workdir: str
    tracking_uri: str
    experiment: str
    cycles: list[CycleSummary] = field(default_factory=list)
    lineage_artifact: str = ""

    def ui_links(self) -> list[tuple[str, str]]:
        """``(what, URL)`` of the pages to open, each in MLflow's Model-training view: the
        experiment's runs list and the newest model version's lineage page."""
        from lolpop.layout import ui_links

        if not self.cycles or not self.cycles[-1].mlflow_experiment_id:
            return []
        last, base = self.cycles[-1], ui_links.ui_base(self.tracking_uri)
        return [
            ("runs", ui_links.url(ui_links.experiment_route(last.mlflow_experiment_id), base)),
            ("lineage page", ui_links.url(ui_links.run_route(last.mlflow_experiment_id, last.model_version_run_id,
                                                             self.lineage_artifact or None), base)),
        ]

    @property
    def ui_command(self) -> str:
        if self.tracking_uri.startswith("sqlite:"):
            return f"{command('mlflow')} ui --backend-store-uri {self.tracking_uri}"
        return f"open {self.tracking_uri}"

    def next_commands(self) -> list[str]:
        lolpop = command("lolpop")
        uri = "" if self.tracking_uri == default_tracking_uri() else f"--tracking-uri {self.tracking_uri} "
        return [
            f"{lolpop} {uri}lineage {MODEL_ID}",
            f"{lolpop} {uri}lineage {DATASET_ID} --run {self.cycles[0].dataset_run_id} --format html -o lineage.html",
            f"{lolpop} {uri}history {MODEL_ID}",
            f"{lolpop} {uri}show {MODEL_ID}",
        ]

    def audit_commands(self) -> list[str]:
        lolpop = command("lolpop")
        uri = "" if self.tracking_uri == default_tracking_uri() else f"--tracking-uri {self.tracking_uri} "
        return [f"{lolpop} {uri}diff {MODEL_ID}", f"{lolpop} {uri}impact {DATASET_ID}"]


def command(name: str) -> str:
    """How to call console script ``name`` of this environment from the current folder: its bare
    name when the shell finds this very script, else its path (``.venv/bin/lolpop``), so the
    printed commands work as printed in a shell that has not activated the virtualenv."""
    here = Path(sys.executable).parent / name
    found = shutil.which(name)
    if not here.exists() or (found is not None and Path(found).resolve() == here.resolve()):
        return name
    try:
        return str(here.relative_to(Path.cwd()))
    except ValueError:
        return str(here)


def default_tracking_uri() -> str:
    """``$MLFLOW_TRACKING_URI`` when set, else lolpop's embedded default :data:`EMBEDDED_URI`."""
    return os.environ.get("MLFLOW_TRACKING_URI") or EMBEDDED_URI


# ---------------------------------------------------------------------------------------------
# data and version control
# ---------------------------------------------------------------------------------------------
def load_data() -> Any:
    """The breast cancer dataset (569 rows, 30 features, ``target``), shuffled with a fixed seed."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    return frame.sample(frac=1.0, random_state=0).reset_index(drop=True)


def commit_dataset(vc: Any, frame: Any, out: Path, cycle: int) -> dict[str, Any]:
    """Write the dataset CSV and version it with the git component; returns its vc info."""
    path = out / "breast_cancer.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False, float_format="%.6g")
    return vc.version_file(path, DATA_FILE, message=f"{DATASET_ID}: cycle {cycle}, {len(frame)} rows")


def write_reports(frame: Any, out: Path, cycle: int) -> tuple[Path, Path, dict[str, Any]]:
    """A data profile (HTML) and data checks (JSON); returns their paths and the checks."""
    out.mkdir(parents=True, exist_ok=True)
    profile = out / f"profile_cycle{cycle}.html"
    profile.write_text(
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Data profile</title></head><body>"
        f"<h1>{DATASET_ID}: data profile (cycle {cycle})</h1>"
        + frame.describe().T.round(4).to_html() + "</body></html>",
        encoding="utf-8",
    )
    checks = {
        "no_missing_values": bool(frame.isna().sum().sum() == 0),
        "at_least_300_rows": bool(len(frame) >= 300),
        "binary_target": sorted(int(v) for v in frame["target"].unique()) == [0, 1],
        "no_constant_columns": bool((frame.nunique() > 1).all()),
    }
    result = {"passed": all(checks.values()), "checks": checks}
    checks_path = out / f"checks_cycle{cycle}.json"
    checks_path.write_text(json.dumps(result, indent=2), encoding="utf-8")
    return profile, checks_path, result


# ---------------------------------------------------------------------------------------------
# training: SklearnModelTrainer components, one experiment each
# ---------------------------------------------------------------------------------------------
#: name -> SklearnModelTrainer config; plain data, resolved through lolpop's registry.
CANDIDATES: dict[str, dict[str, Any]] = {
    "LogisticRegression": {
        "estimator": "LogisticRegression",
        "training_params": {"C": 1.0, "max_iter": 2000},
        "feature_transformer": "SklearnFeatureTransformer",
        "feature_transformer_config": {"steps": [{"transformer": "StandardScaler"}]},
    },
    "RandomForestClassifier": {
        "estimator": "RandomForestClassifier",
        "training_params": {"n_estimators": 100, "max_depth": 6, "random_state": 0},
    },
    "GradientBoostingClassifier": {
        "estimator": "GradientBoostingClassifier",
        "training_params": {"n_estimators": 60, "max_depth": 2, "random_state": 0},
    },
}
METRICS = ["accuracy", "f1", "rocauc"]


def split(frame: Any) -> dict[str, Any]:
    """The split dict the trainers take: a stratified held-out quarter is the test split."""
    from sklearn.model_selection import train_test_split

    X, y = frame.drop(columns=["target"]), frame["target"]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}


def train_models(tracker: Any, mv: Any, data: dict[str, Any]) -> tuple[Any, Any, str, dict[str, float]]:
    """Run every candidate as an experiment of ``mv`` and record the best (test accuracy) as the
    winner; returns ``(trainer, experiment, name, test metrics)`` of the winner."""
    from lolpop.components import SklearnModelTrainer

    results = []
    for name, config in CANDIDATES.items():
        trainer = SklearnModelTrainer(conf={**config, "metrics": METRICS}, metadata_tracker=tracker)
        # The experiment's metadata "metrics" are also its MLflow metrics (test_accuracy, ...), so
        # the UI's compare view charts the candidates side by side.
        trainer, experiment = trainer.build_model(data, mv)
        # Named after the estimator in the UI (build_model names it after the trainer class).
        tracker.update_resource(experiment, {"name": name})
        test = {k: round(float(v), 4) for k, v in tracker.get_metadata(experiment, "metrics")["test"].items()}
        results.append((trainer, experiment, name, test))
    best = max(results, key=lambda r: r[3]["accuracy"])  # the first wins a tie
    best[0].declare_winner(mv, best[1])
    return best


# ---------------------------------------------------------------------------------------------
# the workflow
# ---------------------------------------------------------------------------------------------
def _tracker(tracking_uri: str, experiment: str) -> Any:
    from lolpop.components import MLFlowMetadataTracker

    return MLFlowMetadataTracker(conf={"config": {"mlflow_tracking_uri": tracking_uri,
                                                  "mlflow_experiment_name": experiment}})


def _cycle(n: int, data: Any, workdir: Path, tracking_uri: str, experiment: str,
           step: Progress) -> tuple[CycleSummary, str]:
    train_rows, predict_rows = CYCLES[n - 1]
    frame = data.iloc[:train_rows]
    new_data = data.iloc[train_rows: train_rows + predict_rows].drop(columns=["target"])
    out = workdir / "outputs" / f"cycle{n}"

    with _tracker(tracking_uri, experiment) as tracker:
        # -- process ------------------------------------------------------------------------
        step(f"cycle {n}: process {train_rows} rows")
        from lolpop.components import GitResourceVersionControl

        vc = GitResourceVersionControl(conf={"vc_repo_path": str(workdir / "data_repo"), "init_repo": True},
                                       metadata_tracker=tracker)
        vc_info = commit_dataset(vc, frame, out, n)
        hexsha = vc_info["hexsha"]
        dv = tracker.create_resource(DATASET_ID, type="dataset_version")
        tracker.register_vc_resource(
            dv, vc_info,
            additional_metadata={"rows": len(frame), "columns": frame.shape[1] - 1, "cycle": n,
                                 "positive_rate": round(float(frame["target"].mean()), 4)},
        )
        profile, checks_path, checks = write_reports(frame, out, n)
        tracker.log_data_profile(dv, str(profile))
        tracker.log_checks(dv, str(checks_path), type="data")
        tracker.log_metadata(dv, "checks_passed", checks["passed"])
        prev_dv = tracker.get_prev_resource_version(dv)
        if prev_dv is not None:
            prev_rows = tracker.get_metadata(prev_dv, "rows")
            comparison = out / "comparison.json"
            comparison.write_text(json.dumps({
                "previous_run_id": prev_dv.run.info.run_id,
                "previous_hexsha": tracker.get_vc_info(prev_dv)["hexsha"],
                "rows": {"previous": prev_rows, "current": len(frame)},
            }, indent=2), encoding="utf-8")
            tracker.log_data_comparison(dv, str(comparison))
            tracker.log_metadata(dv, "previous_run_id", prev_dv.run.info.run_id)

        # -- train --------------------------------------------------------------------------
        step(f"cycle {n}: train 3 experiments")
        mv = tracker.create_resource(MODEL_ID, type="model_version")
        _, exp, best_name, best_metrics = train_models(tracker, mv, split(frame))
        tracker.log_metadata(mv, "model_trainer", best_name)
        tracker.log_metadata(mv, "metrics", best_metrics)
        tracker.register_vc_resource(mv, {"hexsha": hexsha, "uri": DATA_FILE}, key="train")
        tracker.build_model_lineage(mv, [dv])  # also logs <mv>/lineage/lineage.html

        # -- promote and deploy -------------------------------------------------------------
        step(f"cycle {n}: promote and deploy")
        previous = tracker.get_currently_deployed_model_version(mv)
        previous_run = previous.run.info.run_id if previous is not None else None
        if previous is not None:
            tracker.log_metadata(mv, "previous_deployed_run_id", previous_run)
        status = "NOT_PROMOTED"
        if best_metrics["accuracy"] >= QUALITY_GATE:
            tracker.log_tag(mv, "status", "PROMOTED")
            tracker.log_tag(mv, "status", "DEPLOYED")
            status = "DEPLOYED"
        else:
            tracker.log_tag(mv, "status", status)
        dataset_run, mv_run = dv.run.info.run_id, mv.run.info.run_id
        mlflow_experiment_id = str(tracker.experiment_id)

    # -- predict (its own workflow run, like a separate lolpop pipeline) ----------------------
    step(f"cycle {n}: predict {predict_rows} rows")
    with _tracker(tracking_uri, experiment) as tracker:
        deployed = tracker.get_resource(MODEL_ID, type="model_version")
        model = tracker.load_model(None, deployed, None)  # trainer + transformer, from the store
        predictions = new_data.assign(prediction=model.predict(new_data))
        pred_path = out / "predictions.csv"
        predictions[["prediction"]].to_csv(pred_path, index_label="row")
        pj = tracker.create_resource(PREDICTION_JOB_ID, type="prediction_job", parent=deployed,
                                     prediction_count=len(predictions))
        tracker.log_metadata(pj, "positive_rate", round(float(predictions["prediction"].mean()), 4))
        tracker.log_artifact(pj, "predictions", str(pred_path))
        prediction_run = pj.run.info.run_id

    summary = CycleSummary(
        cycle=n, dataset_run_id=dataset_run, hexsha=hexsha, rows=len(frame), winner=best_name,
        accuracy=best_metrics["accuracy"], experiment_id=exp.id, model_version_run_id=mv_run,
        status=status, previous_deployed_run_id=previous_run, prediction_run_id=prediction_run,
        predictions=len(predictions), mlflow_experiment_id=mlflow_experiment_id,
    )
    return summary, f"{MODEL_ID}/lineage/lineage.html"


def run_quickstart(workdir: str | os.PathLike[str] = ".", tracking_uri: str | None = None,
                   experiment: str = DEFAULT_EXPERIMENT, progress: Progress | None = None) -> QuickstartSummary:
    """Run the quickstart workflow in ``workdir`` and return what it recorded.

    Args:
        workdir: folder for the data git repo, reports and saved models.
        tracking_uri: MLflow tracking URI; default ``$MLFLOW_TRACKING_URI``, else the embedded
            default ``sqlite:///mlflow.db`` (artifacts in ``mlartifacts/`` beside it).
        experiment: the MLflow experiment name.
        progress: called with a description as each of the :data:`TOTAL_STEPS` steps starts.

    Returns:
        :class:`QuickstartSummary` (tracking URI, run ids per cycle, the ``mlflow ui`` command).

    Raises:
        lolpop.exceptions.LolpopError: the store refused something.
    """
    work = Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri or default_tracking_uri()
    step = progress or (lambda _description: None)
    summary = QuickstartSummary(workdir=str(work), tracking_uri=uri, experiment=experiment)
    data = load_data()
    for n in range(1, len(CYCLES) + 1):
        cycle, artifact = _cycle(n, data, work, uri, experiment, step)
        summary.cycles.append(cycle)
        summary.lineage_artifact = artifact
    return summary
