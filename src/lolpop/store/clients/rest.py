"""An MLflow tracking server read over its public REST API with ``requests`` (no MLflow import).

Endpoints (MLflow's stable REST API): ``runs/search``, ``runs/get``, ``experiments/search``,
``experiments/get``, ``experiments/get-by-name``, ``artifacts/list`` and the server's
``/get-artifact`` download (both resolve the run's artifact store on the server, proxied or not);
and ``metrics/get-history-bulk-interval`` (the server's, used by its UI: a range of a metric's
steps), for the version index's history — a server without it is searched instead.

Credentials and TLS settings are the ones MLflow's client would use: ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD`` (or ``~/.mlflow/credentials``) as HTTP basic auth, else
``MLFLOW_TRACKING_TOKEN`` as a bearer token; ``MLFLOW_TRACKING_INSECURE_TLS``,
``MLFLOW_TRACKING_SERVER_CERT_PATH``, ``MLFLOW_TRACKING_CLIENT_CERT_PATH``; ``user:password@`` in
the URI wins, as it does for MLflow (``requests`` applies it).

Every request is bounded: it gives up after ``timeout`` seconds in all, and retries a refused
connection or a transient HTTP status at most ``max_retries`` times within that time, under the
one retry rule of :mod:`lolpop.store._retry` (statuses and pauses); every request here is a read,
so each may be sent again.
"""

from __future__ import annotations

import base64
import configparser
import os
import time
from collections.abc import Callable
from typing import Any

from lolpop import __version__
from lolpop.exceptions import (
    ConfigError,
    ResourceNotFoundError,
    TrackerUnavailableError,
)
from lolpop.layout.access import request_user
from lolpop.layout.uris import redact
from lolpop.store._errors import store_error
from lolpop.store._retry import RETRY_STATUSES, retry_delay
from lolpop.store.clients.base import (
    DEFAULT_ORDER,
    DEFAULT_TIMEOUT,
    MAX_ARTIFACT_BYTES,
    MAX_HISTORY_RESULTS,
    Experiment,
    FileInfo,
    Run,
    RunData,
    RunInfo,
    StoreClient,
    artifact_path,
    metric_value,
)

DEFAULT_MAX_RETRIES = 2
_API = "/api/2.0/mlflow"
# MLflow refuses larger pages.
_MAX_PAGE = 50000


def _env_flag(name: str) -> bool:
    value = os.environ.get(name)
    if value is None:
        return False
    if value.lower() not in ("true", "false", "1", "0"):
        raise ConfigError(f"{name} must be true, false, 1 or 0, got {value!r}")
    return value.lower() in ("true", "1")


def _credentials() -> tuple[str | None, str | None]:
    """``(username, password)`` as MLflow reads them: the environment first, then
    ``~/.mlflow/credentials`` (section ``[mlflow]``)."""
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    path = os.path.expanduser("~/.mlflow/credentials")
    if (not user or not password) and os.path.exists(path):
        config = configparser.ConfigParser()
        try:
            config.read(path)
        except configparser.Error:
            return user, password
        if "mlflow" in config:
            user = user or config["mlflow"].get("mlflow_tracking_username")
            password = password or config["mlflow"].get("mlflow_tracking_password")
    return user, password


def request_options() -> tuple[dict[str, str], dict[str, Any]]:
    """``(headers, requests options)`` with the credentials and TLS settings MLflow would use."""
    headers = {"User-Agent": f"lolpop/{__version__}"}
    user, password = _credentials()
    token = os.environ.get("MLFLOW_TRACKING_TOKEN")
    if user and password:
        headers["Authorization"] = "Basic " + base64.standard_b64encode(f"{user}:{password}".encode()).decode()
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    insecure = _env_flag("MLFLOW_TRACKING_INSECURE_TLS")
    server_cert = os.environ.get("MLFLOW_TRACKING_SERVER_CERT_PATH")
    if insecure and server_cert:
        raise ConfigError("MLFLOW_TRACKING_INSECURE_TLS and MLFLOW_TRACKING_SERVER_CERT_PATH are both set; "
                          "set only one of them")
    options: dict[str, Any] = {"verify": server_cert or not insecure}
    client_cert = os.environ.get("MLFLOW_TRACKING_CLIENT_CERT_PATH")
    if client_cert:
        options["cert"] = client_cert
    return headers, options


class RestClient(StoreClient):
    """Read-only client of an ``http(s)://`` MLflow tracking server.

    Args:
        tracking_uri: the server's URI (``user:password@`` allowed; never shown).
        timeout: seconds one request may take in all, retries included.
        max_retries: retries of a refused connection or a transient HTTP status.
    """

    def __init__(self, tracking_uri: str, timeout: float = DEFAULT_TIMEOUT,
                 max_retries: int = DEFAULT_MAX_RETRIES, sleep: Callable[[float], None] = time.sleep) -> None:
        import requests  # ~0.1 s: only commands that talk to a server pay for it

        self._requests = requests
        self.tracking_uri = tracking_uri
        self.timeout = float(timeout)
        self.max_retries = max_retries
        self._sleep = sleep
        self._base = tracking_uri.rstrip("/")
        self._where = f"MLflow tracking server at {redact(self._base)}"
        headers, self._options = request_options()
        self._session = requests.Session()
        self._session.headers.update(headers)

    # -- transport ---------------------------------------------------------------------------
    def _request(self, method: str, endpoint: str, limit: int | None = None, absent: bytes | None = None,
                 **kwargs: Any) -> bytes:
        """The body of a successful response (``absent``, when given, for HTTP 404); every failure
        becomes a lolpop error."""
        req = self._requests
        url = self._base + endpoint
        deadline = time.monotonic() + self.timeout
        last = ""
        for attempt in range(self.max_retries + 1):
            remaining = deadline - time.monotonic()
            if attempt:
                pause = min(retry_delay(attempt), remaining - 0.05)
                if pause <= 0:
                    break
                self._sleep(pause)
                remaining = deadline - time.monotonic()
            try:
                with self._session.request(method, url, timeout=(remaining, remaining), stream=True,
                                           **self._options, **kwargs) as resp:
                    body = self._read(resp, deadline, limit, endpoint)
                    status = resp.status_code
            except req.exceptions.ConnectTimeout:
                last = f"no connection within {self.timeout:g}s"
                break
            except req.exceptions.Timeout:
                raise TrackerUnavailableError(
                    f"{self._where} did not answer {method} {endpoint} within {self.timeout:g}s "
                    "(the request timeout)") from None
            except req.exceptions.SSLError as exc:
                raise TrackerUnavailableError(f"{self._where}: TLS failed: {redact(str(exc))[:300]}") from None
            except req.exceptions.ConnectionError as exc:
                last = _reason(exc)
                continue
            except req.exceptions.RequestException as exc:  # a malformed URI, too many redirects...
                raise TrackerUnavailableError(f"{self._where}: {type(exc).__name__}: {redact(str(exc))[:300]}") from None
            if status in RETRY_STATUSES:  # every request here is a read: each may be sent again
                last = f"HTTP {status}"
                continue
            if status == 404 and absent is not None:
                return absent
            if status >= 400:
                raise self._http_error(status, body, method, endpoint)
            return body
        raise TrackerUnavailableError(
            f"cannot reach the {self._where} ({method} {endpoint}: {redact(last)[:300]}; "
            f"gave up after {attempt + 1} attempt(s) within {self.timeout:g}s)")

    def _read(self, resp: Any, deadline: float, limit: int | None, endpoint: str) -> bytes:
        chunks, size = [], 0
        for chunk in resp.iter_content(1 << 16):
            size += len(chunk)
            if limit is not None and size > limit:
                raise TrackerUnavailableError(f"{self._where}: {endpoint} answered more than {limit} bytes")
            if time.monotonic() > deadline:
                raise self._requests.exceptions.ReadTimeout()
            chunks.append(chunk)
        return b"".join(chunks)

    def _http_error(self, status: int, body: bytes, method: str, endpoint: str) -> Exception:
        code, message = "", ""
        try:
            error = _json(body)
            code, message = str(error.get("error_code", "")), str(error.get("message", ""))
        except ValueError:
            message = body[:300].decode("utf-8", "replace")
        message = " ".join(message.split())[:500]
        hint = " — is it an MLflow tracking server?" if not code else ""
        return store_error(f"{self._where} refused {method} {endpoint}", status=status, code=code, message=message,
                           uri=self._base, endpoint=endpoint, method=method,
                           user=request_user(self._base, _credentials()[0]),
                           unavailable=f"{self._where} answered HTTP {status} for {method} {endpoint}"
                                       f"{': ' + redact(message) if message else ''}{hint}")

    def _call(self, method: str, endpoint: str, **kwargs: Any) -> dict[str, Any]:
        body = self._request(method, _API + endpoint, **kwargs)
        try:
            data = _json(body)
        except ValueError:
            raise TrackerUnavailableError(
                f"{self._where} answered {endpoint} with something that is not MLflow JSON "
                "— is it an MLflow tracking server?") from None
        return data

    # -- runs --------------------------------------------------------------------------------
    def search_runs(self, experiment_ids: list[str], filter_string: str = "", max_results: int = 1000,
                    order_by: list[str] | None = None) -> list[Run]:
        runs: list[Run] = []
        token = None
        while len(runs) < max_results:
            payload: dict[str, Any] = {
                "experiment_ids": [str(e) for e in experiment_ids], "filter": filter_string,
                "run_view_type": "ACTIVE_ONLY", "max_results": min(max_results - len(runs), _MAX_PAGE),
                "order_by": order_by if order_by is not None else DEFAULT_ORDER,
            }
            if token:
                payload["page_token"] = token
            data = self._call("POST", "/runs/search", json=payload)
            runs.extend(_run(r) for r in data.get("runs", []))
            token = data.get("next_page_token")
            if not token:
                break
        return runs[:max_results]

    def get_run(self, run_id: str) -> Run:
        try:
            return _run(self._call("GET", "/runs/get", params={"run_id": run_id})["run"])
        except ResourceNotFoundError:
            raise ResourceNotFoundError(f"no MLflow run {run_id!r}") from None

    def metric_history(self, run_id: str, key: str, start_step: int, end_step: int,
                       max_results: int) -> list[tuple[float, int]] | None:
        # MLflow's paged metrics/get-history starts from the oldest value (an offset into the
        # whole history); get-history-bulk-interval reads a range of steps and returns every value
        # in it when there are at most max_results (beyond that it samples: asked for one more, a
        # full answer says so). A server without it (404) answers from the whole history, once:
        # reads_metric_ranges turns False and the reader searches from then on.
        limit = min(int(max_results), MAX_HISTORY_RESULTS)
        if self.reads_metric_ranges:
            data = self._call("GET", "/metrics/get-history-bulk-interval", absent=b'{"absent": true}', params={
                "run_ids": run_id, "metric_key": key, "start_step": int(start_step), "end_step": int(end_step),
                "max_results": limit + 1})
            if data.get("absent"):
                self.reads_metric_ranges = False
        if not self.reads_metric_ranges:
            data = {"metrics": self._whole_history(run_id, key)}
        out = []
        for m in data.get("metrics", []) or []:
            step = str(m.get("step", 0))
            if m.get("run_id", run_id) != run_id or m.get("key", key) != key or not step.lstrip("-").isdigit():
                return None
            if start_step <= int(step) <= end_step:
                out.append((metric_value(m.get("value", "NaN")), int(step), int(m.get("timestamp") or 0)))
        if len(out) > limit:
            return None
        return [(value, step) for value, step, _ in sorted(out, key=lambda m: (m[1], m[2], m[0]))]

    def _whole_history(self, run_id: str, key: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        params: dict[str, Any] = {"run_id": run_id, "metric_key": key, "max_results": 25000}
        while True:
            try:
                data = self._call("GET", "/metrics/get-history", params=params)
            except ResourceNotFoundError:
                return out
            out.extend(data.get("metrics", []) or [])
            token = data.get("next_page_token")
            if not token:
                return out
            params["page_token"] = token

    # -- experiments -------------------------------------------------------------------------
    def search_experiments(self) -> list[Experiment]:
        out: list[Experiment] = []
        token = None
        while True:
            payload: dict[str, Any] = {"max_results": _MAX_PAGE, "view_type": "ACTIVE_ONLY"}
            if token:
                payload["page_token"] = token
            data = self._call("POST", "/experiments/search", json=payload)
            out.extend(_experiment(e) for e in data.get("experiments", []))
            token = data.get("next_page_token")
            if not token:
                return out

    def get_experiment(self, experiment_id: str) -> Experiment:
        try:
            return _experiment(self._call("GET", "/experiments/get",
                                          params={"experiment_id": experiment_id})["experiment"])
        except ResourceNotFoundError:
            raise ResourceNotFoundError(f"no MLflow experiment with id {experiment_id!r}") from None

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        try:
            data = self._call("GET", "/experiments/get-by-name", params={"experiment_name": name})
        except ResourceNotFoundError:
            return None
        return _experiment(data["experiment"])

    # -- artifacts ---------------------------------------------------------------------------
    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        params: dict[str, str] = {"run_id": run_id}
        rel = artifact_path(path)
        if rel:
            params["path"] = rel
        out: list[FileInfo] = []
        while True:
            data = self._call("GET", "/artifacts/list", params=params)
            for f in data.get("files", []):
                size = f.get("file_size")
                out.append(FileInfo(str(f["path"]), bool(f.get("is_dir", False)),
                                    None if size is None else int(size)))
            token = data.get("next_page_token")
            if not token:
                return sorted(out, key=lambda f: f.path)
            params["page_token"] = token

    def read_artifact(self, run_id: str, path: str) -> bytes:
        return self._request("GET", "/get-artifact", limit=MAX_ARTIFACT_BYTES,
                             params={"run_id": run_id, "path": artifact_path(path)})

    def close(self) -> None:
        self._session.close()


def _json(body: bytes) -> dict[str, Any]:
    import json

    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _reason(exc: BaseException) -> str:
    """The innermost cause of a connection error, e.g. ``Connection refused``."""
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "No route to host",
                   "Network is unreachable", "Connection reset", "Remote end closed connection"):
        if marker in text:
            return marker
    return f"{type(exc).__name__}: {text}"


def _pairs(items: Any) -> dict[str, str]:
    return {str(i["key"]): str(i.get("value", "")) for i in items or []}


def _run(data: dict[str, Any]) -> Run:
    info, payload = data.get("info", {}), data.get("data", {})

    def ms(key: str) -> int | None:
        value = info.get(key)
        return None if value in (None, "") else int(value)

    metrics = {str(m["key"]): metric_value(m.get("value", "NaN")) for m in payload.get("metrics", []) or []}
    steps = {str(m["key"]): int(m.get("step", 0)) for m in payload.get("metrics", []) or []
             if str(m.get("step", 0)).lstrip("-").isdigit()}
    return Run(
        RunInfo(run_id=str(info.get("run_id") or info.get("run_uuid")),
                experiment_id=str(info.get("experiment_id")), status=str(info.get("status", "")),
                start_time=ms("start_time"), end_time=ms("end_time"),
                artifact_uri=str(info.get("artifact_uri", "")),
                lifecycle_stage=str(info.get("lifecycle_stage", "active")),
                run_name=info.get("run_name"), user_id=info.get("user_id")),
        RunData(tags=_pairs(payload.get("tags")), params=_pairs(payload.get("params")), metrics=metrics,
                metric_steps=steps),
    )


def _experiment(data: dict[str, Any]) -> Experiment:
    created = str(data.get("creation_time", ""))
    return Experiment(str(data["experiment_id"]), str(data.get("name", "")), data.get("artifact_location"),
                      str(data.get("lifecycle_stage", "active")), _pairs(data.get("tags")),
                      creation_time=int(created) if created.isascii() and created.isdigit() else None)
