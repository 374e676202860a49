"""A model file from a store is checked before anything in it runs: every array scikit-learn's
compiled code indexes is in range (lolpop/component/_sklearn_checks.py).

The crafted files (tests/support/crafted_model.py) crash or hang a reader on the first predict
when loaded without these checks (run ``python -m tests.support.crafted_model NAME`` to see);
here they are only ever loaded, and must be refused.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_diabetes, load_iris

from lolpop.component._sklearn_io import load_sklearn, save_sklearn
from lolpop.exceptions import InvalidInputError
from tests.support.crafted_model import CRAFTED, model_file, write_model


@pytest.mark.parametrize("name", sorted(CRAFTED))
def test_a_crafted_model_is_refused_naming_the_type_and_what_is_wrong(tmp_path, name):
    crafted = CRAFTED[name]()
    folder = crafted.write(tmp_path / "m")
    with pytest.raises(InvalidInputError) as err:
        load_sklearn(folder)
    message = str(err.value)
    assert f"a {crafted.type_name} is malformed" in message, message
    assert crafted.problem in message, message
    assert str(model_file(folder)) in message


def _iris():
    return load_iris(return_X_y=True)


def _binary():
    X, y = load_iris(return_X_y=True)
    return X, y == 2


def _diabetes():
    return load_diabetes(return_X_y=True)


def _nan_diabetes():
    X, y = load_diabetes(return_X_y=True)
    X = X.copy()
    X[::7, 1] = np.nan
    return X, y


def _sparse_iris():
    X, y = load_iris(return_X_y=True)
    return sp.csr_matrix(X), y


def _categories():
    X = np.array([["a", "x"], ["b", "y"], ["c", "x"], ["a", "z"]] * 20 + [["d", "y"]], dtype=object)
    return X, None


def _unknown_categories(X):
    return np.vstack([X, np.array([["e", "w"]], dtype=object)])


#: Honest fitted models of every type the checks cover: name -> (estimator, data, method, input).
HONEST = {
    "GradientBoostingClassifier": ("GradientBoostingClassifier", {"n_estimators": 5}, _iris, "predict_proba", None),
    "GradientBoostingClassifier-binary": ("GradientBoostingClassifier", {"n_estimators": 5}, _binary, "predict_proba", None),
    "GradientBoostingClassifier-exponential": (
        "GradientBoostingClassifier", {"n_estimators": 5, "loss": "exponential"}, _binary, "decision_function", None),
    "GradientBoostingClassifier-zero-init": (
        "GradientBoostingClassifier", {"n_estimators": 5, "init": "zero"}, _iris, "predict_proba", None),
    "GradientBoostingRegressor": ("GradientBoostingRegressor", {"n_estimators": 5, "loss": "quantile"}, _diabetes,
                                  "predict", None),
    "HistGradientBoostingClassifier": ("HistGradientBoostingClassifier", {"max_iter": 5}, _iris, "predict_proba", None),
    "HistGradientBoostingClassifier-binary": (
        "HistGradientBoostingClassifier", {"max_iter": 5}, _binary, "predict_proba", None),
    "HistGradientBoostingRegressor-nan": ("HistGradientBoostingRegressor", {"max_iter": 5}, _nan_diabetes, "predict", None),
    "KNeighborsClassifier-kd_tree": ("KNeighborsClassifier", {"algorithm": "kd_tree"}, _iris, "predict_proba", None),
    "KNeighborsClassifier-ball_tree-mahalanobis": (
        "KNeighborsClassifier", {"algorithm": "ball_tree", "metric": "mahalanobis", "metric_params": {"VI": np.eye(4)}},
        _iris, "predict", None),
    "KNeighborsClassifier-brute": ("KNeighborsClassifier", {"algorithm": "brute", "metric": "manhattan"}, _iris,
                                   "predict_proba", None),
    "KNeighborsClassifier-brute-sparse": ("KNeighborsClassifier", {"algorithm": "brute"}, _sparse_iris, "predict", None),
    "KNeighborsRegressor-ball_tree-seuclidean": (
        "KNeighborsRegressor", {"algorithm": "ball_tree", "metric": "seuclidean", "metric_params": {"V": np.ones(10)}},
        _diabetes, "predict", None),
    "KNeighborsRegressor-ball_tree-weighted-minkowski": (
        "KNeighborsRegressor", {"algorithm": "ball_tree", "p": 3, "metric_params": {"w": np.arange(1.0, 11.0)}},
        _diabetes, "predict", None),
    "RadiusNeighborsClassifier": ("RadiusNeighborsClassifier", {"radius": 3.0}, _iris, "predict_proba", None),
    "RadiusNeighborsClassifier-brute": (
        "RadiusNeighborsClassifier", {"radius": 3.0, "algorithm": "brute", "metric": "manhattan"}, _iris, "predict", None),
    "KNeighborsTransformer": ("KNeighborsTransformer", {"n_neighbors": 4}, _iris, "transform", None),
    "RadiusNeighborsTransformer": ("RadiusNeighborsTransformer", {"radius": 1.0}, _iris, "transform", None),
    "Isomap": ("Isomap", {"n_components": 2}, _iris, "transform", None),
    "LabelSpreading-knn": ("LabelSpreading", {"kernel": "knn"}, _iris, "predict_proba", None),
    "SVC": ("SVC", {}, _iris, "decision_function", None),
    "SVC-probability": ("SVC", {"probability": True, "random_state": 0}, _iris, "predict_proba", None),
    "SVC-precomputed": ("SVC", {"kernel": "precomputed"}, lambda: (_iris()[0] @ _iris()[0].T, _iris()[1]), "predict", None),
    "SVC-sparse": ("SVC", {"kernel": "poly"}, _sparse_iris, "decision_function", None),
    "NuSVC": ("NuSVC", {}, _iris, "predict", None),
    "SVR": ("SVR", {}, _diabetes, "predict", None),
    "NuSVR-sparse": ("NuSVR", {}, lambda: (sp.csr_matrix(_diabetes()[0]), _diabetes()[1]), "predict", None),
    "KMeans": ("KMeans", {"n_clusters": 3, "n_init": 1, "random_state": 0}, _iris, "predict", None),
    "MiniBatchKMeans": ("MiniBatchKMeans", {"n_clusters": 3, "n_init": 1, "random_state": 0}, _iris, "transform", None),
    "OneHotEncoder-drop-infrequent": (
        "OneHotEncoder", {"drop": "first", "min_frequency": 2, "handle_unknown": "infrequent_if_exist",
                          "sparse_output": False}, _categories, "transform", _unknown_categories),
    "OneHotEncoder-ignore": ("OneHotEncoder", {"handle_unknown": "ignore"}, _categories, "transform", _unknown_categories),
    "RandomTreesEmbedding": ("RandomTreesEmbedding", {"n_estimators": 3, "random_state": 0}, _iris, "transform", None),
    "SparseRandomProjection": ("SparseRandomProjection", {"n_components": 3, "random_state": 0}, _iris, "transform", None),
    "DummyClassifier-RandomState": (
        "DummyClassifier", {"strategy": "uniform", "random_state": np.random.RandomState(3)}, _iris, "predict", None),
}


def _same(a, b) -> bool:
    a, b = (x.toarray() if sp.issparse(x) else np.asarray(x) for x in (a, b))
    return a.shape == b.shape and np.allclose(a.astype(float), b.astype(float), equal_nan=True)


@pytest.mark.parametrize("name", sorted(HONEST))
def test_an_honest_model_of_a_checked_type_loads_and_predicts_the_same(tmp_path, name):
    from lolpop.component._sklearn_types import estimator_classes

    cls_name, params, data, method, query = HONEST[name]
    classes = {**estimator_classes("predictor"), **estimator_classes("transformer")}
    X, y = data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = classes[cls_name](**params).fit(X, y) if y is not None else classes[cls_name](**params).fit(X)
    X_query = query(X) if query else X
    loaded = load_sklearn(save_sklearn(model, tmp_path / "m"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # unknown categories, on purpose
        # A RandomState draws the same after loading as it would have before saving.
        assert _same(getattr(loaded, method)(X_query), getattr(model, method)(X_query))


@pytest.mark.parametrize("name, fit, call", [
    ("DictVectorizer", [{"a": 1.0, "b": "x"}, {"a": 2.0, "c": 3.0}], [{"a": 5.0, "b": "x", "d": 1.0}]),
    ("MultiLabelBinarizer", [[1, 2], [3]], [[3, 1], [2]]),
    ("FeatureHasher", None, [{"a": 1.0, "b": 2.0}]),
])
def test_an_honest_encoder_of_a_checked_type_loads_and_transforms_the_same(tmp_path, name, fit, call):
    from lolpop.component._sklearn_types import estimator_classes

    model = estimator_classes("transformer")[name]()
    if fit is not None:
        model.fit(fit)
    before = model.transform(call)  # MultiLabelBinarizer keeps a label cache from here on
    loaded = load_sklearn(save_sklearn(model, tmp_path / "m"))
    assert _same(loaded.transform(call), before)


@pytest.mark.parametrize("part, refused", [
    (lambda: __import__("sklearn.metrics", fromlist=["DistanceMetric"]).DistanceMetric.get_metric("euclidean"),
     "a EuclideanDistance64 is malformed (a distance metric is only loaded as part of a KD or ball tree)"),
    (lambda: _hgb_predictor(), "a TreePredictor is malformed (it is only loaded as part of the estimator that runs it)"),
    (lambda: _tree(), "a Tree is malformed (it is only loaded as part of the estimator that runs it)"),
])
def test_a_part_that_only_runs_inside_its_estimator_is_refused_alone(tmp_path, part, refused):
    """Their checks need what their estimator validates the input against."""
    folder = write_model({"part": part()}, tmp_path / "m")
    with pytest.raises(InvalidInputError) as err:
        load_sklearn(folder)
    assert refused in str(err.value)


def _hgb_predictor():
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=2).fit(*_iris())._predictors[0][0]


def _tree():
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(max_depth=2).fit(*_iris()).tree_
