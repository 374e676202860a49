"""The one retry rule of every request lolpop sends to a tracking server — MLflow's client under
:class:`~lolpop.store._bounded_client.RequestBound` and the REST reader alike — and the one
classifier of transport failures.

* **How far apart**: :func:`retry_delay` (1, 2, 4, 8, 16, 16 ... s).
* **What is sent again**: a request that never left (:func:`unsent_request`), or that the server
  answered 429/503 (:data:`NOT_APPLIED_STATUSES`: not applied); a request that may have been
  applied (a timeout or reset after sending, a 500/502/504) only when :func:`resendable` —
  everything but creates, which carry a client token and are looked up instead.
* **What is the transport's fault** (worth another attempt later, never the input's):
  :func:`is_transport_error`.

No MLflow import, and ``requests`` only when a failure is classified: the ``lolpop`` command
imports this module on its fast path.
"""

from __future__ import annotations

import errno
import socket
import ssl

#: The longest pause between two attempts of one request.
MAX_BACKOFF = 16.0
#: Answers that say the server did not apply the request: any request may be sent again.
NOT_APPLIED_STATUSES = frozenset({429, 503})
#: Answers worth another attempt for a request that may be sent again (MLflow's own list).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Creates: sending one again after a lost answer would make a second record, so they are never
#: resent blind (the run store looks up the client token they carry first: ``AnswerLost``).
NOT_RESENDABLE = ("/mlflow/runs/create", "/mlflow/logged-models", "/mlflow/model-versions/create")


def retry_delay(retry: int) -> float:
    """Seconds before retry number ``retry`` (1-based): 1, 2, 4, 8, 16, 16 ... With the default
    8 retries the last attempt starts 79 s after the first: a server away for a minute (a
    restart, start-up included) goes unnoticed."""
    return min(2.0 ** (retry - 1), MAX_BACKOFF)


def ride_out_seconds(max_retries: int) -> float:
    """How long a server may refuse connections without a request failing."""
    return sum(retry_delay(n) for n in range(1, max_retries + 1))


def resendable(method: str, endpoint: str) -> bool:
    """Whether a request may be sent again when its answer was lost (everything but creates)."""
    return not (method.upper() == "POST" and endpoint.rstrip("/").endswith(NOT_RESENDABLE))


def unsent_request(exc: BaseException) -> bool | None:
    """For a failed attempt: ``True`` when the request never left (no connection), ``False``
    when it may have reached the server (a timeout or reset after sending), ``None`` when the
    failure is not a transport failure at all."""
    import requests  # only a process that talks to a server pays for it
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, requests.ConnectTimeout):
            return True
        if isinstance(cur, requests.RequestException):
            reason = getattr(cur.args[0], "reason", None) if cur.args else None
            return isinstance(reason, (NewConnectionError, ConnectTimeoutError))
        cur = cur.__cause__ or cur.__context__
    return None


# Socket errors that mean "the other side", whatever layer raised them.
_NETWORK_ERRNOS = {errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTUNREACH, errno.EHOSTDOWN,
                   errno.ECONNREFUSED, errno.ECONNRESET, errno.ECONNABORTED, errno.ETIMEDOUT, errno.EPIPE}


def is_transport_error(exc: BaseException) -> bool:
    """True for an ``OSError`` from talking to a store (connection refused / reset, timeout, DNS,
    TLS, an HTTP error status); False for a local file-system error (a path under a file,
    permission denied, disk full), which is not the store's fault."""
    import requests

    return (isinstance(exc, (requests.RequestException, ConnectionError, TimeoutError, socket.gaierror,
                             socket.herror, ssl.SSLError))
            or isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS)


#: MLflow error codes that say the store could not take the request now, whatever the status.
_UNAVAILABLE_CODES = ("TEMPORARILY_UNAVAILABLE", "REQUEST_LIMIT_EXCEEDED")
#: Codes of a 5xx answer that still refuse the request itself: sending it again cannot help.
_REFUSAL_CODES = ("INVALID_PARAMETER_VALUE", "BAD_REQUEST", "INVALID_STATE")


def store_unavailable(exc: BaseException) -> bool:
    """Whether a failed write failed for want of the store (worth holding and sending again
    later), as opposed to a refusal of the request: a transport error (:func:`is_transport_error`,
    and any ``OSError`` on the way to the store), or an MLflow error that says so by its code or
    a 5xx status (MLflow's exceptions read by their ``error_code`` / ``get_http_status_code``)."""
    code = getattr(exc, "error_code", None)
    status_of = getattr(exc, "get_http_status_code", None)
    if code is not None and callable(status_of):
        return code in _UNAVAILABLE_CODES or status_of() >= 500 and code not in _REFUSAL_CODES
    return is_transport_error(exc) or isinstance(exc, OSError)
