"""The storage-format package repeats a few MLflow limits so readers need not import MLflow."""

from __future__ import annotations

from mlflow.utils import validation

from lolpop.layout import keys


def test_limits_match_mlflow() -> None:
    assert keys.MAX_KEY_LENGTH == validation.MAX_ENTITY_KEY_LENGTH
    assert keys.MAX_TAG_VAL_LENGTH == validation.MAX_TAG_VAL_LENGTH
    assert keys.MAX_PARAM_VAL_LENGTH == validation.MAX_PARAM_VAL_LENGTH
    assert keys.MAX_PARAMS_TAGS_PER_BATCH == validation.MAX_PARAMS_TAGS_PER_BATCH
    assert keys.MAX_DATASET_NAME_LENGTH == validation.MAX_DATASET_NAME_SIZE
    assert keys.MAX_DATASET_DIGEST_LENGTH == validation.MAX_DATASET_DIGEST_SIZE
    assert keys.MAX_DATASET_SOURCE_LENGTH == validation.MAX_DATASET_SOURCE_SIZE


def test_resource_id_rule() -> None:
    assert keys.resource_id("data/train.v2.csv") == "train_v2"
    assert keys.resource_id("train.v2") == "train.v2"
    assert keys.is_experiment_id("0" * 32 + ".mv")
    assert not keys.is_experiment_id("0" * 31 + ".mv")
    assert keys.split_experiment_id("a" * 32 + ".m.v") == ("a" * 32, "m.v")
