"""Signature and input example of a saved model: inferred from the training input, stored as MLflow
stores them, and read back (for the registry's pipeline folder) as bounded data only."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from lolpop.component import _sklearn_io
from lolpop.component._sklearn_io import load_sklearn, save_sklearn
from tests.support.data import iris_splits


def _saved(tmp_path: Path) -> tuple[Path, dict]:
    data = iris_splits()
    inputs = _sklearn_io.remember_input(data["X_train"])
    scaler = StandardScaler().fit(data["X_train"])
    folder = tmp_path / "ft"
    save_sklearn(scaler, folder, **_sklearn_io.signature_for(inputs, None))
    return folder, data


def test_the_schema_comes_from_all_of_x_and_the_example_is_its_first_rows(tmp_path):
    data = iris_splits()
    X = data["X_train"]
    inputs = _sklearn_io.remember_input(X)
    assert inputs.schema.input_names() == list(X.columns) and len(inputs.example) == 5
    model = LogisticRegression(max_iter=500).fit(X, data["y_train"])
    extras = _sklearn_io.signature_for(inputs, model.predict)
    assert extras["signature"].outputs is not None and extras["input_example"] is inputs.example
    # numpy input: a tensor schema, five rows
    arr = _sklearn_io.remember_input(X.to_numpy())
    assert arr.example.shape == (5, 4)
    # what MLflow cannot infer leaves the model without a signature, never fails training
    assert _sklearn_io.remember_input(object()) is None and _sklearn_io.signature_for(None, model.predict) == {}


def test_a_transformer_folder_keeps_the_raw_input_s_signature_and_example(tmp_path):
    folder, data = _saved(tmp_path)
    signature, example = _sklearn_io.read_signature(folder)
    assert signature.inputs.input_names() == list(data["X_train"].columns) and signature.outputs is None
    assert example.shape == (5, 4)
    assert type(load_sklearn(folder)).__name__ == "StandardScaler"  # lolpop's loader is untouched


def test_a_stored_example_is_read_only_within_its_bound_and_only_from_the_folder(tmp_path):
    folder, _ = _saved(tmp_path)
    big = folder / "input_example.json"
    big.write_text(json.dumps({"columns": ["a"], "data": [[1.0]] * 200_000}))
    assert big.stat().st_size > _sklearn_io.MAX_EXAMPLE_BYTES
    signature, example = _sklearn_io.read_signature(folder)
    assert signature is not None and example is None
    # an MLmodel naming a file outside the folder is not followed
    outside = tmp_path / "secret.json"
    outside.write_text(json.dumps({"columns": ["a"], "data": [[1.0]]}))
    spec = yaml.safe_load((folder / "MLmodel").read_text())
    spec["saved_input_example_info"]["artifact_path"] = "../secret.json"
    (folder / "MLmodel").write_text(yaml.safe_dump(spec))
    assert _sklearn_io.read_signature(folder)[1] is None
    # not an MLflow model at all: nothing, no error
    assert _sklearn_io.read_signature(tmp_path / "nothing") == (None, None)
