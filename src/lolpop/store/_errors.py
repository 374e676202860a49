"""The one mapping of a store's refusals and failures to :mod:`lolpop.exceptions`, for the
tracker (``_connection.translate``) and every reader (REST, ``MlflowClient`` adapter) alike.

A store answers with an HTTP status and, from MLflow, an error code; the mapping goes by both:

* refused for access (401 credentials, 403 a permission): :func:`lolpop.layout.access.access_error`
  → :class:`~lolpop.exceptions.PermissionDeniedError` / credentials error, naming what was refused;
* ``RESOURCE_DOES_NOT_EXIST`` → :class:`~lolpop.exceptions.ResourceNotFoundError`;
* ``INVALID_PARAMETER_VALUE`` → :class:`~lolpop.exceptions.InvalidInputError`, except MLflow's
  client-side "API request ... failed" (it uses that code for a request that never got an
  answer: the store was unreachable, not the input wrong);
* anything else → :class:`~lolpop.exceptions.TrackerUnavailableError`, carrying the URI redacted.
"""

from __future__ import annotations

from typing import Any

from lolpop.exceptions import InvalidInputError, LolpopError, ResourceNotFoundError, TrackerUnavailableError
from lolpop.layout.access import access_error
from lolpop.layout.uris import redact

#: How MLflow's client words a request that failed before any answer (with an error code that
#: would otherwise read as "your input was wrong").
_NO_ANSWER = "API request"


def store_error(what: str, *, status: int | None = None, code: str | None = None, message: str = "",
                uri: str | None = None, endpoint: str | None = None, method: str | None = None,
                user: str | None = None, unavailable: str | None = None, **objects: Any) -> LolpopError:
    """The lolpop error for a store's answer ``status`` / ``code`` / ``message`` to ``what``.

    ``objects`` name what the request touched (``experiment``, ``run_id``, ``registered_model``,
    ...), for a refused permission. ``unavailable`` replaces the message of the last case (the
    REST reader says what it asked and what came back). ``message`` is redacted here.
    """
    message = redact(message)
    refused = access_error(what, status=status, code=code, message=message, uri=uri, endpoint=endpoint,
                           method=method, user=user, **objects)
    if refused is not None:
        return refused
    if code == "RESOURCE_DOES_NOT_EXIST":
        return ResourceNotFoundError(f"{what}: {message}" if message else f"{what}: not found")
    if code == "INVALID_PARAMETER_VALUE" and _NO_ANSWER not in message:
        return InvalidInputError(f"{what}: {message}")
    return TrackerUnavailableError(unavailable or f"{what}: {message}",
                                   uri=redact(uri) if uri is not None else None)


def mlflow_error(exc: BaseException, what: str, *, uri: str | None = None, user: str | None = None,
                 **objects: Any) -> LolpopError:
    """:func:`store_error` for an exception raised by MLflow's client (or the transport under it)."""
    message = " ".join(str(getattr(exc, "message", None) or exc).split())[:600]
    status = getattr(exc, "get_http_status_code", lambda: None)()
    return store_error(what, status=status, code=getattr(exc, "error_code", None), message=message, uri=uri,
                       user=user, **objects)
