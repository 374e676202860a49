"""MLflow's private names lolpop relies on, checked once, at import, against the installed MLflow.

MLflow offers no public way to bound one client's requests, to end a run with a status, an end
time and a name in one request, or to read a metric's step from a fetched run, so lolpop reaches
into a few private names (:data:`NAMES`). A private name may change in any MLflow release; the
pin (``mlflow>=3.17,<4``) is wider than the versions tested. So every such name is listed here
with what lolpop uses it for and what it does without it, :func:`missing` says which of them the
installed MLflow lacks (or whose parameters changed), and each user of a name asks
:func:`available` first and takes the documented fallback otherwise: a user upgrading MLflow gets
the same behaviour, or one clear warning (:func:`warn_missing`), never an ``AttributeError`` deep
in a write. ``tests/store/test_compat.py`` is the tripwire: it fails,
naming the name, on an MLflow that lacks one.

A leaf module: it imports MLflow (and the standard library) only, so every other module may use it.
"""

from __future__ import annotations

import importlib
import logging
import mimetypes
import os
import posixpath
import re
import threading
from dataclasses import dataclass
from types import CodeType
from typing import Any, Iterator

import mlflow
from mlflow.exceptions import MlflowException
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE

logger = logging.getLogger(__name__)

#: The feature that needs a name: lolpop's bounded client (every request to a tracking server
#: bounded by ``mlflow_request_timeout`` / ``mlflow_max_retries``, and the exactly-once retry rule).
BOUNDED = "bounded client"

_TRACKING_REST = "mlflow.store.tracking.rest_store"
_REGISTRY_REST = "mlflow.store.model_registry.rest_store"
_HTTP_REPO = "mlflow.store.artifact.http_artifact_repo"
_CLIENT = "mlflow.tracking.client"
_DB_UTILS = "mlflow.store.db.utils"

_NO_BOUND = "lolpop uses MLflow's own MlflowClient instead (see warn_missing)"


@dataclass(frozen=True)
class PrivateName:
    """One private MLflow name lolpop relies on.

    ``params``: for a method lolpop overrides, its exact parameters (MLflow's own callers pass
    them to lolpop's override). ``accepts``: for something lolpop calls by keyword, the keywords it
    passes. ``set_in``: for an instance attribute, the method of the owner that assigns it (checked
    in that method's code, since no instance exists at import).
    """

    module: str
    path: str
    use: str
    fallback: str
    feature: str
    params: tuple[str, ...] | None = None
    accepts: tuple[str, ...] = ()
    set_in: str | None = None
    #: Checked at import (``False``: on first use, for names whose module loads SQLAlchemy and
    #: alembic, which a tracker on a tracking server never needs).
    at_import: bool = True

    @property
    def name(self) -> str:
        return f"{self.module}.{self.path}"


NAMES: tuple[PrivateName, ...] = (
    # -- the bounded client (_bounded_client.py): its stores override _call_endpoint ---------------
    PrivateName(_TRACKING_REST, "RestStore._call_endpoint",
                "overridden: every tracking request goes through it; lolpop sends it with its bound",
                _NO_BOUND, BOUNDED,
                params=("api", "json_body", "endpoint", "retry_timeout_seconds", "response_proto")),
    PrivateName(_TRACKING_REST, "RestStore._METHOD_TO_INFO", "endpoint and HTTP method of a v2 API",
                _NO_BOUND, BOUNDED),
    PrivateName(_TRACKING_REST, "RestStore._V3_METHOD_TO_INFO", "endpoint and HTTP method of a v3 API",
                _NO_BOUND, BOUNDED),
    PrivateName(_TRACKING_REST, "RestStore._V3_APIS", "which APIs use the v3 endpoints", _NO_BOUND, BOUNDED),
    PrivateName(_TRACKING_REST, "RestStore._validate_workspace_support_if_specified",
                "the workspace check MLflow's _call_endpoint makes first", _NO_BOUND, BOUNDED),
    PrivateName(_REGISTRY_REST, "RestStore._call_endpoint",
                "overridden: every model-registry request goes through it", _NO_BOUND, BOUNDED,
                params=("api", "json_body", "call_all_endpoints", "extra_headers")),
    PrivateName(_REGISTRY_REST, "RestStore._validate_workspace_support_if_specified",
                "the workspace check MLflow's registry _call_endpoint makes first", _NO_BOUND, BOUNDED),
    PrivateName(_REGISTRY_REST, "RestStore._get_response_from_method", "the response proto of a registry API",
                _NO_BOUND, BOUNDED),
    PrivateName(_REGISTRY_REST, "RestStore._get_endpoint_from_method", "endpoint and method of a registry API",
                _NO_BOUND, BOUNDED),
    PrivateName(_REGISTRY_REST, "RestStore._get_all_endpoints_from_method",
                "the endpoints a registry API may answer on (tried in turn)", _NO_BOUND, BOUNDED),
    PrivateName("mlflow.tracking._tracking_service.client", "TrackingServiceClient",
                "subclassed: the tracking client on the bounded store", _NO_BOUND, BOUNDED,
                params=("tracking_uri",)),
    PrivateName("mlflow.tracking._tracking_service.client", "TrackingServiceClient._get_artifact_repo",
                "overridden: the bounded client's own artifact-repository cache; the run store's "
                "artifact repository of a run it does not own",
                f"{_NO_BOUND}; the run store fetches the run and builds the repository from its URI",
                BOUNDED, params=("resource_id", "resource")),
    PrivateName("mlflow.tracking._model_registry.client", "ModelRegistryClient",
                "subclassed: the registry client on the bounded store", _NO_BOUND, BOUNDED,
                params=("registry_uri", "tracking_uri")),
    PrivateName(_CLIENT, "MlflowClient._tracking_client",
                "replaced by the bounded tracking client; the run store's update_run_info "
                "(status, end time and name in one request)",
                f"{_NO_BOUND}; the run store uses the public set_terminated / update_run (a request "
                "or two more per run end)", BOUNDED, set_in="__init__"),
    PrivateName(_CLIENT, "MlflowClient._registry_uri", "where the bounded registry client points",
                _NO_BOUND, BOUNDED, set_in="__init__"),
    PrivateName(_CLIENT, "MlflowClient._get_registry_client", "overridden: returns the bounded registry client",
                _NO_BOUND, BOUNDED, params=()),
    PrivateName(_CLIENT, "MlflowClient._registry_client_lazy", "where MLflow caches the registry client",
                _NO_BOUND, BOUNDED, set_in="_get_registry_client"),
    PrivateName(_HTTP_REPO, "HttpArtifactRepository._host_creds", "credentials of artifact requests",
                _NO_BOUND, BOUNDED),
    PrivateName(_HTTP_REPO, "HttpArtifactRepository._should_multipart_upload",
                "large uploads are left to MLflow's multipart path", _NO_BOUND, BOUNDED, params=("local_file",)),
    PrivateName(_HTTP_REPO, "HttpArtifactRepository._download_file",
                "overridden: artifact downloads with lolpop's bound", _NO_BOUND, BOUNDED,
                params=("remote_file_path", "local_path")),
    PrivateName("mlflow.store.artifact.mlflow_artifacts_repo", "MlflowArtifactsRepository._is_multipart_download_enabled",
                "large downloads are left to MLflow's multipart path", _NO_BOUND, BOUNDED, params=()),
    # Public, but the bound rests on these keywords: without them MLflow's session would retry
    # (and resend creates) on its own.
    PrivateName("mlflow.utils.rest_utils", "http_request", "one request with lolpop's timeout and no retries",
                _NO_BOUND, BOUNDED, accepts=("max_retries", "backoff_factor", "retry_codes", "timeout")),
    # -- names with a fallback of their own --------------------------------------------------------
    PrivateName("mlflow.utils.mime_type_utils", "_guess_mime_type",
                "the Content-Type of a bounded artifact upload",
                "the standard library's mimetypes (text/plain for MLmodel-like files)", "artifact uploads"),
    PrivateName("mlflow.store.tracking.abstract_store", "AbstractStore.update_run_info",
                "reached through MlflowClient._tracking_client.store: a run's status, end time and name "
                "in one request", "the public set_terminated / update_run", "run ends",
                accepts=("run_id", "run_status", "end_time", "run_name")),
    PrivateName("mlflow.utils.validation", "_validate_tag_name",
                "refuse a key MLflow cannot store before anything is sent (check_key)",
                "a local check of MLflow 3.17's rule (characters, no path tricks)", "key checks"),
    PrivateName("mlflow.entities.run_data", "RunData._metric_objs",
                "the step of each latest metric of a fetched run, which verifies a version-index entry",
                "no step is known, so every version look-up searches instead of using the index "
                "(same answers, one search per look-up)", "version index", set_in="__init__"),
    PrivateName("mlflow.telemetry.client", "_set_telemetry_client",
                "the lolpop command keeps MLflow's usage telemetry off in its process without writing "
                "os.environ (lolpop.store.telemetry)",
                "MLflow's own settings decide: one warning says to set MLFLOW_DISABLE_TELEMETRY=true",
                "telemetry", params=("value",)),
    PrivateName(_DB_UTILS, "_all_tables_exist",
                "the lineage reader refuses a SQL store MLflow would add tables to",
                "the same check on MLflow's table metadata (mlflow.store.db.base_sql_model.Base); "
                "failing that, the store is refused", "reading SQL stores", at_import=False),
    PrivateName(_DB_UTILS, "_get_schema_version", "the lineage reader refuses a store MLflow would migrate",
                "alembic's MigrationContext, as MLflow does", "reading SQL stores", at_import=False),
    PrivateName(_DB_UTILS, "_get_latest_schema_revision", "the installed MLflow's schema revision",
                "alembic's ScriptDirectory on MLflow's db_migrations folder; failing that, the store is "
                "refused", "reading SQL stores", at_import=False),
)

_BY_NAME = {n.name: n for n in NAMES}


def _code_names(code: CodeType) -> Iterator[str]:
    """Attribute / global names and string constants a code object uses, nested code included
    (MLflow sets ``_registry_client_lazy`` through ``setattr`` with the name as a string)."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _code_names(const)
        elif isinstance(const, str):
            yield const


def _resolve(module: str, path: str) -> Any:
    obj: Any = importlib.import_module(module)
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _problem(entry: PrivateName) -> str | None:
    """Why ``entry`` cannot be used with the installed MLflow, or ``None`` when it can."""
    try:
        if entry.set_in is not None:
            owner_path, attr = entry.path.rsplit(".", 1)
            method = getattr(_resolve(entry.module, owner_path), entry.set_in)
            code = getattr(method, "__code__", None)
            if code is None or attr not in set(_code_names(code)):
                return f"no longer set in {owner_path}.{entry.set_in}"
            return None
        obj = _resolve(entry.module, entry.path)
    except (ImportError, AttributeError) as exc:
        return f"absent ({type(exc).__name__})"
    if entry.params is None and not entry.accepts:
        return None
    import inspect

    try:
        target = obj.__init__ if isinstance(obj, type) else obj
        if isinstance(target, property):
            return None
        found = [p for p in inspect.signature(target).parameters.values() if p.name != "self"]
    except (TypeError, ValueError):
        return "its parameters cannot be read"
    names = tuple(p.name for p in found if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    if entry.params is not None and names != entry.params:
        return f"parameters are ({', '.join(names)}), lolpop expects ({', '.join(entry.params)})"
    # A named parameter each: a keyword that would fall into ``**kwargs`` goes somewhere else
    # (``http_request`` hands its ``**kwargs`` to requests, which refuses ``max_retries``).
    lacking = [k for k in entry.accepts if k not in names]
    if lacking:
        return f"no longer accepts {', '.join(lacking)}"
    return None


_checked: dict[str, str | None] = {}
_checked_lock = threading.Lock()


def _problem_of(entry: PrivateName) -> str | None:
    """``_problem(entry)``, computed once per process."""
    with _checked_lock:
        if entry.name in _checked:
            return _checked[entry.name]
    try:
        problem = _problem(entry)
    except Exception as exc:  # noqa: BLE001 - a check must never stop lolpop from importing
        problem = f"cannot be checked ({type(exc).__name__}: {exc})"
    with _checked_lock:
        return _checked.setdefault(entry.name, problem)


for _entry in NAMES:
    if _entry.at_import:
        _problem_of(_entry)

#: Whether lolpop's bounded client can be built on the installed MLflow (else: MLflow's own client).
BOUNDED_CLIENT_OK: bool = not any(_problem_of(n) for n in NAMES if n.feature == BOUNDED)


def missing() -> dict[str, str]:
    """``{name: what is wrong}`` for each listed name the installed MLflow lacks (or whose
    parameters changed); empty on the MLflow versions lolpop is tested with."""
    return {n.name: problem for n in NAMES if (problem := _problem_of(n)) is not None}


def available(name: str) -> bool:
    """Whether ``name`` (a full name from :data:`NAMES`) can be used with the installed MLflow."""
    if name not in _BY_NAME:
        raise KeyError(f"{name!r} is not listed in lolpop's MLflow compatibility seam")
    return _problem_of(_BY_NAME[name]) is None


_warned: set[str] = set()
_warned_lock = threading.Lock()


def _once(key: str) -> bool:
    with _warned_lock:
        if key in _warned:
            return False
        _warned.add(key)
        return True


def warn_missing(*, server: bool, sql: bool = False) -> None:
    """Log, once per process and name, what the installed MLflow lacks and what lolpop does instead.

    ``server``: the caller talks to a tracking server (where the bounded client would be used);
    ``sql``: it reads a SQL store itself (the names checked on first use).
    """
    problems = {n.name: p for n in NAMES if (n.at_import or sql) and (p := _problem_of(n)) is not None}
    if not problems:
        return
    version = getattr(mlflow, "__version__", "unknown")
    bounded = sorted(n for n in problems if _BY_NAME[n].feature == BOUNDED)
    if server and bounded and _once(BOUNDED):
        logger.warning(
            "lolpop: the installed MLflow %s lacks private name(s) lolpop's bounded client needs: %s. "
            "lolpop falls back to MLflow's own MlflowClient for tracking servers, and with it you lose "
            "lolpop's request bound (mlflow_request_timeout / mlflow_max_retries no longer apply; MLflow's "
            "MLFLOW_HTTP_REQUEST_TIMEOUT, 120 s, and MLFLOW_HTTP_REQUEST_MAX_RETRIES, 7, do) and lolpop's "
            "exactly-once retry rule: MLflow's session resends a create whose answer was lost, which can "
            "leave a duplicate run, logged model or model version. lolpop is tested with MLflow 3.17.0 "
            "to 3.18.0; install one of those to keep both.",
            version, "; ".join(f"{n} ({problems[n]})" for n in bounded))
    others = [n for n in sorted(problems) if _BY_NAME[n].feature != BOUNDED and _once(n)]
    if others:
        logger.warning(
            "lolpop: the installed MLflow %s lacks private name(s) lolpop uses; it does without them: %s",
            version, "; ".join(f"{n} ({problems[n]}): {_BY_NAME[n].fallback}" for n in others))


# ---------------------------------------------------------------------------------------------
# the names with a fallback of their own, each as one function
# ---------------------------------------------------------------------------------------------
_TELEMETRY = "mlflow.telemetry.client._set_telemetry_client"


def telemetry_off() -> bool:
    """Drop MLflow's process-wide telemetry client, so MLflow records and sends no usage event in
    this process (see :mod:`lolpop.store.telemetry`); ``False`` (and one warning) when the installed
    MLflow lacks the name."""
    if available(_TELEMETRY):
        _resolve("mlflow.telemetry.client", "_set_telemetry_client")(None)
        return True
    if _once(_TELEMETRY):
        logger.warning("lolpop: the installed MLflow %s lacks %s, so lolpop cannot keep MLflow's usage telemetry "
                       "off in this process; set MLFLOW_DISABLE_TELEMETRY=true to turn it off",
                       getattr(mlflow, "__version__", "unknown"), _TELEMETRY)
    return False


def guess_mime_type(file_name: str) -> str:
    """The Content-Type MLflow's artifact proxy gets for ``file_name``."""
    if available("mlflow.utils.mime_type_utils._guess_mime_type"):
        from mlflow.utils.mime_type_utils import _guess_mime_type

        return _guess_mime_type(file_name)
    return _local_mime_type(file_name)


def _local_mime_type(file_name: str) -> str:
    # MLflow 3.17's rule: its text extensions (and the MLmodel / MLproject files) are text/plain,
    # then the standard library's guess, then binary.
    base = posixpath.basename(file_name.replace(os.sep, "/"))
    extension = os.path.splitext(base)[1].replace(".", "") or base
    if extension in _TEXT_EXTENSIONS:
        return "text/plain"
    return mimetypes.guess_type(base)[0] or "application/octet-stream"


#: MLflow 3.17's text extensions (``mlflow.utils.mime_type_utils.get_text_extensions``).
_TEXT_EXTENSIONS = frozenset({"txt", "log", "err", "cfg", "conf", "cnf", "cf", "ini", "properties", "prop",
                              "hocon", "toml", "yaml", "yml", "xml", "json", "js", "py", "py3", "csv", "tsv",
                              "md", "rst", "ipynb", "MLmodel", "mlproject"})

# MLflow 3.17's rule for tag keys (mlflow.utils.validation): letters, digits, '_', '-', '.', ' ',
# ':' and '/', and no name that a path would resolve to something else.
_TAG_NAME = re.compile(r"^[/\w.\- :]*$")


def validate_tag_name(name: str) -> None:
    """Raise ``MlflowException`` (INVALID_PARAMETER_VALUE) for a tag key MLflow refuses."""
    if available("mlflow.utils.validation._validate_tag_name"):
        from mlflow.utils.validation import _validate_tag_name

        _validate_tag_name(name)
        return
    if not _local_tag_name_ok(name):
        raise MlflowException(f"Invalid value {name!r} for parameter 'key': not a name MLflow stores",
                              INVALID_PARAMETER_VALUE)


def _local_tag_name_ok(name: str | None) -> bool:
    if name is None or not _TAG_NAME.match(name):
        return False
    norm = posixpath.normpath(name)
    return not (norm != name or norm == "." or norm.startswith("..") or norm.startswith("/"))


def all_tables_exist(engine: Any) -> bool | None:
    """Whether ``engine``'s database has every table of the installed MLflow's schema; ``None``
    when the installed MLflow gives no way to tell (the caller then refuses the store)."""
    if available(f"{_DB_UTILS}._all_tables_exist"):
        from mlflow.store.db import utils

        return bool(utils._all_tables_exist(engine))
    return _local_all_tables_exist(engine)


def _local_all_tables_exist(engine: Any) -> bool | None:
    try:
        import sqlalchemy

        # Importing the models registers their tables with Base.metadata, as MLflow's check does.
        for models in ("mlflow.store.tracking.dbmodels.models", "mlflow.store.model_registry.dbmodels.models",
                       "mlflow.store.workspace.dbmodels.models"):
            try:
                importlib.import_module(models)
            except ImportError:
                if models.endswith("tracking.dbmodels.models"):
                    raise
        from mlflow.store.db.base_sql_model import Base

        expected = set(Base.metadata.tables)
    except (ImportError, AttributeError):
        return None
    actual = {t for t in sqlalchemy.inspect(engine).get_table_names() if not t.startswith("alembic_")}
    return bool(expected) and expected <= actual


def schema_version(engine: Any) -> str | None:
    """The alembic revision ``engine``'s database is at."""
    if available(f"{_DB_UTILS}._get_schema_version"):
        from mlflow.store.db import utils

        return utils._get_schema_version(engine)
    return _local_schema_version(engine)


def _local_schema_version(engine: Any) -> str | None:
    from alembic.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def latest_schema_revision() -> str | None:
    """The installed MLflow's head revision; ``None`` when it cannot be found (the caller then
    refuses the store)."""
    if available(f"{_DB_UTILS}._get_latest_schema_revision"):
        from mlflow.store.db import utils

        return utils._get_latest_schema_revision()
    return _local_latest_schema_revision()


def _local_latest_schema_revision() -> str | None:
    try:
        from alembic.script import ScriptDirectory

        import mlflow.store

        folder = os.path.join(os.path.dirname(mlflow.store.__file__), "db_migrations")
        heads = ScriptDirectory(folder).get_heads()
    except Exception:  # noqa: BLE001 - any failure means: cannot tell
        return None
    return heads[0] if len(heads) == 1 else None


__all__ = ["BOUNDED", "BOUNDED_CLIENT_OK", "NAMES", "PrivateName", "all_tables_exist", "available",
           "guess_mime_type", "latest_schema_revision", "missing", "schema_version", "validate_tag_name",
           "warn_missing"]


# The lolpop command asked for telemetry off before MLflow was imported (lolpop.store.telemetry):
# done here, right after the import and before anything can call MLflow.
from lolpop.store import telemetry as _telemetry  # noqa: E402 - a stdlib-only leaf

if _telemetry.wanted_off():
    telemetry_off()
