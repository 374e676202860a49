"""The scale-out stack for tests: PostgreSQL + an S3-compatible store (moto) + ``mlflow server``.

Everything binds 127.0.0.1 only and is started/stopped by session fixtures in ``conftest.py``:

* :func:`pg_reachable` / :class:`PgDatabase`: a fresh database per test session on the
  PostgreSQL at ``LOLPOP_PG_HOST``:``LOLPOP_PG_PORT`` (default 127.0.0.1:5432, trust auth, user
  ``LOLPOP_PG_USER`` or ``postgres``), created from the ``test`` database and dropped at the end.
* :class:`MotoS3`: ``python -m moto.server`` on a free port, with a bucket.
* :class:`Stack`: the three together; ``stack.server.url`` is the tracking URI.
* :func:`auth_server`: an ``mlflow server --app-name basic-auth`` with its own config file.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.mlflow_server import MlflowServer, free_port, stop_process_group

PG_HOST = os.environ.get("LOLPOP_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("LOLPOP_PG_PORT", "5432"))
PG_ADMIN_DB = os.environ.get("LOLPOP_PG_DB", "test")
PG_USERS = [u for u in (os.environ.get("LOLPOP_PG_USER"), "postgres", "root") if u]

# Dummy credentials for moto; only the mlflow server process talks to S3 (it proxies artifacts).
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def _connect(dbname: str, user: str, timeout: int = 3):
    import psycopg2

    return psycopg2.connect(host=PG_HOST, port=PG_PORT, user=user, dbname=dbname, connect_timeout=timeout)


def pg_reachable() -> tuple[str | None, str]:
    """``(user, "")`` when PostgreSQL accepts a connection, else ``(None, reason)``."""
    try:
        import psycopg2  # noqa: F401
    except ImportError as exc:  # pragma: no cover - dev extra missing
        return None, f"psycopg2 is not installed ({exc}); pip install -e '.[dev]'"
    errors = []
    for user in PG_USERS:
        try:
            _connect(PG_ADMIN_DB, user).close()
            return user, ""
        except Exception as exc:  # noqa: BLE001 - any failure means "not usable here"
            errors.append(f"{user}: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}")
    return None, (f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT} (database {PG_ADMIN_DB!r}, "
                  f"tried users {', '.join(errors)})")


class PgDatabase:
    """A fresh, uniquely named database; :meth:`drop` removes it (forcing out open connections)."""

    def __init__(self, user: str, prefix: str = "lolpop_test") -> None:
        self.user = user
        self.name = f"{prefix}_{uuid.uuid4().hex[:10]}"
        self.uri = f"postgresql+psycopg2://{user}@{PG_HOST}:{PG_PORT}/{self.name}"

    def _admin(self, sql: str) -> None:
        conn = _connect(PG_ADMIN_DB, self.user)
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
        finally:
            conn.close()

    def create(self) -> PgDatabase:
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def init_mlflow_schema(self) -> None:
        """Create MLflow's tables once (``mlflow db upgrade``), before several server workers race
        to do it."""
        subprocess.run([sys.executable, "-m", "mlflow", "db", "upgrade", self.uri],
                       check=True, capture_output=True, timeout=300)

    def drop(self) -> None:
        try:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except Exception:  # noqa: BLE001 - best effort at teardown
            pass


class MotoS3:
    """``moto`` S3 server on a free loopback port, with ``bucket`` created."""

    def __init__(self, workdir: Path, bucket: str = "lolpop-artifacts") -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.bucket = bucket
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = self.workdir / f"moto-{self.port}.log"

    def start(self, timeout: float = 60.0) -> MotoS3:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **AWS_ENV},
            cwd=self.workdir, start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited early; log:\n{self.log_path.read_text()[-3000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        else:
            self.stop()
            raise RuntimeError(f"moto server did not come up in {timeout}s")
        s3 = self._s3()
        s3.create_bucket(Bucket=self.bucket)
        return self

    def _s3(self) -> Any:
        import boto3

        return boto3.client("s3", endpoint_url=self.url, region_name=AWS_ENV["AWS_DEFAULT_REGION"],
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def s3_objects(self, prefix: str = "") -> list[str]:
        s3 = self._s3()
        keys: list[str] = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process_group(self.proc, timeout=15)
        self.proc = None
        self._log.close()


class Stack:
    """PostgreSQL database + moto S3 + ``mlflow server --workers N`` proxying artifacts to S3."""

    def __init__(self, workdir: Path, pg_user: str, workers: int = 4) -> None:
        self.workdir = Path(workdir)
        self.db = PgDatabase(pg_user)
        self.s3 = MotoS3(self.workdir / "moto")
        self.workers = workers
        self.server: MlflowServer | None = None

    @property
    def server_env(self) -> dict[str, str]:
        return {**AWS_ENV, "MLFLOW_S3_ENDPOINT_URL": self.s3.url}

    def new_server(self, workers: int | None = None, extra_args: list[str] | None = None,
                   env: dict[str, str] | None = None) -> MlflowServer:
        """Another (not yet started) server on the same database and bucket."""
        return MlflowServer(
            self.workdir / "server",
            backend_store_uri=self.db.uri,
            artifacts_destination=f"s3://{self.s3.bucket}/mlartifacts",
            workers=workers or self.workers,
            extra_args=extra_args,
            env={**self.server_env, **(env or {})},
        )

    def start(self) -> Stack:
        try:
            self.db.create()
            self.db.init_mlflow_schema()
            self.s3.start()
            self.server = self.new_server().start()
        except BaseException:
            self.stop()
            raise
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        self.s3.stop()
        self.db.drop()


AUTH_INI = """[mlflow]
default_permission = READ
database_uri = sqlite:///{db}
admin_username = {admin}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
grant_default_workspace_access = false
"""


def auth_server(workdir: Path, admin: str, password: str) -> MlflowServer:
    """An (unstarted) ``mlflow server --app-name basic-auth``; the admin password is passed only in
    the server's environment (``MLFLOW_AUTH_ADMIN_PASSWORD``), never in a file or argument."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    ini = workdir / "basic_auth.ini"
    ini.write_text(AUTH_INI.format(db=workdir / "basic_auth.db", admin=admin))
    return MlflowServer(
        workdir, workers=1, extra_args=["--app-name", "basic-auth"],
        env={"MLFLOW_AUTH_CONFIG_PATH": str(ini), "MLFLOW_AUTH_ADMIN_PASSWORD": password,
             "MLFLOW_FLASK_SERVER_SECRET_KEY": uuid.uuid4().hex},
    )
