"""How a store refuses access: the one mapping of HTTP 401 and 403 to lolpop errors.

The tracker (:func:`lolpop.store._connection.translate`) and every reader
(:mod:`lolpop.store.clients`) call :func:`access_error`, so a refusal means the same thing
wherever it is met:

* **401** (``UNAUTHENTICATED``): the server did not accept the credentials →
  :class:`~lolpop.exceptions.AuthenticationError`, pointing at the variables lolpop sends.
* **403** (``PERMISSION_DENIED``): the server knows the user, whose permissions do not cover the
  request → :class:`~lolpop.exceptions.PermissionDeniedError` naming what was refused. The
  credentials were fine, so the message does not point at them.

What was refused is read off the endpoint, the way MLflow's ``basic-auth`` app checks it:
permissions are granted per experiment (its runs and LoggedModels follow it) and per registered
model (its versions and aliases follow it). The caller passes every object its request touched
(experiment, run, registered model, ...); the endpoint picks the one the refusal is about.

This module imports neither MLflow nor ``requests`` (the CLI's REST reader uses it too).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from lolpop.exceptions import AuthenticationError, PermissionDeniedError, TrackerUnavailableError
from lolpop.layout.uris import redact

#: What lolpop sends as credentials (named in every 401 message).
CREDENTIALS_HINT = ("(lolpop sends what MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD or "
                    "MLFLOW_TRACKING_TOKEN hold)")

# MLflow's REST client reports a non-JSON error answer as
# "API request to endpoint /api/2.0/mlflow/runs/create failed with error code 403 != 200. ...".
_MLFLOW_HTTP_ERROR = re.compile(r"endpoint (\S+) failed with error code (\d{3}) != \d+")
_UNAUTHENTICATED = frozenset({"UNAUTHENTICATED", "CUSTOMER_UNAUTHORIZED"})
_DENIED = "PERMISSION_DENIED"
_LOGGED_MODEL = re.compile(r"/logged-models/([^/]+)")
_KIND_TEXT = {"experiment": "experiment", "run": "run", "registered_model": "registered model",
              "logged_model": "LoggedModel"}


def request_user(uri: str | None, configured: str | None) -> str | None:
    """The MLflow user a request goes out as, to name in an error: ``configured`` (the
    ``MLFLOW_TRACKING_USERNAME`` the client read), unless ``uri`` carries its own userinfo
    (that wins in ``requests``); then ``None``, since a URI's userinfo may hold a token and
    never reaches an error."""
    if uri and "@" in urlsplit(uri).netloc:
        return None
    return configured or None


def refused_object(endpoint: str | None, objects: dict[str, Any]) -> tuple[str | None, str | None]:
    """``(kind, name)`` of the object a refusal of ``endpoint`` is about: the kind from the
    endpoint, the name from ``objects`` (the keyword arguments of :func:`access_error`; ``None``
    when the caller does not know it); ``(None, None)`` when neither tells."""
    path = urlsplit(endpoint).path if endpoint else ""
    experiment = objects.get("experiment") or objects.get("experiment_id")
    run_id = objects.get("run_id")
    if "/registered-models" in path or "/model-versions" in path:
        return "registered_model", objects.get("registered_model")
    if "/logged-models" in path:
        found = _LOGGED_MODEL.search(path)
        if found is not None and found.group(1) != "search":
            return "logged_model", found.group(1)
        return "experiment", experiment  # creating or searching LoggedModels: a right on the experiment
    if "/runs/" in path and not path.endswith(("/runs/create", "/runs/search")) and (run_id or not experiment):
        return "run", run_id
    if "/runs/" in path or "/experiments/" in path or experiment:
        return "experiment", experiment
    if run_id:
        return "run", run_id
    if objects.get("registered_model"):
        return "registered_model", objects["registered_model"]
    return None, None


def access_error(what: str, *, status: int | None = None, code: str | None = None, message: str = "",
                 uri: str | None = None, endpoint: str | None = None, method: str | None = None,
                 user: str | None = None, **objects: Any) -> TrackerUnavailableError | None:
    """The lolpop error of a refused request, or ``None`` when it was not refused for access.

    Args:
        what: the operation, for the message (``"log_tag"``, ``"setting status 'DEPLOYED' of ..."``).
        status: the HTTP status, when known.
        code: MLflow's ``error_code`` (``"PERMISSION_DENIED"``), when known.
        message: the server's or client's text (redacted here; MLflow's own text carries the
            endpoint and status when ``endpoint`` / ``status`` are not given).
        uri: the tracking URI (attached redacted as ``err.uri``).
        endpoint, method: the request, when known.
        user: the MLflow user the request went out as (see :func:`request_user`).
        **objects: what the request touched, each kept on the error: ``experiment`` (its name),
            ``experiment_id``, ``run_id``, ``registered_model``, ``version``, ``model_id``,
            ``resource_id`` (the lolpop resource).

    Example:
        >>> err = access_error("log_tag", status=403, endpoint="/api/2.0/mlflow/runs/log-batch",
        ...                    run_id="abc", experiment="churn", user="bob")
        >>> type(err).__name__, err.resource_kind, err.resource_name, err.user
        ('PermissionDeniedError', 'run', 'abc', 'bob')
    """
    message = redact(" ".join(str(message).split()))[:600]
    found = _MLFLOW_HTTP_ERROR.search(message)
    if found is not None:
        endpoint = endpoint or found.group(1)
        status = status if status in (401, 403) else int(found.group(2))
    endpoint = redact(endpoint) if endpoint else None
    request = " ".join(p for p in (method, endpoint) if p)
    if status == 401 or code in _UNAUTHENTICATED:
        who = f" of user {user!r}" if user else ""
        shown = f" for {request}" if request and (endpoint or "") not in message else ""
        return AuthenticationError(
            f"{what}: the tracking server rejected the credentials{who} (HTTP 401){shown}: {message} "
            f"{CREDENTIALS_HINT}", uri=redact(uri) if uri else None, user=user, endpoint=endpoint,
        )
    if status != 403 and code != _DENIED:
        return None
    objects = {k: v for k, v in objects.items() if v is not None}
    kind, name = refused_object(endpoint, objects)
    request = request or "the request"
    kind_text = _KIND_TEXT[kind] if kind else "object"
    if name:
        target = f"{kind_text} {name!r}"
    else:  # a reader that knows only the endpoint
        target = f"{'an' if kind_text[0] in 'aeiou' else 'a'} {kind_text}" if kind else ""
    if kind == "run" and (objects.get("experiment") or objects.get("experiment_id")):
        target += f" of experiment {objects['experiment']!r}" if objects.get("experiment") else \
            f" of experiment id {objects['experiment_id']}"
    elif kind == "experiment" and objects.get("experiment_id") and name != objects["experiment_id"]:
        target += f" (id {objects['experiment_id']})"
    elif kind == "registered_model" and objects.get("version"):
        target += f" (version {objects['version']})"
    of_user = f" of user {user!r}" if user else ""
    return PermissionDeniedError(
        f"{what}: permission denied (HTTP 403): the tracking server accepted the credentials{of_user} but "
        f"refused {request}{' on ' + target if target else ''} ({message or 'Permission denied'}); an owner "
        f"of the {kind_text} or an admin can grant the permission",
        resource_kind=kind, resource_name=name, user=user, endpoint=endpoint,
        uri=redact(uri) if uri else None, **objects,
    )


def event_user(uri: str | None, configured: str | None) -> str:
    """Who an event (status change, quarantine) or a run lolpop creates records as its writer.

    The MLflow user on a tracking server (the one requests authenticate as): the user of a URI's
    own ``user:password@`` (that wins in ``requests``), else ``configured`` (the
    ``MLFLOW_TRACKING_USERNAME`` / credentials-file user MLflow's client sends). Where there is no
    MLflow authentication (a database, a file, a server without credentials), the OS login, as
    MLflow itself records it. A URI holding a bare ``token@`` names no user: the token is never
    recorded.
    """
    from urllib.parse import unquote

    if uri and is_server(uri):
        parts = urlsplit(uri)
        if "@" in parts.netloc:
            userinfo = parts.netloc.rsplit("@", 1)[0]
            if ":" in userinfo and userinfo.split(":", 1)[0]:
                return unquote(userinfo.split(":", 1)[0])
        elif configured:
            return configured
    return os_login()


def is_server(uri: str) -> bool:
    return uri.strip().lower().startswith(("http://", "https://"))


def os_login() -> str:
    """The login name, as MLflow's own ``mlflow.user`` context uses it (``"unknown"`` when none)."""
    import getpass

    try:
        return getpass.getuser()
    except (ImportError, KeyError, OSError):
        return "unknown"
