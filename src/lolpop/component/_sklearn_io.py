"""Saving and loading fitted scikit-learn objects as MLflow sklearn-flavor model folders.

Objects are written with ``mlflow.sklearn.save_model`` in the ``skops`` format, so the folder is
a regular MLflow model (``mlflow.sklearn.load_model`` reads it too). lolpop reads it back with
its own, stricter rule: every object, class and function the file names is checked against the
exact allow-list of :mod:`lolpop.component._sklearn_types` *before* anything is constructed —
functions are refused under any name, and nothing in the folder (``MLmodel``'s trusted-type
list, its code paths) widens the list. Pickle-based formats are refused. Saving applies the same
rule, so an object lolpop would not load back is refused when it is saved. What skops builds is
then checked for arrays that would make compiled code index out of range
(:mod:`lolpop.component._sklearn_checks`) before the object is returned.

Estimator and transformer *names* in configuration are resolved through the same allow-list
(:func:`sklearn_class`), never imported from a dotted path.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

from lolpop.component._sklearn_checks import check_model
from lolpop.component._sklearn_types import (
    BIT_GENERATORS,
    EXCLUDED_ESTIMATORS,
    VALUE_TYPES,
    allowed_types,
    estimator_classes,
)
from lolpop.exceptions import InvalidInputError

SKOPS = "skops"
# skops node kinds that stand for a callable (a function, bound method, partial or operator).
_FUNCTION_LOADERS = frozenset({"FunctionNode", "MethodNode", "PartialNode", "OperatorFuncNode"})


def refused_types(schema: Any) -> list[str]:
    """The types a skops ``schema.json`` names that lolpop does not construct (sorted).

    Every node is checked: a function (any name) is refused, a class held as a value must be a
    builtin or numpy scalar type, and every other node's type must be on the allow-list.
    """
    allowed = allowed_types()
    refused: set[str] = set()
    stack = [schema]
    while stack:  # iterative: a crafted file may nest deeper than Python's recursion limit
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        stack.extend(node.values())
        if "__loader__" not in node:
            continue
        loader, name = node["__loader__"], f"{node.get('__module__')}.{node.get('__class__')}"
        if loader in _FUNCTION_LOADERS:
            refused.add(f"{name} (a function)")
        elif loader == "TypeNode":
            if name not in VALUE_TYPES:
                refused.add(f"{name} (as a value)")
        elif name not in allowed:
            refused.add(name)
        elif loader == "RandomGeneratorNode":
            bit_generator = _bit_generator(node)
            if bit_generator not in BIT_GENERATORS:
                refused.add(f"numpy.random.{bit_generator} (as a bit generator)")
    return sorted(refused)


def _bit_generator(node: dict[str, Any]) -> str:
    """The class name a stored ``numpy.random.Generator`` gives its bit generator: numpy keeps it
    as a plain string in the state, and rebuilding the generator calls that ``numpy.random`` name."""
    try:
        name = json.loads(node["content"]["bit_generator"]["content"]["bit_generator"]["content"])
    except (KeyError, TypeError, ValueError):
        return "<missing>"
    return name if isinstance(name, str) else repr(name)


def _schema(source: Any, what: str) -> Any:
    try:
        with zipfile.ZipFile(source) as archive:
            return json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, RecursionError) as exc:
        raise InvalidInputError(f"{what} is not a skops file: {exc}") from exc


def _type_names(schema: Any) -> list[str]:
    """Every ``module.class`` the schema names (to pass to skops as the exact trusted list)."""
    names: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
            if "__loader__" in node:
                names.add(f"{node.get('__module__')}.{node.get('__class__')}")
    return sorted(names)


def sklearn_class(name: Any, kind: str, owner: str) -> type:
    """Return the scikit-learn class called ``name`` from the allow-list for ``kind``.

    Args:
        name: a class name such as ``"RandomForestClassifier"`` (a full public path such as
            ``"sklearn.ensemble.RandomForestClassifier"`` is accepted: only its last part is used,
            and only when it starts with ``sklearn.``).
        kind: ``"predictor"`` (classifiers and regressors) or ``"transformer"``.
        owner: used in error messages.

    Raises:
        InvalidInputError: not a scikit-learn class of that kind, or one lolpop excludes because
            it holds a function (the message says why, or suggests names).
    """
    allowed = estimator_classes(kind)
    short = name
    if isinstance(name, str):
        short = name.rsplit(".", 1)[-1] if name.startswith("sklearn.") else name
        if short in allowed:
            return allowed[short]
        if short in EXCLUDED_ESTIMATORS:
            raise InvalidInputError(
                f"{owner}: lolpop does not build or load {short}: {EXCLUDED_ESTIMATORS[short]}, "
                "and a function stored with a model would be code run by whoever loads it"
            )
    import difflib

    close = difflib.get_close_matches(str(name), list(allowed), n=5, cutoff=0.5)
    what = "classifier or regressor" if kind == "predictor" else "transformer"
    hint = f"; did you mean {', '.join(close)}?" if close else f"; e.g. {', '.join(sorted(allowed)[:8])}, ..."
    raise InvalidInputError(f"{owner}: {name!r:.100} is not a scikit-learn {what}{hint}")


def check_params(cls: type, params: Any, owner: str) -> dict[str, Any]:
    """Check that ``params`` is a dict of parameters ``cls`` accepts; return a copy.

    Raises:
        InvalidInputError: not a dict, a key ``cls`` does not take (the message lists them), or a
            callable value (parameters are plain data; name a scikit-learn option instead).
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
    callables = sorted(k for k, v in params.items() if callable(v))
    if callables:
        raise InvalidInputError(
            f"{owner}: {cls.__name__} parameter(s) {', '.join(map(repr, callables))} hold a function or "
            "class; lolpop takes plain data (e.g. a name such as 'euclidean' or 'float32')"
        )
    return dict(params)


def _check_savable(obj: Any) -> list[str]:
    """Refuse ``obj`` unless lolpop would load it back; return the exact types its file names."""
    import skops.io

    try:
        data = skops.io.dumps(obj)
    except Exception as exc:  # skops cannot represent some objects: say which one
        raise InvalidInputError(f"{type(obj).__name__} cannot be saved in the skops format: {exc}") from exc
    schema = _schema(io.BytesIO(data), type(obj).__name__)
    refused = refused_types(schema)
    if refused:
        raise InvalidInputError(
            f"{type(obj).__name__} holds types lolpop does not load back from a store: {', '.join(refused)}"
        )
    return _type_names(schema)


def save_sklearn(obj: Any, path: str | os.PathLike[str]) -> str:
    """Write fitted ``obj`` to the new folder ``path`` as an MLflow sklearn-flavor model (skops).

    Raises:
        InvalidInputError: ``obj`` holds types lolpop would refuse to load back (they are named).
    """
    import mlflow.sklearn
    import skops
    import sklearn

    types = _check_savable(obj)
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
            skops_trusted_types=types,
            # Explicit requirements: MLflow would otherwise spawn a process to infer them.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"skops=={skops.__version__}"],
        )
    finally:
        mlflow_logger.setLevel(level)
    return str(path)


def load_sklearn(path: str | os.PathLike[str]) -> Any:
    """Read back an object written by :func:`save_sklearn` from the MLflow model folder ``path``.

    The model file is checked against lolpop's allow-list before anything in it is built.

    Raises:
        InvalidInputError: ``path`` is not an MLflow sklearn model folder in the skops format,
            the file names types outside lolpop's allow-list (they are named; nothing was built),
            or an object in it is malformed (the type and what is wrong are named; see
            :mod:`lolpop.component._sklearn_checks`).
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
    schema = _schema(model_file, repr(str(model_file)))
    refused = refused_types(schema)
    if refused:
        raise InvalidInputError(
            f"{str(model_file)!r} names types lolpop does not load: {', '.join(refused)}; nothing was loaded"
        )
    try:
        # skops audits again, trusting exactly the (allowed) types this file names.
        obj = skops.io.load(model_file, trusted=_type_names(schema))
    except Exception as exc:
        raise InvalidInputError(f"{str(model_file)!r} could not be loaded: {exc}") from exc
    check_model(obj, repr(str(model_file)))
    return obj
