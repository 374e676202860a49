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

Reading is bounded: the model file is a zip archive, and before anything is inflated its central
directory must declare members within :data:`MAX_SCHEMA_BYTES` (``schema.json``),
:data:`MAX_MEMBER_BYTES` (any other member, and each array inside a sparse matrix's ``.npz``) and
:data:`MAX_MODEL_BYTES` (all of them together, and the file itself), stored or deflated, inflating
at most :data:`MAX_COMPRESSION_RATIO` times their stored size once over
:data:`RATIO_FLOOR_BYTES`. A directory can lie: zipfile stops a member at its declared size, but a
whole-member read (skops', numpy's) first inflates everything the stored bytes hold. So every
deflated member is then inflated once in bounded reads, which end in a CRC error at the declared
size if there is more; ``schema.json`` is read that way too.

Estimator and transformer *names* in configuration are resolved through the same allow-list
(:func:`sklearn_class`), never imported from a dotted path.

A saved model also carries the signature and input example of the data it trained on
(:func:`remember_input`, :func:`signature_for`; see the section at the end), for MLflow's serving
to enforce; :func:`load_sklearn` never reads them.
"""

from __future__ import annotations

import inspect
import io
import json
import logging
import os
import zipfile
from dataclasses import dataclass
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
_signature_log = logging.getLogger(f"{__name__}.signature")

#: Bounds on reading a model folder (inflated sizes, as declared by the zip's central directory
#: and enforced on the bytes actually read). A model bigger than these is not loaded.
MAX_MODEL_BYTES = 2 * 2**30  # the model file, and all its members inflated together
MAX_MEMBER_BYTES = 1 * 2**30  # one member (an array)
MAX_SCHEMA_BYTES = 64 * 2**20  # schema.json: parsed into Python objects, several times its size
MAX_MLMODEL_BYTES = 1 * 2**20  # the MLmodel file (YAML)
MAX_MEMBERS = 200_000  # entries of one zip directory (parsed into objects before any check)
#: A member over RATIO_FLOOR_BYTES may inflate to at most this many times its stored size (lolpop
#: stores members uncompressed: a ratio of 1), so memory spent reading stays proportional to the
#: bytes stored; a deflate bomb inflates about 1000 times.
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR_BYTES = 2**20
_COMPRESSIONS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflated"}
_CHUNK = 2**20
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


def _directory_entries(source: Any, what: str) -> None:
    """Refuse a zip whose central directory holds more than MAX_MEMBERS entries or is bigger than
    MAX_SCHEMA_BYTES: zipfile parses all of it into objects when it opens the file."""
    source.seek(0)
    record = zipfile._EndRecData(source)  # the end-of-directory record; what ZipFile reads first
    if record is None:
        raise InvalidInputError(f"{what} is not a skops file: not a zip archive")
    entries, size = record[zipfile._ECD_ENTRIES_TOTAL], record[zipfile._ECD_SIZE]
    if entries > MAX_MEMBERS or size > MAX_SCHEMA_BYTES:
        raise InvalidInputError(
            f"{what} lists {entries} members in a {size}-byte directory; lolpop reads at most "
            f"{MAX_MEMBERS} members and {MAX_SCHEMA_BYTES} bytes of directory")


def _check_members(archive: zipfile.ZipFile, what: str, budget: list[int]) -> None:
    """Refuse ``archive`` unless each member's declared size is within its limit and the total
    within what is left of ``budget`` (a one-item list, shared with nested archives); then inflate
    each deflated member once, in bounded reads, to prove its directory entry does not understate
    it (skops and numpy later read a member whole, in one unbounded inflate)."""
    members = archive.infolist()
    for info in members:  # from the directory alone: nothing is inflated yet
        name = f"{what} member {info.filename!r:.200}"
        if info.compress_type not in _COMPRESSIONS:
            # bzip2 and lzma inflate a whole read at once: their output cannot be bounded per read.
            raise InvalidInputError(f"{name} is compressed with method {info.compress_type}; "
                                    "lolpop reads stored or deflated members only")
        limit = MAX_SCHEMA_BYTES if info.filename == "schema.json" else MAX_MEMBER_BYTES
        if info.file_size > limit:
            raise InvalidInputError(f"{name} inflates to {info.file_size} bytes; the limit is {limit}")
        if info.file_size > RATIO_FLOOR_BYTES and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
            raise InvalidInputError(
                f"{name} inflates {info.file_size // max(info.compress_size, 1)} times its stored size "
                f"({info.compress_size} bytes); the limit is {MAX_COMPRESSION_RATIO} times")
        budget[0] -= info.file_size
        if budget[0] < 0:
            raise InvalidInputError(f"{what} inflates to more than {MAX_MODEL_BYTES} bytes in all; that is the limit")
    for info in members:
        if info.compress_type == zipfile.ZIP_DEFLATED:
            _read_member(archive, info, keep=False)
        if info.filename.endswith(".npz"):
            # A sparse matrix: numpy inflates the arrays of this inner zip in turn.
            name = f"{what} member {info.filename!r:.200}"
            with archive.open(info) as inner_file:
                _directory_entries(inner_file, name)
                with zipfile.ZipFile(inner_file) as inner:
                    _check_members(inner, name, budget)


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, keep: bool) -> bytes:
    """Inflate member ``info`` in reads of _CHUNK bytes (a read inflates at most what it asks for);
    zipfile stops at the size the directory declares and then checks the CRC, so a member whose
    entry understates it ends in BadZipFile. The bytes are returned when ``keep``."""
    parts = []
    with archive.open(info) as member:
        while chunk := member.read(_CHUNK):
            if keep:
                parts.append(chunk)
    return b"".join(parts)


def _schema(source: Any, what: str) -> Any:
    """The parsed ``schema.json`` of the skops file ``source`` (a binary file object), after
    checking the sizes its zip directory declares (see the module docstring)."""
    try:
        _directory_entries(source, what)
        with zipfile.ZipFile(source) as archive:
            _check_members(archive, what, [MAX_MODEL_BYTES])
            return json.loads(_read_member(archive, archive.getinfo("schema.json"), keep=True))
    except InvalidInputError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, KeyError, ValueError, OSError, RecursionError,
            EOFError, NotImplementedError) as exc:
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
    # A fit can leave state the load-time checks refuse (KNeighborsClassifier(n_neighbors=10) on 5
    # rows): say so here, not in whichever process loads it later.
    check_model(obj, f"{type(obj).__name__} is not saved, lolpop would refuse it from a store")
    return _type_names(schema)


def save_sklearn(obj: Any, path: str | os.PathLike[str], signature: Any = None, input_example: Any = None) -> str:
    """Write fitted ``obj`` to the new folder ``path`` as an MLflow sklearn-flavor model (skops).

    ``signature`` / ``input_example`` (:func:`signature_for`) are stored as MLflow stores them, for MLflow's serving to enforce; :func:`load_sklearn` never reads them.

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
            signature=signature,
            input_example=input_example,
        )
    finally:
        mlflow_logger.setLevel(level)
    return str(path)


def load_sklearn(path: str | os.PathLike[str]) -> Any:
    """Read back an object written by :func:`save_sklearn` from the MLflow model folder ``path``.

    The model file is checked against lolpop's allow-list before anything in it is built.

    Raises:
        InvalidInputError: ``path`` is not an MLflow sklearn model folder in the skops format,
            a file in it is over the reading limits (the member and the limit are named), the
            file names types outside lolpop's allow-list (they are named; nothing was built), or
            an object in it is malformed (the type and what is wrong are named; see
            :mod:`lolpop.component._sklearn_checks`).
    """
    import skops.io
    import yaml

    folder = Path(path)
    mlmodel = folder / "MLmodel"
    if not mlmodel.is_file():
        raise InvalidInputError(f"{str(folder)!r} is not an MLflow model folder (no MLmodel file)")
    with open(mlmodel, "rb") as stream:
        text = stream.read(MAX_MLMODEL_BYTES + 1)
    if len(text) > MAX_MLMODEL_BYTES:
        raise InvalidInputError(f"{str(mlmodel)!r} is bigger than {MAX_MLMODEL_BYTES} bytes; that is the limit")
    try:
        spec = yaml.safe_load(text.decode("utf-8")) or {}
        flavor = (spec.get("flavors") or {}).get("sklearn") or {}
    except (yaml.YAMLError, AttributeError, UnicodeDecodeError) as exc:
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
    size = model_file.stat().st_size
    if size > MAX_MODEL_BYTES:
        raise InvalidInputError(f"{str(model_file)!r} is {size} bytes; lolpop loads at most {MAX_MODEL_BYTES}")
    # One open file for the checks and for skops: what is checked is what is loaded.
    with open(model_file, "rb") as stream:
        schema = _schema(stream, repr(str(model_file)))
        refused = refused_types(schema)
        if refused:
            raise InvalidInputError(
                f"{str(model_file)!r} names types lolpop does not load: {', '.join(refused)}; nothing was loaded"
            )
        try:
            # skops audits again, trusting exactly the (allowed) types this file names.
            stream.seek(0)
            obj = skops.io.load(stream, trusted=_type_names(schema))
        except Exception as exc:
            raise InvalidInputError(f"{str(model_file)!r} could not be loaded: {exc}") from exc
    check_model(obj, repr(str(model_file)))
    return obj


# ---------------------------------------------------------------------------------------------
# signature and input example
# ---------------------------------------------------------------------------------------------
# MLflow enforces a model's signature where it serves it (``mlflow.pyfunc``, ``mlflow models
# serve``): a payload with a missing column or a wrong type is refused with a message naming it,
# instead of reaching the estimator. The schema is inferred from the whole training input
# (MLflow's ``infer_signature``), the example is its first EXAMPLE_ROWS rows, stored as MLflow
# stores it in the model folder (``input_example.json``, ``serving_input_example.json``).
# Neither weakens load_sklearn: it reads only the model file, with its allow-list; the signature
# is column names and types in ``MLmodel`` and the example is JSON data, neither ever imported or
# executed. Reading them back (for the registry's pipeline folder) is bounded by MAX_EXAMPLE_BYTES.
#: Rows of the training input kept as a model's input example.
EXAMPLE_ROWS = 5
#: Largest stored input example read back (5 rows of a very wide table fit many times over).
MAX_EXAMPLE_BYTES = 1 * 2**20


@dataclass(frozen=True)
class TrainingInput:
    """What a trainer keeps of the raw training input ``X``: its schema and a few rows."""

    schema: Any  # mlflow.types.Schema
    example: Any  # the first rows, the same type as X


def remember_input(X: Any) -> TrainingInput | None:
    """The schema of ``X`` and its first rows; ``None`` (logged) when MLflow cannot infer one,
    so a model trains and saves as before, only without a signature."""
    try:
        from mlflow.models import infer_signature

        example = X.head(EXAMPLE_ROWS).copy() if hasattr(X, "head") else X[:EXAMPLE_ROWS].copy()
        return TrainingInput(infer_signature(X).inputs, example)
    except Exception as exc:  # noqa: BLE001 - a signature is an extra, never a reason to fail a fit
        _signature_log.info("lolpop: no model signature for %s input: %s: %s", type(X).__name__, type(exc).__name__,
                  str(exc)[:200])
        return None


def signature_for(inputs: TrainingInput | None, predict: Any, transform: Any = None) -> dict[str, Any]:
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
    except Exception as exc:  # noqa: BLE001 - see remember_input()
        _signature_log.info("lolpop: no model signature: %s: %s", type(exc).__name__, str(exc)[:200])
        return {}


def read_signature(folder: str | Path) -> tuple[Any, Any]:
    """``(signature, input example)`` stored in the MLflow model folder ``folder`` (each ``None``
    when absent or unreadable). Both are data; the example file is read only within
    :data:`MAX_EXAMPLE_BYTES`."""
    from mlflow.models import Model

    folder = Path(folder)
    try:
        # YAML read with safe_load; callers first load the folder with load_sklearn (MLmodel's size bound)
        meta = Model.load(str(folder))
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


def pipeline_signature(ft_dir: str | Path, model_dir: str | Path) -> dict[str, Any]:
    """``signature`` / ``input_example`` of a transformer + model pipeline: it takes what the
    transformer takes (the raw training input, stored with it) and returns what the model returns;
    empty when either is unknown (a model saved before signatures is served without one)."""
    from mlflow.models import ModelSignature

    ft_signature, example = read_signature(ft_dir)
    model_signature, _ = read_signature(model_dir)
    if ft_signature is None or ft_signature.inputs is None:
        return {}
    outputs = model_signature.outputs if model_signature is not None else None
    return {"signature": ModelSignature(inputs=ft_signature.inputs, outputs=outputs), "input_example": example}
