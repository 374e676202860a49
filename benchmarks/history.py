"""Generate N finished training cycles of history directly in an MLflow SQLite store, fast.

Each history cycle is one FINISHED workflow run (tag ``parent_run = True``) carrying the same
workflow-run tags a real cycle records (``<dv>.exists``, ``<dv>.hexsha``, ``<mv>.exists``,
``<mv>.status``, lineage, ...), with increasing start times (one second apart, ending well
before "now"). Every 10th cycle's model version is ``DEPLOYED``, the others ``PROMOTED``.

Rows are bulk-inserted with SQLAlchemy Core into MLflow's own ORM tables (``SqlRun`` /
``SqlTag``), after MLflow itself created the schema and the experiment — one transaction per
call, so 10 000 cycles take seconds instead of the ~30 000 round trips of create/log/terminate.
The nested experiment runs of past cycles are not generated: the look-ups filter on
``parent_run = True``, so they only add rows the ``tags`` index skips.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from mlflow.store.tracking.dbmodels.models import SqlRun, SqlTag
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from sqlalchemy import func, insert, select

import workload as W

# History starts ~6 h before now; cycle i starts at T0 + i seconds.
T0 = int(time.time() * 1000) - 6 * 3600 * 1000


def _tags(i: int, run_id: str) -> dict[str, str]:
    dv, mv = W.DATASET_VERSION, W.MODEL_VERSION
    return {
        "parent_run": "True", "mlflow.user": "bench", "mlflow.source.name": "history.py",
        "mlflow.source.type": "LOCAL", "mlflow.runName": f"history-{i}",
        f"{dv}.exists": "True", f"{dv}.type": "dataset_version", f"{dv}.uri": "data/train.csv",
        f"{dv}.hexsha": W.hexsha("data", "h", i), f"{dv}.num_rows": "1000", f"{dv}.num_columns": "12",
        f"{dv}.source": "warehouse.churn",
        f"{mv}.exists": "True", f"{mv}.type": "model_version",
        f"{mv}.winning_experiment_id": f"{uuid.uuid4().hex}.{mv}",
        f"{mv}.winning_experiment_model_trainer": W.TRAINER, f"_lolpop.enc.{mv}.winning_experiment_model_trainer": "str",
        f"{mv}.train_uri": "models/model.pkl", f"{mv}.train_hexsha": W.hexsha("model", "h", i),
        f"{mv}.dataset_versions": json.dumps([{"id": dv, "run_id": run_id}]),
        f"_lolpop.enc.{mv}.dataset_versions": "json", f"{mv}.dataset_versions.exists": "True",
        f"{mv}.status": "DEPLOYED" if i % 10 == 0 else "PROMOTED",
    }


def open_store(db: Path, experiment: str) -> tuple[SqlAlchemyStore, str]:
    db.parent.mkdir(parents=True, exist_ok=True)
    store = SqlAlchemyStore(f"sqlite:///{db}", (db.parent / "mlartifacts").as_uri())
    exp = store.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else store.create_experiment(
        experiment, artifact_location=(db.parent / "mlartifacts" / experiment).as_uri())
    return store, exp_id


def count_cycles(db: Path, experiment: str) -> int:
    store, exp_id = open_store(db, experiment)
    with store.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(SqlRun.__table__)
                            .where(SqlRun.__table__.c.experiment_id == int(exp_id))).scalar_one()


def generate(db: Path, experiment: str, start: int, stop: int) -> float:
    """Add history cycles ``start .. stop-1`` to ``db``; returns the seconds it took."""
    t = time.perf_counter()
    store, exp_id = open_store(db, experiment)
    runs, tags = [], []
    for i in range(start, stop):
        run_id = uuid.uuid4().hex
        st = T0 + i * 1000
        runs.append({"run_uuid": run_id, "name": f"history-{i}", "source_type": "LOCAL",
                     "source_name": "history.py", "entry_point_name": "", "user_id": "bench",
                     "status": "FINISHED", "start_time": st, "end_time": st + 500, "source_version": "",
                     "lifecycle_stage": "active", "artifact_uri": f"{Path(db).parent.as_uri()}/mlartifacts/{run_id}",
                     "experiment_id": int(exp_id)})
        tags.extend({"key": k, "value": v, "run_uuid": run_id} for k, v in _tags(i, run_id).items())
    with store.engine.begin() as conn:
        conn.execute(insert(SqlRun.__table__), runs)
        conn.execute(insert(SqlTag.__table__), tags)
    store.engine.dispose()
    return time.perf_counter() - t
