"""The floor: a hand-written ``MlflowClient`` script writing the same records as one training
cycle of lolpop's tracker, with the fewest requests found. Two of them:

* :class:`RawNativeFloor` (``raw_native``, *the* floor "batched vs floor" compares with, issue 21):
  the seed records of :class:`RawFloor` plus the MLflow-native records lolpop writes (see its
  docstring);
* :class:`RawFloor` (``raw``, kept for history): the seed records only (tags, params, artifacts and
  the lineage records of ``build_model_lineage``).

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

Like ``workload.py`` this imports no lolpop: lolpop's names and formats it writes are spelled here
(each says where lolpop keeps it; ``tests/benchmarks/test_bench_smoke.py`` checks they still agree).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunStatus, RunTag
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

import workload as W

PARENT_RUN_TAG = "parent_run"
USED_BY_PREFIX = "_lolpop.used_by."  # lolpop.layout.keys.used_by_key
# lolpop.layout.keys
MLFLOW_PARENT = "mlflow.parentRunId"
MLFLOW_NOTE = "mlflow.note.content"
MLFLOW_DATASET_CONTEXT = "mlflow.data.context"
TRAINING_CONTEXT = "training"
MAX_DATASET_DIGEST_LENGTH = 36
REGISTRY_WORKFLOW_RUN_TAG = "lolpop.workflow_run_id"
REGISTRY_EXPERIMENT_TAG = "lolpop.experiment_id"
REGISTRY_MODEL_VERSION_TAG = "lolpop.model_version_id"
# lolpop.layout.index
INDEX_EXPERIMENT_TAG = "lolpop.index_run_id"
INDEX_RUN_TAG = "lolpop.index"
INDEX_SINCE_TAG = "lolpop.index.since"
INDEX_COMPLETE_TAG = "lolpop.index.complete"
INDEX_RUN_NAME = "lolpop-index"
INDEX_CHUNK_BITS, INDEX_CHUNKS = 43, 3


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
        self.experiment_name = experiment_name
        exp = self.client.get_experiment_by_name(experiment_name)
        if exp is not None:
            self.experiment_id, self.experiment_tags = exp.experiment_id, dict(exp.tags)
        else:
            self.experiment_id = self.client.create_experiment(experiment_name, artifact_location=artifact_location)
            self.experiment_tags: dict[str, str] = {}
            self._new_experiment()
        self.run = self.client.create_run(self.experiment_id, tags={PARENT_RUN_TAG: "True"})
        self.run_id = self.run.info.run_id
        self.wf_tags: dict[str, str] = {}

    def _new_experiment(self) -> None:
        """What else goes with an experiment this script creates (its tags into ``experiment_tags``)."""

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
                   f"{mv}.dataset_versions.exists": "True"})
        wf[f"{USED_BY_PREFIX}{self.run_id}.{dv}"] = json.dumps([mv])
        s("build_model_lineage", self._build_model_lineage, files, mv, dv, experiments, winner[0])
        wf[f"{mv}.status"] = "PROMOTED"
        s("log_tag(model_version, status)", self._status_change, mv, "PROMOTED", winner)
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

    def _build_model_lineage(self, files: dict[str, str], mv: str, dv: str, experiments: list[Any],
                             winner: str) -> None:
        """The lineage records beyond the workflow run's tags (held for ``stop()``)."""
        self._log_lineage_page(files, mv, dv, experiments, winner)

    def _status_change(self, mv: str, status: str, winner: Any) -> None:
        """What a status change writes beyond the status tag (held for ``stop()``): nothing here."""

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
        self._before_terminate()
        self._terminate(self.run_id)

    def _before_terminate(self) -> None:
        """Writes after the workflow run's tags, before it ends: none here."""


def index_entries(kind: str, resource_id: str, run_id: str, start_time: int) -> list[Metric]:
    """The version-index metrics naming ``run_id`` (started at ``start_time``) as the ``kind`` version
    of ``resource_id`` (``lolpop.layout.index.entries``: three 43-bit chunks of the run id, each
    inverted, with step = timestamp = the start time)."""
    number = int(run_id, 16) << (INDEX_CHUNKS * INDEX_CHUNK_BITS - 128)
    top = (1 << INDEX_CHUNK_BITS) - 1
    return [Metric(f"lolpop.{kind}.{resource_id}.{i}",
                   float(top - ((number >> (INDEX_CHUNK_BITS * (INDEX_CHUNKS - 1 - i))) & top)),
                   start_time, start_time) for i in range(INDEX_CHUNKS)]


def registered_model_name(experiment_name: str, model_version_id: str) -> str:
    """The registered model of :class:`RawNativeFloor`'s versions (see there why not lolpop's)."""
    return f"{experiment_name}.{model_version_id}"


class RawNativeFloor(RawFloor):
    """The floor with the MLflow-native records lolpop writes, each with the fewest requests a
    careful hand-written script would spend (one line each: what, and what it costs per cycle):

    * dataset inputs: the dataset version as an MLflow dataset input (context ``training``, digest
      the hexsha cut to 36, source its URI, profile the full hexsha: ``lolpop.layout.native``) of
      the model version's run and of each experiment run, in ``build_model_lineage`` as lolpop
      sends them: one ``log_inputs`` per run (11; MLflow has no request for several runs, and
      ``log_batch`` cannot carry inputs);
    * the workflow run's description (``mlflow.note.content``, Markdown of what the run recorded):
      folded into the final ``log_batch`` of its tags (0);
    * the Model Registry at the status change: a version of a registered model for the winning
      experiment (``run_id`` its run, the tags lolpop gives its versions, the model card as the
      version's description in the same request) and the alias of the status (``promoted``):
      ``model-versions/create`` + ``registered-models/alias`` (2; the registered model is created
      only when the version create says it does not exist, so once per store). The source is the
      winner's artifact folder: the workload's experiments save no MLflow model, so there is no
      LoggedModel to build (and lolpop registers none in this workload: see BENCHMARKS.md). The
      registered model is ``<experiment>.<mv>``, not lolpop's ``<mv>``: the implementations share
      one server, and a lolpop status change on a model version it has not registered removes the
      status's alias from whatever version holds it (same requests, another name);
    * the version index: the ``newest`` entries of every id the workflow run is a version of, in
      one ``log_batch`` to the experiment's index run (which also nests it under the workflow
      run), before the run ends (1); the index run itself is made with the experiment, as lolpop
      does (``runs/create`` with all its tags, ``runs/update``, the experiment tag naming it: in
      the warm-up cycle);
    * the lineage page: one upload, as in :class:`RawFloor` (drawn once, at its final state).

    So a cycle costs :class:`RawFloor`'s requests + 11 + 2 + 1.
    """

    def _new_experiment(self) -> None:
        self._create_index(complete=True)

    def _create_index(self, complete: bool) -> str:
        """The experiment's index run (three requests; one writer, so no race to guard against):
        ``complete`` when made with its experiment, before any of its runs could finish."""
        tags = {INDEX_RUN_TAG: "True", INDEX_SINCE_TAG: str(int(time.time() * 1000)),
                MLFLOW_NOTE: "lolpop's version index (written by the benchmark's raw floor)"}
        if complete:
            tags[INDEX_COMPLETE_TAG] = "True"
        run = self.client.create_run(self.experiment_id, run_name=INDEX_RUN_NAME, tags=tags)
        self._terminate(run.info.run_id)
        self.client.set_experiment_tag(self.experiment_id, INDEX_EXPERIMENT_TAG, run.info.run_id)
        self.experiment_tags[INDEX_EXPERIMENT_TAG] = run.info.run_id
        return run.info.run_id

    def _build_model_lineage(self, files: dict[str, str], mv: str, dv: str, experiments: list[Any],
                             winner: str) -> None:
        hexsha = self.wf_tags[f"{dv}.hexsha"]
        dataset = Dataset(dv, hexsha[:MAX_DATASET_DIGEST_LENGTH], "local",
                          json.dumps({"uri": self.wf_tags[f"{dv}.uri"]}), profile=json.dumps({"hexsha": hexsha}))
        inputs = [DatasetInput(dataset, [InputTag(MLFLOW_DATASET_CONTEXT, TRAINING_CONTEXT)])]
        for run_id in [self.run_id] + [run.info.run_id for _, run, _ in experiments]:
            self.client.log_inputs(run_id, datasets=inputs)
        self._log_lineage_page(files, mv, dv, experiments, winner)

    def _status_change(self, mv: str, status: str, winner: Any) -> None:
        rid, run, tags = winner
        card = (f"### {mv}\n\nStatus **{status}**; winning experiment `{rid}` "
                f"({tags[f'{rid}.model_trainer']}, score {tags[f'{rid}.score']}); workflow run `{self.run_id}`.\n")
        version_tags = {REGISTRY_WORKFLOW_RUN_TAG: self.run_id, REGISTRY_EXPERIMENT_TAG: rid,
                        REGISTRY_MODEL_VERSION_TAG: mv}
        name = registered_model_name(self.experiment_name, mv)

        def create() -> Any:
            return self.client.create_model_version(name, f"{run.info.artifact_uri}/{rid}/model_summary",
                                                    run_id=run.info.run_id, tags=version_tags, description=card,
                                                    await_creation_for=0)

        try:
            version = create()
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            self.client.create_registered_model(name)
            version = create()
        # The registry client itself: MlflowClient.set_registered_model_alias first spends a
        # registered-models/get checking that the name is not a prompt's.
        self.client._get_registry_client().set_registered_model_alias(name, status.lower(), version.version)

    def stop(self) -> None:
        self.wf_tags[MLFLOW_NOTE] = self._note()
        super().stop()

    def _note(self) -> str:
        """The workflow run's description, from what this script recorded (no request)."""
        wf = self.wf_tags
        ids = sorted(k[: -len(".type")] for k in wf if k.endswith(".type") and f"{k[:-len('.type')]}.exists" in wf)
        lines = ["### lolpop workflow run", f"Pipeline (MLflow experiment) `{self.experiment_name}` · ended **FINISHED**.",
                 "", "**Resources by type**", ""]
        for rid in ids:
            details = [f"{k} `{wf[f'{rid}.{k}']}`" for k in ("status", "winning_experiment_id", "hexsha")
                       if f"{rid}.{k}" in wf]
            lines.append(f"- **{wf[f'{rid}.type']}** `{rid}`" + (f" — {'; '.join(details)}" if details else ""))
        return "\n".join(lines) + "\n"

    def _before_terminate(self) -> None:
        index_run = self.experiment_tags.get(INDEX_EXPERIMENT_TAG)
        if index_run is None:  # an experiment made without one: built at the first stop, as lolpop does
            index_run = self._create_index(complete=False)
        start = self.run.info.start_time
        ids = sorted(k[: -len(".exists")] for k, v in self.wf_tags.items() if k.endswith(".exists") and v == "True")
        metrics = [m for rid in ids for m in index_entries("newest", rid, self.run_id, start)]
        self.client.log_batch(index_run, metrics=metrics, tags=[RunTag(MLFLOW_PARENT, self.run_id)], synchronous=True)
