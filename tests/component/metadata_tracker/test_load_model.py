"""load_model rebuilds a trainer from the store alone, and never imports what the store names."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import lolpop
from lolpop.components import SklearnFeatureTransformer, SklearnModelTrainer
from lolpop.exceptions import InvalidInputError, MetadataNotFoundError, UnknownComponentError
from tests.support.data import IRIS_TRANSFORMER, iris_splits

RF_FT = {"estimator": "RandomForestClassifier", "training_params": {"n_estimators": 20, "random_state": 7},
         "feature_transformer": "SklearnFeatureTransformer", "feature_transformer_config": IRIS_TRANSFORMER}
LOGREG = {"estimator": "LogisticRegression", "training_params": {"C": 0.5, "max_iter": 500}}

SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from lolpop.components import MLFlowMetadataTracker, SklearnModelTrainer
    from tests.support.data import diabetes_splits, iris_splits

    conf, case, mode, out = json.loads(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
    data = iris_splits() if case["data"] == "iris" else diabetes_splits()
    with MLFlowMetadataTracker(conf=conf) as tracker:
        if mode == "train":
            mv = tracker.create_resource(case["model"], type="model_version")
            trainer, _ = SklearnModelTrainer(conf=case["trainer"], metadata_tracker=tracker).build_model(
                data, mv, winner=True)
        else:
            mv = tracker.get_resource(case["model"], type="model_version")
            trainer = tracker.load_model(None, mv, None)
            assert type(trainer) is SklearnModelTrainer
        np.save(out, trainer.predict(data["X_test"]))
        if trainer.problem_type == "classification":
            np.save(out + ".proba.npy", trainer.predict_proba(data["X_test"]))
""")

CASES = {
    "rf_with_transformer": {"data": "iris", "model": "iris_model", "trainer": RF_FT},
    "hgb_regressor": {"data": "diabetes", "model": "diabetes_model",
                      "trainer": {"estimator": "HistGradientBoostingRegressor",
                                  "training_params": {"max_iter": 30, "random_state": 0}}},
}


def _run(script: Path, conf: dict, case: dict, mode: str, out: Path) -> None:
    """Run ``script`` in a fresh interpreter that imports this checkout's lolpop."""
    src = str(Path(lolpop.__file__).resolve().parents[1])
    root = str(Path(__file__).resolve().parents[3])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, root, os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, str(script), json.dumps(conf), json.dumps(case), mode, str(out)],
                          env=env, cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]


@pytest.mark.parametrize("case_name", list(CASES))
def test_train_in_one_process_load_in_a_fresh_one(tmp_path, conf, case_name):
    case = CASES[case_name]
    script = tmp_path / "run.py"
    script.write_text(SCRIPT)
    trained, loaded = tmp_path / "trained.npy", tmp_path / "loaded.npy"
    _run(script, conf["config"], case, "train", trained)
    _run(script, conf["config"], case, "load", loaded)
    assert np.array_equal(np.load(trained), np.load(loaded))
    if case["data"] == "iris":
        assert np.array_equal(np.load(str(trained) + ".proba.npy"), np.load(str(loaded) + ".proba.npy"))


@pytest.fixture(scope="module")
def iris():
    return iris_splits()


@pytest.fixture
def trained(make_tracker, iris):
    """A model version trained (with a transformer) and stored by a first tracker, then stopped."""
    first = make_tracker()
    mv = first.create_resource("iris_model", type="model_version")
    trainer, _ = SklearnModelTrainer(conf=RF_FT, metadata_tracker=first).build_model(iris, mv, winner=True)
    first.stop()
    second = make_tracker()
    return trainer, second, second.get_resource("iris_model", type="model_version")


def test_load_rebuilds_trainer_config_params_and_transformer(trained, iris):
    original, tracker, mv = trained
    loaded = tracker.load_model(None, mv, None)
    assert type(loaded) is SklearnModelTrainer
    assert loaded.config == original.config
    assert loaded.params == original.params
    assert loaded.metadata_tracker is tracker
    assert loaded.model_version == mv
    assert loaded.model is not original.model
    ft = loaded.feature_transformer
    assert isinstance(ft, SklearnFeatureTransformer) and ft.is_fitted
    assert ft.config == original.feature_transformer.config
    assert np.array_equal(ft.transform(iris["X_test"]), original.feature_transformer.transform(iris["X_test"]))
    assert np.array_equal(loaded.predict(iris["X_test"]), original.predict(iris["X_test"]))
    assert loaded.calculate_metrics(iris) == original.calculate_metrics(iris)


def test_ref_model_config_and_params_are_inherited(trained, iris):
    original, tracker, mv = trained
    ref = SklearnModelTrainer(conf={**RF_FT, "metrics": ["accuracy"], "training_params": {"n_estimators": 3}},
                              params={"n_estimators": 5, "max_depth": 2})
    loaded = tracker.load_model(None, mv, ref)
    assert loaded.config == ref.config and loaded.config is not ref.config
    assert loaded.params == {"n_estimators": 5, "max_depth": 2}
    assert loaded.metrics == ["accuracy"]
    # The fitted model is still the stored one: inheriting config does not retrain.
    assert np.array_equal(loaded.predict(iris["X_test"]), original.predict(iris["X_test"]))
    assert loaded.new_estimator().get_params()["max_depth"] == 2


def test_model_obj_overrides_the_stored_model(trained, iris):
    original, tracker, mv = trained
    Xt = original.feature_transformer.transform(iris["X_train"])
    other = LogisticRegression(max_iter=500).fit(Xt, iris["y_train"])
    loaded = tracker.load_model(other, mv, None)
    assert loaded.model is other
    assert type(loaded) is SklearnModelTrainer
    # the recorded transformer is still loaded and applied before the given model
    expected = other.predict(original.feature_transformer.transform(iris["X_test"]))
    assert np.array_equal(loaded.predict(iris["X_test"]), expected)
    with pytest.raises(InvalidInputError, match="no predict"):
        tracker.load_model(object(), mv, None)


def test_pipeline_config_is_passed_through(trained):
    _, tracker, mv = trained
    pipeline_config = {"pipeline": "train", "runner": {"retries": 2}}
    loaded = tracker.load_model(None, mv, None, pipeline_config=pipeline_config)
    assert loaded.pipeline_config == pipeline_config
    pipeline_config["runner"]["retries"] = 9
    assert loaded.pipeline_config["runner"]["retries"] == 2  # a copy, not the caller's object
    assert tracker.load_model(None, mv, None).pipeline_config == {}
    with pytest.raises(InvalidInputError, match="pipeline_config"):
        tracker.load_model(None, mv, None, pipeline_config=["x"])


def test_model_trained_without_transformer_gets_none(tracker, iris):
    mv = tracker.create_resource("plain", type="model_version")
    original, experiment = SklearnModelTrainer(conf=LOGREG, metadata_tracker=tracker).build_model(iris, mv, winner=True)
    assert tracker.get_metadata(experiment, "feature_transformer") is None
    # even when the reference trainer's config names a transformer
    ref = SklearnModelTrainer(conf={**LOGREG, "feature_transformer": "SklearnFeatureTransformer",
                                    "feature_transformer_config": IRIS_TRANSFORMER})
    for loaded in (tracker.load_model(None, mv, None), tracker.load_model(None, mv, ref)):
        assert loaded.feature_transformer is None
        assert np.array_equal(loaded.predict(iris["X_test"]), original.predict(iris["X_test"]))


@pytest.mark.parametrize("layout, trainer_key, transformer_key", [
    ("experiment", "model_trainer", "feature_transformer"),  # recorded by the experiment itself
    ("model version", "winning_experiment_model_trainer", "winning_experiment_feature_transformer"),  # older stores
])
@pytest.mark.parametrize("bad", ["trainer", "transformer"])
@pytest.mark.parametrize("value", ["os.system", "builtins.eval", "lolpop_probe_load.Evil", "lolpop_probe_load:Evil",
                                   "XGBoostModelTrainer", {"wrapped": "subprocess.Popen"}])
def test_unregistered_names_in_the_store_are_refused(tracker, tmp_path, monkeypatch, layout, trainer_key,
                                                     transformer_key, bad, value):
    # Names are resolved before anything is downloaded or built: the experiment holds no
    # artifacts, so getting past name resolution would fail differently.
    mv = tracker.create_resource("iris_model", type="model_version")
    exp = tracker.create_resource("SklearnModelTrainer", type="experiment", parent=mv)
    owner = exp if layout == "experiment" else mv
    key = trainer_key if bad == "trainer" else transformer_key
    other = transformer_key if bad == "trainer" else trainer_key
    tracker.log_metadata(owner, other, "SklearnModelTrainer" if other == trainer_key else "SklearnFeatureTransformer")
    tracker.log_metadata(mv, "winning_experiment_id", exp.id)
    marker = tmp_path / "imported"
    (tmp_path / "lolpop_probe_load.py").write_text(f"open({str(marker)!r}, 'w').write('x')\nclass Evil: pass\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    if isinstance(value, dict):
        value = {key: value["wrapped"]}  # lolpop 0.2.0 wrapped some values this way
    tracker.log_metadata(owner, key, value)
    with pytest.raises(UnknownComponentError) as err:
        tracker.load_model(None, mv, None)
    message = str(err.value)
    assert "SklearnModelTrainer" in message or "SklearnFeatureTransformer" in message  # lists known names
    assert not marker.exists()
    assert "lolpop_probe_load" not in sys.modules


def test_registered_name_of_the_wrong_kind_is_refused(trained):
    _, tracker, mv = trained
    tracker.log_metadata(tracker.get_winning_experiment(mv), "model_trainer", "GitResourceVersionControl")
    with pytest.raises(UnknownComponentError, match="not a BaseModelTrainer"):
        tracker.load_model(None, mv, None)


def test_nothing_recorded(tracker, iris):
    mv = tracker.create_resource("untrained", type="model_version")
    with pytest.raises(MetadataNotFoundError, match="winning_experiment_id"):
        tracker.load_model(None, mv, None)
    # With a reference trainer and a fitted model, nothing needs to be recorded.
    ref = SklearnModelTrainer(conf=LOGREG).fit(iris)
    fitted = copy.deepcopy(ref.model)
    loaded = tracker.load_model(fitted, mv, ref, pipeline_config={"a": 1})
    assert loaded.model is fitted and loaded.params == ref.params and loaded.pipeline_config == {"a": 1}
    # Without a model, the winning experiment is needed.
    with pytest.raises(MetadataNotFoundError, match="winning_experiment_id"):
        tracker.load_model(None, mv, ref)
    with pytest.raises(InvalidInputError, match="ref_model"):
        tracker.load_model(fitted, mv, "not a trainer")
    # An experiment that records nothing (and no older record on the model version).
    exp = tracker.create_resource("by_hand", type="experiment", parent=mv)
    tracker.log_metadata(mv, "winning_experiment_id", exp.id)
    with pytest.raises(MetadataNotFoundError, match="records no model_trainer"):
        tracker.load_model(None, mv, None)


# -- the winner: chosen by the caller, rebuilt entirely from its own experiment -----------------
SCALED_LOGREG = {**LOGREG, "feature_transformer": "SklearnFeatureTransformer",
                 "feature_transformer_config": {"steps": [{"transformer": "StandardScaler"}]}}


def _accuracy(trainer, iris):
    return float(np.mean(trainer.predict(iris["X_test"]) == iris["y_test"]))


def test_build_model_does_not_claim_the_win_the_declared_winner_loads(make_tracker, iris):
    tracker = make_tracker()
    mv = tracker.create_resource("iris_model", type="model_version")
    first, exp1 = SklearnModelTrainer(conf=SCALED_LOGREG, metadata_tracker=tracker).build_model(iris, mv)
    second, exp2 = SklearnModelTrainer(conf=LOGREG, metadata_tracker=tracker).build_model(iris, mv)
    assert tracker.get_metadata(mv, "winning_experiment_id") is None  # training claims nothing
    first.declare_winner(mv, exp1)
    assert tracker.get_winning_experiment(mv).id == exp1.id
    tracker.stop()
    reader = make_tracker()
    loaded = reader.load_model(None, reader.get_resource("iris_model", type="model_version"), None)
    assert loaded.config == first.config
    assert loaded.feature_transformer.config == first.feature_transformer.config
    assert np.array_equal(loaded.predict(iris["X_test"]), first.predict(iris["X_test"]))
    assert _accuracy(loaded, iris) == reader.get_metadata(exp1, "metrics")["test"]["accuracy"] == _accuracy(first, iris)
    assert not np.array_equal(first.predict(iris["X_test"]), first.model.predict(iris["X_test"].to_numpy()))  # needs its transformer


def test_winner_pointer_set_by_hand_loads_that_experiments_own_pipeline(make_tracker, iris):
    """The README sets winning_experiment_id itself; stores written before experiments recorded
    themselves also carry the last build's trainer and transformer on the model version."""
    tracker = make_tracker()
    mv = tracker.create_resource("iris_model", type="model_version")
    first, exp1 = SklearnModelTrainer(conf=SCALED_LOGREG, metadata_tracker=tracker).build_model(iris, mv, winner=True)
    _, exp2 = SklearnModelTrainer(conf=LOGREG, metadata_tracker=tracker).build_model(iris, mv, winner=True)
    assert tracker.get_winning_experiment(mv).id == exp2.id
    tracker.update_resource(mv, {"winning_experiment_model_trainer": "SklearnModelTrainer",  # as older lolpop did
                                 "winning_experiment_feature_transformer": None,
                                 "winning_experiment_feature_transformer_config": None})
    tracker.log_metadata(mv, "winning_experiment_id", exp1.id)
    loaded = tracker.load_model(None, mv, None)
    assert isinstance(loaded.feature_transformer, SklearnFeatureTransformer)
    assert np.array_equal(loaded.predict(iris["X_test"]), first.predict(iris["X_test"]))
    assert _accuracy(loaded, iris) == _accuracy(first, iris) > 0.9


def test_declare_winner_refuses_what_load_model_could_not_rebuild(tracker, iris):
    mv = tracker.create_resource("iris_model", type="model_version")
    other = tracker.create_resource("other_model", type="model_version")
    trainer, exp = SklearnModelTrainer(conf=LOGREG, metadata_tracker=tracker).build_model(iris, other)
    by_hand = tracker.create_resource("by_hand", type="experiment", parent=mv)
    with pytest.raises(InvalidInputError, match="records no model_trainer"):
        trainer.declare_winner(mv, by_hand)
    with pytest.raises(InvalidInputError, match="belongs to model version 'other_model'"):
        trainer.declare_winner(mv, exp)
    assert tracker.get_metadata(mv, "winning_experiment_id") is None


def test_lolpop_020_store_is_read(tracker, iris):
    """lolpop 0.2.0: the winner's trainer and transformer on the model version only (a value
    sometimes wrapped as text), the experiment records no trainer of its own."""
    mv = tracker.create_resource("iris_model", type="model_version")
    exp = tracker.create_resource("rf", type="experiment", parent=mv)
    original = SklearnModelTrainer(conf=RF_FT, metadata_tracker=tracker).fit(iris)
    original.save(exp)
    tracker.log_metadata(exp, "training_params", original.params)
    tracker.log_metadata(exp, "model_trainer_config", original.config)
    tracker.update_resource(mv, {
        "winning_experiment_id": exp.id,
        "winning_experiment_model_trainer": str({"winning_experiment_model_trainer": "SklearnModelTrainer"}),
        "winning_experiment_feature_transformer": "SklearnFeatureTransformer",
        "winning_experiment_feature_transformer_config": original.feature_transformer.config,
    })
    loaded = tracker.load_model(None, mv, None)
    assert loaded.params == original.params
    assert np.array_equal(loaded.predict(iris["X_test"]), original.predict(iris["X_test"]))


def test_configuration_from_the_store_is_not_expanded(make_tracker, client, iris, monkeypatch):
    monkeypatch.setenv("LOLPOP_TEST_SECRET", "s3cr3t-value")
    tracker = make_tracker()
    mv = tracker.create_resource("iris_model", type="model_version")
    trainer, exp = SklearnModelTrainer(conf=SCALED_LOGREG, metadata_tracker=tracker).build_model(iris, mv, winner=True)
    # What someone with write access to the store may put there:
    ft_config = {"transformers": [{"name": "${LOLPOP_TEST_SECRET}", "columns": list(iris["X_train"].columns),
                                   "steps": SCALED_LOGREG["feature_transformer_config"]["steps"]}]}
    tracker.update_resource(exp, {"model_trainer_config": {**trainer.config, "note": "${LOLPOP_TEST_SECRET}",
                                                           "feature_transformer_config": ft_config},
                                  "feature_transformer_config": ft_config})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = tracker.load_model(None, mv, None)
    assert loaded.config["note"] == "${LOLPOP_TEST_SECRET}"
    assert loaded.feature_transformer.config["transformers"][0]["name"] == "${LOLPOP_TEST_SECRET}"
    assert "s3cr3t-value" not in repr(loaded.config) + repr(loaded.feature_transformer.config)
    assert any("unknown config key 'note'" in str(w.message) for w in caught)  # nor silently accepted
    # Retraining writes back what was read, not the reader's secret.
    mv2 = tracker.create_resource("iris_model_2", type="model_version")
    _, exp2 = loaded.build_model(iris, mv2)
    assert tracker.get_metadata(exp2, "model_trainer_config")["note"] == "${LOLPOP_TEST_SECRET}"
    tracker.stop()
    assert "s3cr3t-value" not in json.dumps(client.get_run(exp2.run.info.run_id).data.tags)


def test_crafted_transformer_artifact_is_refused_before_anything_runs(tracker, iris, tmp_path):
    from lolpop.component._sklearn_io import save_sklearn
    from tests.support.crafted_model import crafted_transformer

    mv = tracker.create_resource("iris_model", type="model_version")
    trainer, exp = SklearnModelTrainer(conf=RF_FT, metadata_tracker=tracker).build_model(iris, mv)
    crafted = tracker.create_resource("SklearnModelTrainer", type="experiment", parent=mv)
    marker = tmp_path / "pwned"
    with tempfile.TemporaryDirectory() as tmp:  # a genuine model, the attacker's transformer
        tracker.log_artifact(crafted, "model", save_sklearn(trainer.model, Path(tmp) / "model"))
        folder = crafted_transformer(Path(tmp) / "feature_transformer", marker, iris["X_train"])
        tracker.log_artifact(crafted, "feature_transformer", str(folder))
    tracker.update_resource(crafted, {key: tracker.get_metadata(exp, key) for key in (
        "model_trainer", "model_trainer_config", "feature_transformer", "feature_transformer_config")})
    tracker.log_metadata(mv, "winning_experiment_id", crafted.id)
    with pytest.raises(InvalidInputError) as err:
        tracker.load_model(None, mv, None).predict(iris["X_test"])
    assert "sklearn.utils._testing.check_output (a function)" in str(err.value)
    assert not marker.exists()
