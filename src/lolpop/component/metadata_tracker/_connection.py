"""Connecting to an MLflow store: client creation, first-time init, experiments, error mapping."""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests
from filelock import FileLock
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException, RestException

from lolpop.exceptions import (
    AuthenticationError,
    ConfigError,
    InvalidInputError,
    LolpopError,
    ResourceNotFoundError,
    TrackerUnavailableError,
)
from lolpop.layout.uris import default_artifact_location, is_http, redact, sqlite_path

F = TypeVar("F", bound=Callable[..., Any])

# MLflow's REST client reports an HTTP failure as "... failed with error code 401 != 200 ...".
_AUTH_STATUS = re.compile(r"error code 40[13] != \d+")


def translate(exc: BaseException, what: str) -> LolpopError:
    """Map an MLflow / transport error to lolpop's hierarchy (the caller raises ``from exc``)."""
    message = redact(str(getattr(exc, "message", None) or exc))
    code = getattr(exc, "error_code", None)
    status = getattr(exc, "get_http_status_code", lambda: None)()
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or status in (401, 403) or _AUTH_STATUS.search(message):
        return AuthenticationError(
            f"{what}: the tracking server rejected the credentials: {message} (lolpop sends what "
            "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or MLFLOW_TRACKING_TOKEN hold)"
        )
    if code == "RESOURCE_DOES_NOT_EXIST":
        return ResourceNotFoundError(f"{what}: {message}")
    if code == "INVALID_PARAMETER_VALUE" and isinstance(exc, RestException | MlflowException):
        if "API request" not in message:
            return InvalidInputError(f"{what}: {message}")
    return TrackerUnavailableError(f"{what}: {message}")


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
    """Decorator: MLflow and transport errors leave public methods as lolpop errors."""

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, **kwargs)
        except (LolpopError, TypeError, NotImplementedError):
            raise
        except MlflowException as exc:
            scrub_chain(exc)
            raise translate(exc, f"{type(self).__name__}.{func.__name__}") from exc
        except OSError as exc:  # requests' ConnectionError is an OSError too
            scrub_chain(exc)
            raise TrackerUnavailableError(
                f"{type(self).__name__}.{func.__name__}: {redact(str(exc))}"
            ) from exc

    return wrapper  # type: ignore[return-value]


DEFAULT_REQUEST_TIMEOUT = 10.0
DEFAULT_MAX_RETRIES = 3


def connection_settings(timeout: Any, max_retries: Any) -> tuple[float, int]:
    """Validate the optional ``mlflow_request_timeout`` / ``mlflow_max_retries`` config values.

    Raises:
        ConfigError: a timeout that is not a positive number, or retries that are not an int >= 0.
    """
    if timeout is None:
        timeout = DEFAULT_REQUEST_TIMEOUT
    if max_retries is None:
        max_retries = DEFAULT_MAX_RETRIES
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not math.isfinite(timeout) \
            or timeout <= 0:
        raise ConfigError(f"mlflow_request_timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"mlflow_max_retries must be an int >= 0, got {max_retries!r}")
    return float(timeout), max_retries


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

    One ``GET <uri>/health`` with ``timeout`` seconds, retried ``max_retries`` times (0.5 s, 1 s,
    2 s ... between attempts, at most 5 s). Only this tracker is affected: no environment variable
    or global MLflow setting is touched. ``/health`` needs no credentials, so an authentication
    problem surfaces on the first real request as :class:`AuthenticationError`.

    Raises:
        TrackerUnavailableError: every attempt failed; names the URI with credentials redacted.
    """
    if not is_http(uri):
        return
    parts = urlsplit(uri)
    netloc = parts.netloc.rsplit("@", 1)[-1]  # the probe never sends credentials from the URI
    health = parts._replace(netloc=netloc).geturl().rstrip("/") + "/health"
    last = ""
    for attempt in range(max_retries + 1):
        if attempt:
            sleep(min(0.5 * 2 ** (attempt - 1), 5.0))
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
        "running, or raise mlflow_request_timeout / mlflow_max_retries"
    )


def open_store(uri: str, experiment_name: str, artifact_location: str | None,
               timeout: Any = None, max_retries: Any = None) -> tuple[MlflowClient, str]:
    """Create the client and get-or-create the experiment; returns ``(client, experiment_id)``.

    For a tracking server, a quick ``/health`` probe bounded by ``timeout`` and ``max_retries``
    runs first (see :func:`probe_server`), so a server that is down fails in seconds instead of
    MLflow's minutes of retries.

    A brand-new SQLite file is initialised under a file lock: MLflow's schema creation races
    when several processes open the same new database at once.
    """
    timeout, max_retries = connection_settings(timeout, max_retries)
    probe_server(uri, timeout, max_retries)
    db = sqlite_path(uri)
    if db is None:
        client = MlflowClient(tracking_uri=uri)
        return client, _get_or_create_experiment(client, experiment_name, artifact_location)
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(db) + ".lolpop.lock", timeout=300):
        client = MlflowClient(tracking_uri=uri)  # builds the store, which runs the migrations
        return client, _get_or_create_experiment(
            client, experiment_name, artifact_location or default_artifact_location(uri)
        )


def _get_or_create_experiment(client: MlflowClient, name: str, artifact_location: str | None) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return client.create_experiment(name, artifact_location=artifact_location)
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
    return experiment.experiment_id
