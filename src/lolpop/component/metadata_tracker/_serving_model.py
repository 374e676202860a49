"""The model MLflow serves for a lolpop model version: one folder that predicts what
``tracker.load_model(None, model_version, None).predict`` predicts.

A trainer saves its model (artifact ``model``) and, when it has one, its fitted feature transformer
(artifact ``feature_transformer``) as separate MLflow sklearn folders in the winning experiment
(``BaseModelTrainer.save``). MLflow's loader reads one folder, so:

* the saved model is first read back with lolpop's own loader (skops, its exact type allow-list,
  :mod:`lolpop.component._sklearn_io`): the registry never serves what lolpop would refuse to load
  (a pickle, a non-scikit-learn type; such a version is not registered, with a warning);
* without a transformer the saved ``model`` folder is then served as it is;
* with one, transformer and model are written as one scikit-learn ``Pipeline`` in the same skops
  format; ``MLmodel`` lists the types MLflow's loader may construct (``skops_trusted_types``), as
  ``save_sklearn`` writes for every lolpop model.

The served folder carries the signature and input example of the raw training input
(:func:`lolpop.component._sklearn_io.signature_for`), so MLflow's serving refuses a payload that does not
fit it with a message naming the problem.

Nothing here changes how lolpop itself loads models: ``load_model`` keeps reading the separate
artifacts with its own allow-list and never trusts ``MLmodel``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lolpop.component._sklearn_io import load_sklearn, pipeline_signature, save_sklearn
from lolpop.component.model_trainer.base_model_trainer import MODEL_ARTIFACT, TRANSFORMER_ARTIFACT
from lolpop.layout.keys import split_experiment_id


def saved_no_model(store: Any, experiment_id: str) -> bool:
    """Whether experiment ``experiment_id`` certainly saved no MLflow model, known without a
    request: its run is one ``store`` (the tracker's run store) created, and no ``MLmodel`` went
    up under its ``model`` artifact. ``False`` when only the store can say."""
    run_id = split_experiment_id(experiment_id)[0]
    files = store.known_artifacts(run_id, f"{experiment_id}/{MODEL_ARTIFACT}")
    return files is not None and f"{experiment_id}/{MODEL_ARTIFACT}/MLmodel" not in {p for p, _ in files}


def build(repo: Any, experiment_id: str, dest: Path) -> Path | None:
    """Write the folder to serve for experiment ``experiment_id`` under ``dest`` and return it;
    ``None`` when the experiment saved no MLflow model (no ``model`` artifact with an ``MLmodel``).

    Args:
        repo: the artifact repository of the experiment's run.
        experiment_id: the experiment's resource id (its artifacts live under it).
        dest: an empty working folder.

    Raises:
        InvalidInputError: the saved model (or transformer) is not one lolpop's loader accepts.
    """
    saved = {Path(f.path).name for f in repo.list_artifacts(experiment_id) if f.is_dir}
    if MODEL_ARTIFACT not in saved:
        return None
    if "MLmodel" not in {Path(f.path).name for f in repo.list_artifacts(f"{experiment_id}/{MODEL_ARTIFACT}")}:
        return None  # files, but not an MLflow model: nothing MLflow could serve
    model_dir = Path(repo.download_artifacts(f"{experiment_id}/{MODEL_ARTIFACT}", str(_fresh(dest / "model"))))
    # The registry serves only what lolpop's own loader accepts (skops, allow-listed types).
    model = load_sklearn(model_dir)
    if TRANSFORMER_ARTIFACT not in saved:
        return model_dir
    ft_dir = repo.download_artifacts(f"{experiment_id}/{TRANSFORMER_ARTIFACT}", str(_fresh(dest / "transformer")))
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline([("features", load_sklearn(ft_dir)), ("model", model)])
    out = dest / "serving"
    save_sklearn(pipeline, out, **pipeline_signature(ft_dir, model_dir))
    return out


def _fresh(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=False)
    return path
