"""The signature and input example a saved model carries, inferred from the data it trained on.

MLflow enforces a model's signature where it serves it (``mlflow.pyfunc``, ``mlflow models
serve``): a payload with a missing column or a wrong type is refused with a message naming it,
instead of reaching the estimator. The schema is inferred from the whole training input (MLflow's
``infer_signature``), the example is its first :data:`EXAMPLE_ROWS` rows, stored as MLflow stores
it in the model folder (``input_example.json``, ``serving_input_example.json``).

Neither weakens lolpop's loader: ``load_sklearn`` reads only the model file with its allow-list;
the signature is column names and types in ``MLmodel`` and the example is JSON data, neither is
ever imported or executed. Reading them back (for the registry's pipeline folder) is bounded by
:data:`MAX_EXAMPLE_BYTES`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXAMPLE_ROWS = 5
#: Largest stored input example read back (5 rows of a very wide table fit many times over).
MAX_EXAMPLE_BYTES = 1 * 2**20

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingInput:
    """What a trainer keeps of the raw training input ``X``: its schema and a few rows."""

    schema: Any  # mlflow.types.Schema
    example: Any  # the first rows, the same type as X


def remember(X: Any) -> TrainingInput | None:
    """The schema of ``X`` and its first rows; ``None`` (logged) when MLflow cannot infer one,
    so a model trains and saves as before, only without a signature."""
    try:
        from mlflow.models import infer_signature

        example = X.head(EXAMPLE_ROWS).copy() if hasattr(X, "head") else X[:EXAMPLE_ROWS].copy()
        return TrainingInput(infer_signature(X).inputs, example)
    except Exception as exc:  # noqa: BLE001 - a signature is an extra, never a reason to fail a fit
        _log.info("lolpop: no model signature for %s input: %s: %s", type(X).__name__, type(exc).__name__,
                  str(exc)[:200])
        return None


def for_model(inputs: TrainingInput | None, predict: Any, transform: Any = None) -> dict[str, Any]:
    """``signature`` and ``input_example`` for ``save_sklearn``: inputs as trained on, outputs
    inferred from ``predict`` on the example; ``transform`` (a feature transformer's) first turns
    the example into what the model itself takes (its inputs are then inferred from that).
    Empty when there is nothing to infer from."""
    if inputs is None:
        return {}
    try:
        from mlflow.models import ModelSignature, infer_signature

        example, schema = inputs.example, inputs.schema
        if transform is not None:
            example = transform(example)
            schema = infer_signature(example).inputs
        outputs = infer_signature(example, predict(example)).outputs if predict is not None else None
        return {"signature": ModelSignature(inputs=schema, outputs=outputs), "input_example": example}
    except Exception as exc:  # noqa: BLE001 - see remember()
        _log.info("lolpop: no model signature: %s: %s", type(exc).__name__, str(exc)[:200])
        return {}


def read(folder: str | Path) -> tuple[Any, Any]:
    """``(signature, input example)`` stored in the MLflow model folder ``folder`` (each ``None``
    when absent or unreadable). Both are data; the example file is read only within
    :data:`MAX_EXAMPLE_BYTES`."""
    from mlflow.models import Model

    folder = Path(folder)
    try:
        meta = Model.load(str(folder))  # MLmodel is YAML (safe_load); its size was bounded by load_sklearn
    except Exception:  # noqa: BLE001 - no signature is the answer
        return None, None
    example = None
    info = meta.saved_input_example_info or {}
    name = info.get("artifact_path") if isinstance(info, dict) else None
    if isinstance(name, str) and Path(name).name == name and name not in ("", ".", ".."):
        path = folder / name
        if path.is_file() and path.stat().st_size <= MAX_EXAMPLE_BYTES:
            try:
                example = meta.load_input_example(str(folder))
            except Exception:  # noqa: BLE001 - a missing example is not an error
                example = None
    return meta.signature, example
