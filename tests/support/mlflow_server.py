"""A real ``mlflow server`` subprocess on 127.0.0.1 (own process group, free port): the one server
helper of the tests and the benchmarks (``benchmarks/run.py``, ``cli_latency.py``,
``many_experiments.py`` put the repository root on ``sys.path`` and import it).

Stdlib only. By default MLflow's job runner is off (:data:`JOB_RUNNER_OFF`); the benchmarks also
start the server without the caller's ``MLFLOW_*`` variables (``inherit_mlflow_env=False``) and
call :meth:`MlflowServer.warm_up` before timing.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

#: No job runner: by default ``mlflow server`` also starts MLflow's job runner (more processes
#: polling the store for GenAI scoring / trace archival jobs), which tracking never uses and whose
#: start-up and polling load the machine while tests run and benchmarks time.
JOB_RUNNER_OFF = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def stop_process_group(proc: subprocess.Popen[bytes], timeout: float) -> None:
    """SIGTERM the process group a server was started in; SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=timeout)


class MlflowServer:
    """Start with :meth:`start`, stop with :meth:`stop` (or use it as a context manager); ``url``
    is the tracking URI.

    Args:
        workdir: the server's working folder (its default store, artifacts and log live there).
        backend_store_uri: default ``sqlite:///<workdir>/server.db``.
        artifacts_destination: default ``<workdir>/artifacts``; artifacts are always served by the
            server (``--serve-artifacts``, MLflow's default, said explicitly).
        workers: ``--workers``.
        extra_args: more ``mlflow server`` arguments.
        env: variables set for the server on top of its environment (they win over
            :data:`JOB_RUNNER_OFF`).
        inherit_mlflow_env: ``False``: the caller's ``MLFLOW_*`` variables are not passed on (the
            benchmarks: a developer's tracking settings must not change what is measured).
        log_path: the server's log; default ``<workdir>/server-<port>.log``.
    """

    def __init__(self, workdir: Path, backend_store_uri: str | None = None,
                 artifacts_destination: str | None = None, workers: int = 1,
                 extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                 inherit_mlflow_env: bool = True, log_path: Path | None = None) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.backend_store_uri = backend_store_uri or f"sqlite:///{self.workdir / 'server.db'}"
        self.artifacts_destination = artifacts_destination or str(self.workdir / "artifacts")
        self.workers = workers
        self.extra_args = extra_args or []
        self.env = env or {}
        self.inherit_mlflow_env = inherit_mlflow_env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = Path(log_path) if log_path is not None else self.workdir / f"server-{self.port}.log"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "mlflow", "server",
            "--backend-store-uri", self.backend_store_uri,
            "--artifacts-destination", self.artifacts_destination, "--serve-artifacts",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(self.workers),
            *self.extra_args,
        ]

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if self.inherit_mlflow_env or not k.startswith("MLFLOW_")}
        return {**base, **JOB_RUNNER_OFF, **self.env}

    def start(self, timeout: float = 180.0) -> MlflowServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT,
                                     env=self.environment(), cwd=self.workdir, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.log_path.read_text(errors="replace")[-4000:]
                self.stop()
                raise RuntimeError(f"mlflow server exited early; log ({self.log_path}):\n{log}")
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        return self
            except OSError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"mlflow server did not come up in {timeout}s; log ({self.log_path}):\n"
                           f"{self.log_path.read_text(errors='replace')[-4000:]}")

    def warm_up(self, experiment: str, n: int = 5) -> None:
        """A few cheap requests, so the first timed ones do not pay the server's lazy start-up."""
        query = urllib.parse.urlencode({"experiment_name": experiment})
        for _ in range(n):
            try:
                with urllib.request.urlopen(f"{self.url}/api/2.0/mlflow/experiments/get-by-name?{query}",
                                            timeout=60) as resp:
                    resp.read()
            except urllib.error.HTTPError:  # no such experiment: still a request served
                pass

    def stop(self) -> None:
        if self.proc is None:
            return
        stop_process_group(self.proc, timeout=20)
        self.proc = None
        self._log.close()

    def __enter__(self) -> MlflowServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def sqlite_server(db: Path, artifacts: Path, log_path: Path | None = None, **kwargs: object) -> MlflowServer:
    """An (unstarted) server on the MLflow SQLite file ``db``, serving artifacts from the folder
    ``artifacts``; working folder ``db``'s. ``kwargs`` go to :class:`MlflowServer`."""
    db, artifacts = Path(db).resolve(), Path(artifacts).resolve()
    artifacts.mkdir(parents=True, exist_ok=True)
    return MlflowServer(db.parent, backend_store_uri=f"sqlite:///{db}", artifacts_destination=artifacts.as_uri(),
                        log_path=log_path, **kwargs)  # type: ignore[arg-type]
