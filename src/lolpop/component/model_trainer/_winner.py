"""The winner record: which experiment of a model version won, and what rebuilding it takes.

Written and read here only, with every key defined once below:

* at build time each experiment records on its *own* resource what ``load_model`` needs to
  rebuild it (:func:`record_build`): the trainer's registry name and config, the training params,
  the transformer's registry name and config (its fitted model and transformer are artifacts of
  the same experiment);
* declaring a winner (:func:`record_winner`) only points the model version at one experiment,
  through ``winning_experiment_id`` (the key the seed and the README use);
* reading it back (:func:`read_winner`) takes everything from that experiment, so one
  experiment's model is never paired with another's transformer, whoever set the pointer.

Stores written earlier still load: when the winning experiment has no record of its own (lolpop
0.2.0), the ``winning_experiment_*`` keys that lolpop once copied onto the model version are read.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from lolpop.exceptions import InvalidInputError

# The record's keys are part of the storage format (the audit reader needs them too).
from lolpop.layout.keys import (  # noqa: F401 - re-exported: this module owns the record
    LEGACY_TRAINER_KEY,
    LEGACY_TRANSFORMER_CONFIG_KEY,
    LEGACY_TRANSFORMER_KEY,
    PARAMS_KEY,
    TRAINER_CONFIG_KEY,
    TRAINER_KEY,
    TRANSFORMER_CONFIG_KEY,
    TRANSFORMER_KEY,
    WINNER_KEY,
)


@dataclass(frozen=True)
class BuildRecord:
    """What an experiment records about the trainer that built it.

    Attributes:
        trainer: the trainer's registry name (``None``: nothing recorded anywhere).
        trainer_config: the trainer's config.
        params: the training params.
        transformer: the feature transformer's registry name, or ``None`` (trained without one).
        transformer_config: the feature transformer's config.
    """

    trainer: str | None
    trainer_config: dict[str, Any]
    params: dict[str, Any]
    transformer: str | None = None
    transformer_config: dict[str, Any] | None = None


@dataclass(frozen=True)
class Winner:
    """The winning experiment of a model version and its :class:`BuildRecord`."""

    experiment: Any
    record: BuildRecord


def record_build(tracker: Any, experiment: Any, record: BuildRecord, **extra: Any) -> None:
    """Record ``record`` (and ``extra`` metadata, e.g. metrics) on ``experiment``'s own resource.

    The params are also MLflow params of the experiment's run.
    """
    tracker.log_metadata(experiment, PARAMS_KEY, record.params)
    tracker.update_resource(experiment, {
        TRAINER_KEY: record.trainer,
        TRAINER_CONFIG_KEY: record.trainer_config,
        TRANSFORMER_KEY: record.transformer,
        TRANSFORMER_CONFIG_KEY: record.transformer_config,
        **extra,
    })


def record_winner(tracker: Any, model_version: Any, experiment: Any) -> None:
    """Record ``experiment`` as the winner of ``model_version`` (replacing an earlier winner).

    Raises:
        InvalidInputError: ``experiment`` records no trainer (it was not built by a model
            trainer, so ``load_model`` could not rebuild it), or it is an experiment of another
            model version. Nothing is written then.
    """
    exp_id = tracker.get_resource_id(experiment)
    mv_id = tracker.get_resource_id(model_version)
    if tracker.get_metadata(experiment, TRAINER_KEY) is None:
        raise InvalidInputError(
            f"experiment {exp_id!r} records no {TRAINER_KEY}: build it with a model trainer's build_model "
            "before declaring it the winner"
        )
    parent = tracker.get_metadata(experiment, "parent_id")
    if parent is not None and parent != mv_id:
        raise InvalidInputError(f"experiment {exp_id!r} belongs to model version {parent!r}, not {mv_id!r}")
    tracker.log_metadata(model_version, WINNER_KEY, exp_id)


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


def _dict(value: Any, key: str, empty: Any) -> Any:
    value = _unwrap(value, key)
    if value is None:
        return empty
    if not isinstance(value, dict):
        raise InvalidInputError(f"load_model: recorded {key} is not a dict: {value!r:.200}")
    return value


def read_winner(tracker: Any, model_version: Any) -> Winner:
    """Return the winning experiment of ``model_version`` and what it records about its trainer.

    Raises:
        MetadataNotFoundError: no winning experiment is recorded.
        ResourceNotFoundError: the recorded experiment is gone.
        InvalidInputError: a recorded config is not a dict.
    """
    experiment = tracker.get_winning_experiment(model_version)
    trainer = _unwrap(tracker.get_metadata(experiment, TRAINER_KEY), TRAINER_KEY)
    if trainer is not None:
        transformer = _unwrap(tracker.get_metadata(experiment, TRANSFORMER_KEY), TRANSFORMER_KEY)
        transformer_config = _dict(tracker.get_metadata(experiment, TRANSFORMER_CONFIG_KEY),
                                   TRANSFORMER_CONFIG_KEY, None)
    else:  # written before experiments recorded themselves
        trainer = _unwrap(tracker.get_metadata(model_version, LEGACY_TRAINER_KEY), LEGACY_TRAINER_KEY)
        transformer = _unwrap(tracker.get_metadata(model_version, LEGACY_TRANSFORMER_KEY), LEGACY_TRANSFORMER_KEY)
        transformer_config = _dict(tracker.get_metadata(model_version, LEGACY_TRANSFORMER_CONFIG_KEY),
                                   LEGACY_TRANSFORMER_CONFIG_KEY, None)
    record = BuildRecord(
        trainer=trainer,
        trainer_config=_dict(tracker.get_metadata(experiment, TRAINER_CONFIG_KEY), TRAINER_CONFIG_KEY, {}),
        params=_dict(tracker.get_metadata(experiment, PARAMS_KEY), PARAMS_KEY, {}),
        transformer=transformer,
        transformer_config=transformer_config,
    )
    return Winner(experiment, record)

