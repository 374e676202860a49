"""Run lolpop on an MLflow that renamed some of its private names: the next MLflow release, as far
as lolpop's compatibility seam (``lolpop.store._compat``) can tell.

Used as a script in a fresh interpreter (``python -m tests.support.renamed_mlflow ARGS_JSON``):
it imports MLflow, renames each given private name *everywhere in MLflow* — the attribute or global
itself and every use of it in MLflow's own code (code objects' names and string constants) — so
MLflow keeps working exactly as before under the new name, the way a release that renames a
private name does. Only then is lolpop imported; it sees the old names missing. Nothing of
``MlflowClient`` is mocked: lolpop talks to a real store through MLflow's real code.

It then records with a tracker (and reads with the lineage reader) and prints one JSON line with
what it saw; the caller asserts on it and on the log.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import sys
import types
from typing import Any

# MLflow modules lolpop (or MLflow on lolpop's behalf) imports later: imported before renaming,
# so none of them imports a renamed name by its old one afterwards.
PRELOAD = (
    "mlflow", "mlflow.tracking.client", "mlflow.store.tracking.rest_store", "mlflow.store.model_registry.rest_store",
    "mlflow.store.tracking.sqlalchemy_store", "mlflow.store.model_registry.sqlalchemy_store",
    "mlflow.store.artifact.http_artifact_repo", "mlflow.store.artifact.mlflow_artifacts_repo",
    "mlflow.store.artifact.local_artifact_repo", "mlflow.store.artifact.artifact_repository_registry",
    "mlflow.store.db.utils", "mlflow.utils.validation", "mlflow.utils.mime_type_utils", "mlflow.entities",
    "mlflow.tracking._tracking_service.utils", "mlflow.tracking._model_registry.utils",
)


def _rename_code(code: types.CodeType, old: str, new: str) -> types.CodeType:
    consts = tuple(_rename_code(c, old, new) if isinstance(c, types.CodeType) else (new if c == old else c)
                   for c in code.co_consts)
    names = tuple(new if n == old else n for n in code.co_names)
    return code.replace(co_names=names, co_consts=consts)


def _rename_in(value: Any, old: str, new: str, seen: set[int]) -> None:
    """Rewrite ``old`` to ``new`` in the code of an MLflow function / class reachable from ``value``."""
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, (staticmethod, classmethod)):
        _rename_in(value.__func__, old, new, seen)
    elif isinstance(value, property):
        for f in (value.fget, value.fset, value.fdel):
            if f is not None:
                _rename_in(f, old, new, seen)
    elif isinstance(value, functools.partial):
        _rename_in(value.func, old, new, seen)
    elif isinstance(value, types.FunctionType):
        if not str(getattr(value, "__module__", "")).startswith("mlflow"):
            return
        value.__code__ = _rename_code(value.__code__, old, new)
        for cell in value.__closure__ or ():  # decorated functions keep the original in a cell
            try:
                _rename_in(cell.cell_contents, old, new, seen)
            except ValueError:
                pass
        if hasattr(value, "__wrapped__"):
            _rename_in(value.__wrapped__, old, new, seen)
    elif isinstance(value, type):
        if not str(getattr(value, "__module__", "")).startswith("mlflow"):
            return
        if old in value.__dict__:
            setattr(value, new, value.__dict__[old])
            delattr(value, old)
        for attr in list(value.__dict__.values()):
            _rename_in(attr, old, new, seen)


def rename_everywhere(old: str, new: str) -> None:
    """Rename ``old`` (a private attribute, method or module-level name) to ``new`` in every loaded
    MLflow module, class and function."""
    seen: set[int] = set()
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "mlflow" or name.startswith("mlflow.")):
            continue
        namespace = vars(module)
        if old in namespace:
            namespace[new] = namespace.pop(old)
        for value in list(namespace.values()):
            _rename_in(value, old, new, seen)


def record(uri: str, experiment: str) -> dict[str, Any]:
    """Two trackers, one after the other, on ``uri``: what they recorded and read back."""
    from lolpop.components import MLFlowMetadataTracker
    from lolpop.exceptions import InvalidKeyError

    out: dict[str, Any] = {}
    config = {"mlflow_tracking_uri": uri, "mlflow_experiment_name": experiment,
              "mlflow_request_timeout": 10, "mlflow_max_retries": 1}
    first = MLFlowMetadataTracker(conf={"config": config})
    out["client_type"] = type(first.client).__name__
    dv = first.create_resource("data/train.csv", type="dataset_version")
    first.log_metadata(dv, "rows", 120)
    first.log_metadata(dv, "note", "x" * 7000)  # a long value: an artifact, through MLflow's repository
    first.register_vc_resource(dv, {"uri": "data/train.csv", "hexsha": "a" * 40}, file_type="csv")
    try:
        first.log_metadata(dv, "a//b", 1)  # a path trick: only MLflow's tag-name rule refuses it
        out["bad_key"] = "accepted"
    except InvalidKeyError:
        out["bad_key"] = "refused"
    out["first_run"] = dv.run.info.run_id
    first.stop()

    second = MLFlowMetadataTracker(conf={"config": config})
    dv2 = second.create_resource("data/train.csv", type="dataset_version")
    prev = second.get_prev_resource_version(dv2)
    out["prev_run"] = prev.run.info.run_id if prev is not None else None
    out["prev_rows"] = second.get_metadata(prev, "rows") if prev is not None else None
    out["prev_note_len"] = len(second.get_metadata(prev, "note")) if prev is not None else None
    second.stop()
    return out


def main(args: dict[str, Any]) -> dict[str, Any]:
    for module in PRELOAD:
        importlib.import_module(module)
    for old in args["rename"]:
        rename_everywhere(old, f"{old}_renamed")

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    from lolpop.store import _compat as compat

    out: dict[str, Any] = {"missing_at_import": sorted(compat.missing()), "bounded_ok": compat.BOUNDED_CLIENT_OK,
                           "runs": {uri: record(uri, args["experiment"]) for uri in args["uris"]}}
    if args.get("read_sql"):  # the lineage reader's own checks of a SQL store (the MlflowClient adapter)
        from lolpop.store.clients.mlflow_adapter import MlflowClientAdapter

        adapter = MlflowClientAdapter.open(args["read_sql"])
        experiment = adapter.get_experiment_by_name(args["experiment"])
        out["read_sql_runs"] = len(adapter.search_runs([experiment.experiment_id])) if experiment else None
    return out


if __name__ == "__main__":
    print(json.dumps(main(json.loads(sys.argv[1]))))
