"""Connecting to an MLflow store: client creation, first-time init, experiments, error mapping."""

from __future__ import annotations

import functools
import math
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from filelock import FileLock
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from lolpop.store import _compat as compat
from lolpop.store._bounded_client import BoundedMlflowClient, RequestBound
from lolpop.store._bounded_client import artifact_repository as _artifact_repository
from lolpop.exceptions import (
    ConfigError,
    LolpopError,
    TrackerUnavailableError,
)
from lolpop.layout.access import access_error, request_user
from lolpop.store._errors import mlflow_error
from lolpop.store._preflight import check_store
from lolpop.store._retry import is_transport_error, retry_delay
from lolpop.layout.keys import (MADE_FROM_EXPERIMENT_TAG, MADE_FROM_INDEXED, MLFLOW_EXPERIMENT_KIND,
                                TRAINING_EXPERIMENT_KIND)
from lolpop.layout.uris import default_artifact_location, is_http, redact, sqlite_path

F = TypeVar("F", bound=Callable[..., Any])


def tracking_user(uri: str | None) -> str | None:
    """The MLflow user requests to ``uri`` go out as, as MLflow reads it
    (``MLFLOW_TRACKING_USERNAME``, else ``~/.mlflow/credentials``), for naming in errors;
    ``None`` with a token, without credentials, or when the URI carries its own userinfo."""
    try:
        from mlflow.utils.credentials import read_mlflow_creds

        configured = read_mlflow_creds().username
    except Exception:  # noqa: BLE001 - naming the user is a courtesy, never a new failure
        configured = None
    return request_user(uri, configured)


def translate(exc: BaseException, what: str, uri: str | None = None, **objects: Any) -> LolpopError:
    """Map an MLflow / transport error to lolpop's hierarchy (the caller raises ``from exc``).

    ``uri`` (the tracking URI) is attached, redacted, to a :class:`TrackerUnavailableError`.
    ``objects`` are what the request touched (``experiment``, ``experiment_id``, ``run_id``,
    ``registered_model``, ``version``, ``model_id``, ``resource_id``): a refusal for lack of a
    permission names the one it was about (:func:`lolpop.layout.access.access_error`, the one
    401/403 mapping of the tracker and the readers).
    """
    return mlflow_error(exc, what, uri=uri, user=tracking_user(uri), **objects)


def warn_with_traceback(log: Any, message: str, *args: Any) -> None:
    """``log.warning(message, *args, exc_info=True)`` for the exception being handled, with URI
    credentials redacted in it and its causes first (:func:`scrub_chain`): a failure lolpop only
    warns about (a picture, a timed flush) never prints a password in the traceback."""
    scrub_chain(sys.exc_info()[1])
    log.warning(message, *args, exc_info=True)


def scrub_chain(exc: BaseException | None) -> None:
    """Redact URI credentials in place in ``exc`` and its causes/contexts (MLflow's messages embed
    the request URL, userinfo included), so a logged traceback never shows a password."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        try:
            exc.args = tuple(redact(a) if isinstance(a, str) else a for a in exc.args)
            if isinstance(getattr(exc, "message", None), str):
                exc.message = redact(exc.message)  # type: ignore[attr-defined]
        except Exception:  # noqa: BLE001 - some exception types refuse attribute writes
            pass
        exc = exc.__cause__ or exc.__context__


def translating(func: F) -> F:
    """Decorator: MLflow and transport errors leave public methods as lolpop errors.

    Errors are mapped by cause (see :mod:`lolpop.exceptions`): the store's failures (MLflow
    errors, connection refused, timeouts, 5xx) become :class:`TrackerUnavailableError` carrying
    ``uri`` (the object's ``url``, redacted); a local file-system ``OSError`` passes unchanged.
    Credentials are scrubbed from the whole exception chain either way.
    """

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, **kwargs)
        except (LolpopError, TypeError, NotImplementedError) as exc:
            scrub_chain(exc)
            raise
        except MlflowException as exc:
            scrub_chain(exc)
            raise translate(exc, f"{type(self).__name__}.{func.__name__}", getattr(self, "url", None),
                            **_touched(self, args)) from exc
        except OSError as exc:  # requests' ConnectionError is an OSError too
            scrub_chain(exc)
            if not is_transport_error(exc):
                raise
            raise _unavailable(self, func, exc, args) from exc
        except Exception as exc:
            # MLflow's SQL stores let some SQLAlchemy errors through unwrapped.
            sql_errors = sys.modules.get("sqlalchemy.exc")
            if sql_errors is None or not isinstance(exc, sql_errors.SQLAlchemyError):
                raise
            scrub_chain(exc)
            raise _unavailable(self, func, exc) from exc

    return wrapper  # type: ignore[return-value]


def _touched(obj: Any, args: tuple[Any, ...]) -> dict[str, Any]:
    """What a tracker call touches, for naming a refused permission: the tracker's experiment,
    and the run (and its experiment) of a resource passed first."""
    touched: dict[str, Any] = {"experiment": getattr(obj, "experiment_name", None),
                               "experiment_id": getattr(obj, "experiment_id", None)}
    resource = args[0] if args else None
    info = getattr(resource[1], "info", None) if isinstance(resource, (tuple, list)) and len(resource) == 2 else None
    if isinstance(getattr(info, "run_id", None), str):
        touched["run_id"] = info.run_id
        touched["resource_id"] = resource[0] if isinstance(resource[0], str) else None
        if getattr(info, "experiment_id", None) not in (None, touched["experiment_id"]):
            # Another experiment's run: its name is not at hand (reading it could be refused too).
            touched.update(experiment=None, experiment_id=str(info.experiment_id))
    return touched


def _unavailable(obj: Any, func: Callable[..., Any], exc: BaseException,
                 args: tuple[Any, ...] = ()) -> TrackerUnavailableError:
    url = getattr(obj, "url", None)
    uri = redact(url) if url is not None else None
    what = f"{type(obj).__name__}.{func.__name__}"
    response = getattr(exc, "response", None)  # an artifact request the server refused
    if isinstance(exc, requests.HTTPError) and response is not None:
        refused = access_error(what, status=getattr(response, "status_code", None), message=str(exc), uri=url,
                               endpoint=urlsplit(str(getattr(response, "url", "") or "")).path or None,
                               method=getattr(getattr(response, "request", None), "method", None),
                               user=tracking_user(url), **_touched(obj, args))
        if refused is not None:
            return refused
    return TrackerUnavailableError(f"{what}: {redact(str(exc))}", uri=uri)


#: Seconds one attempt of a request may wait (to connect, and for each answer): generous, since a
#: loaded server answering a large search, or passing a big artifact on to S3, can take a while.
DEFAULT_REQUEST_TIMEOUT = 30.0
#: Retries after a failed attempt, 1, 2, 4, 8, 16, 16, 16, 16 s apart (``retry_delay``): a server
#: that refuses connections for up to 79 s (a restart, start-up included) goes unnoticed. A
#: server that accepts connections and never answers fails a call after 9 x the timeout + 79 s
#: (about 6 minutes).
DEFAULT_MAX_RETRIES = 8
#: MLflow's HTTP client refuses more retries than this (``_MLFLOW_HTTP_REQUEST_MAX_RETRIES_LIMIT``).
MAX_RETRIES_LIMIT = 10
#: A live server answers ``GET /health`` at once: no probe attempt waits longer than this.
PROBE_TIMEOUT_CAP = 10.0


def request_bound(timeout: Any = None, max_retries: Any = None) -> RequestBound:
    """Validate the optional ``mlflow_request_timeout`` / ``mlflow_max_retries`` config values.

    Raises:
        ConfigError: a timeout that is not a positive number, or retries that are not an int
            from 0 to :data:`MAX_RETRIES_LIMIT`.
    """
    if timeout is None:
        timeout = DEFAULT_REQUEST_TIMEOUT
    if max_retries is None:
        max_retries = DEFAULT_MAX_RETRIES
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or timeout <= 0:
        raise ConfigError(f"mlflow_request_timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or not 0 <= max_retries <= MAX_RETRIES_LIMIT:
        raise ConfigError(f"mlflow_max_retries must be an int from 0 to {MAX_RETRIES_LIMIT}, got {max_retries!r}")
    return RequestBound(float(timeout), max_retries)


def _tls_options(uri: str) -> dict[str, Any]:
    """The TLS settings MLflow itself would use (MLFLOW_TRACKING_INSECURE_TLS,
    MLFLOW_TRACKING_SERVER_CERT_PATH, MLFLOW_TRACKING_CLIENT_CERT_PATH) — never credentials."""
    from mlflow.utils.credentials import get_default_host_creds

    try:
        creds = get_default_host_creds(uri)
        options: dict[str, Any] = {"verify": creds.verify if creds.verify is not None else True}
        if creds.client_cert_path:
            options["cert"] = creds.client_cert_path
        return options
    except Exception:  # noqa: BLE001 - fall back to requests' defaults
        return {}


def probe_server(uri: str, timeout: float, max_retries: int, sleep: Callable[[float], None] = time.sleep) -> None:
    """Fail fast when an ``http(s)://`` tracking server cannot be reached.

    One ``GET <uri>/health`` with ``timeout`` seconds (at most :data:`PROBE_TIMEOUT_CAP`),
    retried ``max_retries`` times, as far apart as every other request's retries
    (:func:`~lolpop.store._retry.retry_delay`), so a tracker
    started while its server restarts waits for it just as a write would. Only this
    tracker is affected: no environment variable or global MLflow setting is touched. ``/health``
    needs no credentials, so an authentication problem surfaces on the first real request as
    :class:`AuthenticationError`.

    Raises:
        TrackerUnavailableError: every attempt failed; names the URI with credentials redacted.
    """
    if not is_http(uri):
        return
    timeout = min(timeout, PROBE_TIMEOUT_CAP)
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # the probe never sends credentials from the URI
    health = parts._replace(netloc=netloc).geturl().rstrip("/") + "/health"
    last = ""
    for attempt in range(max_retries + 1):
        if attempt:
            sleep(retry_delay(attempt))
        try:
            resp = requests.get(health, timeout=timeout, allow_redirects=False, **_tls_options(uri))
        except requests.RequestException as exc:
            last = f"{type(exc).__name__}: {exc}"
            continue
        if resp.status_code < 500:
            return
        last = f"HTTP {resp.status_code}"
    raise TrackerUnavailableError(
        f"MLflow tracking server at {redact(uri)} is unreachable: {max_retries + 1} attempt(s) with a "
        f"{timeout:g}s timeout failed (last error: {redact(last)[:300]}). Check that the server is "
        "running, or raise mlflow_request_timeout / mlflow_max_retries",
        uri=redact(uri),
    )


# ---------------------------------------------------------------------------------------------
# clients
# ---------------------------------------------------------------------------------------------
def _new_client(uri: str, bound: RequestBound) -> MlflowClient:
    """The bounded client for a tracking server; MLflow's own client for other stores, and for a
    server when the installed MLflow lacks a private name the bounded client needs (one warning
    says so, naming the names and what is lost: :func:`lolpop.store._compat.warn_missing`)."""
    compat.warn_missing(server=is_http(uri))
    try:
        if is_http(uri) and compat.BOUNDED_CLIENT_OK:
            return BoundedMlflowClient(uri, bound)
        return MlflowClient(tracking_uri=uri)
    except MlflowException as exc:
        scrub_chain(exc)
        raise translate(exc, f"opening the MLflow store at {redact(uri)}", uri) from exc


def bounded_client(uri: str, timeout: Any = None, max_retries: Any = None, *, create: bool = False) -> MlflowClient:
    """An ``MlflowClient`` on ``uri`` whose every request to a tracking server is bounded.

    For an ``http(s)://`` URI each request (tracking, model registry, and artifacts through the
    server's proxy) waits at most ``timeout`` seconds per attempt for ``max_retries + 1``
    attempts (defaults :data:`DEFAULT_REQUEST_TIMEOUT`, :data:`DEFAULT_MAX_RETRIES`); other
    MLflow clients in the process keep MLflow's settings. The URI is checked first
    (:func:`check_store`) and a server probed (:func:`probe_server`), so a bad store fails in
    seconds with a lolpop error.

    Args:
        uri: the tracking URI.
        timeout, max_retries: as the tracker's ``mlflow_request_timeout`` / ``mlflow_max_retries``.
        create: ``False`` (default, for readers such as the CLI): an SQLite file or database that
            holds no MLflow store yet is a :class:`ConfigError`, never turned into a new store.

    Raises:
        ConfigError, AuthenticationError, TrackerUnavailableError: see :func:`check_store`,
            :func:`probe_server`.

    Example:
        >>> client = bounded_client("http://127.0.0.1:5000", timeout=10, max_retries=2)
    """
    bound = request_bound(timeout, max_retries)
    check_store(uri, create=create, timeout=bound.timeout)
    probe_server(uri, bound.timeout, bound.max_retries)
    return _new_client(uri, bound)


def artifact_repository(client: MlflowClient, artifact_uri: str) -> Any:
    """The artifact repository of a run's ``artifact_uri``, with ``client``'s request bound
    (MLflow's ``get_artifact_repository`` would use the process-wide settings)."""
    return _artifact_repository(artifact_uri, client.tracking_uri, getattr(client, "bound", None))


def open_store(uri: str, experiment_name: str, artifact_location: str | None,
               timeout: Any = None, max_retries: Any = None) -> tuple[MlflowClient, str, dict[str, str], bool]:
    """Create the client and get-or-create the experiment; returns ``(client, experiment_id,
    experiment tags, created)`` — ``created``: this call made the experiment (one caller can).

    The client is :func:`bounded_client`'s (with ``create=True``): the URI is checked, a tracking
    server probed, and every later request bounded by ``timeout`` / ``max_retries``.

    A brand-new SQLite file is initialised under a file lock: MLflow's schema creation races
    when several processes open the same new database at once.
    """
    bound = request_bound(timeout, max_retries)
    check_store(uri, create=True, timeout=bound.timeout)
    probe_server(uri, bound.timeout, bound.max_retries)
    db = sqlite_path(uri)
    if db is None:
        client = _new_client(uri, bound)
        return (client, *_get_or_create_experiment(client, experiment_name, artifact_location))
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lolpop.lock", timeout=300):
        client = _new_client(uri, bound)  # builds the store, which runs the migrations
        return (client, *_get_or_create_experiment(
            client, experiment_name, artifact_location or default_artifact_location(uri)
        ))


def _get_or_create_experiment(client: MlflowClient, name: str, artifact_location: str | None
                              ) -> tuple[str, dict[str, str], bool]:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            # opens on its training runs; its writers index prediction jobs by what they were made from
            tags = {MLFLOW_EXPERIMENT_KIND: TRAINING_EXPERIMENT_KIND, MADE_FROM_EXPERIMENT_TAG: MADE_FROM_INDEXED}
            return client.create_experiment(name, artifact_location=artifact_location, tags=tags), tags, True
        except MlflowException as exc:
            # Another process created it between our read and our create: use theirs.
            if exc.error_code != "RESOURCE_ALREADY_EXISTS" and "already exists" not in str(exc).lower():
                raise
            experiment = client.get_experiment_by_name(name)
            if experiment is None:
                raise
    if experiment.lifecycle_stage == "deleted":
        raise ConfigError(
            f"MLflow experiment {name!r} is deleted; restore it (mlflow experiments restore "
            f"--experiment-id {experiment.experiment_id}) or choose another mlflow_experiment_name"
        )
    return experiment.experiment_id, dict(experiment.tags), False
