"""What lolpop records as MLflow's own entities, next to its tag layout (DESIGN.md, "MLflow-native
records"): run names, metrics from metadata ``metrics``, and dataset inputs from version-control
info. Pure functions of the values; nothing here talks to MLflow.
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit

from lolpop.layout.keys import MAX_DATASET_DIGEST_LENGTH, TRAINING_CONTEXT

#: Suffix of an experiment's run name when ``create_resource`` was given no id (lolpop 0.2.0).
EXPERIMENT_SUFFIX = "-experiment"
#: The lineage page of a model version: artifact id and file name in its run (``page_path``).
LINEAGE_ARTIFACT_ID = "lineage"
LINEAGE_FILE_NAME = "lineage.html"


def page_path(model_version_id: str) -> str:
    """Where the lineage page of a model version lives in its run's artifacts."""
    return f"{model_version_id}/{LINEAGE_ARTIFACT_ID}/{LINEAGE_FILE_NAME}"


# -- names ------------------------------------------------------------------------------------
def workflow_run_name(experiment_name: str, now: datetime | None = None) -> str:
    """``<experiment name>-<UTC yyyymmdd-HHMMSS>``: sortable, and says which pipeline it was."""
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    return f"{experiment_name}-{moment:%Y%m%d-%H%M%S}"


def experiment_run_name(given_id: Any, parent_id: str) -> str:
    """The id given to ``create_resource`` (``xgb``); ``<parent id>-experiment`` without one."""
    if isinstance(given_id, str) and given_id.strip():
        return given_id
    return f"{parent_id}{EXPERIMENT_SUFFIX}"


# -- metrics ----------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    # bool is an int, but a flag is not a measurement; numpy numbers are numbers.Real.
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def metric_values(data: Any) -> tuple[dict[str, float], list[str]]:
    """The MLflow metrics in metadata ``metrics``: ``{name: value}`` as it is, one level of
    splits ``{split: {name: value}}`` as ``<split>_<name>``; anything not a number is not a metric.

    Returns:
        ``(metrics, skipped)``: float values by name, and the names of numbers MLflow cannot chart
        (NaN, infinity).
    """
    metrics: dict[str, float] = {}
    skipped: list[str] = []
    if not isinstance(data, Mapping):
        return metrics, skipped
    for name, value in data.items():
        if _is_number(value):
            entries = [(str(name), value)]
        elif isinstance(value, Mapping):
            entries = [(f"{name}_{inner}", v) for inner, v in value.items() if _is_number(v)]
        else:
            continue
        for metric, number in entries:
            number = float(number)
            if math.isfinite(number):
                metrics[metric] = number
            else:
                skipped.append(metric)
    return metrics, skipped


# -- datasets ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DatasetRecord:
    """One dataset input, in the fields of ``mlflow.entities.Dataset`` plus its input context."""

    name: str
    digest: str
    source_type: str
    source: str
    profile: str
    context: str = TRAINING_CONTEXT


def dataset_digest(hexsha: str) -> str:
    """The hexsha, cut to MLflow's digest limit (36): a git sha stays unambiguous at that length."""
    return hexsha[:MAX_DATASET_DIGEST_LENGTH]


def dataset_source(uri: str | None) -> tuple[str, str]:
    """``(source_type, source)`` as MLflow's own dataset sources write them, so
    ``mlflow.data.get_source`` resolves it: ``http`` with ``{"url"}`` for web addresses, the URI
    scheme (``s3``, ...) or ``local`` with ``{"uri"}`` otherwise."""
    uri = uri or ""
    scheme = urlsplit(uri).scheme.lower() if "://" in uri else ""
    if scheme in ("http", "https"):
        return "http", json.dumps({"url": uri})
    return (scheme if scheme not in ("", "file") else "local"), json.dumps({"uri": uri})


def dataset_record(resource_id: str, hexsha: str, uri: str | None,
                   context: str = TRAINING_CONTEXT) -> DatasetRecord:
    """The dataset input of a dataset version: named by its resource id, digest from its hexsha,
    source its URI; the full hexsha is kept in the profile."""
    source_type, source = dataset_source(uri)
    return DatasetRecord(resource_id, dataset_digest(hexsha), source_type, source,
                         json.dumps({"hexsha": hexsha}), context)
