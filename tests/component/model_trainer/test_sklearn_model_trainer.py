"""SklearnModelTrainer: config validation, fit/predict/metrics, and build_model through a tracker."""

from __future__ import annotations

import copy
from pathlib import Path

import mlflow.sklearn
import numpy as np
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import Ridge
from sklearn.metrics import accuracy_score, f1_score, r2_score

from lolpop import registry
from lolpop.components import SklearnFeatureTransformer, SklearnModelTrainer
from lolpop.exceptions import (
    ConfigError,
    InvalidInputError,
    ModelNotFittedError,
    UnknownComponentError,
)
from tests.support.data import IRIS_TRANSFORMER, diabetes_splits, iris_splits
from tests.support.version_index import without_index

RF = {"estimator": "RandomForestClassifier", "training_params": {"n_estimators": 15, "random_state": 3}}


@pytest.fixture(scope="module")
def iris():
    return iris_splits()


@pytest.fixture(scope="module")
def diabetes():
    return diabetes_splits()


@pytest.mark.parametrize("conf, message", [
    ({}, "estimator"),
    ({"estimator": "os.system"}, "not a scikit-learn classifier or regressor"),
    ({"estimator": "StandardScaler"}, "not a scikit-learn classifier or regressor"),
    ({"estimator": "RandomForestClasifier"}, "RandomForestClassifier"),
    ({"estimator": "LogisticRegression", "training_params": {"max_depth": 3}}, "'max_depth'"),
    ({"estimator": "LogisticRegression", "training_params": [1]}, "must be a dict"),
    ({"estimator": "LogisticRegression", "metrics": ["accuracy", "auc"]}, "unknown metric"),
    ({"estimator": "Ridge", "metrics": ["rocauc"]}, "need a classifier"),
    ({"estimator": "Ridge", "feature_transformer": "os.path"}, "never imports"),
    ({"estimator": "Ridge", "feature_transformer": "SklearnFeatureTransformer",
      "feature_transformer_config": {"steps": [{"transformer": "nope"}]}}, "not a scikit-learn transformer"),
])
def test_bad_config_is_refused_at_construction(conf, message):
    with pytest.raises(ConfigError, match=message):
        SklearnModelTrainer(conf=conf)


def test_full_sklearn_path_is_matched_not_imported():
    trainer = SklearnModelTrainer(conf={"estimator": "sklearn.linear_model.LogisticRegression"})
    assert trainer.estimator_class.__name__ == "LogisticRegression"
    with pytest.raises(ConfigError):
        SklearnModelTrainer(conf={"estimator": "mypkg.linear_model.LogisticRegression"})


def test_config_is_not_modified_and_params_argument_wins():
    conf = {"config": copy.deepcopy(RF)}
    trainer = SklearnModelTrainer(conf=conf, params={"n_estimators": 4})
    assert conf == {"config": RF}
    assert trainer.params == {"n_estimators": 4}
    assert trainer.config["training_params"] == RF["training_params"]
    assert trainer.new_estimator().n_estimators == 4


def test_classifier_fit_predict_proba_and_metrics(iris):
    trainer = SklearnModelTrainer(conf=RF)
    assert trainer.problem_type == "classification"
    with pytest.raises(ModelNotFittedError):
        trainer.predict(iris["X_test"])
    assert trainer.fit(iris) is trainer
    reference = RandomForestClassifier(n_estimators=15, random_state=3).fit(iris["X_train"], iris["y_train"])
    assert np.array_equal(trainer.predict(iris["X_test"]), reference.predict(iris["X_test"]))
    assert np.array_equal(trainer.predict_proba(iris["X_test"]), reference.predict_proba(iris["X_test"]))
    metrics = trainer.calculate_metrics(iris, metrics=["accuracy", "f1", "rocauc"])
    assert set(metrics) == {"train", "test"}
    pred = reference.predict(iris["X_test"])
    assert metrics["test"]["accuracy"] == accuracy_score(iris["y_test"], pred)
    assert metrics["test"]["f1"] == f1_score(iris["y_test"], pred, average="weighted")
    assert 0.5 < metrics["test"]["rocauc"] <= 1


def test_regressor_fit_and_metrics(diabetes):
    trainer = SklearnModelTrainer(conf={"estimator": "Ridge", "training_params": {"alpha": 0.5}})
    assert trainer.problem_type == "regression"
    trainer.fit(diabetes["X_train"], diabetes["y_train"])
    reference = Ridge(alpha=0.5).fit(diabetes["X_train"], diabetes["y_train"])
    assert np.array_equal(trainer.predict(diabetes["X_test"]), reference.predict(diabetes["X_test"]))
    assert trainer.calculate_metrics(diabetes)["test"]["r2"] == r2_score(
        diabetes["y_test"], reference.predict(diabetes["X_test"]))
    with pytest.raises(InvalidInputError, match="probabilities"):
        trainer.predict_proba(diabetes["X_test"])
    with pytest.raises(InvalidInputError, match="metrics must be"):
        trainer.calculate_metrics(diabetes, metrics=["bogus"])


def test_fit_needs_train_data():
    trainer = SklearnModelTrainer(conf=RF)
    with pytest.raises(InvalidInputError, match="y_train"):
        trainer.fit({"X_train": [[1.0]]})


def test_transformer_from_config_is_applied(iris):
    trainer = SklearnModelTrainer(conf={**RF, "feature_transformer": "SklearnFeatureTransformer",
                                        "feature_transformer_config": IRIS_TRANSFORMER})
    assert isinstance(trainer.feature_transformer, SklearnFeatureTransformer)
    trainer.fit(iris)
    ft = SklearnFeatureTransformer(conf=IRIS_TRANSFORMER).fit(iris["X_train"])
    reference = RandomForestClassifier(n_estimators=15, random_state=3).fit(ft.transform(iris["X_train"]), iris["y_train"])
    assert np.array_equal(trainer.predict(iris["X_test"]), reference.predict(ft.transform(iris["X_test"])))


def test_build_model_records_an_experiment(tracker, client, iris):
    mv = tracker.create_resource("iris_model", type="model_version")
    trainer = SklearnModelTrainer(conf={**RF, "metrics": ["accuracy"], "feature_transformer": "SklearnFeatureTransformer",
                                        "feature_transformer_config": IRIS_TRANSFORMER}, metadata_tracker=tracker)
    same, experiment = trainer.build_model(iris, mv)
    assert same is trainer
    exp_run = client.get_run(experiment.run.info.run_id)
    assert exp_run.info.status == "FINISHED"
    assert exp_run.data.params == {"n_estimators": "15", "random_state": "3"}
    # The experiment records what rebuilding it takes; training alone claims no win.
    assert tracker.get_metadata(experiment, "model_trainer") == "SklearnModelTrainer"
    assert tracker.get_metadata(experiment, "training_params") == {"n_estimators": 15, "random_state": 3}
    assert tracker.get_metadata(experiment, "feature_transformer") == "SklearnFeatureTransformer"
    assert tracker.get_metadata(experiment, "feature_transformer_config") == {
        **IRIS_TRANSFORMER, "sparse_threshold": 0.0}
    assert tracker.get_metadata(mv, "winning_experiment_id") is None
    trainer.declare_winner(mv, experiment)
    assert tracker.get_metadata(mv, "winning_experiment_id") == experiment.id
    assert tracker.get_winning_experiment(mv).run.info.run_id == experiment.run.info.run_id
    assert not any(k.startswith("iris_model.winning_experiment_model") or "feature_transformer" in k
                   for k in client.get_run(tracker.run.info.run_id).data.tags)  # only the pointer
    metrics = tracker.get_metadata(experiment, "metrics")
    assert metrics == trainer.calculate_metrics(iris)
    assert set(metrics["test"]) == {"accuracy"}
    assert tracker.get_metadata(experiment, "model_trainer_config") == trainer.config
    # The saved model is a regular MLflow sklearn-flavor model.
    model_dir = Path(tracker.get_artifact(experiment, "model"))
    assert (model_dir / "MLmodel").is_file()
    loaded = mlflow.sklearn.load_model(str(model_dir))
    Xt = trainer.feature_transformer.transform(iris["X_test"])
    assert np.array_equal(loaded.predict(Xt), trainer.model.predict(Xt))
    assert (Path(tracker.get_artifact(experiment, "feature_transformer")) / "MLmodel").is_file()


def test_build_model_of_an_unregistered_trainer_fails_before_training(tracker, client, iris):
    class Unlisted(SklearnModelTrainer):
        pass

    mv = tracker.create_resource("iris_model", type="model_version")
    trainer = Unlisted(conf=RF, metadata_tracker=tracker)
    with pytest.raises(UnknownComponentError, match="Unlisted"):
        trainer.build_model(iris, mv)
    assert trainer.model is None
    runs = without_index(client.search_runs([tracker.experiment_id]))
    assert [r.info.run_id for r in runs] == [tracker.run.info.run_id]  # no experiment run
    assert tracker.get_metadata(mv, "winning_experiment_id") is None
    registry.register(Unlisted)
    try:
        _, experiment = trainer.build_model(iris, mv, winner=True)
        assert tracker.get_metadata(experiment, "model_trainer") == "Unlisted"
        assert tracker.get_metadata(mv, "winning_experiment_id") == experiment.id
    finally:
        registry.unregister("Unlisted")


def test_build_model_without_tracker_is_a_config_error(iris):
    with pytest.raises(ConfigError, match="metadata_tracker"):
        SklearnModelTrainer(conf=RF).build_model(iris, ("mv", None))
