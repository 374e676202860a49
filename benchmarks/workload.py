"""The benchmark workload: one training cycle, using only seed methods of the tracker API.

Stdlib only: this module is imported both by lolpop's own venv and by the throwaway venv that
holds lolpop 0.2.0, so it must not import lolpop or anything version-specific.

``run_cycle(tracker, files, step)`` drives any object with the seed ``MLFlowMetadataTracker``
methods. ``step(label, fn, *args, **kwargs)`` wraps every call; the default just calls ``fn``,
the timed cycles add its time to the label's phase (:data:`PHASES`, :func:`phase_of`;
``driver.PhaseTimer``), the request-count breakdown wraps it with before/after counter snapshots.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

N_EXPERIMENTS = 10
N_PARAMS = 20
N_READS = 20
DATASET_VERSION = "train_data"
MODEL_VERSION = "churn_model"
TRAINER = "XGBoostModelTrainer"

Step = Callable[..., Any]


def plain_step(label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


#: The phases of a cycle (issue 21, item 4), in cycle order; :func:`phase_of` maps the ``step``
#: labels of :func:`run_cycle`, the raw floors' ``run_cycle`` and ``driver.one_cycle`` onto them.
PHASES = ("construction", "data version", "experiments", "lineage", "status", "reads", "stop")
#: The rest of a timed cycle: wall time − the phases (the workload's own code between the calls, the
#: floors' local bookkeeping and locally served reads).
BETWEEN = "between calls"
PHASE_OF = {
    "construct": "construction",
    "create_resource(dataset_version)": "data version",
    "register_vc_resource(dataset_version)": "data version",
    "log_data_profile": "data version",
    "log_checks": "data version",
    "log_data_comparison": "data version",
    "create_resource(model_version)": "experiments",
    "create_resource(experiment)": "experiments",
    "log_metadata(experiment, params)": "experiments",
    "log_metadata(experiment, scalar)": "experiments",
    "register_vc_resource(experiment)": "experiments",
    "log_artifact(experiment)": "experiments",
    "clean_resource(experiment)": "experiments",
    "log_metadata(model_version, winning_experiment_id)": "lineage",
    "log_metadata(model_version, winning_experiment_model_trainer)": "lineage",
    "register_vc_resource(model_version, key=train)": "lineage",
    "build_model_lineage": "lineage",
    "log_tag(model_version, status)": "status",
    "lookups (2 searches)": "reads",  # the raw floors: their only reads that ask the store
    "stop": "stop",
}


def phase_of(label: str) -> str:
    """The phase of a ``step`` label: every ``get_*`` call is a read; an unknown label raises, so a
    new call in the workload cannot go unaccounted."""
    if label.startswith("get_"):
        return "reads"
    try:
        return PHASE_OF[label]
    except KeyError:
        raise KeyError(f"step label {label!r} has no phase: add it to workload.PHASE_OF") from None


def hexsha(*parts: object) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


def make_files(folder: str | os.PathLike[str]) -> dict[str, str]:
    """Small artifact files the cycle logs (a profile, a check report, a comparison, a model)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "profile": ("profile.html", "<html><body>rows: 1000, columns: 12</body></html>\n"),
        "checks": ("checks.json", '{"passed": 12, "failed": 0}\n'),
        "comparison": ("comparison.json", '{"drift": false, "psi": 0.02}\n'),
        "model": ("model.txt", "tree[0]: f3 < 0.5 ? 0.1 : -0.2\n" * 20),
    }
    out = {}
    for key, (name, text) in files.items():
        path = folder / name
        path.write_text(text)
        out[key] = str(path)
    return out


def params(i: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for j in range(N_PARAMS):
        out[f"p{j:02d}"] = (i + 1) * 0.01 * (j + 1) if j % 2 else f"value_{i}_{j}"
    return out


def run_cycle(tracker: Any, files: dict[str, str], step: Step = plain_step, cycle: int = 0) -> dict[str, Any]:
    """One training cycle on an already constructed ``tracker``; returns what the reads gave.

    Construction and ``stop()`` are done by the caller (they are part of the timed cycle).
    """
    s = step
    # --- data: a dataset version with vc info, a profile, a check report and a comparison
    dv = s("create_resource(dataset_version)", tracker.create_resource, DATASET_VERSION, type="dataset_version")
    s("register_vc_resource(dataset_version)", tracker.register_vc_resource, dv,
      {"uri": "data/train.csv", "hexsha": hexsha("data", cycle)},
      additional_metadata={"num_rows": "1000", "num_columns": "12", "source": "warehouse.churn"})
    s("log_data_profile", tracker.log_data_profile, dv, files["profile"])
    s("log_checks", tracker.log_checks, dv, files["checks"], type="data")
    s("log_data_comparison", tracker.log_data_comparison, dv, files["comparison"])

    # --- training: a model version and 10 experiments under it
    mv = s("create_resource(model_version)", tracker.create_resource, MODEL_VERSION, type="model_version")
    experiments = []
    for i in range(N_EXPERIMENTS):
        exp = s("create_resource(experiment)", tracker.create_resource, f"xgb_{i}", type="experiment", parent=mv)
        s("log_metadata(experiment, params)", tracker.log_metadata, exp, "params", params(i))
        s("log_metadata(experiment, scalar)", tracker.log_metadata, exp, "model_trainer", TRAINER)
        s("log_metadata(experiment, scalar)", tracker.log_metadata, exp, "training_time", "12.5")
        s("log_metadata(experiment, scalar)", tracker.log_metadata, exp, "score", str(0.8 + i / 100))
        s("register_vc_resource(experiment)", tracker.register_vc_resource, exp,
          {"uri": "models/model.pkl", "hexsha": hexsha("model", cycle, i)})
        s("log_artifact(experiment)", tracker.log_artifact, exp, "model_summary", files["model"])
        s("clean_resource(experiment)", tracker.clean_resource, exp, "experiment")
        experiments.append(exp)

    # --- promotion: winner, lineage, status
    winner = experiments[-1]
    s("log_metadata(model_version, winning_experiment_id)", tracker.log_metadata, mv,
      "winning_experiment_id", winner[0])
    s("log_metadata(model_version, winning_experiment_model_trainer)", tracker.log_metadata, mv,
      "winning_experiment_model_trainer", TRAINER)
    s("register_vc_resource(model_version, key=train)", tracker.register_vc_resource, mv,
      {"uri": "models/model.pkl", "hexsha": hexsha("model", cycle, "winner")}, key="train")
    s("build_model_lineage", tracker.build_model_lineage, mv, [dv])
    s("log_tag(model_version, status)", tracker.log_tag, mv, "status", "PROMOTED")

    # --- reads
    out: dict[str, Any] = {}
    out["deployed"] = s("get_currently_deployed_model_version", tracker.get_currently_deployed_model_version, mv)
    out["prev_dv"] = s("get_prev_resource_version", tracker.get_prev_resource_version, dv)
    out["winner"] = s("get_winning_experiment", tracker.get_winning_experiment, mv)
    out["vc"] = s("get_vc_info", tracker.get_vc_info, mv, key="train_hexsha")
    meta = []
    for i in range(N_READS):
        exp = experiments[i % N_EXPERIMENTS]
        key = "params" if i % 2 == 0 else "score"
        meta.append(s("get_metadata", tracker.get_metadata, exp, key))
    out["metadata"] = meta
    tag_reads = [(mv, "status"), (mv, "winning_experiment_id"), (mv, "train_hexsha"), (dv, "hexsha"),
                 (dv, "num_rows")]
    tags = []
    for i in range(N_READS):
        res, key = tag_reads[i % len(tag_reads)]
        tags.append(s("get_tag", tracker.get_tag, res, key))
    out["tags"] = tags
    out["experiments"] = [e[0] for e in experiments]
    return out
