"""``load_model``: rebuild a model trainer from what a tracker recorded about a model version.

What is read from the model version (written by ``BaseModelTrainer.build_model``):

* ``winning_experiment_model_trainer``: the trainer's *registry name*;
* ``winning_experiment_feature_transformer`` / ``..._config``: the transformer's registry name
  and config (absent or ``None`` when the model was trained without one);
* ``winning_experiment_id``: the experiment whose artifacts hold the fitted model/transformer.

Names are resolved through :mod:`lolpop.registry` only — both are resolved before anything is
downloaded or constructed, so a store naming ``"os.system"`` fails with
:class:`~lolpop.exceptions.UnknownComponentError` and nothing is imported or executed.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from lolpop import registry
from lolpop.component.feature_transformer.base_feature_transformer import BaseFeatureTransformer
from lolpop.component.model_trainer.base_model_trainer import TRANSFORMER_ARTIFACT, BaseModelTrainer
from lolpop.exceptions import InvalidInputError, MetadataNotFoundError

TRAINER_KEY = "winning_experiment_model_trainer"
TRANSFORMER_KEY = "winning_experiment_feature_transformer"
TRANSFORMER_CONFIG_KEY = "winning_experiment_feature_transformer_config"


def _unwrap(value: Any, key: str) -> Any:
    """lolpop 0.2.0 sometimes stored ``{key: value}`` (as text); return the inner value."""
    if isinstance(value, str) and value.startswith("{"):
        try:
            value = ast.literal_eval(value)  # literals only: never evaluates code
        except (ValueError, SyntaxError):
            return value
    if isinstance(value, dict) and set(value) == {key}:
        return value[key]
    return value


def _dict_or_empty(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInputError(f"load_model: recorded {what} is not a dict: {value!r:.200}")
    return value


def load_model(tracker: Any, model_obj: Any, model_version: Any, ref_model: Any,
               pipeline_config: Mapping[str, Any] | None = None) -> BaseModelTrainer:
    """Rebuild the model trainer recorded for ``model_version``.

    Args:
        tracker: the metadata tracker to read from (the new trainer records into it, too).
        model_obj: a fitted model to use instead of the one stored in the winning experiment.
        model_version: the model version resource.
        ref_model: a trainer whose ``config`` and ``params`` the new trainer inherits; otherwise
            they are those recorded on the winning experiment.
        pipeline_config: passed to the new trainer as ``pipeline_config``.

    Returns:
        A trainer of the recorded class, with its fitted model (and transformer) in place.

    Raises:
        UnknownComponentError: a recorded class name is not registered.
        MetadataNotFoundError: nothing recorded to rebuild from (and no ``ref_model``).
        InvalidInputError: bad arguments, or recorded values of the wrong shape.
    """
    if pipeline_config is not None and not isinstance(pipeline_config, Mapping):
        raise InvalidInputError(f"pipeline_config must be a dict, got {type(pipeline_config).__name__}")
    if ref_model is not None and not isinstance(ref_model, BaseModelTrainer):
        raise InvalidInputError(f"ref_model must be a lolpop model trainer, got {type(ref_model).__name__}")

    # 1. Resolve every class name first: nothing is downloaded or built for an unknown name.
    trainer_name = _unwrap(tracker.get_metadata(model_version, TRAINER_KEY), TRAINER_KEY)
    if trainer_name is not None:
        trainer_cls = registry.get(trainer_name, kind=BaseModelTrainer)
    elif ref_model is not None:
        trainer_cls = type(ref_model)
    else:
        raise MetadataNotFoundError(
            f"model version {tracker.get_resource_id(model_version)!r} has no {TRAINER_KEY}; "
            "train it with a model trainer's build_model, or pass ref_model"
        )
    ft_name = _unwrap(tracker.get_metadata(model_version, TRANSFORMER_KEY), TRANSFORMER_KEY)
    ft_cls = registry.get(ft_name, kind=BaseFeatureTransformer) if ft_name is not None else None
    ft_conf = _dict_or_empty(
        _unwrap(tracker.get_metadata(model_version, TRANSFORMER_CONFIG_KEY), TRANSFORMER_CONFIG_KEY),
        TRANSFORMER_CONFIG_KEY,
    )

    # 2. The winning experiment, when its artifacts or recorded config are needed.
    needs_experiment = model_obj is None or ft_cls is not None or ref_model is None
    experiment = tracker.get_winning_experiment(model_version) if needs_experiment else None

    # 3. Config and params: the reference trainer's, or those recorded with the experiment.
    if ref_model is not None:
        conf, params = ref_model.config, ref_model.params
    else:
        conf = _dict_or_empty(tracker.get_metadata(experiment, "model_trainer_config"), "model_trainer_config")
        params = _dict_or_empty(tracker.get_metadata(experiment, "training_params"), "training_params")
    trainer = trainer_cls(conf=conf, params=params, metadata_tracker=tracker,
                          pipeline_config=pipeline_config)

    # 4. The transformer: the recorded one, fitted state from the experiment. A model recorded
    #    without one gets none; with nothing recorded, the reference trainer's is kept.
    if ft_cls is not None:
        trainer.feature_transformer = ft_cls(conf=ft_conf).load(tracker.get_artifact(experiment, TRANSFORMER_ARTIFACT))
    elif trainer_name is not None:
        trainer.feature_transformer = None
    else:
        trainer.feature_transformer = ref_model.feature_transformer

    # 5. The fitted model: the one given, or the one saved in the winning experiment.
    if model_obj is not None:
        trainer.set_model(model_obj)
    else:
        trainer.load(experiment, load_transformer=False)
    trainer.model_version = model_version
    return trainer
