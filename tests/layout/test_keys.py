"""The storage-format package repeats a few MLflow limits so readers need not import MLflow; layout
v2's key rules (an experiment's own run)."""

from __future__ import annotations

import pytest
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


# -- layout v2: an experiment's own run -----------------------------------------------------------
_RUN = "a" * 32
_V2 = {"lolpop.layout": "2", "lolpop.parent_id": "churn", "lolpop.resource_type": "experiment",
       "mlflow.parentRunId": "b" * 32, "model_trainer": "T", "mlflow.runName": "trial",
       "_lolpop.types": "{}", "other.exists": "True", "other.rows": "3"}


def test_v2_keys_of_the_owning_experiment_are_plain_and_others_keep_their_prefix():

    own = keys.experiment_id(_RUN, "churn")
    assert keys.tag_key(_V2, _RUN, own, "model_trainer") == "model_trainer"
    assert keys.tag_key(_V2, _RUN, own, "type") == "lolpop.resource_type"
    assert keys.tag_key(_V2, _RUN, own, "parent_run_id") == "mlflow.parentRunId"
    assert keys.tag_key(_V2, _RUN, "other", "rows") == "other.rows"
    assert keys.has_resource(_V2, _RUN, own) and keys.has_resource(_V2, _RUN, "other")
    assert not keys.has_resource(_V2, _RUN, keys.experiment_id(_RUN, "elsewhere"))
    assert keys.own_keys(_V2) == ["model_trainer"]
    assert keys.own_resource_id(_V2, _RUN) == own


def test_a_layout_tag_on_a_run_it_does_not_own_changes_no_key():
    """Only the experiment owning the run reads plain keys: a workflow run (or another run's
    experiment id) with a forged ``lolpop.layout`` keeps ``<id>.<key>``."""

    forged = {"lolpop.layout": "2", "parent_run": "True", "train.exists": "True", "train.rows": "3"}
    assert keys.tag_key(forged, _RUN, "train", "rows") == "train.rows"
    other_run_experiment = keys.experiment_id("c" * 32, "churn")
    assert keys.tag_key(_V2, _RUN, other_run_experiment, "model_trainer") == f"{other_run_experiment}.model_trainer"
    v1 = {k: v for k, v in _V2.items() if k != "lolpop.layout"}
    own = keys.experiment_id(_RUN, "churn")
    assert keys.tag_key(v1, _RUN, own, "model_trainer") == f"{own}.model_trainer"  # v1 and 0.2.0 runs


@pytest.mark.parametrize("name", ["mlflow.note.content", "lolpop.layout", "_lolpop.types", "_lolpopx", "exists",
                                  "type", "parent_id", "parent_run_id"])
def test_reserved_plain_keys_are_refused_naming_the_key(name):
    from lolpop.exceptions import InvalidKeyError

    with pytest.raises(InvalidKeyError, match="reserved") as err:
        keys.check_own_keys("r.e", ["fine", name])
    assert err.value.key == name and err.value.resource_id == "r.e"
    keys.check_own_keys("r.e", ["mlflow_like", "lolpop_score", "metrics"])  # near misses are fine
