"""Connecting to an MLflow store: client creation, first-time init, experiments, error mapping."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

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

F = TypeVar("F", bound=Callable[..., Any])

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*://)[^/@\s]+@")


def redact(text: str) -> str:
    """Replace ``user:password@`` in any URI inside ``text`` with ``***@``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def sqlite_path(uri: str) -> Path | None:
    """The database file of a ``sqlite:///`` URI, or ``None`` (other stores, in-memory)."""
    if not uri.startswith("sqlite:"):
        return None
    path = unquote(urlsplit(uri).path)
    if not path or path == "/:memory:" or ":memory:" in uri:
        return None
    # sqlite:///rel.db -> "/rel.db" relative; sqlite:////abs.db -> "//abs.db" absolute
    rest = uri[len("sqlite:///") :] if uri.startswith("sqlite:///") else path
    return Path(unquote(rest.split("?", 1)[0])).resolve()


def default_artifact_location(uri: str) -> str | None:
    """Keep a SQLite store self-contained: artifacts beside the database, not under the cwd."""
    db = sqlite_path(uri)
    if db is None:
        return None
    return (db.parent / "mlartifacts").as_uri()


def translate(exc: BaseException, what: str) -> LolpopError:
    """Map an MLflow / transport error to lolpop's hierarchy (the caller raises ``from exc``)."""
    message = redact(str(getattr(exc, "message", None) or exc))
    code = getattr(exc, "error_code", None)
    status = getattr(exc, "get_http_status_code", lambda: None)()
    if code in ("UNAUTHENTICATED", "PERMISSION_DENIED") or status in (401, 403) or "401" in message[:80]:
        return AuthenticationError(f"{what}: the tracking server rejected the credentials: {message}")
    if code == "RESOURCE_DOES_NOT_EXIST":
        return ResourceNotFoundError(f"{what}: {message}")
    if code == "INVALID_PARAMETER_VALUE" and isinstance(exc, RestException | MlflowException):
        if "API request" not in message:
            return InvalidInputError(f"{what}: {message}")
    return TrackerUnavailableError(f"{what}: {message}")


def translating(func: F) -> F:
    """Decorator: MLflow and transport errors leave public methods as lolpop errors."""

    @functools.wraps(func)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, **kwargs)
        except (LolpopError, TypeError, NotImplementedError):
            raise
        except MlflowException as exc:
            raise translate(exc, f"{type(self).__name__}.{func.__name__}") from exc
        except OSError as exc:  # requests' ConnectionError is an OSError too
            raise TrackerUnavailableError(
                f"{type(self).__name__}.{func.__name__}: {redact(str(exc))}"
            ) from exc

    return wrapper  # type: ignore[return-value]


def open_store(uri: str, experiment_name: str, artifact_location: str | None) -> tuple[MlflowClient, str]:
    """Create the client and get-or-create the experiment; returns ``(client, experiment_id)``.

    A brand-new SQLite file is initialised under a file lock: MLflow's schema creation races
    when several processes open the same new database at once.
    """
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
