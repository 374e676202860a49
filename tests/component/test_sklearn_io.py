"""Model files are loaded with an exact allow-list of types: never a function, never a prefix."""

from __future__ import annotations

import importlib
import inspect
import io
import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io
from sklearn.base import RegressorMixin
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_diabetes, load_iris
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from lolpop.component._sklearn_io import check_params, load_sklearn, refused_types, save_sklearn, sklearn_class
from lolpop.component._sklearn_types import (
    EXCLUDED_ESTIMATORS,
    INTERNAL_TYPES,
    VALUE_TYPES,
    allowed_types,
    estimator_classes,
)
from lolpop.components import SklearnFeatureTransformer, SklearnModelTrainer
from lolpop.exceptions import ConfigError, InvalidInputError
from tests.support.crafted_model import CHECK_OUTPUT, FULL_LIKE, crafted_transformer, edit_schema, write_model


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True, as_frame=True)


def test_crafted_artifact_is_refused_before_anything_runs(tmp_path, iris):
    X, _ = iris
    marker = tmp_path / "pwned"
    folder = crafted_transformer(tmp_path / "ft", marker, X)
    with pytest.raises(InvalidInputError) as err:
        loaded = SklearnFeatureTransformer(conf={"steps": [{"transformer": "StandardScaler"}]}).load(folder)
        loaded.transform(X)  # only reached if the file was accepted: this runs the command
    message = str(err.value)
    assert ".".join(CHECK_OUTPUT) in message and ".".join(FULL_LIKE) in message
    assert "FunctionTransformer" in message
    assert not marker.exists()


def test_the_allow_list_holds_exact_class_names_and_no_function():
    allowed = allowed_types()
    assert ".".join(CHECK_OUTPUT) not in allowed and ".".join(FULL_LIKE) not in allowed
    assert not any(name.endswith(".") or "*" in name for name in allowed)
    assert "sklearn.preprocessing._function_transformer.FunctionTransformer" not in allowed
    # every name that exists in the installed libraries is a class, never a function
    for name in sorted(allowed):
        module, _, attr = name.rpartition(".")
        try:
            obj = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError):
            continue  # a name of another scikit-learn / numpy version
        assert isinstance(obj, type), name


def test_no_allowed_estimator_takes_a_function_by_default():
    """Keeps EXCLUDED_ESTIMATORS honest when scikit-learn adds estimators."""
    for kind in ("predictor", "transformer"):
        for name, cls in estimator_classes(kind).items():
            for param in inspect.signature(cls.__init__).parameters.values():
                default = param.default
                assert not (callable(default) and not isinstance(default, type)), (name, param.name)


#: Estimators that fit on something else than a numeric frame and a 1-d target.
_TEXT = ["the cat sat", "the dog ran", "a cat ran"]
_FIT_ARGS = {
    "DictVectorizer": lambda X, y: ([{"a": 1.0, "b": 2.0}, {"a": 3.0, "c": 1.0}],),
    "FeatureHasher": lambda X, y: ([{"a": 1.0, "b": 2.0}, {"a": 3.0, "c": 1.0}],),
    "CountVectorizer": lambda X, y: (_TEXT,),
    "TfidfVectorizer": lambda X, y: (_TEXT,),
    "HashingVectorizer": lambda X, y: (_TEXT,),
    "LabelBinarizer": lambda X, y: (y,),
    "LabelEncoder": lambda X, y: (y,),
    "MultiLabelBinarizer": lambda X, y: ([[1, 2], [3]],),
    "IsotonicRegression": lambda X, y: (X.iloc[:, :1], y),
    "KernelCenterer": lambda X, y: (X.to_numpy() @ X.to_numpy().T,),
    "MultiTaskElasticNet": lambda X, y: (X, np.c_[y, y]),
    "MultiTaskElasticNetCV": lambda X, y: (X, np.c_[y, y]),
    "MultiTaskLasso": lambda X, y: (X, np.c_[y, y]),
    "MultiTaskLassoCV": lambda X, y: (X, np.c_[y, y]),
}


def _fitted(name: str, cls: type) -> object:
    X, y = load_iris(return_X_y=True, as_frame=True)
    if issubclass(cls, RegressorMixin):
        X, y = load_diabetes(return_X_y=True, as_frame=True)
        X, y = X.iloc[:60], y.iloc[:60]
    else:
        X, y = X.iloc[::3], y.iloc[::3]
    X = X.abs()  # some transformers need non-negative input
    # Small settings keep the test quick; these two refuse them.
    small = {} if name in ("TSNE", "OrthogonalMatchingPursuitCV") else {
        "n_estimators": 4, "max_iter": 15, "n_iter": 15, "n_components": 1, "n_nonzero_coefs": 1}
    params = {k: v for k, v in small.items() if k in inspect.signature(cls.__init__).parameters}
    args = _FIT_ARGS.get(name, lambda X, y: (X, y))(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return cls(**params).fit(*args)


def _configurable(cls: type) -> bool:
    """Whether plain configuration can build ``cls``: most meta-estimators need an estimator object."""
    if cls.__name__ == "SelfTrainingClassifier":  # constructs without one, fails to fit
        return False
    try:
        cls()
    except TypeError:
        return False
    return True


_ALLOWED = {name: cls for name, cls in {**estimator_classes("transformer"), **estimator_classes("predictor")}.items()
            if _configurable(cls)}


@pytest.mark.parametrize("name", sorted(_ALLOWED))
def test_every_allowed_estimator_saves_and_loads_back(tmp_path, name):
    estimator = _fitted(name, _ALLOWED[name])
    loaded = load_sklearn(save_sklearn(estimator, tmp_path / "m"))
    assert type(loaded) is type(estimator)


def test_the_quickstart_models_load_back(tmp_path, iris):
    from lolpop.quickstart import CANDIDATES

    X, y = iris
    for name, conf in CANDIDATES.items():
        trainer = SklearnModelTrainer(conf=conf).fit(X, y)
        again = load_sklearn(save_sklearn(trainer.model, tmp_path / name))
        assert np.array_equal(again.predict(trainer.transform(X)), trainer.model.predict(trainer.transform(X)))
        if trainer.feature_transformer is not None:
            ft = SklearnFeatureTransformer(conf=conf["feature_transformer_config"]).load(
                trainer.feature_transformer.save(tmp_path / f"{name}-ft"))
            assert np.array_equal(ft.transform(X), trainer.transform(X))


@pytest.mark.parametrize("obj, refused", [
    (Pipeline([("log", FunctionTransformer(np.log1p)), ("scale", StandardScaler())]), "numpy.log1p (a function)"),
    (ColumnTransformer([("f", FunctionTransformer(), ["a"])]), "FunctionTransformer"),
    ({"scaler": StandardScaler, "x": 1}, "sklearn.preprocessing._data.StandardScaler (as a value)"),
])
def test_saving_refuses_what_loading_would_refuse(tmp_path, obj, refused):
    with pytest.raises(InvalidInputError, match="does not load back") as err:
        save_sklearn(obj, tmp_path / "m")
    assert refused in str(err.value)
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("edit, refused", [
    # an allowed class held as a value is a callable: refused
    (lambda s: s["content"]["content"]["with_mean"].update(
        {"__loader__": "TypeNode", "__module__": "sklearn.preprocessing._data", "__class__": "StandardScaler"}),
     "StandardScaler (as a value)"),
    # a bound method of an allowed object is a function
    (lambda s: s["content"]["content"].update({"copy": {
        "__loader__": "MethodNode", "__module__": "sklearn.preprocessing._data", "__class__": "StandardScaler",
        "content": {"func": "fit", "obj": {k: v for k, v in s.items() if k != "content"}}}}),
     "StandardScaler (a function)"),
    # a module prefix is no pass
    (lambda s: s.update({"__module__": "sklearn.utils._testing", "__class__": "TempMemmap"}),
     "sklearn.utils._testing.TempMemmap"),
])
def test_a_tampered_file_is_refused_naming_the_type(tmp_path, iris, edit, refused):
    X, _ = iris
    folder = Path(save_sklearn(StandardScaler().fit(X), tmp_path / "m"))
    edit_schema(folder, edit)
    with pytest.raises(InvalidInputError, match="nothing was loaded") as err:
        load_sklearn(folder)
    assert refused in str(err.value)


def test_a_random_generator_may_name_numpy_bit_generators_only():
    schema = json.loads(zipfile.ZipFile(io.BytesIO(skops.io.dumps(np.random.default_rng(0)))).read("schema.json"))
    assert refused_types(schema) == []
    schema["content"]["bit_generator"]["content"]["bit_generator"]["content"] = json.dumps("seed")
    assert refused_types(schema) == ["numpy.random.seed (as a bit generator)"]


@pytest.mark.parametrize("name", sorted(EXCLUDED_ESTIMATORS))
def test_excluded_estimators_are_refused_in_configuration(name):
    kind = "predictor" if name == "TransformedTargetRegressor" else "transformer"
    with pytest.raises(InvalidInputError, match=f"does not build or load {name}"):
        sklearn_class(name, kind, "owner")
    if kind == "transformer":
        with pytest.raises(ConfigError, match=EXCLUDED_ESTIMATORS[name]):
            SklearnFeatureTransformer(conf={"steps": [{"transformer": name}]})


def test_parameters_are_plain_data():
    from sklearn.neighbors import KNeighborsClassifier

    with pytest.raises(InvalidInputError, match="'metric'"):
        check_params(KNeighborsClassifier, {"metric": lambda a, b: 0.0}, "owner")
    with pytest.raises(ConfigError, match="'dtype'"):
        SklearnFeatureTransformer(conf={"steps": [{"transformer": "OneHotEncoder", "params": {"dtype": np.float32}}]})
    assert check_params(KNeighborsClassifier, {"metric": "manhattan"}, "owner") == {"metric": "manhattan"}


def test_value_types_are_builtin_or_numpy_scalars():
    assert all(name.startswith(("builtins.", "numpy.")) for name in VALUE_TYPES)
    assert all(name.startswith("sklearn.") for name in INTERNAL_TYPES)


# -- decision trees must be trees: compiled code walks them without bounds checks ---------------
def _with_nodes(estimator, edit, **changes):
    """``estimator`` with its tree_ rebuilt from an edited copy of its node array."""
    from sklearn.tree._tree import Tree

    tree = estimator.tree_
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    edit(nodes)
    state = {**state, "nodes": nodes, **changes}
    rebuilt = Tree(tree.n_features, np.asarray(tree.n_classes, dtype=np.intp), tree.n_outputs)
    rebuilt.__setstate__(state)
    estimator.tree_ = rebuilt
    return estimator


@pytest.mark.parametrize("edit, changes, problem", [
    (lambda n: n["left_child"].__setitem__(0, 10**6), {}, "out of order or out of range"),
    (lambda n: n["right_child"].__setitem__(0, 0), {}, "out of order or out of range"),
    (lambda n: n["feature"].__setitem__(0, 10**6), {}, "feature index out of range"),
    (lambda n: None, {"max_depth": 1}, "max_depth says 1"),
])
def test_a_malformed_tree_is_refused(tmp_path, iris, edit, changes, problem):
    from sklearn.tree import DecisionTreeClassifier

    from lolpop.component._sklearn_checks import check_model

    X, y = iris
    tree = _with_nodes(DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y), edit, **changes)
    with pytest.raises(InvalidInputError, match=problem):
        check_model(tree, "model")
    # the same through a stored file (written by anyone: lolpop itself refuses to save it)
    with pytest.raises(InvalidInputError, match=problem):
        save_sklearn(tree, tmp_path / "saved")
    with pytest.raises(InvalidInputError, match=problem):
        load_sklearn(write_model(tree, tmp_path / "m"))


def test_saving_refuses_a_fitted_model_that_loading_would_refuse(tmp_path):
    """Fitting does not check everything loading does: say so when saving, not when loading."""
    from sklearn.neighbors import KNeighborsClassifier

    model = KNeighborsClassifier(n_neighbors=10).fit(np.arange(10.0).reshape(5, 2), [0, 1, 0, 1, 0])
    with pytest.raises(InvalidInputError, match="KNeighborsClassifier is not saved.*n_neighbors is 10, it holds 5 points"):
        save_sklearn(model, tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_ensemble_members_read_no_more_columns_than_the_ensemble_checks(iris):
    from sklearn.ensemble import RandomForestClassifier

    from lolpop.component._sklearn_checks import check_model

    X, y = iris
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    check_model(forest, "model")
    forest.n_features_in_ = 2
    with pytest.raises(InvalidInputError, match="reads 4 features, the ensemble takes 2"):
        check_model(forest, "model")
    del forest.n_features_in_  # scikit-learn would then check no width at all
    with pytest.raises(InvalidInputError, match="ensemble takes None"):
        check_model(forest, "model")


@pytest.mark.parametrize("name, params, nan", [
    ("DecisionTreeClassifier", {"max_leaf_nodes": 6}, True),  # best-first builder, missing values
    ("DecisionTreeRegressor", {"ccp_alpha": 0.01}, True),  # pruned
    ("BaggingClassifier", {"max_features": 0.5, "random_state": 0}, False),  # members see fewer columns
    ("GradientBoostingClassifier", {"n_estimators": 5}, False),
])
def test_real_trees_pass_the_checks(tmp_path, iris, name, params, nan):
    X, y = iris
    if nan:
        X = X.copy()
        X.iloc[::7, 0] = np.nan
    model = _ALLOWED[name](**params).fit(X, y)
    loaded = load_sklearn(save_sklearn(model, tmp_path / "m"))
    assert np.array_equal(loaded.predict(X), model.predict(X))
