"""Generate N finished training cycles of history directly in an MLflow SQLite store, fast.

Each history cycle is one FINISHED workflow run (tag ``parent_run = True``) carrying the
workflow-run tags a cycle of this lolpop version records: the dataset version (``<dv>.exists``,
``<dv>.hexsha``, ...), the model version (``<mv>.exists``, ``<mv>.status``, the winner record,
lineage with its used-by tag, value types in ``_lolpop.types`` as
:mod:`lolpop.layout.values` writes them) and a prediction job of it (``<mv>_predictions.exists``,
``.type = prediction_job``, ``.parent_id = <mv>``, ``.parent_run_id = <the run>``, and the
made-from index's ``_lolpop.child_of.<the run>.<mv>``, which every writer of an experiment
lolpop created writes: its experiment tag ``lolpop.made_from_index`` says so). Start times
increase one second apart and end well before "now". Every 10th cycle's model version is
``DEPLOYED``, the others ``PROMOTED``.

The store also holds the *version index* (:mod:`lolpop.layout.index`) as this version's
``stop()`` and ``DEPLOYED`` status writes leave it in an experiment lolpop created: one FINISHED
index run (``lolpop-index``, tags ``lolpop.index = True``, ``lolpop.index.complete = True`` and
``lolpop.index.since`` = a time before the first history cycle) named by the experiment tag
``lolpop.index_run_id``, started just after the experiment's creation time — so
:func:`lolpop.layout.index.complete` judges it the complete index built with its experiment, and
"none" look-ups answer from it as they do in a store lolpop wrote from the start; per cycle the ``newest`` metric entries of
every id the run is a version of (:func:`lolpop.layout.index.indexed_resource_ids`: the dataset
version, the model version, ``<mv>.dataset_versions`` and ``<mv>_predictions``) and, for the
DEPLOYED cycles, the ``deployed`` entries of the model version — rows of MLflow's ``metrics``
table, with ``latest_metrics`` holding the greatest ``(step, timestamp, value)`` per key, as
MLflow's ``log_batch`` keeps it.

Rows are bulk-inserted with SQLAlchemy Core into MLflow's own ORM tables (``SqlRun``,
``SqlTag``, ``SqlMetric``, ``SqlLatestMetric``, ``SqlExperimentTag``), after MLflow itself
created the schema and the experiment — one transaction per call, in chunks of
:data:`CHUNK_CYCLES` cycles, so 100 000 cycles take a minute or so instead of millions of round
trips. The generation is cumulative (``generate(db, exp, 0, 100)`` then ``generate(db, exp,
100, 1000)``, ...): later calls add metric rows to the same index run and move its latest
metrics forward. Not generated: the nested experiment runs of past cycles (the look-ups filter
on ``parent_run = True``, so they only add rows the ``tags`` index skips), the runs'
description (``mlflow.note.content``), status-event tags and MLflow dataset inputs (no look-up
reads them).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

from mlflow.store.tracking.dbmodels.models import (SqlExperiment, SqlExperimentTag, SqlLatestMetric, SqlMetric,
                                                   SqlRun, SqlTag)
from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore
from sqlalchemy import and_, delete, func, insert, select, update

from lolpop.layout import index, keys, values

import workload as W

#: Longest history this module generates (start times one second apart must end before now).
MAX_CYCLES = 200_000
# History starts MAX_CYCLES seconds + 6 h before now; cycle i starts at T0 + i seconds.
T0 = int(time.time() * 1000) - (MAX_CYCLES + 6 * 3600) * 1000
#: The index run's ``since``: before the first history cycle, so every cycle may be answered
#: from the index (a store whose index was created by the first ``stop()`` trusts all but the
#: versions that started before it).
INDEX_SINCE = T0 - 1000
#: The index run's start time, and the experiment's creation time: a tracker that creates an
#: experiment builds its index at once (``VersionIndex.create_first``), so the index starts within
#: :data:`lolpop.layout.index.COMPLETE_WINDOW_MS` of the experiment's creation and is complete.
#: The history lies in the past, so the experiment's creation time (MLflow sets it to "now") is
#: moved back to just before the index, as if lolpop had created it then.
INDEX_START = INDEX_SINCE - 1000
EXPERIMENT_CREATED = INDEX_START - 5
CHUNK_CYCLES = 5000
PREDICTIONS = f"{W.MODEL_VERSION}_predictions"


def deployed(i: int) -> bool:
    return i % 10 == 0


def _tags(i: int, run_id: str) -> dict[str, str]:
    dv, mv, pj = W.DATASET_VERSION, W.MODEL_VERSION, PREDICTIONS
    tags = {
        "parent_run": "True", "mlflow.user": "bench", "mlflow.source.name": "history.py",
        "mlflow.source.type": "LOCAL", "mlflow.runName": f"history-{i}",
        f"{dv}.exists": "True", f"{dv}.type": "dataset_version",
        f"{mv}.exists": "True", f"{mv}.type": "model_version",
        f"{pj}.exists": "True", f"{pj}.type": "prediction_job", f"{pj}.parent_id": mv,
        f"{pj}.parent_run_id": run_id, keys.child_of_key(run_id, mv): json.dumps([pj]),
        keys.used_by_key(run_id, dv): json.dumps([mv]),
    }
    # Metadata values as the tracker encodes them (types in the _lolpop.types bookkeeping tag).
    tags.update(values.encode_items({}, {
        f"{dv}.uri": "data/train.csv", f"{dv}.hexsha": W.hexsha("data", "h", i),
        f"{dv}.num_rows": "1000", f"{dv}.num_columns": "12", f"{dv}.source": "warehouse.churn",
        f"{mv}.winning_experiment_id": f"{uuid.uuid4().hex}.{mv}",
        f"{mv}.winning_experiment_model_trainer": W.TRAINER,
        f"{mv}.train_uri": "models/model.pkl", f"{mv}.train_hexsha": W.hexsha("model", "h", i),
        f"{mv}.dataset_versions": [{"id": dv, "run_id": run_id}], f"{mv}.dataset_versions.exists": "True",
        f"{mv}.status": "DEPLOYED" if deployed(i) else "PROMOTED",
    }).tags)
    return tags


def open_store(db: Path, experiment: str) -> tuple[SqlAlchemyStore, str]:
    db.parent.mkdir(parents=True, exist_ok=True)
    store = SqlAlchemyStore(f"sqlite:///{db}", (db.parent / "mlartifacts").as_uri())
    exp = store.get_experiment_by_name(experiment)
    exp_id = exp.experiment_id if exp else store.create_experiment(
        experiment, artifact_location=(db.parent / "mlartifacts" / experiment).as_uri())
    return store, exp_id


def count_cycles(db: Path, experiment: str) -> int:
    """History cycles (workflow runs) in ``experiment``; the index run is not one."""
    store, exp_id = open_store(db, experiment)
    runs, tags = SqlRun.__table__, SqlTag.__table__
    with store.engine.connect() as conn:
        n = conn.execute(
            select(func.count()).select_from(runs.join(tags, tags.c.run_uuid == runs.c.run_uuid))
            .where(runs.c.experiment_id == int(exp_id), tags.c.key == "parent_run", tags.c.value == "True")
        ).scalar_one()
    store.engine.dispose()
    return n


def _run_row(db: Path, exp_id: str, run_id: str, name: str, start: int, end: int) -> dict[str, Any]:
    return {"run_uuid": run_id, "name": name, "source_type": "LOCAL", "source_name": "history.py",
            "entry_point_name": "", "user_id": "bench", "status": "FINISHED", "start_time": start,
            "end_time": end, "source_version": "", "lifecycle_stage": "active",
            "artifact_uri": f"{Path(db).parent.as_uri()}/mlartifacts/{run_id}/artifacts",
            "experiment_id": int(exp_id)}


def _index_run(conn: Any, db: Path, exp_id: str) -> str:
    """The experiment's index run, created (run, tags, experiment tag) when it has none, as the
    complete index of an experiment created just before it (its creation time is set back)."""
    et = SqlExperimentTag.__table__
    found = conn.execute(select(et.c.value).where(et.c.experiment_id == int(exp_id),
                                                  et.c.key == index.EXPERIMENT_TAG)).scalar_one_or_none()
    if found:
        return found
    run_id = uuid.uuid4().hex
    ex = SqlExperiment.__table__
    conn.execute(update(ex).where(ex.c.experiment_id == int(exp_id))
                 .values(creation_time=EXPERIMENT_CREATED, last_update_time=EXPERIMENT_CREATED))
    conn.execute(insert(SqlRun.__table__), [_run_row(db, exp_id, run_id, index.INDEX_RUN_NAME,
                                                     INDEX_START, INDEX_START + 5)])
    conn.execute(insert(SqlTag.__table__), [
        {"key": k, "value": v, "run_uuid": run_id} for k, v in {
            index.INDEX_RUN_TAG: "True", index.COMPLETE_TAG: "True", "mlflow.runName": index.INDEX_RUN_NAME,
            "mlflow.user": "bench", "mlflow.note.content": index.INDEX_RUN_NOTE,
            index.SINCE_TAG: str(INDEX_SINCE)}.items()])
    conn.execute(insert(et), [{"key": k, "value": v, "experiment_id": int(exp_id)} for k, v in {
        index.EXPERIMENT_TAG: run_id, keys.MADE_FROM_EXPERIMENT_TAG: keys.MADE_FROM_INDEXED}.items()])
    return run_id


def _move_latest(conn: Any, index_id: str, latest: dict[str, tuple[int, int, float]]) -> None:
    """Keep ``latest_metrics`` of the index run = max (step, timestamp, value) per key."""
    lm = SqlLatestMetric.__table__
    old = {row.key: (row.step, row.timestamp, row.value) for row in conn.execute(
        select(lm.c.key, lm.c.step, lm.c.timestamp, lm.c.value).where(lm.c.run_uuid == index_id))}
    moved = {k: v for k, v in latest.items() if k not in old or v > old[k]}
    if not moved:
        return
    conn.execute(delete(lm).where(and_(lm.c.run_uuid == index_id, lm.c.key.in_(list(moved)))))
    conn.execute(insert(lm), [{"key": k, "step": s, "timestamp": t, "value": v, "is_nan": False,
                               "run_uuid": index_id} for k, (s, t, v) in moved.items()])


def generate(db: Path, experiment: str, start: int, stop: int) -> float:
    """Add history cycles ``start .. stop-1`` (and their index entries) to ``db``; returns the
    seconds it took."""
    if stop > MAX_CYCLES:
        raise ValueError(f"at most {MAX_CYCLES} history cycles (start times must stay in the past)")
    t = time.perf_counter()
    store, exp_id = open_store(db, experiment)
    latest: dict[str, tuple[int, int, float]] = {}
    with store.engine.begin() as conn:
        index_id = _index_run(conn, db, exp_id)
        for lo in range(start, stop, CHUNK_CYCLES):
            runs, tags, metrics = [], [], []
            for i in range(lo, min(lo + CHUNK_CYCLES, stop)):
                run_id = uuid.uuid4().hex
                st = T0 + i * 1000
                runs.append(_run_row(db, exp_id, run_id, f"history-{i}", st, st + 500))
                run_tags = _tags(i, run_id)
                tags.extend({"key": k, "value": v, "run_uuid": run_id} for k, v in run_tags.items())
                entries = [e for rid in index.indexed_resource_ids(run_tags)
                           for e in index.entries(index.NEWEST, rid, run_id, st)]
                if deployed(i):
                    entries += index.entries(index.DEPLOYED, W.MODEL_VERSION, run_id, st)
                for key, value, step in entries:
                    metrics.append({"key": key, "value": value, "timestamp": step, "step": step,
                                    "is_nan": False, "run_uuid": index_id})
                    if key not in latest or (step, step, value) > latest[key]:
                        latest[key] = (step, step, value)
            conn.execute(insert(SqlRun.__table__), runs)
            conn.execute(insert(SqlTag.__table__), tags)
            conn.execute(insert(SqlMetric.__table__), metrics)
        _move_latest(conn, index_id, latest)
    store.engine.dispose()
    return time.perf_counter() - t
