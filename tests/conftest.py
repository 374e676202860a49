"""Shared fixtures: every tracker test runs against each real MLflow backend.

Backends (the ``backend`` fixture's params):

* ``sqlite``: MLflow's own SQLite store in a file (one per test session), artifacts on disk.
* ``server``: a real ``mlflow server`` subprocess on 127.0.0.1 (SQLite behind it), started once
  per session in its own process group and stopped at the end.
* ``postgres-s3``: the scale-out stack (``tests/support/stack.py``): ``mlflow server --workers 4``
  on a fresh PostgreSQL database (127.0.0.1:5432) with artifacts proxied to a moto S3 bucket.
  Skips with the reason when PostgreSQL is unreachable; under ``CI=true`` it fails instead.

Each test gets a fresh MLflow experiment, so tests never see each other's runs.

Lanes (markers, assigned at collection by ``pytest_collection_modifyitems`` below, so a new test
gets its lane without anyone remembering; ``tests/architecture/test_lanes.py`` checks every test
has exactly one):

* ``postgres``: the ``postgres-s3`` backend, the ``pg_stack`` fixture, or a test body that reaches
  PostgreSQL itself (calls ``require_postgres`` / ``PgDatabase`` / ...).
* ``server``: the ``server`` backend, or a real ``mlflow server`` subprocess through the
  ``mlflow_server`` / ``basic_auth_server`` fixtures (also when a fixture it uses needs them).
* ``unit``: neither: pure functions and SQLite-only store tests.
* ``slow`` (on top of one of the three): the ``SLOW`` list below, from measured durations, and the
  server / postgres tests under ``tests/scale/``.

``make test-fast`` runs ``-m "not server and not postgres and not slow"``; ``make test`` runs all.
"""

from __future__ import annotations

import fnmatch
import os

# No network traffic but loopback: MLflow's usage telemetry would call out to the internet (the
# servers the tests start inherit this environment too).
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import CodeType
from typing import Any

import pytest
from mlflow import MlflowClient

from lolpop.components import MLFlowMetadataTracker
from tests.support.mlflow_server import MlflowServer
from tests.support.stack import Stack, auth_server, pg_reachable

IN_CI = os.environ.get("CI", "").lower() == "true"

BACKENDS = ["sqlite", "server", "postgres-s3"]

# ---------------------------------------------------------------------------------------------
# test lanes
# ---------------------------------------------------------------------------------------------
LANES = ("unit", "server", "postgres")
POSTGRES_FIXTURES = {"pg_stack"}
SERVER_FIXTURES = {"mlflow_server", "basic_auth_server"}
# Names that, used in a test's own body, mean it reaches PostgreSQL / starts a server itself.
POSTGRES_NAMES = {"require_postgres", "_pg_user", "pg_reachable", "PgDatabase", "Stack"}
SERVER_NAMES = {"MlflowServer", "auth_server"}

# Tests that take more than ~5 s each, with every parametrization (all backends): test ids without
# the [params] part, fnmatch patterns allowed. Picked from `pytest -m "unit and not slow"
# --durations=0` (setup + call, sqlite; a loaded 2-core machine), plus files known to be slow.
# tests/architecture/test_lanes.py fails when an entry matches no test any more.
SLOW = [
    # known slow: the whole quickstart as subprocesses; the benchmark workload cycles
    "tests/test_quickstart.py::*",
    "tests/benchmarks/test_bench_smoke.py::*",
    # the docs site's strict build (mkdocs + the API reference), and every shown example run on a quickstart store
    "tests/docs/test_site.py::*",
    "tests/docs/test_examples.py::test_page_examples_run_as_pasted_and_print_what_is_shown",
    "tests/docs/test_examples.py::test_server_blocks_start_a_server_that_answers_as_shown",
    # measured (sqlite): processes racing / training in fresh interpreters (7-24 s)
    "tests/component/metadata_tracker/test_lifecycle.py::test_eight_processes_on_a_brand_new_sqlite_file",
    "tests/component/metadata_tracker/test_lifecycle.py::test_processes_creating_the_same_experiment_at_once",
    "tests/component/metadata_tracker/test_load_model.py::test_train_in_one_process_load_in_a_fresh_one",
    "tests/component/metadata_tracker/test_version_index.py::test_processes_finishing_at_once_leave_the_index_right",
    "tests/component/metadata_tracker/test_version_index.py::"
    "test_processes_racing_to_build_the_first_index_leave_answers_right",
    "tests/component/metadata_tracker/test_registry.py::test_processes_registering_at_once_settle_on_one_version",
    "tests/component/metadata_tracker/test_status_history.py::"
    "test_concurrent_processes_lose_no_event_and_every_process_reads_them",
    "tests/component/metadata_tracker/test_write_modes.py::"
    "test_pending_writes_are_sent_at_interpreter_exit_without_stop",
    # measured (sqlite): a store built by two tracker processes (build_two_process_store), 7-11 s
    "tests/store/test_clients.py::test_every_client_gives_the_same_answers",
    "tests/store/test_clients.py::test_unknown_schema_revision_reads_through_mlflow_client",
    "tests/lineage/test_graph.py::test_lineage_both_directions_on_a_store_built_by_two_tracker_processes",
    # measured (server): a fresh interpreter on a renamed MLflow, two trackers per store (50-85 s)
    "tests/store/test_compat.py::test_a_missing_bounded_client_name_*",
    "tests/store/test_compat.py::test_an_mlflow_without_any_of_the_private_names_*",
]


# Folders whose server / postgres tests are all slow (known, not measured here): worker processes
# on the PostgreSQL stack, hung / 503 / restarted / SIGKILLed servers waiting out timeouts, servers
# of their own. Their unit tests (bad settings, a refused port) stay in the fast lane.
SLOW_SERVER_FOLDERS = ["tests/scale/"]


def is_slow(nodeid: str, lane: str) -> bool:
    """Whether a test id (``path::name[params]``) in ``lane`` is slow: on the ``SLOW`` list, or a
    server / postgres test in one of the ``SLOW_SERVER_FOLDERS``."""
    base = nodeid.split("[", 1)[0]
    if lane != "unit" and any(base.startswith(folder) for folder in SLOW_SERVER_FOLDERS):
        return True
    return any(fnmatch.fnmatchcase(base, pattern) for pattern in SLOW)


def _names(code: CodeType) -> Iterable[str]:
    """Global / attribute names a code object uses, nested functions and classes included."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _names(const)


def lane_of(item: pytest.Item) -> str:
    """The lane of a collected test: ``postgres`` before ``server`` before ``unit``. A test the
    rules miss (a server started in a helper) can carry ``@pytest.mark.server`` / ``postgres``."""
    callspec = getattr(item, "callspec", None)
    backend = callspec.params.get("backend") if callspec is not None else None
    fixtures = set(getattr(item, "fixturenames", ()))
    function = getattr(item, "function", None)
    names = set(_names(function.__code__)) if function is not None and hasattr(function, "__code__") else set()
    if (backend == "postgres-s3" or fixtures & POSTGRES_FIXTURES or names & POSTGRES_NAMES
            or item.get_closest_marker("postgres")):
        return "postgres"
    if (backend == "server" or fixtures & SERVER_FIXTURES or names & SERVER_NAMES
            or item.get_closest_marker("server")):
        return "server"
    return "unit"


# Every collected test's lane and slow markers (before -m / -k deselect any), for test_lanes.py.
COLLECTED_LANES = pytest.StashKey[dict[str, list[str]]]()


@pytest.hookimpl(tryfirst=True)  # before pytest's own hooks deselect by -m / -k
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    seen: dict[str, list[str]] = {}
    for item in items:
        lane = lane_of(item)
        if not item.get_closest_marker(lane):
            item.add_marker(lane)
        if is_slow(item.nodeid, lane) and not item.get_closest_marker("slow"):
            item.add_marker("slow")
        seen[item.nodeid] = sorted({mark.name for mark in item.iter_markers()} & {*LANES, "slow"})
    config.stash[COLLECTED_LANES] = seen


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
