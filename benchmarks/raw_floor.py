"""The floor: a hand-written ``MlflowClient`` script writing the same records as one training
cycle of lolpop's tracker, with the fewest requests found.

What makes it the floor:

* the workflow run's tags (dataset version, model version, lineage, status) are known locally and
  sent in ONE ``log_batch`` right before the run is terminated;
* each experiment run costs exactly four requests: ``runs/create`` (with its static tags),
  one ``log_batch`` (20 params + all its tags), one artifact upload, ``runs/update`` (FINISHED);
* artifact uploads go straight to an artifact repository built from ``run.info.artifact_uri``
  (known from ``runs/create``), so no ``runs/get`` is spent resolving where artifacts live;
* runs are ended with the store's ``update_run_info`` (one ``runs/update``): MLflow 3.x's
  ``MlflowClient.set_terminated`` first spends a ``runs/get`` on the run;
* the lineage records lolpop writes in ``build_model_lineage`` (the used-by index tag and the
  ``<mv>/lineage/lineage.html`` page) are built from what the script knows and cost one upload;
* every read of a value this script wrote is served locally; only the two look-ups into earlier
  workflow runs (``get_prev_resource_version`` / ``get_currently_deployed_model_version``) ask the
  store, each with one ``runs/search``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Param, RunStatus, RunTag
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

import workload as W

PARENT_RUN_TAG = "parent_run"
USED_BY_PREFIX = "_lolpop.used_by."  # lolpop.store.reader.used_by_key


def _search(client: MlflowClient, experiment_id: str, start_time: int, clauses: list[str]) -> Any:
    base = [f"tags.`{PARENT_RUN_TAG}` = 'True'", "attributes.status = 'FINISHED'",
            f"attributes.start_time <= {start_time}"] + clauses
    runs = client.search_runs([experiment_id], " and ".join(base),
                              order_by=["attributes.start_time DESC"], max_results=1)
    return runs[0] if runs else None


class RawFloor:
    """Construct / run_cycle / stop with the same shape as a tracker, for the benchmark driver."""

    def __init__(self, uri: str, experiment_name: str, artifact_location: str | None = None) -> None:
        self.client = MlflowClient(tracking_uri=uri)
        self.uri = uri
        exp = self.client.get_experiment_by_name(experiment_name)
        self.experiment_id = (exp.experiment_id if exp is not None else
                              self.client.create_experiment(experiment_name, artifact_location=artifact_location))
        self.run = self.client.create_run(self.experiment_id, tags={PARENT_RUN_TAG: "True"})
        self.run_id = self.run.info.run_id
        self.wf_tags: dict[str, str] = {}

    def _terminate(self, run_id: str) -> None:
        """End a run with exactly one ``runs/update`` (no ``runs/get`` as in ``set_terminated``)."""
        self.client._tracking_client.store.update_run_info(
            run_id, RunStatus.from_string("FINISHED"), int(time.time() * 1000), None)

    def _repo(self, run: Any) -> Any:
        return get_artifact_repository(run.info.artifact_uri, tracking_uri=self.uri)

    def lookups(self, dv_id: str, mv_id: str) -> tuple[Any, Any]:
        st = self.run.info.start_time
        deployed = _search(self.client, self.experiment_id, st,
                           [f"tags.`{mv_id}.exists` = 'True'", f"tags.`{mv_id}.status` = 'DEPLOYED'"])
        prev = _search(self.client, self.experiment_id, st, [f"tags.`{dv_id}.exists` = 'True'"])
        return (mv_id, deployed) if deployed else None, (dv_id, prev) if prev else None

    def run_cycle(self, files: dict[str, str], step: W.Step = W.plain_step, cycle: int = 0) -> dict[str, Any]:
        s = step
        dv, mv, wf = W.DATASET_VERSION, W.MODEL_VERSION, self.wf_tags
        wf.update({f"{dv}.exists": "True", f"{dv}.type": "dataset_version", f"{dv}.uri": "data/train.csv",
                   f"{dv}.hexsha": W.hexsha("data", cycle), f"{dv}.num_rows": "1000", f"{dv}.num_columns": "12",
                   f"{dv}.source": "warehouse.churn"})
        repo = self._repo(self.run)
        s("log_data_profile", repo.log_artifact, files["profile"], f"{dv}/{dv}_data_profile")
        s("log_checks", repo.log_artifact, files["checks"], f"{dv}/{dv}_data_checks_report")
        s("log_data_comparison", repo.log_artifact, files["comparison"], f"{dv}/{dv}_data_comparison")
        wf.update({f"{mv}.exists": "True", f"{mv}.type": "model_version"})
        experiments = []
        for i in range(W.N_EXPERIMENTS):
            run = s("create_resource(experiment)", self.client.create_run, self.experiment_id,
                    tags={"mlflow.parentRunId": self.run_id, "lolpop.resource_type": "experiment"})
            rid = f"{run.info.run_id}.{mv}"
            p = W.params(i)
            tags = {f"{rid}.exists": "True", f"{rid}.type": "experiment", f"{rid}.parent_id": mv,
                    f"{rid}.parent_run_id": self.run_id, f"{rid}.params": json.dumps(p),
                    f"_lolpop.enc.{rid}.params": "json", f"{rid}.model_trainer": W.TRAINER,
                    f"{rid}.training_time": "12.5", f"{rid}.score": str(0.8 + i / 100),
                    f"{rid}.uri": "models/model.pkl", f"{rid}.hexsha": W.hexsha("model", cycle, i)}
            s("log_metadata(experiment, params)", self.client.log_batch, run.info.run_id,
              params=[Param(k, str(v)) for k, v in p.items()],
              tags=[RunTag(k, v) for k, v in tags.items()], synchronous=True)
            s("log_artifact(experiment)", self._repo(run).log_artifact, files["model"], f"{rid}/model_summary")
            s("clean_resource(experiment)", self._terminate, run.info.run_id)
            experiments.append((rid, run, tags))
        winner = experiments[-1]
        lineage = json.dumps([{"id": dv, "run_id": self.run_id}])
        wf.update({f"{mv}.winning_experiment_id": winner[0], f"{mv}.winning_experiment_model_trainer": W.TRAINER,
                   f"{mv}.train_uri": "models/model.pkl", f"{mv}.train_hexsha": W.hexsha("model", cycle, "winner"),
                   f"{mv}.dataset_versions": lineage, f"_lolpop.enc.{mv}.dataset_versions": "json",
                   f"{mv}.dataset_versions.exists": "True", f"{mv}.status": "PROMOTED"})
        wf[f"{USED_BY_PREFIX}{self.run_id}.{dv}"] = json.dumps([mv])
        s("build_model_lineage", self._log_lineage_page, files, mv, dv, experiments, winner[0])
        deployed, prev = s("lookups (2 searches)", self.lookups, dv, mv)
        # Every other read is of something this script wrote: served locally.
        out = {"deployed": deployed, "prev_dv": prev, "winner": (winner[0], winner[1]),
               "vc": {"hexsha": wf[f"{mv}.train_hexsha"], "uri": wf[f"{mv}.train_uri"]}}
        out["metadata"] = [experiments[i % W.N_EXPERIMENTS][2][
            f"{experiments[i % W.N_EXPERIMENTS][0]}.{'params' if i % 2 == 0 else 'score'}"] for i in range(W.N_READS)]
        keys = [(mv, "status"), (mv, "winning_experiment_id"), (mv, "train_hexsha"), (dv, "hexsha"), (dv, "num_rows")]
        out["tags"] = [wf[f"{r}.{k}"] for r, k in (keys[i % len(keys)] for i in range(W.N_READS))]
        out["experiments"] = [e[0] for e in experiments]
        return out

    def _log_lineage_page(self, files: dict[str, str], mv: str, dv: str, experiments: list[Any],
                          winner: str) -> None:
        """The lineage picture of the model version, from local knowledge: one upload, no reads."""
        rows = [f"<li>{dv} (run {self.run_id}) &rarr; {mv}</li>"]
        rows += [f"<li>{rid} ({'winner' if rid == winner else 'candidate'}) &rarr; {mv}</li>"
                 for rid, _, _ in experiments]
        page = Path(files["model"]).parent / "lineage" / "lineage.html"
        page.parent.mkdir(exist_ok=True)
        page.write_text(f"<html><body><h1>{mv}</h1><ul>{''.join(rows)}</ul></body></html>\n")
        self._repo(self.run).log_artifact(str(page), f"{mv}/lineage")

    def stop(self) -> None:
        if self.wf_tags:
            tags = [RunTag(k, v) for k, v in self.wf_tags.items()]
            for start in range(0, len(tags), 1000):
                self.client.log_batch(self.run_id, tags=tags[start:start + 1000], synchronous=True)
        self._terminate(self.run_id)
