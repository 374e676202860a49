"""``load_model``: rebuild a model trainer from the winning experiment of a model version.

Everything comes from the winning experiment itself (see
:mod:`lolpop.component.model_trainer._winner`): the trainer's and transformer's *registry names*
and configs, the training params, and the fitted model and transformer (its artifacts). So a
model is never paired with another experiment's transformer, whichever experiment
``winning_experiment_id`` names.

Names are resolved through :mod:`lolpop.registry` only, before anything is downloaded or
constructed, so a store naming ``"os.system"`` fails with
:class:`~lolpop.exceptions.UnknownComponentError` and nothing is imported or executed.
Configuration read from the store is taken literally (:class:`~lolpop.component.base.LiteralConf`):
``${VAR}`` in it is never expanded from the reader's environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lolpop import registry
from lolpop.component.base import LiteralConf
from lolpop.component.feature_transformer.base_feature_transformer import BaseFeatureTransformer
from lolpop.component.model_trainer import _winner
from lolpop.component.model_trainer.base_model_trainer import TRANSFORMER_ARTIFACT, BaseModelTrainer
from lolpop.exceptions import InvalidInputError, MetadataNotFoundError


def load_model(tracker: Any, model_obj: Any, model_version: Any, ref_model: Any,
               pipeline_config: Mapping[str, Any] | None = None) -> BaseModelTrainer:
    """Rebuild the model trainer of the winning experiment of ``model_version``.

    Args:
        tracker: the metadata tracker to read from (the new trainer records into it, too).
        model_obj: a fitted model to use instead of the one stored in the winning experiment.
        model_version: the model version resource.
        ref_model: a trainer whose ``config`` and ``params`` the new trainer inherits; otherwise
            they are those recorded on the winning experiment. With ``model_obj`` too, nothing
            needs to be recorded.
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

    try:
        winner: _winner.Winner | None = _winner.read_winner(tracker, model_version)
    except MetadataNotFoundError:
        if model_obj is None or ref_model is None:
            raise
        winner = None  # the reference trainer and the given model are all that is needed
    recorded = winner is not None and winner.record.trainer is not None
    if winner is not None and not recorded and ref_model is None:
        raise MetadataNotFoundError(
            f"winning experiment {tracker.get_resource_id(winner.experiment)!r} records no "
            f"{_winner.TRAINER_KEY} (nor does model version {tracker.get_resource_id(model_version)!r} record "
            f"{_winner.LEGACY_TRAINER_KEY}); build it with a model trainer's build_model, or pass ref_model"
        )

    # 1. Resolve every class name first: nothing is downloaded or built for an unknown name.
    if recorded:
        trainer_cls = registry.get(winner.record.trainer, kind=BaseModelTrainer)
        ft_name = winner.record.transformer
        ft_cls = registry.get(ft_name, kind=BaseFeatureTransformer) if ft_name is not None else None
    else:
        trainer_cls = type(ref_model)

    # 2. Config and params: the reference trainer's, or those recorded with the experiment.
    if ref_model is not None:
        conf, params = ref_model.config, ref_model.params
    else:
        conf, params = winner.record.trainer_config, winner.record.params
    trainer = trainer_cls(conf=LiteralConf(conf), params=params, metadata_tracker=tracker,
                          pipeline_config=pipeline_config)

    # 3. The transformer: the recorded one, fitted state from the same experiment. A model
    #    recorded without one gets none; with nothing recorded, the reference trainer's is kept.
    if recorded:
        trainer.feature_transformer = None
        if ft_cls is not None:
            ft = ft_cls(conf=LiteralConf(winner.record.transformer_config or {}))
            trainer.feature_transformer = ft.load(tracker.get_artifact(winner.experiment, TRANSFORMER_ARTIFACT))
    else:
        trainer.feature_transformer = ref_model.feature_transformer

    # 4. The fitted model: the one given, or the one saved in the winning experiment.
    if model_obj is not None:
        trainer.set_model(model_obj)
    else:
        trainer.load(winner.experiment, load_transformer=False)
    trainer.model_version = model_version
    return trainer
