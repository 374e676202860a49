"""Small datasets that ship with scikit-learn (no download), split the lolpop way."""

from __future__ import annotations

from typing import Any

from sklearn.datasets import load_diabetes, load_iris
from sklearn.model_selection import train_test_split


def iris_splits(seed: int = 0) -> dict[str, Any]:
    X, y = load_iris(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed, stratify=y)
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}


def diabetes_splits(seed: int = 0) -> dict[str, Any]:
    X, y = load_diabetes(return_X_y=True, as_frame=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=seed)
    return {"X_train": X_train, "y_train": y_train, "X_test": X_test, "y_test": y_test}


IRIS_TRANSFORMER = {
    "transformers": [
        {"name": "sepal", "columns": ["sepal length (cm)", "sepal width (cm)"], "transformer": "StandardScaler"},
        {"name": "petal", "columns": ["petal length (cm)", "petal width (cm)"],
         "steps": [{"transformer": "SimpleImputer", "params": {"strategy": "median"}},
                   {"transformer": "MinMaxScaler"}]},
    ],
    "remainder": "drop",
}
