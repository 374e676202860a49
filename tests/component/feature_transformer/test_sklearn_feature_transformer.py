"""SklearnFeatureTransformer: built from plain config, fitted, saved and loaded back exactly."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import yaml

from lolpop.components import SklearnFeatureTransformer
from lolpop.exceptions import ConfigError, InvalidInputError, ModelNotFittedError
from tests.support.data import IRIS_TRANSFORMER, iris_splits


@pytest.fixture(scope="module")
def data():
    return iris_splits()


def test_column_transformer_from_config(data):
    conf = copy.deepcopy(IRIS_TRANSFORMER)
    ft = SklearnFeatureTransformer(conf=conf)
    assert conf == IRIS_TRANSFORMER  # the caller's config is not modified
    Xt = ft.fit_transform(data["X_train"])
    assert Xt.shape == (len(data["X_train"]), 4)
    # sepal columns standardized, petal columns min-max scaled to [0, 1] on the training data
    np.testing.assert_allclose(Xt[:, :2].mean(axis=0), 0, atol=1e-12)
    assert Xt[:, 2:].min() == 0 and Xt[:, 2:].max() == 1


def test_steps_pipeline_over_all_columns(data):
    ft = SklearnFeatureTransformer(conf={"config": {"steps": [
        {"transformer": "StandardScaler"}, {"transformer": "PCA", "params": {"n_components": 2}}]}})
    assert ft.fit_transform(data["X_train"]).shape == (len(data["X_train"]), 2)


def test_transform_before_fit_is_an_error(data):
    ft = SklearnFeatureTransformer(conf=IRIS_TRANSFORMER)
    assert not ft.is_fitted
    with pytest.raises(ModelNotFittedError):
        ft.transform(data["X_test"])
    with pytest.raises(ModelNotFittedError):
        ft.save("/nonexistent")


@pytest.mark.parametrize("conf, message", [
    ({}, "exactly one of"),
    ({"steps": [], "transformers": []}, "exactly one of"),
    ({"steps": [{"transformer": "os.system"}]}, "not a scikit-learn transformer"),
    ({"steps": [{"transformer": "sklearn.preprocessing.StandardScalr"}]}, "StandardScaler"),
    ({"steps": [{"transformer": "RandomForestClassifier"}]}, "not a scikit-learn transformer"),
    ({"steps": [{"transformer": "StandardScaler", "params": {"with_mean": True, "bogus": 1}}]}, "'bogus'"),
    ({"steps": [{"transformer": "StandardScaler", "extra": 1}]}, "unknown key"),
    ({"transformers": [{"name": "a", "columns": "x", "transformer": "StandardScaler"}]}, "columns"),
    ({"transformers": [{"name": "a", "columns": ["x"], "transformer": "StandardScaler"},
                       {"name": "a", "columns": ["y"], "transformer": "StandardScaler"}]}, "unique"),
    ({"transformers": [{"name": "a", "columns": ["x"], "transformer": "StandardScaler"}],
      "remainder": "keep"}, "remainder"),
])
def test_bad_config_is_refused_at_construction(conf, message):
    with pytest.raises(ConfigError, match=message):
        SklearnFeatureTransformer(conf=conf)


def test_save_and_load_round_trip(tmp_path, data):
    ft = SklearnFeatureTransformer(conf=IRIS_TRANSFORMER).fit(data["X_train"])
    path = ft.save(tmp_path / "ft")
    spec = yaml.safe_load((Path(path) / "MLmodel").read_text())
    assert spec["flavors"]["sklearn"]["serialization_format"] == "skops"
    again = SklearnFeatureTransformer(conf=IRIS_TRANSFORMER).load(path)
    assert again.is_fitted
    assert np.array_equal(again.transform(data["X_test"]), ft.transform(data["X_test"]))


def test_load_refuses_pickle_format(tmp_path, data):
    import mlflow.sklearn

    ft = SklearnFeatureTransformer(conf=IRIS_TRANSFORMER).fit(data["X_train"])
    mlflow.sklearn.save_model(ft.transformer, str(tmp_path / "pkl"), serialization_format="cloudpickle",
                              pip_requirements=["scikit-learn"])
    with pytest.raises(InvalidInputError, match="skops format only"):
        SklearnFeatureTransformer(conf=IRIS_TRANSFORMER).load(tmp_path / "pkl")
    with pytest.raises(InvalidInputError, match="not an MLflow model folder"):
        SklearnFeatureTransformer(conf=IRIS_TRANSFORMER).load(tmp_path)


def test_load_ignores_trusted_types_claimed_by_the_artifact(tmp_path, data):
    """The trusted-type list in MLmodel travels with the artifact; lolpop decides on its own."""
    ft = SklearnFeatureTransformer(conf=IRIS_TRANSFORMER).fit(data["X_train"])
    path = Path(ft.save(tmp_path / "ft"))
    import skops.io

    # Replace the model file with one holding a type outside lolpop's trusted set.
    model_file = path / yaml.safe_load((path / "MLmodel").read_text())["flavors"]["sklearn"]["pickled_model"]
    model_file.write_bytes(skops.io.dumps({"f": Path}))
    spec = yaml.safe_load((path / "MLmodel").read_text())
    spec["flavors"]["sklearn"]["skops_trusted_types"] = ["pathlib.Path", "pathlib.PosixPath"]
    (path / "MLmodel").write_text(yaml.safe_dump(spec))
    with pytest.raises(InvalidInputError, match="does not load: .*pathlib"):
        SklearnFeatureTransformer(conf=IRIS_TRANSFORMER).load(path)
