"""Saving and loading fitted scikit-learn objects as MLflow sklearn-flavor model folders.

Objects are written with ``mlflow.sklearn.save_model`` in the ``skops`` format, so the folder is
a regular MLflow model (``mlflow.sklearn.load_model`` reads it too). lolpop reads it back with
its own, stricter rule: the types a file may construct are decided here, in lolpop's source —
never taken from the folder's ``MLmodel`` file (which travels with the artifact) — and no code
path listed in ``MLmodel`` is put on ``sys.path``. Pickle-based formats are refused.

Estimator and transformer *names* in configuration are resolved through allow-lists of
scikit-learn's own classes (:func:`sklearn_class`), never imported from a dotted path.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
from pathlib import Path
from typing import Any

from lolpop.exceptions import InvalidInputError

# Types beyond skops' built-in safe set that a lolpop-saved sklearn object may contain.
TRUSTED_PREFIXES = ("sklearn.",)
TRUSTED_TYPES = frozenset({"numpy.dtype"})
SKOPS = "skops"


def _trusted(type_name: str) -> bool:
    return type_name in TRUSTED_TYPES or type_name.startswith(TRUSTED_PREFIXES)


@functools.cache
def _estimators(kind: str) -> dict[str, type]:
    from sklearn.utils import all_estimators

    filters = {"predictor": ["classifier", "regressor"], "transformer": "transformer"}[kind]
    return {name: cls for name, cls in all_estimators(type_filter=filters)}


def sklearn_class(name: Any, kind: str, owner: str) -> type:
    """Return the scikit-learn class called ``name`` from the allow-list for ``kind``.

    Args:
        name: a class name such as ``"RandomForestClassifier"`` (a full public path such as
            ``"sklearn.ensemble.RandomForestClassifier"`` is accepted: only its last part is used,
            and only when it starts with ``sklearn.``).
        kind: ``"predictor"`` (classifiers and regressors) or ``"transformer"``.
        owner: used in error messages.

    Raises:
        InvalidInputError: not a scikit-learn class of that kind (the message suggests names).
    """
    allowed = _estimators(kind)
    if isinstance(name, str):
        short = name.rsplit(".", 1)[-1] if name.startswith("sklearn.") else name
        if short in allowed:
            return allowed[short]
    import difflib

    close = difflib.get_close_matches(str(name), list(allowed), n=5, cutoff=0.5)
    what = "classifier or regressor" if kind == "predictor" else "transformer"
    hint = f"; did you mean {', '.join(close)}?" if close else f"; e.g. {', '.join(sorted(allowed)[:8])}, ..."
    raise InvalidInputError(f"{owner}: {name!r:.100} is not a scikit-learn {what}{hint}")


def check_params(cls: type, params: Any, owner: str) -> dict[str, Any]:
    """Check that ``params`` is a dict of parameters ``cls`` accepts; return a copy.

    Raises:
        InvalidInputError: not a dict, or a key ``cls`` does not take (the message lists them).
    """
    if not isinstance(params, dict):
        raise InvalidInputError(f"{owner}: params for {cls.__name__} must be a dict, got {type(params).__name__}")
    valid = {p.name for p in inspect.signature(cls.__init__).parameters.values()
             if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}
    unknown = sorted(set(params) - valid)
    if unknown:
        raise InvalidInputError(
            f"{owner}: {cls.__name__} has no parameter(s) {', '.join(map(repr, unknown))}; "
            f"it takes: {', '.join(sorted(valid))}"
        )
    return dict(params)


def save_sklearn(obj: Any, path: str | os.PathLike[str]) -> str:
    """Write fitted ``obj`` to the new folder ``path`` as an MLflow sklearn-flavor model (skops).

    Raises:
        InvalidInputError: ``obj`` holds types lolpop would refuse to load back.
    """
    import mlflow.sklearn
    import skops
    import skops.io
    import sklearn

    untrusted = skops.io.get_untrusted_types(data=skops.io.dumps(obj))
    refused = [t for t in untrusted if not _trusted(t)]
    if refused:
        raise InvalidInputError(
            f"{type(obj).__name__} contains types lolpop does not load back from a store: {refused}"
        )
    # A transformer has no predict(): MLflow then warns that it skips the pyfunc flavor.
    mlflow_logger = logging.getLogger("mlflow.sklearn")
    level = mlflow_logger.level
    if not hasattr(obj, "predict"):
        mlflow_logger.setLevel(logging.ERROR)
    try:
        mlflow.sklearn.save_model(
            obj,
            str(path),
            serialization_format=SKOPS,
            skops_trusted_types=list(untrusted) or None,
            # Explicit requirements: MLflow would otherwise spawn a process to infer them.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"],
        )
    finally:
        mlflow_logger.setLevel(level)
    return str(path)


def load_sklearn(path: str | os.PathLike[str]) -> Any:
    """Read back an object written by :func:`save_sklearn` from the MLflow model folder ``path``.

    Raises:
        InvalidInputError: ``path`` is not an MLflow sklearn model folder in the skops format, or
            the file would construct types outside lolpop's trusted set (they are named).
    """
    import skops.io
    import yaml

    folder = Path(path)
    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        raise InvalidInputError(f"{str(folder)!r} is not an MLflow model folder (no MLmodel file)")
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8")) or {}
        flavor = (spec.get("flavors") or {}).get("sklearn") or {}
    except (yaml.YAMLError, AttributeError) as exc:
        raise InvalidInputError(f"{str(mlmodel)!r} is not a valid MLmodel file") from exc
    if flavor.get("serialization_format") != SKOPS:
        raise InvalidInputError(
            f"{str(folder)!r}: lolpop loads sklearn models saved in the skops format only, "
            f"not {flavor.get('serialization_format')!r} (pickle formats can run arbitrary code)"
        )
    name = flavor.get("pickled_model")
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise InvalidInputError(f"{str(mlmodel)!r}: bad model file name {name!r:.100}")
    model_file = folder / name
    if not model_file.is_file():
        raise InvalidInputError(f"{str(folder)!r}: model file {name!r} is missing")
    untrusted = skops.io.get_untrusted_types(file=model_file)
    refused = [t for t in untrusted if not _trusted(t)]
    if refused:
        raise InvalidInputError(f"{str(model_file)!r} would construct untrusted types {refused}; not loaded")
    return skops.io.load(model_file, trusted=list(untrusted))
