"""Shared fixtures: every tracker test runs against each real MLflow backend.

Backends (the ``backend`` fixture's params):

* ``sqlite``: MLflow's own SQLite store in a file (one per test session), artifacts on disk.
* ``server``: a real ``mlflow server`` subprocess on 127.0.0.1 (SQLite behind it), started once
  per session in its own process group and stopped at the end.
* ``postgres-s3``: the scale-out stack (``tests/support/stack.py``): ``mlflow server --workers 4``
  on a fresh PostgreSQL database (127.0.0.1:5432) with artifacts proxied to a moto S3 bucket.
  Skips with the reason when PostgreSQL is unreachable; under ``CI=true`` it fails instead.

Each test gets a fresh MLflow experiment, so tests never see each other's runs.
"""

from __future__ import annotations

import os

# No network traffic but loopback: MLflow's usage telemetry would call out to the internet (the
# servers the tests start inherit this environment too).
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mlflow import MlflowClient

from lolpop.components import MLFlowMetadataTracker
from tests.support.mlflow_server import MlflowServer
from tests.support.stack import Stack, auth_server, pg_reachable

IN_CI = os.environ.get("CI", "").lower() == "true"

BACKENDS = ["sqlite", "server", "postgres-s3"]


@pytest.fixture(scope="session")
def sqlite_uri(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('sqlite-store') / 'mlflow.db'}"


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    server = MlflowServer(tmp_path_factory.mktemp("mlflow-server")).start()
    try:
        yield server
    finally:
        server.stop()


def require_postgres() -> str:
    """The PostgreSQL user to connect as; skip (or fail under CI=true) when unreachable."""
    user, reason = pg_reachable()
    if user is None:
        if IN_CI:
            pytest.fail(f"postgres-s3 backend: {reason}; CI=true requires it (start PostgreSQL)")
        pytest.skip(f"postgres-s3 backend: {reason}")
    return user


@pytest.fixture(scope="session")
def pg_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """PostgreSQL + moto S3 + ``mlflow server --workers 4``, once per session."""
    user = require_postgres()
    stack = Stack(tmp_path_factory.mktemp("pg-stack"), user).start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def basic_auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MlflowServer, str, str]]:
    """``mlflow server --app-name basic-auth``; yields ``(server, admin user, admin password)``.
    The password is random per session and only ever passed through environment variables."""
    admin, password = "lolpop-admin", f"pw-{uuid.uuid4().hex}"
    server = auth_server(tmp_path_factory.mktemp("auth-server"), admin, password).start()
    try:
        yield server, admin, password
    finally:
        server.stop()


@pytest.fixture(params=[pytest.param(b, marks=pytest.mark.postgres) if b == "postgres-s3" else b
                        for b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def tracking_uri(backend: str, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return request.getfixturevalue("sqlite_uri")
    if backend == "server":
        return request.getfixturevalue("mlflow_server").url
    if backend == "postgres-s3":
        return request.getfixturevalue("pg_stack").url
    raise AssertionError(f"unknown backend {backend}")


@pytest.fixture
def conf(tracking_uri: str) -> dict[str, Any]:
    """A config for a fresh experiment on the current backend."""
    return {"config": {"mlflow_tracking_uri": tracking_uri,
                       "mlflow_experiment_name": f"test-{uuid.uuid4().hex[:12]}"}}


@pytest.fixture
def client(tracking_uri: str) -> MlflowClient:
    """A plain MlflowClient to check what really reached the store."""
    return MlflowClient(tracking_uri=tracking_uri)


@pytest.fixture
def make_tracker(conf: dict[str, Any]) -> Iterator[Callable[..., MLFlowMetadataTracker]]:
    """Factory for trackers on the test's experiment; all are stopped at teardown."""
    made: list[MLFlowMetadataTracker] = []

    def make(**overrides: Any) -> MLFlowMetadataTracker:
        cfg = {"config": {**conf["config"], **overrides}}
        tracker = MLFlowMetadataTracker(conf=cfg)
        made.append(tracker)
        return tracker

    yield make
    for tracker in made:
        tracker.stop()


@pytest.fixture
def tracker(make_tracker: Callable[..., MLFlowMetadataTracker]) -> MLFlowMetadataTracker:
    return make_tracker()


@pytest.fixture
def sample_file(tmp_path: Path) -> Path:
    path = tmp_path / "report.html"
    path.write_text("<html><body>profile</body></html>")
    return path
