"""An ``MlflowClient`` whose every request to a tracking server has lolpop's time bound.

MLflow's REST calls take their timeout and retry count from process-wide environment variables
(``MLFLOW_HTTP_REQUEST_TIMEOUT`` = 120 s, ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` = 7), so a server
that accepts connections but never answers holds a call for 20 minutes. Changing those variables
would change every other MLflow client in the process. Instead, the stores of *this* client pass
``timeout`` / ``max_retries`` explicitly to MLflow's own ``http_request``:

* the tracking and model-registry ``RestStore`` subclasses override ``_call_endpoint``, through
  which every tracking and registry call goes (only a few GenAI endpoints, which lolpop does not
  use, call MLflow's ``http_request`` directly);
* the artifact repositories of the tracking server's proxy (``mlflow-artifacts:``, and plain
  ``http(s)://`` artifact URIs) override upload, listing and download. MLflow's presigned
  multipart transfers (opt-in, files of 500 MB and more) keep MLflow's own settings.

Nothing global is touched: no environment variable, no module attribute, no shared cache entry
(MLflow caches artifact repositories per run id process-wide; this client keeps its own).

Every MLflow private name used here is listed in :mod:`lolpop.store._compat`; on an MLflow that lacks
one, ``compat.BOUNDED_CLIENT_OK`` is False and this client is never built.
"""

from __future__ import annotations

import json
import os
import posixpath
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Any

from mlflow import MlflowClient
from mlflow.entities import FileInfo
from mlflow.exceptions import InvalidUrlException, MlflowException, RestException
from mlflow.protos.databricks_pb2 import ENDPOINT_NOT_FOUND, TEMPORARILY_UNAVAILABLE, ErrorCode
from mlflow.store.artifact.artifact_repo import verify_artifact_path
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
from mlflow.store.artifact.http_artifact_repo import HttpArtifactRepository
from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository
from mlflow.store.model_registry.rest_store import RestStore as RegistryRestStore
from mlflow.store.tracking.rest_store import RestStore
from mlflow.utils.credentials import get_default_host_creds
from mlflow.utils.proto_json_utils import parse_dict
from mlflow.utils.rest_utils import augmented_raise_for_status, http_request, verify_rest_response
from mlflow.utils.uri import validate_path_is_safe

from lolpop.store import _compat as compat
from lolpop.store._retry import NOT_APPLIED_STATUSES, RETRY_STATUSES, resendable, retry_delay, unsent_request
from lolpop.layout.uris import is_http, redact

# MLflow's private client classes, subclassed below. This module must import on an MLflow that
# lacks them (RequestBound and AnswerLost are used everywhere): then the bounded classes are
# defined on ``object`` and never built, since ``compat.BOUNDED_CLIENT_OK`` is False and
# _connection falls back to MLflow's own client.
if compat.BOUNDED_CLIENT_OK:
    from mlflow.tracking._model_registry.client import ModelRegistryClient
    from mlflow.tracking._tracking_service.client import TrackingServiceClient
else:  # pragma: no cover - exercised by the compatibility test's subprocess
    ModelRegistryClient = TrackingServiceClient = object  # type: ignore[misc,assignment]

class AnswerLost(MlflowException):
    """A create reached the server (or may have) and its answer was lost: it may have been
    applied. Never resent blind; the caller looks the record up by the token it carries."""

    def __init__(self, message: str, *, method: str, endpoint: str) -> None:
        super().__init__(message, error_code=TEMPORARILY_UNAVAILABLE)
        self.method = method
        self.endpoint = endpoint


@dataclass(frozen=True)
class RequestBound:
    """How long one request may take: ``timeout`` seconds per attempt (connecting, and waiting
    for each answer), ``max_retries`` more attempts after a failure, :func:`~lolpop.store._retry.retry_delay` apart.

    The one retry rule of lolpop's requests: a request that never left, or that the server
    answered 429/503, is sent again; a request that may have been applied (a timeout or a reset
    after sending, a 500/502/504) is sent again only when it is :func:`~lolpop.store._retry.resendable`, otherwise
    :class:`AnswerLost` is raised at once.
    """

    timeout: float
    max_retries: int

    def http_request(self, host_creds: Any, endpoint: str, method: str, **kwargs: Any) -> Any:
        """MLflow's ``http_request``, one attempt at a time under the rule above. A transport
        failure on the last attempt is an ``MlflowException`` naming the server (redacted) and
        lolpop's settings, since MLflow's own message points at its environment variables."""
        resend = resendable(method, endpoint)
        body = kwargs.get("data")
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(retry_delay(attempt))
                if hasattr(body, "seek"):
                    body.seek(0)  # a file upload is read again from its start
            try:
                # max_retries=0 and no retry codes: MLflow's session would resend everything,
                # creates included; each attempt is decided here.
                response = http_request(host_creds, endpoint, method, max_retries=0, backoff_factor=0,
                                        retry_codes=(), timeout=self.timeout, **kwargs)
            except InvalidUrlException:
                raise
            except MlflowException as exc:
                unsent = unsent_request(exc)
                if unsent is None and exc.error_code != ErrorCode.Name(ErrorCode.INTERNAL_ERROR):
                    raise  # not a transport failure (e.g. MLflow refused its own arguments)
                last = redact(str(exc.__cause__ or exc.__context__ or exc.message))[:300]
                if not unsent and not resend:
                    raise AnswerLost(f"{method} {endpoint} to {redact(host_creds.host)} may have been applied; "
                                     f"its answer was lost ({last})", method=method, endpoint=endpoint) from exc
                continue
            status = response.status_code
            if status not in RETRY_STATUSES:
                return response
            last = f"HTTP {status}"
            if status not in NOT_APPLIED_STATUSES and not resend:
                raise AnswerLost(f"{method} {endpoint} to {redact(host_creds.host)} answered {status}: it may "
                                 "have been applied", method=method, endpoint=endpoint)
        raise MlflowException(
            f"MLflow tracking server at {redact(host_creds.host)} did not answer {method} {endpoint}: "
            f"{self.max_retries + 1} attempt(s) with a {self.timeout:g}s timeout failed ({last}). "
            "Check that the server is running, or raise mlflow_request_timeout / mlflow_max_retries",
            error_code=TEMPORARILY_UNAVAILABLE,
        )

    def call_endpoint(self, host_creds: Any, endpoint: str, method: str, json_body: str | None,
                      response_proto: Any, extra_headers: dict[str, str] | None = None,
                      expected_status: int = 200) -> Any:
        """``mlflow.utils.rest_utils.call_endpoint`` with this bound."""
        body = json.loads(json_body) if json_body is not None else None
        kwargs: dict[str, Any] = {"params" if method == "GET" else "json": body}
        if extra_headers is not None:
            kwargs["extra_headers"] = extra_headers
        response = self.http_request(host_creds, endpoint, method, **kwargs)
        response = verify_rest_response(response, endpoint, expected_status=expected_status)
        if response.status_code == 204:
            return response_proto
        parse_dict(js_dict=json.loads(response.text), message=response_proto)
        return response_proto


class BoundedRestStore(RestStore):
    """MLflow's tracking ``RestStore``; every REST call carries ``bound``."""

    def __init__(self, get_host_creds: Any, bound: RequestBound) -> None:
        super().__init__(get_host_creds)
        self.bound = bound

    def _call_endpoint(self, api: Any, json_body: str | None = None, endpoint: str | None = None,
                       retry_timeout_seconds: Any = None, response_proto: Any = None) -> Any:
        # RestStore._call_endpoint, ending in the bounded call instead of the module-wide one.
        method_to_info = self._V3_METHOD_TO_INFO if api in self._V3_APIS else self._METHOD_TO_INFO
        self._validate_workspace_support_if_specified()
        if endpoint:
            _, method = method_to_info[api]
        else:
            endpoint, method = method_to_info[api]
        response_proto = response_proto or api.Response()
        return self.bound.call_endpoint(self.get_host_creds(), endpoint, method, json_body, response_proto)


class BoundedRegistryRestStore(RegistryRestStore):
    """MLflow's model-registry ``RestStore``; every REST call carries ``bound``."""

    def __init__(self, get_host_creds: Any, bound: RequestBound) -> None:
        super().__init__(get_host_creds)
        self.bound = bound

    def _call_endpoint(self, api: Any, json_body: str | None, call_all_endpoints: bool = False,
                       extra_headers: dict[str, str] | None = None) -> Any:
        # RestStore._call_endpoint + BaseRestStore._call_endpoint / call_endpoints, bounded.
        self._validate_workspace_support_if_specified()
        response_proto = self._get_response_from_method(api)
        if not call_all_endpoints:
            endpoint, method = self._get_endpoint_from_method(api)
            return self.bound.call_endpoint(self.get_host_creds(), endpoint, method, json_body,
                                            response_proto, extra_headers)
        endpoints = self._get_all_endpoints_from_method(api)
        for i, (endpoint, method) in enumerate(endpoints):
            try:
                return self.bound.call_endpoint(self.get_host_creds(), endpoint, method, json_body,
                                                response_proto, extra_headers)
            except RestException as exc:
                if exc.error_code != ErrorCode.Name(ENDPOINT_NOT_FOUND) or i == len(endpoints) - 1:
                    raise
        raise AssertionError("unreachable: MLflow lists at least one endpoint per method")


class _BoundedHttpTransfers:
    """Upload, listing and download of :class:`HttpArtifactRepository`, with ``self.bound``.

    The bodies mirror MLflow 3.17's ``HttpArtifactRepository`` methods; only the request call
    differs. Multipart transfers are left to MLflow (see the module docstring).
    """

    bound: RequestBound

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        if self._should_multipart_upload(local_file):  # type: ignore[attr-defined]
            super().log_artifact(local_file, artifact_path)  # type: ignore[misc]
            return
        verify_artifact_path(artifact_path)
        file_name = os.path.basename(local_file)
        paths = (artifact_path, file_name) if artifact_path else (file_name,)
        endpoint = posixpath.join("/", *paths)
        with open(local_file, "rb") as f:
            resp = self.bound.http_request(self._host_creds, endpoint, "PUT", data=f,  # type: ignore[attr-defined]
                                           extra_headers={"Content-Type": compat.guess_mime_type(file_name)})
            augmented_raise_for_status(resp)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        endpoint = "/mlflow-artifacts/artifacts"
        url, tail = self.artifact_uri.split(endpoint, maxsplit=1)  # type: ignore[attr-defined]
        root = tail.lstrip("/")
        params = {"path": posixpath.join(root, path) if path else root}
        resp = self.bound.http_request(get_default_host_creds(url), endpoint, "GET", params=params)
        augmented_raise_for_status(resp)
        infos = []
        for f in resp.json().get("files", []):
            safe = validate_path_is_safe(f["path"])
            infos.append(FileInfo(posixpath.join(path, safe) if path else safe, f["is_dir"],
                                  int(f["file_size"]) if "file_size" in f else None))
        # Like MLflow: listing a single file's path yields nothing.
        if (len(infos) == 1 and not infos[0].is_dir and path is not None
                and infos[0].path == posixpath.join(path, os.path.basename(path))):
            return []
        return sorted(infos, key=lambda f: f.path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        multipart = getattr(self, "_is_multipart_download_enabled", lambda: False)
        if multipart():
            super()._download_file(remote_file_path, local_path)  # type: ignore[misc]
            return
        endpoint = posixpath.join("/", remote_file_path)
        resp = self.bound.http_request(self._host_creds, endpoint, "GET", stream=True)  # type: ignore[attr-defined]
        augmented_raise_for_status(resp)
        with open(local_path, "wb") as f:
            for chunk in resp.iter_content(chunk_size=1024 * 1024):
                f.write(chunk)


class BoundedMlflowArtifactsRepository(_BoundedHttpTransfers, MlflowArtifactsRepository):
    """``mlflow-artifacts:`` (the tracking server's artifact proxy), bounded."""

    def __init__(self, artifact_uri: str, tracking_uri: str, bound: RequestBound) -> None:
        super().__init__(artifact_uri, tracking_uri=tracking_uri)
        self.bound = bound


class BoundedHttpArtifactRepository(_BoundedHttpTransfers, HttpArtifactRepository):
    """``http(s)://`` artifact URIs, bounded."""

    def __init__(self, artifact_uri: str, tracking_uri: str, bound: RequestBound) -> None:
        super().__init__(artifact_uri, tracking_uri=tracking_uri)
        self.bound = bound


def artifact_repository(artifact_uri: str, tracking_uri: str, bound: RequestBound | None) -> Any:
    """The artifact repository MLflow would use for ``artifact_uri``, bounded when it talks HTTP."""
    if bound is not None:
        scheme = artifact_uri.split(":", 1)[0].lower()
        if scheme == "mlflow-artifacts":
            return BoundedMlflowArtifactsRepository(artifact_uri, tracking_uri, bound)
        if scheme in ("http", "https"):
            return BoundedHttpArtifactRepository(artifact_uri, tracking_uri, bound)
    return get_artifact_repository(artifact_uri, tracking_uri=tracking_uri)


class _BoundedTrackingClient(TrackingServiceClient):
    """MLflow's tracking client on a :class:`BoundedRestStore`, with its own artifact-repository
    cache (MLflow's is process-wide and would mix bounded and unbounded repositories)."""

    def __init__(self, tracking_uri: str, bound: RequestBound) -> None:
        self.bound = bound
        self._store = BoundedRestStore(partial(get_default_host_creds, tracking_uri), bound)
        self._repos: OrderedDict[str, Any] = OrderedDict()
        self._repos_lock = threading.Lock()
        super().__init__(tracking_uri)

    @property
    def store(self) -> BoundedRestStore:
        return self._store

    def _get_artifact_repo(self, resource_id: str, *, resource: str = "run") -> Any:
        with self._repos_lock:
            repo = self._repos.get(f"{resource}:{resource_id}")
        if repo is not None:
            return repo
        if resource == "run":
            location = self.get_run(resource_id).info.artifact_uri
        else:
            location = self.get_logged_model(resource_id).artifact_location
        repo = artifact_repository(location, self.tracking_uri, self.bound)
        with self._repos_lock:
            self._repos[f"{resource}:{resource_id}"] = repo
            if len(self._repos) > 1024:
                self._repos.popitem(last=False)
        return repo

    # MLflow routes these two through module-level helpers that build a fresh, unbounded client.
    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        return self._get_artifact_repo(run_id).list_artifacts(path)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        return self._get_artifact_repo(run_id).download_artifacts(path, dst_path)


class _BoundedRegistryClient(ModelRegistryClient):
    def __init__(self, registry_uri: str, tracking_uri: str, bound: RequestBound) -> None:
        self._store = BoundedRegistryRestStore(partial(get_default_host_creds, registry_uri), bound)
        super().__init__(registry_uri, tracking_uri)

    @property
    def store(self) -> BoundedRegistryRestStore:
        return self._store


class BoundedMlflowClient(MlflowClient):
    """An ``MlflowClient`` for an ``http(s)://`` tracking server whose tracking, registry and
    proxied artifact requests are all bounded by ``bound`` (see the module docstring)."""

    def __init__(self, tracking_uri: str, bound: RequestBound) -> None:
        if not is_http(tracking_uri):
            raise ValueError(f"BoundedMlflowClient needs an http(s):// tracking URI, got {redact(tracking_uri)!r}")
        if not compat.BOUNDED_CLIENT_OK:
            raise RuntimeError("BoundedMlflowClient cannot be built on the installed MLflow, which lacks "
                               f"private names it needs: {', '.join(compat.missing())}")
        super().__init__(tracking_uri=tracking_uri)
        self.bound = bound
        self._tracking_client = _BoundedTrackingClient(tracking_uri, bound)

    def _get_registry_client(self) -> ModelRegistryClient:
        client = getattr(self, "_registry_client_lazy", None)
        if client is None:
            if not is_http(self._registry_uri):  # a registry configured elsewhere: MLflow's own
                return super()._get_registry_client()
            client = _BoundedRegistryClient(self._registry_uri, self.tracking_uri, self.bound)
            self._registry_client_lazy = client
        return client
