"""Component configuration: ``${VAR}`` for the user's own config only, a literal ``$${VAR}``,
YAML alias bombs refused, unknown keys warned about with the closest known key."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from lolpop.component.base import MAX_CONFIG_VALUES, BaseComponent, LiteralConf, load_conf
from lolpop.components import MLFlowMetadataTracker, SklearnFeatureTransformer, SklearnModelTrainer
from lolpop.exceptions import ConfigError


class Hello(BaseComponent):
    __REQUIRED_CONF__ = ["greeting"]
    __DEFAULT_CONF__ = {"times": 1}
    __OPTIONAL_CONF__ = ("name",)


def _alias_bomb(levels: int) -> str:
    lines = ['a0: &a0 ["${LOLPOP_TEST_VALUE}", "x"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_yaml_alias_bomb_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("LOLPOP_TEST_VALUE", "v")
    path = tmp_path / "bomb.yaml"
    path.write_text(_alias_bomb(6))  # 2 * 10**6 strings once the aliases are resolved
    with pytest.raises(ConfigError, match=f"more than {MAX_CONFIG_VALUES} values"):
        load_conf(path, "Hello")


def test_yaml_aliases_of_a_real_config_still_work(tmp_path, monkeypatch):
    monkeypatch.setenv("LOLPOP_TEST_VALUE", "v")
    path = tmp_path / "conf.yaml"
    path.write_text(_alias_bomb(2) + "greeting: hi\n")
    conf = load_conf(path, "Hello")
    assert conf["a2"][3][1] == ["v", "x"]
    conf["a1"][0][0] = "changed"  # a plain tree: expanded values are not shared between aliases
    assert conf["a2"][0][0] == ["v", "x"]


def test_recursive_yaml_alias_is_refused(tmp_path):
    path = tmp_path / "loop.yaml"
    path.write_text("a: &a [1, *a]\n")
    with pytest.raises(ConfigError, match="contains itself"):
        load_conf(path, "Hello")


def test_dollar_escape_gives_a_literal(tmp_path, monkeypatch):
    monkeypatch.setenv("LOLPOP_TEST_VALUE", "secret")
    conf = {"greeting": "$${LOLPOP_TEST_VALUE}", "name": "${LOLPOP_TEST_VALUE} costs $${PRICE}"}
    assert Hello(conf=conf).config == {"greeting": "${LOLPOP_TEST_VALUE}", "name": "secret costs ${PRICE}",
                                       "times": 1}
    path = tmp_path / "conf.yaml"
    path.write_text("config:\n  greeting: $${HOME}\n")
    assert load_conf(path)["greeting"] == "${HOME}"
    with pytest.raises(ConfigError, match=r"\$\$\{LOLPOP_UNSET_VARIABLE\}"):
        load_conf({"greeting": "${LOLPOP_UNSET_VARIABLE}"})


def test_literal_conf_is_never_expanded(monkeypatch):
    monkeypatch.setenv("LOLPOP_TEST_VALUE", "secret")
    stored = LiteralConf({"greeting": "${LOLPOP_TEST_VALUE}", "name": "${LOLPOP_UNSET_VARIABLE}"})
    assert Hello(conf=stored).config["greeting"] == "${LOLPOP_TEST_VALUE}"
    assert Hello(conf=LiteralConf({"config": dict(stored)})).config["name"] == "${LOLPOP_UNSET_VARIABLE}"


def test_a_trainer_expands_its_transformer_config_once(monkeypatch):
    monkeypatch.setenv("LOLPOP_TEST_VALUE", "secret")
    trainer = SklearnModelTrainer(conf={
        "estimator": "LogisticRegression", "feature_transformer": "SklearnFeatureTransformer",
        "feature_transformer_config": {"transformers": [
            {"name": "$${LOLPOP_TEST_VALUE}", "columns": [0], "transformer": "StandardScaler"}]}})
    assert trainer.feature_transformer.config["transformers"][0]["name"] == "${LOLPOP_TEST_VALUE}"


def test_unknown_key_warns_with_the_closest_known_key():
    with pytest.warns(UserWarning, match="unknown config key 'metric' .*did you mean 'metrics'") as record:
        SklearnModelTrainer(conf={"estimator": "LogisticRegression", "metric": ["accuracy"]})
    assert Path(record[0].filename).name == "test_base.py"  # points at the user's line
    with pytest.warns(UserWarning, match="'step'.*did you mean 'steps'"), pytest.raises(ConfigError):
        SklearnFeatureTransformer(conf={"step": [{"transformer": "StandardScaler"}]})


def test_misspelt_tracker_key_warns_and_the_error_names_it():
    conf = {"mlflow_tracking_url": "sqlite:///x.db", "mlflow_experiment_name": "e"}
    with pytest.warns(UserWarning, match="'mlflow_tracking_url'.*did you mean 'mlflow_tracking_uri'"), \
            pytest.raises(ConfigError, match="mlflow_tracking_uri \\(the config has 'mlflow_tracking_url'\\)"):
        MLFlowMetadataTracker(conf=conf)


def test_documented_keys_are_known():
    assert MLFlowMetadataTracker.known_config_keys() >= {
        "mlflow_tracking_uri", "mlflow_experiment_name", "mlflow_artifact_location", "mlflow_write_mode",
        "mlflow_flush_seconds", "mlflow_request_timeout", "mlflow_max_retries", "mlflow_run_name",
        "mlflow_registry", "openlineage_url"}
    assert SklearnModelTrainer.known_config_keys() == {
        "estimator", "training_params", "metrics", "feature_transformer", "feature_transformer_config"}
    assert Hello.known_config_keys() == {"greeting", "times", "name"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Hello(conf={"greeting": "hi", "name": "x", "times": 2})
        SklearnFeatureTransformer(conf={"steps": [{"transformer": "StandardScaler"}], "remainder": "drop"})
